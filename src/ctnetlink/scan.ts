import { NLA_TYPE_MASK } from '../netlink/consts.js';
import { HOST_LITTLE_ENDIAN, u16At as nlaU16 } from '../wire/byte-order.js';
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

/**
 * A message's layout: where each field the view holds lies (relative to the attributes' start;
 * -1 = absent), and the header (struct nlattr) of every attribute the scan read, nested ones
 * included. Whether scanKernelCt accepts a message depends on its headers alone — their sizes,
 * types and so their places — never on a value; so a message of the same length whose headers
 * are those of a layout already scanned is that layout, with its own values at the same places.
 * The kernel writes every entry of a kind the same way (ctnetlink_fill_info: same attributes,
 * same order, same sizes), so consecutive events of a table mostly share a few layouts; a
 * replicating node reads every one of them. Comparing the 31 headers of an IPv4 TCP event and
 * reading its values took ~2 100 instructions, the walk with its checks ~4 750 (valgrind
 * callgrind over 100 000 recorded events, bench/pipeline.ts --save).
 */
export class KernelShape {
  /** end − start of the messages it describes; -1 for none yet. */
  length = -1;
  /** Headers recorded; past MAX_HEADS the layout is not kept (the scan itself still answers). */
  heads = 0;
  /**
   * Per header, where it is (in words from the attributes' start: attributes start on 4-byte
   * boundaries) and the header as one word (headWord: nla_len and nla_type with its flag bits),
   * side by side: [place, word, place, word, …].
   */
  readonly headWords = new Int32Array(2 * MAX_HEADS);
  readonly at = new Int32Array(SLOTS);
  origAddrLen = 0;
  replyAddrLen = 0;
  /** Each tuple nest's payload [start, end), relative as `at`; reply -1 when there is none. */
  origStart = 0;
  origEnd = 0;
  replyStart = -1;
  replyEnd = -1;
  hasProtoInfo = false;
  hasSynproxy = false;
  volatileBytes = 0;

  reset(): void {
    this.length = -1;
    this.heads = 0;
    this.at.fill(-1);
    this.origAddrLen = this.replyAddrLen = 0;
    this.origStart = this.origEnd = 0;
    this.replyStart = this.replyEnd = -1;
    this.hasProtoInfo = this.hasSynproxy = false;
    this.volatileBytes = 0;
  }
}

/** The most headers a kept layout has (an IPv6 TCP entry with NAT, SYNPROXY and counters has 31). */
const MAX_HEADS = 64;
/** Layouts a view remembers: a table's NEW, UPDATE and DESTROY events of TCP and UDP, either family, mostly. */
const KEPT_SHAPES = 8;

// Slots of KernelShape.at. A tuple's fields from its base (ORIG or REPLY), then the entry's own.
const T_SRC = 0;
const T_DST = 1;
const T_PROTO = 2;
const T_SRC_PORT = 3;
const T_DST_PORT = 4;
const T_ICMP_ID = 5;
const T_ICMP_TYPE = 6;
const T_ICMP_CODE = 7;
const ORIG = 0;
const REPLY = 8;
const STATUS = 16;
const TIMEOUT = 17;
const MARK = 18;
const ZONE = 19;
const TCP_STATE = 20;
const TCP_WSCALE_ORIG = 21;
const TCP_WSCALE_REPLY = 22;
const SCTP_STATE = 23;
const SCTP_VTAG_ORIG = 24;
const SCTP_VTAG_REPLY = 25;
const DCCP_STATE = 26;
const DCCP_ROLE = 27;
const SYN_ISN = 28;
const SYN_ITS = 29;
const SYN_TSOFF = 30;
const SLOTS = 31;

/** ShapeMemo is the layouts a view has read lately, and the scratch the next walk fills. */
class ShapeMemo {
  private readonly kept: KernelShape[] = [];
  private next = 0;
  private scratch = new KernelShape();
  /** Messages walked because no kept layout was theirs (tests; a hit costs nothing to count this way). */
  walked = 0;

  /** find is the kept layout of the message at [start, end) of `b`, if any. */
  find(b: Uint8Array, start: number, end: number): KernelShape | undefined {
    const len = end - start;
    const kept = this.kept;
    const words = (start & 3) === 0 ? this.wordsOf(b) : undefined;
    for (let k = 0; k < kept.length; k++) {
      const s = kept[k]!;
      if (s.length === len && (words !== undefined ? sameHeadWords(words, start >> 2, s) : sameHeads(b, start, s))) return s;
    }
    return undefined;
  }

