import type { ExpectNat, Expectation, Tuple } from '../ctnetlink/types.js';
import { DecodeError } from '../wire/decode-error.js';
import type { Family } from '../wire/ip.js';
import type { Writer } from '../wire/writer.js';
import { addrAt, be16, be32, putAddrGroup, putPorts, putString, putU32be, putU8, stringAt, walkNta, type NtaSpec, type Path } from './attrs.js';
import type { SyncEncodeOptions } from './conntrack.js';
import { hasPorts, NTA_EXP } from './consts.js';

/**
 * Expectation messages (types EXP_NEW / EXP_UPD / EXP_DEL): conntrackd 1.4.7's exp2msg / msg2exp
 * and the mapping to and from keepstate's Expectation model.
 *
 * | Expectation field    | attributes                                        | notes |
 * |----------------------|---------------------------------------------------|-------|
 * | master (+ family)    | NTA_EXP_MASTER_IPV4/IPV6, _L4PROTO, _PORT         | L4PROTO always sent |
 * | tuple                | NTA_EXP_EXPECT_IPV4/IPV6, _L4PROTO, _PORT         | |
 * | mask                 | NTA_EXP_MASK_IPV4/IPV6, _L4PROTO, _PORT           | |
 * | timeout              | NTA_EXP_TIMEOUT                                   | left out with `commitTimeout` |
 * | flags                | NTA_EXP_FLAGS                                     | always sent (0 when absent) |
 * | class                | NTA_EXP_CLASS                                     | |
 * | nat.tuple, nat.dir   | NTA_EXP_NAT_IPV4, _L4PROTO, _PORT, NTA_EXP_NAT_DIR | only with a NAT tuple; no address for IPv6 |
 * | helper               | NTA_EXP_HELPER_NAME                               | ≤ 11 characters for a receiver |
 * | fn                   | NTA_EXP_FN                                        | ≤ 27 characters for a receiver |
 *
 * Every port group (master, expected, mask, NAT) is sent when the *master's* L4 protocol has ports
 * (TCP, UDP, SCTP, DCCP), whatever the expected tuple's protocol. Not carried: id, zone, tuple
 * zones, ICMP fields, unknown attributes. Decoding needs the master, expected and mask address
 * groups and L4PROTOs (DecodeError 'MISSING' otherwise). A NAT tuple without NTA_EXP_NAT_IPV4 (IPv6,
 * where the sender never puts the address) decodes with unspecified addresses (:: or 0.0.0.0).
 */

/** ExpTupleWire is one tuple's attributes (an address group, an L4PROTO, a port group). */
export interface ExpTupleWire {
  l3?: Family;
  src?: string;
  dst?: string;
  l4proto?: number;
  sport?: number;
  dport?: number;
}

/** ExpWire is an expectation message's attributes (absent = not sent). */
export interface ExpWire {
  master: ExpTupleWire;
  expect: ExpTupleWire;
  mask: ExpTupleWire;
  nat: ExpTupleWire;
  timeout?: number;
  flags?: number;
  class?: number;
  natDir?: number;
  helper?: string;
  fn?: string;
}

type Spec = NtaSpec<ExpWire, ExpWire>;
type Which = 'master' | 'expect' | 'mask' | 'nat';

const HELPER_MAX_LEN = 16; // NFCT_HELPER_NAME_MAX
const FN_MAX_LEN = 32; // "XXX: artificial limit" in parse.c

function group(id: number, name: string, which: Which, family: Family): Spec {
  const size = family === 'ipv4' ? 8 : 32;
  return {
    id,
    name,
    size,
    decode: (a, b, p) => {
      const t = a[which];
      t.l3 = family;
      t.src = addrAt(b, p, family);
      t.dst = addrAt(b, p + size / 2, family);
    },
    encode: (w, v) => {
      const t = v[which];
      if (t.l3 === family) putAddrGroup(w, id, family, t.src!, t.dst!);
    },
  };
}
function l4(id: number, name: string, which: Which): Spec {
  return {
    id,
    name,
    size: 1,
    decode: (a, b, p) => {
      a[which].l4proto = b[p]!;
    },
    encode: (w, v) => {
      const x = v[which].l4proto;
      if (x !== undefined) putU8(w, id, x);
    },
  };
}
function ports(id: number, name: string, which: Which): Spec {
  return {
    id,
    name,
    size: 4,
    decode: (a, b, p) => {
      a[which].sport = be16(b, p);
      a[which].dport = be16(b, p + 2);
    },
    encode: (w, v) => {
      const t = v[which];
      if (t.sport !== undefined) putPorts(w, id, t.sport, t.dport!);
    },
  };
}
function u32(id: number, name: string, key: 'timeout' | 'flags' | 'class' | 'natDir'): Spec {
  return {
    id,
    name,
    size: 4,
    decode: (a, b, p) => {
      a[key] = be32(b, p);
    },
    encode: (w, v) => {
      const x = v[key];
      if (x !== undefined) putU32be(w, id, x);
    },
  };
}
function str(id: number, name: string, key: 'helper' | 'fn', maxLen: number): Spec {
  return {
    id,
    name,
    maxLen,
    decode: (a, b, p, n) => {
      a[key] = stringAt(b, p, n);
    },
    encode: (w, v) => {
      const x = v[key];
      if (x !== undefined) putString(w, id, x);
    },
  };
}

