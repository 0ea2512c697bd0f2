import type { Conntrack, Expectation, ProtoInfo, Tuple } from '../../ctnetlink/types.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, type Family } from '../../wire/ip.js';

/**
 * CtObj models libnetfilter_conntrack's `struct nf_conntrack` as conntrack(8) uses it: a record of
 * fields plus the set of attributes that were given (ATTR_*). conntrack's templates, filters and
 * update logic depend on exactly which attributes are set (a template with a source address but no
 * port matches any port), so keepstate keeps that model for the command-line side and converts to
 * and from the ctnetlink data model (`Conntrack`) at the kernel boundary.
 */

/** ATTR holds libnetfilter_conntrack's enum nf_conntrack_attr numbers (the order matters for NFCT_CP_META). */
export const ATTR = {
  ORIG_IPV4_SRC: 0,
  ORIG_IPV4_DST: 1,
  REPL_IPV4_SRC: 2,
  REPL_IPV4_DST: 3,
  ORIG_IPV6_SRC: 4,
  ORIG_IPV6_DST: 5,
  REPL_IPV6_SRC: 6,
  REPL_IPV6_DST: 7,
  ORIG_PORT_SRC: 8,
  ORIG_PORT_DST: 9,
  REPL_PORT_SRC: 10,
  REPL_PORT_DST: 11,
  ICMP_TYPE: 12,
  ICMP_CODE: 13,
  ICMP_ID: 14,
  ORIG_L3PROTO: 15,
  REPL_L3PROTO: 16,
  ORIG_L4PROTO: 17,
  REPL_L4PROTO: 18,
  TCP_STATE: 19,
  SNAT_IPV4: 20,
  DNAT_IPV4: 21,
  SNAT_PORT: 22,
  DNAT_PORT: 23,
  TIMEOUT: 24,
  MARK: 25,
  ORIG_COUNTER_PACKETS: 26,
  REPL_COUNTER_PACKETS: 27,
  ORIG_COUNTER_BYTES: 28,
  REPL_COUNTER_BYTES: 29,
  USE: 30,
  ID: 31,
  STATUS: 32,
  TCP_FLAGS_ORIG: 33,
  TCP_FLAGS_REPL: 34,
  TCP_MASK_ORIG: 35,
  TCP_MASK_REPL: 36,
  MASTER_IPV4_SRC: 37,
  MASTER_IPV4_DST: 38,
  MASTER_IPV6_SRC: 39,
  MASTER_IPV6_DST: 40,
  MASTER_PORT_SRC: 41,
  MASTER_PORT_DST: 42,
  MASTER_L3PROTO: 43,
  MASTER_L4PROTO: 44,
  SECMARK: 45,
  ORIG_NAT_SEQ_CORRECTION_POS: 46,
  ORIG_NAT_SEQ_OFFSET_BEFORE: 47,
  ORIG_NAT_SEQ_OFFSET_AFTER: 48,
  REPL_NAT_SEQ_CORRECTION_POS: 49,
  REPL_NAT_SEQ_OFFSET_BEFORE: 50,
  REPL_NAT_SEQ_OFFSET_AFTER: 51,
  SCTP_STATE: 52,
  SCTP_VTAG_ORIG: 53,
  SCTP_VTAG_REPL: 54,
  HELPER_NAME: 55,
  DCCP_STATE: 56,
  DCCP_ROLE: 57,
  DCCP_HANDSHAKE_SEQ: 58,
  TCP_WSCALE_ORIG: 59,
  TCP_WSCALE_REPL: 60,
  ZONE: 61,
  SECCTX: 62,
  TIMESTAMP_START: 63,
  TIMESTAMP_STOP: 64,
  HELPER_INFO: 65,
  CONNLABELS: 66,
  CONNLABELS_MASK: 67,
  ORIG_ZONE: 68,
  REPL_ZONE: 69,
  SNAT_IPV6: 70,
  DNAT_IPV6: 71,
  MAX: 72,
} as const;

/** AF_* as carried in nfgenmsg and in tuples' l3protonum. */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

/** IPPROTO_* numbers the tuple and protoinfo logic distinguishes. */
export const P = { ICMP: 1, TCP: 6, UDP: 17, DCCP: 33, GRE: 47, ICMPV6: 58, SCTP: 132, UDPLITE: 136 } as const;

