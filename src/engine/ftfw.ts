/**
 * FTFW, conntrackd's reliable replication protocol (conntrackd-protocol.md §3.1), as a pure state
 * machine: no sockets, no timers, no clock reads. The runtime feeds it received message headers
 * and local object changes, calls `transmit()` to get what to send (then serialises each item
 * from the object's state at that moment), and calls `onAliveTimer()` one second after the last
 * transmit pass.
 *
 * It is generic over the cached object type T: it only keeps references and queue membership.
 * The message type of a data item is the caller's business (derived from the object's status at
 * transmit time: NEW → *_NEW, ALIVE → *_UPD, DEAD → *_DEL), as in conntrackd.
 */

/** Header flags of the sync protocol (§2.3) that FTFW reads or sets. */
export const FTFW_FLAG = {
  RESYNC: 0x02,
  NACK: 0x04,
  ACK: 0x08,
  ALIVE: 0x10,
  HELLO: 0x20,
  HELLO_BACK: 0x40,
} as const;

/** RxHeader is what FTFW needs of a received, validated message. */
export type RxHeader =
  | { readonly kind: 'data'; readonly seq: number; readonly flags: number }
  | { readonly kind: 'ack' | 'nack'; readonly seq: number; readonly flags: number; readonly from: number; readonly to: number }
  | { readonly kind: 'resync' | 'alive'; readonly seq: number; readonly flags: number };

/** TxItem is one message to send, with its sequence number and header flags already decided. */
export type TxItem<T> =
  | { readonly kind: 'data'; readonly obj: T; readonly seq: number; readonly flags: number }
  | { readonly kind: 'ack' | 'nack'; readonly seq: number; readonly flags: number; readonly from: number; readonly to: number }
  | { readonly kind: 'resync' | 'alive'; readonly seq: number; readonly flags: number };

/** RxVerdict tells the runtime what to do with a received message. */
export type RxVerdict =
  | 'deliver' // a data message to apply to the external cache
  | 'control' // a control message FTFW handled
  | 'resync' // the peer asked for everything: enqueue every internal-cache object (bulk)
  | 'before' // an old or duplicate seq: dropped
  | 'bad'; // a control message with an impossible range: dropped

export interface FtfwConfig {
  /** ACKWindowSize: messages received in sequence before an ACK is sent (default 300). */
  readonly ackWindow: number;
  /** ResendQueueSize: sent messages kept for retransmission (default 131072). */
  readonly resendQueueSize: number;
  /** First sequence number: conntrackd uses time(NULL) (Unix seconds) when the first message is built. */
  readonly initialSeq: number;
}

/** FtfwStats are the counters conntrackd's `-s` shows for FTFW and for the link. */
export interface FtfwStats {
  sent: number;
  retransmitted: number;
  /** Messages received with a seq before the expected one (duplicates, old). */
  before: number;
  /** Sum of the gaps seen (seqs that never arrived in order), conntrackd's "Packets lost". */
  lost: number;
  /** Sent messages dropped from a full resend queue (a NACK for them recovers nothing). */
  resendOverflow: number;
  badControl: number;
  hellosReceived: number;
}

type Control = { readonly kind: 'ack' | 'nack'; readonly from: number; readonly to: number } | { readonly kind: 'resync' | 'alive' };
type Node<T> = { readonly kind: 'data'; readonly obj: T } | Control;

/** before is 32-bit serial arithmetic: a comes before b. */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
const after = (a: number, b: number): boolean => seqBefore(b, a);
const next = (s: number): number => (s + 1) >>> 0;

/**
 * Ftfw holds one node's FTFW state: the sender's seq, transmit and resend queues and HELLO
 * state, and the receiver's last seq, ACK window and pending ACK. Like conntrackd, the receiver
 * state is per process, not per peer (§3.1.7: FTFW is effectively a two-node protocol).
 */
export class Ftfw<T> {
  readonly stats: FtfwStats = { sent: 0, retransmitted: 0, before: 0, lost: 0, resendOverflow: 0, badControl: 0, hellosReceived: 0 };

  // sender
  private seq: number;
  /** tx queue: FIFO. Objects appear at most once (coalescing); control nodes are distinct objects. */
  private readonly tx = new Set<Node<T>>();
  /** The node each object has while it is queued (tx) or awaiting an ACK (rs). */
  private readonly objNode = new Map<T, Node<T>>();
  /** rs queue: sent nodes by seq, in send order (Map iteration order is insertion order). */
  private readonly rs = new Map<number, Node<T>>();
  private readonly rsSeqOf = new Map<Node<T>, number>();
  private hello: 'init' | 'say' | 'done' = 'init';
  private sayHelloBack = false;

