import { NLA_TYPE_MASK } from '../netlink/consts.js';
import { u16At as nlaU16 } from '../wire/byte-order.js';
import type { Family } from '../wire/ip.js';
import { bytesOfLatin1, latin1Of, writeLatin1 } from '../wire/latin1.js';
import { Reader } from '../wire/reader.js';
import { CTA } from './consts.js';
import { decodeConntrackAttrs, encodeConntrack } from './conntrack.js';
import { isVolatileCta, KernelTupleView, scanTuple } from './scan.js';
import type { Conntrack } from './types.js';

/**
 * A conntrack entry kept as the kernel sent it: its CTA_* attributes, minus the volatile ones
 * (counters, timestamps, use, id), as a latin1 string (see wire/latin1.ts): how a replicating
 * node's internal cache holds an entry whose sync message body cannot stand for it (engine/cache.ts
 * CacheObject.kernel), decoded into the Conntrack model only when something shows it.
 */


let scratch = new Uint8Array(4096);
function room(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/**
 * ctIdentity is an entry's identity from its CTA_* attributes [start, end): the bytes of the
 * original tuple's nest (addresses, protocol, ports or ICMP id/type/code, directional zone — the
 * kernel always writes them in one order) and the zone when it is not the default 0. '' when there
 * is no original tuple or the attributes are malformed.
 */
export function ctIdentity(b: Uint8Array, start: number, end: number): string {
  let ts = -1;
  let te = -1;
  let zone = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return '';
    const len = nlaU16(b, o);
    if (len < 4 || len > end - o) return '';
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (type === CTA.TUPLE_ORIG) {
      ts = o + 4;
      te = o + len;
    } else if (type === CTA.ZONE && len === 6) {
      zone = (b[o + 4]! << 8) | b[o + 5]!;
    }
    o += (len + 3) & ~3;
  }
  if (ts < 0 || te <= ts) return '';
  return identityAt(b, ts, te, zone);
}

/**
 * identityAt is ctIdentity given where the original tuple's nest payload is and the zone (what
 * scanKernelCt found), without walking the attributes again. A tuple of addresses, protocol and
 * ports or ICMP fields (all the kernel writes but a directional zone) becomes a short key — 14
 * bytes for IPv4 TCP instead of the nest's 48: the key is kept per entry and hashed per event;
 * any other tuple keeps its raw bytes, behind a marker byte no short key starts with.
 */
export function identityAt(b: Uint8Array, tupleStart: number, tupleEnd: number, zone: number): string {
  if (scanTuple(b, tupleStart, tupleEnd, keyView)) return identityOfTuple(b, keyView, zone);
  const s = room(tupleEnd - tupleStart + 3);
  let n = 0;
  s[n++] = RAW_KEY;
  for (let i = tupleStart; i < tupleEnd; i++) s[n++] = b[i]!;
  return latin1Of(s, 0, zoned(s, n, zone));
}

/** identityOfTuple is identityAt for a tuple scanTuple accepted (`t`, read from `b`): the short key. */
export function identityOfTuple(b: Uint8Array, t: KernelTupleView, zone: number): string {
  const s = room(MAX_SHORT_KEY);
  return latin1Of(s, 0, writeIdentityOfTuple(s, b, t, zone));
}

/** MAX_SHORT_KEY is the longest key writeIdentityOfTuple writes: IPv6, ports and ICMP fields, a zone. */
export const MAX_SHORT_KEY = 1 + 2 * 16 + 2 + 4 + 4 + 2;

/**
 * writeIdentityOfTuple writes identityOfTuple's key as bytes into `s` at 0 (room for MAX_SHORT_KEY)
 * and returns its length: for an index that keeps keys as bytes (engine/record-table.ts).
 */