  /**
   * wordsOf is `b` as 32-bit words in host order when it starts on a word (the addon's receive
   * batches do, and each message in them: wordsOf is made once per batch), for comparing a header
   * in one read instead of four.
   */
  private wordsOf(b: Uint8Array): Int32Array | undefined {
    if (b !== this.lastBytes) {
      this.lastBytes = b;
      this.lastWords = (b.byteOffset & 3) === 0 ? new Int32Array(b.buffer, b.byteOffset, b.length >> 2) : undefined;
    }
    return this.lastWords;
  }
  private lastBytes: Uint8Array | undefined = undefined;
  private lastWords: Int32Array | undefined = undefined;

  /** fresh is the scratch layout, reset, for a walk. */
  fresh(): KernelShape {
    this.walked++;
    this.scratch.reset();
    return this.scratch;
  }

  /** keep remembers the scratch layout a walk accepted (replacing the oldest when full). */
  keep(s: KernelShape): void {
    if (s !== this.scratch || s.heads > MAX_HEADS) return;
    if (this.kept.length < KEPT_SHAPES) this.kept.push(s);
    else {
      this.scratch = this.kept[this.next]!;
      this.kept[this.next] = s;
      this.next = (this.next + 1) % KEPT_SHAPES;
      return;
    }
    this.scratch = new KernelShape();
  }
}

/** sameHeads tells whether the message at `start` of `b` has the headers of `s` (their words read byte by byte). */
function sameHeads(b: Uint8Array, start: number, s: KernelShape): boolean {
  const h = s.headWords;
  for (let i = 0, n = 2 * s.heads; i < n; i += 2) {
    const o = start + 4 * h[i]!;
    if (headWord(nlaU16(b, o), nlaU16(b, o + 2)) !== h[i + 1]) return false;
  }
  return true;
}

/** sameHeadWords is sameHeads on the message's words (`w`, the message's first word at `first`): header offsets are multiples of 4. */
function sameHeadWords(w: Int32Array, first: number, s: KernelShape): boolean {
  const h = s.headWords;
  for (let i = 0, n = 2 * s.heads; i < n; i += 2) if (w[first + h[i]!] !== h[i + 1]) return false;
  return true;
}

/** headWord is struct nlattr as one 32-bit word read in host order (what an Int32Array gives). */
const headWord = HOST_LITTLE_ENDIAN ? (len: number, rawType: number): number => len | (rawType << 16) : (len: number, rawType: number): number => (len << 16) | rawType;

