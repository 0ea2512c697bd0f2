import type { Conntrack, NatRange, ProtoInfo, Tuple } from '../ctnetlink/types.js';
import { DecodeError } from '../wire/decode-error.js';
import type { Family } from '../wire/ip.js';
import type { Writer } from '../wire/writer.js';
import {
  addrAt,
  addrFamily,
  be16,
  be32,
  le16,
  putAddr,
  putAddrGroup,
  putPorts,
  putString,
  putU16be,
  putU16le,
  putU32be,
  putU8,
  sameAddr,
  stringAt,
  walkNta,
  type NtaSpec,
  type Path,
} from './attrs.js';
import { hasPorts, IPS_DST_NAT_DONE, IPS_SRC_NAT_DONE, NTA, PROTO } from './consts.js';

/**
 * Conntrack messages (types CT_NEW / CT_UPD / CT_DEL): the attribute table of conntrackd 1.4.7
 * (build.c ct2msg, parse.c msg2ct) and the mapping to and from keepstate's Conntrack model.
 *
 * What a conntrackd message carries of a Conntrack (everything else is not replicated):
 *
 * | Conntrack field                          | attribute(s)                               | notes |
 * |------------------------------------------|--------------------------------------------|-------|
 * | orig.family/src/dst                      | NTA_IPV4 / NTA_IPV6                        | raw, network order; also gives `family` |
 * | orig.proto                               | NTA_L4PROTO                                | always sent (0 without orig) |
 * | orig.srcPort/dstPort                     | NTA_PORT                                   | TCP, UDP, SCTP, DCCP only (0 when absent) |
 * | orig.icmpType/icmpCode/icmpId            | NTA_ICMP_TYPE/CODE/ID                      | ICMP and ICMPv6, when the type is known; ID little-endian |
 * | status                                   | NTA_STATUS                                 | always sent (0 when absent) |
 * | protoinfo.tcp.state                      | NTA_TCP_STATE                              | TCP |
 * | protoinfo.tcp.wscaleOrig/wscaleReply     | NTA_TCP_WSCALE_ORIG/REPL                   | only with `tcpWindowTracking` (TCPWindowTracking on) |
 * | protoinfo.sctp.state/vtagOrig/vtagReply  | NTA_SCTP_STATE/VTAG_ORIG/VTAG_REPL         | SCTP with a state |
 * | protoinfo.dccp.state/role                | NTA_DCCP_STATE/ROLE                        | DCCP with a state |
 * | timeout                                  | NTA_TIMEOUT                                | left out with `commitTimeout` (CommitTimeout set) |
 * | mark                                     | NTA_MARK                                   | |
 * | master.family/src/dst/proto/ports        | NTA_MASTER_IPV4/IPV6, _L4PROTO, _PORT      | port group only when both ports are known |
 * | natSrc.minIp / natSrc.minPort            | NTA_SNAT_IPV4/IPV6 / NTA_SPAT_PORT         | see NAT below; SPAT little-endian |
 * | natDst.minIp / natDst.minPort            | NTA_DNAT_IPV4/IPV6 / NTA_DPAT_PORT         | DPAT little-endian |
 * | seqAdjOrig + seqAdjReply                 | NTA_NAT_SEQ_ADJ                            | only when both are present |
 * | helper                                   | NTA_HELPER_NAME                            | a receiver rejects names over 11 characters |
 * | labels                                   | NTA_LABELS                                 | only when a bit is set; see labelsToWire |
 * | synproxy.isn/its/tsoff                   | NTA_SYNPROXY                               | only when all three are present |
 * | zone                                     | NTA_ZONE                                   | |
 *
 * Not carried: reply (rebuilt by the receiver), id, use, counters, timestamps, secmark, secctx,
 * directional zones, helperInfo, TCP flags, DCCP handshake seq, masks and unknown attributes.
 *
 * NAT. The wire has no reply tuple. A Conntrack from the kernel (it has `reply`) is mapped as
 * libnetfilter_conntrack's getobjopt does: SNAT = reply.dst when SRC_NAT_DONE (or no status) and
 * reply.dst ≠ orig.src; DNAT = reply.src likewise with DST_NAT_DONE; SPAT when the 16-bit
 * "port" union of reply dst differs from orig src, DPAT likewise. The union holds the ICMP id as
 * the source and type·256+code as the destination, so ICMP flows through NAT get SPAT/DPAT; the
 * value sent is the reply *port* (0 for ICMP, whose reply tuple has no ports) — on the wire from a
 * real conntrackd: SPAT 0 and DPAT 0 for a SNAT-ed echo (test/golden/sync-ct-icmp.hex).
 * A decoded message gives the request form instead: natSrc {minIp: SNAT, minPort: SPAT} and
 * natDst {minIp: DNAT, minPort: DPAT} (what a ctnetlink create needs), no reply. A Conntrack that
 * has natSrc or natDst is encoded from them (maxIp/maxPort are not carried); only one without
 * either falls back to the reply tuple; one with neither sends no NAT attributes.
 */

