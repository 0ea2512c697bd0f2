/**
 * conntrackd 1.4.x state-replication protocol constants, with the names conntrack-tools gives them
 * in include/network.h (so a grep for NET_F_ACK or NTA_SNAT_IPV4 finds where keepstate handles it).
 * Values were checked against conntrackd 1.4.7 on the wire (test/golden/sync-*.hex).
 */

/** CONNTRACKD_PROTOCOL_VERSION: the high nibble of the first header byte. */
export const SYNC_VERSION = 1;

/** NETHDR_SIZ: struct nethdr (version/type, flags, len, seq). */
export const NETHDR_SIZ = 8;
/** NETHDR_ACK_SIZ: struct nethdr_ack (nethdr + from + to), used by ACK, NACK and RESYNC. */
export const NETHDR_ACK_SIZ = 16;
/** The sender builds each message in a 4096-byte scratch buffer (BUILD_NETMSG_FROM_CT). */
export const SYNC_MAX_MESSAGE = 4096;

/** Message types (enum nethdr_type): the low nibble of the first header byte. */
export const NET_T = {
  STATE_CT_NEW: 0,
  STATE_CT_UPD: 1,
  STATE_CT_DEL: 2,
  STATE_EXP_NEW: 3,
  STATE_EXP_UPD: 4,
  STATE_EXP_DEL: 5,
  STATE_MAX: 5, // NET_T_STATE_MAX: the last data type
  CTL: 10,
} as const;

/** Header flags (the NET_F_* enum in network.h). */
export const NET_F = {
  UNUSED: 1 << 0,
  RESYNC: 1 << 1, // CTL, 16-byte form, from = to = 0
  NACK: 1 << 2, // CTL, 16-byte form, [from, to] = sequence numbers to send again
  ACK: 1 << 3, // CTL, 16-byte form, [from, to] = sequence numbers received
  ALIVE: 1 << 4, // CTL, 8-byte form
  HELLO: 1 << 5, // any message (FTFW): "I (re)started, resynchronise your expected seq to mine"
  HELLO_BACK: 1 << 6, // any message (FTFW): answer to HELLO
} as const;

/** Conntrack attribute ids (enum nta_attr). NTA_MAX (33 in 1.4.7) is the first id a receiver rejects. */
export const NTA = {
  IPV4: 0, // orig src, orig dst (raw, network order)
  IPV6: 1,
  L4PROTO: 2, // u8
  PORT: 3, // orig sport, dport (raw, network order)
  TCP_STATE: 4, // u8, TCP_CONNTRACK_*
  STATUS: 5, // u32 BE, IPS_*
  TIMEOUT: 6, // u32 BE, seconds
  MARK: 7, // u32 BE
  MASTER_IPV4: 8,
  MASTER_IPV6: 9,
  MASTER_L4PROTO: 10,
  MASTER_PORT: 11,
  SNAT_IPV4: 12, // reply dst (network order since 1.4.7)
  DNAT_IPV4: 13, // reply src
  SPAT_PORT: 14, // reply dport, u16 in the sender's host order
  DPAT_PORT: 15, // reply sport, u16 in the sender's host order
  NAT_SEQ_ADJ: 16, // 6 × u32 BE
  SCTP_STATE: 17,
  SCTP_VTAG_ORIG: 18,
  SCTP_VTAG_REPL: 19,
  DCCP_STATE: 20,
  DCCP_ROLE: 21,
  ICMP_TYPE: 22,
  ICMP_CODE: 23,
  ICMP_ID: 24, // u16 in the sender's host order
  TCP_WSCALE_ORIG: 25,
  TCP_WSCALE_REPL: 26,
  HELPER_NAME: 27, // NUL-terminated string
  LABELS: 28, // u32 BE words
  SNAT_IPV6: 29,
  DNAT_IPV6: 30,
  SYNPROXY: 31, // its, isn, tsoff: 3 × u32 BE
  ZONE: 32, // u16 BE
  MAX: 33,
} as const;

/** Expectation attribute ids (enum nta_exp_attr). NTA_EXP_MAX (21) is the first id a receiver rejects. */
export const NTA_EXP = {
  MASTER_IPV4: 0,
  MASTER_IPV6: 1,
  MASTER_L4PROTO: 2,
  MASTER_PORT: 3,
  EXPECT_IPV4: 4,
  EXPECT_IPV6: 5,
  EXPECT_L4PROTO: 6,
  EXPECT_PORT: 7,
  MASK_IPV4: 8,
  MASK_IPV6: 9,
  MASK_L4PROTO: 10,
  MASK_PORT: 11,
  TIMEOUT: 12, // u32 BE, seconds
  FLAGS: 13, // u32 BE, NF_CT_EXPECT_*
  CLASS: 14, // u32 BE
  NAT_IPV4: 15,
  NAT_PORT: 16,
  NAT_L4PROTO: 17,
  NAT_DIR: 18, // u32 BE, IP_CT_DIR_*
  HELPER_NAME: 19,
  FN: 20, // NUL-terminated string, e.g. "nat-follow-master"
  MAX: 21,
} as const;

/** The IPS_* status bits the NAT rules read (nf_conntrack_common.h). */
export const IPS_SRC_NAT_DONE = 1 << 7;
export const IPS_DST_NAT_DONE = 1 << 8;

/** IP protocol numbers the sender treats specially (build.c's l4proto_fcn table). */
export const PROTO = { ICMP: 1, TCP: 6, UDP: 17, DCCP: 33, ICMPV6: 58, SCTP: 132 } as const;

/** hasPorts tells whether conntrackd sends a port group for this L4 protocol (TCP, UDP, SCTP, DCCP). */
export function hasPorts(proto: number): boolean {
  return proto === PROTO.TCP || proto === PROTO.UDP || proto === PROTO.SCTP || proto === PROTO.DCCP;
}
