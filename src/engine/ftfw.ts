import type { IdleSink } from './protocol.js';
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
  /**
   * conntrackd's "Lost msgs": for each jump from `last` to a later `seq`, seq − last + 1 (the gap
   * plus 2, as conntrackd counts it), in 32-bit arithmetic as its counter.
   */
  lost: number;
  /** Sent messages dropped from a full resend queue (a NACK for them recovers nothing). */
  resendOverflow: number;
  badControl: number;
  hellosReceived: number;
}

type Control = { readonly kind: 'ack' | 'nack'; readonly from: number; readonly to: number } | { readonly kind: 'resync' | 'alive' };

/** Queue ids of FtfwNode.queue (NOTRACK's transmit queue, notrack.ts, uses NONE and TX too). */
export const NONE = 0;
export const TX = 1;
const RS = 2;

/**
 * FtfwNode is one message's place in the transmit or resend queue: an intrusive doubly linked
 * list node, so queueing, coalescing, acknowledging and retransmitting cost no map operations. A
 * data object gets one node for its life (ftfwNode) and reuses it; a control message gets its own
 * (ControlNode). A node of neither subclass is a data object that is its own node (CacheObject,
 * the handle of an internal-cache entry while something holds it; ExpObject: no field to point at
 * itself); DataNode carries an object that is not (dataOf).
 */
export class FtfwNode<T> {
  prev: FtfwNode<T> | undefined = undefined;
  next: FtfwNode<T> | undefined = undefined;
  /** NONE, TX or RS: which queue holds the node. */
  queue = NONE;
  /** The seq it was sent with (while in the resend queue). */
  seq = 0;
}

/** DataNode is the queue node of a data object that is not its own node. */
export class DataNode<T> extends FtfwNode<T> {
  constructor(readonly obj: T) {
    super();
  }
}

/** ControlNode is the queue node of one control message. */
export class ControlNode<T> extends FtfwNode<T> {
  constructor(readonly ctl: Control) {
    super();
  }
}

/** controlOf is a node's control message, undefined for data. */
export function controlOf<T>(node: FtfwNode<T>): Control | undefined {
  return node instanceof ControlNode ? node.ctl : undefined;
}

/** dataOf is the data object of a node that is not a control message's. */
export function dataOf<T>(node: FtfwNode<T>): T {
  return node instanceof DataNode ? (node.obj as T) : (node as unknown as T);
}

/** FtfwCarrier is what FTFW needs of a data object: a slot for its queue node. */
export interface FtfwCarrier<T> {
  ftfwNode?: FtfwNode<T> | undefined;
}

/** List is a FIFO of nodes (head = oldest). */
export class List<T> {
  head: FtfwNode<T> | undefined = undefined;
  tail: FtfwNode<T> | undefined = undefined;
  size = 0;
  constructor(private readonly id: number) {}
  push(n: FtfwNode<T>): void {
    n.queue = this.id;
    n.prev = this.tail;
    n.next = undefined;
    if (this.tail === undefined) this.head = n;
    else this.tail.next = n;
    this.tail = n;
    this.size++;
  }
  remove(n: FtfwNode<T>): void {
    if (n.prev === undefined) this.head = n.next;
    else n.prev.next = n.next;
    if (n.next === undefined) this.tail = n.prev;
    else n.next.prev = n.prev;
    n.prev = n.next = undefined;
    n.queue = NONE;
    this.size--;
  }
}

/** before is 32-bit serial arithmetic: a comes before b. */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
const after = (a: number, b: number): boolean => seqBefore(b, a);
const next = (s: number): number => (s + 1) >>> 0;

/**
 * TxSink receives each message to send (see TxItem): `obj` for data, `from`/`to` for ACK/NACK (0
 * otherwise). An object with a method rather than a closure, for IdleSink's reason (protocol.ts):
 * the daemon's Replicator then calls the very function its warm-up's did.
 */
export interface TxSink<T> {
  emit(kind: TxItem<T>['kind'], obj: T | undefined, seq: number, flags: number, from: number, to: number): void;
}

/**
 * Ftfw holds one node's FTFW state: the sender's seq, transmit and resend queues and HELLO
 * state, and the receiver's last seq, ACK window and pending ACK. Like conntrackd, the receiver
 * state is per process, not per peer (§3.1.7: FTFW is effectively a two-node protocol).
 */
