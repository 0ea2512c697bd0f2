import { ControlNode, controlOf, DataNode, dataOf, FTFW_FLAG, List, NONE, TX, type FtfwCarrier, type FtfwStats, type RxHeader, type RxVerdict, type TxSink } from './ftfw.js';
import type { IdleSink, ReplicationProtocol } from './protocol.js';

/**
 * NOTRACK, conntrackd's best-effort mode (conntrackd-protocol.md §3.3), as a pure state machine
 * with Ftfw's surface (protocol.ts): objects are queued (at most once) and serialised at
 * transmit time like FTFW, but nothing is kept after sending — no resend queue, no HELLO, no
 * ACK/NACK. Control messages are RESYNC (`-n`; receiving one asks for a bulk) and ALIVE (one
 * second after the last transmit pass). Every message still gets the next sequence number; the
 * receiver tracks them only for the "lost"/"before" counters and accepts everything.
 */

export interface NotrackConfig {
  /** First sequence number: conntrackd uses time(NULL) (Unix seconds). */
  readonly initialSeq: number;
}

const next = (s: number): number => (s + 1) >>> 0;
/** after: a comes after b, in 32-bit serial arithmetic. */
const after = (a: number, b: number): boolean => ((b - a) | 0) < 0;

type NotrackControl = { readonly kind: 'resync' | 'alive' };
const RESYNC: NotrackControl = { kind: 'resync' };
const ALIVE: NotrackControl = { kind: 'alive' };

export class Notrack<T extends FtfwCarrier<T>> implements ReplicationProtocol<T> {
  readonly stats: FtfwStats = { sent: 0, retransmitted: 0, before: 0, lost: 0, resendOverflow: 0, badControl: 0, hellosReceived: 0 };
  private seq: number;
  private readonly tx = new List<T>(TX);
  private lastSeqRecv = 0;
  private seqKnown = false;

  constructor(cfg: NotrackConfig) {
    this.seq = (cfg.initialSeq - 1) >>> 0;
  }

  get queued(): number {
    return this.tx.size;
  }
  get awaitingAck(): number {
    return 0;
  }
  /** owner: see ReplicationProtocol (told once a data object is sent). */
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
    if (node.queue === TX) return;
    this.tx.push(node);
  }

  requestResync(): void {
    this.tx.push(new ControlNode<T>(RESYNC));
  }

  /** onAliveTimer queues an ALIVE: conntrackd's NOTRACK has no ACK to send instead. */
  onAliveTimer(): void {
    this.tx.push(new ControlNode<T>(ALIVE));
  }

  /** transmitEach empties the transmit queue in FIFO order; sent objects are released at once. */
  transmitEach(sink: TxSink<T>): number {
    let n = 0;
    for (let node = this.tx.head; node !== undefined; node = this.tx.head) {
      this.tx.remove(node);
      this.seq = next(this.seq);
      const c = controlOf(node);
      if (c === undefined) {
        const obj = dataOf(node);
        sink.emit('data', obj, this.seq, 0, 0, 0);
        this.owner?.onIdle(obj);
      }
      else if (c.kind === 'resync') sink.emit('resync', undefined, this.seq, FTFW_FLAG.RESYNC, 0, 0);
      else sink.emit('alive', undefined, this.seq, FTFW_FLAG.ALIVE, 0, 0);
      this.stats.sent++;
      n++;
    }
    return n;
  }

  /**
   * onReceive accepts every message (the codec already refused ACK/NACK in this mode): data is
   * delivered, RESYNC asks for a bulk. The sequence number only feeds the counters, with
   * conntrackd's arithmetic: a jump from `last` to `seq` counts seq − last + 1 as lost.
   */
  onReceive(h: RxHeader): RxVerdict {
    if (this.seqKnown) {
      const exp = next(this.lastSeqRecv);
      if (h.seq !== exp) {
        if (after(h.seq, exp)) this.stats.lost += (h.seq - this.lastSeqRecv + 1) >>> 0;
        else this.stats.before++;
      }
    }
    let verdict: RxVerdict;
    if (h.kind === 'data') verdict = 'deliver';
    else if (h.kind === 'resync') verdict = 'resync';
    else if (h.kind === 'alive') verdict = 'control';
    else {
      this.stats.badControl++;
      return 'bad';
    }
    this.lastSeqRecv = h.seq;
    this.seqKnown = true;
    return verdict;
  }
}
