import { beginNested, endAttr, putRaw, putU16be, type RawAttr } from '../netlink/attrs.js';
import { NLA_TYPE_MASK } from '../netlink/consts.js';
import { formatIPv4, formatIPv6 } from '../wire/ip.js';
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { CTA_NAT, CTA_PROTONAT } from './consts.js';
import { badSize, nlaLen, nlaNext, pushRaw, u16At, type Path } from './nla.js';
import { putAddr } from './tuple.js';
import type { NatRange } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * decodeNatRange decodes the inside of CTA_NAT_SRC / CTA_NAT_DST, the NAT binding given when an
 * entry is created (the kernel never sends these back; it shows NAT through the reply tuple).
 * Each address attribute carries its own family (CTA_NAT_V4_* or CTA_NAT_V6_*).
 */
export function decodeNatRange(r: Reader, start: number, end: number, path: Path): NatRange {
  const n: Mutable<NatRange> = {};
  let unknown: RawAttr[] | undefined;
  let protoUnknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    const type = full & NLA_TYPE_MASK;
    switch (type) {
      case CTA_NAT.V4_MINIP:
      case CTA_NAT.V4_MAXIP:
        if (len !== 8) badSize(path, off, len - 4, '4', type === CTA_NAT.V4_MINIP ? 'minIp' : 'maxIp');
        if (type === CTA_NAT.V4_MINIP) n.minIp = formatIPv4(r.buf, off + 4);
        else n.maxIp = formatIPv4(r.buf, off + 4);
        break;
      case CTA_NAT.V6_MINIP:
      case CTA_NAT.V6_MAXIP:
        if (len !== 20) badSize(path, off, len - 4, '16', type === CTA_NAT.V6_MINIP ? 'minIp' : 'maxIp');
        if (type === CTA_NAT.V6_MINIP) n.minIp = formatIPv6(r.buf, off + 4);
        else n.maxIp = formatIPv6(r.buf, off + 4);
        break;
      case CTA_NAT.PROTO: {
        const pend = off + len;
        for (let o = off + 4; o < pend; ) {
          const l = nlaLen(r, o, pend, path);
          const f = r.u16ne();
          switch (f & NLA_TYPE_MASK) {
            case CTA_PROTONAT.PORT_MIN:
              n.minPort = u16At(r, o, l, path, 'proto', 'minPort');
              break;
            case CTA_PROTONAT.PORT_MAX:
              n.maxPort = u16At(r, o, l, path, 'proto', 'maxPort');
              break;
            default:
              protoUnknown = pushRaw(protoUnknown, r, o, l, f);
          }
          o = nlaNext(o, l);
        }
        break;
      }
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) n.unknown = unknown;
  if (protoUnknown !== undefined) n.protoUnknown = protoUnknown;
  return n;
}

/**
 * encodeNatRange writes a CTA_NAT_SRC / CTA_NAT_DST nest: minimum address, maximum address, then
 * CTA_NAT_PROTO with the port range (libnetfilter_conntrack's order). An address with a ':' is IPv6.
 */
export function encodeNatRange(w: Writer, type: number, n: NatRange): void {
  const at = beginNested(w, type);
  if (n.minIp !== undefined) {
    if (n.minIp.includes(':')) putAddr(w, CTA_NAT.V6_MINIP, n.minIp, 'ipv6');
    else putAddr(w, CTA_NAT.V4_MINIP, n.minIp, 'ipv4');
  }
  if (n.maxIp !== undefined) {
    if (n.maxIp.includes(':')) putAddr(w, CTA_NAT.V6_MAXIP, n.maxIp, 'ipv6');
    else putAddr(w, CTA_NAT.V4_MAXIP, n.maxIp, 'ipv4');
  }
  if (n.minPort !== undefined || n.maxPort !== undefined || n.protoUnknown !== undefined) {
    const p = beginNested(w, CTA_NAT.PROTO);
    if (n.minPort !== undefined) putU16be(w, CTA_PROTONAT.PORT_MIN, n.minPort);
    if (n.maxPort !== undefined) putU16be(w, CTA_PROTONAT.PORT_MAX, n.maxPort);
    if (n.protoUnknown !== undefined) for (const a of n.protoUnknown) putRaw(w, a);
    endAttr(w, p);
  }
  if (n.unknown !== undefined) for (const a of n.unknown) putRaw(w, a);
  endAttr(w, at);
}
