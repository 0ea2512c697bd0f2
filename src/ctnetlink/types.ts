import type { RawAttr } from '../netlink/attrs.js';
import type { Family } from '../wire/ip.js';

/**
 * The conntrack data model (house-style R5): plain readonly data, "absent" is `undefined` (never 0),
 * 64-bit kernel counters are bigint, addresses are canonical text (see wire/ip.ts). Every decoded
 * object keeps the attributes it did not interpret in `unknown`, so encode(decode(x)) is x.
 */

/** Tuple is one direction of a connection: CTA_TUPLE_ORIG / CTA_TUPLE_REPLY / CTA_TUPLE_MASTER. */
export interface Tuple {
  readonly family: Family;
  readonly src: string; // CTA_IP_V4_SRC / CTA_IP_V6_SRC
  readonly dst: string; // CTA_IP_V4_DST / CTA_IP_V6_DST
  readonly proto: number; // CTA_PROTO_NUM, IPPROTO_*
  readonly srcPort?: number; // CTA_PROTO_SRC_PORT (also the GRE key for GRE)
  readonly dstPort?: number; // CTA_PROTO_DST_PORT
  readonly icmpId?: number; // CTA_PROTO_ICMP_ID / CTA_PROTO_ICMPV6_ID
  readonly icmpType?: number; // CTA_PROTO_ICMP_TYPE / CTA_PROTO_ICMPV6_TYPE
  readonly icmpCode?: number; // CTA_PROTO_ICMP_CODE / CTA_PROTO_ICMPV6_CODE
  readonly zone?: number; // CTA_TUPLE_ZONE: directional zone id
  readonly unknown?: readonly RawAttr[]; // inside the tuple nest
  readonly ipUnknown?: readonly RawAttr[]; // inside CTA_TUPLE_IP
  readonly protoUnknown?: readonly RawAttr[]; // inside CTA_TUPLE_PROTO
}

/** TcpFlags is struct nf_ct_tcp_flags: IP_CT_TCP_FLAG_* bits and the mask of bits being set. */
export interface TcpFlags {
  readonly flags: number;
  readonly mask: number;
}

/** ProtoInfo is CTA_PROTOINFO: per-protocol state. */
export interface ProtoInfo {
  readonly tcp?: {
    readonly state?: number; // TCP_CONNTRACK_*
    readonly wscaleOrig?: number;
    readonly wscaleReply?: number;
    readonly flagsOrig?: TcpFlags;
    readonly flagsReply?: TcpFlags;
    readonly unknown?: readonly RawAttr[];
  };
  readonly sctp?: {
    readonly state?: number; // SCTP_CONNTRACK_*
    readonly vtagOrig?: number;
    readonly vtagReply?: number;
    readonly unknown?: readonly RawAttr[];
  };
  readonly dccp?: {
    readonly state?: number; // CT_DCCP_*
    readonly role?: number;
    readonly handshakeSeq?: bigint;
    readonly unknown?: readonly RawAttr[];
  };
  readonly unknown?: readonly RawAttr[];
}

/** Counters is CTA_COUNTERS_ORIG / CTA_COUNTERS_REPLY (only present with nf_conntrack_acct=1). */
export interface Counters {
  readonly packets: bigint;
  readonly bytes: bigint;
  readonly unknown?: readonly RawAttr[]; // e.g. CTA_COUNTERS_PAD on architectures that align u64
}

/** SeqAdj is CTA_SEQ_ADJ_ORIG / CTA_SEQ_ADJ_REPLY: NAT sequence-number correction (FTP helper etc.). */
export interface SeqAdj {
  readonly correctionPos: number;
  readonly offsetBefore: number;
  readonly offsetAfter: number;
  readonly unknown?: readonly RawAttr[];
}

/** Timestamp is CTA_TIMESTAMP in nanoseconds since the epoch (only with nf_conntrack_timestamp=1). */
export interface Timestamp {
  readonly start?: bigint;
  readonly stop?: bigint;
  readonly unknown?: readonly RawAttr[];
}

/** NatRange is CTA_NAT_SRC / CTA_NAT_DST: used when creating an entry with a NAT binding. */
export interface NatRange {
  readonly minIp?: string;
  readonly maxIp?: string;
  readonly minPort?: number;
  readonly maxPort?: number;
  readonly unknown?: readonly RawAttr[]; // inside CTA_NAT_SRC / CTA_NAT_DST
  readonly protoUnknown?: readonly RawAttr[]; // inside CTA_NAT_PROTO
}

/** Synproxy is CTA_SYNPROXY. */
export interface Synproxy {
  readonly isn?: number;
  readonly its?: number;
  readonly tsoff?: number;
  readonly unknown?: readonly RawAttr[];
}

