import { NativeSocket, netlinkSockaddr, SOCK, SOL_SOCKET, SO, type Datagram, type ErrnoError } from '../native/socket.js';
import { NLM_F, NLMSG, NLMSG_HDRLEN, NETLINK_OPT, SOL_NETLINK } from './consts.js';
import { decodeAck, NetlinkError } from './errors.js';
import { decodeMessages, type NlMessage } from './message.js';
import { HOST_LITTLE_ENDIAN } from '../wire/byte-order.js';
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
   * Bytes handed to JS per socket wakeup (default 128 KiB, about 500 conntrack entries). Small
   * batches keep decoded objects short-lived, so they die in the young generation instead of being
   * promoted: measured on a 100 000-entry dump, 4 MiB batches cost ~120 ms of GC per dump.
   */
  readonly maxBytesPerCallback?: number;
  /** Datagrams per recvmmsg (default: the byte budget in 32 KiB dump skbs); an event socket's datagrams hold one small message each. */
  readonly slots?: number;
  /** ReceiveOptions.holdOffMs of the socket's reader (default 0). */
  readonly holdOffMs?: number;
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
  /** portId is the socket's netlink port (nl_pid): events this socket's requests cause carry it. */
  readonly portId: number;
  private seq: number;
  private readonly pending = new Map<number, Pending>();
  private multicast: ((msgs: NlMessage[]) => void) | undefined;
  private overrun: (() => void) | undefined;
  private receiving = false;
  private closed = false;
  private readonly sendBuf = new Writer(64 * 1024);
  /** The dump running in raw mode (dumpRaw), if any: its datagrams bypass message decoding. */
  private raw: { seq: number; op: string; push: (b: RawBatch) => void; end: (err?: Error) => void } | undefined;

  private readonly maxBytesPerCallback: number;
  private readonly slots: number | undefined;
  private readonly holdOffMs: number;

  private constructor(protocol: number, opts: NetlinkConnOptions) {
    this.maxBytesPerCallback = opts.maxBytesPerCallback ?? 128 * 1024;
    this.slots = opts.slots;
    this.holdOffMs = opts.holdOffMs ?? 0;
    this.sock = NativeSocket.open(AF_NETLINK, SOCK.RAW, protocol, opts.netns !== undefined ? { netns: opts.netns } : {});
    try {
      this.sock.bind(netlinkSockaddr(0, 0));
      // The kernel assigned the port id; read it back so replies can be checked against it.
      const sa = this.sock.getsockname();
      this.portId = new DataView(sa.buffer, sa.byteOffset, sa.byteLength).getUint32(4, HOST_LITTLE_ENDIAN); // nl_pid
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

  /** attachFilter sets a classic BPF socket filter (struct sock_filter[], netlink/sock-filter.ts). */
  attachFilter(program: Uint8Array): void {
    this.sock.attachFilter(program);
  }

  /** rcvbuf returns the effective SO_RCVBUF in bytes (twice what was asked, per the kernel). */
  rcvbuf(): number {
    return this.sock.getsockoptInt(SOL_SOCKET, SO.RCVBUF);
  }

  /** setRcvbuf asks for a receive buffer of `bytes` (SO_RCVBUFFORCE; the kernel doubles it for its bookkeeping). */
  setRcvbuf(bytes: number): void {
    setRcvbuf(this.sock, bytes);
  }

  /**
   * listen routes the messages that answer none of this socket's requests (multicast: events
   * carry seq 0, or the seq and port of whichever process caused them) to `onMessages`, and
   * ENOBUFS to `onOverrun`.
   */
  listen(onMessages: (msgs: NlMessage[]) => void, onOverrun: () => void): void {
    this.multicast = onMessages;
    this.overrun = onOverrun;
    this.startReceiving();
  }

  /**
   * listenBatches is listen for a socket that only listens (an event socket): every wakeup's
   * datagrams are handed over as the addon's packed batch (walk it with forEachDatagram and
   * forEachNlMessage), with no object per message. No request may be made on this socket.
   */
  listenBatches(onBatch: (batch: Uint8Array, count: number) => void, onOverrun: () => void): void {
    this.batchListener = onBatch;
    this.overrun = onOverrun;
    this.startReceiving();
  }
  private batchListener: ((batch: Uint8Array, count: number) => void) | undefined;

  /**
   * reliableBroadcast is NetlinkEventsReliable: NETLINK_BROADCAST_ERROR makes a failed delivery to
   * this socket an error for the kernel's sender (ctnetlink then keeps a conntrack change pending,
   * or refuses it, rather than lose its event), NETLINK_NO_ENOBUFS stops overruns being reported.
   */
  reliableBroadcast(): void {
    this.sock.setsockoptInt(SOL_NETLINK, NETLINK_OPT.BROADCAST_ERROR, 1);
    this.sock.setsockoptInt(SOL_NETLINK, NETLINK_OPT.NO_ENOBUFS, 1);
  }

  /** joinGroup / leaveGroup change the socket's multicast membership (NETLINK_ADD/DROP_MEMBERSHIP). */
  joinGroup(group: number): void {
    this.sock.setsockoptInt(SOL_NETLINK, NETLINK_OPT.ADD_MEMBERSHIP, group);
  }
  leaveGroup(group: number): void {
    this.sock.setsockoptInt(SOL_NETLINK, NETLINK_OPT.DROP_MEMBERSHIP, group);
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
  dump(req: NlRequest, op = 'dump'): AsyncGenerator<NlMessage[], void, undefined> {
    return this.stream<NlMessage[]>(req, op, (seq, push, end) => {
      let current: NlMessage[] = [];
      let scheduled = false;
      const flush = (): void => {
        scheduled = false;
        if (current.length === 0) return;
        push(current);
        current = [];
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
          end(err);
        },
        onDone: (m) => {
          flush();
          end(doneError(m.payload, op, seq));
        },
      });
    });
  }

  /**
   * dumpRaw is dump without message objects: each socket wakeup yields the receive buffer itself
   * and an index of [nlmsg_type, payload start, payload end] per message, built by walking the
   * headers. For consumers that read fields straight from the bytes or pass the buffer to another
   * thread (it is theirs: nothing here touches it after the yield).
   */
  dumpRaw(req: NlRequest, op = 'dump'): AsyncGenerator<RawBatch, void, undefined> {
    return this.stream<RawBatch>(req, op, (seq, push, end) => {
      this.raw = { seq, op, push, end };
    });
  }

  /**
   * stream runs one dump: `install` registers the receive side for the request's seq and is given
   * `push` (queue an item for the consumer) and `end` (finish, with an error or not).
   */
  private async *stream<T>(
    req: NlRequest,
    op: string,
    install: (seq: number, push: (item: T) => void, end: (err?: Error) => void) => void,
  ): AsyncGenerator<T, void, undefined> {
    const queue: T[] = [];
    let done = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const seq = this.nextSeq();
    const finish = (err?: Error): void => {
      this.settle(seq);
      if (this.raw?.seq === seq) this.raw = undefined;
      failure ??= err;
      done = true;
      notify();
    };
    install(
      seq,
      (item) => {
        queue.push(item);
        if (queue.length >= 4) this.pause();
        notify();
      },
      finish,
    );
    this.sendFramed([{ req: { ...req, flags: req.flags | NLM_F.DUMP }, seq, ack: true }], op, finish);
    try {
      for (;;) {
        const item = queue.shift();
        if (item !== undefined) {
          if (queue.length < 2) this.resume();
          yield item;
          continue;
        }
        if (done) break;
        this.resume();
        await new Promise<void>((r) => (wake = r));
      }
      if (failure !== undefined) throw failure;
    } finally {
      this.settle(seq);
      if (this.raw?.seq === seq) this.raw = undefined;
      if (this.pending.size > 0 || this.multicast !== undefined) this.resume();
    }
  }

  /** close stops receiving, fails what is in flight and closes the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
    this.failAll(new NetlinkError(9 /* EBADF */, 'close', 0));
  }

  /** failAll ends every request in flight, and a raw dump, with `err`. */
  private failAll(err: NetlinkError): void {
    for (const [seq, p] of [...this.pending]) p.onAck(seq, err);
    this.pending.clear();
    const raw = this.raw;
    this.raw = undefined;
    raw?.end(err);
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
    // Dump skbs are ~32 KiB: size the recvmmsg vector to the byte budget.
    const opts = { maxBytesPerCallback: this.maxBytesPerCallback, slots: this.slots ?? Math.max(2, Math.ceil(this.maxBytesPerCallback / 32768)), holdOffMs: this.holdOffMs };
    if (this.batchListener !== undefined) this.sock.startReceivingBatches(opts, this.batchListener, (err) => this.onError(err));
    else this.sock.startReceiving(opts, (dgrams) => this.onDatagrams(dgrams), (err) => this.onError(err));
  }

  private onError(err: ErrnoError): void {
    if (err.code !== 'ENOBUFS') {
      // A socket error other than an overrun fails everything in flight.
      this.failAll(new NetlinkError(err.errno, `recv (${err.code})`, 0));
      return;
    }
    this.stats.overruns++;
    if (this.overrun !== undefined) this.overrun();
    // Replies may have been dropped: a request socket cannot know which, so fail them all.
    if (this.pending.size > 0 || this.raw !== undefined) this.failAll(new NetlinkError(err.errno, 'recv (ENOBUFS: replies lost)', 0));
  }

  private onDatagrams(dgrams: readonly Datagram[]): void {
    let mcast: NlMessage[] | undefined;
    let rawIndex: number[] | undefined;
    let rawBuf: ArrayBufferLike | undefined;
    for (const d of dgrams) {
      const raw = this.raw;
      if (raw !== undefined && firstSeq(d.data) === raw.seq && (rawBuf === undefined || rawBuf === d.data.buffer)) {
        rawBuf = d.data.buffer;
        rawIndex ??= [];
        if (this.rawDatagram(d.data, raw, rawIndex)) continue;
      }
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
    if (rawIndex !== undefined && rawIndex.length > 0 && rawBuf !== undefined) {
      this.rawPush?.({ buf: new Uint8Array(rawBuf), index: Uint32Array.from(rawIndex) });
    }
    this.rawPush = undefined;
    if (this.rawEnd !== undefined) {
      const { fn, err } = this.rawEnd;
      this.rawEnd = undefined;
      fn(err);
    }
  }

  private rawPush: ((b: RawBatch) => void) | undefined;
  private rawEnd: { fn: (err?: Error) => void; err: Error | undefined } | undefined;

  /**
   * rawDatagram indexes one datagram of a raw dump: data messages go into `index` (offsets in the
   * datagram's ArrayBuffer), NLMSG_DONE or an error ends the dump once this wakeup's batch is out.
   * Returns false, consuming nothing, when a message belongs to someone else (then the datagram
   * takes the ordinary path).
   */
  private rawDatagram(b: Uint8Array, raw: NonNullable<NetlinkConn['raw']>, index: number[]): boolean {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const base = b.byteOffset;
    for (let off = 0; off + NLMSG_HDRLEN <= b.length; ) {
      if (v.getUint32(off + 8, HOST_LITTLE_ENDIAN) !== raw.seq) {
        if (off === 0) return false; // someone else's datagram: the ordinary path
        this.stats.strayReplies++; // a foreign message inside our dump's datagram: dropped
        break;
      }
      const len = v.getUint32(off, HOST_LITTLE_ENDIAN);
      if (len < NLMSG_HDRLEN || len > b.length - off) {
        this.stats.malformed++;
        return true;
      }
      const type = v.getUint16(off + 4, HOST_LITTLE_ENDIAN);
      const payload = b.subarray(off + NLMSG_HDRLEN, off + len);
      if (type === NLMSG.DONE) {
        this.rawFinish(raw, doneError(payload, raw.op, raw.seq));
        return true;
      }
      if (type === NLMSG.ERROR) {
        let err: NetlinkError | undefined;
        try {
          const ack = decodeAck(payload, v.getUint16(off + 6, HOST_LITTLE_ENDIAN));
          if (ack.error !== 0) err = new NetlinkError(ack.error, raw.op, ack.seq, ack.extAckMsg, ack.extAckOffset, ack.missingType);
        } catch {
          this.stats.malformed++;
          err = new NetlinkError(5 /* EIO */, `${raw.op}: malformed ack`, raw.seq);
        }
        this.rawFinish(raw, err);
        return true;
      }
      if (type !== NLMSG.NOOP && type !== NLMSG.OVERRUN) index.push(type, base + off + NLMSG_HDRLEN, base + off + len);
      off += (len + 3) & ~3;
    }
    this.rawPush = raw.push;
    return true;
  }

  private rawFinish(raw: NonNullable<NetlinkConn['raw']>, err: Error | undefined): void {
    this.rawPush = raw.push;
    this.raw = undefined;
    this.rawEnd = { fn: raw.end, err };
  }
}

