/**
 * ctnetlink constants with their exact kernel names, from include/uapi/linux/netfilter/
 * nfnetlink.h, nfnetlink_conntrack.h and nf_conntrack_common.h. The model uses readable names;
 * grep a kernel name to find where keepstate handles it.
 */

/** nfnetlink subsystems: the high byte of nlmsg_type (NFNL_SUBSYS_*). */
export const NFNL_SUBSYS = { CTNETLINK: 1, CTNETLINK_EXP: 2 } as const;
export const NFNETLINK_V0 = 0;

/** Multicast groups (enum nfnetlink_groups); bind/subscribe uses these numbers. */
export const NFNLGRP = {
  CONNTRACK_NEW: 1,
  CONNTRACK_UPDATE: 2,
  CONNTRACK_DESTROY: 3,
  CONNTRACK_EXP_NEW: 4,
  CONNTRACK_EXP_UPDATE: 5,
  CONNTRACK_EXP_DESTROY: 6,
} as const;

/** Conntrack message types: the low byte of nlmsg_type (enum cntl_msg_types). */
export const IPCTNL_MSG_CT = {
  NEW: 0,
  GET: 1,
  DELETE: 2,
  GET_CTRZERO: 3,
  GET_STATS_CPU: 4,
  GET_STATS: 5,
  GET_DYING: 6,
  GET_UNCONFIRMED: 7,
} as const;

/** Expectation message types (enum ctnl_exp_msg_types). */
export const IPCTNL_MSG_EXP = { NEW: 0, GET: 1, DELETE: 2, GET_STATS_CPU: 3 } as const;

/** Top-level conntrack attributes (enum ctattr_type). */
export const CTA = {
  TUPLE_ORIG: 1,
  TUPLE_REPLY: 2,
  STATUS: 3, // u32 be, IPS_* bits
  PROTOINFO: 4,
  HELP: 5,
  NAT_SRC: 6,
  TIMEOUT: 7, // u32 be, seconds
  MARK: 8, // u32 be
  COUNTERS_ORIG: 9,
  COUNTERS_REPLY: 10,
  USE: 11, // u32 be
  ID: 12, // u32 be
  NAT_DST: 13,
  TUPLE_MASTER: 14,
  SEQ_ADJ_ORIG: 15, // CTA_NAT_SEQ_ADJ_ORIG
  SEQ_ADJ_REPLY: 16, // CTA_NAT_SEQ_ADJ_REPLY
  SECMARK: 17, // obsolete, u32 be
  ZONE: 18, // u16 be
  SECCTX: 19,
  TIMESTAMP: 20,
  MARK_MASK: 21, // u32 be, for filtered dumps and mark updates
  LABELS: 22, // 16 bytes bitmap
  LABELS_MASK: 23,
  SYNPROXY: 24,
  FILTER: 25,
  STATUS_MASK: 26, // u32 be, for status-filtered dumps
  TIMESTAMP_EVENT: 27,
} as const;

/** Tuple attributes (enum ctattr_tuple). */
export const CTA_TUPLE = { IP: 1, PROTO: 2, ZONE: 3 } as const;
/** Address attributes (enum ctattr_ip). */
export const CTA_IP = { V4_SRC: 1, V4_DST: 2, V6_SRC: 3, V6_DST: 4 } as const;
/** Layer-4 tuple attributes (enum ctattr_l4proto); ports are u16 be, ICMP id u16 be, type/code u8. */
export const CTA_PROTO = {
  NUM: 1,
  SRC_PORT: 2,
  DST_PORT: 3,
  ICMP_ID: 4,
  ICMP_TYPE: 5,
  ICMP_CODE: 6,
  ICMPV6_ID: 7,
  ICMPV6_TYPE: 8,
  ICMPV6_CODE: 9,
} as const;
export const CTA_PROTOINFO = { TCP: 1, DCCP: 2, SCTP: 3 } as const;
export const CTA_PROTOINFO_TCP = {
  STATE: 1, // u8
  WSCALE_ORIGINAL: 2, // u8
  WSCALE_REPLY: 3, // u8
  FLAGS_ORIGINAL: 4, // struct nf_ct_tcp_flags { u8 flags; u8 mask; }
  FLAGS_REPLY: 5,
} as const;
export const CTA_PROTOINFO_DCCP = { STATE: 1, ROLE: 2, HANDSHAKE_SEQ: 3, PAD: 4 } as const;
export const CTA_PROTOINFO_SCTP = { STATE: 1, VTAG_ORIGINAL: 2, VTAG_REPLY: 3 } as const;
export const CTA_COUNTERS = { PACKETS: 1, BYTES: 2, PACKETS32: 3, BYTES32: 4, PAD: 5 } as const;
export const CTA_TIMESTAMP = { START: 1, STOP: 2, PAD: 3 } as const; // u64 be, nanoseconds
export const CTA_NAT = { V4_MINIP: 1, V4_MAXIP: 2, PROTO: 3, V6_MINIP: 4, V6_MAXIP: 5 } as const;
export const CTA_PROTONAT = { PORT_MIN: 1, PORT_MAX: 2 } as const;
/** Sequence adjustment (enum ctattr_seqadj): u32 be each. */
export const CTA_SEQADJ = { CORRECTION_POS: 1, OFFSET_BEFORE: 2, OFFSET_AFTER: 3 } as const;
export const CTA_SYNPROXY = { ISN: 1, ITS: 2, TSOFF: 3 } as const;
export const CTA_HELP = { NAME: 1, INFO: 2 } as const;
export const CTA_SECCTX = { NAME: 1 } as const;
export const CTA_FILTER = { ORIG_FLAGS: 1, REPLY_FLAGS: 2 } as const;

