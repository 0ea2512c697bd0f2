// The signals sync-aware election is built on (Replicator's `peer` port): 'idle' comes only once
// the peer has sent everything our RESYNC (or the NACK of a gap) asked for — checked against the
// receiving cache itself, with and without loss, over real wire datagrams in memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { Replicator, type ReplicatorConfig } from '../../src/engine/replicator.js';
import { REPLICATOR_CFG } from '../helpers/replicator-config.js';
import { NET_F } from '../../src/sync/consts.js';

const CFG: ReplicatorConfig = { ...REPLICATOR_CFG, ackWindow: 20 };

function tcp(i: number): Conntrack {
  const src = `192.168.${(i >> 8) & 0xff}.${i & 0xff}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.7', proto: IPPROTO.TCP, srcPort: 1024 + i, dstPort: 443 },
    reply: { family: 'ipv4', src: '203.0.113.7', dst: src, proto: IPPROTO.TCP, srcPort: 443, dstPort: 1024 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 432000,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}

/** Pair: A holds the table; B restarted and asks for it. `drop` decides per datagram A → B (its index and bytes). */
function pair(drop: (i: number, d: Uint8Array) => boolean) {
  const signals: { signal: string; external: number }[] = [];
  let n = 0; // datagrams A has sent
  const link: { a?: Replicator } = {}; // B is made first, A's sends go to it; B's go to A through this
  const b: Replicator = new Replicator({ ...CFG, initialSeq: 42 }, {
    send: (ds) => ds.forEach((d) => link.a!.onDatagram(d, 0)),
    peer: (signal) => signals.push({ signal, external: b.external.size }),
  });
  const a = new Replicator(CFG, { send: (ds) => ds.forEach((d) => !drop(n++, d) && b.onDatagram(d, 0)) });
  link.a = a;
  const tick = (): void => {
    a.transmit();
    b.transmit();
    a.onAliveTimer();
    b.onAliveTimer();
  };
  return { a, b, signals, tick, sent: () => n };
}

describe('Replicator peer signals', () => {
  it('idle only once the bulk answering our resync is all in', () => {
    const p = pair(() => false);
    for (let i = 0; i < 2000; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    p.tick(); // A's events go out before B asks: B restarts after them (drop its cache)
    p.b.external.flush();
    p.b.requestResync();
    for (let t = 0; t < 6; t++) p.tick();
    const idle = p.signals.filter((s) => s.signal === 'idle');
    assert.ok(idle.length >= 1, 'B learns that it is complete');
    assert.equal(idle[0]!.external, 2000, 'and not before every entry is in');
  });

  it('idle without waiting for any alive timer: the ALIVE behind our RESYNC is acknowledged after the bulk', () => {
    const p = pair(() => false);
    for (let i = 0; i < 2000; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    p.a.transmit();
    p.b.transmit();
    p.b.external.flush();
    p.b.requestResync();
    for (let t = 0; t < 4; t++) {
      p.b.transmit();
      p.a.transmit();
    }
    const idle = p.signals.filter((s) => s.signal === 'idle');
    assert.equal(idle[0]?.external, 2000, 'complete, with every entry, before either side’s alive timer ran');
  });

  it('idle without waiting for any alive timer after a gap: the ALIVE behind our NACK is acknowledged after the retransmissions', () => {
    // Little traffic (a failback onto a small table) and one datagram lost: B's NACK and the few
    // messages around it stay below A's ACK window, so only an ACK at once tells B that the
    // retransmission is in — otherwise A's alive timer, then B's, then A's again.
    let lose = -1;
    const p = pair((i) => i === lose);
    for (let t = 0; t < 2; t++) p.tick(); // the HELLO handshake, on a clean link: gaps count only after it
    lose = p.sent() + 1;
    for (let i = 0; i < 80; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    p.a.transmit();
    assert.ok(p.signals.some((s) => s.signal === 'gap'), 'B saw the gap');
    assert.ok(p.b.external.size < 80);
    for (let t = 0; t < 4; t++) {
      p.b.transmit();
      p.a.transmit();
    }
    const last = p.signals.filter((s) => s.signal !== 'heard').at(-1);
    assert.deepEqual(last, { signal: 'idle', external: 80 }, 'complete, with every entry, before either side’s alive timer ran');
  });

  it('with loss: a gap holds it back until the retransmissions are in (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 20 }), (lost) => {
        const gone = new Set(lost);
        const p = pair((i) => gone.has(i));
        for (let i = 0; i < 1500; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
        p.b.requestResync();
        // Past the last loss (idle, the link carries a datagram or two per tick), then long enough to recover.
        for (let t = 0; t < 1000 && p.sent() <= Math.max(...lost); t++) p.tick();
        for (let t = 0; t < 4; t++) p.tick();
        assert.equal(p.b.external.size, 1500, 'FTFW recovers everything');
        // Every 'idle' that follows the last 'gap' sees the whole table; none may come while entries are missing after a gap.
        const lastGap = p.signals.map((s) => s.signal).lastIndexOf('gap');
        const after = p.signals.slice(lastGap + 1).filter((s) => s.signal === 'idle');
        assert.ok(after.length >= 1, 'complete again after the last gap');
        assert.equal(after[0]!.external, 1500);
      }),
      { numRuns: 30 },
    );
  });

  it('after a restart, an ACK of the previous incarnation’s messages says nothing', () => {
    const signals: string[] = [];
    const link: { b?: Replicator } = {};
    const a = new Replicator(CFG, { send: (ds) => ds.forEach((d) => link.b?.onDatagram(d, 0)) });
    // The old B sent a few messages A has not acknowledged yet (fewer than the ACK window).
    const oldB = new Replicator({ ...CFG, initialSeq: 5000 }, { send: (ds) => ds.forEach((d) => a.onDatagram(d, 0)) });
    link.b = oldB;
    for (let t = 0; t < 3; t++) {
      a.onAliveTimer();
      a.transmit();
      oldB.onAliveTimer();
      oldB.transmit();
    }
    assert.equal(oldB.ftfw.helloState, 'done', 'the old B had long finished its handshake');
    for (let i = 0; i < 3; i++) oldB.onKernelEvent({ kind: 'new', ct: tcp(i) });
    oldB.transmit();
    // B restarts with a smaller initial sequence number and asks for a resync; before A has seen
    // it, A's alive timer acknowledges the old B's messages (seqs above the new RESYNC's).
    const held: Uint8Array[] = [];
    const b = new Replicator({ ...CFG, initialSeq: 4000 }, { send: (ds) => void held.push(...ds), peer: (s) => void signals.push(s) });
    link.b = b;
    b.requestResync();
    b.transmit();
    a.onAliveTimer();
    a.transmit();
    assert.ok(signals.includes('heard'), 'B heard A');
    assert.ok(!signals.includes('idle'), `a stale ACK is no proof: ${signals.join(' ')}`);
    // Once A has B's RESYNC (and HELLO), its answer counts.
    for (const d of held.splice(0)) a.onDatagram(d, 0);
    for (let t = 0; t < 4; t++) {
      a.transmit();
      a.onAliveTimer();
      a.transmit();
      b.onAliveTimer();
      b.transmit();
      for (const d of held.splice(0)) a.onDatagram(d, 0);
    }
    assert.ok(signals.includes('idle'), `B caught up in the end: ${signals.join(' ')}`);
  });

  it('a RESYNC lost in the handshake: ACKs of later messages say nothing; asked again, the answer counts', () => {
    const signals: { signal: string; external: number }[] = [];
    const link: { a?: Replicator } = {};
    let sentByB = 0;
    const b: Replicator = new Replicator({ ...CFG, initialSeq: 42 }, {
      // B's first datagram (HELLO + RESYNC) is lost.
      send: (ds) => ds.forEach((d) => sentByB++ > 0 && link.a!.onDatagram(d, 0)),
      peer: (signal) => void signals.push({ signal, external: b.external.size }),
    });
    const a = new Replicator(CFG, { send: (ds) => ds.forEach((d) => b.onDatagram(d, 0)) });
    link.a = a;
    for (let i = 0; i < 800; i++) a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    a.transmit(); // A's events go out before B asks; B then forgets them (as after a restart)
    b.external.flush();
    b.requestResync();
    const ticks = (n: number): void => {
      for (let t = 0; t < n; t++) {
        b.transmit();
        a.transmit();
        a.onAliveTimer();
        a.transmit();
        b.onAliveTimer();
        b.transmit();
      }
    };
    ticks(6);
    // A message lost in the HELLO handshake is never recovered (FTFW, as conntrackd): A never
    // learns of the RESYNC, and its ACKs of B's later messages must not pass for an answer.
    assert.equal(signals.filter((s) => s.signal === 'idle').length, 0, 'no answer to a request the peer never saw');
    assert.equal(b.external.size, 0);
    // SyncNode asks again when no answer came (resyncFromPeer's retry); this one is answered.
    b.requestResync();
    ticks(6);
    const idle = signals.filter((s) => s.signal === 'idle');
    assert.ok(idle.length >= 1, `B caught up after asking again: ${signals.map((s) => s.signal).join(' ')}`);
    assert.equal(idle[0]!.external, 800, 'and not before the bulk was in');
  });

  it('HELLO_BACK lost with the start of the bulk: the gap is still recovered, and the RESYNC’s early ACK is not trusted but asked again', () => {
    // Found by the property above. A's datagrams that carry HELLO_BACK after B's HELLO are lost —
    // the first of the bulk, which A starts sending as it queues it (Replicator.bulk), and the
    // first of A's next pass. B, still saying HELLO, NACKs the gaps: A must keep its resend queue
    // for an in-sequence HELLO (conntrackd empties it, and those entries were lost for good). A's
    // ACK of the RESYNC reaches B before a HELLO_BACK does: untrusted then, so B asks again at once.
    let armed = false;
    let helloBacksToDrop = 2;
    const p = pair((_i, d) => {
      if (!armed || helloBacksToDrop === 0 || (d[1]! & NET_F.HELLO_BACK) === 0 /* the first message's header flags */) return false;
      helloBacksToDrop--;
      return true;
    });
    for (let i = 0; i < 1500; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    p.b.requestResync(); // queued first, then B hears A's events (and forgets them, as if restarted after)
    p.a.transmit();
    p.b.external.flush();
    armed = true;
    p.b.transmit(); // RESYNC + HELLO, then enough ACKs for A to acknowledge them amid the bulk
    for (let t = 0; t < 8; t++) p.tick();
    assert.equal(helloBacksToDrop, 0, 'both were lost');
    assert.equal(p.a.stats.resyncRequests, 2, 'B asked again when the handshake completed');
    const idle = p.signals.filter((s) => s.signal === 'idle');
    assert.ok(idle.length >= 1, `B caught up: ${p.signals.map((s) => s.signal).join(' ')}`);
    assert.equal(idle[0]!.external, 1500, 'and not before the whole table was in');
  });

  it('lag: the oldest message awaiting its ACK, and the send-to-ACK time of the last acknowledged one', () => {
    let clock = 1_000;
    const link: { a?: Replicator } = {};
    const held: Uint8Array[] = []; // A → B, delivered when the test says
    const b = new Replicator(CFG, { send: (ds) => ds.forEach((d) => link.a!.onDatagram(d, clock)) });
    const a = new Replicator({ ...CFG, initialSeq: 7 }, { send: (ds) => void held.push(...ds), now: () => clock });
    link.a = a;
    assert.deepEqual(a.lag(clock), {}, 'nothing sent, nothing to say');
    for (let i = 0; i < 5; i++) a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    a.transmit();
    clock += 30;
    for (let i = 5; i < 8; i++) a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    a.transmit();
    clock += 20;
    assert.deepEqual(a.lag(clock), { oldestUnackedMs: 50 });
    for (const d of held.splice(0)) b.onDatagram(d, clock);
    clock += 5;
    b.onAliveTimer(); // B's ACK of all eight reaches A now
    assert.equal(a.protocol.awaitingAck, 0);
    assert.deepEqual(a.lag(clock), { lastAckRttMs: 25 }, 'the last pass went 25 ms before its ACK');
  });

  it('no resync asked: an ACK of ordinary traffic says nothing', () => {
    const p = pair(() => false);
    for (let t = 0; t < 3; t++) p.tick();
    assert.deepEqual(p.signals.filter((s) => s.signal !== 'heard'), []);
  });

  it('a peer in a takeover (holdResyncAnswers) answers a RESYNC only with the table it rebuilt: no idle before, every entry at it', () => {
    // Without the hold, B (the old master, back from FAULT) would be told it is complete by A's
    // answer from the 10 entries A had before its commit.
    for (const held of [false, true]) {
      const p = pair(() => false);
      for (let i = 0; i < 10; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
      p.tick();
      p.b.external.flush();
      if (held) p.a.holdResyncAnswers();
      p.b.requestResync();
      for (let t = 0; t < 6; t++) p.tick(); // alive timers included: no ACK may end the answer early
      const early = p.signals.filter((s) => s.signal === 'idle');
      if (!held) {
        assert.equal(early[0]?.external, 10, 'unheld: complete with the 10 entries A had');
        continue;
      }
      assert.deepEqual(early, [], 'held: nothing tells B it is complete');
      // A's commit and read-back: the whole table is in its internal cache, then afterTakeover's bulk.
      for (let i = 10; i < 2000; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
      p.a.bulk();
      p.a.releaseResyncAnswers(true);
      for (let t = 0; t < 4; t++) p.tick();
      const idle = p.signals.filter((s) => s.signal === 'idle');
      assert.equal(idle[0]?.external, 2000, 'complete, with every entry');
      assert.equal(p.a.protocol.awaitingAck + p.b.protocol.awaitingAck <= 2, true, 'and the held ACKs all went out');
    }
  });

  it('a takeover that ends before its bulk answers the waiting RESYNC at release', () => {
    const p = pair(() => false);
    for (let i = 0; i < 300; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    p.tick();
    p.b.external.flush();
    p.a.holdResyncAnswers();
    p.b.requestResync();
    for (let t = 0; t < 3; t++) p.tick();
    assert.equal(p.b.external.size, 0);
    p.a.releaseResyncAnswers(false);
    for (let t = 0; t < 4; t++) p.tick();
    assert.equal(p.signals.find((s) => s.signal === 'idle')?.external, 300);
  });
});