/** EXP_ATTRS is the expectation attribute table, indexed by id (NTA_EXP_MAX = 21 rows). */
export const EXP_ATTRS: readonly Spec[] = [
  group(NTA_EXP.MASTER_IPV4, 'NTA_EXP_MASTER_IPV4', 'master', 'ipv4'),
  group(NTA_EXP.MASTER_IPV6, 'NTA_EXP_MASTER_IPV6', 'master', 'ipv6'),
  l4(NTA_EXP.MASTER_L4PROTO, 'NTA_EXP_MASTER_L4PROTO', 'master'),
  ports(NTA_EXP.MASTER_PORT, 'NTA_EXP_MASTER_PORT', 'master'),
  group(NTA_EXP.EXPECT_IPV4, 'NTA_EXP_EXPECT_IPV4', 'expect', 'ipv4'),
  group(NTA_EXP.EXPECT_IPV6, 'NTA_EXP_EXPECT_IPV6', 'expect', 'ipv6'),
  l4(NTA_EXP.EXPECT_L4PROTO, 'NTA_EXP_EXPECT_L4PROTO', 'expect'),
  ports(NTA_EXP.EXPECT_PORT, 'NTA_EXP_EXPECT_PORT', 'expect'),
  group(NTA_EXP.MASK_IPV4, 'NTA_EXP_MASK_IPV4', 'mask', 'ipv4'),
  group(NTA_EXP.MASK_IPV6, 'NTA_EXP_MASK_IPV6', 'mask', 'ipv6'),
  l4(NTA_EXP.MASK_L4PROTO, 'NTA_EXP_MASK_L4PROTO', 'mask'),
  ports(NTA_EXP.MASK_PORT, 'NTA_EXP_MASK_PORT', 'mask'),
  u32(NTA_EXP.TIMEOUT, 'NTA_EXP_TIMEOUT', 'timeout'),
  u32(NTA_EXP.FLAGS, 'NTA_EXP_FLAGS', 'flags'),
  u32(NTA_EXP.CLASS, 'NTA_EXP_CLASS', 'class'),
  group(NTA_EXP.NAT_IPV4, 'NTA_EXP_NAT_IPV4', 'nat', 'ipv4'),
  ports(NTA_EXP.NAT_PORT, 'NTA_EXP_NAT_PORT', 'nat'),
  l4(NTA_EXP.NAT_L4PROTO, 'NTA_EXP_NAT_L4PROTO', 'nat'),
  u32(NTA_EXP.NAT_DIR, 'NTA_EXP_NAT_DIR', 'natDir'),
  str(NTA_EXP.HELPER_NAME, 'NTA_EXP_HELPER_NAME', 'helper', HELPER_MAX_LEN),
  str(NTA_EXP.FN, 'NTA_EXP_FN', 'fn', FN_MAX_LEN),
];

/** EXP_EMIT_ORDER is exp2msg's order; note NAT_L4PROTO (17) goes before NAT_PORT (16). */
export const EXP_EMIT_ORDER: readonly number[] = [
  NTA_EXP.MASTER_IPV4, NTA_EXP.MASTER_IPV6, NTA_EXP.MASTER_L4PROTO, NTA_EXP.MASTER_PORT,
  NTA_EXP.EXPECT_IPV4, NTA_EXP.EXPECT_IPV6, NTA_EXP.EXPECT_L4PROTO, NTA_EXP.EXPECT_PORT,
  NTA_EXP.MASK_IPV4, NTA_EXP.MASK_IPV6, NTA_EXP.MASK_L4PROTO, NTA_EXP.MASK_PORT,
  NTA_EXP.TIMEOUT, NTA_EXP.FLAGS, NTA_EXP.CLASS,
  NTA_EXP.NAT_IPV4, NTA_EXP.NAT_L4PROTO, NTA_EXP.NAT_PORT, NTA_EXP.NAT_DIR,
  NTA_EXP.HELPER_NAME, NTA_EXP.FN,
];

export function encodeExpWire(w: Writer, v: ExpWire): void {
  for (const id of EXP_EMIT_ORDER) EXP_ATTRS[id]!.encode(w, v);
}

/** decodeExpWire validates and decodes the body [start, end) of an expectation message (msg2exp). */
export function decodeExpWire(b: Uint8Array, start: number, end: number, path: Path): ExpWire {
  const acc: ExpWire = { master: {}, expect: {}, mask: {}, nat: {} };
  walkNta(b, start, end, EXP_ATTRS, acc, path, 'exp');
  return acc;
}