/** head records one attribute header of the walk into `s` (o relative to the attributes' start). */
function head(s: KernelShape, o: number, len: number, rawType: number): void {
  const i = s.heads++;
  if (i < MAX_HEADS) {
    s.headWords[2 * i] = o >> 2;
    s.headWords[2 * i + 1] = headWord(len, rawType);
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
  /** The layouts this view has read (see KernelShape). */
  readonly shapes = new ShapeMemo();
}

/** VOLATILE: attributes that change on every packet or are per-event, not state (ctnetlink_fill_info's acct, timestamp, use, id). */
export function isVolatileCta(type: number): boolean {
  return type === CTA.COUNTERS_ORIG || type === CTA.COUNTERS_REPLY || type === CTA.USE || type === CTA.ID || type === CTA.TIMESTAMP || type === CTA.TIMESTAMP_EVENT;
}

/**
 * scanKernelCt reads the CTA_* attributes in [start, end) of `b` into `v`. Returns false when the
 * message is outside the fast path (see the top of this file); `v` is then meaningless. A message
 * of a layout the view has read lately is not walked: its values are read where that layout has
 * them (KernelShape).
 */
export function scanKernelCt(b: Uint8Array, start: number, end: number, v: KernelCtView): boolean {
  let s = v.shapes.find(b, start, end);
  if (s === undefined) {
    s = v.shapes.fresh();
    if (!walkCt(b, start, end, s)) return false;
    s.length = end - start;
    v.shapes.keep(s);
  }
  readCt(b, start, s, v);
  return true;
}

/** readCt fills `v` with the values of the message at `base` of `b`, whose layout is `s`. */
function readCt(b: Uint8Array, base: number, s: KernelShape, v: KernelCtView): void {
  const a = s.at;
  readTuple(b, base, a, ORIG, s.origAddrLen, s.origStart, s.origEnd, v.orig);
  v.hasReply = s.replyStart >= 0;
  if (v.hasReply) readTuple(b, base, a, REPLY, s.replyAddrLen, s.replyStart, s.replyEnd, v.reply);
  else v.reply.reset();
  v.status = be32Or(b, base, a[STATUS]!);
  v.timeout = be32Or(b, base, a[TIMEOUT]!);
  v.mark = be32Or(b, base, a[MARK]!);
  v.zone = be16Or(b, base, a[ZONE]!);
  v.tcpState = u8Or(b, base, a[TCP_STATE]!);
  v.tcpWscaleOrig = u8Or(b, base, a[TCP_WSCALE_ORIG]!);
  v.tcpWscaleReply = u8Or(b, base, a[TCP_WSCALE_REPLY]!);
  v.sctpState = u8Or(b, base, a[SCTP_STATE]!);
  v.sctpVtagOrig = be32Or(b, base, a[SCTP_VTAG_ORIG]!);
  v.sctpVtagReply = be32Or(b, base, a[SCTP_VTAG_REPLY]!);
  v.dccpState = u8Or(b, base, a[DCCP_STATE]!);
  v.dccpRole = u8Or(b, base, a[DCCP_ROLE]!);
  v.hasProtoInfo = s.hasProtoInfo;
  v.hasSynproxy = s.hasSynproxy;
  v.synIsn = be32Or(b, base, a[SYN_ISN]!);
  v.synIts = be32Or(b, base, a[SYN_ITS]!);
  v.synTsoff = be32Or(b, base, a[SYN_TSOFF]!);
  v.volatileBytes = s.volatileBytes;
}

function readTuple(b: Uint8Array, base: number, a: Int32Array, t0: number, addrLen: number, start: number, end: number, t: KernelTupleView): void {
  t.addrLen = addrLen;
  t.src = base + a[t0 + T_SRC]!;
  t.dst = base + a[t0 + T_DST]!;
  t.proto = b[base + a[t0 + T_PROTO]!]!;
  t.srcPort = be16Or(b, base, a[t0 + T_SRC_PORT]!);
  t.dstPort = be16Or(b, base, a[t0 + T_DST_PORT]!);
  t.icmpId = be16Or(b, base, a[t0 + T_ICMP_ID]!);
  t.icmpType = u8Or(b, base, a[t0 + T_ICMP_TYPE]!);
  t.icmpCode = u8Or(b, base, a[t0 + T_ICMP_CODE]!);
  t.start = base + start;
  t.end = base + end;
}

/**
 * The value at `rel` from `base`, or -1 when absent. The bytes are read here, not through
 * be16At / be32At: readCt is past V8's inlining budget, and those stayed calls (~1 000
 * instructions an entry, callgrind).
 */
const u8Or = (b: Uint8Array, base: number, rel: number): number => (rel < 0 ? -1 : b[base + rel]!);
const be16Or = (b: Uint8Array, base: number, rel: number): number => (rel < 0 ? -1 : (b[base + rel]! << 8) | b[base + rel + 1]!);
const be32Or = (b: Uint8Array, base: number, rel: number): number =>
  rel < 0 ? -1 : ((b[base + rel]! << 24) | (b[base + rel + 1]! << 16) | (b[base + rel + 2]! << 8) | b[base + rel + 3]!) >>> 0;

/**
 * The walks below read each attribute header in place (struct nlattr: u16 nla_len, u16 nla_type,
 * host order) with no helper call per attribute: a message of a layout not seen lately is walked
 * in full. A header that does not fit its walk, a type of 31 or more (a walk keeps the types it
 * saw as bits of one number) or a repeated type leaves the fast path. The same five lines open
 * every walk on purpose: a shared helper returning the header as one number measured 15–20 %
 * slower than this (the scan alone over 100 000 recorded events). Each walk records the headers
 * it reads and where the fields are, relative to `base` (the message's attributes).
 */
const step = (len: number): number => (len + 3) & ~3;

/** walkCt is scanKernelCt's walk of a message of a new layout, into `s` (reset). */
function walkCt(b: Uint8Array, start: number, end: number, s: KernelShape): boolean {
  const a = s.at;
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const raw = nlaU16(b, o + 2);
    const type = raw & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    head(s, o - start, len, raw);
    const p = o + 4;
    switch (type) {
      case CTA.TUPLE_ORIG:
        s.origAddrLen = walkTuple(b, p, o + len, s, ORIG, start);
        if (s.origAddrLen === 0) return false;
        s.origStart = p - start;
        s.origEnd = o + len - start;
        break;
      case CTA.TUPLE_REPLY:
        s.replyAddrLen = walkTuple(b, p, o + len, s, REPLY, start);
        if (s.replyAddrLen === 0) return false;
        s.replyStart = p - start;
        s.replyEnd = o + len - start;
        break;
      case CTA.STATUS:
        if (len !== 8) return false;
        a[STATUS] = p - start;
        break;
      case CTA.TIMEOUT:
        if (len !== 8) return false;
        a[TIMEOUT] = p - start;
        break;
      case CTA.MARK:
        if (len !== 8) return false;
        a[MARK] = p - start;
        break;
      case CTA.ZONE:
        if (len !== 6) return false;
        a[ZONE] = p - start;
        break;
      case CTA.PROTOINFO:
        if (!walkProtoInfo(b, p, o + len, s, start)) return false;
        s.hasProtoInfo = true;
        break;
      case CTA.SYNPROXY:
        if (!walkLeaves(b, p, o + len, s, start, SYNPROXY_LEAVES)) return false;
        s.hasSynproxy = true;
        break;
      default:
        if (!isVolatileCta(type)) return false;
        s.volatileBytes += step(len);
    }
    o += step(len);
  }
  if (s.origAddrLen === 0) return false;
  if (s.replyStart >= 0 && s.replyAddrLen !== s.origAddrLen) return false;
  return true;
}

