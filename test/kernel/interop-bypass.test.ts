// DisableInternalCache on (Mode NOTRACK) against the real conntrackd 1.4.7: a keepstate node without
// an internal cache (in this process, its sockets opened in namespace A) and conntrackd with one (in
// B), NOTRACK over UDP on a veth between two fresh namespaces. Every event of A's kernel is sent
// once (NEW, UPDATE, DESTROY), nothing is cached, and a bulk (conntrackd's `-n`, our `-B`) sends A's
// kernel table.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { unsupportedFeatures } from '../../src/config/conntrackd/unsupported.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import type { Logger } from '../../src/daemon/log.js';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');

const N = 200;
/** The daemon of this build (bin/keepstated.js runs dist/'s): a launcher in the test's directory imports it. */
const MAIN = new URL('../../src/daemon/main.js', import.meta.url).href;

/** entry i: an ESTABLISHED TCP entry from 10.91.a.b to 203.0.113.9:443. */
function entry(i: number, mark = i % 5): Conntrack {
  const src = `10.91.${(i >> 8) & 0xff}.${i & 0xff}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.9', proto: IPPROTO.TCP, srcPort: 1024 + i, dstPort: 443 },
    reply: { family: 'ipv4', src: '203.0.113.9', dst: src, proto: IPPROTO.TCP, srcPort: 443, dstPort: 1024 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 3600,
    mark,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}


const errors: string[] = [];
const quiet: Logger = { log: (level, message) => void (level === 'error' && errors.push(message)) };

describe('NOTRACK with DisableInternalCache on, against the real conntrackd 1.4.7', { skip, timeout: 300_000 }, () => {
  let a: Netns, b: Netns;
  let dirA: string;
  let node: SyncNode | undefined;
  let kA: ConntrackClient;
  let ctd: Conntrackd | undefined;
  let conf = '';
  let BIN = '';

  before(async () => {
    a = Netns.create('bpa');
    b = Netns.create('bpb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.237.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.237.0.2/24' });
    for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    dirA = mkdtempSync(join(tmpdir(), 'ks-bpa-'));
    ctd = new Conntrackd(b, { kind: 'udp', self: '10.237.0.2', peer: '10.237.0.1', device: 'sync0' }, '', undefined, 'NOTRACK { }');
    await ctd.start();
    // Entries that exist before the start are not sent (there is no cache to populate), only on a bulk.
    kA = ConntrackClient.open({ netns: a.name });
    assert.equal((await kA.create([entry(N + 1)])).filter((r) => r.ok).length, 1);
    const MODE = 'NOTRACK {\n    DisableInternalCache on\n  }';
    const text = syncConf(dirA, { kind: 'udp', self: '10.237.0.1', peer: '10.237.0.2', device: 'sync0' }, '', undefined, MODE);
    conf = join(dirA, 'a.conf');
    writeFileSync(conf, text);
    BIN = join(dirA, 'keepstated.mjs');
    writeFileSync(BIN, `import { main } from '${MAIN}';\nmain(process.argv.slice(2)).then((s) => process.exit(s), (e) => { console.error(e); process.exit(1); });\n`);
    const { config } = parseConntrackdConfig(text, 'a.conf');
    assert.equal(config.sync?.disableInternalCache, true);
    assert.deepEqual(unsupportedFeatures(config), [], 'DisableInternalCache is accepted at start');
    node = await SyncNode.start(config, quiet, { netns: a.name });
  });

  after(async () => {
    if (conf !== '' && existsSync(join(dirA, 'lock'))) a.run(process.execPath, [BIN, '-C', conf, '-k']);
    await node?.stop();
    kA?.close();
    await ctd?.stop();
    a?.close();
    b?.close();
    if (dirA !== undefined) rmSync(dirA, { recursive: true, force: true });
  });

  const externalOfB = (): string[] => ctd!.externalLines('src=10.91.');

  it(`sends ${N} entries made in A's kernel to conntrackd's external cache, caching nothing`, async () => {
    const r = node!.replicator;
    assert.equal(r.bypass, true);
    const made = await kA.create(Array.from({ length: N }, (_, i) => entry(i)));
    assert.equal(made.filter((x) => x.ok).length, N);
    await until(`${N} entries in conntrackd's external cache`, () => externalOfB().length === N);
    assert.match(externalOfB().find((l) => l.includes('src=10.91.0.7 ')) ?? '', /sport=1031 dport=443 .*mark=2/);
    assert.equal(r.internal.size, 0, 'no internal cache');
    assert.equal(r.bypassStats.new, N, 'each NEW event sent once');
    assert.equal(r.protocol.queued, 0);
  });

  it('sends updates as they come', async () => {
    const upd = await kA.update(Array.from({ length: 10 }, (_, i) => entry(i, 7)));
    assert.equal(upd.filter((x) => x.ok).length, 10);
    await until('the new marks in conntrackd\'s external cache', () => externalOfB().filter((l) => / mark=7 /.test(l)).length === 10);
    assert.equal(node!.replicator.bypassStats.upd, 10);
  });

  it('propagates deletions to conntrackd', async () => {
    const gone = Array.from({ length: N / 2 }, (_, i) => entry(2 * i));
    assert.equal((await kA.delete(gone)).filter((x) => x.ok).length, N / 2);
    await until(`${N / 2} entries left in conntrackd's external cache`, () => externalOfB().length === N / 2);
    assert.equal(node!.replicator.bypassStats.del, N / 2);
    assert.equal(node!.replicator.internal.size, 0);
  });

  it("conntrackd's `-n` gets our kernel table (RESYNC: a kernel dump)", async () => {
    assert.equal(ctd!.run('-f', 'external').status, 0);
    await until("conntrackd's external cache flushed", () => externalOfB().length === 0);
    const asked = node!.replicator.stats.resyncRequests;
    assert.equal(ctd!.run('-n').status, 0);
    // The kernel table: what is left of the N, and the entry made before our start.
    await until('our kernel table in conntrackd\'s external cache', () => externalOfB().length === N / 2 + 1);
    assert.equal(node!.replicator.stats.resyncRequests, asked + 1);
  });

  it('our `-B` sends the kernel table too', async () => {
    assert.equal(ctd!.run('-f', 'external').status, 0);
    await until("conntrackd's external cache flushed", () => externalOfB().length === 0);
    node!.bulk();
    await until('our kernel table in conntrackd\'s external cache', () => externalOfB().length === N / 2 + 1);
    assert.match(ctd!.run('-s').stdout, /\s0 Malformed msgs\s+0 Lost msgs/);
    assert.deepEqual(errors, []);
  });

  it('the keepstated binary: `-i` lists the kernel table as conntrack -L does, `-s` shows "internal bypass:"', async () => {
    await node!.stop();
    node = undefined;
    const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => a.run(process.execPath, [BIN, '-C', conf, ...args]);
    const up = ks('-d');
    assert.equal(up.status, 0, up.stderr);
    // The timeout column ticks between the two reads: it is left out of the comparison.
    const sort = (t: string): string[] =>
      t
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('conntrack v'))
        .map((l) => l.replace(/^(\S+ +\d+ )\d+ /, '$1T '))
        .sort();
    const list = a.run('conntrack', ['-L']);
    assert.equal(list.status, 0, list.stderr);
    const i = ks('-i');
    assert.equal(i.status, 0, i.stderr);
    assert.equal(sort(i.stdout).length, N / 2 + 1);
    assert.equal(sort(i.stdout).join('\n'), sort(list.stdout).join('\n'));
    assert.equal((await kA.update([entry(1, 9)])).filter((x) => x.ok).length, 1);
    await until('the UPDATE counted', () => /connections updated:\t\t {11}1\n/.test(ks('-s').stdout));
    const st = ks('-s').stdout;
    assert.match(st, /^internal bypass:\nconnections new:\t\t {11}0\nconnections updated:\t\t {11}1\nconnections destroyed:\t\t {11}0\n\n/);
    // conntrackd 1.4.7 maps the internal-cache flush to a kernel flush in this mode (spec §7.10a),
    // so primary-backup.sh's `-f` on takeover wipes the new primary's table; there is no cache to
    // flush here, and keepstated leaves the kernel table alone.
    const before = a.run('conntrack', ['-C']).stdout.trim();
    for (const args of [['-f'], ['-f', 'internal']]) assert.equal(ks(...args).status, 0, args.join(' '));
    assert.equal(a.run('conntrack', ['-C']).stdout.trim(), before, '-f and -f internal leave the kernel table as it was');
    assert.equal(ks('-k').status, 0);
  });
});
