import type { Conntrack } from '../ctnetlink/types.js';
import { DecodeError } from '../wire/decode-error.js';
import { bytesOfLatin1, latin1Of, writeLatin1 } from '../wire/latin1.js';
import { Writer } from '../wire/writer.js';
import { walkNta, type NtaSpec, type Path } from './attrs.js';
import { CT_ATTRS, decodeConntrackBody, encodeConntrackBody, type SyncEncodeOptions } from './conntrack.js';
import { NTA } from './consts.js';

/**
 * A received conntrack message body kept as bytes: what a receiver's external cache holds per
 * entry (a record of its arena, engine/cache.ts), or a latin1 string (wire/latin1.ts) where one is
 * handed around (the injector, tests). scanCtBodyKey validates a body exactly as
 * decodeConntrackBody does (same errors, same refusals) and writes the entry's identity without
 * building the model (scanCtBody: as a string); mergeCtBodyBytes applies an update at the
 * attribute level (mergeCtBodies: on strings); decodeCtBody gives the model of a string body.
 */

/** Where each attribute's payload starts (-1 = absent); slot NTA.MAX holds the last address group's id. */
type Offsets = Int32Array;

const RAW_ATTRS: readonly NtaSpec<Offsets, unknown>[] = CT_ATTRS.map((s) => ({
  ...s,
  decode: (acc: Offsets, _b: Uint8Array, p: number): void => {
    acc[s.id] = p;
    if (s.id === NTA.IPV4 || s.id === NTA.IPV6) acc[NTA.MAX] = s.id;
  },
  encode: (): void => {},
}));

const offs: Offsets = new Int32Array(NTA.MAX + 1);

/** Per attribute id: the nta_len parse.c requires (fixed size + header), or -(its maximum) for a variable one, 0 for no limit. */
const LEN_RULE = Int32Array.from(CT_ATTRS, (s) => (s.size !== undefined ? 4 + s.size : s.maxLen !== undefined ? -s.maxLen : 0));

/**
 * offsetsFast is RAW_ATTRS's walk (walkNta, 'ct' order) without a call per attribute, for a body
 * that breaks no rule: it records the offsets and returns true, or returns false at the first
 * rule broken — the caller then walks again with walkNta, which throws that rule's DecodeError.
 */
function offsetsFast(b: Uint8Array, start: number, end: number): boolean {
  offs.fill(-1);
  let left = end - start;
  let o = start;
  while (left > 4) {
    const len = (b[o]! << 8) | b[o + 1]!;
    const id = (b[o + 2]! << 8) | b[o + 3]!;
    if (len > left || len < 4 || id >= NTA.MAX) return false;
    const rule = LEN_RULE[id]!;
    if (rule > 0 ? len !== rule : rule < 0 && len > -rule) return false;
    offs[id] = o + 4;
    if (id === NTA.IPV4 || id === NTA.IPV6) offs[NTA.MAX] = id;
    const step = (len + 3) & ~3;
    left -= step;
    o += step;
  }
  return true;
}
/** CT_KEY_MAX bounds the identity scanCtBodyKey writes (IPv6 at most: 1 + 32 address bytes, then protocol, ports, ICMP type/code/id and zone with their ids: 50). */
export const CT_KEY_MAX = 64;
const key = new Uint8Array(CT_KEY_MAX);

/** The attributes that make an entry's identity, in the order they are put into the key. */
const KEY_ATTRS = [NTA.L4PROTO, NTA.PORT, NTA.ICMP_TYPE, NTA.ICMP_CODE, NTA.ICMP_ID] as const;
/** Their payload sizes, in the same order. */
const KEY_SIZES = [1, 4, 1, 1, 2] as const;

/**
 * scanCtBody validates the body [start, end) of a conntrack message and returns the entry's
 * identity: address group, protocol, ports, ICMP type/code/id, and the zone when not 0. Throws
 * the DecodeError decodeConntrackBody would throw (BAD_LENGTH / BAD_VALUE / BAD_SIZE / MISSING).
 */
export function scanCtBody(b: Uint8Array, start: number, end: number, path: Path = ['sync', 'ct']): string {
  return latin1Of(key, 0, scanCtBodyKey(b, start, end, key, 0, path));
}

/**
 * scanCtBodyKey is scanCtBody writing the identity's bytes into `out` at `at` (CT_KEY_MAX bytes of
 * room) instead of making a string; returns their count. Same validation, same errors.
 */