/**
 * scanTuple reads one tuple nest's payload [start, end); false when it holds anything else than
 * addresses, protocol, ports, ICMP fields.
 */
export function scanTuple(b: Uint8Array, start: number, end: number, t: KernelTupleView): boolean {
  const s = tupleScratch;
  s.reset();
  const addrLen = walkTuple(b, start, end, s, ORIG, start);
  if (addrLen === 0) return false;
  readTuple(b, start, s.at, ORIG, addrLen, 0, end - start, t);
  return true;
}
const tupleScratch = new KernelShape();

/** walkTuple reads a tuple nest into the slots from `t0`; returns its address length, 0 when it is off the fast path. */
function walkTuple(b: Uint8Array, start: number, end: number, s: KernelShape, t0: number, base: number): number {
  let seen = 0;
  let addrLen = 0;
  const a = s.at;
  for (let o = start; o < end; ) {
    if (end - o < 4) return 0;
    const len = nlaU16(b, o);
    const raw = nlaU16(b, o + 2);
    const type = raw & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return 0;
    seen |= 1 << type;
    head(s, o - base, len, raw);
    if (type === CTA_TUPLE.IP) {
      addrLen = walkIp(b, o + 4, o + len, s, t0, base);
      if (addrLen === 0) return 0;
    } else if (type === CTA_TUPLE.PROTO) {
      if (!walkProto(b, o + 4, o + len, s, t0, base)) return 0;
    } else {
      return 0; // CTA_TUPLE_ZONE (directional zone) and anything else: general path
    }
    o += step(len);
  }
  return addrLen !== 0 && a[t0 + T_SRC]! >= 0 && a[t0 + T_DST]! >= 0 && a[t0 + T_PROTO]! >= 0 ? addrLen : 0;
}

/** walkIp reads CTA_TUPLE_IP: one source and one destination of one family; returns the address length (0: off the fast path). */
function walkIp(b: Uint8Array, start: number, end: number, s: KernelShape, t0: number, base: number): number {
  let addrLen = 0;
  const a = s.at;
  for (let o = start; o < end; ) {
    if (end - o < 4) return 0;
    const len = nlaU16(b, o);
    const raw = nlaU16(b, o + 2);
    const type = raw & NLA_TYPE_MASK;
    const want = type === CTA_IP.V4_SRC || type === CTA_IP.V4_DST ? 4 : type === CTA_IP.V6_SRC || type === CTA_IP.V6_DST ? 16 : 0;
    if (want === 0 || len !== 4 + want || len > end - o) return 0;
    if (addrLen !== 0 && addrLen !== want) return 0;
    addrLen = want;
    head(s, o - base, len, raw);
    const slot = t0 + (type === CTA_IP.V4_SRC || type === CTA_IP.V6_SRC ? T_SRC : T_DST);
    if (a[slot]! >= 0) return 0;
    a[slot] = o + 4 - base;
    o += step(len);
  }
  return addrLen;
}

