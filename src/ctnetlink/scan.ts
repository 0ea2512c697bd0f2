import { NLA_TYPE_MASK } from '../netlink/consts.js';
import { be16At as be16, be32At as be32, u16At as nlaU16 } from '../wire/byte-order.js';
import { CTA, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_DCCP, CTA_PROTOINFO_SCTP, CTA_PROTOINFO_TCP, CTA_SYNPROXY, CTA_TUPLE } from './consts.js';

/**
 * The replication fast path's view of one kernel conntrack message: where its parts are and the
 * few numbers a sync encoder needs, read straight from the CTA_* bytes with no object per
 * attribute (a replicating node sees every event of the table; decoding each into the Conntrack
 * model cost ~10 objects an entry). `scanKernelCt` accepts only what it fully understands and
 * checks every size it reads; anything else (master tuple, NAT or sequence-adjust requests,
 * helper, labels, security context, unknown attributes, a repeated attribute, an odd
 * size) makes it return false, and the caller takes the general decoder, which is the reference.
 */

/** KernelTupleView: one tuple's fields; -1 = absent. Addresses are offsets of their payload bytes. */
export class KernelTupleView {
  /** 4 or 16 (address length), 0 before a scan. */
  addrLen = 0;
  src = -1;
  dst = -1;
  proto = -1;
  srcPort = -1;
  dstPort = -1;
  icmpId = -1;
  icmpType = -1;
  icmpCode = -1;
  /** The nest's payload [start, end): the entry's identity for the original direction. */
  start = 0;
  end = 0;

  reset(): void {
    this.addrLen = 0;
    this.src = this.dst = this.proto = -1;
    this.srcPort = this.dstPort = this.icmpId = this.icmpType = this.icmpCode = -1;
    this.start = this.end = 0;
  }
}

/** KernelCtView is filled by scanKernelCt; one instance is reused for every message (-1 = absent). */
export class KernelCtView {
  readonly orig = new KernelTupleView();
  readonly reply = new KernelTupleView();
  hasReply = false;
  status = -1;
  timeout = -1;
  mark = -1;
  zone = -1;
  tcpState = -1;
  tcpWscaleOrig = -1;
  tcpWscaleReply = -1;
  sctpState = -1;
  sctpVtagOrig = -1;
  sctpVtagReply = -1;
  dccpState = -1;
  dccpRole = -1;
  /** Whether the message carries CTA_PROTOINFO / CTA_SYNPROXY at all (an UPDATE carries them only when they changed). */
  hasProtoInfo = false;
  hasSynproxy = false;
  /** CTA_SYNPROXY (the kernel attaches it, zeroed, to every entry made over ctnetlink). */
  synIsn = -1;
  synIts = -1;
  synTsoff = -1;
  /** Bytes of the volatile attributes (counters, timestamps, use, id) a cache need not keep. */
  volatileBytes = 0;

  reset(): void {
    this.orig.reset();
    this.reply.reset();
    this.hasReply = false;
    this.status = this.timeout = this.mark = this.zone = -1;
    this.tcpState = this.tcpWscaleOrig = this.tcpWscaleReply = -1;
    this.sctpState = this.sctpVtagOrig = this.sctpVtagReply = -1;
    this.dccpState = this.dccpRole = -1;
    this.hasProtoInfo = this.hasSynproxy = false;
    this.synIsn = this.synIts = this.synTsoff = -1;
    this.volatileBytes = 0;
  }
}

/** VOLATILE: attributes that change on every packet or are per-event, not state (ctnetlink_fill_info's acct, timestamp, use, id). */
export function isVolatileCta(type: number): boolean {
  return type === CTA.COUNTERS_ORIG || type === CTA.COUNTERS_REPLY || type === CTA.USE || type === CTA.ID || type === CTA.TIMESTAMP || type === CTA.TIMESTAMP_EVENT;
}


/** The type of the attribute attrAt read last (one walk at a time: the scan is synchronous). */
let attrType = 0;

/**
 * attrAt reads the attribute header at `o` of a walk that ends at `end`: its length (header
 * included), with its type in attrType; -1 when it does not fit or its type is 31 or more (a
 * walk keeps the types it saw as bits of one number).
 */
function attrAt(b: Uint8Array, o: number, end: number): number {
  if (end - o < 4) return -1;
  const len = nlaU16(b, o);
  if (len < 4 || len > end - o) return -1;
  attrType = nlaU16(b, o + 2) & NLA_TYPE_MASK;
  return attrType < 31 ? len : -1;
}
const step = (len: number): number => (len + 3) & ~3;

