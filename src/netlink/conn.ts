import { NativeSocket, netlinkSockaddr, SOCK, SOL_SOCKET, SO, type Datagram, type ErrnoError } from '../native/socket.js';
import { NLM_F, NLMSG, NETLINK_OPT, SOL_NETLINK } from './consts.js';
import { decodeAck, NetlinkError } from './errors.js';
import { decodeMessages, type NlMessage } from './message.js';
import { Writer } from '../wire/writer.js';

const AF_NETLINK = 16;

/**
 * NlRequest is one request message without its header: type, flags (REQUEST/ACK are added here)
 * and body — bytes, or a function that writes the body straight into the outgoing batch buffer
 * (no per-message buffer or copy: what makes 100 000 creates cheap).
 */
export interface NlRequest {
  readonly type: number;
  readonly flags: number;
  readonly body: Uint8Array | ((w: Writer) => void);
}

/** NetlinkConnOptions are the socket settings of a NetlinkConn. */
export interface NetlinkConnOptions {
  /** SO_RCVBUFFORCE in bytes (the kernel doubles it); falls back to SO_RCVBUF without CAP_NET_ADMIN. */
  readonly rcvbufBytes?: number;
  /** Multicast groups to join (NETLINK_ADD_MEMBERSHIP). */
  readonly groups?: readonly number[];
  /** Name of a network namespace under /run/netns to open the socket in. */
  readonly netns?: string;
  /**
   * Bytes handed to JS per socket wakeup (default 256 KiB, about 1 000 conntrack entries). Small
   * batches keep decoded objects short-lived, so they die in the young generation instead of being
   * promoted: measured on a 100 000-entry dump, 4 MiB batches cost ~120 ms of GC per dump.
   */
  readonly maxBytesPerCallback?: number;
}

/** ConnStats counts what a NetlinkConn saw; `overruns` are ENOBUFS reports (lost multicast or replies). */
export interface ConnStats {
  overruns: number;
  malformed: number;
  strayReplies: number;
}

interface Pending {
  readonly op: string;
  /** onMessage gets each non-error reply of the request. */
  onMessage(m: NlMessage): void;
  onAck(seq: number, err: NetlinkError | undefined): void;
  onDone(m: NlMessage): void;
}

const DEFAULT_BATCH = 256; // messages per sendmsg; each ACK costs ~830 B of rcvbuf (native-layer.md pitfall 6)

/**
 * NetlinkConn owns one AF_NETLINK socket: it frames requests (seq, port id), matches replies and
 * ACKs to them, streams dumps and hands multicast messages to a listener. ENOBUFS is a signal
 * (`onOverrun`), never fatal: for a request socket it fails the requests in flight, for a multicast
 * listener the caller resyncs.
 */
export class NetlinkConn {
  readonly stats: ConnStats = { overruns: 0, malformed: 0, strayReplies: 0 };
  private readonly sock: NativeSocket;
  private readonly portId: number;
  private seq: number;
  private readonly pending = new Map<number, Pending>();
  private multicast: ((msgs: NlMessage[]) => void) | undefined;
  private overrun: (() => void) | undefined;
  private receiving = false;
  private closed = false;
  private readonly sendBuf = new Writer(64 * 1024);

  private readonly maxBytesPerCallback: number;

  private constructor(
    private readonly protocol: number,
    opts: NetlinkConnOptions,
  ) {
    this.maxBytesPerCallback = opts.maxBytesPerCallback ?? 128 * 1024;
    this.sock = NativeSocket.open(AF_NETLINK, SOCK.RAW, protocol, opts.netns !== undefined ? { netns: opts.netns } : {});
    try {
      this.sock.bind(netlinkSockaddr(0, 0));
      // The kernel assigned the port id; read it back so replies can be checked against it.
      const sa = this.sock.getsockname();
      this.portId = new DataView(sa.buffer, sa.byteOffset, sa.byteLength).getUint32(4, true);
      this.sock.setsockoptInt(SOL_NETLINK, NETLINK_OPT.CAP_ACK, 1);
      this.sock.setsockoptInt(SOL_NETLINK, NETLINK_OPT.EXT_ACK, 1);
      if (opts.rcvbufBytes !== undefined) setRcvbuf(this.sock, opts.rcvbufBytes);
      for (const g of opts.groups ?? []) this.sock.setsockoptInt(SOL_NETLINK, NETLINK_OPT.ADD_MEMBERSHIP, g);
    } catch (e) {
      this.sock.close();
      throw e;
    }
    this.seq = (Date.now() / 1000) >>> 0; // like libmnl: unlikely to collide with an earlier process's seq
  }

  /** open creates a netlink socket of `protocol` (NETLINK_NETFILTER = 12, NETLINK_ROUTE = 0). */
  static open(protocol: number, opts: NetlinkConnOptions = {}): NetlinkConn {
    return new NetlinkConn(protocol, opts);
  }

  /** rcvbuf returns the effective SO_RCVBUF in bytes (twice what was asked, per the kernel). */
  rcvbuf(): number {
    return this.sock.getsockoptInt(SOL_SOCKET, SO.RCVBUF);
  }

