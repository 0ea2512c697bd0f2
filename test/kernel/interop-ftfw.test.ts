// Interop with the real conntrackd 1.4.7, FTFW over UDP on a veth between two fresh namespaces:
// a keepstate node (in this process, its sockets opened in namespace A) and conntrackd (in B).
// Entries made in one kernel arrive complete in the other side's external cache, deletions
// propagate, and a commit puts what B sent into A's kernel with its NAT mapping.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import type { Logger } from '../../src/daemon/log.js';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { linkVeth, nft } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');

const N = 1000;

/**
 * entry i: TCP from 10.6x.a.b to 203.0.113.9:443, SNAT'd to 198.51.100.1 by a real NAT binding
 * (CTA_NAT_SRC; the kernel derives the reply and sets IPS_SRC_NAT), made in `side`'s kernel. Each
 * side has its own NAT port range (side 6: 20000+i, side 7: 22000+i): committed into the other
 * kernel, an entry must not collide with that kernel's own NAT bindings.
 */
function entry(i: number, side: number): Conntrack {
  const src = `10.${60 + side}.${(i >> 8) & 0xff}.${i & 0xff}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.9', proto: IPPROTO.TCP, srcPort: 1024 + i, dstPort: 443 },
    reply: { family: 'ipv4', src: '203.0.113.9', dst: src, proto: IPPROTO.TCP, srcPort: 443, dstPort: 1024 + i },
    natSrc: { minIp: '198.51.100.1', minPort: 20000 + (side - 6) * 2000 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 3600,
    mark: i % 5,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}


const errors: string[] = [];
const quiet: Logger = { log: (level, message) => void (level === 'error' && errors.push(message)) };

for (const kind of ['udp', 'multicast'] as const) describe(`FTFW over ${kind} with the real conntrackd 1.4.7`, { skip, timeout: 300_000 }, () => {
  let a: Netns, b: Netns;
  let dirA: string;
  let node: SyncNode | undefined;
  let kA: ConntrackClient, kB: ConntrackClient;
  let ctd: Conntrackd | undefined;

  before(async () => {
    a = Netns.create('ia');
    b = Netns.create('ib');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.231.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.231.0.2/24' });
    for (const ns of [a, b]) {
      ns.sysctl('net.netfilter.nf_conntrack_events', 1);
      // Both firewalls do NAT, so the kernel accepts NAT bindings (CTA_NAT_SRC) on create and commit.
      nft(ns, 'table ip nat {\n chain post { type nat hook postrouting priority 100; }\n chain pre { type nat hook prerouting priority -100; }\n}\n');
    }
    dirA = mkdtempSync(join(tmpdir(), 'ks-ia-'));
    ctd = new Conntrackd(b, { kind, self: '10.231.0.2', peer: '10.231.0.1', device: 'sync0' });
    await ctd.start();
    node = await startOurs();
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

  /** startOurs starts the keepstate node in A (again, for the restart test). */
  const startOurs = (): Promise<SyncNode> =>
    SyncNode.start(parseConntrackdConfig(syncConf(dirA, { kind, self: '10.231.0.1', peer: '10.231.0.2', device: 'sync0' }), 'a.conf').config, quiet, { netns: a.name });

  /** externalOfB lists conntrackd's external cache lines for our test prefix. */
  const externalOfB = (prefix: string): string[] => ctd!.externalLines(`src=${prefix}`);

  it(`sends ${N} entries made in A's kernel to conntrackd's external cache, complete`, async () => {
    const made = await kA.create(Array.from({ length: N }, (_, i) => entry(i, 6)));
    assert.equal(made.filter((r) => r.ok).length, N);
    await until(`${N} entries in conntrackd's external cache`, () => externalOfB('10.66.').length === N);
    const line = externalOfB('10.66.0.7 ')[0] ?? '';
    assert.match(line, /sport=1031 dport=443/);
    assert.match(line, /ESTABLISHED/);
  });

  it('propagates deletions to conntrackd', async () => {
    const gone = Array.from({ length: N / 2 }, (_, i) => entry(2 * i, 6));
    assert.equal((await kA.delete(gone)).filter((r) => r.ok).length, N / 2);
    await until(`${N / 2} entries left in conntrackd's external cache`, () => externalOfB('10.66.').length === N / 2);
  });

  it(`receives ${N} entries conntrackd sends from B's kernel into our external cache, NAT included`, async () => {
    const made = await kB.create(Array.from({ length: N }, (_, i) => entry(i, 7)));
    assert.equal(made.filter((r) => r.ok).length, N);
    const ours = (): Conntrack[] => [...node!.replicator.external.values()].map((e) => e.ct).filter((c) => c.orig?.src.startsWith('10.67.') === true);
    await until(`${N} entries in our external cache`, () => ours().length === N);
    const e6 = node!.replicator.external.find(entry(6, 7))?.ct;
    assert.equal(e6?.timeout !== undefined && e6.timeout > 3000, true);
    assert.equal(e6?.mark, 1);
    assert.equal(e6?.protoinfo?.tcp?.state, TCP_CONNTRACK.ESTABLISHED);
    assert.deepEqual([e6?.natSrc?.minIp, e6?.natSrc?.minPort], ['198.51.100.1', 22006]);
  });

  it('commits what conntrackd sent into A’s kernel with the NAT mapping', async () => {
    const r = await node!.commit();
    assert.deepEqual(errors, [], 'no commit errors were logged');
    assert.equal(r.failed, 0);
    assert.ok(r.committed >= N, `committed ${r.committed}`);
    const got = await kA.get(entry(5, 7));
    assert.equal(got.reply?.dst, '198.51.100.1');
    assert.equal(got.reply?.dstPort, 22005);
    assert.ok(((got.status ?? 0) & IPS.SRC_NAT) !== 0, 'IPS_SRC_NAT: the kernel will rewrite its packets');
  });

  it('keeps replicating after our node restarts (HELLO), and `-n` brings back what it missed', async () => {
    await node!.stop();
    // While we are down, B's kernel changes: conntrackd sends into the void.
    assert.equal((await kB.create(Array.from({ length: 100 }, (_, i) => entry(i, 8)))).filter((r) => r.ok).length, 100);
    node = await startOurs();
    const ours = (net: string): number => [...node!.replicator.external.values()].filter((e) => e.ct.orig?.src.startsWith(net) === true).length;
    // New changes flow at once: conntrackd accepts our lower sequence numbers because of HELLO.
    assert.equal((await kA.create(Array.from({ length: 50 }, (_, i) => entry(i, 9)))).filter((r) => r.ok).length, 50);
    await until('conntrackd to get entries made after our restart', () => externalOfB('10.69.').length === 50);
    // What we missed comes back with a resync request (`keepstated -n`): conntrackd answers with its bulk.
    // conntrackd may retransmit the 100 before its bulk is all in: wait for both, then check both.
    node!.requestResync();
    await until('the 100 entries made while we were down, and the rest of the bulk', () => ours('10.68.') === 100 && ours('10.67.') === N);
    assert.equal(ours('10.68.'), 100);
    assert.equal(ours('10.67.'), N, 'and everything else conntrackd has');
  });

  it('keeps replicating after conntrackd restarts, and its `-n` gets our whole table', async () => {
    await ctd!.stop(true);
    const sent = node!.replicator.ftfw.stats.sent;
    assert.equal((await kA.create(Array.from({ length: 100 }, (_, i) => entry(i, 10)))).filter((r) => r.ok).length, 100);
    // Make sure they went out while conntrackd is down (start() blocks this loop while it polls).
    await until('our node to send them into the void', () => node!.replicator.ftfw.stats.sent >= sent + 100 && node!.replicator.ftfw.queued === 0);
    await ctd!.start();
    assert.equal(externalOfB('10.70.').length, 0, 'a fresh conntrackd starts empty');
    assert.equal(ctd!.run('-n').status, 0);
    await until('conntrackd to receive our bulk after its -n', () => externalOfB('10.70.').length === 100 && externalOfB('10.69.').length === 50);
    // And new changes keep flowing to the restarted peer.
    assert.equal((await kA.delete(Array.from({ length: 10 }, (_, i) => entry(i, 10)))).filter((r) => r.ok).length, 10);
    await until('deletions to reach the restarted conntrackd', () => externalOfB('10.70.').length === 90);
  });

  it('survives garbage on the sync port and keeps what it replicated', async () => {
    const before = node!.replicator.external.size;
    execFileSync('ip', ['netns', 'exec', b.name, 'node', '-e', `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{if(n++>=200)return s.close();s.send(Buffer.from(Array.from({length:1+(n*37)%300},(_, i)=>(i*n*131)&255)),3780,'10.231.0.1',go)};go();`]);
    await new Promise((r) => setTimeout(r, 300));
    const rejected = Object.values(node!.replicator.stats.rejected).reduce((s, v) => s + (v ?? 0), 0);
    assert.ok(rejected > 0, 'garbage was counted');
    assert.ok(node!.replicator.external.size >= before, 'nothing already replicated was lost');
  });
});