function tupleToWire(t: Tuple | undefined, proto: number | undefined, withPorts: boolean, withAddr = true): ExpTupleWire {
  const v: ExpTupleWire = {};
  if (t !== undefined && withAddr) {
    v.l3 = t.family;
    v.src = t.src;
    v.dst = t.dst;
  }
  v.l4proto = proto ?? 0;
  if (withPorts) {
    v.sport = t?.srcPort ?? 0;
    v.dport = t?.dstPort ?? 0;
  }
  return v;
}

/** expectationToWire maps an Expectation to what conntrackd 1.4.7 sends for it (exp2msg). */
export function expectationToWire(exp: Expectation, opts: SyncEncodeOptions = {}): ExpWire {
  const mproto = exp.master?.proto ?? 0;
  const p = hasPorts(mproto);
  const v: ExpWire = {
    master: tupleToWire(exp.master, mproto, p),
    expect: tupleToWire(exp.tuple, exp.tuple?.proto, p),
    mask: tupleToWire(exp.mask, exp.mask?.proto, p),
    nat: {},
  };
  if (opts.commitTimeout !== true && exp.timeout !== undefined) v.timeout = exp.timeout;
  v.flags = exp.flags ?? 0;
  if (exp.class !== undefined) v.class = exp.class;
  const nt = exp.nat?.tuple;
  if (nt !== undefined) {
    v.nat = tupleToWire(nt, nt.proto, p, nt.family === 'ipv4');
    v.natDir = exp.nat?.dir ?? 0;
  }
  if (exp.helper !== undefined) v.helper = exp.helper;
  if (exp.fn !== undefined) v.fn = exp.fn;
  return v;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function tupleOf(t: ExpTupleWire, name: string, path: Path): Tuple {
  if (t.l3 === undefined) throw new DecodeError('MISSING', [...path, `NTA_EXP_${name}_IPV4`], 0, `no ${name.toLowerCase()} address group`);
  if (t.l4proto === undefined) throw new DecodeError('MISSING', [...path, `NTA_EXP_${name}_L4PROTO`], 0, `no ${name.toLowerCase()} L4PROTO`);
  const out: Mutable<Tuple> = { family: t.l3, src: t.src!, dst: t.dst!, proto: t.l4proto };
  if (t.sport !== undefined) {
    out.srcPort = t.sport;
    out.dstPort = t.dport!;
  }
  return out;
}

/** wireToExpectation builds the Expectation a receiver gets (see the table at the top). */
export function wireToExpectation(v: ExpWire, path: Path): Expectation {
  const master = tupleOf(v.master, 'MASTER', path);
  const exp: Mutable<Expectation> = {
    family: master.family,
    master,
    tuple: tupleOf(v.expect, 'EXPECT', path),
    mask: tupleOf(v.mask, 'MASK', path),
  };
  if (v.timeout !== undefined) exp.timeout = v.timeout;
  if (v.flags !== undefined) exp.flags = v.flags;
  if (v.class !== undefined) exp.class = v.class;
  const n = v.nat;
  if (n.l3 !== undefined || n.l4proto !== undefined || n.sport !== undefined || v.natDir !== undefined) {
    const nat: Mutable<ExpectNat> = {};
    if (v.natDir !== undefined) nat.dir = v.natDir;
    if (n.l3 !== undefined || n.l4proto !== undefined || n.sport !== undefined) {
      const family = n.l3 ?? master.family;
      const any = family === 'ipv4' ? '0.0.0.0' : '::';
      const t: Mutable<Tuple> = { family, src: n.src ?? any, dst: n.dst ?? any, proto: n.l4proto ?? 0 };
      if (n.sport !== undefined) {
        t.srcPort = n.sport;
        t.dstPort = n.dport!;
      }
      nat.tuple = t;
    }
    exp.nat = nat;
  }
  if (v.helper !== undefined) exp.helper = v.helper;
  if (v.fn !== undefined) exp.fn = v.fn;
  return exp;
}

/** encodeExpectationBody writes the attributes conntrackd sends for `exp` (exp2msg). */
export function encodeExpectationBody(w: Writer, exp: Expectation, opts?: SyncEncodeOptions): void {
  encodeExpWire(w, expectationToWire(exp, opts));
}

/** decodeExpectationBody decodes an expectation message body [start, end) into an Expectation. */
export function decodeExpectationBody(b: Uint8Array, start: number, end: number, path: Path = ['sync', 'exp']): Expectation {
  return wireToExpectation(decodeExpWire(b, start, end, path), path);
}

/** syncViewOfExpectation is the Expectation a peer decodes from what is sent for `exp`. */
export function syncViewOfExpectation(exp: Expectation, opts?: SyncEncodeOptions): Expectation {
  return wireToExpectation(expectationToWire(exp, opts), ['sync', 'exp']);
}
