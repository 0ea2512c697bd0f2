import type { FtfwStats, RxHeader, RxVerdict, TxSink } from './ftfw.js';

/**
 * IdleSink takes the data objects a protocol no longer holds. An object with a method, not a
 * closure per owner: every Replicator then calls the one method (Replicator.prototype.onIdle),
 * which code V8 compiled in the daemon's warm-up (a private Replicator's) still fits.
 */
export interface IdleSink<T> {
  onIdle(obj: T): void;
}

/**
 * ReplicationProtocol is what the Replicator needs of a Mode (FTFW, NOTRACK): a transmit queue of
 * objects serialised at transmit time, the receive rules, and the one-second alive timer. Ftfw
 * (ftfw.ts) and Notrack (notrack.ts) implement it; one process runs one of them.
 */
export interface ReplicationProtocol<T> {
  /** The counters `-s` shows (FTFW's; a mode without resend queue leaves those at 0). */
  readonly stats: FtfwStats;
  /** queued is how many messages wait to be sent; awaitingAck how many wait for an ACK (0 without ACKs). */
  readonly queued: number;
  readonly awaitingAck: number;
  /** enqueue schedules an object to be sent (its state at transmit time), at most once per queue. */
  enqueue(obj: T): void;
  /** holds tells whether the protocol still needs the object (queued, or awaiting an ACK). */
  holds(obj: T): boolean;
  /**
   * owner, when set, is told of each data object the protocol stops holding (sent without ACKs,
   * acknowledged, dropped): it may let it go. Not called by ALARM, whose timers hold all.
   */
  owner: IdleSink<T> | undefined;
  /** requestResync queues a RESYNC control message (`-n`). */
  requestResync(): void;
  /** transmitEach hands every queued message to `sink`, in order; returns how many. */
  transmitEach(sink: TxSink<T>): number;
  /** onAliveTimer runs one second after the last transmit pass (call transmit afterwards). */
  onAliveTimer(): void;
  /** onReceive applies the mode's receive rules to one message the codec accepted. */
  onReceive(h: RxHeader): RxVerdict;
}
