// The keepstated binary with conntrackd's flags, against a conntrackd 1.4.7 peer: -d returns once
// it runs, the control socket answers -s/-e/-i/-c/-k in conntrackd's formats, the lock file keeps a
// second daemon out, and a client without a daemon fails as conntrackd's does; and, with
// TCPWindowTracking on, what it commits keeps window tracking and the scale factors.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack, ProtoInfo } from '../../src/ctnetlink/types.js';
import { TCP_FLAG_BE_LIBERAL, TCP_FLAG_WINDOW_SCALE } from '../../src/engine/commit.js';
import { TCP_FLAG_SACK_PERM } from './entries.js';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');
const BIN = new URL('../../../bin/keepstated.js', import.meta.url).pathname;

type Run = { status: number; stdout: string; stderr: string };

/**
 * Pair is keepstated's side — namespace A, a directory for its config, lock, log and control
 * socket, `ks` to run the binary with that config — and conntrackd 1.4.7 running in B, joined by a
 * veth `sync0` on 10.<net>.0.0/24, both configured with the Sync block's `extra` text.
 */
interface Pair {
  readonly a: Netns;
  readonly b: Netns;
  readonly dir: string;
  readonly ks: (...args: string[]) => Run;
  /** close stops keepstated (-k, in case a test failed before its own) and conntrackd, and removes all. */
  close(): Promise<void>;
}

async function pairWithConntrackd(label: string, net: number, extra = ''): Promise<Pair> {
  const a = Netns.create(`${label}a`);
  const b = Netns.create(`${label}b`);
  const dir = mkdtempSync(join(tmpdir(), `ks-${label}-`));
  const conf = join(dir, 'conntrackd.conf');
  const ks = (...args: string[]): Run => a.run(process.execPath, [BIN, '-C', conf, ...args]);
  let ctd: Conntrackd | undefined;
  const close = async (): Promise<void> => {
    if (existsSync(join(dir, 'lock'))) ks('-k');
    await ctd?.stop();
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    linkVeth({ ns: a, ifname: 'sync0', cidr: `10.${net}.0.1/24` }, { ns: b, ifname: 'sync0', cidr: `10.${net}.0.2/24` });
    for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    writeFileSync(conf, syncConf(dir, { kind: 'udp', self: `10.${net}.0.1`, peer: `10.${net}.0.2`, device: 'sync0' }, extra));
    ctd = new Conntrackd(b, { kind: 'udp', self: `10.${net}.0.2`, peer: `10.${net}.0.1`, device: 'sync0' }, extra);
    await ctd.start();
  } catch (e) {
    await close();
    throw e;
  }
  return { a, b, dir, ks, close };
}

