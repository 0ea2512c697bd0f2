// The kernel client against the real kernel, each test in a fresh network namespace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { decodeConntrack } from '../../src/ctnetlink/conntrack.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import { Netns, rootSkipReason, sweepStale } from '../../lab/netns.js';
import { tcpEntry } from './entries.js';
import { nft } from '../../lab/link.js';

const skip = rootSkipReason();

async function collect(it: AsyncIterable<Conntrack[]>): Promise<Conntrack[]> {
  const all: Conntrack[] = [];
  for await (const b of it) all.push(...b);
  return all;
}

describe('ConntrackClient against the kernel', { skip }, () => {
  let ns: Netns;
  let ct: ConntrackClient;
  before(() => {
    sweepStale();
    ns = Netns.create('client');
    ct = ConntrackClient.open({ netns: ns.name });
  });
  after(() => {
    ct?.close();
    ns?.close();
  });

  it('creates, gets, updates, deletes one entry', async () => {
    const e = tcpEntry(1, { mark: 7 });
    assert.deepEqual(await ct.create([e]), [{ ok: true }]);
    const got = await ct.get(e);
    assert.equal(got.orig?.src, '10.9.0.1');
    assert.equal(got.reply?.dstPort, 1025);
    assert.equal(got.mark, 7);
    assert.equal(got.protoinfo?.tcp?.state, TCP_CONNTRACK.ESTABLISHED);
    assert.ok(((got.status ?? 0) & IPS.ASSURED) !== 0);
    assert.ok(got.timeout !== undefined && got.timeout <= 600 && got.timeout > 590);
    assert.equal(typeof got.id, 'number');

    assert.deepEqual(await ct.update([{ family: e.family, orig: e.orig!, mark: 9, timeout: 1000 }]), [{ ok: true }]);
    const updated = await ct.get(e);
    assert.equal(updated.mark, 9);
    assert.ok(updated.timeout !== undefined && updated.timeout > 990);

    assert.deepEqual(await ct.delete([e]), [{ ok: true }]);
    await assert.rejects(ct.get(e), (err: unknown) => err instanceof NetlinkError && err.code === 'ENOENT');
  });

  it('reports a result per entry: EEXIST for a duplicate, ENOENT for a missing delete', async () => {
    const a = tcpEntry(2);
    const b = tcpEntry(3);
    const r = await ct.create([a, a, b]);
    assert.equal(r.length, 3);
    assert.deepEqual(r[0], { ok: true });
    assert.equal(r[1]?.ok, false);
    assert.equal(r[1]?.ok === false && r[1].error.code, 'EEXIST');
    assert.deepEqual(r[2], { ok: true });
    const d = await ct.delete([a, tcpEntry(999), b]);
    assert.deepEqual(d[0], { ok: true });
    assert.equal(d[1]?.ok === false && d[1].error.code, 'ENOENT');
    assert.deepEqual(d[2], { ok: true });
  });

  it('adds IPS_CONFIRMED on create (the kernel answers EBUSY without it) and reports a missing timeout as EINVAL', async () => {
    const r = await ct.create([tcpEntry(4, { status: IPS.ASSURED }), (({ timeout: _t, ...rest }) => rest)(tcpEntry(5))]);
    assert.deepEqual(r[0], { ok: true });
    assert.ok(((await ct.get(tcpEntry(4))).status ?? 0) & IPS.CONFIRMED);
    assert.equal(r[1]?.ok, false);
    assert.equal(r[1]?.ok === false && r[1].error.code, 'EINVAL');
  });

  it('creates 10 000 entries in batches, dumps them, updates and deletes them', async () => {
    await ct.flush();
    const entries = Array.from({ length: 10_000 }, (_, i) => tcpEntry(i + 10));
    const created = await ct.create(entries);
    assert.equal(created.filter((x) => x.ok).length, 10_000);
    assert.equal((await ct.count()).entries, 10_000);
    const dumped = await collect(ct.dump());
    assert.equal(dumped.length, 10_000);
    const seen = new Set(dumped.map((d) => `${d.orig?.src}:${d.orig?.srcPort}`));
    for (const e of entries) assert.ok(seen.has(`${e.orig?.src}:${e.orig?.srcPort}`));

    // The raw dump (receive buffers and a message index, no objects) carries the same entries.
    const raw: Conntrack[] = [];
    let batches = 0;
    for await (const { buf, index } of ct.dumpRaw()) {
      batches++;
      for (let i = 0; i < index.length; i += 3) raw.push(decodeConntrack(buf.subarray(index[i + 1]!, index[i + 2]!)));
    }
    assert.ok(batches > 1, 'the dump came in several wakeups');
    const key = (c: Conntrack): string => `${c.orig?.src}:${c.orig?.srcPort}`;
    assert.deepEqual(raw.map(key).sort(), dumped.map(key).sort());

    const updated = await ct.update(entries.map((e) => ({ family: e.family, orig: e.orig!, mark: 42 })));
    assert.equal(updated.filter((x) => x.ok).length, 10_000);
    const marked = await collect(ct.dump({ mark: 42, markMask: 0xffffffff }));
    assert.equal(marked.length, 10_000);

    const deleted = await ct.delete(entries);
    assert.equal(deleted.filter((x) => x.ok).length, 10_000);
    assert.equal((await ct.count()).entries, 0);
  });

  it('filters dumps in the kernel by mark/mask, zone and status', async () => {
    await ct.flush();
    await ct.create([
      tcpEntry(20, { mark: 0x10 }),
      tcpEntry(21, { mark: 0x11 }),
      tcpEntry(22, { mark: 0x20, zone: 5 }),
      tcpEntry(23, { status: IPS.CONFIRMED | IPS.SEEN_REPLY }),
    ]);
    const byMask = await collect(ct.dump({ mark: 0x10, markMask: 0xf0 }));
    assert.deepEqual(byMask.map((c) => c.mark).sort(), [0x10, 0x11]);
    const byZone = await collect(ct.dump({ zone: 5 }));
    assert.deepEqual(
      byZone.map((c) => c.orig?.src),
      ['10.9.0.22'],
    );
    const notAssured = await collect(ct.dump({ status: 0, statusMask: IPS.ASSURED }));
    assert.deepEqual(
      notAssured.map((c) => c.orig?.src),
      ['10.9.0.23'],
    );
    const v6 = await collect(ct.dump({ family: 'ipv6' }));
    assert.equal(v6.length, 0);
  });

  it('handles IPv6, UDP, ICMP, SCTP, GRE and labelled entries', async () => {
    await ct.flush();
    const v6: Conntrack = {
      family: 'ipv6',
      orig: { family: 'ipv6', src: 'fd00::1', dst: 'fd00::2', proto: IPPROTO.UDP, srcPort: 5000, dstPort: 53 },
      reply: { family: 'ipv6', src: 'fd00::2', dst: 'fd00::1', proto: IPPROTO.UDP, srcPort: 53, dstPort: 5000 },
      status: IPS.CONFIRMED,
      timeout: 100,
    };
    const icmp: Conntrack = {
      family: 'ipv4',
      orig: { family: 'ipv4', src: '10.1.1.1', dst: '10.1.1.2', proto: IPPROTO.ICMP, icmpType: 8, icmpCode: 0, icmpId: 77 },
      reply: { family: 'ipv4', src: '10.1.1.2', dst: '10.1.1.1', proto: IPPROTO.ICMP, icmpType: 0, icmpCode: 0, icmpId: 77 },
      status: IPS.CONFIRMED,
      timeout: 30,
    };
    const sctp: Conntrack = {
      family: 'ipv4',
      orig: { family: 'ipv4', src: '10.1.1.1', dst: '10.1.1.2', proto: IPPROTO.SCTP, srcPort: 7000, dstPort: 7001 },
      reply: { family: 'ipv4', src: '10.1.1.2', dst: '10.1.1.1', proto: IPPROTO.SCTP, srcPort: 7001, dstPort: 7000 },
      status: IPS.CONFIRMED,
      timeout: 30,
      protoinfo: { sctp: { state: 3, vtagOrig: 0x1234, vtagReply: 0x5678 } },
    };
    // The kernel attaches the label extension only while a ruleset uses labels.
    nft(ns, 'table ip lbl {\n chain c {\n type filter hook prerouting priority 0;\n ct label 127 counter\n }\n}\n');
    const labels = new Uint8Array(16);
    labels[0] = 0b101;
    const labelled = tcpEntry(30, { labels });
    const r = await ct.create([v6, icmp, sctp, labelled]);
    assert.deepEqual(
      r.map((x) => (x.ok ? 'ok' : x.error.code)),
      ['ok', 'ok', 'ok', 'ok'],
    );
    const got6 = await ct.get(v6);
    assert.equal(got6.family, 'ipv6');
    assert.equal(got6.orig?.src, 'fd00::1');
    const gotIcmp = await ct.get(icmp);
    assert.equal(gotIcmp.orig?.icmpId, 77);
    const gotSctp = await ct.get(sctp);
    assert.equal(gotSctp.protoinfo?.sctp?.vtagOrig, 0x1234);
    const gotLab = await ct.get(labelled);
    assert.deepEqual(Array.from(gotLab.labels ?? []).slice(0, 2), [5, 0]);
  });

  it('does not keep the process alive once its requests and dumps are done, even unclosed', () => {
    const client = new URL('../../src/ctnetlink/client.js', import.meta.url).href;
    const script = `const { ConntrackClient } = await import(${JSON.stringify(client)});
      const c = ConntrackClient.open(); let n = 0;
      await c.count();
      for await (const b of c.dumpRaw()) n += b.index.length / 3;
      for await (const b of c.dump()) n += b.length;
      console.log('done', n);`;
    // 20 s is a hang guard: a client that kept polling would never exit.
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.signal, null, 'the process exited by itself');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^done \d+/);
  });

  it('flushes one family only, then all, and reads per-CPU statistics', async () => {
    await ct.flush();
    await ct.create([tcpEntry(40)]);
    await ct.create([
      {
        family: 'ipv6',
        orig: { family: 'ipv6', src: 'fd00::1', dst: 'fd00::2', proto: IPPROTO.UDP, srcPort: 1, dstPort: 2 },
        reply: { family: 'ipv6', src: 'fd00::2', dst: 'fd00::1', proto: IPPROTO.UDP, srcPort: 2, dstPort: 1 },
        status: IPS.CONFIRMED,
        timeout: 100,
      },
    ]);
    await ct.flush('ipv6');
    const left = await collect(ct.dump());
    assert.deepEqual(
      left.map((c) => c.family),
      ['ipv4'],
    );
    await ct.flush();
    assert.equal((await ct.count()).entries, 0);
    const cpus = await ct.statsPerCpu();
    assert.ok(cpus.length >= 1);
    assert.ok(cpus.some((c) => (c.insert ?? 0) > 0), 'some CPU inserted entries');
  });
});