  /** listen routes multicast messages (seq 0 from port 0) to `onMessages`, and ENOBUFS to `onOverrun`. */
  listen(onMessages: (msgs: NlMessage[]) => void, onOverrun: () => void): void {
    this.multicast = onMessages;
    this.overrun = onOverrun;
    this.startReceiving();
  }

  /** pause stops reading the socket (the kernel buffers, then overruns); resume starts again. */
  pause(): void {
    if (!this.receiving) return;
    this.receiving = false;
    this.sock.stopReceiving();
  }
  resume(): void {
    this.startReceiving();
  }

  /**
   * request sends one message with NLM_F_ACK and resolves with the replies it produced once the
   * kernel ACKs it (or NLMSG_DONE ends a dump). A refused request rejects with NetlinkError.
   */
  request(req: NlRequest, op = 'request'): Promise<NlMessage[]> {
    return new Promise((resolve, reject) => {
      const seq = this.nextSeq();
      const replies: NlMessage[] = [];
      this.pending.set(seq, {
        op,
        onMessage: (m) => replies.push(m),
        onAck: (_s, err) => {
          this.settle(seq);
          if (err !== undefined) reject(err);
          else resolve(replies);
        },
        onDone: () => {
          this.settle(seq);
          resolve(replies);
        },
      });
      this.sendFramed([{ req, seq, ack: true }], op, reject);
    });
  }

  /**
   * batch sends many messages, `perSend` per sendmsg, with NLM_F_ACK on the last of each send only:
   * the kernel handles one sendmsg's messages in order and answers a failed one with an error
   * message, so a message with no error before the final ACK succeeded (native-layer.md pitfall 6).
   * The next send waits for the previous one's ACK (flow control). Resolves with one entry per
   * request: undefined for success or the NetlinkError.
   */
  async batch(reqs: readonly NlRequest[], op = 'batch', perSend = DEFAULT_BATCH): Promise<(NetlinkError | undefined)[]> {
    const results: (NetlinkError | undefined)[] = new Array<NetlinkError | undefined>(reqs.length).fill(undefined);
    for (let start = 0; start < reqs.length; start += perSend) {
      const end = Math.min(reqs.length, start + perSend);
      await new Promise<void>((resolve, reject) => {
        const items: { req: NlRequest; seq: number; ack: boolean }[] = [];
        const indexOf = new Map<number, number>();
        for (let i = start; i < end; i++) {
          const seq = this.nextSeq();
          indexOf.set(seq, i);
          items.push({ req: reqs[i]!, seq, ack: i === end - 1 });
        }
        const lastSeq = items[items.length - 1]!.seq;
        const onAck = (seq: number, err: NetlinkError | undefined): void => {
          const idx = indexOf.get(seq);
          if (err !== undefined && idx !== undefined) results[idx] = err;
          if (seq === lastSeq) {
            for (const it of items) this.pending.delete(it.seq);
            resolve();
          }
        };
        const handler: Pending = { op, onMessage: () => undefined, onAck, onDone: () => undefined };
        for (const it of items) this.pending.set(it.seq, handler);
        this.sendFramed(items, op, (e) => {
          for (const it of items) this.pending.delete(it.seq);
          reject(e);
        });
      });
    }
    return results;
  }