  // receiver
  private lastSeqRecv = 0;
  private seqKnown = false;
  private window: number;
  private ackFrom = 0;
  private ackPending = false;

  constructor(private readonly cfg: FtfwConfig) {
    this.seq = (cfg.initialSeq - 1) >>> 0;
    this.window = cfg.ackWindow;
  }

  /** queued is how many messages wait to be sent; awaitingAck how many were sent and not yet acknowledged. */
  get queued(): number {
    return this.tx.size;
  }
  get awaitingAck(): number {
    return this.rs.size;
  }
  /**
   * pendingObjects is how many objects are queued or sent and unacknowledged: a DEAD object must
   * be kept while this holds it (its DEL may still have to be sent again). Control messages are
   * not counted: in steady state each node acknowledges the peer's last ACK, so one is always
   * waiting.
   */
  get pendingObjects(): number {
    return this.objNode.size;
  }
  /** holds tells whether the object is still queued or awaiting an ACK. */
  holds(obj: T): boolean {
    return this.objNode.has(obj);
  }
  /** helloState: 'say' until the peer answered our HELLO with HELLO_BACK. */
  get helloState(): 'init' | 'say' | 'done' {
    return this.hello;
  }

  /**
   * enqueue schedules an object to be sent (its state at transmit time). An object already waiting
   * is not queued twice; one waiting for an ACK goes back to the transmit queue (§3.1.1).
   */
  enqueue(obj: T): void {
    const node = this.objNode.get(obj);
    if (node !== undefined) {
      if (this.tx.has(node)) return;
      const seq = this.rsSeqOf.get(node);
      if (seq !== undefined) {
        this.rs.delete(seq);
        this.rsSeqOf.delete(node);
      }
      this.tx.add(node);
      return;
    }
    const n: Node<T> = { kind: 'data', obj };
    this.objNode.set(obj, n);
    this.tx.add(n);
  }

  /** forget drops an object from both queues (it was freed without being sent, e.g. a flush). */
  forget(obj: T): void {
    const node = this.objNode.get(obj);
    if (node === undefined) return;
    this.tx.delete(node);
    const seq = this.rsSeqOf.get(node);
    if (seq !== undefined) {
      this.rs.delete(seq);
      this.rsSeqOf.delete(node);
    }
    this.objNode.delete(obj);
  }

  /** requestResync queues a RESYNC control message (ask the peer for its whole table). */
  requestResync(): void {
    this.tx.add({ kind: 'resync' });
  }

  /**
   * transmit empties the transmit queue in FIFO order: each item gets the next seq and the HELLO
   * flags, data and ACK/NACK/RESYNC go into the resend queue (the oldest is dropped when it is
   * full), ALIVE is sent once. The runtime serialises the items, sends them, and re-arms the
   * one-second alive timer.
   */
  transmit(): TxItem<T>[] {
    const out: TxItem<T>[] = [];
    for (const node of this.tx) {
      this.tx.delete(node);
      this.seq = next(this.seq);
      const seq = this.seq;
      let flags = 0;
      if (this.hello === 'init') this.hello = 'say';
      if (this.hello === 'say') flags |= FTFW_FLAG.HELLO;
      if (this.sayHelloBack) {
        flags |= FTFW_FLAG.HELLO_BACK;
        this.sayHelloBack = false;
      }
      switch (node.kind) {
        case 'data':
          out.push({ kind: 'data', obj: node.obj, seq, flags });
          break;
        case 'ack':
          out.push({ kind: 'ack', seq, flags: flags | FTFW_FLAG.ACK, from: node.from, to: node.to });
          break;
        case 'nack':
          out.push({ kind: 'nack', seq, flags: flags | FTFW_FLAG.NACK, from: node.from, to: node.to });
          break;
        case 'resync':
          out.push({ kind: 'resync', seq, flags: flags | FTFW_FLAG.RESYNC });
          break;
        case 'alive':
          out.push({ kind: 'alive', seq, flags: flags | FTFW_FLAG.ALIVE });
          break;
      }
      this.stats.sent++;
      if (node.kind === 'alive') continue;
      if (this.rs.size >= this.cfg.resendQueueSize) this.dropOldestResend();
      this.rs.set(seq, node);
      this.rsSeqOf.set(node, seq);
    }
    return out;
  }

