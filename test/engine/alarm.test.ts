// ALARM (conntrackd-protocol.md §3.2): the Alarm state machine's refresh timers, then two ALARM
// replicators over an in-memory link carrying real conntrackd wire datagrams, on a simulated clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { Alarm } from '../../src/engine/alarm.js';
import { FTFW_FLAG, type FtfwNode } from '../../src/engine/ftfw.js';
import { Replicator, type ReplicatorConfig } from '../../src/engine/replicator.js';
import { REPLICATOR_CFG } from '../helpers/replicator-config.js';
import { decodeDatagram, encodeDatagrams } from '../../src/sync/datagram.js';

class Obj {
  ftfwNode?: FtfwNode<Obj> | undefined;
  constructor(readonly id: number) {}
}

function sent(a: Alarm<Obj>): [number, number, number][] {
  const out: [number, number, number][] = [];
  a.transmitEach({
    emit(kind, obj, seq, flags) {
      assert.equal(kind, 'data', 'ALARM sends data only');
      out.push([obj!.id, seq, flags]);
    },
  });
  return out;
}

/** seq draws from a fixed list of numbers in [0, 1), cycling. */
const seq = (...xs: number[]): (() => number) => {
  let i = 0;
  return () => xs[i++ % xs.length]!;
};

describe('Alarm', () => {
  it('draws timers of 1…RefreshTime s plus k·0.2 s − 1 µs, k in 1…5', () => {
    const lo = new Alarm<Obj>({ initialSeq: 1, refreshTimeSec: 15, random: () => 0 });
    assert.equal(lo.refreshDelayMs(), 1000 + 200 - 0.001);
    const hi = new Alarm<Obj>({ initialSeq: 1, refreshTimeSec: 15, random: () => 0.999999 });
    assert.equal(hi.refreshDelayMs(), 15_000 + 1000 - 0.001);
  });

  it('re-sends an armed object each time its timer expires, and re-arms it', () => {
    // 3 s + 0.4 s each time: due at 3.4 s, then 6.8 s (re-armed at the 3.4 s tick).
    const a = new Alarm<Obj>({ initialSeq: 500, refreshTimeSec: 10, random: seq(0.25, 0.3) });
    const o = new Obj(1);
    a.arm(o, 0);
    assert.equal(a.onTimer(3000), 0, 'not yet');
    assert.deepEqual(sent(a), []);
    assert.equal(a.onTimer(3400), 1);
    assert.deepEqual(sent(a), [[1, 500, 0]]);
    assert.equal(a.onTimer(6600), 0);
    assert.equal(a.onTimer(6800), 1);
    assert.deepEqual(sent(a), [[1, 501, 0]]);
    assert.equal(a.armed, 1);
    assert.equal(a.refreshes, 2);
  });

  it('restarts the timer when the object changes, and forgets it when disarmed', () => {
    const a = new Alarm<Obj>({ initialSeq: 1, refreshTimeSec: 10, random: seq(0.25, 0.3) }); // 3.4 s
    const o = new Obj(1);
    a.arm(o, 0);
    a.arm(o, 2000); // an event at 2 s: now due at 5.4 s
    assert.equal(a.onTimer(4000), 0);
    assert.equal(a.onTimer(5400), 1);
    sent(a);
    a.disarm(o);
    assert.equal(a.armed, 0);
    assert.equal(a.onTimer(60_000), 0);
  });

  it('catches up after a late tick, queueing each object once', () => {
    const a = new Alarm<Obj>({ initialSeq: 1, refreshTimeSec: 3, random: Math.random });
    const objs = Array.from({ length: 100 }, (_, i) => new Obj(i));
    for (const o of objs) a.arm(o, 0);
    assert.equal(a.onTimer(10_000), 100, 'every timer (≤ 4 s) expired');
    assert.equal(a.queued, 100);
    assert.equal(a.armed, 100, 'and every one is re-armed');
  });

  it('has no control messages: no ALIVE, no RESYNC, and ignores any it receives', () => {
    const a = new Alarm<Obj>({ initialSeq: 1, refreshTimeSec: 1 });
    a.onAliveTimer();
    a.requestResync();
    assert.equal(a.queued, 0);
    assert.equal(a.onReceive({ kind: 'resync', seq: 1, flags: FTFW_FLAG.RESYNC }), 'control');
    assert.equal(a.queued, 0, 'a RESYNC asks for nothing');
    assert.equal(a.onReceive({ kind: 'data', seq: 9, flags: 0 }), 'deliver');
    assert.equal(a.onReceive({ kind: 'data', seq: 3, flags: 0 }), 'deliver');
    assert.deepEqual([a.stats.lost, a.stats.before], [0, 0], 'the sequence is never recorded');
  });
});

const CFG: ReplicatorConfig = { ...REPLICATOR_CFG, mode: 'alarm', refreshTimeSec: 5, cacheTimeoutSec: 20 };