  /**
   * dump sends a NLM_F_DUMP request and yields the reply messages as they arrive, one array per
   * socket wakeup. While the consumer is behind, reading pauses, so the kernel (which builds dump
   * skbs only as they are read) holds the rest and memory stays bounded.
   */
  async *dump(req: NlRequest, op = 'dump'): AsyncGenerator<NlMessage[], void, undefined> {
    const queue: NlMessage[][] = [];
    let done = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const seq = this.nextSeq();
    let current: NlMessage[] = [];
    let scheduled = false;
    const flush = (): void => {
      scheduled = false;
      if (current.length === 0) return;
      queue.push(current);
      current = [];
      if (queue.length >= 4) this.pause();
      notify();
    };
    this.pending.set(seq, {
      op,
      onMessage: (m) => {
        current.push(m);
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(flush);
        }
      },
      onAck: (_s, err) => {
        flush();
        this.settle(seq);
        failure = err;
        done = true;
        notify();
      },
      onDone: (m) => {
        flush();
        this.settle(seq);
        // NLMSG_DONE carries an int: a negative errno if the dump failed midway.
        if (m.payload.length >= 4) {
          const e = new DataView(m.payload.buffer, m.payload.byteOffset, 4).getInt32(0, true);
          if (e < 0) failure = new NetlinkError(-e, op, seq);
        }
        done = true;
        notify();
      },
    });
    this.sendFramed([{ req: { ...req, flags: req.flags | NLM_F.DUMP }, seq, ack: true }], op, (e) => {
      this.settle(seq);
      failure = e;
      done = true;
      notify();
    });
    try {
      for (;;) {
        const batch = queue.shift();
        if (batch !== undefined) {
          if (queue.length < 2) this.resume();
          yield batch;
          continue;
        }
        if (done) break;
        this.resume();
        await new Promise<void>((r) => (wake = r));
      }
      if (failure !== undefined) throw failure;
    } finally {
      this.settle(seq);
      this.resume();
    }
  }

  /** close stops receiving, fails what is in flight and closes the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
    const err = new NetlinkError(9 /* EBADF */, 'close', 0);
    for (const [seq, p] of [...this.pending]) p.onAck(seq, err);
    this.pending.clear();
  }

  /** ref/unref: whether an idle listener keeps the process alive. */
  ref(): void {
    this.sock.ref();
  }
  unref(): void {
    this.sock.unref();
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1; // seq 0 is what multicast carries
    return this.seq;
  }
  private settle(seq: number): void {
    this.pending.delete(seq);
    if (this.pending.size === 0 && this.multicast === undefined) this.pause();
  }

  private sendFramed(items: readonly { req: NlRequest; seq: number; ack: boolean }[], op: string, fail: (e: Error) => void): void {
    if (this.closed) {
      fail(new NetlinkError(9 /* EBADF */, op, 0));
      return;
    }
    const w = this.sendBuf;
    w.reset();
    for (const { req, seq, ack } of items) {
      const at = w.length;
      w.u32ne(0)
        .u16ne(req.type)
        .u16ne(req.flags | NLM_F.REQUEST | (ack ? NLM_F.ACK : 0))
        .u32ne(seq)
        .u32ne(this.portId);
      if (typeof req.body === 'function') req.body(w);
      else w.bytes(req.body);
      w.setU32ne(at, w.length - at); // nlmsg_len excludes the padding that follows
      w.align4();
    }
    this.startReceiving();
    try {
      this.sock.send(w.written()); // sendmsg copies: the buffer is reusable right after
    } catch (e) {
      fail(e as Error);
    }
  }

  private startReceiving(): void {
    if (this.receiving || this.closed) return;
    this.receiving = true;
    this.sock.startReceiving(
      // Dump skbs are ~32 KiB: size the recvmmsg vector to the byte budget.
      { maxBytesPerCallback: this.maxBytesPerCallback, slots: Math.max(2, Math.ceil(this.maxBytesPerCallback / 32768)) },
      (dgrams) => this.onDatagrams(dgrams),
      (err) => this.onError(err),
    );
  }

  private onError(err: ErrnoError): void {
    if (err.code !== 'ENOBUFS') {
      // A socket error other than an overrun fails every request in flight.
      const e = new NetlinkError(err.errno, `recv (${err.code})`, 0);
      for (const [seq, p] of [...this.pending]) p.onAck(seq, e);
      return;
    }
    this.stats.overruns++;
    if (this.overrun !== undefined) this.overrun();
    // Replies may have been dropped: a request socket cannot know which, so fail them all.
    if (this.pending.size > 0) {
      const e = new NetlinkError(err.errno, 'recv (ENOBUFS: replies lost)', 0);
      for (const [seq, p] of [...this.pending]) p.onAck(seq, e);
    }
  }

  private onDatagrams(dgrams: readonly Datagram[]): void {
    let mcast: NlMessage[] | undefined;
    for (const d of dgrams) {
      let msgs: NlMessage[];
      try {
        msgs = decodeMessages(d.data);
      } catch {
        this.stats.malformed++;
        continue;
      }
      for (const m of msgs) {
        if (m.seq === 0 || m.pid !== this.portId) {
          if (this.multicast !== undefined) (mcast ??= []).push(m);
          else this.stats.strayReplies++;
          continue;
        }
        const p = this.pending.get(m.seq);
        if (p === undefined) {
          this.stats.strayReplies++;
          continue;
        }
        if (m.type === NLMSG.ERROR) {
          let ackErr: NetlinkError | undefined;
          try {
            const ack = decodeAck(m.payload, m.flags);
            if (ack.error !== 0) {
              ackErr = new NetlinkError(ack.error, p.op, ack.seq, ack.extAckMsg, ack.extAckOffset, ack.missingType);
            }
          } catch {
            this.stats.malformed++;
            ackErr = new NetlinkError(5 /* EIO */, `${p.op}: malformed ack`, m.seq);
          }
          p.onAck(m.seq, ackErr);
        } else if (m.type === NLMSG.DONE) {
          p.onDone(m);
        } else if (m.type !== NLMSG.NOOP && m.type !== NLMSG.OVERRUN) {
          p.onMessage(m);
        }
      }
    }
    if (mcast !== undefined && this.multicast !== undefined) this.multicast(mcast);
  }
}

/** setRcvbuf asks for SO_RCVBUFFORCE (needs CAP_NET_ADMIN) and falls back to SO_RCVBUF, capped by rmem_max. */
function setRcvbuf(sock: NativeSocket, bytes: number): void {
  try {
    sock.setsockoptInt(SOL_SOCKET, SO.RCVBUFFORCE, bytes);
  } catch {
    sock.setsockoptInt(SOL_SOCKET, SO.RCVBUF, bytes);
  }
}