/** SyncEncodeOptions are the sender's configuration switches that change what it sends. */
export interface SyncEncodeOptions {
  /** TCPWindowTracking on: send NTA_TCP_WSCALE_ORIG/REPL with the TCP state. */
  readonly tcpWindowTracking?: boolean;
  /** CommitTimeout is configured: leave NTA_TIMEOUT / NTA_EXP_TIMEOUT out. */
  readonly commitTimeout?: boolean;
}

/**
 * CtWire is a conntrack message's attributes, one field per NTA value (absent = not sent). It is
 * the accumulator of the decoder and the plan of the encoder.
 */
export interface CtWire {
  l3?: Family; // NTA_IPV4 / NTA_IPV6
  src?: string;
  dst?: string;
  l4proto?: number;
  sport?: number; // NTA_PORT
  dport?: number;
  tcpState?: number;
  status?: number;
  timeout?: number;
  mark?: number;
  masterL3?: Family; // NTA_MASTER_IPV4 / IPV6
  masterSrc?: string;
  masterDst?: string;
  masterL4proto?: number;
  masterSport?: number; // NTA_MASTER_PORT
  masterDport?: number;
  snat?: string; // NTA_SNAT_IPV4 or NTA_SNAT_IPV6 (by the text's family)
  dnat?: string;
  spat?: number;
  dpat?: number;
  seqAdj?: readonly [number, number, number, number, number, number]; // orig pos/before/after, reply pos/before/after
  sctpState?: number;
  vtagOrig?: number;
  vtagRepl?: number;
  dccpState?: number;
  dccpRole?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  wscaleOrig?: number;
  wscaleRepl?: number;
  helper?: string;
  labels?: Uint8Array; // in the Conntrack model's layout (see labelsFromWire)
  synproxy?: readonly [number, number, number]; // its, isn, tsoff
  zone?: number;
}

type Spec = NtaSpec<CtWire, CtWire>;

/** NTA_LABELS_MAX_SIZE: 4096 / sizeof(uint32_t) = 1024 payload bytes; with the header 1028. */
const LABELS_MAX_LEN = 4 + 1024;
/** NFCT_HELPER_NAME_MAX: 16, header included, so at most 11 characters + NUL. */
const HELPER_MAX_LEN = 16;

/** NumKey names the CtWire fields that hold one number. */
type NumKey = { [K in keyof CtWire]-?: NonNullable<CtWire[K]> extends number ? K : never }[keyof CtWire];

const u8 = (id: number, name: string, key: NumKey): Spec => ({
  id,
  name,
  size: 1,
  decode: (a, b, p) => {
    a[key] = b[p]!;
  },
  encode: (w, v) => {
    const x = v[key];
    if (x !== undefined) putU8(w, id, x);
  },
});
const u32 = (id: number, name: string, key: NumKey): Spec => ({
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
});
const hostU16 = (id: number, name: string, key: 'spat' | 'dpat' | 'icmpId'): Spec => ({
  id,
  name,
  size: 2,
  decode: (a, b, p) => {
    a[key] = le16(b, p);
  },
  encode: (w, v) => {
    const x = v[key];
    if (x !== undefined) putU16le(w, id, x);
  },
});