  /**
   * onAliveTimer runs one second after the last transmit pass: a pending ACK is sent now, or an
   * ALIVE when there is nothing to acknowledge (§3.1.4). Call transmit() afterwards.
   */
  onAliveTimer(): void {
    if (this.ackPending && this.seqKnown) {
      this.tx.add({ kind: 'ack', from: this.ackFrom, to: this.lastSeqRecv });
      this.ackPending = false;
    } else {
      this.tx.add({ kind: 'alive' });
    }
  }

  /** onReceive applies the FTFW receive rules (§3.1.2, §3.1.3, §3.1.5) to one validated message. */
  onReceive(h: RxHeader): RxVerdict {
    if ((h.flags & FTFW_FLAG.HELLO_BACK) !== 0 && this.hello === 'say') this.hello = 'done';
    let inSync: boolean;
    if ((h.flags & FTFW_FLAG.HELLO) !== 0) {
      this.onHello(h.seq);
      inSync = true;
    } else if (!this.seqKnown) {
      inSync = true;
    } else {
      const exp = next(this.lastSeqRecv);
      if (h.seq === exp) inSync = true;
      else if (seqBefore(h.seq, exp)) {
        this.stats.before++;
        return 'before';
      } else {
        // A gap: process this message anyway, acknowledge what came in order, ask for the rest.
        inSync = false;
        if (this.ackPending) this.tx.add({ kind: 'ack', from: this.ackFrom, to: (exp - 1) >>> 0 });
        this.tx.add({ kind: 'nack', from: exp, to: (h.seq - 1) >>> 0 });
        this.stats.lost += (h.seq - exp) >>> 0;
        this.window = this.cfg.ackWindow - 1;
        this.ackFrom = h.seq;
        this.ackPending = true;
      }
    }
    const verdict = this.process(h);
    if (verdict === 'bad') return verdict;
    if (inSync) {
      if (!this.ackPending) {
        this.ackFrom = h.seq;
        this.ackPending = true;
      }
      if (--this.window <= 0) {
        this.tx.add({ kind: 'ack', from: this.ackFrom, to: h.seq });
        this.window = this.cfg.ackWindow;
        this.ackPending = false;
      }
    }
    this.lastSeqRecv = h.seq;
    this.seqKnown = true;
    return verdict;
  }

  private process(h: RxHeader): RxVerdict {
    switch (h.kind) {
      case 'data':
        return 'deliver';
      case 'alive':
        return 'control';
      case 'resync':
        return 'resync';
      case 'ack':
        if (seqBefore(h.to, h.from)) {
          this.stats.badControl++;
          return 'bad';
        }
        this.release(h.from, h.to);
        return 'control';
      case 'nack':
        if (seqBefore(h.to, h.from)) {
          this.stats.badControl++;
          return 'bad';
        }
        this.retransmit(h.from, h.to);
        return 'control';
    }
  }

  /** release frees the resend-queue entries acknowledged by ACK [from, to]. */
  private release(from: number, to: number): void {
    for (const [seq, node] of this.rs) {
      if (seqBefore(seq, from)) continue;
      if (after(seq, to)) break;
      this.rs.delete(seq);
      this.rsSeqOf.delete(node);
      if (node.kind === 'data') this.objNode.delete(node.obj);
    }
  }

  /** retransmit moves the resend-queue entries of NACK [from, to] back to the transmit queue. */
  private retransmit(from: number, to: number): void {
    for (const [seq, node] of this.rs) {
      if (seqBefore(seq, from)) continue;
      if (after(seq, to)) break;
      this.rs.delete(seq);
      this.rsSeqOf.delete(node);
      this.tx.add(node);
      this.stats.retransmitted++;
    }
  }

  private onHello(seq: number): void {
    this.stats.hellosReceived++;
    this.sayHelloBack = true;
    if (this.ackPending && seqBefore(seq, this.ackFrom)) {
      this.window = this.cfg.ackWindow - 1;
      this.ackFrom = seq;
    }
    // The restarted peer cannot use retransmissions of what we sent before: empty the resend queue.
    for (const node of this.rs.values()) {
      this.rsSeqOf.delete(node);
      if (node.kind === 'data') this.objNode.delete(node.obj);
    }
    this.rs.clear();
  }

  private dropOldestResend(): void {
    const first = this.rs.entries().next();
    if (first.done === true) return;
    const [seq, node] = first.value;
    this.rs.delete(seq);
    this.rsSeqOf.delete(node);
    if (node.kind === 'data') this.objNode.delete(node.obj);
    this.stats.resendOverflow++;
  }
}