function tcp(i: number): Conntrack {
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src: `10.1.${i >> 8}.${i & 0xff}`, dst: '10.2.0.1', proto: IPPROTO.TCP, srcPort: 2000 + i, dstPort: 80 },
    reply: { family: 'ipv4', src: '10.2.0.1', dst: `10.1.${i >> 8}.${i & 0xff}`, proto: IPPROTO.TCP, srcPort: 80, dstPort: 2000 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 1000 + i,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}

/** Pair: A sends to B through `up` (false: the link is cut); `now` is the simulated clock (ms). */
class Pair {
  up = true;
  now = 0;
  readonly wire: Uint8Array[] = [];
  readonly a: Replicator;
  readonly b: Replicator;
  constructor() {
    this.a = new Replicator(CFG, {
      send: (ds) =>
        ds.forEach((d) => {
          this.wire.push(d);
          if (this.up) this.b.onDatagram(d, this.now);
        }),
    });
    this.b = new Replicator({ ...CFG, initialSeq: 5 }, { send: () => undefined });
  }
  /** run advances the clock by `ms` in 200 ms ticks, both nodes ticking and transmitting. */
  run(ms: number): void {
    for (let t = 0; t < ms; t += 200) {
      this.now += 200;
      for (const r of [this.a, this.b]) {
        r.onAlarmTick(this.now);
        r.transmit();
      }
    }
  }
}

describe('Replicator in ALARM mode', () => {
  it('sends events at once, with no flags and no control message', () => {
    const p = new Pair();
    for (let i = 0; i < 20; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) }, 'other', p.now);
    p.a.transmit();
    p.a.onAliveTimer();
    p.a.requestResync();
    p.a.transmit();
    assert.equal(p.b.external.size, 20);
    const msgs = p.wire.flatMap((d) => decodeDatagram(d, { mode: 'alarm' }).messages);
    assert.equal(msgs.length, 20);
    assert.ok(msgs.every((m) => m.kind === 'ct' && m.flags === 0));
    p.a.onKernelEvent({ kind: 'destroy', ct: tcp(3) }, 'other', p.now);
    p.a.transmit();
    assert.equal(p.b.external.find(tcp(3)), undefined);
    assert.equal(p.a.internal.size, 19, 'the DEAD object went with its DEL');
    assert.equal(p.a.alarm?.armed, 19, 'and its timer with it');
    assert.equal(p.a.internal.heldHandles, 19, 'the timers hold a handle per live entry');
  });

  it('refreshes entries only populated at start-up, so a peer that missed them gets them', () => {
    const p = new Pair();
    p.a.populate(Array.from({ length: 30 }, (_, i) => tcp(i)), p.now);
    assert.equal(p.a.protocol.queued, 0, 'a dump sends nothing by itself');
    p.run(6200); // ≤ RefreshTime + 1 s
    assert.equal(p.b.external.size, 30);
    assert.ok(p.wire.flatMap((d) => decodeDatagram(d, { mode: 'alarm' }).messages).length >= 30);
  });

  it('keeps a peer refreshed, and the peer drops what is no longer refreshed after CacheTimeout', () => {
    const p = new Pair();
    for (let i = 0; i < 10; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) }, 'other', p.now);
    p.run(40_000); // twice CacheTimeout: the refreshes keep everything
    assert.equal(p.b.external.size, 10);
    assert.ok(p.a.alarm!.refreshes >= 10 * 6, `each entry was refreshed several times (${p.a.alarm!.refreshes})`);
    p.up = false;
    // The last refresh was at most RefreshTime + 1 s before the cut: nothing expires within CacheTimeout − 6 s.
    p.run(13_800);
    assert.equal(p.b.external.size, 10, 'not yet');
    p.run(7_000);
    assert.equal(p.b.external.size, 0, 'expired');
    assert.equal(p.b.protocol.stats.lost, 0);
  });

  it('-B and -n do nothing', () => {
    const p = new Pair();
    p.a.onKernelEvent({ kind: 'new', ct: tcp(1) }, 'other', p.now);
    p.a.transmit();
    p.a.bulk();
    p.a.requestResync();
    assert.equal(p.a.protocol.queued, 0);
    assert.equal(p.a.stats.bulkSends, 0);
  });

  it('ignores flagged messages (an FTFW peer)', () => {
    const b = new Replicator(CFG, { send: () => undefined });
    b.onKernelEvent({ kind: 'new', ct: tcp(1) });
    b.transmit();
    const ds = encodeDatagrams([{ kind: 'resync', seq: 9, flags: FTFW_FLAG.RESYNC, from: 0, to: 0 }], 1500);
    b.onDatagram(ds[0]!, 0);
    assert.deepEqual([b.stats.resyncRequests, b.stats.bulkSends, b.protocol.queued], [0, 0, 0], 'no bulk');
    assert.deepEqual(b.stats.rejected, {});
    const [data] = encodeDatagrams([{ kind: 'ct', op: 'new', seq: 10, flags: FTFW_FLAG.HELLO, ct: tcp(2) }], 1500);
    b.onDatagram(data!, 0);
    assert.equal(b.external.size, 0, 'a data message with HELLO is ignored');
    assert.deepEqual(b.stats.rejected, { SYNC_IGNORED: 1 });
  });
});
