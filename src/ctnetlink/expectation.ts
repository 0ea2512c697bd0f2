import { beginNested, endAttr, putRaw, putString, putU16be, putU32be, type RawAttr } from '../netlink/attrs.js';
import { NLA_TYPE_MASK } from '../netlink/consts.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { CTA_EXPECT, CTA_EXPECT_NAT } from './consts.js';
import { encodeNfgenmsg, familyOf, NFGENMSG_LEN, nfgenmsgFor } from './nfgenmsg.js';
import { fail, nlaLen, nlaNext, pushRaw, stringAt, u16At, u32At, type Path } from './nla.js';
import { decodeTuple, encodeTuple, type AttrOrder } from './tuple.js';
import type { ExpectNat, Expectation } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const P: Path = ['expectation'];
const P_MASTER: Path = ['expectation', 'master'];
const P_TUPLE: Path = ['expectation', 'tuple'];
const P_MASK: Path = ['expectation', 'mask'];
const P_NAT: Path = ['expectation', 'nat'];
const P_NAT_TUPLE: Path = ['expectation', 'nat', 'tuple'];

/**
 * decodeExpectation decodes one expectation from an nlmsg payload (struct nfgenmsg + CTA_EXPECT_*):
 * a dump or GET reply, an event or a request. CTA_EXPECT_MASK is a tuple whose addresses and ports
 * are masks (255.255.255.255 / 65535 for "must match").
 */
export function decodeExpectation(payload: Uint8Array): Expectation {
  const r = new Reader(payload, 0, payload.length, P);
  if (payload.length < NFGENMSG_LEN) fail('SHORT', P, 0, `${payload.length} bytes cannot hold struct nfgenmsg`);
  const family = familyOf(r.u8(), P, 0);
  const end = payload.length;
  const e: Mutable<Expectation> = { family };
  let unknown: RawAttr[] | undefined;
  for (let off = NFGENMSG_LEN; off < end; ) {
    const len = nlaLen(r, off, end, P);
    const full = r.u16ne();
    const s = off + 4;
    const x = off + len;
    switch (full & NLA_TYPE_MASK) {
      case CTA_EXPECT.MASTER:
        e.master = decodeTuple(r, s, x, P_MASTER);
        break;
      case CTA_EXPECT.TUPLE:
        e.tuple = decodeTuple(r, s, x, P_TUPLE);
        break;
      case CTA_EXPECT.MASK:
        e.mask = decodeTuple(r, s, x, P_MASK);
        break;
      case CTA_EXPECT.TIMEOUT:
        e.timeout = u32At(r, off, len, P, 'timeout');
        break;
      case CTA_EXPECT.ID:
        e.id = u32At(r, off, len, P, 'id');
        break;
      case CTA_EXPECT.HELP_NAME:
        e.helper = stringAt(r, off, len);
        break;
      case CTA_EXPECT.ZONE:
        e.zone = u16At(r, off, len, P, 'zone');
        break;
      case CTA_EXPECT.FLAGS:
        e.flags = u32At(r, off, len, P, 'flags');
        break;
      case CTA_EXPECT.CLASS:
        e.class = u32At(r, off, len, P, 'class');
        break;
      case CTA_EXPECT.NAT:
        e.nat = decodeExpectNat(r, s, x);
        break;
      case CTA_EXPECT.FN:
        e.fn = stringAt(r, off, len);
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) e.unknown = unknown;
  return e;
}

function decodeExpectNat(r: Reader, start: number, end: number): ExpectNat {
  const n: Mutable<ExpectNat> = {};
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, P_NAT);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_EXPECT_NAT.DIR:
        n.dir = u32At(r, off, len, P_NAT, 'dir');
        break;
      case CTA_EXPECT_NAT.TUPLE:
        n.tuple = decodeTuple(r, off + 4, off + len, P_NAT_TUPLE);
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) n.unknown = unknown;
  return n;
}