/**
 * CT_ATTRS is the conntrack attribute table, indexed by id (NTA_MAX = 33 rows): conntrackd's
 * name, parse.c's size rule, and the decode/encode pair for the CtWire field.
 */
export const CT_ATTRS: readonly Spec[] = [
  {
    id: NTA.IPV4,
    name: 'NTA_IPV4',
    size: 8,
    decode: (a, b, p) => {
      a.l3 = 'ipv4';
      a.src = addrAt(b, p, 'ipv4');
      a.dst = addrAt(b, p + 4, 'ipv4');
    },
    encode: (w, v) => {
      if (v.l3 === 'ipv4') putAddrGroup(w, NTA.IPV4, 'ipv4', v.src!, v.dst!);
    },
  },
  {
    id: NTA.IPV6,
    name: 'NTA_IPV6',
    size: 32,
    decode: (a, b, p) => {
      a.l3 = 'ipv6';
      a.src = addrAt(b, p, 'ipv6');
      a.dst = addrAt(b, p + 16, 'ipv6');
    },
    encode: (w, v) => {
      if (v.l3 === 'ipv6') putAddrGroup(w, NTA.IPV6, 'ipv6', v.src!, v.dst!);
    },
  },
  u8(NTA.L4PROTO, 'NTA_L4PROTO', 'l4proto'),
  {
    id: NTA.PORT,
    name: 'NTA_PORT',
    size: 4,
    decode: (a, b, p) => {
      a.sport = be16(b, p);
      a.dport = be16(b, p + 2);
    },
    encode: (w, v) => {
      if (v.sport !== undefined) putPorts(w, NTA.PORT, v.sport, v.dport!);
    },
  },
  u8(NTA.TCP_STATE, 'NTA_TCP_STATE', 'tcpState'),
  u32(NTA.STATUS, 'NTA_STATUS', 'status'),
  u32(NTA.TIMEOUT, 'NTA_TIMEOUT', 'timeout'),
  u32(NTA.MARK, 'NTA_MARK', 'mark'),
  {
    id: NTA.MASTER_IPV4,
    name: 'NTA_MASTER_IPV4',
    size: 8,
    decode: (a, b, p) => {
      a.masterL3 = 'ipv4';
      a.masterSrc = addrAt(b, p, 'ipv4');
      a.masterDst = addrAt(b, p + 4, 'ipv4');
    },
    encode: (w, v) => {
      if (v.masterL3 === 'ipv4') putAddrGroup(w, NTA.MASTER_IPV4, 'ipv4', v.masterSrc!, v.masterDst!);
    },
  },
  {
    id: NTA.MASTER_IPV6,
    name: 'NTA_MASTER_IPV6',
    size: 32,
    decode: (a, b, p) => {
      a.masterL3 = 'ipv6';
      a.masterSrc = addrAt(b, p, 'ipv6');
      a.masterDst = addrAt(b, p + 16, 'ipv6');
    },
    encode: (w, v) => {
      if (v.masterL3 === 'ipv6') putAddrGroup(w, NTA.MASTER_IPV6, 'ipv6', v.masterSrc!, v.masterDst!);
    },
  },
  u8(NTA.MASTER_L4PROTO, 'NTA_MASTER_L4PROTO', 'masterL4proto'),
  {
    id: NTA.MASTER_PORT,
    name: 'NTA_MASTER_PORT',
    size: 4,
    decode: (a, b, p) => {
      a.masterSport = be16(b, p);
      a.masterDport = be16(b, p + 2);
    },
    encode: (w, v) => {
      if (v.masterSport !== undefined) putPorts(w, NTA.MASTER_PORT, v.masterSport, v.masterDport!);
    },
  },
  {
    id: NTA.SNAT_IPV4,
    name: 'NTA_SNAT_IPV4',
    size: 4,
    decode: (a, b, p) => {
      a.snat = addrAt(b, p, 'ipv4');
    },
    encode: (w, v) => {
      if (v.snat !== undefined && addrFamily(v.snat) === 'ipv4') putAddr(w, NTA.SNAT_IPV4, v.snat);
    },
  },
  {
    id: NTA.DNAT_IPV4,
    name: 'NTA_DNAT_IPV4',
    size: 4,
    decode: (a, b, p) => {
      a.dnat = addrAt(b, p, 'ipv4');
    },
    encode: (w, v) => {
      if (v.dnat !== undefined && addrFamily(v.dnat) === 'ipv4') putAddr(w, NTA.DNAT_IPV4, v.dnat);
    },
  },
  hostU16(NTA.SPAT_PORT, 'NTA_SPAT_PORT', 'spat'),
  hostU16(NTA.DPAT_PORT, 'NTA_DPAT_PORT', 'dpat'),
  {
    id: NTA.NAT_SEQ_ADJ,
    name: 'NTA_NAT_SEQ_ADJ',
    size: 24,
    decode: (a, b, p) => {
      a.seqAdj = [be32(b, p), be32(b, p + 4), be32(b, p + 8), be32(b, p + 12), be32(b, p + 16), be32(b, p + 20)];
    },
    encode: (w, v) => {
      if (v.seqAdj === undefined) return;
      w.u16be(28).u16be(NTA.NAT_SEQ_ADJ);
      for (const x of v.seqAdj) w.u32be(x);
    },
  },
  u8(NTA.SCTP_STATE, 'NTA_SCTP_STATE', 'sctpState'),
  u32(NTA.SCTP_VTAG_ORIG, 'NTA_SCTP_VTAG_ORIG', 'vtagOrig'),
  u32(NTA.SCTP_VTAG_REPL, 'NTA_SCTP_VTAG_REPL', 'vtagRepl'),
  u8(NTA.DCCP_STATE, 'NTA_DCCP_STATE', 'dccpState'),
  u8(NTA.DCCP_ROLE, 'NTA_DCCP_ROLE', 'dccpRole'),
  u8(NTA.ICMP_TYPE, 'NTA_ICMP_TYPE', 'icmpType'),
  u8(NTA.ICMP_CODE, 'NTA_ICMP_CODE', 'icmpCode'),
  hostU16(NTA.ICMP_ID, 'NTA_ICMP_ID', 'icmpId'),
  u8(NTA.TCP_WSCALE_ORIG, 'NTA_TCP_WSCALE_ORIG', 'wscaleOrig'),
  u8(NTA.TCP_WSCALE_REPL, 'NTA_TCP_WSCALE_REPL', 'wscaleRepl'),
  {
    id: NTA.HELPER_NAME,
    name: 'NTA_HELPER_NAME',
    maxLen: HELPER_MAX_LEN,
    decode: (a, b, p, n) => {
      a.helper = stringAt(b, p, n);
    },
    encode: (w, v) => {
      if (v.helper !== undefined) putString(w, NTA.HELPER_NAME, v.helper);
    },
  },
  {
    id: NTA.LABELS,
    name: 'NTA_LABELS',
    maxLen: LABELS_MAX_LEN,
    decode: (a, b, p, n) => {
      // ct_parse_clabel ignores (without rejecting the message) an empty or ragged payload.
      if (n === 0 || n % 4 !== 0) return;
      a.labels = labelsFromWire(b, p, n);
    },
    encode: (w, v) => {
      if (v.labels !== undefined) labelsToWire(w, v.labels);
    },
  },
  {
    id: NTA.SNAT_IPV6,
    name: 'NTA_SNAT_IPV6',
    size: 16,
    decode: (a, b, p) => {
      a.snat = addrAt(b, p, 'ipv6');
    },
    encode: (w, v) => {
      if (v.snat !== undefined && addrFamily(v.snat) === 'ipv6') putAddr(w, NTA.SNAT_IPV6, v.snat);
    },
  },
  {
    id: NTA.DNAT_IPV6,
    name: 'NTA_DNAT_IPV6',
    size: 16,
    decode: (a, b, p) => {
      a.dnat = addrAt(b, p, 'ipv6');
    },
    encode: (w, v) => {
      if (v.dnat !== undefined && addrFamily(v.dnat) === 'ipv6') putAddr(w, NTA.DNAT_IPV6, v.dnat);
    },
  },
  {
    id: NTA.SYNPROXY,
    name: 'NTA_SYNPROXY',
    size: 12,
    decode: (a, b, p) => {
      a.synproxy = [be32(b, p), be32(b, p + 4), be32(b, p + 8)];
    },
    encode: (w, v) => {
      if (v.synproxy === undefined) return;
      w.u16be(16).u16be(NTA.SYNPROXY).u32be(v.synproxy[0]).u32be(v.synproxy[1]).u32be(v.synproxy[2]);
    },
  },
  {
    id: NTA.ZONE,
    name: 'NTA_ZONE',
    size: 2,
    decode: (a, b, p) => {
      a.zone = be16(b, p);
    },
    encode: (w, v) => {
      if (v.zone !== undefined) putU16be(w, NTA.ZONE, v.zone);
    },
  },
];