export class Ftfw<T extends FtfwCarrier<T>> {
  readonly stats: FtfwStats = { sent: 0, retransmitted: 0, before: 0, lost: 0, resendOverflow: 0, badControl: 0, hellosReceived: 0 };

  // sender
  private seq: number;
  /** tx queue: FIFO. Objects appear at most once (coalescing); control nodes are distinct objects. */
  private readonly tx = new List<T>(TX);
  /** rs queue: sent nodes in send order, so in seq order. */
  private readonly rs = new List<T>(RS);
  /** Data objects queued or awaiting an ACK. */
  private heldObjects = 0;
  private hello: 'init' | 'say' | 'done' = 'init';
  private sayHelloBack = false;
  /**
   * The ALIVE queued right behind our last RESYNC or NACK (the proof a keepstated peer acknowledges
   * at once), until it is sent: one at a time, moved behind a later request, so that a burst of
   * gaps does not double the control traffic (each of whose losses would be a gap again).
   */
  private proofAlive: FtfwNode<T> | undefined;
  /**
   * The kind of the last message received in sequence (an ALIVE right after a RESYNC or NACK is
   * acknowledged at once); 'none' before the first. A string from the start: a first ALIVE read
   * while it was undefined deoptimized the compare that the warm-up had only seen with strings.
   */
  private lastKindRecv: RxHeader['kind'] | 'none' = 'none';

