import { beginAttr, beginNested, endAttr, putRaw, putU16be, putU8 } from '../netlink/attrs.js';
import { NLA_TYPE_MASK } from '../netlink/consts.js';
import { addressBytes, formatIPv4, formatIPv6, type Family } from '../wire/ip.js';
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { CTA_IP, CTA_PROTO, CTA_TUPLE, IPPROTO } from './consts.js';
import { fail, nlaLen, nlaNext, pushRaw, u16At, u8At, type Path } from './nla.js';
import type { RawAttr } from '../netlink/attrs.js';
import type { Tuple } from './types.js';

/**
 * AttrOrder says whose attribute order an encoder follows. The kernel and libnetfilter_conntrack
 * (what conntrack(8) links) put the same attributes in different orders — ICMP tuples are
 * ID/TYPE/CODE from the kernel and CODE/TYPE/ID from the library, for instance — and golden tests
 * compare bytes, so each encoder can reproduce either:
 * - 'kernel': ctnetlink_fill_info / ctnetlink_conntrack_event / ctnetlink_exp_dump_expect;
 * - 'libnfct': nfct_nlmsg_build / nfexp_nlmsg_build (libnetfilter_conntrack 1.0.9), i.e. requests.
 */
export type AttrOrder = 'kernel' | 'libnfct';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * decodeTuple decodes the attributes of a tuple nest in [start, end): CTA_TUPLE_IP (addresses),
 * CTA_TUPLE_PROTO (protocol number and ports / ICMP id-type-code / GRE keys) and CTA_TUPLE_ZONE.
 * Addresses, the address family and CTA_PROTO_NUM are mandatory ('MISSING' otherwise).
 */
export function decodeTuple(r: Reader, start: number, end: number, path: Path): Tuple {
  let family: Family | undefined;
  let src: string | undefined;
  let dst: string | undefined;
  let proto: number | undefined;
  let srcPort: number | undefined;
  let dstPort: number | undefined;
  let icmpId: number | undefined;
  let icmpType: number | undefined;
  let icmpCode: number | undefined;
  let zone: number | undefined;
  let unknown: RawAttr[] | undefined;
  let ipUnknown: RawAttr[] | undefined;
  let protoUnknown: RawAttr[] | undefined;
  const b = r.buf;

  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_TUPLE.IP: {
        const iend = off + len;
        for (let o = off + 4; o < iend; ) {
          const l = nlaLen(r, o, iend, path);
          const f = r.u16ne();
          const t = f & NLA_TYPE_MASK;
          if (t === CTA_IP.V4_SRC || t === CTA_IP.V4_DST) {
            if (l !== 8) fail('BAD_SIZE', path, o, `payload of ${l - 4} bytes, want 4`, 'ip', t === CTA_IP.V4_SRC ? 'src' : 'dst');
            if (family === 'ipv6') fail('BAD_VALUE', path, o, 'IPv4 and IPv6 addresses in one tuple', 'ip');
            family = 'ipv4';
            if (t === CTA_IP.V4_SRC) src = formatIPv4(b, o + 4);
            else dst = formatIPv4(b, o + 4);
          } else if (t === CTA_IP.V6_SRC || t === CTA_IP.V6_DST) {
            if (l !== 20) fail('BAD_SIZE', path, o, `payload of ${l - 4} bytes, want 16`, 'ip', t === CTA_IP.V6_SRC ? 'src' : 'dst');
            if (family === 'ipv4') fail('BAD_VALUE', path, o, 'IPv4 and IPv6 addresses in one tuple', 'ip');
            family = 'ipv6';
            if (t === CTA_IP.V6_SRC) src = formatIPv6(b, o + 4);
            else dst = formatIPv6(b, o + 4);
          } else {
            ipUnknown = pushRaw(ipUnknown, r, o, l, f);
          }
          o = nlaNext(o, l);
        }
        break;
      }
      case CTA_TUPLE.PROTO: {
        const pend = off + len;
        for (let o = off + 4; o < pend; ) {
          const l = nlaLen(r, o, pend, path);
          const f = r.u16ne();
          switch (f & NLA_TYPE_MASK) {
            case CTA_PROTO.NUM:
              proto = u8At(r, o, l, path, 'proto', 'num');
              break;
            case CTA_PROTO.SRC_PORT:
              srcPort = u16At(r, o, l, path, 'proto', 'srcPort');
              break;
            case CTA_PROTO.DST_PORT:
              dstPort = u16At(r, o, l, path, 'proto', 'dstPort');
              break;
            case CTA_PROTO.ICMP_ID:
            case CTA_PROTO.ICMPV6_ID:
              icmpId = u16At(r, o, l, path, 'proto', 'icmpId');
              break;
            case CTA_PROTO.ICMP_TYPE:
            case CTA_PROTO.ICMPV6_TYPE:
              icmpType = u8At(r, o, l, path, 'proto', 'icmpType');
              break;
            case CTA_PROTO.ICMP_CODE:
            case CTA_PROTO.ICMPV6_CODE:
              icmpCode = u8At(r, o, l, path, 'proto', 'icmpCode');
              break;
            default:
              protoUnknown = pushRaw(protoUnknown, r, o, l, f);
          }
          o = nlaNext(o, l);
        }
        break;
      }
      case CTA_TUPLE.ZONE:
        zone = u16At(r, off, len, path, 'zone');
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }

  if (family === undefined || src === undefined || dst === undefined) {
    fail('MISSING', path, start, 'a tuple needs both addresses (CTA_TUPLE_IP)', 'ip');
  }
  if (proto === undefined) fail('MISSING', path, start, 'a tuple needs CTA_PROTO_NUM', 'proto', 'num');
  const t: Mutable<Tuple> = { family, src, dst, proto };
  if (srcPort !== undefined) t.srcPort = srcPort;
  if (dstPort !== undefined) t.dstPort = dstPort;
  if (icmpId !== undefined) t.icmpId = icmpId;
  if (icmpType !== undefined) t.icmpType = icmpType;
  if (icmpCode !== undefined) t.icmpCode = icmpCode;
  if (zone !== undefined) t.zone = zone;
  if (unknown !== undefined) t.unknown = unknown;
  if (ipUnknown !== undefined) t.ipUnknown = ipUnknown;
  if (protoUnknown !== undefined) t.protoUnknown = protoUnknown;
  return t;
}

