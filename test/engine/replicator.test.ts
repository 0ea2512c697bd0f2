// Two replicating nodes over an in-memory link carrying real conntrackd wire datagrams: kernel
// events on A end up in B's external cache — under loss, after deletions, after a resync request —
// and garbage on the link is counted without losing what was already replicated.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { Replicator, type ReplicatorConfig } from '../../src/engine/replicator.js';
import { REPLICATOR_CFG } from '../helpers/replicator-config.js';

const CFG: ReplicatorConfig = { ...REPLICATOR_CFG };

function snat(i: number): Conntrack {
  const src = `192.168.${(i >> 8) & 0xff}.${i & 0xff}`;
  const sport = 1024 + i;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.7', proto: IPPROTO.TCP, srcPort: sport, dstPort: 443 },
    reply: { family: 'ipv4', src: '203.0.113.7', dst: '198.51.100.1', proto: IPPROTO.TCP, srcPort: 443, dstPort: 30000 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED | IPS.SRC_NAT | IPS.SRC_NAT_DONE,
    timeout: 432000,
    mark: i % 7,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}

/** Pair wires A → B and B → A through a link whose `drop` decides per datagram. */
class Pair {
  drop: (d: Uint8Array) => boolean = () => false;
  now = 0;
  readonly a: Replicator;
  readonly b: Replicator;
  constructor() {
    this.a = new Replicator(CFG, { send: (ds) => ds.forEach((d) => !this.drop(d) && this.b.onDatagram(d, this.now)) });
    this.b = new Replicator({ ...CFG, initialSeq: 42 }, { send: (ds) => ds.forEach((d) => !this.drop(d) && this.a.onDatagram(d, this.now)) });
  }
  /** tick is one simulated second: both sides transmit, then their alive timers fire. */
  tick(): void {
    this.now += 1000;
    this.a.transmit();
    this.b.transmit();
    this.a.onAliveTimer();
    this.b.onAliveTimer();
  }
  handshake(): void {
    for (let i = 0; i < 3; i++) this.tick();
    assert.deepEqual([this.a.ftfw.helloState, this.b.ftfw.helloState], ['done', 'done']);
  }
}

/** replicated asserts B's external cache holds exactly A's live entries, as the wire carries them. */
function assertReplicated(p: Pair): void {
  const want = [...p.a.internal.live()].map((o) => o.ct);
  assert.equal(p.b.external.size, want.length, 'same number of entries');
  for (const ct of want) {
    const got = p.b.external.find(ct)?.ct;
    assert.ok(got, `entry ${ct.orig?.src}:${ct.orig?.srcPort} is on B`);
    assert.equal(got.timeout, ct.timeout);
    assert.equal(got.mark, ct.mark);
    assert.equal(got.status, ct.status);
    assert.equal(got.natSrc?.minIp, ct.reply?.dst, 'the SNAT address travelled');
    assert.equal(got.natSrc?.minPort, ct.reply?.dstPort, 'and the SNAT port');
  }
}

describe('replication between two nodes', () => {
  it('carries NEW, UPDATE and DESTROY to the peer, with NAT', () => {
    const p = new Pair();
    p.handshake();
    for (let i = 0; i < 500; i++) p.a.onKernelEvent({ kind: 'new', ct: snat(i) });
    p.tick();
    assertReplicated(p);
    for (let i = 0; i < 500; i += 2) p.a.onKernelEvent({ kind: 'update', ct: { ...snat(i), mark: 99 } });
    for (let i = 1; i < 500; i += 4) p.a.onKernelEvent({ kind: 'destroy', ct: snat(i) });
    p.tick();
    p.tick();
    assertReplicated(p);
    assert.equal(p.b.external.size, 375);
    assert.equal(p.a.internal.size, 375, 'acknowledged dead entries are released');
  });

  it('does not send back what its own commit caused', () => {
    const p = new Pair();
    p.handshake();
    p.b.onKernelEvent({ kind: 'new', ct: snat(1) }, 'commit');
    p.tick();
    assert.equal(p.a.external.size, 0);
    assert.equal(p.b.internal.size, 1);
  });

  it('converges under 20 % loss in both directions once the loss stops (property)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 300 }), (seed, n) => {
        let r = seed >>> 0 || 1;
        const random = (): number => {
          r ^= r << 13;
          r ^= r >>> 17;
          r ^= r << 5;
          return (r >>> 0) / 0x100000000;
        };
        const p = new Pair();
        p.handshake();
        p.drop = () => random() < 0.2;
        for (let i = 0; i < n; i++) {
          const k = Math.floor(random() * 50);
          const kind = random() < 0.7 ? 'update' : 'destroy';
          p.a.onKernelEvent({ kind, ct: { ...snat(k), mark: i } });
          if (random() < 0.2) p.tick();
        }
        p.drop = () => false;
        for (let i = 0; i < 50 && p.a.ftfw.pendingObjects > 0; i++) p.tick();
        p.tick();
        assertReplicated(p);
        // All acknowledged: every entry is a record again, no handle held, no dead one kept.
        assert.equal(p.a.internal.heldHandles, 0);
        assert.equal(p.a.internal.size, p.a.internal.liveSize);
      }),
      { numRuns: 100 },
    );
  });

  it('answers a resync request with everything it has (bulk), and the peer catches up', () => {
    const p = new Pair();
    for (let i = 0; i < 100; i++) p.a.onKernelEvent({ kind: 'new', ct: snat(i) });
    p.drop = () => true; // B hears nothing of it…
    p.tick();
    p.drop = () => false;
    p.handshake();
    assert.equal(p.b.external.size, 0, '…and the handshake alone does not recover it (FTFW by design)');
    p.b.requestResync(); // `keepstated -n` on B
    p.tick();
    p.tick();
    assert.equal(p.a.stats.resyncRequests, 1);
    assertReplicated(p);
  });

  it('counts garbage datagrams by reason and keeps what was replicated', () => {
    const p = new Pair();
    p.handshake();
    for (let i = 0; i < 50; i++) p.a.onKernelEvent({ kind: 'new', ct: snat(i) });
    p.tick();
    assertReplicated(p);
    const garbage = [new Uint8Array([0x99, 0, 0, 8, 0, 0, 0, 1]), new Uint8Array([0x10, 0, 0xff, 0xff]), new Uint8Array(3), Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff)];
    for (const g of garbage) p.b.onDatagram(g, p.now);
    const rejected = Object.values(p.b.stats.rejected).reduce((a, b) => a + (b ?? 0), 0);
    assert.ok(rejected >= garbage.length, `every bad datagram was counted (${JSON.stringify(p.b.stats.rejected)})`);
    p.tick();
    assertReplicated(p);
    assert.equal(p.b.external.find(snat(3))?.ct.mark, 3);
  });
});