/**
 * CT_EMIT_ORDER is ct2msg's order (1.4.7): address group, STATUS, L4PROTO, the protocol's part
 * (only one protocol's attributes are ever present), TIMEOUT, MARK, master, NAT, SEQ_ADJ, helper,
 * labels, synproxy, zone.
 */
export const CT_EMIT_ORDER: readonly number[] = [
  NTA.IPV4, NTA.IPV6, NTA.STATUS, NTA.L4PROTO,
  NTA.PORT, NTA.TCP_STATE, NTA.TCP_WSCALE_ORIG, NTA.TCP_WSCALE_REPL,
  NTA.SCTP_STATE, NTA.SCTP_VTAG_ORIG, NTA.SCTP_VTAG_REPL,
  NTA.DCCP_STATE, NTA.DCCP_ROLE,
  NTA.ICMP_TYPE, NTA.ICMP_CODE, NTA.ICMP_ID,
  NTA.TIMEOUT, NTA.MARK,
  NTA.MASTER_IPV4, NTA.MASTER_IPV6, NTA.MASTER_L4PROTO, NTA.MASTER_PORT,
  NTA.SNAT_IPV4, NTA.SNAT_IPV6, NTA.DNAT_IPV4, NTA.DNAT_IPV6, NTA.SPAT_PORT, NTA.DPAT_PORT,
  NTA.NAT_SEQ_ADJ, NTA.HELPER_NAME, NTA.LABELS, NTA.SYNPROXY, NTA.ZONE,
];