/** Conntrack is one connection-tracking entry as ctnetlink carries it. */
export interface Conntrack {
  readonly family: Family; // nfgenmsg.nfgen_family
  readonly orig?: Tuple;
  readonly reply?: Tuple;
  readonly master?: Tuple; // CTA_TUPLE_MASTER, for RELATED connections
  readonly status?: number; // IPS_* bits
  readonly protoinfo?: ProtoInfo;
  readonly helper?: string; // CTA_HELP / CTA_HELP_NAME
  readonly helperInfo?: Uint8Array; // CTA_HELP / CTA_HELP_INFO
  readonly helpUnknown?: readonly RawAttr[]; // unknown attributes inside CTA_HELP
  readonly natSrc?: NatRange;
  readonly natDst?: NatRange;
  readonly timeout?: number; // seconds
  readonly mark?: number;
  readonly markMask?: number; // CTA_MARK_MASK (requests only)
  readonly countersOrig?: Counters;
  readonly countersReply?: Counters;
  readonly use?: number;
  readonly id?: number;
  readonly seqAdjOrig?: SeqAdj;
  readonly seqAdjReply?: SeqAdj;
  readonly secmark?: number;
  readonly zone?: number; // CTA_ZONE
  readonly secctx?: string; // CTA_SECCTX / CTA_SECCTX_NAME
  readonly secctxUnknown?: readonly RawAttr[]; // unknown attributes inside CTA_SECCTX
  readonly timestamp?: Timestamp;
  readonly labels?: Uint8Array; // CTA_LABELS bitmap of host-order longs: on little-endian, label n is bit n&7 of byte n>>3
  readonly labelsMask?: Uint8Array;
  readonly synproxy?: Synproxy;
  readonly statusMask?: number; // CTA_STATUS_MASK (requests only)
  readonly timestampEvent?: bigint; // CTA_TIMESTAMP_EVENT: wall-clock ns of the event (nf_conntrack_timestamp=1), events only
  readonly unknown?: readonly RawAttr[];
}

/** CtEventKind tells which multicast group / message an event came from. */
export type CtEventKind = 'new' | 'update' | 'destroy';

/** CtEvent is a conntrack event. NEW and UPDATE share IPCTNL_MSG_CT_NEW; the kernel sets NLM_F_CREATE|NLM_F_EXCL on NEW. */
export interface CtEvent {
  readonly kind: CtEventKind;
  readonly ct: Conntrack;
  /** nlmsg_pid: the netlink port of the process whose request caused the event, 0 for the kernel. */
  readonly portId?: number;
}

/** ExpectNat is CTA_EXPECT_NAT. */
export interface ExpectNat {
  readonly dir?: number; // IP_CT_DIR_*
  readonly tuple?: Tuple;
  readonly unknown?: readonly RawAttr[];
}

/** Expectation is one expectation (a RELATED connection a helper anticipates). */
export interface Expectation {
  readonly family: Family;
  readonly master?: Tuple;
  readonly tuple?: Tuple;
  readonly mask?: Tuple;
  readonly timeout?: number; // seconds
  readonly id?: number;
  readonly helper?: string; // CTA_EXPECT_HELP_NAME
  readonly zone?: number;
  readonly flags?: number; // NF_CT_EXPECT_*
  readonly class?: number;
  readonly nat?: ExpectNat;
  readonly fn?: string; // CTA_EXPECT_FN
  readonly unknown?: readonly RawAttr[];
}

export interface ExpEvent {
  readonly kind: CtEventKind;
  readonly exp: Expectation;
  /** nlmsg_pid, as in CtEvent. */
  readonly portId?: number;
}

/** CpuStats is one CPU's IPCTNL_MSG_CT_GET_STATS_CPU answer; the CPU is nfgenmsg.res_id. */
export interface CpuStats {
  readonly cpu: number;
  readonly searched?: number;
  readonly found?: number;
  readonly new?: number;
  readonly invalid?: number;
  readonly ignore?: number;
  readonly delete?: number;
  readonly deleteList?: number;
  readonly insert?: number;
  readonly insertFailed?: number;
  readonly drop?: number;
  readonly earlyDrop?: number;
  readonly error?: number;
  readonly searchRestart?: number;
  readonly clashResolve?: number;
  readonly chainTooLong?: number;
  readonly unknown?: readonly RawAttr[];
}

/** ExpCpuStats is one CPU's IPCTNL_MSG_EXP_GET_STATS_CPU answer. */
export interface ExpCpuStats {
  readonly cpu: number;
  readonly new?: number;
  readonly create?: number;
  readonly delete?: number;
  readonly unknown?: readonly RawAttr[];
}

/** GlobalStats is the IPCTNL_MSG_CT_GET_STATS answer: table size now and its limit (nf_conntrack_max). */
export interface GlobalStats {
  readonly entries: number;
  readonly maxEntries?: number;
  readonly unknown?: readonly RawAttr[];
}

/** DumpFilter is what the kernel can filter on during a dump (CTA_MARK/CTA_MARK_MASK, CTA_ZONE, CTA_STATUS/CTA_STATUS_MASK, nfgen_family). */
export interface DumpFilter {
  readonly family?: Family;
  readonly mark?: number;
  readonly markMask?: number;
  readonly zone?: number;
  readonly status?: number;
  readonly statusMask?: number;
}