/** Bitmask is struct nfct_bitmask: `words` 32-bit words of label bits (bit n is label n). */
export class Bitmask {
  readonly words: Uint32Array;
  constructor(maxBit: number) {
    this.words = new Uint32Array((maxBit >>> 5) + 1);
  }
  static fromBytes(b: Uint8Array): Bitmask {
    const m = new Bitmask(Math.max(1, Math.ceil(b.length / 4)) * 32 - 1);
    for (let i = 0; i < b.length * 8; i++) if ((b[i >> 3]! >> (i & 7)) & 1) m.set(i);
    return m;
  }
  get maxBit(): number {
    return this.words.length * 32 - 1;
  }
  test(bit: number): boolean {
    const w = this.words[bit >>> 5];
    return w !== undefined && ((w >>> (bit & 31)) & 1) === 1;
  }
  set(bit: number): void {
    this.words[bit >>> 5] = (this.words[bit >>> 5]! | (1 << (bit & 31))) >>> 0;
  }
  unset(bit: number): void {
    this.words[bit >>> 5] = (this.words[bit >>> 5]! & ~(1 << (bit & 31))) >>> 0;
  }
  clone(): Bitmask {
    const m = new Bitmask(this.maxBit);
    m.words.set(this.words);
    return m;
  }
  /** toBytes gives the bytes CTA_LABELS carries: words in host (little-endian) order, bit n at byte n/8. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.words.length * 4);
    for (let i = 0; i < this.words.length; i++) {
      const w = this.words[i]!;
      out[4 * i] = w & 0xff;
      out[4 * i + 1] = (w >>> 8) & 0xff;
      out[4 * i + 2] = (w >>> 16) & 0xff;
      out[4 * i + 3] = (w >>> 24) & 0xff;
    }
    return out;
  }
}

/**
 * TupleState is struct __nfct_tuple. Addresses are canonical text ('' while never set). The layer-4
 * part is the C union: `l4src`/`l4dst` are its two 16-bit words read in network order, so a port,
 * a GRE key, the ICMP id (l4src) and the ICMP type and code (high and low byte of l4dst) share
 * storage exactly as they do there — conntrack's NAT tests compare these words whatever the
 * protocol, which makes ICMP echo entries count as port-translated.
 */
export class TupleState {
  l3 = 0;
  proto = 0;
  src = '';
  dst = '';
  zone = 0;
  l4src = 0;
  l4dst = 0;
  get sport(): number {
    return this.l4src;
  }
  set sport(v: number) {
    this.l4src = v & 0xffff;
  }
  get dport(): number {
    return this.l4dst;
  }
  set dport(v: number) {
    this.l4dst = v & 0xffff;
  }
  get icmpId(): number {
    return this.l4src;
  }
  set icmpId(v: number) {
    this.l4src = v & 0xffff;
  }
  get icmpType(): number {
    return this.l4dst >> 8;
  }
  set icmpType(v: number) {
    this.l4dst = ((v & 0xff) << 8) | (this.l4dst & 0xff);
  }
  get icmpCode(): number {
    return this.l4dst & 0xff;
  }
  set icmpCode(v: number) {
    this.l4dst = (this.l4dst & 0xff00) | (v & 0xff);
  }
  clone(): TupleState {
    const t = new TupleState();
    Object.assign(t, { l3: this.l3, proto: this.proto, src: this.src, dst: this.dst, zone: this.zone, l4src: this.l4src, l4dst: this.l4dst });
    return t;
  }
}

function emptyTuple(): TupleState {
  return new TupleState();
}

/** NatState is struct __nfct_nat (min_ip and the proto range; max_ip always equals min_ip here). */
export interface NatState {
  ip: string;
  port: number;
}

/** CtObj is struct nf_conntrack: fields plus the ATTR_* bits that are set. */
export class CtObj {
  readonly set = new Uint8Array(ATTR.MAX);
  orig = emptyTuple();
  repl = emptyTuple();
  master = emptyTuple();
  status = 0;
  timeout = 0;
  mark = 0;
  secmark = 0;
  use = 0;
  id = 0;
  zone = 0;
  tcpState = 0;
  tcpFlags = [0, 0];
  tcpMask = [0, 0];
  tcpWscale = [0, 0];
  sctpState = 0;
  sctpVtag = [0, 0];
  dccpState = 0;
  dccpRole = 0;
  dccpHandshakeSeq = 0n;
  snat: NatState = { ip: '', port: 0 };
  dnat: NatState = { ip: '', port: 0 };
  counters = [
    { packets: 0n, bytes: 0n },
    { packets: 0n, bytes: 0n },
  ];
  natSeq = [
    { pos: 0, before: 0, after: 0 },
    { pos: 0, before: 0, after: 0 },
  ];
  helperName = '';
  helperInfo: Uint8Array | undefined;
  secctx: string | undefined;
  tsStart = 0n;
  tsStop = 0n;
  labels: Bitmask | undefined;
  labelsMask: Bitmask | undefined;

  has(a: number): boolean {
    return this.set[a] === 1;
  }
  setBit(a: number): void {
    this.set[a] = 1;
  }
  unset(a: number): void {
    this.set[a] = 0;
  }
  l4proto(): number {
    return this.orig.proto;
  }

