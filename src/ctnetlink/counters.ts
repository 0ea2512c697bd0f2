import { beginNested, endAttr, putRaw, putU64be, type RawAttr } from '../netlink/attrs.js';
import { NLA_TYPE_MASK } from '../netlink/consts.js';
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { CTA_COUNTERS, CTA_TIMESTAMP } from './consts.js';
import { fail, nlaLen, nlaNext, pushRaw, u32At, u64At, type Path } from './nla.js';
import type { Counters, Timestamp } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * decodeCounters decodes the inside of CTA_COUNTERS_ORIG / CTA_COUNTERS_REPLY (sent only with
 * net.netfilter.nf_conntrack_acct=1). Both packets and bytes are mandatory. The 32-bit forms
 * (CTA_COUNTERS32_*, kernels before 2.6.32) are read into the same bigint fields and re-encoded as
 * 64-bit; CTA_COUNTERS_PAD is kept with the unknown attributes.
 */
export function decodeCounters(r: Reader, start: number, end: number, path: Path): Counters {
  let packets: bigint | undefined;
  let bytes: bigint | undefined;
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_COUNTERS.PACKETS:
        packets = u64At(r, off, len, path, 'packets');
        break;
      case CTA_COUNTERS.BYTES:
        bytes = u64At(r, off, len, path, 'bytes');
        break;
      case CTA_COUNTERS.PACKETS32:
        packets = BigInt(u32At(r, off, len, path, 'packets'));
        break;
      case CTA_COUNTERS.BYTES32:
        bytes = BigInt(u32At(r, off, len, path, 'bytes'));
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (packets === undefined) fail('MISSING', path, start, 'no CTA_COUNTERS_PACKETS', 'packets');
  if (bytes === undefined) fail('MISSING', path, start, 'no CTA_COUNTERS_BYTES', 'bytes');
  return unknown === undefined ? { packets, bytes } : { packets, bytes, unknown };
}

/** encodeCounters writes a CTA_COUNTERS_ORIG / _REPLY nest (packets, then bytes, as the kernel does). */
export function encodeCounters(w: Writer, type: number, c: Counters): void {
  const at = beginNested(w, type);
  putU64be(w, CTA_COUNTERS.PACKETS, c.packets);
  putU64be(w, CTA_COUNTERS.BYTES, c.bytes);
  if (c.unknown !== undefined) for (const a of c.unknown) putRaw(w, a);
  endAttr(w, at);
}

/** decodeTimestamp decodes the inside of CTA_TIMESTAMP (nf_conntrack_timestamp=1): start and, once dead, stop. */
export function decodeTimestamp(r: Reader, start: number, end: number, path: Path): Timestamp {
  const t: Mutable<Timestamp> = {};
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_TIMESTAMP.START:
        t.start = u64At(r, off, len, path, 'start');
        break;
      case CTA_TIMESTAMP.STOP:
        t.stop = u64At(r, off, len, path, 'stop');
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) t.unknown = unknown;
  return t;
}

/** encodeTimestamp writes a CTA_TIMESTAMP nest. */
export function encodeTimestamp(w: Writer, type: number, t: Timestamp): void {
  const at = beginNested(w, type);
  if (t.start !== undefined) putU64be(w, CTA_TIMESTAMP.START, t.start);
  if (t.stop !== undefined) putU64be(w, CTA_TIMESTAMP.STOP, t.stop);
  if (t.unknown !== undefined) for (const a of t.unknown) putRaw(w, a);
  endAttr(w, at);
}
