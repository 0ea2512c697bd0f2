import { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK } from './consts.js';

/**
 * RawAttr is an attribute a codec did not interpret, kept whole so that re-encoding gives back the
 * same bytes (house-style R4): the full 16-bit nla_type including the NESTED/NET_BYTEORDER flags.
 */
export interface RawAttr {
  readonly type: number;
  readonly data: Uint8Array;
}

/**
 * forEachAttr walks the attributes in a Reader's remaining range and calls `fn` with the attribute
 * type (flags masked off), the full type with flags, and a Reader over its payload. Lengths are
 * checked before anything is read: nla_len < 4 or past the end is a DecodeError('BAD_LENGTH').
 */
export function forEachAttr(r: Reader, fn: (type: number, fullType: number, payload: Reader) => void): void {
  while (r.remaining > 0) {
    const start = r.pos;
    if (r.remaining < NLA_HDRLEN) r.fail('SHORT', `${r.remaining} bytes cannot hold an attribute header`);
    const len = r.u16ne();
    const fullType = r.u16ne();
    if (len < NLA_HDRLEN || len > r.end - start) {
      r.pos = start;
      r.fail('BAD_LENGTH', `nla_len ${len} outside ${NLA_HDRLEN}..${r.end - start} (type ${fullType & NLA_TYPE_MASK})`);
    }
    const payload = new Reader(r.buf, start + NLA_HDRLEN, start + len, r.path);
    r.pos = Math.min(start + ((len + 3) & ~3), r.end);
    fn(fullType & NLA_TYPE_MASK, fullType, payload);
  }
}

/** decodeAttrs lists the attributes of a range as RawAttr (type with flags, payload view). */
export function decodeAttrs(r: Reader): RawAttr[] {
  const out: RawAttr[] = [];
  forEachAttr(r, (_type, fullType, p) => out.push({ type: fullType, data: p.bytes(p.remaining) }));
  return out;
}

/** beginAttr writes an attribute header with a placeholder length; pass its result to endAttr. */
export function beginAttr(w: Writer, type: number): number {
  const at = w.length;
  w.u16ne(0).u16ne(type);
  return at;
}

/** endAttr patches the attribute started at `at` with its length and pads to NLA_ALIGN. */
export function endAttr(w: Writer, at: number): void {
  w.setU16ne(at, w.length - at);
  w.align4();
}

/** beginNested is beginAttr with NLA_F_NESTED set, as ctnetlink sends nested attributes. */
export function beginNested(w: Writer, type: number): number {
  return beginAttr(w, type | NLA_F_NESTED);
}

/** Writers for common scalar attributes. The `be` forms carry network-order payloads (all of ctnetlink). */
export function putU8(w: Writer, type: number, v: number): void {
  const at = beginAttr(w, type);
  w.u8(v);
  endAttr(w, at);
}
export function putU16be(w: Writer, type: number, v: number): void {
  const at = beginAttr(w, type);
  w.u16be(v);
  endAttr(w, at);
}
export function putU32be(w: Writer, type: number, v: number): void {
  const at = beginAttr(w, type);
  w.u32be(v);
  endAttr(w, at);
}
export function putU32ne(w: Writer, type: number, v: number): void {
  const at = beginAttr(w, type);
  w.u32ne(v);
  endAttr(w, at);
}
export function putU64be(w: Writer, type: number, v: bigint): void {
  const at = beginAttr(w, type);
  w.u64be(v);
  endAttr(w, at);
}
export function putBytes(w: Writer, type: number, v: Uint8Array): void {
  const at = beginAttr(w, type);
  w.bytes(v);
  endAttr(w, at);
}
/** putString writes a NUL-terminated string attribute (NLA_NUL_STRING / NLA_STRING as the kernel expects). */
export function putString(w: Writer, type: number, v: string): void {
  putBytes(w, type, new TextEncoder().encode(`${v}\0`));
}
/** putRaw re-emits a kept attribute unchanged. */
export function putRaw(w: Writer, a: RawAttr): void {
  putBytes(w, a.type, a.data);
}

/** readString decodes a string payload up to its first NUL (or the whole payload if none). */
export function readString(p: Reader): string {
  const b = p.bytes(p.remaining);
  const nul = b.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? b : b.subarray(0, nul));
}

/** isNested tells whether a full attribute type carries NLA_F_NESTED. */
export function isNested(fullType: number): boolean {
  return (fullType & NLA_F_NESTED) !== 0;
}
export { NLA_F_NET_BYTEORDER };
