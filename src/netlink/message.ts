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