  // receiver
  private lastSeqRecv = 0;
  private seqKnown = false;
  private window: number;
  private ackFrom = 0;
  private ackPending = false;
  /** The seq from which nothing is acknowledged until releaseAcks (holdAcksFrom), if set. */
  private ackHeldFrom: number | undefined;

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
    return this.heldObjects;
  }
  /** owner: see ReplicationProtocol (told as a data node leaves both queues). */
  owner: IdleSink<T> | undefined = undefined;
  /** holds tells whether the object is still queued or awaiting an ACK. */
  holds(obj: T): boolean {
    return (obj.ftfwNode?.queue ?? NONE) !== NONE;
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
    let node = obj.ftfwNode;
    if (node === undefined) {
      node = new DataNode<T>(obj);
      obj.ftfwNode = node;
    }
    if (node.queue === TX) return;
    if (node.queue === RS) this.rs.remove(node);
    else this.heldObjects++;
    this.tx.push(node);
  }

  /** forget drops an object from both queues (it was freed without being sent, e.g. a flush). */
  forget(obj: T): void {
    const node = obj.ftfwNode;
    if (node === undefined || node.queue === NONE) return;
    this.unlink(node);
  }

  /**
   * requestResync queues a RESYNC control message (ask the peer for its whole table), and an ALIVE
   * behind it: the peer's ACK of that later message, queued after the bulk, is what tells us the
   * answer is all in (Replicator.caughtUp). Without it the proof waits for our next message, a
   * second's alive timer away, and for the peer's ACK of it, another.
   */
  requestResync(): void {
    this.tx.push(new ControlNode<T>(RESYNC));
    this.queueProofAlive();
  }

  /** queueProofAlive puts the proof ALIVE at the end of the transmit queue: right behind the request just queued. */
  private queueProofAlive(): void {
    if (this.proofAlive !== undefined) this.tx.remove(this.proofAlive);
    this.proofAlive = new ControlNode<T>(ALIVE);
    this.tx.push(this.proofAlive);
  }

  /** transmit is transmitEach collecting the items (tests, tools). */
  transmit(): TxItem<T>[] {
    const out: TxItem<T>[] = [];
    this.transmitEach({
      emit(kind, obj, seq, flags, from, to) {
        if (kind === 'data') out.push({ kind, obj: obj!, seq, flags });
        else if (kind === 'ack' || kind === 'nack') out.push({ kind, seq, flags, from, to });
        else out.push({ kind, seq, flags });
      },
    });
    return out;
  }

  /**
   * transmitEach empties the transmit queue in FIFO order: each message gets the next seq and the
   * HELLO flags and is handed to `sink`; data and ACK/NACK/RESYNC go into the resend queue (the
   * oldest is dropped when it is full), ALIVE is sent once. The runtime serialises and sends, and
   * re-arms the one-second alive timer. Returns how many messages went out.
   */
  transmitEach(sink: TxSink<T>): number {
    let n = 0;
    for (let node = this.tx.head; node !== undefined; node = this.tx.head) {
      this.tx.remove(node);
      if (node === this.proofAlive) this.proofAlive = undefined;
      this.seq = next(this.seq);
      const seq = this.seq;
      let flags = 0;
      if (this.hello === 'init') this.hello = 'say';
      if (this.hello === 'say') flags |= FTFW_FLAG.HELLO;
      if (this.sayHelloBack) {
        flags |= FTFW_FLAG.HELLO_BACK;
        this.sayHelloBack = false;
      }
      const c = controlOf(node);
      if (c === undefined) sink.emit('data', dataOf(node), seq, flags, 0, 0);
      else if (c.kind === 'ack') sink.emit('ack', undefined, seq, flags | FTFW_FLAG.ACK, c.from, c.to);
      else if (c.kind === 'nack') sink.emit('nack', undefined, seq, flags | FTFW_FLAG.NACK, c.from, c.to);
      else if (c.kind === 'resync') sink.emit('resync', undefined, seq, flags | FTFW_FLAG.RESYNC, 0, 0);
      else sink.emit('alive', undefined, seq, flags | FTFW_FLAG.ALIVE, 0, 0);
      this.stats.sent++;
      n++;
      if (c !== undefined && c.kind === 'alive') continue;
      if (this.rs.size >= this.cfg.resendQueueSize) this.dropOldestResend();
      node.seq = seq;
      this.rs.push(node);
    }
    return n;
  }

  /**
   * onAliveTimer runs one second after the last transmit pass: a pending ACK is sent now, or an
   * ALIVE when there is nothing to acknowledge (§3.1.4). Call transmit() afterwards.
   */
  onAliveTimer(): void {
    if (!(this.ackPending && this.seqKnown && this.ack(this.lastSeqRecv))) this.tx.push(new ControlNode<T>(ALIVE));
  }

  /**
   * ack queues ACK [ackFrom, to] and says whether anything went out. While ACKs are held
   * (holdAcksFrom) only the part before the held seq goes; releaseAcks acknowledges the rest.
   */
  private ack(to: number): boolean {
    const held = this.ackHeldFrom;
    this.ackPending = false;
    if (held === undefined || seqBefore(to, held)) {
      this.tx.push(new ControlNode<T>({ kind: 'ack', from: this.ackFrom, to }));
      return true;
    }
    if (!seqBefore(this.ackFrom, held)) return false;
    this.tx.push(new ControlNode<T>({ kind: 'ack', from: this.ackFrom, to: (held - 1) >>> 0 }));
    return true;
  }

  /**
   * holdAcksFrom: acknowledge nothing from `seq` on until releaseAcks. The answer to the peer's
   * RESYNC at `seq` is deferred (Replicator.holdResyncAnswers), and a keepstated peer takes our
   * ACK of a later message of its own as the end of the answer (Replicator.caughtUp): that ACK
   * must follow the answer. Our data and ALIVEs still flow.
   */
  holdAcksFrom(seq: number): void {
    this.ackHeldFrom ??= seq;
  }

  /** releaseAcks acknowledges what was held back, behind whatever was queued meanwhile (the deferred answer). */
  releaseAcks(): void {
    const held = this.ackHeldFrom;
    if (held === undefined) return;
    this.ackHeldFrom = undefined;
    if (!this.seqKnown || seqBefore(this.lastSeqRecv, held)) return;
    this.tx.push(new ControlNode<T>({ kind: 'ack', from: held, to: this.lastSeqRecv }));
    this.ackPending = false;
    this.window = this.cfg.ackWindow;
  }

  /** onReceive applies the FTFW receive rules (§3.1.2, §3.1.3, §3.1.5) to one validated message. */
  onReceive(h: RxHeader): RxVerdict {
    if ((h.flags & FTFW_FLAG.HELLO_BACK) !== 0 && this.hello === 'say') this.hello = 'done';
    let inSync: boolean;
    if ((h.flags & FTFW_FLAG.HELLO) !== 0) {
      this.onHello(h.seq, this.seqKnown && h.seq === next(this.lastSeqRecv));
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
        // A gap: process this message anyway, acknowledge what came in order, ask for the rest —
        // with an ALIVE behind the NACK, as behind a RESYNC (requestResync): a keepstated peer
        // acknowledges it at once, after the retransmissions, and that ACK is the proof that they
        // are all in (Replicator.caughtUp) instead of the peer's next alive timer and ours.
        inSync = false;
        if (this.ackPending) this.ack((exp - 1) >>> 0);
        this.tx.push(new ControlNode<T>({ kind: 'nack', from: exp, to: (h.seq - 1) >>> 0 }));
        this.queueProofAlive();
        // conntrackd's arithmetic (nethdr_track_seq): seq − last + 1, i.e. the gap plus 2, in 32 bits.
        this.stats.lost = (this.stats.lost + ((h.seq - this.lastSeqRecv + 1) >>> 0)) >>> 0;
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
      // An ALIVE right behind a RESYNC or a NACK is acknowledged at once instead of on the window
      // or the alive timer: a keepstated peer that asks for our table or for retransmissions
      // sends one there and takes our ACK of it, queued after the bulk or the retransmissions, as
      // the end of the answer (conntrackd never sends those pairs, so its exchanges are unchanged).
      const answerRequest = h.kind === 'alive' && (this.lastKindRecv === 'resync' || this.lastKindRecv === 'nack');
      if (--this.window <= 0 || answerRequest) {
        this.ack(h.seq);
        this.window = this.cfg.ackWindow;
      }
    }
    this.lastSeqRecv = h.seq;
    // Also after a gap: the message was processed all the same (a RESYNC that follows messages
    // lost while the requester's link was down is answered, and the ALIVE behind it proves it).
    this.lastKindRecv = h.kind;
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
    for (let node = this.rs.head; node !== undefined; ) {
      const nextNode = node.next;
      if (after(node.seq, to)) break;
      if (!seqBefore(node.seq, from)) this.unlink(node);
      node = nextNode;
    }
  }

  /** retransmit moves the resend-queue entries of NACK [from, to] back to the transmit queue. */
  private retransmit(from: number, to: number): void {
    for (let node = this.rs.head; node !== undefined; ) {
      const nextNode = node.next;
      if (after(node.seq, to)) break;
      if (!seqBefore(node.seq, from)) {
        this.rs.remove(node);
        this.tx.push(node);
        this.stats.retransmitted++;
        // A RESYNC or NACK sent again keeps its ALIVE right behind it (see requestResync and the
        // gap in onReceive): a request lost while our link was down is answered as fast as a first one.
        const kind = controlOf(node)?.kind;
        if (kind === 'resync' || kind === 'nack') this.queueProofAlive();
      }
      node = nextNode;
    }
  }

  /**
   * onHello: `inSequence` says the HELLO came right after the last message received. The peer
   * says HELLO on every message until our HELLO_BACK reaches it, so an in-sequence HELLO is the
   * same incarnation repeating itself (our HELLO_BACK was lost), not a restart: its NACKs still
   * need the resend queue. conntrackd empties it on every HELLO, which loses for good whatever
   * was lost with the HELLO_BACK (the start of the bulk answering a restarted peer's RESYNC).
   */
  private onHello(seq: number, inSequence: boolean): void {
    this.stats.hellosReceived++;
    this.sayHelloBack = true;
    if (this.ackPending && seqBefore(seq, this.ackFrom)) {
      this.window = this.cfg.ackWindow - 1;
      this.ackFrom = seq;
    }
    // A restarted peer cannot use retransmissions of what we sent before: empty the resend queue.
    if (!inSequence) while (this.rs.head !== undefined) this.unlink(this.rs.head);
  }

  private dropOldestResend(): void {
    const first = this.rs.head;
    if (first === undefined) return;
    this.unlink(first);
    this.stats.resendOverflow++;
  }

  /** unlink takes a node out of its queue; a data object is then no longer held. */
  private unlink(node: FtfwNode<T>): void {
    if (node.queue === TX) this.tx.remove(node);
    else if (node.queue === RS) this.rs.remove(node);
    else return;
    if (!(node instanceof ControlNode)) {
      this.heldObjects--;
      this.owner?.onIdle(dataOf(node));
    }
  }
}

const RESYNC: Control = { kind: 'resync' };
const ALIVE: Control = { kind: 'alive' };