/**
 * labelsFromWire turns NTA_LABELS words (u32 BE, bit b of word i = label 32·i+b) into the
 * Conntrack model's layout (CTA_LABELS as the kernel sends it on little-endian hosts: label n is
 * bit n&7 of byte n>>3), i.e. each 4-byte word reversed.
 */
export function labelsFromWire(b: Uint8Array, p: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    out[i] = b[p + i + 3]!;
    out[i + 1] = b[p + i + 2]!;
    out[i + 2] = b[p + i + 1]!;
    out[i + 3] = b[p + i]!;
  }
  return out;
}

/**
 * labelsToWire writes NTA_LABELS for the model's label bytes as ct_build_clabel does: nothing when
 * no bit is set, else ceil(length / 4) words (a ragged tail is zero-filled).
 */
export function labelsToWire(w: Writer, labels: Uint8Array): void {
  if (!labels.some((x) => x !== 0)) return;
  const words = (labels.length + 3) >>> 2;
  w.u16be(4 + 4 * words).u16be(NTA.LABELS);
  for (let i = 0; i < 4 * words; i += 4) {
    w.u8(labels[i + 3] ?? 0).u8(labels[i + 2] ?? 0).u8(labels[i + 1] ?? 0).u8(labels[i] ?? 0);
  }
}

/** wholeWords pads label bytes to whole 32-bit words, as the receiver will see them. */
function wholeWords(labels: Uint8Array): Uint8Array {
  if (labels.length % 4 === 0) return labels;
  const out = new Uint8Array((labels.length + 3) & ~3);
  out.set(labels);
  return out;
}

