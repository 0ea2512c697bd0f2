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


/**
 * The walks below read each attribute header in place (struct nlattr: u16 nla_len, u16 nla_type,
 * host order) with no helper call per attribute: this scan runs for every event a replicating
 * node sees, and a header read through a function that returns the type in a module variable cost
 * about twice the time (bench/pipeline.ts). A header that does not fit its walk, a type of 31 or
 * more (a walk keeps the types it saw as bits of one number) or a repeated type leaves the fast
 * path. The same five lines open every walk on purpose: a shared helper returning the header as
 * one number measured 15–20 % slower than this (the scan alone over 100 000 recorded events).
 */
const step = (len: number): number => (len + 3) & ~3;

/**
 * scanKernelCt reads the CTA_* attributes in [start, end) of `b` into `v` (reset first). Returns
 * false when the message is outside the fast path (see the top of this file); `v` is then
 * meaningless.
 */
export function scanKernelCt(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  v.reset();
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
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
    o += step(len);
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
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    if (type === CTA_TUPLE.IP) {
      if (!scanIp(b, o + 4, o + len, t)) return false;
    } else if (type === CTA_TUPLE.PROTO) {
      if (!scanProto(b, o + 4, o + len, t)) return false;
    } else {
      return false; // CTA_TUPLE_ZONE (directional zone) and anything else: general path
    }
    o += step(len);
  }
  return t.addrLen !== 0 && t.src >= 0 && t.dst >= 0 && t.proto >= 0;
}

function scanIp(b: Uint8Array, start: number, end: number, t: KernelTupleView): boolean {
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    const want = type === CTA_IP.V4_SRC || type === CTA_IP.V4_DST ? 4 : type === CTA_IP.V6_SRC || type === CTA_IP.V6_DST ? 16 : 0;
    if (want === 0 || len !== 4 + want || len > end - o) return false;
    if (t.addrLen !== 0 && t.addrLen !== want) return false;
    t.addrLen = want;
    if (type === CTA_IP.V4_SRC || type === CTA_IP.V6_SRC) {
      if (t.src >= 0) return false;
      t.src = o + 4;
    } else {
      if (t.dst >= 0) return false;
      t.dst = o + 4;
    }
    o += step(len);
  }
  return true;
}

/** scanProto reads CTA_TUPLE_PROTO's leaves: protocol number, ports, ICMP(v6) id, type and code, each at most once. */
function scanProto(b: Uint8Array, start: number, end: number, t: KernelTupleView): boolean {
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    const p = o + 4;
    switch (type) {
      case CTA_PROTO.NUM:
        if (len !== 5) return false;
        t.proto = b[p]!;
        break;
      case CTA_PROTO.SRC_PORT:
        if (len !== 6) return false;
        t.srcPort = be16(b, p);
        break;
      case CTA_PROTO.DST_PORT:
        if (len !== 6) return false;
        t.dstPort = be16(b, p);
        break;
      case CTA_PROTO.ICMP_ID:
      case CTA_PROTO.ICMPV6_ID:
        if (len !== 6 || t.icmpId >= 0) return false;
        t.icmpId = be16(b, p);
        break;
      case CTA_PROTO.ICMP_TYPE:
      case CTA_PROTO.ICMPV6_TYPE:
        if (len !== 5 || t.icmpType >= 0) return false;
        t.icmpType = b[p]!;
        break;
      case CTA_PROTO.ICMP_CODE:
      case CTA_PROTO.ICMPV6_CODE:
        if (len !== 5 || t.icmpCode >= 0) return false;
        t.icmpCode = b[p]!;
        break;
      default:
        return false;
    }
    o += step(len);
  }
  return true;
}

/** scanProtoInfo reads CTA_PROTOINFO: one nest of TCP, SCTP or DCCP state, each kind at most once. */
function scanProtoInfo(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    const ok = type === CTA_PROTOINFO.TCP ? scanTcp(b, o + 4, o + len, v) : type === CTA_PROTOINFO.SCTP ? scanSctp(b, o + 4, o + len, v) : type === CTA_PROTOINFO.DCCP && scanDccp(b, o + 4, o + len, v);
    if (!ok) return false;
    o += step(len);
  }
  return true;
}

function scanTcp(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    const p = o + 4;
    switch (type) {
      case CTA_PROTOINFO_TCP.STATE:
        if (len !== 5) return false;
        v.tcpState = b[p]!;
        break;
      case CTA_PROTOINFO_TCP.WSCALE_ORIGINAL:
        if (len !== 5) return false;
        v.tcpWscaleOrig = b[p]!;
        break;
      case CTA_PROTOINFO_TCP.WSCALE_REPLY:
        if (len !== 5) return false;
        v.tcpWscaleReply = b[p]!;
        break;
      case CTA_PROTOINFO_TCP.FLAGS_ORIGINAL:
      case CTA_PROTOINFO_TCP.FLAGS_REPLY:
        if (len !== 6) return false; // not replicated
        break;
      default:
        return false;
    }
    o += step(len);
  }
  return true;
}

function scanSctp(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    const p = o + 4;
    switch (type) {
      case CTA_PROTOINFO_SCTP.STATE:
        if (len !== 5) return false;
        v.sctpState = b[p]!;
        break;
      case CTA_PROTOINFO_SCTP.VTAG_ORIGINAL:
        if (len !== 8) return false;
        v.sctpVtagOrig = be32(b, p);
        break;
      case CTA_PROTOINFO_SCTP.VTAG_REPLY:
        if (len !== 8) return false;
        v.sctpVtagReply = be32(b, p);
        break;
      default:
        return false;
    }
    o += step(len);
  }
  return true;
}

function scanDccp(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    const p = o + 4;
    switch (type) {
      case CTA_PROTOINFO_DCCP.STATE:
        if (len !== 5) return false;
        v.dccpState = b[p]!;
        break;
      case CTA_PROTOINFO_DCCP.ROLE:
        if (len !== 5) return false;
        v.dccpRole = b[p]!;
        break;
      default:
        return false; // handshake seq (u64) and padding: general path
    }
    o += step(len);
  }
  return true;
}

/** scanSynproxy reads CTA_SYNPROXY: ISN, ITS and TSOFF, u32 each, each at most once. */
function scanSynproxy(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const type = nlaU16(b, o + 2) & NLA_TYPE_MASK;
    if (len !== 8 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    if (type === CTA_SYNPROXY.ISN) v.synIsn = be32(b, o + 4);
    else if (type === CTA_SYNPROXY.ITS) v.synIts = be32(b, o + 4);
    else if (type === CTA_SYNPROXY.TSOFF) v.synTsoff = be32(b, o + 4);
    else return false;
    o += 8;
  }
  return true;
}
