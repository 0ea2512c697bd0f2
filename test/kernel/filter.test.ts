// General { Filter } on real kernels: node A (with a Filter) replicates to node B (without one).
// Entries of every kind are created in A's kernel, before A starts (the start-up dump) and after (events):
// only the accepted ones reach A's internal cache and B's external cache. A mark set later hides an
// entry's updates, but its destruction still reaches B.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import type { Logger } from '../../src/daemon/log.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import { syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { tcpEntry } from './entries.js';
import { until } from '../helpers/until.js';

const FILTER = `
  Filter From Kernelspace {
    Protocol Accept { TCP UDP }
    Address Ignore { IPv4_address 10.9.1.0/24 IPv4_address 10.9.2.7 }
    State Ignore { SYN_SENT for TCP }
    Mark Ignore { 0x1/0x1 }
  }`;

const udpEntry = (i: number, extra: Partial<Conntrack> = {}): Conntrack => {
  const src = `10.9.3.${i}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '10.8.0.1', proto: IPPROTO.UDP, srcPort: 5000 + i, dstPort: 53 },
    reply: { family: 'ipv4', src: '10.8.0.1', dst: src, proto: IPPROTO.UDP, srcPort: 53, dstPort: 5000 + i },
    status: IPS.CONFIRMED,
    timeout: 600,
    ...extra,
  };
};
const icmpEntry = (i: number): Conntrack => ({
  family: 'ipv4',
  orig: { family: 'ipv4', src: `10.9.4.${i}`, dst: '10.8.0.1', proto: IPPROTO.ICMP, icmpId: 100 + i, icmpType: 8, icmpCode: 0 },
  reply: { family: 'ipv4', src: '10.8.0.1', dst: `10.9.4.${i}`, proto: IPPROTO.ICMP, icmpId: 100 + i, icmpType: 0, icmpCode: 0 },
  status: IPS.CONFIRMED,
  timeout: 30,
});

// Before A starts (taken by its start-up dump) and after (taken from events).
const DUMPED = { accepted: [tcpEntry(10)], refused: [tcpEntry(256 + 10), tcpEntry(11, { mark: 3 })] };
const EVENTS = {
  accepted: [tcpEntry(1), tcpEntry(3, { mark: 2 }), udpEntry(1), tcpEntry(512 + 8) /* 10.9.2.8: not the listed host */],
  refused: [
    tcpEntry(256 + 1), // 10.9.1.1: Address Ignore network
    tcpEntry(512 + 7), // 10.9.2.7: Address Ignore host
    tcpEntry(2, { mark: 1 }), // Mark Ignore
    tcpEntry(4, { protoinfo: { tcp: { state: TCP_CONNTRACK.SYN_SENT } } }), // State Ignore
    icmpEntry(1), // not in Protocol Accept
  ],
};


describe('General { Filter } on a replicating node', { skip: rootSkipReason(), timeout: 90_000 }, () => {
  let a: Netns, b: Netns;
  const dirs: string[] = [];
  let nodeA: SyncNode | undefined, nodeB: SyncNode | undefined;
  const log: Logger = { log: () => undefined };

  before(async () => {
    a = Netns.create('flta');
    b = Netns.create('fltb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.237.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.237.0.2/24' });
    for (let i = 0; i < 2; i++) dirs.push(mkdtempSync(join(tmpdir(), 'ks-flt-')));
    const textA = syncConf(dirs[0]!, { kind: 'udp', self: '10.237.0.1', peer: '10.237.0.2', device: 'sync0' }).replace('General {', `General {${FILTER}`);
    const textB = syncConf(dirs[1]!, { kind: 'udp', self: '10.237.0.2', peer: '10.237.0.1', device: 'sync0' });
    const k = ConntrackClient.open({ netns: a.name });
    try {
      const r = await k.create([...DUMPED.accepted, ...DUMPED.refused]);
      assert.ok(r.every((x) => x.ok), JSON.stringify(r));
    } finally {
      k.close();
    }
    nodeB = await SyncNode.start(parseConntrackdConfig(textB, 'b.conf').config, log, { netns: b.name });
    nodeA = await SyncNode.start(parseConntrackdConfig(textA, 'a.conf').config, log, { netns: a.name });
  });

  after(async () => {
    await nodeA?.stop();
    await nodeB?.stop();
    a?.close();
    b?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the start-up dump keeps only the accepted entries', () => {
    const internal = nodeA!.replicator.internal;
    for (const ct of DUMPED.accepted) assert.ok(internal.find(ct) !== undefined, ct.orig!.src);
    for (const ct of DUMPED.refused) assert.equal(internal.find(ct), undefined, ct.orig!.src);
    assert.equal(internal.size, DUMPED.accepted.length);
  });

  it('events: only accepted entries reach the internal cache and the peer', async () => {
    const k = ConntrackClient.open({ netns: a.name });
    try {
      const r = await k.create([...EVENTS.refused, ...EVENTS.accepted]);
      assert.ok(r.every((x) => x.ok), JSON.stringify(r));
    } finally {
      k.close();
    }
    const ext = nodeB!.replicator.external;
    await until('the accepted entries at B', () => EVENTS.accepted.every((ct) => ext.find(ct) !== undefined));
    // The refused entries were created first, in the same batch: their events came before.
    const internal = nodeA!.replicator.internal;
    for (const ct of EVENTS.refused) {
      assert.equal(internal.find(ct), undefined, ct.orig!.src);
      assert.equal(ext.find(ct), undefined, ct.orig!.src);
    }
    assert.ok(internal.stats.filtered >= EVENTS.refused.length);
    assert.equal(internal.size, DUMPED.accepted.length + EVENTS.accepted.length);
    // A bulk send (-B) carries the dumped entry too, and still nothing refused.
    nodeA!.bulk();
    await until('the dumped entry at B', () => DUMPED.accepted.every((ct) => ext.find(ct) !== undefined));
    for (const ct of [...DUMPED.refused, ...EVENTS.refused]) assert.equal(ext.find(ct), undefined, ct.orig!.src);
    assert.equal(ext.size, DUMPED.accepted.length + EVENTS.accepted.length);
  });

  it('an entry marked later keeps its replicated state, and its destruction still reaches the peer', async () => {
    const ct = EVENTS.accepted[0]!;
    const internal = nodeA!.replicator.internal;
    const obj = internal.find(ct)!;
    const before = [obj.body, obj.kernel];
    const filtered = internal.stats.filtered;
    const k = ConntrackClient.open({ netns: a.name });
    try {
      assert.ok((await k.update([{ ...ct, mark: 0x101, timeout: 77 }]))[0]!.ok);
      await until('the marked update to be filtered', () => internal.stats.filtered > filtered);
      assert.deepEqual([obj.body, obj.kernel], before, 'the filtered update changed nothing');
      assert.equal(obj.status, 'new');
      assert.ok((await k.delete([ct]))[0]!.ok);
    } finally {
      k.close();
    }
    const ext = nodeB!.replicator.external;
    await until('the destroyed entry to leave B', () => ext.find(ct) === undefined);
    assert.ok(internal.find(ct) === undefined || internal.find(ct)!.status === 'dead');
  });

  it('-R (resync with the kernel) applies the filter too', async () => {
    const n = await nodeA!.resyncWithKernel();
    assert.equal(n, DUMPED.accepted.length + EVENTS.accepted.length - 1);
    for (const ct of [...DUMPED.refused, ...EVENTS.refused]) assert.equal(nodeA!.replicator.internal.find(ct), undefined, ct.orig!.src);
  });
});