/** encodeCtWire writes the attributes of a wire view in conntrackd's order. */
export function encodeCtWire(w: Writer, v: CtWire): void {
  for (const id of CT_EMIT_ORDER) CT_ATTRS[id]!.encode(w, v);
}

/** decodeCtWire validates and decodes the body [start, end) of a conntrack message (msg2ct). */
export function decodeCtWire(b: Uint8Array, start: number, end: number, path: Path): CtWire {
  const acc: CtWire = {};
  walkNta(b, start, end, CT_ATTRS, acc, path, 'ct');
  return acc;
}

/** l4srcUnion / l4dstUnion are libnetfilter_conntrack's 16-bit port unions (ICMP: id / type·256+code). */
function l4srcUnion(t: Tuple): number {
  return t.srcPort ?? t.icmpId ?? 0;
}
function l4dstUnion(t: Tuple): number {
  if (t.dstPort !== undefined) return t.dstPort;
  if (t.icmpType === undefined && t.icmpCode === undefined) return 0;
  return ((t.icmpType ?? 0) << 8) | (t.icmpCode ?? 0);
}

/** conntrackToWire maps a Conntrack to what conntrackd 1.4.7 puts on the wire for it (ct2msg). */
export function conntrackToWire(ct: Conntrack, opts: SyncEncodeOptions = {}): CtWire {
  const v: CtWire = {};
  const o = ct.orig;
  if (o !== undefined) {
    v.l3 = o.family;
    v.src = o.src;
    v.dst = o.dst;
  }
  const proto = o?.proto ?? 0;
  v.status = ct.status ?? 0;
  v.l4proto = proto;
  if (o !== undefined && hasPorts(proto)) {
    v.sport = o.srcPort ?? 0;
    v.dport = o.dstPort ?? 0;
  }
  const pi = ct.protoinfo;
  if (proto === PROTO.TCP && pi?.tcp?.state !== undefined) {
    v.tcpState = pi.tcp.state;
    if (opts.tcpWindowTracking === true) {
      v.wscaleOrig = pi.tcp.wscaleOrig ?? 0;
      v.wscaleRepl = pi.tcp.wscaleReply ?? 0;
    }
  } else if (proto === PROTO.SCTP && pi?.sctp?.state !== undefined) {
    v.sctpState = pi.sctp.state;
    v.vtagOrig = pi.sctp.vtagOrig ?? 0;
    v.vtagRepl = pi.sctp.vtagReply ?? 0;
  } else if (proto === PROTO.DCCP && pi?.dccp?.state !== undefined) {
    v.dccpState = pi.dccp.state;
    v.dccpRole = pi.dccp.role ?? 0;
  } else if ((proto === PROTO.ICMP || proto === PROTO.ICMPV6) && o?.icmpType !== undefined) {
    v.icmpType = o.icmpType;
    v.icmpCode = o.icmpCode ?? 0;
    v.icmpId = o.icmpId ?? 0;
  }
  if (opts.commitTimeout !== true && ct.timeout !== undefined) v.timeout = ct.timeout;
  if (ct.mark !== undefined) v.mark = ct.mark;
  const m = ct.master;
  if (m !== undefined) {
    v.masterL3 = m.family;
    v.masterSrc = m.src;
    v.masterDst = m.dst;
    v.masterL4proto = m.proto;
    if (m.srcPort !== undefined && m.dstPort !== undefined) {
      v.masterSport = m.srcPort;
      v.masterDport = m.dstPort;
    }
  }
  natToWire(ct, v);
  if (ct.seqAdjOrig !== undefined && ct.seqAdjReply !== undefined) {
    const a = ct.seqAdjOrig;
    const r = ct.seqAdjReply;
    v.seqAdj = [a.correctionPos, a.offsetBefore, a.offsetAfter, r.correctionPos, r.offsetBefore, r.offsetAfter];
  }
  if (ct.helper !== undefined) v.helper = ct.helper;
  if (ct.labels !== undefined && ct.labels.some((x) => x !== 0)) v.labels = wholeWords(ct.labels);
  const sp = ct.synproxy;
  if (sp?.its !== undefined && sp.isn !== undefined && sp.tsoff !== undefined) v.synproxy = [sp.its, sp.isn, sp.tsoff];
  if (ct.zone !== undefined) v.zone = ct.zone;
  return v;
}