/** RawBatch is what dumpRaw yields: a receive buffer and [nlmsg_type, start, end] per message in it. */
export interface RawBatch {
  readonly buf: Uint8Array;
  readonly index: Uint32Array;
}

/** firstSeq is nlmsg_seq of the first message in a datagram (0 if there is none). */
function firstSeq(b: Uint8Array): number {
  return b.length < NLMSG_HDRLEN ? 0 : new DataView(b.buffer, b.byteOffset, NLMSG_HDRLEN).getUint32(8, HOST_LITTLE_ENDIAN);
}

/** doneError reads NLMSG_DONE's int: a negative errno when the dump failed midway. */
function doneError(payload: Uint8Array, op: string, seq: number): NetlinkError | undefined {
  if (payload.length < 4) return undefined;
  const e = new DataView(payload.buffer, payload.byteOffset, 4).getInt32(0, HOST_LITTLE_ENDIAN);
  return e < 0 ? new NetlinkError(-e, op, seq) : undefined;
}

/** setRcvbuf asks for SO_RCVBUFFORCE (needs CAP_NET_ADMIN) and falls back to SO_RCVBUF, capped by rmem_max. */
function setRcvbuf(sock: NativeSocket, bytes: number): void {
  try {
    sock.setsockoptInt(SOL_SOCKET, SO.RCVBUFFORCE, bytes);
  } catch {
    sock.setsockoptInt(SOL_SOCKET, SO.RCVBUF, bytes);
  }
}
