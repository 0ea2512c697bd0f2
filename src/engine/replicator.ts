import type { Conntrack, CtEvent } from '../ctnetlink/types.js';
import { decodeDatagram, encodeDatagrams, type SyncMessage, type SyncOp, type SyncRejectReason } from '../sync/index.js';
import { ExternalCache, InternalCache, type CacheObject, type KernelEventOrigin } from './cache.js';
import { Ftfw, type RxHeader, type TxItem } from './ftfw.js';

/**
 * Replicator is one node's replication logic in FTFW mode, pure: kernel events feed the internal
 * cache and are queued for the peer; received datagrams go through FTFW's sequence rules into the
 * external cache. I/O is two ports: `send` (datagrams for the current channel) and the caller,
 * who calls transmit() after a batch of events and onAliveTimer() one second after a transmit.
 */

export interface ReplicatorConfig {
  readonly ackWindow: number; // ACKWindowSize
  readonly resendQueueSize: number; // ResendQueueSize
  readonly hashLimit: number; // HashLimit, per cache
  readonly mtu: number; // of the dedicated link's interface
  readonly overhead: number; // IP + UDP header bytes per datagram
  readonly tcpWindowTracking: boolean; // Options { TCPWindowTracking }
  readonly commitTimeout: boolean; // CommitTimeout configured: timeouts are not sent
  readonly initialSeq: number; // time(NULL) at start, as conntrackd
}

export interface ReplicatorPorts {
  /** send hands datagrams to the current dedicated link. */
  send(datagrams: readonly Uint8Array[]): void;
}

/** ReplicatorStats: what `-s` shows beside the caches' and FTFW's own counters. */
export interface ReplicatorStats {
  messagesReceived: number;
  datagramsReceived: number;
  rejected: Partial<Record<SyncRejectReason, number>>;
  resyncRequests: number;
  bulkSends: number;
}

const OP_OF: Readonly<Record<CacheObject['status'], SyncOp>> = { new: 'new', alive: 'upd', dead: 'del' };

export class Replicator {
  readonly internal: InternalCache;
  readonly external: ExternalCache;
  readonly ftfw: Ftfw<CacheObject>;
  readonly stats: ReplicatorStats = { messagesReceived: 0, datagramsReceived: 0, rejected: {}, resyncRequests: 0, bulkSends: 0 };
  /** Dead objects the protocol may still hold (their DEL may have to be sent again). */
  private readonly dead = new Set<CacheObject>();

  constructor(
    private readonly cfg: ReplicatorConfig,
    private readonly ports: ReplicatorPorts,
  ) {
    this.internal = new InternalCache(cfg.hashLimit);
    this.external = new ExternalCache(cfg.hashLimit);
    this.ftfw = new Ftfw<CacheObject>({ ackWindow: cfg.ackWindow, resendQueueSize: cfg.resendQueueSize, initialSeq: cfg.initialSeq });
  }

  /** onKernelEvent mirrors one local ctnetlink event and queues it for the peer unless we caused it. */
  onKernelEvent(ev: CtEvent, origin: KernelEventOrigin = 'other', nowMs = 0): void {
    const r = this.internal.onKernelEvent(ev.kind, ev.ct, origin, nowMs);
    if (r.obj === undefined) return;
    if (r.obj.status === 'dead') this.dead.add(r.obj);
    if (r.enqueue) this.ftfw.enqueue(r.obj);
    else this.releaseIfUnheld(r.obj);
  }

  /**
   * populate update-or-creates the internal cache from a kernel dump without sending anything:
   * what conntrackd does at start-up and on `-R` (the peer gets it on RESYNC or `-B`).
   */
  populate(dump: Iterable<Conntrack>, nowMs = 0): number {
    let n = 0;
    for (const ct of dump) if (this.internal.onKernelEvent('update', ct, 'other', nowMs).obj !== undefined) n++;
    return n;
  }