  /** setIcmpType is set_attr_icmp_type: the reply type is derived from the original one, for the family set at that moment. */
  setIcmpType(type: number): void {
    this.orig.icmpType = type;
    let r = 0;
    if (this.orig.l3 === AF_INET) r = icmpReplyType(type);
    else if (this.orig.l3 === AF_INET6) r = icmpv6ReplyType(type);
    this.repl.icmpType = r !== 0 ? r - 1 : 255;
    this.setBit(ATTR.ICMP_TYPE);
  }
  setIcmpCode(code: number): void {
    this.orig.icmpCode = code;
    this.repl.icmpCode = code;
    this.setBit(ATTR.ICMP_CODE);
  }
  setIcmpId(id: number): void {
    this.orig.icmpId = id;
    this.repl.icmpId = id;
    this.setBit(ATTR.ICMP_ID);
  }
}

// __icmp_reply_type / __icmpv6_reply_type: reply type + 1, or 0 when the type has no reply.
function icmpReplyType(t: number): number {
  const map: Record<number, number> = { 8: 0 + 1, 0: 8 + 1, 13: 14 + 1, 14: 13 + 1, 15: 16 + 1, 16: 15 + 1, 17: 18 + 1, 18: 17 + 1 };
  return map[t] ?? 0;
}
function icmpv6ReplyType(t: number): number {
  const map: Record<number, number> = { 128: 129 + 1, 129: 128 + 1, 139: 140 + 1, 140: 139 + 1 };
  return map[t] ?? 0;
}

const PORT_PROTOS = new Set<number>([P.TCP, P.UDP, P.SCTP, P.DCCP, P.GRE, P.UDPLITE]);

/** hasPorts tells whether a protocol's tuple carries CTA_PROTO_SRC_PORT/DST_PORT (libnetfilter_conntrack's list). */
export function hasPorts(proto: number): boolean {
  return PORT_PROTOS.has(proto);
}

/** setupReply is NFCT_SOPT_SETUP_REPLY (and setupOriginal NFCT_SOPT_SETUP_ORIGINAL): the other direction, inverted. */
export function setupReply(ct: CtObj): void {
  autocomplete(ct.repl, ct.orig);
  markTuples(ct);
}
export function setupOriginal(ct: CtObj): void {
  autocomplete(ct.orig, ct.repl);
  markTuples(ct);
}
function autocomplete(self: TupleState, other: TupleState): void {
  self.l3 = other.l3;
  self.proto = other.proto;
  self.src = other.dst;
  self.dst = other.src;
  if (PORT_PROTOS.has(self.proto)) {
    self.l4src = other.l4dst;
    self.l4dst = other.l4src;
  }
}
// The C code sets TS_ORIG|TS_REPL: the address, port and l3/l4 bits of both directions.
function markTuples(ct: CtObj): void {
  for (const a of [
    ATTR.ORIG_IPV4_SRC,
    ATTR.ORIG_IPV4_DST,
    ATTR.REPL_IPV4_SRC,
    ATTR.REPL_IPV4_DST,
    ATTR.ORIG_IPV6_SRC,
    ATTR.ORIG_IPV6_DST,
    ATTR.REPL_IPV6_SRC,
    ATTR.REPL_IPV6_DST,
    ATTR.ORIG_PORT_SRC,
    ATTR.ORIG_PORT_DST,
    ATTR.REPL_PORT_SRC,
    ATTR.REPL_PORT_DST,
    ATTR.ORIG_L3PROTO,
    ATTR.REPL_L3PROTO,
    ATTR.ORIG_L4PROTO,
    ATTR.REPL_L4PROTO,
  ])
    ct.setBit(a);
}

// libnetfilter_conntrack's TS_ORIG/TS_REPL bit sets are only the IPv4 and IPv6 address, port and
// protocol bits; the address bits of both families are set, which is harmless because only the
// family's own bits are ever read.

/** isSnat/isDnat/isSpat/isDpat are NFCT_GOPT_IS_SNAT/DNAT/SPAT/DPAT. */
export function isSnat(ct: CtObj): boolean {
  if (ct.has(ATTR.STATUS) && (ct.status & IPS_SRC_NAT_DONE) === 0) return false;
  if (ct.orig.l3 !== AF_INET && ct.orig.l3 !== AF_INET6) return false;
  return ct.repl.dst !== ct.orig.src;
}
export function isDnat(ct: CtObj): boolean {
  if (ct.has(ATTR.STATUS) && (ct.status & IPS_DST_NAT_DONE) === 0) return false;
  if (ct.orig.l3 !== AF_INET && ct.orig.l3 !== AF_INET6) return false;
  return ct.repl.src !== ct.orig.dst;
}
export function isSpat(ct: CtObj): boolean {
  return (ct.has(ATTR.STATUS) ? (ct.status & IPS_SRC_NAT_DONE) !== 0 : true) && ct.repl.l4dst !== ct.orig.l4src;
}
export function isDpat(ct: CtObj): boolean {
  return (ct.has(ATTR.STATUS) ? (ct.status & IPS_DST_NAT_DONE) !== 0 : true) && ct.repl.l4src !== ct.orig.l4dst;
}
const IPS_SRC_NAT_DONE = 1 << 7;
const IPS_DST_NAT_DONE = 1 << 8;
const IPS_CONFIRMED = 1 << 3;

/** familyNumber maps the model's family to AF_*. */
export function familyNumber(f: Family): number {
  return f === 'ipv4' ? AF_INET : AF_INET6;
}
/** familyName maps AF_* to the model's family (undefined for anything else). */
export function familyName(af: number): Family | undefined {
  return af === AF_INET ? 'ipv4' : af === AF_INET6 ? 'ipv6' : undefined;
}

/** addrText formats address bytes canonically (the model's form). */
export function addrText(b: Uint8Array): string {
  return b.length === 4 ? formatIPv4(b) : formatIPv6(b);
}
/** addrBytes parses canonical text back (16 zero bytes or 4 for the unset '' of a family). */
export function addrBytes(text: string, af: number): Uint8Array {
  if (text === '') return new Uint8Array(af === AF_INET6 ? 16 : 4);
  return (af === AF_INET6 ? parseIPv6(text) : parseIPv4(text)) ?? new Uint8Array(af === AF_INET6 ? 16 : 4);
}
function zeroAddr(af: number): string {
  return af === AF_INET6 ? '::' : '0.0.0.0';
}

const ADDR_ATTRS = {
  orig: [ATTR.ORIG_IPV4_SRC, ATTR.ORIG_IPV4_DST, ATTR.ORIG_IPV6_SRC, ATTR.ORIG_IPV6_DST, ATTR.ORIG_PORT_SRC, ATTR.ORIG_PORT_DST, ATTR.ORIG_L3PROTO, ATTR.ORIG_L4PROTO, ATTR.ORIG_ZONE],
  repl: [ATTR.REPL_IPV4_SRC, ATTR.REPL_IPV4_DST, ATTR.REPL_IPV6_SRC, ATTR.REPL_IPV6_DST, ATTR.REPL_PORT_SRC, ATTR.REPL_PORT_DST, ATTR.REPL_L3PROTO, ATTR.REPL_L4PROTO, ATTR.REPL_ZONE],
} as const;

/** fromModel is nfct_nlmsg_parse: which attributes a decoded entry has set follows what the kernel sent. */
export function fromModel(c: Conntrack): CtObj {
  const ct = new CtObj();
  const af = familyNumber(c.family);
  if (c.orig !== undefined) {
    ct.orig.l3 = af;
    ct.setBit(ATTR.ORIG_L3PROTO);
    tupleFromModel(ct, c.orig, ct.orig, 'orig');
  }
  if (c.reply !== undefined) {
    ct.repl.l3 = af;
    ct.setBit(ATTR.REPL_L3PROTO);
    tupleFromModel(ct, c.reply, ct.repl, 'repl');
  }
  if (c.master !== undefined) {
    ct.master.l3 = af;
    ct.setBit(ATTR.MASTER_L3PROTO);
    tupleFromModel(ct, c.master, ct.master, 'master');
  }
  if (c.seqAdjOrig !== undefined) {
    ct.natSeq[0] = { pos: c.seqAdjOrig.correctionPos, before: c.seqAdjOrig.offsetBefore, after: c.seqAdjOrig.offsetAfter };
    ct.setBit(ATTR.ORIG_NAT_SEQ_CORRECTION_POS);
    ct.setBit(ATTR.ORIG_NAT_SEQ_OFFSET_BEFORE);
    ct.setBit(ATTR.ORIG_NAT_SEQ_OFFSET_AFTER);
  }
  if (c.seqAdjReply !== undefined) {
    ct.natSeq[1] = { pos: c.seqAdjReply.correctionPos, before: c.seqAdjReply.offsetBefore, after: c.seqAdjReply.offsetAfter };
    ct.setBit(ATTR.REPL_NAT_SEQ_CORRECTION_POS);
    ct.setBit(ATTR.REPL_NAT_SEQ_OFFSET_BEFORE);
    ct.setBit(ATTR.REPL_NAT_SEQ_OFFSET_AFTER);
  }
  if (c.status !== undefined) {
    ct.status = c.status;
    ct.setBit(ATTR.STATUS);
  }
  const pi = c.protoinfo;
  if (pi?.tcp !== undefined) {
    const t = pi.tcp;
    if (t.state !== undefined) {
      ct.tcpState = t.state;
      ct.setBit(ATTR.TCP_STATE);
    }
    if (t.wscaleOrig !== undefined) {
      ct.tcpWscale[0] = t.wscaleOrig;
      ct.setBit(ATTR.TCP_WSCALE_ORIG);
    }
    if (t.wscaleReply !== undefined) {
      ct.tcpWscale[1] = t.wscaleReply;
      ct.setBit(ATTR.TCP_WSCALE_REPL);
    }
    if (t.flagsOrig !== undefined) {
      ct.tcpFlags[0] = t.flagsOrig.flags;
      ct.tcpMask[0] = t.flagsOrig.mask;
      ct.setBit(ATTR.TCP_FLAGS_ORIG);
      ct.setBit(ATTR.TCP_MASK_ORIG);
    }
    if (t.flagsReply !== undefined) {
      ct.tcpFlags[1] = t.flagsReply.flags;
      ct.tcpMask[1] = t.flagsReply.mask;
      ct.setBit(ATTR.TCP_FLAGS_REPL);
      ct.setBit(ATTR.TCP_MASK_REPL);
    }
  }
  if (pi?.sctp !== undefined) {
    const s = pi.sctp;
    if (s.state !== undefined) {
      ct.sctpState = s.state;
      ct.setBit(ATTR.SCTP_STATE);
    }
    if (s.vtagOrig !== undefined) {
      ct.sctpVtag[0] = s.vtagOrig;
      ct.setBit(ATTR.SCTP_VTAG_ORIG);
    }
    if (s.vtagReply !== undefined) {
      ct.sctpVtag[1] = s.vtagReply;
      ct.setBit(ATTR.SCTP_VTAG_REPL);
    }
  }
  if (pi?.dccp !== undefined) {
    const d = pi.dccp;
    if (d.state !== undefined) {
      ct.dccpState = d.state;
      ct.setBit(ATTR.DCCP_STATE);
    }
    if (d.role !== undefined) {
      ct.dccpRole = d.role;
      ct.setBit(ATTR.DCCP_ROLE);
    }
    if (d.handshakeSeq !== undefined) {
      ct.dccpHandshakeSeq = d.handshakeSeq;
      ct.setBit(ATTR.DCCP_HANDSHAKE_SEQ);
    }
  }
  if (c.timeout !== undefined) {
    ct.timeout = c.timeout;
    ct.setBit(ATTR.TIMEOUT);
  }
  if (c.mark !== undefined) {
    ct.mark = c.mark;
    ct.setBit(ATTR.MARK);
  }
  if (c.secmark !== undefined) {
    ct.secmark = c.secmark;
    ct.setBit(ATTR.SECMARK);
  }
  if (c.countersOrig !== undefined) {
    ct.counters[0] = { packets: c.countersOrig.packets, bytes: c.countersOrig.bytes };
    ct.setBit(ATTR.ORIG_COUNTER_PACKETS);
    ct.setBit(ATTR.ORIG_COUNTER_BYTES);
  }
  if (c.countersReply !== undefined) {
    ct.counters[1] = { packets: c.countersReply.packets, bytes: c.countersReply.bytes };
    ct.setBit(ATTR.REPL_COUNTER_PACKETS);
    ct.setBit(ATTR.REPL_COUNTER_BYTES);
  }
  if (c.use !== undefined) {
    ct.use = c.use;
    ct.setBit(ATTR.USE);
  }
  if (c.id !== undefined) {
    ct.id = c.id;
    ct.setBit(ATTR.ID);
  }
  if (c.helper !== undefined) {
    ct.helperName = c.helper;
    ct.setBit(ATTR.HELPER_NAME);
    if (c.helperInfo !== undefined) {
      ct.helperInfo = c.helperInfo;
      ct.setBit(ATTR.HELPER_INFO);
    }
  }
  if (c.zone !== undefined) {
    ct.zone = c.zone;
    ct.setBit(ATTR.ZONE);
  }
  if (c.secctx !== undefined) {
    ct.secctx = c.secctx;
    ct.setBit(ATTR.SECCTX);
  }
  if (c.timestamp !== undefined) {
    if (c.timestamp.start !== undefined) {
      ct.tsStart = c.timestamp.start;
      ct.setBit(ATTR.TIMESTAMP_START);
    }
    if (c.timestamp.stop !== undefined) {
      ct.tsStop = c.timestamp.stop;
      ct.setBit(ATTR.TIMESTAMP_STOP);
    }
  }
  if (c.labels !== undefined) {
    ct.labels = Bitmask.fromBytes(c.labels);
    ct.setBit(ATTR.CONNLABELS);
  }
  return ct;
}

function tupleFromModel(ct: CtObj, t: Tuple, into: TupleState, dir: 'orig' | 'repl' | 'master'): void {
  const v6 = t.family === 'ipv6';
  const base = dir === 'orig' ? 0 : dir === 'repl' ? 2 : -1;
  into.src = t.src;
  into.dst = t.dst;
  if (dir === 'master') {
    ct.setBit(v6 ? ATTR.MASTER_IPV6_SRC : ATTR.MASTER_IPV4_SRC);
    ct.setBit(v6 ? ATTR.MASTER_IPV6_DST : ATTR.MASTER_IPV4_DST);
  } else {
    ct.setBit((v6 ? ATTR.ORIG_IPV6_SRC : ATTR.ORIG_IPV4_SRC) + base);
    ct.setBit((v6 ? ATTR.ORIG_IPV6_DST : ATTR.ORIG_IPV4_DST) + base);
  }
  into.proto = t.proto;
  ct.setBit(dir === 'orig' ? ATTR.ORIG_L4PROTO : dir === 'repl' ? ATTR.REPL_L4PROTO : ATTR.MASTER_L4PROTO);
  if (t.srcPort !== undefined) {
    into.sport = t.srcPort;
    ct.setBit(dir === 'orig' ? ATTR.ORIG_PORT_SRC : dir === 'repl' ? ATTR.REPL_PORT_SRC : ATTR.MASTER_PORT_SRC);
  }
  if (t.dstPort !== undefined) {
    into.dport = t.dstPort;
    ct.setBit(dir === 'orig' ? ATTR.ORIG_PORT_DST : dir === 'repl' ? ATTR.REPL_PORT_DST : ATTR.MASTER_PORT_DST);
  }
  // ICMP fields: the kernel sends them for both directions; libnetfilter_conntrack has one
  // ATTR bit for each, set by whichever direction carried it.
  if (t.icmpId !== undefined) {
    into.icmpId = t.icmpId;
    ct.setBit(ATTR.ICMP_ID);
  }
  if (t.icmpType !== undefined) {
    into.icmpType = t.icmpType;
    ct.setBit(ATTR.ICMP_TYPE);
  }
  if (t.icmpCode !== undefined) {
    into.icmpCode = t.icmpCode;
    ct.setBit(ATTR.ICMP_CODE);
  }
  if (t.zone !== undefined && dir !== 'master') {
    into.zone = t.zone;
    ct.setBit(dir === 'orig' ? ATTR.ORIG_ZONE : ATTR.REPL_ZONE);
  }
}

/** tupleToModel is nfct_build_tuple_raw: undefined when the family is neither IPv4 nor IPv6 (the C code drops the nest). */
function tupleToModel(t: TupleState, withZone: boolean): Tuple | undefined {
  const family = familyName(t.l3);
  if (family === undefined) return undefined;
  const out: {
    family: Family;
    src: string;
    dst: string;
    proto: number;
    srcPort?: number;
    dstPort?: number;
    icmpId?: number;
    icmpType?: number;
    icmpCode?: number;
    zone?: number;
  } = { family, src: t.src === '' ? zeroAddr(t.l3) : t.src, dst: t.dst === '' ? zeroAddr(t.l3) : t.dst, proto: t.proto };
  if (PORT_PROTOS.has(t.proto)) {
    out.srcPort = t.sport;
    out.dstPort = t.dport;
  } else if (t.proto === P.ICMP || t.proto === P.ICMPV6) {
    out.icmpCode = t.icmpCode;
    out.icmpType = t.icmpType;
    out.icmpId = t.icmpId;
  }
  if (withZone) out.zone = t.zone;
  return out;
}

/** BuildError is a request libnetfilter_conntrack would refuse to build, with the errno it leaves. */
export class BuildError extends Error {
  override readonly name = 'BuildError';
  constructor(readonly errno: number) {
    super(`cannot build the request (errno ${errno})`);
  }
}

/** nfgenFamily is what a request's nfgen_family would be: `AF_UNSPEC` is expressed as undefined. */
export type RequestFamily = Family | undefined;

/**
 * toModel is nfct_nlmsg_build: the attributes a request carries for this object. `family` is the
 * request's nfgen_family (conntrack uses its command family, or the entry's own for deletes).
 */
export function toModel(ct: CtObj, family: Family): Conntrack {
  // The library refuses to build a request without the original tuple's family.
  if (!ct.has(ATTR.ORIG_L3PROTO)) throw new BuildError(22);
  const out: {
    family: Family;
    orig?: Tuple;
    reply?: Tuple;
    master?: Tuple;
    status?: number;
    timeout?: number;
    mark?: number;
    secmark?: number;
    protoinfo?: ProtoInfo;
    natSrc?: { minIp?: string; maxIp?: string; minPort?: number; maxPort?: number };
    natDst?: { minIp?: string; maxIp?: string; minPort?: number; maxPort?: number };
    seqAdjOrig?: { correctionPos: number; offsetBefore: number; offsetAfter: number };
    seqAdjReply?: { correctionPos: number; offsetBefore: number; offsetAfter: number };
    helper?: string;
    helperInfo?: Uint8Array;
    zone?: number;
    labels?: Uint8Array;
    labelsMask?: Uint8Array;
  } = { family };
  if (ADDR_ATTRS.orig.some((a) => ct.has(a)) || ct.has(ATTR.ICMP_TYPE) || ct.has(ATTR.ICMP_CODE) || ct.has(ATTR.ICMP_ID)) {
    const t = tupleToModel(ct.orig, ct.has(ATTR.ORIG_ZONE));
    if (t !== undefined) out.orig = t;
  }
  if (ADDR_ATTRS.repl.some((a) => ct.has(a))) {
    const t = tupleToModel(ct.repl, ct.has(ATTR.REPL_ZONE));
    if (t !== undefined) out.reply = t;
  }
  if (
    [ATTR.MASTER_IPV4_SRC, ATTR.MASTER_IPV4_DST, ATTR.MASTER_IPV6_SRC, ATTR.MASTER_IPV6_DST, ATTR.MASTER_PORT_SRC, ATTR.MASTER_PORT_DST, ATTR.MASTER_L3PROTO, ATTR.MASTER_L4PROTO].some((a) =>
      ct.has(a),
    )
  ) {
    const t = tupleToModel(ct.master, false);
    if (t !== undefined) out.master = t;
  }
  // nfct_build_status always adds IPS_CONFIRMED: the kernel refuses new entries without it.
  if (ct.has(ATTR.STATUS)) out.status = (ct.status | IPS_CONFIRMED) >>> 0;
  if (ct.has(ATTR.TIMEOUT)) out.timeout = ct.timeout;
  if (ct.has(ATTR.MARK)) out.mark = ct.mark;
  if (ct.has(ATTR.SECMARK)) out.secmark = ct.secmark;
  const pi = protoinfoToModel(ct);
  if (pi !== undefined) out.protoinfo = pi;
  const l4 = ct.orig.proto;
  const natPorts = l4 === P.TCP || l4 === P.UDP;
  const snat4 = ct.has(ATTR.SNAT_IPV4) || ct.has(ATTR.SNAT_IPV6);
  if (snat4 && ct.has(ATTR.SNAT_PORT)) out.natSrc = natPorts ? { minIp: ct.snat.ip, minPort: ct.snat.port, maxPort: ct.snat.port } : { minIp: ct.snat.ip };
  else if (snat4) out.natSrc = { minIp: ct.snat.ip };
  else if (ct.has(ATTR.SNAT_PORT)) out.natSrc = natPorts ? { minPort: ct.snat.port, maxPort: ct.snat.port } : {};
  const dnat4 = ct.has(ATTR.DNAT_IPV4) || ct.has(ATTR.DNAT_IPV6);
  if (dnat4 && ct.has(ATTR.DNAT_PORT)) out.natDst = natPorts ? { minIp: ct.dnat.ip, minPort: ct.dnat.port, maxPort: ct.dnat.port } : { minIp: ct.dnat.ip };
  else if (dnat4) out.natDst = { minIp: ct.dnat.ip };
  else if (ct.has(ATTR.DNAT_PORT)) out.natDst = natPorts ? { minPort: ct.dnat.port, maxPort: ct.dnat.port } : {};
  if (ct.has(ATTR.ORIG_NAT_SEQ_CORRECTION_POS) && ct.has(ATTR.ORIG_NAT_SEQ_OFFSET_BEFORE) && ct.has(ATTR.ORIG_NAT_SEQ_OFFSET_AFTER)) {
    const s = ct.natSeq[0]!;
    out.seqAdjOrig = { correctionPos: s.pos, offsetBefore: s.before, offsetAfter: s.after };
  }
  if (ct.has(ATTR.REPL_NAT_SEQ_CORRECTION_POS) && ct.has(ATTR.REPL_NAT_SEQ_OFFSET_BEFORE) && ct.has(ATTR.REPL_NAT_SEQ_OFFSET_AFTER)) {
    const s = ct.natSeq[1]!;
    out.seqAdjReply = { correctionPos: s.pos, offsetBefore: s.before, offsetAfter: s.after };
  }
  if (ct.has(ATTR.HELPER_NAME)) {
    out.helper = ct.helperName;
    if (ct.helperInfo !== undefined) out.helperInfo = ct.helperInfo;
  }
  if (ct.has(ATTR.ZONE)) out.zone = ct.zone;
  if (ct.has(ATTR.CONNLABELS) && ct.labels !== undefined) {
    out.labels = ct.labels.toBytes();
    if (ct.has(ATTR.CONNLABELS_MASK) && ct.labelsMask !== undefined && ct.labelsMask.words.length === ct.labels.words.length)
      out.labelsMask = ct.labelsMask.toBytes();
  }
  return out;
}

function protoinfoToModel(ct: CtObj): ProtoInfo | undefined {
  switch (ct.orig.proto) {
    case P.TCP: {
      const has = (a: number): boolean => ct.has(a);
      if (![ATTR.TCP_STATE, ATTR.TCP_FLAGS_ORIG, ATTR.TCP_FLAGS_REPL, ATTR.TCP_MASK_ORIG, ATTR.TCP_MASK_REPL, ATTR.TCP_WSCALE_ORIG, ATTR.TCP_WSCALE_REPL].some(has)) return undefined;
      const tcp: {
        state?: number;
        wscaleOrig?: number;
        wscaleReply?: number;
        flagsOrig?: { flags: number; mask: number };
        flagsReply?: { flags: number; mask: number };
      } = {};
      if (has(ATTR.TCP_STATE)) tcp.state = ct.tcpState;
      if (has(ATTR.TCP_FLAGS_ORIG) && has(ATTR.TCP_MASK_ORIG)) tcp.flagsOrig = { flags: ct.tcpFlags[0]!, mask: ct.tcpMask[0]! };
      if (has(ATTR.TCP_FLAGS_REPL) && has(ATTR.TCP_MASK_REPL)) tcp.flagsReply = { flags: ct.tcpFlags[1]!, mask: ct.tcpMask[1]! };
      if (has(ATTR.TCP_WSCALE_ORIG)) tcp.wscaleOrig = ct.tcpWscale[0]!;
      if (has(ATTR.TCP_WSCALE_REPL)) tcp.wscaleReply = ct.tcpWscale[1]!;
      return { tcp };
    }
    case P.SCTP: {
      if (!ct.has(ATTR.SCTP_STATE) && !ct.has(ATTR.SCTP_VTAG_ORIG) && !ct.has(ATTR.SCTP_VTAG_REPL)) return undefined;
      const sctp: { state?: number; vtagOrig?: number; vtagReply?: number } = {};
      if (ct.has(ATTR.SCTP_STATE)) sctp.state = ct.sctpState;
      if (ct.has(ATTR.SCTP_VTAG_ORIG)) sctp.vtagOrig = ct.sctpVtag[0]!;
      if (ct.has(ATTR.SCTP_VTAG_REPL)) sctp.vtagReply = ct.sctpVtag[1]!;
      return { sctp };
    }
    case P.DCCP: {
      if (!ct.has(ATTR.DCCP_STATE) && !ct.has(ATTR.DCCP_ROLE) && !ct.has(ATTR.DCCP_HANDSHAKE_SEQ)) return undefined;
      const dccp: { state?: number; role?: number; handshakeSeq?: bigint } = {};
      if (ct.has(ATTR.DCCP_STATE)) dccp.state = ct.dccpState;
      if (ct.has(ATTR.DCCP_ROLE)) dccp.role = ct.dccpRole;
      if (ct.has(ATTR.DCCP_HANDSHAKE_SEQ)) dccp.handshakeSeq = ct.dccpHandshakeSeq;
      return { dccp };
    }
    default:
      return undefined;
  }
}

/** expTupleToModel is nfct_build_tuple for an expectation's tuple (no zone). */
export function expTupleToModel(t: TupleState): Tuple | undefined {
  return tupleToModel(t, false);
}

/** ExpParts are the parts of an expectation request (struct nf_expect as conntrack fills it). */
export interface ExpParts {
  master?: CtObj;
  expected?: CtObj;
  mask?: CtObj;
  timeout?: number;
}

/** expToModel is nfexp_nlmsg_build; nfgen_family is the master's family, else the expected tuple's. */
export function expToModel(p: ExpParts): Expectation | undefined {
  let af = 0;
  if (p.master?.has(ATTR.ORIG_L3PROTO) === true) af = p.master.orig.l3;
  else if (p.expected?.has(ATTR.ORIG_L3PROTO) === true) af = p.expected.orig.l3;
  const family = familyName(af);
  if (family === undefined) return undefined;
  const out: { family: Family; master?: Tuple; tuple?: Tuple; mask?: Tuple; timeout?: number } = { family };
  if (p.expected !== undefined) {
    const t = tupleToModel(p.expected.orig, false);
    if (t !== undefined) out.tuple = t;
  }
  if (p.master !== undefined) {
    const t = tupleToModel(p.master.orig, false);
    if (t !== undefined) out.master = t;
  }
  if (p.mask !== undefined) {
    const t = tupleToModel(p.mask.orig, false);
    if (t !== undefined) out.mask = t;
  }
  if (p.timeout !== undefined) out.timeout = p.timeout;
  return out;
}

/** Compare flags (NFCT_CMP_*). */
export const CMP = { ALL: 0, ORIG: 1 << 0, REPL: 1 << 1, TIMEOUT_EQ: 1 << 2, TIMEOUT_GT: 1 << 3, TIMEOUT_LT: 1 << 4, MASK: 1 << 5, STRICT: 1 << 6 } as const;

type CmpFn = (a: CtObj, b: CtObj, flags: number) => boolean;

function cmpAttr(attr: number, a: CtObj, b: CtObj, flags: number, fn: CmpFn, strict: boolean): boolean {
  const x = a.has(attr);
  const y = b.has(attr);
  if (x && y) return fn(a, b, flags);
  if (!x && !y) return true;
  if ((flags & CMP.MASK) !== 0 && x) return strict ? false : fn(a, b, flags);
  if ((flags & CMP.STRICT) !== 0) return strict ? false : fn(a, b, flags);
  return true;
}

function cmpIcmp(a: CtObj, b: CtObj, flags: number): boolean {
  return (
    cmpAttr(ATTR.ICMP_ID, a, b, flags, (p, q) => p.orig.icmpId === q.orig.icmpId, true) &&
    cmpAttr(ATTR.ICMP_CODE, a, b, flags, (p, q) => p.orig.icmpCode === q.orig.icmpCode, true) &&
    cmpAttr(ATTR.ICMP_TYPE, a, b, flags, (p, q) => p.orig.icmpType === q.orig.icmpType, true)
  );
}

function cmpOrig(a: CtObj, b: CtObj, flags: number): boolean {
  return (
    cmpAttr(ATTR.ORIG_L3PROTO, a, b, flags, (p, q) => p.orig.l3 === q.orig.l3, true) &&
    cmpAttr(
      ATTR.ORIG_L4PROTO,
      a,
      b,
      flags,
      (p, q, f) => {
        if (p.orig.proto !== q.orig.proto) return false;
        if (p.orig.proto === P.ICMP || p.orig.proto === P.ICMPV6) return cmpIcmp(p, q, f);
        if (p.orig.proto === P.TCP || p.orig.proto === P.UDP || p.orig.proto === P.UDPLITE || p.orig.proto === P.DCCP || p.orig.proto === P.SCTP)
          return (
            cmpAttr(ATTR.ORIG_PORT_SRC, p, q, f, (x, y) => x.orig.sport === y.orig.sport, true) &&
            cmpAttr(ATTR.ORIG_PORT_DST, p, q, f, (x, y) => x.orig.dport === y.orig.dport, true)
          );
        return true;
      },
      true,
    ) &&
    cmpAttr(ATTR.ORIG_IPV4_SRC, a, b, flags, (p, q) => p.orig.src === q.orig.src, true) &&
    cmpAttr(ATTR.ORIG_IPV4_DST, a, b, flags, (p, q) => p.orig.dst === q.orig.dst, true) &&
    cmpAttr(ATTR.ORIG_IPV6_SRC, a, b, flags, (p, q) => p.orig.src === q.orig.src, true) &&
    cmpAttr(ATTR.ORIG_IPV6_DST, a, b, flags, (p, q) => p.orig.dst === q.orig.dst, true) &&
    cmpAttr(ATTR.ORIG_ZONE, a, b, flags, (p, q) => zoneOf(p, ATTR.ORIG_ZONE) === zoneOf(q, ATTR.ORIG_ZONE), false)
  );
}

function cmpRepl(a: CtObj, b: CtObj, flags: number): boolean {
  return (
    cmpAttr(ATTR.REPL_L3PROTO, a, b, flags, (p, q) => p.repl.l3 === q.repl.l3, true) &&
    cmpAttr(
      ATTR.REPL_L4PROTO,
      a,
      b,
      flags,
      (p, q, f) => {
        if (p.repl.proto !== q.repl.proto) return false;
        if (p.repl.proto === P.ICMP || p.repl.proto === P.ICMPV6) return cmpIcmp(p, q, f);
        if (p.repl.proto === P.TCP || p.repl.proto === P.UDP || p.repl.proto === P.UDPLITE || p.repl.proto === P.DCCP || p.repl.proto === P.SCTP)
          return (
            cmpAttr(ATTR.REPL_PORT_SRC, p, q, f, (x, y) => x.repl.sport === y.repl.sport, true) &&
            cmpAttr(ATTR.REPL_PORT_DST, p, q, f, (x, y) => x.repl.dport === y.repl.dport, true)
          );
        return true;
      },
      true,
    ) &&
    cmpAttr(ATTR.REPL_IPV4_SRC, a, b, flags, (p, q) => p.repl.src === q.repl.src, true) &&
    cmpAttr(ATTR.REPL_IPV4_DST, a, b, flags, (p, q) => p.repl.dst === q.repl.dst, true) &&
    cmpAttr(ATTR.REPL_IPV6_SRC, a, b, flags, (p, q) => p.repl.src === q.repl.src, true) &&
    cmpAttr(ATTR.REPL_IPV6_DST, a, b, flags, (p, q) => p.repl.dst === q.repl.dst, true) &&
    cmpAttr(ATTR.REPL_ZONE, a, b, flags, (p, q) => zoneOf(p, ATTR.REPL_ZONE) === zoneOf(q, ATTR.REPL_ZONE), false)
  );
}

// nfct_get_attr_u16 of an unset zone reads 0 (the getters return the field, the struct is zeroed).
function zoneOf(c: CtObj, a: number): number {
  if (!c.has(a)) return 0;
  return a === ATTR.ORIG_ZONE ? c.orig.zone : a === ATTR.REPL_ZONE ? c.repl.zone : c.zone;
}

function labelsEqual(a: Bitmask | undefined, b: Bitmask | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const [long, short] = a.words.length >= b.words.length ? [a, b] : [b, a];
  for (let i = short.words.length; i < long.words.length; i++) if (long.words[i] !== 0) return false;
  for (let i = 0; i < short.words.length; i++) if (a.words[i] !== b.words[i]) return false;
  return true;
}

function cmpMeta(a: CtObj, b: CtObj, flags: number): boolean {
  return (
    cmpAttr(ATTR.ID, a, b, flags, (p, q) => p.id === q.id, true) &&
    cmpAttr(ATTR.MARK, a, b, flags, (p, q) => (p.has(ATTR.MARK) ? p.mark : 0) === (q.has(ATTR.MARK) ? q.mark : 0), false) &&
    cmpAttr(ATTR.TIMEOUT, a, b, flags, cmpTimeout, true) &&
    cmpAttr(ATTR.STATUS, a, b, flags, (p, q) => ((p.status & q.status) >>> 0) === p.status >>> 0, true) &&
    cmpAttr(ATTR.TCP_STATE, a, b, flags, (p, q) => p.tcpState === q.tcpState, true) &&
    cmpAttr(ATTR.SCTP_STATE, a, b, flags, (p, q) => p.sctpState === q.sctpState, true) &&
    cmpAttr(ATTR.DCCP_STATE, a, b, flags, (p, q) => p.dccpState === q.dccpState, true) &&
    cmpAttr(ATTR.ZONE, a, b, flags, (p, q) => zoneOf(p, ATTR.ZONE) === zoneOf(q, ATTR.ZONE), false) &&
    cmpAttr(ATTR.SECCTX, a, b, flags, (p, q) => p.secctx === q.secctx, true) &&
    cmpAttr(ATTR.CONNLABELS, a, b, flags, (p, q) => labelsEqual(p.labels, q.labels), true) &&
    cmpAttr(ATTR.CONNLABELS_MASK, a, b, flags, (p, q) => labelsEqual(p.labelsMask, q.labelsMask), true)
  );
}

function cmpTimeout(a: CtObj, b: CtObj, flags: number): boolean {
  if ((flags & (CMP.TIMEOUT_GT | CMP.TIMEOUT_LT | CMP.TIMEOUT_EQ)) === 0 && a.timeout === b.timeout) return true;
  // The C code tests NFCT_CMP_TIMEOUT_LE|GT to decide whether a comparison mode was asked for.
  if ((flags & CMP.TIMEOUT_GT) !== 0 && a.timeout > b.timeout) return true;
  if ((flags & CMP.TIMEOUT_LT) !== 0 && a.timeout < b.timeout) return true;
  if ((flags & CMP.TIMEOUT_EQ) !== 0 && a.timeout === b.timeout) return true;
  return false;
}

/** cmp is nfct_cmp: true when `a` (usually a template) matches `b` under `flags`. */
export function cmp(a: CtObj, b: CtObj, flags: number): boolean {
  if ((flags & ~(CMP.MASK | CMP.STRICT)) === CMP.ALL) return cmpMeta(a, b, flags) && cmpOrig(a, b, flags) && cmpRepl(a, b, flags);
  if ((flags & CMP.ORIG) !== 0 && !cmpOrig(a, b, flags)) return false;
  if ((flags & CMP.REPL) !== 0 && !cmpRepl(a, b, flags)) return false;
  return true;
}

/** copyOrig is nfct_copy(…, NFCT_CP_ORIG): the original tuple's address/port/ICMP/protocol attributes. */
export function copyOrig(dst: CtObj, src: CtObj): void {
  for (const a of [
    ATTR.ORIG_IPV4_SRC,
    ATTR.ORIG_IPV4_DST,
    ATTR.ORIG_IPV6_SRC,
    ATTR.ORIG_IPV6_DST,
    ATTR.ORIG_PORT_SRC,
    ATTR.ORIG_PORT_DST,
    ATTR.ICMP_TYPE,
    ATTR.ICMP_CODE,
    ATTR.ICMP_ID,
    ATTR.ORIG_L3PROTO,
    ATTR.ORIG_L4PROTO,
  ]) {
    if (!src.has(a)) continue;
    copyAttr(dst, src, a);
    dst.setBit(a);
  }
}

/** copyMeta is nfct_copy(…, NFCT_CP_META): every attribute from ATTR_TCP_STATE on. */
export function copyMeta(dst: CtObj, src: CtObj): void {
  for (let a = ATTR.TCP_STATE; a < ATTR.MAX; a++) {
    if (!src.has(a)) continue;
    copyAttr(dst, src, a);
    dst.setBit(a);
  }
}

function copyAttr(d: CtObj, s: CtObj, a: number): void {
  switch (a) {
    case ATTR.ORIG_IPV4_SRC:
    case ATTR.ORIG_IPV6_SRC:
      d.orig.src = s.orig.src;
      return;
    case ATTR.ORIG_IPV4_DST:
    case ATTR.ORIG_IPV6_DST:
      d.orig.dst = s.orig.dst;
      return;
    case ATTR.ORIG_PORT_SRC:
      d.orig.sport = s.orig.sport;
      return;
    case ATTR.ORIG_PORT_DST:
      d.orig.dport = s.orig.dport;
      return;
    // The copy functions of the ICMP attributes copy the original direction's field only.
    case ATTR.ICMP_TYPE:
      d.orig.icmpType = s.orig.icmpType;
      return;
    case ATTR.ICMP_CODE:
      d.orig.icmpCode = s.orig.icmpCode;
      return;
    case ATTR.ICMP_ID:
      d.orig.icmpId = s.orig.icmpId;
      return;
    case ATTR.ORIG_L3PROTO:
      d.orig.l3 = s.orig.l3;
      return;
    case ATTR.ORIG_L4PROTO:
      d.orig.proto = s.orig.proto;
      return;
    case ATTR.TCP_STATE:
      d.tcpState = s.tcpState;
      return;
    case ATTR.SNAT_IPV4:
    case ATTR.SNAT_IPV6:
      d.snat.ip = s.snat.ip;
      return;
    case ATTR.DNAT_IPV4:
    case ATTR.DNAT_IPV6:
      d.dnat.ip = s.dnat.ip;
      return;
    case ATTR.SNAT_PORT:
      d.snat.port = s.snat.port;
      return;
    case ATTR.DNAT_PORT:
      d.dnat.port = s.dnat.port;
      return;
    case ATTR.TIMEOUT:
      d.timeout = s.timeout;
      return;
    case ATTR.MARK:
      d.mark = s.mark;
      return;
    case ATTR.ORIG_COUNTER_PACKETS:
    case ATTR.ORIG_COUNTER_BYTES:
      d.counters[0] = { ...s.counters[0]! };
      return;
    case ATTR.REPL_COUNTER_PACKETS:
    case ATTR.REPL_COUNTER_BYTES:
      d.counters[1] = { ...s.counters[1]! };
      return;
    case ATTR.USE:
      d.use = s.use;
      return;
    case ATTR.ID:
      d.id = s.id;
      return;
    case ATTR.STATUS:
      d.status = s.status;
      return;
    case ATTR.TCP_FLAGS_ORIG:
      d.tcpFlags[0] = s.tcpFlags[0]!;
      return;
    case ATTR.TCP_FLAGS_REPL:
      d.tcpFlags[1] = s.tcpFlags[1]!;
      return;
    case ATTR.TCP_MASK_ORIG:
      d.tcpMask[0] = s.tcpMask[0]!;
      return;
    case ATTR.TCP_MASK_REPL:
      d.tcpMask[1] = s.tcpMask[1]!;
      return;
    case ATTR.SECMARK:
      d.secmark = s.secmark;
      return;
    case ATTR.SCTP_STATE:
      d.sctpState = s.sctpState;
      return;
    case ATTR.SCTP_VTAG_ORIG:
      d.sctpVtag[0] = s.sctpVtag[0]!;
      return;
    case ATTR.SCTP_VTAG_REPL:
      d.sctpVtag[1] = s.sctpVtag[1]!;
      return;
    case ATTR.HELPER_NAME:
      d.helperName = s.helperName;
      return;
    case ATTR.HELPER_INFO:
      d.helperInfo = s.helperInfo;
      return;
    case ATTR.DCCP_STATE:
      d.dccpState = s.dccpState;
      return;
    case ATTR.DCCP_ROLE:
      d.dccpRole = s.dccpRole;
      return;
    case ATTR.DCCP_HANDSHAKE_SEQ:
      d.dccpHandshakeSeq = s.dccpHandshakeSeq;
      return;
    case ATTR.TCP_WSCALE_ORIG:
      d.tcpWscale[0] = s.tcpWscale[0]!;
      return;
    case ATTR.TCP_WSCALE_REPL:
      d.tcpWscale[1] = s.tcpWscale[1]!;
      return;
    case ATTR.ZONE:
      d.zone = s.zone;
      return;
    case ATTR.SECCTX:
      d.secctx = s.secctx;
      return;
    case ATTR.TIMESTAMP_START:
      d.tsStart = s.tsStart;
      return;
    case ATTR.TIMESTAMP_STOP:
      d.tsStop = s.tsStop;
      return;
    case ATTR.CONNLABELS:
      d.labels = s.labels?.clone();
      return;
    case ATTR.CONNLABELS_MASK:
      d.labelsMask = s.labelsMask?.clone();
      return;
    case ATTR.ORIG_ZONE:
      d.orig.zone = s.orig.zone;
      return;
    case ATTR.REPL_ZONE:
      d.repl.zone = s.repl.zone;
      return;
    default:
      if (a >= ATTR.MASTER_IPV4_SRC && a <= ATTR.MASTER_L4PROTO) {
        d.master = s.master.clone();
        return;
      }
      if (a >= ATTR.ORIG_NAT_SEQ_CORRECTION_POS && a <= ATTR.ORIG_NAT_SEQ_OFFSET_AFTER) {
        d.natSeq[0] = { ...s.natSeq[0]! };
        return;
      }
      if (a >= ATTR.REPL_NAT_SEQ_CORRECTION_POS && a <= ATTR.REPL_NAT_SEQ_OFFSET_AFTER) {
        d.natSeq[1] = { ...s.natSeq[1]! };
        return;
      }
  }
}
