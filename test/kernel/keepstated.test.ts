// The keepstated binary with conntrackd's flags, against a conntrackd 1.4.7 peer: -d returns once
// it runs, the control socket answers -s/-e/-i/-c/-k in conntrackd's formats, the lock file keeps a
// second daemon out, and a client without a daemon fails as conntrackd's does.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');
const BIN = new URL('../../../bin/keepstated.js', import.meta.url).pathname;

describe('keepstated with conntrackd’s flags', { skip, timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let conf: string;
  let ctd: Conntrackd | undefined;
  const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => a.run(process.execPath, [BIN, '-C', conf, ...args]);

  before(async () => {
    a = Netns.create('kda');
    b = Netns.create('kdb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.236.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.236.0.2/24' });
    for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    dir = mkdtempSync(join(tmpdir(), 'ks-kd-'));
    conf = join(dir, 'conntrackd.conf');
    writeFileSync(conf, syncConf(dir, { kind: 'udp', self: '10.236.0.1', peer: '10.236.0.2', device: 'sync0' }));
    ctd = new Conntrackd(b, { kind: 'udp', self: '10.236.0.2', peer: '10.236.0.1', device: 'sync0' });
    await ctd.start();
  });

  after(async () => {
    ks('-k'); // in case a test failed before its own -k
    await ctd?.stop();
    a?.close(); // also kills nothing of ours: keepstated was stopped by -k above
    b?.close();
    rmSync(dir, { recursive: true, force: true });
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
    const bad = join(dir, 'tracking.conf');
    writeFileSync(bad, syncConf(dir, { kind: 'udp', self: '10.236.0.1', peer: '10.236.0.2', device: 'sync0' }).replace('Mode FTFW { }', 'Mode FTFW { }\n  Options {\n    TCPWindowTracking on\n  }'));
    const r = a.run(process.execPath, [BIN, '-C', bad, '-d']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /tracking\.conf:\d+:\d+: .*not supported yet.*TCPWindowTracking/i);
    assert.equal(existsSync(join(dir, 'lock')), false, 'no lock left behind');
  });
});
