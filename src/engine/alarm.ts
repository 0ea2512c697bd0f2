import { DataNode, dataOf, List, NONE, TX, type FtfwCarrier, type FtfwStats, type RxHeader, type RxVerdict, type TxSink } from './ftfw.js';
import type { IdleSink, ReplicationProtocol } from './protocol.js';

/**
 * ALARM, conntrackd's periodic-refresh mode (conntrackd-protocol.md §3.2), as a pure state
 * machine with Ftfw's surface (protocol.ts) plus refresh timers: every internal-cache object is
 * re-sent (type from its status at transmit time) when its timer expires, after a random
 * 1…RefreshTime s plus 0.2–1.0 s (a random multiple of 0.2 s minus 1 µs), and the timer is
 * re-armed; a kernel event sends the object and re-arms it too. No control message at all: no
 * ALIVE, no RESYNC (`-n` does nothing), no ACK. Sequence numbers are sent, and the receiver never
 * records them (conntrackd's alarm_recv only compares), so "lost" stays 0.
 *
 * Timers are kept in 200 ms slots; the runtime calls onTimer(now) periodically (sync-node.ts).
 */

export interface AlarmConfig {
  /** First sequence number: conntrackd uses time(NULL) (Unix seconds). */
  readonly initialSeq: number;
  /** RefreshTime in seconds (≥ 1). */
  readonly refreshTimeSec: number;
  /** A source of uniform numbers in [0, 1) (default Math.random; tests pass their own). */
  readonly random?: (() => number) | undefined;
}

/** SLOT_MS is the refresh timers' granularity. */
export const SLOT_MS = 200;

const next = (s: number): number => (s + 1) >>> 0;

export class Alarm<T extends FtfwCarrier<T>> implements ReplicationProtocol<T> {
  readonly stats: FtfwStats = { sent: 0, retransmitted: 0, before: 0, lost: 0, resendOverflow: 0, badControl: 0, hellosReceived: 0 };
  /** refreshes counts the objects queued by their refresh timer. */
  refreshes = 0;
  private seq: number;
  private readonly tx = new List<T>(TX);
  private readonly random: () => number;
  /** slotOf: the slot each armed object's timer expires in; slots: the objects of each slot. */
  private readonly slotOf = new Map<T, number>();
  private readonly slots = new Map<number, Set<T>>();
  /** The last slot onTimer processed (undefined until the first arm or tick). */
  private done: number | undefined;

  constructor(private readonly cfg: AlarmConfig) {
    this.seq = (cfg.initialSeq - 1) >>> 0;
    this.random = cfg.random ?? Math.random;
  }

  get queued(): number {
    return this.tx.size;
  }
  get awaitingAck(): number {
    return 0;
  }
  /** armed is how many objects have a refresh timer. */
  get armed(): number {
    return this.slotOf.size;
  }
  /** owner: see ReplicationProtocol; never told (the refresh timers hold every object). */
  owner: IdleSink<T> | undefined = undefined;
  holds(obj: T): boolean {
    return (obj.ftfwNode?.queue ?? NONE) !== NONE;
  }

  enqueue(obj: T): void {
    let node = obj.ftfwNode;
    if (node === undefined) {
      node = new DataNode<T>(obj);
      obj.ftfwNode = node;
    }
    if (node.queue !== TX) this.tx.push(node);
  }

  /** refreshDelayMs draws a timer length as conntrackd does: (1…RefreshTime) s + (k · 0.2 s − 1 µs), k in 1…5. */
  refreshDelayMs(): number {
    const sec = Math.floor(this.random() * this.cfg.refreshTimeSec) + 1;
    const k = Math.floor(this.random() * 5) + 1;
    return sec * 1000 + k * 200 - 0.001;
  }

  /** arm (re)starts an object's refresh timer at `nowMs`. */
  arm(obj: T, nowMs: number): void {
    this.disarm(obj);
    if (this.done === undefined) this.done = Math.floor(nowMs / SLOT_MS);
    // The slot whose tick (its end) comes at or after the due time; never one already processed.
    const slot = Math.max(Math.ceil((nowMs + this.refreshDelayMs()) / SLOT_MS), this.done + 1);
    this.slotOf.set(obj, slot);
    let s = this.slots.get(slot);
    if (s === undefined) this.slots.set(slot, (s = new Set()));
    s.add(obj);
  }

  /** disarm stops an object's refresh timer (it died or left the cache). */
  disarm(obj: T): void {
    const slot = this.slotOf.get(obj);
    if (slot === undefined) return;
    this.slotOf.delete(obj);
    const s = this.slots.get(slot);
    s?.delete(obj);
    if (s?.size === 0) this.slots.delete(slot);
  }

  /** onTimer queues every object whose timer expired by `nowMs` and re-arms it; returns how many. Call transmit afterwards. */
  onTimer(nowMs: number): number {
    const upTo = Math.floor(nowMs / SLOT_MS);
    if (this.done === undefined) this.done = upTo;
    let n = 0;
    for (; this.done < upTo; ) {
      const slot = ++this.done;
      const s = this.slots.get(slot);
      if (s === undefined) continue;
      this.slots.delete(slot);
      for (const obj of s) {
        this.slotOf.delete(obj);
        this.enqueue(obj);
        this.arm(obj, nowMs);
        n++;
      }
    }
    this.refreshes += n;
    return n;
  }

  /** requestResync does nothing: ALARM resynchronises passively (a new peer is complete after RefreshTime + 1 s). */
  requestResync(): void {}

  /** onAliveTimer does nothing: ALARM sends no ALIVE. */
  onAliveTimer(): void {}

  transmitEach(sink: TxSink<T>): number {
    let n = 0;
    for (let node = this.tx.head; node !== undefined; node = this.tx.head) {
      this.tx.remove(node);
      this.seq = next(this.seq);
      sink.emit('data', dataOf(node), this.seq, 0, 0, 0);
      this.stats.sent++;
      n++;
    }
    return n;
  }

  /**
   * onReceive delivers data; a control message (a FTFW or NOTRACK peer's, which the codec reports
   * so that the link may still be followed) is ignored, as conntrackd ignores flagged messages.
   */
  onReceive(h: RxHeader): RxVerdict {
    return h.kind === 'data' ? 'deliver' : 'control';
  }
}