  /** resyncInternal reloads the internal cache after lost events (netlink overrun): every difference is queued, vanished entries become DEL. */
  resyncInternal(dump: Iterable<Conntrack>, nowMs = 0): { added: number; changed: number; gone: number } {
    const r = this.internal.resync(dump, nowMs);
    for (const o of r.added) this.ftfw.enqueue(o);
    for (const o of r.changed) this.ftfw.enqueue(o);
    for (const o of r.gone) {
      this.dead.add(o);
      this.ftfw.enqueue(o);
    }
    return { added: r.added.length, changed: r.changed.length, gone: r.gone.length };
  }

  /** bulk queues every internal-cache object for the peer (`-B`, or a peer's RESYNC request). */
  bulk(): void {
    this.stats.bulkSends++;
    for (const o of this.internal.values()) this.ftfw.enqueue(o);
  }

  /** requestResync asks the peer for its whole table (`-n`). */
  requestResync(): void {
    this.ftfw.requestResync();
  }

  /**
   * onDatagram applies one received datagram: rejected messages are counted by reason, the rest
   * go through FTFW; data messages it accepts update the external cache. `nowMs` stamps entries
   * for the commit's timeout ageing.
   */
  onDatagram(bytes: Uint8Array, nowMs: number): void {
    this.stats.datagramsReceived++;
    const d = decodeDatagram(bytes, { mode: 'ftfw' });
    for (const e of d.errors) this.stats.rejected[e.reason] = (this.stats.rejected[e.reason] ?? 0) + 1;
    for (const m of d.messages) {
      this.stats.messagesReceived++;
      const verdict = this.ftfw.onReceive(rxHeader(m));
      if (verdict === 'deliver' && m.kind === 'ct') this.external.apply(m.op, m.ct, nowMs);
      else if (verdict === 'resync') {
        this.stats.resyncRequests++;
        this.bulk();
      }
    }
    this.sweepDead();
  }

  /** transmit sends what is queued, in as few datagrams as the MTU allows; returns how many messages went out. */
  transmit(): number {
    const items = this.ftfw.transmit();
    if (items.length === 0) return 0;
    const msgs = items.map(toMessage);
    this.ports.send(encodeDatagrams(msgs, this.cfg.mtu, { overhead: this.cfg.overhead, tcpWindowTracking: this.cfg.tcpWindowTracking, commitTimeout: this.cfg.commitTimeout }));
    return items.length;
  }

  /** onAliveTimer runs one second after the last transmit: a pending ACK or an ALIVE goes out. */
  onAliveTimer(): void {
    this.ftfw.onAliveTimer();
    this.transmit();
  }

  private releaseIfUnheld(o: CacheObject): void {
    if (o.status === 'dead' && !this.ftfw.holds(o)) {
      this.internal.release(o);
      this.dead.delete(o);
    }
  }

  private sweepDead(): void {
    for (const o of this.dead) this.releaseIfUnheld(o);
  }
}

function rxHeader(m: SyncMessage): RxHeader {
  switch (m.kind) {
    case 'ct':
    case 'exp':
      return { kind: 'data', seq: m.seq, flags: m.flags };
    case 'ack':
    case 'nack':
      return { kind: m.kind, seq: m.seq, flags: m.flags, from: m.from, to: m.to };
    case 'resync':
    case 'alive':
      return { kind: m.kind, seq: m.seq, flags: m.flags };
  }
}

/** toMessage builds the wire message of one FTFW item; a data item's type comes from its object's status now. */
function toMessage(t: TxItem<CacheObject>): SyncMessage {
  switch (t.kind) {
    case 'data':
      return { kind: 'ct', op: OP_OF[t.obj.status], seq: t.seq, flags: t.flags, ct: t.obj.ct };
    case 'ack':
    case 'nack':
      return { kind: t.kind, seq: t.seq, flags: t.flags, from: t.from, to: t.to };
    case 'resync':
      return { kind: 'resync', seq: t.seq, flags: t.flags, from: 0, to: 0 };
    case 'alive':
      return { kind: 'alive', seq: t.seq, flags: t.flags };
  }
}
