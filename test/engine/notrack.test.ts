// NOTRACK (conntrackd-protocol.md §3.3): the Notrack state machine alone, then two NOTRACK
// replicators over an in-memory link carrying real conntrackd wire datagrams.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { FTFW_FLAG, type FtfwNode, type TxItem } from '../../src/engine/ftfw.js';
import { Notrack } from '../../src/engine/notrack.js';
import { Replicator, type ReplicatorConfig } from '../../src/engine/replicator.js';
import { REPLICATOR_CFG } from '../helpers/replicator-config.js';
import { decodeDatagram, encodeDatagrams } from '../../src/sync/datagram.js';

class Obj {
  ftfwNode?: FtfwNode<Obj> | undefined;
  constructor(readonly id: number) {}
}

function items(n: Notrack<Obj>): TxItem<Obj>[] {
  const out: TxItem<Obj>[] = [];
  n.transmitEach({
    emit(kind, obj, seq, flags) {
      if (kind === 'data') out.push({ kind, obj: obj!, seq, flags });
      else if (kind === 'resync' || kind === 'alive') out.push({ kind, seq, flags });
      else assert.fail(`NOTRACK sent ${kind}`);
    },
  });
  return out;
}

describe('Notrack', () => {
  it('sends each queued object once, in order, with consecutive sequence numbers and no flags', () => {
    const n = new Notrack<Obj>({ initialSeq: 100 });
    const [a, b] = [new Obj(1), new Obj(2)];
    n.enqueue(a);
    n.enqueue(b);
    n.enqueue(a); // already queued: not twice
    assert.equal(n.queued, 2);
    assert.ok(n.holds(a));
    assert.deepEqual(items(n), [
      { kind: 'data', obj: a, seq: 100, flags: 0 },
      { kind: 'data', obj: b, seq: 101, flags: 0 },
    ]);
    assert.equal(n.holds(a), false, 'nothing is kept after sending: no resend queue');
    assert.deepEqual([n.queued, n.awaitingAck], [0, 0]);
    n.enqueue(a);
    assert.deepEqual(items(n), [{ kind: 'data', obj: a, seq: 102, flags: 0 }], 'a sent object can be queued again');
  });

  it('sends ALIVE on the alive timer and RESYNC on request, never HELLO, ACK or NACK', () => {
    const n = new Notrack<Obj>({ initialSeq: 7 });
    n.onAliveTimer();
    n.requestResync();
    n.onAliveTimer();
    assert.deepEqual(items(n), [
      { kind: 'alive', seq: 7, flags: FTFW_FLAG.ALIVE },
      { kind: 'resync', seq: 8, flags: FTFW_FLAG.RESYNC },
      { kind: 'alive', seq: 9, flags: FTFW_FLAG.ALIVE },
    ]);
    assert.equal(n.stats.sent, 3);
  });

  it('accepts every data message whatever its sequence number, counting gaps and old ones as conntrackd does', () => {
    const n = new Notrack<Obj>({ initialSeq: 1 });
    const data = (seq: number): 'deliver' | string => n.onReceive({ kind: 'data', seq, flags: 0 });
    assert.equal(data(10), 'deliver');
    assert.equal(data(11), 'deliver');
    assert.deepEqual([n.stats.lost, n.stats.before], [0, 0]);
    assert.equal(data(15), 'deliver', 'a gap: delivered anyway, nothing to ask for');
    assert.equal(n.stats.lost, 15 - 11 + 1, 'nethdr_track_seq counts seq - last + 1');
    assert.equal(data(12), 'deliver', 'an old seq: delivered too');
    assert.equal(n.stats.before, 1);
    assert.equal(n.queued, 0, 'a receiver never answers');
    assert.equal(n.onReceive({ kind: 'alive', seq: 13, flags: FTFW_FLAG.ALIVE }), 'control');
    assert.equal(n.onReceive({ kind: 'resync', seq: 14, flags: FTFW_FLAG.RESYNC }), 'resync');
    assert.equal(n.onReceive({ kind: 'ack', seq: 15, flags: FTFW_FLAG.ACK, from: 1, to: 2 }), 'bad');
  });

  it('wraps its sequence number at 2^32', () => {
    const n = new Notrack<Obj>({ initialSeq: 0xffff_ffff });
    n.onAliveTimer();
    n.onAliveTimer();
    assert.deepEqual(
      items(n).map((i) => i.seq),
      [0xffff_ffff, 0],
    );
    n.onReceive({ kind: 'alive', seq: 0xffff_ffff, flags: FTFW_FLAG.ALIVE });
    n.onReceive({ kind: 'alive', seq: 0, flags: FTFW_FLAG.ALIVE });
    assert.deepEqual([n.stats.lost, n.stats.before], [0, 0]);
  });
});