describe('keepstated with conntrackd’s flags', { skip, timeout: 120_000 }, () => {
  let p: Pair | undefined;
  let a: Netns, b: Netns;
  let dir: string;
  let ks: Pair['ks'];

  before(async () => {
    p = await pairWithConntrackd('kd', 236);
    ({ a, b, dir, ks } = p);
  });

  after(async () => {
    await p?.close();
  });

  it('-d returns 0 once the daemon runs; a second one is refused by the lock file', () => {
    const r = ks('-d');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'lock')));
    assert.ok(existsSync(join(dir, 'ctl')));
    const again = ks('-d');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /lockfile .* exists/);
  });

  it('receives what conntrackd sends (-e), commits it into the kernel (-c), and reports it (-s, -i)', async () => {
    const e = {
        family: 'ipv4' as const,
        orig: { family: 'ipv4' as const, src: '10.9.9.9', dst: '10.8.8.8', proto: IPPROTO.TCP, srcPort: 1234, dstPort: 80 },
        reply: { family: 'ipv4' as const, src: '10.8.8.8', dst: '10.9.9.9', proto: IPPROTO.TCP, srcPort: 80, dstPort: 1234 },
        status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
        timeout: 500,
        protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
      };
    const k = ConntrackClient.open({ netns: b.name });
    try {
      assert.deepEqual(await k.create([e]), [{ ok: true }]);
    } finally {
      k.close();
    }
    const end = Date.now() + 20_000; // hang guard
    while (!ks('-e').stdout.includes('src=10.9.9.9')) {
      if (Date.now() > end) assert.fail('the entry never reached keepstated');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(ks('-e').stdout, /^tcp +6 ESTABLISHED src=10\.9\.9\.9 dst=10\.8\.8\.8 sport=1234 dport=80 .*\[active since \d+s\]$/m);
    assert.match(ks('-s').stdout, /cache external:\ncurrent active connections:\s+1\n/);
    assert.equal(ks('-c').status, 0);
    assert.match(a.exec('conntrack', ['-L']), /src=10\.9\.9\.9 dst=10\.8\.8\.8 sport=1234 dport=80/, 'committed into the kernel');
    assert.match(ks('-i').stdout, /src=10\.9\.9\.9/, 'the committed entry is in the internal cache too (not sent back)');
    assert.match(ks('-s', 'network').stdout, /network statistics:\n\trecv:\n\t\tMalformed messages:/);
    // Committed again, the entry is in the kernel already: changed in place (the same conntrack
    // id), not deleted and created — under traffic a packet in between would get a new binding.
    const idOf = (): string => /id=(\d+)/.exec(a.exec('conntrack', ['-L', '-o', 'id', '-s', '10.9.9.9']))?.[1] ?? 'none';
    const log = (): string => readFileSync(join(dir, 'log'), 'utf8');
    const id = idOf();
    assert.equal(ks('-c').status, 0);
    assert.equal(idOf(), id, 'updated in place: the same entry');
    assert.match(log(), /1 were in the kernel already: 1 updated in place, 0 deleted and created again/);
    // Another binding in the kernel (the same original tuple, another reply tuple): the update by
    // our reply tuple finds nothing, so the entry is deleted and created with ours.
    a.exec('conntrack', ['-D', '-s', '10.9.9.9']);
    const ka = ConntrackClient.open({ netns: a.name });
    try {
      assert.deepEqual(await ka.create([{ ...e, reply: { ...e.reply, dstPort: 4321 } }]), [{ ok: true }]);
    } finally {
      ka.close();
    }
    assert.match(a.exec('conntrack', ['-L', '-s', '10.9.9.9']), /sport=80 dport=4321/);
    assert.equal(ks('-c').status, 0);
    assert.match(a.exec('conntrack', ['-L', '-s', '10.9.9.9']), /src=10\.8\.8\.8 dst=10\.9\.9\.9 sport=80 dport=1234/, 'our reply tuple again');
    assert.match(log(), /1 were in the kernel already: 0 updated in place, 1 deleted and created again/);
    // conntrackd 1.4.7 leaves its commit-in-progress marker set after a commit done in one step
    // (spec §7.1) and then refuses `-f external` ("commit still in progress"); the commit is over here.
    assert.equal(ks('-f', 'external').status, 0);
    assert.doesNotMatch(ks('-e').stdout, /src=10\.9\.9\.9/, '-f external after the commit emptied the external cache');
  });

  it('-k stops it: socket and lock removed; a client then fails as conntrackd’s does', async () => {
    assert.equal(ks('-k').status, 0);
    const end = Date.now() + 10_000;
    while (existsSync(join(dir, 'lock'))) {
      if (Date.now() > end) assert.fail('the lock file was not removed');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(existsSync(join(dir, 'ctl')), false);
    const r = ks('-s');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /can't connect: is conntrackd running\? appropriate permissions\?/);
  });

  it('refuses a configuration it cannot honour yet, naming file:line:col', () => {
    const bad = join(dir, 'helper.conf');
    writeFileSync(bad, `${syncConf(dir, { kind: 'udp', self: '10.236.0.1', peer: '10.236.0.2', device: 'sync0' })}Helper {\n  Setup on\n}\n`);
    const r = a.run(process.execPath, [BIN, '-C', bad, '-d']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /helper\.conf:\d+:\d+: .*not supported yet: Helper/i);
    assert.equal(existsSync(join(dir, 'lock')), false, 'no lock left behind');
  });
});

const OPTIONS = 'Options {\n    TCPWindowTracking on\n  }';
type Tcp = NonNullable<ProtoInfo['tcp']>;

