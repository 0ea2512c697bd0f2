/** Netlink constants with their kernel names (include/uapi/linux/netlink.h). */

/** AF_NETLINK protocol numbers used by keepstate. */
export const NETLINK = {
  ROUTE: 0, // NETLINK_ROUTE
  NETFILTER: 12, // NETLINK_NETFILTER
} as const;

/** Message types below NLMSG_MIN_TYPE are netlink control messages. */
export const NLMSG = {
  NOOP: 0x1,
  ERROR: 0x2,
  DONE: 0x3,
  OVERRUN: 0x4,
  MIN_TYPE: 0x10,
} as const;

/** nlmsghdr.nlmsg_flags. The high byte is overloaded per request kind (GET / NEW / DELETE / ACK). */
export const NLM_F = {
  REQUEST: 0x01,
  MULTI: 0x02,
  ACK: 0x04,
  ECHO: 0x08,
  DUMP_INTR: 0x10, // dump was inconsistent because the table changed underneath
  DUMP_FILTERED: 0x20,
  // GET
  ROOT: 0x100,
  MATCH: 0x200,
  ATOMIC: 0x400,
  DUMP: 0x300, // NLM_F_ROOT | NLM_F_MATCH
  // NEW
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // ACK
  CAPPED: 0x100, // the request is not echoed back (NETLINK_CAP_ACK)
  ACK_TLVS: 0x200, // extended-ack TLVs follow
} as const;

/** struct nlmsgerr extended-ack attributes. */
export const NLMSGERR_ATTR = {
  MSG: 1, // string
  OFFS: 2, // u32, offset of the offending attribute in the request
  COOKIE: 3,
  POLICY: 4,
  MISS_TYPE: 5, // u32, type of a missing mandatory attribute
  MISS_NEST: 6, // u32, offset of the nest where it is missing
} as const;

/** Socket options at level SOL_NETLINK (270). */
export const SOL_NETLINK = 270;
export const NETLINK_OPT = {
  ADD_MEMBERSHIP: 1,
  DROP_MEMBERSHIP: 2,
  PKTINFO: 3,
  BROADCAST_ERROR: 4,
  NO_ENOBUFS: 5,
  LISTEN_ALL_NSID: 8,
  CAP_ACK: 10,
  EXT_ACK: 11,
  GET_STRICT_CHK: 12,
} as const;

/** Attribute header flag bits, masked off nla_type (NLA_TYPE_MASK). */
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Sizes of fixed headers, in bytes. */
export const NLMSG_HDRLEN = 16; // struct nlmsghdr
export const NLA_HDRLEN = 4; // struct nlattr