const CFG: ReplicatorConfig = { ...REPLICATOR_CFG, mode: 'notrack' };

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

/** Pair wires two NOTRACK replicators; `drop` decides per datagram, `wire` records what A sends. */
class Pair {
  drop: (d: Uint8Array) => boolean = () => false;
  readonly wire: Uint8Array[] = [];
  readonly a: Replicator;
  readonly b: Replicator;
  constructor() {
    this.a = new Replicator(CFG, {
      send: (ds) =>
        ds.forEach((d) => {
          this.wire.push(d);
          if (!this.drop(d)) this.b.onDatagram(d, 0);
        }),
    });
    this.b = new Replicator({ ...CFG, initialSeq: 5 }, { send: (ds) => ds.forEach((d) => !this.drop(d) && this.a.onDatagram(d, 0)) });
  }
}

describe('Replicator in NOTRACK mode', () => {
  it('carries NEW, UPDATE and DESTROY to the peer and keeps no dead object after sending', () => {
    const p = new Pair();
    for (let i = 0; i < 50; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    p.a.transmit();
    assert.equal(p.b.external.size, 50);
    p.a.onKernelEvent({ kind: 'update', ct: { ...tcp(3), timeout: 77 } });
    for (let i = 10; i < 20; i++) p.a.onKernelEvent({ kind: 'destroy', ct: tcp(i) });
    p.a.transmit();
    assert.equal(p.b.external.size, 40);
    assert.equal(p.b.external.find(tcp(3))?.ct.timeout, 77);
    assert.equal(p.b.external.find(tcp(12)), undefined);
    assert.equal(p.a.internal.size, 40, 'the DEAD objects were released once their DEL went out');
    assert.equal(p.a.internal.heldHandles, 0, 'and the live ones are records again once sent');
    assert.equal(p.a.protocol.queued, 0);
    assert.throws(() => p.a.ftfw, /NOTRACK has no FTFW state/);
  });

  it('puts no FTFW flags on the wire and never acknowledges', () => {
    const p = new Pair();
    p.a.onKernelEvent({ kind: 'new', ct: tcp(1) });
    p.a.transmit();
    p.a.onAliveTimer();
    const msgs = p.wire.flatMap((d) => decodeDatagram(d, { mode: 'notrack' }).messages);
    assert.deepEqual(
      msgs.map((m) => [m.kind, m.seq, m.flags]),
      [
        ['ct', 1_700_000_000, 0],
        ['alive', 1_700_000_001, FTFW_FLAG.ALIVE],
      ],
    );
    assert.equal(p.b.protocol.queued, 0, 'B queued no ACK');
  });

  it('loses what the link drops (best effort) and gets it back with a RESYNC request', () => {
    const p = new Pair();
    p.drop = () => true;
    for (let i = 0; i < 30; i++) p.a.onKernelEvent({ kind: 'new', ct: tcp(i) });
    p.a.transmit();
    assert.equal(p.b.external.size, 0);
    p.drop = () => false;
    p.b.requestResync(); // -n on B
    p.b.transmit();
    assert.equal(p.a.stats.resyncRequests, 1);
    p.a.transmit();
    assert.equal(p.b.external.size, 30);
    assert.equal(p.b.protocol.stats.lost, 0, 'the first message received sets the expected seq');
  });

  it('refuses FTFW ACK/NACK datagrams and counts them as bad headers', () => {
    const b = new Replicator(CFG, { send: () => undefined });
    const [ack] = encodeDatagrams([{ kind: 'ack', seq: 9, flags: FTFW_FLAG.ACK, from: 1, to: 8 }], 1500);
    b.onDatagram(ack!, 0);
    assert.deepEqual(b.stats.rejected, { SYNC_BAD_HEADER: 1 });
    assert.equal(b.stats.messagesReceived, 0);
  });
});
