// Interop with the real conntrackd 1.4.7 in the modes other than FTFW: NOTRACK over multicast on a
// veth between two fresh namespaces, a keepstate node (in this process, its sockets opened in
// namespace A) and conntrackd (in B). Entries made in one kernel arrive in the other side's
// external cache, deletions propagate, and RESYNC works both ways (`-n`).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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

const N = 300;

/** entry i: an ESTABLISHED TCP entry from 10.(80+side).a.b to 203.0.113.9:443, made in `side`'s kernel. */
function entry(i: number, side: number): Conntrack {
  const src = `10.${80 + side}.${(i >> 8) & 0xff}.${i & 0xff}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.9', proto: IPPROTO.TCP, srcPort: 1024 + i, dstPort: 443 },
    reply: { family: 'ipv4', src: '203.0.113.9', dst: src, proto: IPPROTO.TCP, srcPort: 443, dstPort: 1024 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 3600,
    mark: i % 5,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}


const errors: string[] = [];
const quiet: Logger = { log: (level, message) => void (level === 'error' && errors.push(message)) };

describe('NOTRACK over multicast with the real conntrackd 1.4.7', { skip, timeout: 300_000 }, () => {
  const MODE = 'NOTRACK { }';
  let a: Netns, b: Netns;
  let dirA: string;
  let node: SyncNode | undefined;
  let kA: ConntrackClient, kB: ConntrackClient;
  let ctd: Conntrackd | undefined;

  before(async () => {
    a = Netns.create('ma');
    b = Netns.create('mb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.232.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.232.0.2/24' });
    for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    dirA = mkdtempSync(join(tmpdir(), 'ks-ma-'));
    ctd = new Conntrackd(b, { kind: 'multicast', self: '10.232.0.2', peer: '10.232.0.1', device: 'sync0' }, '', undefined, MODE);
    await ctd.start();
    const { config } = parseConntrackdConfig(syncConf(dirA, { kind: 'multicast', self: '10.232.0.1', peer: '10.232.0.2', device: 'sync0' }, '', undefined, MODE), 'a.conf');
    assert.equal(config.sync?.protocol, 'notrack');
    assert.deepEqual(unsupportedFeatures(config), [], 'Mode NOTRACK is accepted at start');
    node = await SyncNode.start(config, quiet, { netns: a.name });
    kA = ConntrackClient.open({ netns: a.name });
    kB = ConntrackClient.open({ netns: b.name });
  });

  after(async () => {
    await node?.stop();
    kA?.close();
    kB?.close();
    await ctd?.stop();
    a?.close();
    b?.close();
    if (dirA !== undefined) rmSync(dirA, { recursive: true, force: true });
  });

  const externalOfB = (prefix: string): string[] => ctd!.externalLines(`src=${prefix}`);
  const ours = (net: string): Conntrack[] => [...node!.replicator.external.values()].map((e) => e.ct).filter((c) => c.orig?.src.startsWith(net) === true);

  it(`sends ${N} entries made in A's kernel to conntrackd's external cache`, async () => {
    assert.equal(node!.replicator.mode, 'notrack');
    const made = await kA.create(Array.from({ length: N }, (_, i) => entry(i, 1)));
    assert.equal(made.filter((r) => r.ok).length, N);
    await until(`${N} entries in conntrackd's external cache`, () => externalOfB('10.81.').length === N);
    const line = externalOfB('10.81.0.7 ')[0] ?? '';
    assert.match(line, /sport=1031 dport=443/);
    assert.match(line, /ESTABLISHED/);
  });

  it('propagates deletions to conntrackd', async () => {
    const gone = Array.from({ length: N / 2 }, (_, i) => entry(2 * i, 1));
    assert.equal((await kA.delete(gone)).filter((r) => r.ok).length, N / 2);
    await until(`${N / 2} entries left in conntrackd's external cache`, () => externalOfB('10.81.').length === N / 2);
    assert.equal(node!.replicator.internal.size, N / 2, 'no DEAD object is kept once its DEL went out');
  });

  it(`receives ${N} entries conntrackd sends from B's kernel into our external cache`, async () => {
    const made = await kB.create(Array.from({ length: N }, (_, i) => entry(i, 2)));
    assert.equal(made.filter((r) => r.ok).length, N);
    await until(`${N} entries in our external cache`, () => ours('10.82.').length === N);
    const e6 = node!.replicator.external.find(entry(6, 2))?.ct;
    assert.equal(e6?.mark, 1);
    assert.equal(e6?.protoinfo?.tcp?.state, TCP_CONNTRACK.ESTABLISHED);
  });

  it('applies the deletions conntrackd sends', async () => {
    const gone = Array.from({ length: 100 }, (_, i) => entry(i, 2));
    assert.equal((await kB.delete(gone)).filter((r) => r.ok).length, 100);
    await until('100 fewer entries in our external cache', () => ours('10.82.').length === N - 100);
    assert.equal(node!.replicator.external.find(entry(5, 2)), undefined);
  });

  it('counts no lost message and no malformed one from conntrackd', () => {
    const r = node!.replicator;
    assert.deepEqual(r.stats.rejected, {});
    assert.equal(r.protocol.stats.lost, 0);
    assert.ok(r.stats.messagesReceived > N, 'data and ALIVE messages arrived');
    // And conntrackd saw the same of ours (`-s`: message tracking).
    assert.match(ctd!.run('-s').stdout, /\s0 Malformed msgs\s+0 Lost msgs/);
  });

  it('our `-n` gets conntrackd\'s whole table (RESYNC), and conntrackd\'s `-n` gets ours', async () => {
    assert.ok(node!.flushCaches('external'));
    assert.equal(ours('10.82.').length, 0);
    node!.requestResync();
    await until("conntrackd's bulk after our RESYNC", () => ours('10.82.').length === N - 100);
    assert.equal(ctd!.run('-f', 'external').status, 0);
    await until("conntrackd's external cache flushed", () => externalOfB('10.81.').length === 0);
    const bulks = node!.replicator.stats.resyncRequests;
    assert.equal(ctd!.run('-n').status, 0);
    await until('our bulk after conntrackd\'s RESYNC', () => externalOfB('10.81.').length === N / 2);
    assert.equal(node!.replicator.stats.resyncRequests, bulks + 1);
  });
});