/** walkProto reads CTA_TUPLE_PROTO's leaves: protocol number, ports, ICMP(v6) id, type and code, each at most once. */
function walkProto(b: Uint8Array, start: number, end: number, s: KernelShape, t0: number, base: number): boolean {
  let seen = 0;
  const a = s.at;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const raw = nlaU16(b, o + 2);
    const type = raw & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    head(s, o - base, len, raw);
    let slot: number;
    switch (type) {
      case CTA_PROTO.NUM:
        if (len !== 5) return false;
        slot = T_PROTO;
        break;
      case CTA_PROTO.SRC_PORT:
        if (len !== 6) return false;
        slot = T_SRC_PORT;
        break;
      case CTA_PROTO.DST_PORT:
        if (len !== 6) return false;
        slot = T_DST_PORT;
        break;
      case CTA_PROTO.ICMP_ID:
      case CTA_PROTO.ICMPV6_ID:
        if (len !== 6) return false;
        slot = T_ICMP_ID;
        break;
      case CTA_PROTO.ICMP_TYPE:
      case CTA_PROTO.ICMPV6_TYPE:
        if (len !== 5) return false;
        slot = T_ICMP_TYPE;
        break;
      case CTA_PROTO.ICMP_CODE:
      case CTA_PROTO.ICMPV6_CODE:
        if (len !== 5) return false;
        slot = T_ICMP_CODE;
        break;
      default:
        return false;
    }
    // The ICMP and ICMPv6 forms of a field share its slot: one of them at most.
    if (a[t0 + slot]! >= 0) return false;
    a[t0 + slot] = o + 4 - base;
    o += step(len);
  }
  return true;
}

/** walkProtoInfo reads CTA_PROTOINFO: one nest of TCP, SCTP or DCCP state, each kind at most once. */
function walkProtoInfo(b: Uint8Array, start: number, end: number, s: KernelShape, base: number): boolean {
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const raw = nlaU16(b, o + 2);
    const type = raw & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    head(s, o - base, len, raw);
    const table = type === CTA_PROTOINFO.TCP ? TCP_LEAVES : type === CTA_PROTOINFO.SCTP ? SCTP_LEAVES : type === CTA_PROTOINFO.DCCP ? DCCP_LEAVES : undefined;
    if (table === undefined || !walkLeaves(b, o + 4, o + len, s, base, table)) return false;
    o += step(len);
  }
  return true;
}

/**
 * Leaves of a protocol-state nest: per attribute type, the nla_len it must have and the slot of
 * its value (-1: accepted, not kept). Types missing from a table leave the fast path (DCCP's
 * handshake sequence, a u64, and its padding among them).
 */
type Leaves = readonly (readonly [len: number, slot: number] | undefined)[];
const TCP_LEAVES: Leaves = leaves([
  [CTA_PROTOINFO_TCP.STATE, 5, TCP_STATE],
  [CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, 5, TCP_WSCALE_ORIG],
  [CTA_PROTOINFO_TCP.WSCALE_REPLY, 5, TCP_WSCALE_REPLY],
  [CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, 6, -1], // not replicated
  [CTA_PROTOINFO_TCP.FLAGS_REPLY, 6, -1],
]);
const SCTP_LEAVES: Leaves = leaves([
  [CTA_PROTOINFO_SCTP.STATE, 5, SCTP_STATE],
  [CTA_PROTOINFO_SCTP.VTAG_ORIGINAL, 8, SCTP_VTAG_ORIG],
  [CTA_PROTOINFO_SCTP.VTAG_REPLY, 8, SCTP_VTAG_REPLY],
]);
const DCCP_LEAVES: Leaves = leaves([
  [CTA_PROTOINFO_DCCP.STATE, 5, DCCP_STATE],
  [CTA_PROTOINFO_DCCP.ROLE, 5, DCCP_ROLE],
]);
/** CTA_SYNPROXY: ISN, ITS and TSOFF, u32 each. */
const SYNPROXY_LEAVES: Leaves = leaves([
  [CTA_SYNPROXY.ISN, 8, SYN_ISN],
  [CTA_SYNPROXY.ITS, 8, SYN_ITS],
  [CTA_SYNPROXY.TSOFF, 8, SYN_TSOFF],
]);

function leaves(list: readonly (readonly [type: number, len: number, slot: number])[]): Leaves {
  const t: ([number, number] | undefined)[] = [];
  for (const [type, len, slot] of list) t[type] = [len, slot];
  return Array.from({ length: t.length }, (_, i) => t[i]);
}

/** walkLeaves reads a nest of fixed-size leaves by its table, each type at most once. */
function walkLeaves(b: Uint8Array, start: number, end: number, s: KernelShape, base: number, table: Leaves): boolean {
  let seen = 0;
  for (let o = start; o < end; ) {
    if (end - o < 4) return false;
    const len = nlaU16(b, o);
    const raw = nlaU16(b, o + 2);
    const type = raw & NLA_TYPE_MASK;
    if (len < 4 || len > end - o || type >= 31 || (seen & (1 << type)) !== 0) return false;
    seen |= 1 << type;
    const leaf = table[type];
    if (leaf === undefined || len !== leaf[0]) return false;
    head(s, o - base, len, raw);
    if (leaf[1] >= 0) s.at[leaf[1]] = o + 4 - base;
    o += step(len);
  }
  return true;
}