export function scanCtBodyKey(b: Uint8Array, start: number, end: number, out: Uint8Array, at: number, path: Path = ['sync', 'ct']): number {
  if (!offsetsFast(b, start, end)) {
    offs.fill(-1);
    walkNta(b, start, end, RAW_ATTRS, offs, path, 'ct'); // throws the reason
  }
  const l3 = offs[NTA.MAX]!;
  if (l3 < 0) throw new DecodeError('MISSING', [...path, 'NTA_IPV4'], 0, 'no NTA_IPV4 / NTA_IPV6: the entry has no addresses');
  if (offs[NTA.L4PROTO]! < 0) throw new DecodeError('MISSING', [...path, 'NTA_L4PROTO'], 0, 'no NTA_L4PROTO');
  const masterL3 = Math.max(offs[NTA.MASTER_IPV4]!, offs[NTA.MASTER_IPV6]!);
  if (masterL3 >= 0 || offs[NTA.MASTER_L4PROTO]! >= 0 || offs[NTA.MASTER_PORT]! >= 0) {
    if (masterL3 < 0) throw new DecodeError('MISSING', [...path, 'NTA_MASTER_IPV4'], 0, 'master attributes without NTA_MASTER_IPV4 / IPV6');
    if (offs[NTA.MASTER_L4PROTO]! < 0) throw new DecodeError('MISSING', [...path, 'NTA_MASTER_L4PROTO'], 0, 'master addresses without NTA_MASTER_L4PROTO');
  }
  let n = at;
  const alen = l3 === NTA.IPV4 ? 8 : 32;
  out[n++] = l3;
  for (let i = 0, a = offs[l3]!; i < alen; i++) out[n++] = b[a + i]!;
  for (let k = 0; k < KEY_ATTRS.length; k++) {
    const id = KEY_ATTRS[k]!;
    const p = offs[id]!;
    if (p < 0) continue;
    out[n++] = id;
    for (let i = 0, size = KEY_SIZES[k]!; i < size; i++) out[n++] = b[p + i]!;
  }
  const zp = offs[NTA.ZONE]!;
  if (zp >= 0 && (b[zp] !== 0 || b[zp + 1] !== 0)) {
    out[n++] = NTA.ZONE;
    out[n++] = b[zp]!;
    out[n++] = b[zp + 1]!;
  }
  return n - at;
}

/** SLOT maps an attribute id to the model field it sets: the IPv4 and IPv6 forms of one thing share a slot. */
function slot(id: number): number {
  switch (id) {
    case NTA.IPV6:
      return NTA.IPV4;
    case NTA.MASTER_IPV6:
      return NTA.MASTER_IPV4;
    case NTA.SNAT_IPV6:
      return NTA.SNAT_IPV4;
    case NTA.DNAT_IPV6:
      return NTA.DNAT_IPV4;
    default:
      return id;
  }
}

/** A labels payload the decoder ignores (empty or not whole words) sets nothing. */
function setsNothing(id: number, len: number): boolean {
  return id === NTA.LABELS && (len === 4 || (len - 4) % 4 !== 0);
}

let merged = new Uint8Array(4096);
let nextBytes = new Uint8Array(4096);
let prevBytes = new Uint8Array(4096);
const present = new Uint8Array(NTA.MAX);

/**
 * mergeCtBodies applies an update (a validated body, `next`) to the body `prev` holds:
 * every field the update carries replaces the old one, the fields it lacks stay — the attribute
 * view of merging the two decoded entries field by field.
 */
export function mergeCtBodies(prev: string, next: string): string {
  if (nextBytes.length < next.length) nextBytes = new Uint8Array(2 * next.length);
  if (prevBytes.length < prev.length) prevBytes = new Uint8Array(2 * prev.length);
  writeLatin1(nextBytes, next, 0);
  writeLatin1(prevBytes, prev, 0);
  const n = mergeCtBodyBytes(prevBytes, 0, prev.length, nextBytes, 0, next.length);
  return latin1Of(merged, 0, n);
}

/**
 * mergeCtBodyBytes is mergeCtBodies for bodies given as bytes: `prev` at [ps, pe) of `pb`, the
 * update at [ns, ne) of `nb`. The result is bytes [0, returned length) of mergedBody(), valid
 * until the next merge.
 */
export function mergeCtBodyBytes(pb: Uint8Array, ps: number, pe: number, nb: Uint8Array, ns: number, ne: number): number {
  if (merged.length < pe - ps + (ne - ns)) merged = new Uint8Array(2 * (pe - ps + (ne - ns)));
  present.fill(0);
  let n = 0;
  for (let o = ns; o + 4 <= ne; ) {
    const len = (nb[o]! << 8) | nb[o + 1]!;
    const id = (nb[o + 2]! << 8) | nb[o + 3]!;
    if (len < 4) break;
    const step = Math.min((len + 3) & ~3, ne - o);
    if (!setsNothing(id, len)) {
      if (id < present.length) present[slot(id)] = 1;
      merged.set(nb.subarray(o, o + step), n);
      n += step;
    }
    o += step;
  }
  for (let o = ps; o + 4 <= pe; ) {
    const len = (pb[o]! << 8) | pb[o + 1]!;
    const id = (pb[o + 2]! << 8) | pb[o + 3]!;
    if (len < 4) break;
    const step = Math.min((len + 3) & ~3, pe - o);
    if (id >= present.length || present[slot(id)] === 0) {
      merged.set(pb.subarray(o, o + step), n);
      n += step;
    }
    o += step;
  }
  return n;
}

/** mergedBody is the buffer mergeCtBodyBytes writes into. */
export function mergedBody(): Uint8Array {
  return merged;
}

/** decodeCtBody decodes a body kept by a cache (validated by scanCtBody when it was received). */
export function decodeCtBody(body: string): Conntrack {
  const b = bytesOfLatin1(body);
  return decodeConntrackBody(b, 0, b.length);
}

const enc = new Writer(512);

/** ctBodyOf is the body conntrackd would send for `ct`, as a cache keeps it: for tests and slow paths. */
export function ctBodyOf(ct: Conntrack, opts?: SyncEncodeOptions): string {
  enc.reset();
  encodeConntrackBody(enc, ct, opts);
  const b = enc.written();
  return latin1Of(b, 0, b.length);
}

/** syncIdentityOf is scanCtBody's identity of the entry a peer gets for `ct`. */
export function syncIdentityOf(ct: Conntrack, opts?: SyncEncodeOptions): string {
  enc.reset();
  encodeConntrackBody(enc, ct, opts);
  const b = enc.written();
  return scanCtBody(b, 0, b.length);
}