/**
 * scanKernelCt reads the CTA_* attributes in [start, end) of `b` into `v` (reset first). Returns
 * false when the message is outside the fast path (see the top of this file); `v` is then
 * meaningless.
 */
export function scanKernelCt(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  v.reset();
  let seen = 0;
  for (let o = start, len = 0; o < end; o += step(len)) {
    len = attrAt(b, o, end);
    const type = attrType;
    if (len < 0 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    const p = o + 4;
    switch (type) {
      case CTA.TUPLE_ORIG:
        if (!scanTuple(b, p, o + len, v.orig)) return false;
        break;
      case CTA.TUPLE_REPLY:
        if (!scanTuple(b, p, o + len, v.reply)) return false;
        v.hasReply = true;
        break;
      case CTA.STATUS:
        if (len !== 8) return false;
        v.status = be32(b, p);
        break;
      case CTA.TIMEOUT:
        if (len !== 8) return false;
        v.timeout = be32(b, p);
        break;
      case CTA.MARK:
        if (len !== 8) return false;
        v.mark = be32(b, p);
        break;
      case CTA.ZONE:
        if (len !== 6) return false;
        v.zone = be16(b, p);
        break;
      case CTA.PROTOINFO:
        if (!scanProtoInfo(b, p, o + len, v)) return false;
        v.hasProtoInfo = true;
        break;
      case CTA.SYNPROXY:
        if (!scanSynproxy(b, p, o + len, v)) return false;
        v.hasSynproxy = true;
        break;
      default:
        if (!isVolatileCta(type)) return false;
        v.volatileBytes += step(len);
    }
  }
  if (v.orig.addrLen === 0) return false;
  if (v.hasReply && v.reply.addrLen !== v.orig.addrLen) return false;
  return true;
}

/** scanTuple reads one tuple nest's payload [start, end); false when it holds anything else than addresses, protocol, ports, ICMP fields. */
export function scanTuple(b: Uint8Array, start: number, end: number, t: KernelTupleView): boolean {
  t.reset();
  t.start = start;
  t.end = end;
  let seen = 0;
  for (let o = start, len = 0; o < end; o += step(len)) {
    len = attrAt(b, o, end);
    const type = attrType;
    if (len < 0 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    if (type === CTA_TUPLE.IP) {
      if (!scanIp(b, o + 4, o + len, t)) return false;
    } else if (type === CTA_TUPLE.PROTO) {
      if (!scanProto(b, o + 4, o + len, t)) return false;
    } else {
      return false; // CTA_TUPLE_ZONE (directional zone) and anything else: general path
    }
  }
  return t.addrLen !== 0 && t.src >= 0 && t.dst >= 0 && t.proto >= 0;
}

function scanIp(b: Uint8Array, start: number, end: number, t: KernelTupleView): boolean {
  for (let o = start, len = 0; o < end; o += step(len)) {
    len = attrAt(b, o, end);
    const type = attrType;
    const want = type === CTA_IP.V4_SRC || type === CTA_IP.V4_DST ? 4 : type === CTA_IP.V6_SRC || type === CTA_IP.V6_DST ? 16 : 0;
    if (len < 0 || want === 0 || len !== 4 + want) return false;
    if (t.addrLen !== 0 && t.addrLen !== want) return false;
    t.addrLen = want;
    if (type === CTA_IP.V4_SRC || type === CTA_IP.V6_SRC) {
      if (t.src >= 0) return false;
      t.src = o + 4;
    } else {
      if (t.dst >= 0) return false;
      t.dst = o + 4;
    }
  }
  return true;
}

/** Leaf is one fixed-size attribute of a nest: its type, payload offset and length (header included). */
type LeafReader<T> = (target: T, b: Uint8Array, type: number, p: number, len: number) => boolean;

/** forEachLeaf walks a nest of fixed-size leaves, each read by `read` (false leaves the fast path), each at most once. */
function forEachLeaf<T>(b: Uint8Array, start: number, end: number, target: T, read: LeafReader<T>): boolean {
  let seen = 0;
  for (let o = start, len = 0; o < end; o += step(len)) {
    len = attrAt(b, o, end);
    const type = attrType;
    if (len < 0 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    if (!read(target, b, type, o + 4, len)) return false;
  }
  return true;
}

const readProto: LeafReader<KernelTupleView> = (t, b, type, p, len) => {
  switch (type) {
    case CTA_PROTO.NUM:
      if (len !== 5) return false;
      t.proto = b[p]!;
      return true;
    case CTA_PROTO.SRC_PORT:
      if (len !== 6) return false;
      t.srcPort = be16(b, p);
      return true;
    case CTA_PROTO.DST_PORT:
      if (len !== 6) return false;
      t.dstPort = be16(b, p);
      return true;
    case CTA_PROTO.ICMP_ID:
    case CTA_PROTO.ICMPV6_ID:
      if (len !== 6 || t.icmpId >= 0) return false;
      t.icmpId = be16(b, p);
      return true;
    case CTA_PROTO.ICMP_TYPE:
    case CTA_PROTO.ICMPV6_TYPE:
      if (len !== 5 || t.icmpType >= 0) return false;
      t.icmpType = b[p]!;
      return true;
    case CTA_PROTO.ICMP_CODE:
    case CTA_PROTO.ICMPV6_CODE:
      if (len !== 5 || t.icmpCode >= 0) return false;
      t.icmpCode = b[p]!;
      return true;
    default:
      return false;
  }
};
function scanProto(b: Uint8Array, start: number, end: number, t: KernelTupleView): boolean {
  return forEachLeaf(b, start, end, t, readProto);
}

function scanProtoInfo(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  let seen = 0;
  for (let o = start, len = 0; o < end; o += step(len)) {
    len = attrAt(b, o, end);
    const type = attrType;
    if (len < 0 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    const reader = type === CTA_PROTOINFO.TCP ? readTcp : type === CTA_PROTOINFO.SCTP ? readSctp : type === CTA_PROTOINFO.DCCP ? readDccp : undefined;
    if (reader === undefined || !forEachLeaf(b, o + 4, o + len, v, reader)) return false;
  }
  return true;
}

const readTcp: LeafReader<KernelCtView> = (v, b, type, p, len) => {
  switch (type) {
    case CTA_PROTOINFO_TCP.STATE:
      if (len !== 5) return false;
      v.tcpState = b[p]!;
      return true;
    case CTA_PROTOINFO_TCP.WSCALE_ORIGINAL:
      if (len !== 5) return false;
      v.tcpWscaleOrig = b[p]!;
      return true;
    case CTA_PROTOINFO_TCP.WSCALE_REPLY:
      if (len !== 5) return false;
      v.tcpWscaleReply = b[p]!;
      return true;
    case CTA_PROTOINFO_TCP.FLAGS_ORIGINAL:
    case CTA_PROTOINFO_TCP.FLAGS_REPLY:
      return len === 6; // not replicated
    default:
      return false;
  }
};

const readSctp: LeafReader<KernelCtView> = (v, b, type, p, len) => {
  switch (type) {
    case CTA_PROTOINFO_SCTP.STATE:
      if (len !== 5) return false;
      v.sctpState = b[p]!;
      return true;
    case CTA_PROTOINFO_SCTP.VTAG_ORIGINAL:
      if (len !== 8) return false;
      v.sctpVtagOrig = be32(b, p);
      return true;
    case CTA_PROTOINFO_SCTP.VTAG_REPLY:
      if (len !== 8) return false;
      v.sctpVtagReply = be32(b, p);
      return true;
    default:
      return false;
  }
};

const readDccp: LeafReader<KernelCtView> = (v, b, type, p, len) => {
  switch (type) {
    case CTA_PROTOINFO_DCCP.STATE:
      if (len !== 5) return false;
      v.dccpState = b[p]!;
      return true;
    case CTA_PROTOINFO_DCCP.ROLE:
      if (len !== 5) return false;
      v.dccpRole = b[p]!;
      return true;
    default:
      return false; // handshake seq (u64) and padding: general path
  }
};

const readSynproxy: LeafReader<KernelCtView> = (v, b, type, p, len) => {
  if (len !== 8) return false;
  if (type === CTA_SYNPROXY.ISN) v.synIsn = be32(b, p);
  else if (type === CTA_SYNPROXY.ITS) v.synIts = be32(b, p);
  else if (type === CTA_SYNPROXY.TSOFF) v.synTsoff = be32(b, p);
  else return false;
  return true;
};
function scanSynproxy(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  return forEachLeaf(b, start, end, v, readSynproxy);
}
