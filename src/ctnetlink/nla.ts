import type { RawAttr } from '../netlink/attrs.js';
import { NLA_HDRLEN } from '../netlink/consts.js';
import { DecodeError } from '../wire/decode-error.js';
import type { Reader } from '../wire/reader.js';

/**
 * Attribute walking for the ctnetlink decoders. decodeConntrack runs once per entry of a dump of
 * 100 000 entries and once per event, so these helpers allocate nothing on the success path: one
 * Reader serves the whole message, attributes are visited by offset, and a decoder's error path
 * (an array of names) is only built when it throws.
 *
 * The loop every decoder uses:
 *
 *   for (let off = start; off < end; off = nlaNext(off, len)) {
 *     const len = nlaLen(r, off, end, path);  // validated nla_len; r.pos is at nla_type
 *     const full = r.u16ne();                // nla_type with NLA_F_NESTED / NLA_F_NET_BYTEORDER
 *     switch (full & NLA_TYPE_MASK) { … payload is [off + 4, off + len) … }
 *   }
 */

/** Path names the attributes a decoder has descended through (DecodeError.path). */
export type Path = readonly string[];

/** at appends names to a path; only called when an error is thrown. */
function at(path: Path, a?: string, b?: string): string[] {
  const out = path.slice();
  if (a !== undefined) out.push(a);
  if (b !== undefined) out.push(b);
  return out;
}

/**
 * nlaLen validates the attribute header at `off` in [off, end) and returns nla_len, leaving r.pos
 * on nla_type. Fewer than 4 bytes is 'SHORT'; nla_len < 4 or past `end` is 'BAD_LENGTH'.
 */
export function nlaLen(r: Reader, off: number, end: number, path: Path): number {
  if (end - off < NLA_HDRLEN) {
    throw new DecodeError('SHORT', path, off, `${end - off} bytes cannot hold an attribute header`);
  }
  r.pos = off;
  const len = r.u16ne();
  if (len < NLA_HDRLEN || len > end - off) {
    throw new DecodeError('BAD_LENGTH', path, off, `nla_len ${len} outside ${NLA_HDRLEN}..${end - off}`);
  }
  return len;
}

/** nlaNext is the offset of the attribute after the one at `off` (NLA_ALIGN). */
export function nlaNext(off: number, len: number): number {
  return off + ((len + 3) & ~3);
}

/** badSize throws DecodeError('BAD_SIZE') for a known attribute whose payload has the wrong size. */
export function badSize(path: Path, off: number, got: number, want: string, a?: string, b?: string): never {
  throw new DecodeError('BAD_SIZE', at(path, a, b), off, `payload of ${got} bytes, want ${want}`);
}

/** fail throws a DecodeError of any code at `off` with `path` (+ up to two names). */
export function fail(
  code: ConstructorParameters<typeof DecodeError>[0],
  path: Path,
  off: number,
  detail: string,
  a?: string,
  b?: string,
): never {
  throw new DecodeError(code, at(path, a, b), off, detail);
}

/** u8At reads a 1-byte payload of the attribute whose header is at `off` (nla_len `len`). */
export function u8At(r: Reader, off: number, len: number, path: Path, a?: string, b?: string): number {
  if (len !== NLA_HDRLEN + 1) badSize(path, off, len - NLA_HDRLEN, '1', a, b);
  r.pos = off + NLA_HDRLEN;
  return r.u8();
}

/** u16At reads a 2-byte network-order payload. */
export function u16At(r: Reader, off: number, len: number, path: Path, a?: string, b?: string): number {
  if (len !== NLA_HDRLEN + 2) badSize(path, off, len - NLA_HDRLEN, '2', a, b);
  r.pos = off + NLA_HDRLEN;
  return r.u16be();
}

/** u32At reads a 4-byte network-order payload. */
export function u32At(r: Reader, off: number, len: number, path: Path, a?: string, b?: string): number {
  if (len !== NLA_HDRLEN + 4) badSize(path, off, len - NLA_HDRLEN, '4', a, b);
  r.pos = off + NLA_HDRLEN;
  return r.u32be();
}

/** u64At reads an 8-byte network-order payload as bigint. */
export function u64At(r: Reader, off: number, len: number, path: Path, a?: string, b?: string): bigint {
  if (len !== NLA_HDRLEN + 8) badSize(path, off, len - NLA_HDRLEN, '8', a, b);
  r.pos = off + NLA_HDRLEN;
  return r.u64be();
}

/**
 * bytesAt copies the payload into a plain Uint8Array: a kept value must not pin the whole receive
 * buffer, and Buffer#slice would return a view.
 */
export function bytesAt(r: Reader, off: number, len: number): Uint8Array {
  return new Uint8Array(r.buf.subarray(off + NLA_HDRLEN, off + len));
}

const utf8 = new TextDecoder();

/** stringAt decodes a NUL-terminated string payload up to its first NUL (or its end). */
export function stringAt(r: Reader, off: number, len: number): string {
  const b = r.buf;
  const s = off + NLA_HDRLEN;
  const e = off + len;
  // Helper names and security contexts are ASCII in practice: build those without TextDecoder.
  let out = '';
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c === 0) return out;
    if (c >= 0x80) {
      let n = i;
      while (n < e && b[n] !== 0) n++;
      return utf8.decode(b.subarray(s, n));
    }
    out += String.fromCharCode(c);
  }
  return out;
}

/** rawAt keeps an attribute the decoder does not interpret: full nla_type (flags included) and a copy of its payload. */
export function rawAt(r: Reader, off: number, len: number, fullType: number): RawAttr {
  return { type: fullType, data: bytesAt(r, off, len) };
}

/** pushRaw appends a kept attribute to a list that may not exist yet. */
export function pushRaw(list: RawAttr[] | undefined, r: Reader, off: number, len: number, fullType: number): RawAttr[] {
  const raw = rawAt(r, off, len, fullType);
  if (list === undefined) return [raw];
  list.push(raw);
  return list;
}