function natToWire(ct: Conntrack, v: CtWire): void {
  if (ct.natSrc !== undefined || ct.natDst !== undefined) {
    if (ct.natSrc?.minIp !== undefined) v.snat = ct.natSrc.minIp;
    if (ct.natDst?.minIp !== undefined) v.dnat = ct.natDst.minIp;
    if (ct.natSrc?.minPort !== undefined) v.spat = ct.natSrc.minPort;
    if (ct.natDst?.minPort !== undefined) v.dpat = ct.natDst.minPort;
    return;
  }
  const o = ct.orig;
  const r = ct.reply;
  if (o === undefined || r === undefined) return;
  // getobjopt_is_snat & co.: a status without the NAT_DONE bit vetoes; no status at all does not.
  const srcDone = ct.status === undefined || (ct.status & IPS_SRC_NAT_DONE) !== 0;
  const dstDone = ct.status === undefined || (ct.status & IPS_DST_NAT_DONE) !== 0;
  if (srcDone && !sameAddr(r.dst, o.src)) v.snat = r.dst;
  if (dstDone && !sameAddr(r.src, o.dst)) v.dnat = r.src;
  // ct_build_u16 reads ATTR_REPL_PORT_* through the getter: 0 unless the reply tuple has ports.
  if (srcDone && l4dstUnion(r) !== l4srcUnion(o)) v.spat = r.dstPort ?? 0;
  if (dstDone && l4srcUnion(r) !== l4dstUnion(o)) v.dpat = r.srcPort ?? 0;
}

/**
 * wireToConntrack builds the Conntrack a receiver gets (see the table at the top). It needs what
 * makes an entry identifiable — the address group and L4PROTO, and a master address group with its
 * L4PROTO whenever a master attribute appears — and throws DecodeError('MISSING') otherwise:
 * conntrackd would cache such an entry, but it could never be committed or matched.
 */