describe('ALARM over UDP with the real conntrackd 1.4.7', { skip, timeout: 300_000 }, () => {
  const REFRESH = 2;
  const TIMEOUT = 6;
  const MODE = `ALARM {\n    RefreshTime ${REFRESH}\n    CacheTimeout ${TIMEOUT}\n  }`;
  const M = 100;
  let a: Netns, b: Netns;
  let dirA: string;
  let node: SyncNode | undefined;
  let kA: ConntrackClient, kB: ConntrackClient;
  let ctd: Conntrackd | undefined;

  before(async () => {
    a = Netns.create('na');
    b = Netns.create('nb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.233.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.233.0.2/24' });
    for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    dirA = mkdtempSync(join(tmpdir(), 'ks-na-'));
    ctd = new Conntrackd(b, { kind: 'udp', self: '10.233.0.2', peer: '10.233.0.1', device: 'sync0' }, '', undefined, MODE);
    await ctd.start();
    const { config } = parseConntrackdConfig(syncConf(dirA, { kind: 'udp', self: '10.233.0.1', peer: '10.233.0.2', device: 'sync0' }, '', undefined, MODE), 'a.conf');
    assert.deepEqual([config.sync?.protocol, config.sync?.refreshTimeSec, config.sync?.cacheTimeoutSec], ['alarm', REFRESH, TIMEOUT]);
    assert.deepEqual(unsupportedFeatures(config), [], 'Mode ALARM is accepted at start');
    node = await SyncNode.start(config, quiet, { netns: a.name });
    kA = ConntrackClient.open({ netns: a.name });
    kB = ConntrackClient.open({ netns: b.name });
  });

  after(async () => {
    await node?.stop();
    kA?.close();
    kB?.close();
    await ctd?.stop();
    a?.close();
    b?.close();
    if (dirA !== undefined) rmSync(dirA, { recursive: true, force: true });
  });

  const externalOfB = (prefix: string): string[] => ctd!.externalLines(`src=${prefix}`);
  const ours = (net: string): Conntrack[] => [...node!.replicator.external.values()].map((e) => e.ct).filter((c) => c.orig?.src.startsWith(net) === true);

  it(`sends ${M} entries made in A's kernel to conntrackd, whose external cache shows them expiring`, async () => {
    assert.equal(node!.replicator.mode, 'alarm');
    assert.equal((await kA.create(Array.from({ length: M }, (_, i) => entry(i, 3)))).filter((r) => r.ok).length, M);
    await until(`${M} entries in conntrackd's external cache`, () => externalOfB('10.83.').length === M);
    assert.match(externalOfB('10.83.0.7 ')[0] ?? '', /sport=1031 dport=443 .*\[expires in \d+s\]/);
  });

  it('propagates deletions to conntrackd', async () => {
    assert.equal((await kA.delete(Array.from({ length: M / 2 }, (_, i) => entry(2 * i, 3)))).filter((r) => r.ok).length, M / 2);
    await until(`${M / 2} entries left in conntrackd's external cache`, () => externalOfB('10.83.').length === M / 2);
  });

  it(`receives ${M} entries and their deletions from conntrackd`, async () => {
    assert.equal((await kB.create(Array.from({ length: M }, (_, i) => entry(i, 4)))).filter((r) => r.ok).length, M);
    await until(`${M} entries in our external cache`, () => ours('10.84.').length === M);
    assert.equal(node!.replicator.external.find(entry(6, 4))?.ct.mark, 1);
    assert.equal((await kB.delete(Array.from({ length: 10 }, (_, i) => entry(i, 4)))).filter((r) => r.ok).length, 10);
    await until('10 fewer entries in our external cache', () => ours('10.84.').length === M - 10);
  });

  it('both sides refresh: after more than CacheTimeout without changes, nothing has expired', async () => {
    const refreshed = node!.replicator.alarm!.refreshes;
    const seen = Math.max(...[...node!.replicator.external.values()].map((e) => e.receivedAtMs));
    await new Promise((r) => setTimeout(r, (TIMEOUT + 2) * 1000));
    assert.ok(node!.replicator.alarm!.refreshes > refreshed, 'our timers re-sent entries');
    assert.ok(Math.max(...[...node!.replicator.external.values()].map((e) => e.receivedAtMs)) > seen, "conntrackd's refreshes arrived");
    assert.equal(ours('10.84.').length, M - 10);
    assert.equal(externalOfB('10.83.').length, M / 2);
    assert.deepEqual(node!.replicator.stats.rejected, {});
  });

  it("expires conntrackd's entries CacheTimeout after conntrackd stops refreshing them", async () => {
    await ctd!.stop(true);
    await until("conntrackd's entries to expire from our external cache", () => ours('10.84.').length === 0, (TIMEOUT + 10) * 1000);
  });
});
