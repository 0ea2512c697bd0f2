import { ErrnoError, NativeSocket, netlinkSockaddr, SOCK, SOL_SOCKET, SO, AF } from '../native/socket.js';
import { NLM_F, NLMSG, NLMSG_HDRLEN, NETLINK_OPT, SOL_NETLINK } from './consts.js';
import { decodeAck, errnoName, NetlinkError } from './errors.js';
import { HOST_LITTLE_ENDIAN } from '../wire/byte-order.js';

/**
 * BatchFailure is one message of a batch the kernel refused: its index, errno (its name in
 * `code`) and the extended-ack message when the kernel gave one. A plain record, not an Error: a
 * failback commit gets one per entry (100 000 EEXIST), and an Error captures a stack each.
 */
export interface BatchFailure {
  readonly i: number;
  readonly errno: number;
  readonly code: string;
  readonly extAckMsg?: string;
}

/**
 * Messages per sendmsg. The kernel handles them all inside the call, and a kernel built without
 * full preemption (PREEMPT_NONE, Debian's default) runs nothing else on that CPU meanwhile — not
 * even the failover process: with 1 024 creates per call (~4–10 ms of kernel work, events
 * included) its wakeups waited 3.2–3.5 ms at the 99th percentile and up to 11 ms in the lab's
 * 100 000-entry takeover, with 256 1.1–1.2 ms (perf, sched_wakeup → sched_switch), for the same
 * commit time (0.64–0.87 s for 100 000). The kernel answers only the failed ones and the last
 * (NLM_F_ACK); each answer takes ~830 B of receive buffer (native-layer.md pitfall 6): RCVBUF below
 * covers a send whose messages all fail (a failback's creates: EEXIST).
 */
const PER_SEND = 256;
const RCVBUF = 2 << 20; // bytes asked; the kernel doubles it
/** Bytes per sendmsg at most (below the send buffer's 208 KiB default, past which netlink says EMSGSIZE): PER_SEND's reason. */
const MAX_SEND_BYTES = 40 * 1024;

/**
 * BatchSender sends batches of requests that are already framed (complete nlmsghdrs, seq = the
 * message's index in its batch) on a socket of its own, for a thread that does nothing else (the
 * commit thread). A netlink request is handled inside sendmsg — the kernel has queued its answers
 * when the call returns — so each send's answers are read straight away, without a trip through
 * the event loop: measured, 100 000 conntrack creates take ~0.27 s this way and ~0.36 s through
 * NetlinkConn.batch (bench/commit-floor.ts).
 */
export class BatchSender {
  readonly portId: number;

  private constructor(
    private readonly sock: NativeSocket,
    private readonly op: string,
  ) {
    const sa = sock.getsockname();
    this.portId = new DataView(sa.buffer, sa.byteOffset, sa.byteLength).getUint32(4, HOST_LITTLE_ENDIAN); // nl_pid
  }

  /** open makes the socket (`protocol` 12 = NETLINK_NETFILTER) in `netns`, or here; `op` names the requests in errors. */
  static open(protocol: number, op: string, opts: { netns?: string } = {}): BatchSender {
    const sock = NativeSocket.open(AF.NETLINK, SOCK.RAW, protocol, opts.netns !== undefined ? { netns: opts.netns } : {});
    try {
      sock.bind(netlinkSockaddr(0, 0));
      sock.setsockoptInt(SOL_NETLINK, NETLINK_OPT.CAP_ACK, 1);
      sock.setsockoptInt(SOL_NETLINK, NETLINK_OPT.EXT_ACK, 1);
      try {
        sock.setsockoptInt(SOL_SOCKET, SO.RCVBUFFORCE, RCVBUF);
      } catch {
        sock.setsockoptInt(SOL_SOCKET, SO.RCVBUF, RCVBUF); // without CAP_NET_ADMIN: capped by rmem_max
      }
      return new BatchSender(sock, op);
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  /**
   * send sends the messages of `frames`, message i ending at ends[i] (its seq must be i), and
   * returns the ones the kernel refused. It sets NLM_F_ACK on the last message of each sendmsg
   * (in `frames`, which it owns meanwhile).
   */
  async send(frames: Uint8Array, ends: Uint32Array): Promise<BatchFailure[]> {
    const dv = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
    const failures: BatchFailure[] = [];
    let start = 0;
    for (let first = 0; first < ends.length; ) {
      let last = Math.min(ends.length, first + PER_SEND) - 1;
      while (last > first && ends[last]! - start > MAX_SEND_BYTES) last--;
      const lastAt = last === 0 ? 0 : ends[last - 1]!;
      dv.setUint16(lastAt + 6, dv.getUint16(lastAt + 6, HOST_LITTLE_ENDIAN) | NLM_F.ACK, HOST_LITTLE_ENDIAN);
      this.sock.send(frames.subarray(start, ends[last]!));
      start = ends[last]!;
      first = last + 1;
      await this.answers(last, failures);
    }
    return failures;
  }

  /** answers reads until the ACK of message `last`, collecting the errors before it. */
  private async answers(last: number, failures: BatchFailure[]): Promise<void> {
    for (;;) {
      let d: Uint8Array | null;
      try {
        d = this.sock.recvSync(256 * 1024);
      } catch (e) {
        // ENOBUFS: answers were dropped, the ACK awaited may be among them; fail the batch.
        throw e instanceof ErrnoError ? new NetlinkError(e.errno, `${this.op} (answers lost: ${e.code})`, last) : e;
      }
      if (d === null) {
        // Not queued yet (only if the kernel deferred the work): let the loop breathe and retry.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
      for (let o = 0; o + NLMSG_HDRLEN <= d.length; ) {
        const len = dv.getUint32(o, HOST_LITTLE_ENDIAN);
        if (len < NLMSG_HDRLEN || o + len > d.length) break; // a torn message: nothing more to read here
        if (dv.getUint16(o + 4, HOST_LITTLE_ENDIAN) === NLMSG.ERROR) {
          const ack = decodeAck(d.subarray(o + NLMSG_HDRLEN, o + len), dv.getUint16(o + 6, HOST_LITTLE_ENDIAN));
          if (ack.error !== 0) failures.push(ack.extAckMsg !== undefined ? { i: ack.seq, errno: ack.error, code: errnoName(ack.error), extAckMsg: ack.extAckMsg } : { i: ack.seq, errno: ack.error, code: errnoName(ack.error) });
          if (ack.seq === last) return;
        }
        o += (len + 3) & ~3;
      }
    }
  }

  close(): void {
    this.sock.close();
  }
}