/** putAddr writes an address attribute from canonical text; IPv4 is parsed inline (the create path is hot too). */
export function putAddr(w: Writer, type: number, text: string, family: Family): void {
  const at = beginAttr(w, type);
  if (family === 'ipv4') {
    const v = parseIPv4Fast(text);
    if (v < 0) w.bytes(addressBytes(text, 'ipv4'));
    else w.u32be(v);
  } else {
    w.bytes(addressBytes(text, 'ipv6'));
  }
  endAttr(w, at);
}

/** parseIPv4Fast returns a dotted quad as an unsigned 32-bit number, or -1 if it is not one (the caller then reports the error). */
function parseIPv4Fast(s: string): number {
  let v = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
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

/**
 * encodeTupleBody writes the inside of a tuple nest: CTA_TUPLE_IP, CTA_TUPLE_PROTO, CTA_TUPLE_ZONE,
 * then kept unknown attributes. ICMPv6 tuples (proto 58) use the CTA_PROTO_ICMPV6_* types.
 */
export function encodeTupleBody(w: Writer, t: Tuple, order: AttrOrder): void {
  const ip = beginNested(w, CTA_TUPLE.IP);
  if (t.family === 'ipv4') {
    putAddr(w, CTA_IP.V4_SRC, t.src, 'ipv4');
    putAddr(w, CTA_IP.V4_DST, t.dst, 'ipv4');
  } else {
    putAddr(w, CTA_IP.V6_SRC, t.src, 'ipv6');
    putAddr(w, CTA_IP.V6_DST, t.dst, 'ipv6');
  }
  if (t.ipUnknown !== undefined) for (const a of t.ipUnknown) putRaw(w, a);
  endAttr(w, ip);

  const pr = beginNested(w, CTA_TUPLE.PROTO);
  putU8(w, CTA_PROTO.NUM, t.proto);
  if (t.srcPort !== undefined) putU16be(w, CTA_PROTO.SRC_PORT, t.srcPort);
  if (t.dstPort !== undefined) putU16be(w, CTA_PROTO.DST_PORT, t.dstPort);
  const v6 = t.proto === IPPROTO.ICMPV6;
  const idT = v6 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID;
  const typeT = v6 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE;
  const codeT = v6 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE;
  if (order === 'kernel') {
    // icmp_tuple_to_nlattr: id, type, code
    if (t.icmpId !== undefined) putU16be(w, idT, t.icmpId);
    if (t.icmpType !== undefined) putU8(w, typeT, t.icmpType);
    if (t.icmpCode !== undefined) putU8(w, codeT, t.icmpCode);
  } else {
    // nfct_build_tuple_proto: code, type, id
    if (t.icmpCode !== undefined) putU8(w, codeT, t.icmpCode);
    if (t.icmpType !== undefined) putU8(w, typeT, t.icmpType);
    if (t.icmpId !== undefined) putU16be(w, idT, t.icmpId);
  }
  if (t.protoUnknown !== undefined) for (const a of t.protoUnknown) putRaw(w, a);
  endAttr(w, pr);

  if (t.zone !== undefined) putU16be(w, CTA_TUPLE.ZONE, t.zone);
  if (t.unknown !== undefined) for (const a of t.unknown) putRaw(w, a);
}

/** encodeTuple writes a whole tuple nest of attribute type `type` (CTA_TUPLE_ORIG, CTA_EXPECT_MASK, …). */
export function encodeTuple(w: Writer, type: number, t: Tuple, order: AttrOrder): void {
  const nest = beginNested(w, type);
  encodeTupleBody(w, t, order);
  endAttr(w, nest);
}
