import { HOST_LITTLE_ENDIAN } from '../wire/byte-order.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { NLMSG_HDRLEN } from './consts.js';

/**
 * NlMessage is one netlink message: the nlmsghdr fields (host order, house-style R3) and a view of
 * its payload (no copy). `offset` is where the message starts in the buffer it was decoded from.
 */
export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  readonly payload: Uint8Array;
}

/** encodeMessage frames `payload` behind a nlmsghdr, padded to NLMSG_ALIGN. */
export function encodeMessage(type: number, flags: number, seq: number, pid: number, payload: Uint8Array): Uint8Array {
  const w = new Writer(NLMSG_HDRLEN + payload.length + 3);
  w.u32ne(NLMSG_HDRLEN + payload.length).u16ne(type).u16ne(flags).u32ne(seq).u32ne(pid);
  w.bytes(payload).align4();
  return w.finish();
}

/**
 * decodeMessages splits one datagram into its netlink messages. A message whose nlmsg_len is smaller
 * than the header or runs past the datagram is a DecodeError (the "misleading length" of house-style
 * R4); the kernel never sends one, so it means the buffer is corrupt.
 */
export function decodeMessages(buf: Uint8Array): NlMessage[] {
  const out: NlMessage[] = [];
  const r = new Reader(buf, 0, buf.length, ['nlmsg']);
  while (r.remaining >= NLMSG_HDRLEN) {
    const start = r.pos;
    const len = r.u32ne();
    if (len < NLMSG_HDRLEN || len > buf.length - start) {
      r.pos = start;
      r.fail('BAD_LENGTH', `nlmsg_len ${len} outside ${NLMSG_HDRLEN}..${buf.length - start}`);
    }
    const type = r.u16ne();
    const flags = r.u16ne();
    const seq = r.u32ne();
    const pid = r.u32ne();
    out.push({ type, flags, seq, pid, payload: buf.subarray(start + NLMSG_HDRLEN, start + len) });
    r.pos = Math.min(start + ((len + 3) & ~3), buf.length);
  }
  if (r.remaining !== 0) r.fail('TRAILING', `${r.remaining} bytes after the last message`);
  return out;
}

/**
 * forEachNlMessage walks the netlink messages in [start, end) of `b` without making objects: `fn`
 * gets each message's header fields (host order) and where its payload is. Returns false when a
 * message's nlmsg_len is impossible (the rest of the datagram is skipped; the kernel never sends one).
 */
export function forEachNlMessage(
  b: Uint8Array,
  start: number,
  end: number,
  fn: (type: number, flags: number, pid: number, payloadStart: number, payloadEnd: number) => void,
): boolean {
  let o = start;
  while (end - o >= NLMSG_HDRLEN) {
    const len = u32(b, o);
    if (len < NLMSG_HDRLEN || len > end - o) return false;
    fn(u16(b, o + 4), u16(b, o + 6), u32(b, o + 12), o + NLMSG_HDRLEN, o + len);
    o += (len + 3) & ~3;
  }
  return o >= end;
}

const u16 = (b: Uint8Array, o: number): number => (HOST_LITTLE_ENDIAN ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!);
const u32 = (b: Uint8Array, o: number): number =>
  HOST_LITTLE_ENDIAN ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0 : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