/** Expectation attributes (enum ctattr_expect). */
export const CTA_EXPECT = {
  MASTER: 1,
  TUPLE: 2,
  MASK: 3,
  TIMEOUT: 4, // u32 be, seconds
  ID: 5,
  HELP_NAME: 6,
  ZONE: 7,
  FLAGS: 8, // u32 be, NF_CT_EXPECT_*
  CLASS: 9,
  NAT: 10,
  FN: 11,
} as const;
export const CTA_EXPECT_NAT = { DIR: 1, TUPLE: 2 } as const;

/** Per-CPU statistics (enum ctattr_stats_cpu), u32 be each. */
export const CTA_STATS = {
  SEARCHED: 1,
  FOUND: 2,
  NEW: 3,
  INVALID: 4,
  IGNORE: 5,
  DELETE: 6,
  DELETE_LIST: 7,
  INSERT: 8,
  INSERT_FAILED: 9,
  DROP: 10,
  EARLY_DROP: 11,
  ERROR: 12,
  SEARCH_RESTART: 13,
  CLASH_RESOLVE: 14,
  CHAIN_TOOLONG: 15,
} as const;
export const CTA_STATS_GLOBAL = { ENTRIES: 1, MAX_ENTRIES: 2 } as const;
export const CTA_STATS_EXP = { NEW: 1, CREATE: 2, DELETE: 3 } as const;

/** Connection status bits (enum ip_conntrack_status, IPS_*). */
export const IPS = {
  EXPECTED: 1 << 0,
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
  SEQ_ADJUST: 1 << 6,
  SRC_NAT_DONE: 1 << 7,
  DST_NAT_DONE: 1 << 8,
  DYING: 1 << 9,
  FIXED_TIMEOUT: 1 << 10,
  TEMPLATE: 1 << 11,
  UNTRACKED: 1 << 12,
  HELPER: 1 << 13,
  OFFLOAD: 1 << 14,
  HW_OFFLOAD: 1 << 15,
} as const;

/** TCP conntrack states (enum tcp_conntrack); SYN_SENT2 reuses the obsolete LISTEN value 9. */
export const TCP_CONNTRACK = {
  NONE: 0,
  SYN_SENT: 1,
  SYN_RECV: 2,
  ESTABLISHED: 3,
  FIN_WAIT: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  TIME_WAIT: 7,
  CLOSE: 8,
  SYN_SENT2: 9,
} as const;

/** Expectation flags (NF_CT_EXPECT_*). */
export const NF_CT_EXPECT = { PERMANENT: 0x1, INACTIVE: 0x2, USERSPACE: 0x4 } as const;

/** IP protocol numbers keepstate knows by name. */
export const IPPROTO = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  DCCP: 33,
  GRE: 47,
  ICMPV6: 58,
  SCTP: 132,
  UDPLITE: 136,
} as const;

/** Address families as carried in nfgenmsg.nfgen_family. */
export const AF = { UNSPEC: 0, INET: 2, INET6: 10 } as const;