/**
 * ExpLayout is the attribute order of an encoded expectation:
 * - 'kernel': ctnetlink_exp_dump_expect (dumps, GET replies and events alike) — tuple, mask,
 *   master, NAT, timeout, id, flags, class, helper, expectfn; it never sends CTA_EXPECT_ZONE;
 * - 'request': libnetfilter_conntrack's nfexp_nlmsg_build — tuple, master, mask, timeout, flags,
 *   zone, helper — followed by id, class, NAT and expectfn.
 * Fields a layout does not name come after the ones it does; unknown attributes come last.
 */
export type ExpLayout = 'kernel' | 'request';

type Field = 'tuple' | 'mask' | 'master' | 'nat' | 'timeout' | 'id' | 'flags' | 'class' | 'helper' | 'fn' | 'zone';
const LAYOUTS: Readonly<Record<ExpLayout, readonly Field[]>> = {
  kernel: ['tuple', 'mask', 'master', 'nat', 'timeout', 'id', 'flags', 'class', 'helper', 'fn', 'zone'],
  request: ['tuple', 'master', 'mask', 'timeout', 'flags', 'zone', 'helper', 'id', 'class', 'nat', 'fn'],
};

function putField(w: Writer, e: Expectation, f: Field, order: AttrOrder): void {
  switch (f) {
    case 'tuple':
      if (e.tuple !== undefined) encodeTuple(w, CTA_EXPECT.TUPLE, e.tuple, order);
      return;
    case 'mask':
      if (e.mask !== undefined) encodeTuple(w, CTA_EXPECT.MASK, e.mask, order);
      return;
    case 'master':
      if (e.master !== undefined) encodeTuple(w, CTA_EXPECT.MASTER, e.master, order);
      return;
    case 'nat':
      if (e.nat !== undefined) {
        const at = beginNested(w, CTA_EXPECT.NAT);
        if (e.nat.dir !== undefined) putU32be(w, CTA_EXPECT_NAT.DIR, e.nat.dir);
        if (e.nat.tuple !== undefined) encodeTuple(w, CTA_EXPECT_NAT.TUPLE, e.nat.tuple, order);
        if (e.nat.unknown !== undefined) for (const a of e.nat.unknown) putRaw(w, a);
        endAttr(w, at);
      }
      return;
    case 'timeout':
      if (e.timeout !== undefined) putU32be(w, CTA_EXPECT.TIMEOUT, e.timeout);
      return;
    case 'id':
      if (e.id !== undefined) putU32be(w, CTA_EXPECT.ID, e.id);
      return;
    case 'flags':
      if (e.flags !== undefined) putU32be(w, CTA_EXPECT.FLAGS, e.flags);
      return;
    case 'class':
      if (e.class !== undefined) putU32be(w, CTA_EXPECT.CLASS, e.class);
      return;
    case 'helper':
      if (e.helper !== undefined) putString(w, CTA_EXPECT.HELP_NAME, e.helper);
      return;
    case 'fn':
      if (e.fn !== undefined) putString(w, CTA_EXPECT.FN, e.fn);
      return;
    case 'zone':
      if (e.zone !== undefined) putU16be(w, CTA_EXPECT.ZONE, e.zone);
      return;
  }
}

/** encodeExpectationAttrs writes the CTA_EXPECT_* attributes of `e` in `layout` order, then its unknown attributes. */
export function encodeExpectationAttrs(w: Writer, e: Expectation, layout: ExpLayout): void {
  const order: AttrOrder = layout === 'request' ? 'libnfct' : 'kernel';
  for (const f of LAYOUTS[layout]) putField(w, e, f, order);
  if (e.unknown !== undefined) for (const a of e.unknown) putRaw(w, a);
}

/** encodeExpectation encodes an expectation as an nlmsg payload (struct nfgenmsg + attributes), the inverse of decodeExpectation. */
export function encodeExpectation(e: Expectation, layout: ExpLayout = 'kernel'): Uint8Array {
  const w = new Writer(256);
  encodeNfgenmsg(w, nfgenmsgFor(e.family));
  encodeExpectationAttrs(w, e, layout);
  return w.finish();
}