/** established is an ESTABLISHED TCP entry 10.9.0.<host>:<port> → 10.8.0.1:443 with the given protocol info. */
function established(host: number, port: number, tcp: Tcp): Conntrack {
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src: `10.9.0.${host}`, dst: '10.8.0.1', proto: IPPROTO.TCP, srcPort: port, dstPort: 443 },
    reply: { family: 'ipv4', src: '10.8.0.1', dst: `10.9.0.${host}`, proto: IPPROTO.TCP, srcPort: 443, dstPort: port },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 600,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED, ...tcp } },
  };
}

// With `Options { TCPWindowTracking on }` on both sides, keepstated's `-c` puts what conntrackd sent
// into the kernel with window tracking left on — no BE_LIBERAL in either direction's TCP flags — and
// with the window scale factors that came on the wire (NTA_TCP_WSCALE_*, sent only with the option
// on), flagged WINDOW_SCALE so that the kernel keeps them. With the option off the commit sets
// BE_LIBERAL and the factors never travel (interop-mixed.test.ts checks both settings on SyncNode;
// this is the daemon, configured from conntrackd's file).
describe('keepstated with TCPWindowTracking on, against conntrackd 1.4.7', { skip, timeout: 120_000 }, () => {
  let p: Pair | undefined;
  let a: Netns, b: Netns;
  let ks: Pair['ks'];

  before(async () => {
    p = await pairWithConntrackd('kw', 238, OPTIONS);
    ({ a, b, ks } = p);
  });

  after(async () => {
    await p?.close();
  });

  it('starts on the file, and its -c commits with window tracking on and the scale factors kept', async () => {
    const started = ks('-d');
    assert.equal(started.status, 0, started.stderr);
    const both = { flags: TCP_FLAG_WINDOW_SCALE | TCP_FLAG_SACK_PERM, mask: TCP_FLAG_WINDOW_SCALE | TCP_FLAG_SACK_PERM };
    const scaled = established(1, 40001, { wscaleOrig: 7, wscaleReply: 5, flagsOrig: both, flagsReply: both });
    const plain = established(2, 40002, {});
    const kb = ConntrackClient.open({ netns: b.name });
    try {
      assert.deepEqual(await kb.create([scaled, plain]), [{ ok: true }, { ok: true }]);
    } finally {
      kb.close();
    }
    const end = Date.now() + 20_000; // hang guard
    for (let e = ks('-e').stdout; !(e.includes('src=10.9.0.1 ') && e.includes('src=10.9.0.2 ')); e = ks('-e').stdout) {
      if (Date.now() > end) assert.fail(`conntrackd's entries never reached keepstated: ${e}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const c = ks('-c');
    assert.equal(c.status, 0, c.stderr);
    const ka = ConntrackClient.open({ netns: a.name });
    const got = new Map<string, Conntrack>();
    try {
      for await (const batch of ka.dump()) for (const ct of batch) if (ct.orig?.src.startsWith('10.9.0.') === true) got.set(ct.orig.src, ct);
    } finally {
      ka.close();
    }
    const tcpOf = (src: string): Tcp => {
      const t = got.get(src)?.protoinfo?.tcp;
      assert.ok(t !== undefined, `${src} is in A's kernel after -c`);
      return t;
    };
    const withScale = tcpOf('10.9.0.1');
    assert.equal(withScale.state, TCP_CONNTRACK.ESTABLISHED);
    assert.deepEqual([withScale.wscaleOrig, withScale.wscaleReply], [7, 5], 'the scale factors conntrackd sent');
    // WINDOW_SCALE alone: SACK_PERM (set in B's kernel) does not travel, and BE_LIBERAL is not set with tracking on.
    assert.deepEqual([withScale.flagsOrig?.flags, withScale.flagsReply?.flags], [TCP_FLAG_WINDOW_SCALE, TCP_FLAG_WINDOW_SCALE]);
    const without = tcpOf('10.9.0.2');
    assert.deepEqual([without.wscaleOrig, without.wscaleReply], [0, 0]);
    assert.deepEqual([without.flagsOrig?.flags, without.flagsReply?.flags], [0, 0], `no BE_LIBERAL (${TCP_FLAG_BE_LIBERAL}) with tracking on`);
    assert.equal(ks('-k').status, 0);
  });
});
