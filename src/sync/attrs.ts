import { DecodeError } from '../wire/decode-error.js';
import { addressBytes, formatIPv4, formatIPv6, type Family } from '../wire/ip.js';
import type { Writer } from '../wire/writer.js';

/**
 * The TLV layer of conntrackd's messages (struct netattr, network.h) and the machinery the
 * conntrack and expectation attribute tables share.
 *
 * An attribute is `nta_len` (u16 BE: 4 + payload, padding NOT counted), `nta_attr` (u16 BE), the
 * payload, then zero bytes up to a multiple of 4. The receiver (msg2ct / msg2exp in parse.c) walks
 * attributes while MORE than 4 bytes of the message body remain and rejects the whole message when
 * an attribute is longer than what remains, shorter than its header, has an id at or past the
 * table's end, has a fixed-size payload of another size, or a variable payload longer than its
 * maximum (a maximum that counts the 4-byte header). Later duplicates overwrite earlier ones;
 * padding is never checked.
 *
 * Decoding walks the buffer by offset and writes into one accumulator per message: no object is
 * made per attribute (house-style performance note; the daemon decodes ~100k messages/s).
 */

/** Path names where a decode failed (DecodeError.path); built only when throwing. */
export type Path = readonly string[];

/** NtaSpec is one row of an attribute table: the conntrackd name and the size rule of parse.c. */
export interface NtaSpec<Acc, Wire> {
  readonly id: number;
  readonly name: string; // NTA_* / NTA_EXP_* as in network.h
  /** Fixed payload size in bytes (parse.c `.size` minus the 4-byte header), or undefined. */
  readonly size?: number;
  /** Largest nta_len accepted, header included (parse.c `.max_size`), for variable payloads. */
  readonly maxLen?: number;
  /** decode stores the payload at [p, p + n) into the accumulator (n already validated). */
  readonly decode: (acc: Acc, b: Uint8Array, p: number, n: number) => void;
  /** encode writes the attribute if the wire view carries it, and nothing otherwise. */
  readonly encode: (w: Writer, v: Wire) => void;
}

/** The order in which parse.c checks an attribute header; conntrack and expectations differ. */
export type CheckOrder = 'ct' | 'exp';

export function be16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
export function be32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
/** le16 reads the SPAT/DPAT/ICMP_ID quirk: the sender's host order, little-endian for x86/ARM peers. */
export function le16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

/**
 * walkNta validates and decodes the attributes of a message body [start, end) against `table`
 * (indexed by id, `max` = NTA_MAX / NTA_EXP_MAX), exactly as parse.c does. Throws DecodeError:
 * BAD_LENGTH (nta_len past the body or < 4), BAD_VALUE (unknown id), BAD_SIZE (wrong or too long).
 */
export function walkNta<Acc, Wire>(
  b: Uint8Array,
  start: number,
  end: number,
  table: readonly NtaSpec<Acc, Wire>[],
  acc: Acc,
  path: Path,
  order: CheckOrder,
): void {
  const max = table.length;
  let left = end - start;
  let o = start;
  while (left > 4) {
    const len = be16(b, o);
    const id = be16(b, o + 2);
    if (len > left) throw new DecodeError('BAD_LENGTH', [...path, `attr ${id}`], o, `nta_len ${len} is past the ${left} bytes left`);
    if (order === 'exp' && id >= max) throw unknownId(path, o, id, max);
    if (len < 4) throw new DecodeError('BAD_LENGTH', [...path, `attr ${id}`], o, `nta_len ${len} is shorter than the attribute header`);
    if (order === 'ct' && id >= max) throw unknownId(path, o, id, max);
    const spec = table[id]!;
    if (spec.size !== undefined && len !== 4 + spec.size) {
      throw new DecodeError('BAD_SIZE', [...path, spec.name], o, `nta_len ${len}, want ${4 + spec.size}`);
    }
    if (spec.maxLen !== undefined && len > spec.maxLen) {
      throw new DecodeError('BAD_SIZE', [...path, spec.name], o, `nta_len ${len} is over the maximum ${spec.maxLen}`);
    }
    spec.decode(acc, b, o + 4, len - 4);
    const step = (len + 3) & ~3;
    left -= step;
    o += step;
  }
}

function unknownId(path: Path, o: number, id: number, max: number): DecodeError {
  return new DecodeError('BAD_VALUE', [...path, `attr ${id}`], o, `attribute id ${id} is unknown (ids stop at ${max - 1})`);
}

/** ntaBegin writes an attribute header with a placeholder length; ntaEnd patches it and pads. */
export function ntaBegin(w: Writer, id: number): number {
  const at = w.length;
  w.u16be(0).u16be(id);
  return at;
}
export function ntaEnd(w: Writer, at: number): void {
  const len = w.length - at;
  const b = w.written();
  b[at] = len >>> 8;
  b[at + 1] = len & 0xff;
  w.align4(); // put_header zeroes the padding
}