export function writeIdentityOfTuple(s: Uint8Array, b: Uint8Array, t: KernelTupleView, zone: number): number {
  let n = 0;
  s[n++] = t.addrLen;
  for (let i = 0; i < t.addrLen; i++) s[n++] = b[t.src + i]!;
  for (let i = 0; i < t.addrLen; i++) s[n++] = b[t.dst + i]!;
  s[n++] = t.proto;
  // Which optional fields follow: bit 0 ports, 1 ICMP id, 2 ICMP type, 3 ICMP code.
  const at = n++;
  let has = 0;
  if (t.srcPort >= 0 || t.dstPort >= 0) {
    has |= 1;
    s[n++] = Math.max(t.srcPort, 0) >> 8;
    s[n++] = Math.max(t.srcPort, 0) & 0xff;
    s[n++] = Math.max(t.dstPort, 0) >> 8;
    s[n++] = Math.max(t.dstPort, 0) & 0xff;
  }
  if (t.icmpId >= 0) {
    has |= 2;
    s[n++] = t.icmpId >> 8;
    s[n++] = t.icmpId & 0xff;
  }
  if (t.icmpType >= 0) {
    has |= 4;
    s[n++] = t.icmpType;
  }
  if (t.icmpCode >= 0) {
    has |= 8;
    s[n++] = t.icmpCode;
  }
  s[at] = has;
  return zoned(s, n, zone);
}

/** zoned appends a zone other than 0 to a key of `n` bytes in `s`; returns the new length. */
function zoned(s: Uint8Array, n: number, zone: number): number {
  if (zone > 0) {
    s[n++] = zone >>> 8;
    s[n++] = zone & 0xff;
  }
  return n;
}

/** RAW_KEY starts a key made of a tuple's raw bytes (short keys start with the address length, 4 or 16). */
const RAW_KEY = 0xff;
const keyView = new KernelTupleView();
/** ctIdentityOf is ctIdentity of the model (as the kernel would send it): for tests and slow paths. */
export function ctIdentityOf(ct: Conntrack): string {
  const p = encodeConntrack(ct, 'event');
  return ctIdentity(p, 4, p.length);
}

/**
 * compactCt keeps attributes [start, end) minus the volatile ones; with `prev` (an earlier
 * compactCt of the same entry), the attributes of `prev` whose type the new ones lack are kept
 * too — an UPDATE event carries only part of an entry (ctnetlink_conntrack_event: helper, labels,
 * sequence adjustment only when they changed), and what it lacks is unchanged.
 */
export function compactCt(b: Uint8Array, start: number, end: number, prev?: string): string {
  let present = 0;
  let strip = false;
  for (let o = start; o < end; ) {
    if (end - o < 4) break;
    const len = nlaU16(b, o);
    if (len < 4 || len > end - o) break;
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (isVolatileCta(type)) strip = true;
    else if (type < 31) present |= 1 << type;
    o += (len + 3) & ~3;
  }
  if (!strip && prev === undefined) return latin1Of(b, start, end);
  const s = room(end - start + (prev?.length ?? 0));
  let n = copyAttrs(b, start, end, s, 0, 0);
  if (prev !== undefined) {
    const pb = room2(prev.length);
    writeLatin1(pb, prev, 0);
    n = copyAttrs(pb, 0, prev.length, s, n, present);
  }
  return latin1Of(s, 0, n);
}

let scratch2 = new Uint8Array(4096);
function room2(n: number): Uint8Array {
  if (scratch2.length < n) scratch2 = new Uint8Array(Math.max(n, scratch2.length * 2));
  return scratch2;
}

/**
 * copyAttrs appends the non-volatile attributes of src [start, end) whose type is not in `skip`
 * (bit mask) to dst at n, a run of kept attributes at a time.
 */
function copyAttrs(src: Uint8Array, start: number, end: number, dst: Uint8Array, n: number, skip: number): number {
  let run = start;
  let o = start;
  while (o < end) {
    if (end - o < 4) break;
    const len = nlaU16(src, o);
    if (len < 4 || len > end - o) break;
    const type = nlaU16(src, o + 2) & NLA_TYPE_MASK;
    const step = Math.min((len + 3) & ~3, end - o);
    if (isVolatileCta(type) || (type < 31 && (skip & (1 << type)) !== 0)) {
      n = copyBytes(src, run, o, dst, n);
      run = o + step;
    }
    o += step;
  }
  return copyBytes(src, run, o, dst, n);
}

/** copyBytes copies src [from, to) to dst at n and returns the new end (a loop: the runs are short, a view each would be garbage). */
function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, n: number): number {
  for (let i = from; i < to; i++) dst[n++] = src[i]!;
  return n;
}

/** decodeCompactCt decodes a compactCt string into the model; throws DecodeError like decodeConntrack. */
export function decodeCompactCt(family: Family, s: string): Conntrack {
  const b = bytesOfLatin1(s);
  return decodeConntrackAttrs(new Reader(b, 0, b.length, ['conntrack']), 0, b.length, family);
}