export function wireToConntrack(v: CtWire, path: Path): Conntrack {
  if (v.l3 === undefined || v.src === undefined || v.dst === undefined) {
    throw new DecodeError('MISSING', [...path, 'NTA_IPV4'], 0, 'no NTA_IPV4 / NTA_IPV6: the entry has no addresses');
  }
  if (v.l4proto === undefined) throw new DecodeError('MISSING', [...path, 'NTA_L4PROTO'], 0, 'no NTA_L4PROTO');
  const orig: Mutable<Tuple> = { family: v.l3, src: v.src, dst: v.dst, proto: v.l4proto };
  if (v.sport !== undefined) {
    orig.srcPort = v.sport;
    orig.dstPort = v.dport!;
  }
  if (v.icmpType !== undefined) orig.icmpType = v.icmpType;
  if (v.icmpCode !== undefined) orig.icmpCode = v.icmpCode;
  if (v.icmpId !== undefined) orig.icmpId = v.icmpId;
  const ct: Mutable<Conntrack> = { family: v.l3, orig };
  if (v.status !== undefined) ct.status = v.status;
  const pi = protoInfoOf(v);
  if (pi !== undefined) ct.protoinfo = pi;
  if (v.timeout !== undefined) ct.timeout = v.timeout;
  if (v.mark !== undefined) ct.mark = v.mark;
  if (v.masterL3 !== undefined || v.masterL4proto !== undefined || v.masterSport !== undefined) {
    if (v.masterL3 === undefined) {
      throw new DecodeError('MISSING', [...path, 'NTA_MASTER_IPV4'], 0, 'master attributes without NTA_MASTER_IPV4 / IPV6');
    }
    if (v.masterL4proto === undefined) throw new DecodeError('MISSING', [...path, 'NTA_MASTER_L4PROTO'], 0, 'master addresses without NTA_MASTER_L4PROTO');
    const master: Mutable<Tuple> = { family: v.masterL3, src: v.masterSrc!, dst: v.masterDst!, proto: v.masterL4proto };
    if (v.masterSport !== undefined) {
      master.srcPort = v.masterSport;
      master.dstPort = v.masterDport!;
    }
    ct.master = master;
  }
  if (v.snat !== undefined || v.spat !== undefined) ct.natSrc = natRange(v.snat, v.spat);
  if (v.dnat !== undefined || v.dpat !== undefined) ct.natDst = natRange(v.dnat, v.dpat);
  if (v.seqAdj !== undefined) {
    const s = v.seqAdj;
    ct.seqAdjOrig = { correctionPos: s[0], offsetBefore: s[1], offsetAfter: s[2] };
    ct.seqAdjReply = { correctionPos: s[3], offsetBefore: s[4], offsetAfter: s[5] };
  }
  if (v.helper !== undefined) ct.helper = v.helper;
  if (v.labels !== undefined) ct.labels = v.labels;
  if (v.synproxy !== undefined) ct.synproxy = { its: v.synproxy[0], isn: v.synproxy[1], tsoff: v.synproxy[2] };
  if (v.zone !== undefined) ct.zone = v.zone;
  return ct;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function natRange(ip: string | undefined, port: number | undefined): NatRange {
  const r: Mutable<NatRange> = {};
  if (ip !== undefined) r.minIp = ip;
  if (port !== undefined) r.minPort = port;
  return r;
}

function protoInfoOf(v: CtWire): ProtoInfo | undefined {
  let pi: Mutable<ProtoInfo> | undefined;
  if (v.tcpState !== undefined || v.wscaleOrig !== undefined || v.wscaleRepl !== undefined) {
    const tcp: { state?: number; wscaleOrig?: number; wscaleReply?: number } = {};
    if (v.tcpState !== undefined) tcp.state = v.tcpState;
    if (v.wscaleOrig !== undefined) tcp.wscaleOrig = v.wscaleOrig;
    if (v.wscaleRepl !== undefined) tcp.wscaleReply = v.wscaleRepl;
    pi = { tcp };
  }
  if (v.sctpState !== undefined || v.vtagOrig !== undefined || v.vtagRepl !== undefined) {
    const sctp: { state?: number; vtagOrig?: number; vtagReply?: number } = {};
    if (v.sctpState !== undefined) sctp.state = v.sctpState;
    if (v.vtagOrig !== undefined) sctp.vtagOrig = v.vtagOrig;
    if (v.vtagRepl !== undefined) sctp.vtagReply = v.vtagRepl;
    pi = { ...pi, sctp };
  }
  if (v.dccpState !== undefined || v.dccpRole !== undefined) {
    const dccp: { state?: number; role?: number } = {};
    if (v.dccpState !== undefined) dccp.state = v.dccpState;
    if (v.dccpRole !== undefined) dccp.role = v.dccpRole;
    pi = { ...pi, dccp };
  }
  return pi;
}

/** encodeConntrackBody writes the attributes conntrackd sends for `ct` (ct2msg). */
export function encodeConntrackBody(w: Writer, ct: Conntrack, opts?: SyncEncodeOptions): void {
  encodeCtWire(w, conntrackToWire(ct, opts));
}

/** decodeConntrackBody decodes a conntrack message body [start, end) into a Conntrack (msg2ct + mapping). */
export function decodeConntrackBody(b: Uint8Array, start: number, end: number, path: Path = ['sync', 'ct']): Conntrack {
  return wireToConntrack(decodeCtWire(b, start, end, path), path);
}

/**
 * syncViewOfConntrack is the Conntrack a peer decodes from what is sent for `ct`: the projection
 * of the table above. Useful to tell whether a kernel change is visible to peers at all.
 */
export function syncViewOfConntrack(ct: Conntrack, opts?: SyncEncodeOptions): Conntrack {
  return wireToConntrack(conntrackToWire(ct, opts), ['sync', 'ct']);
}