export function putU8(w: Writer, id: number, v: number): void {
  w.u16be(5).u16be(id).u8(v).u8(0).u8(0).u8(0);
}
export function putU16be(w: Writer, id: number, v: number): void {
  w.u16be(6).u16be(id).u16be(v).u16be(0);
}
/** putU16le writes SPAT_PORT / DPAT_PORT / ICMP_ID as an x86 conntrackd does (host order, little-endian). */
export function putU16le(w: Writer, id: number, v: number): void {
  w.u16be(6).u16be(id).u8(v & 0xff).u8((v >>> 8) & 0xff).u16be(0);
}
export function putU32be(w: Writer, id: number, v: number): void {
  w.u16be(8).u16be(id).u32be(v);
}
/** putPorts writes a port group: two raw (network-order) u16. */
export function putPorts(w: Writer, id: number, sport: number, dport: number): void {
  w.u16be(8).u16be(id).u16be(sport).u16be(dport);
}

/** putAddrGroup writes an address group (struct nfct_attr_grp_ipv4 / _ipv6): src then dst, raw. */
export function putAddrGroup(w: Writer, id: number, family: Family, src: string, dst: string): void {
  w.u16be(family === 'ipv4' ? 12 : 36).u16be(id);
  writeAddr(w, family, src);
  writeAddr(w, family, dst);
}

/** putAddr writes a single address attribute (SNAT/DNAT), its family taken from the text. */
export function putAddr(w: Writer, id: number, text: string): void {
  const family = addrFamily(text);
  w.u16be(family === 'ipv4' ? 8 : 20).u16be(id);
  writeAddr(w, family, text);
}

/** addrFamily tells IPv6 text (it has a colon) from IPv4 text. */
export function addrFamily(text: string): Family {
  return text.includes(':') ? 'ipv6' : 'ipv4';
}

export function writeAddr(w: Writer, family: Family, text: string): void {
  if (family === 'ipv4') {
    const v = ipv4Number(text);
    if (v < 0) w.bytes(addressBytes(text, 'ipv4')); // throws DecodeError('BAD_VALUE')
    else w.u32be(v);
  } else {
    w.bytes(addressBytes(text, 'ipv6'));
  }
}

/** ipv4Number parses a dotted quad to an unsigned 32-bit number, or returns -1 when it is not one. */
export function ipv4Number(s: string): number {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && part === 0) return -1; // inet_pton(3): no leading zeros
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      v = v * 256 + part;
      part = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return v * 256 + part;
}

/** sameAddr compares two address texts by value (so "FD01::1" equals "fd01::1"). */
export function sameAddr(a: string, b: string): boolean {
  if (a === b) return true;
  const fa = addrFamily(a);
  if (fa !== addrFamily(b)) return false;
  if (fa === 'ipv4') {
    const x = ipv4Number(a);
    return x >= 0 && x === ipv4Number(b);
  }
  const x = addressBytes(a, 'ipv6');
  const y = addressBytes(b, 'ipv6');
  for (let i = 0; i < 16; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function addrAt(b: Uint8Array, p: number, family: Family): string {
  return family === 'ipv4' ? formatIPv4(b, p) : formatIPv6(b, p);
}

const utf8 = new TextDecoder();
const utf8enc = new TextEncoder();

/**
 * stringAt reads a string payload up to its first NUL or its end. (conntrackd copies up to 16 bytes
 * from the payload start with strncpy, so a payload without NUL would run into the next attribute;
 * keepstate stops at the payload's end.)
 */
export function stringAt(b: Uint8Array, p: number, n: number): string {
  let out = '';
  for (let i = p; i < p + n; i++) {
    const c = b[i]!;
    if (c === 0) return out;
    if (c >= 0x80) {
      let e = i;
      while (e < p + n && b[e] !== 0) e++;
      return utf8.decode(b.subarray(p, e));
    }
    out += String.fromCharCode(c);
  }
  return out;
}

/** putString writes a NUL-terminated string attribute: nta_len = 4 + strlen + 1 (build.c ct_build_str). */
export function putString(w: Writer, id: number, s: string): void {
  const at = ntaBegin(w, id);
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) for (let i = 0; i < s.length; i++) w.u8(s.charCodeAt(i));
  else {
    const e = utf8enc.encode(s);
    const nul = e.indexOf(0);
    w.bytes(nul < 0 ? e : e.subarray(0, nul)); // strlen stops at the first NUL
  }
  w.u8(0);
  ntaEnd(w, at);
}
