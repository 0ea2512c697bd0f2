/**
 * rtnetlink constants with their kernel names (include/uapi/linux/rtnetlink.h, if_addr.h, if_link.h,
 * if.h). Numbers are host order; payloads of these messages are host order too (house-style R3),
 * except addresses, which are bytes in network order.
 */

/** RTM holds the rtnetlink message types used here (nlmsg_type). */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
} as const;

/** RTNLGRP holds multicast group numbers for NETLINK_ADD_MEMBERSHIP. */
export const RTNLGRP = {
  LINK: 1,
  IPV4_IFADDR: 5,
  IPV6_IFADDR: 9,
} as const;

/** IFA holds struct ifaddrmsg attribute types. */
export const IFA = {
  ADDRESS: 1, // the prefix address (the peer on point-to-point links)
  LOCAL: 2, // the local address (IPv4)
  LABEL: 3, // NUL-terminated name, IPv4 only ("eth0:vip")
  BROADCAST: 4,
  ANYCAST: 5,
  CACHEINFO: 6, // struct ifa_cacheinfo: preferred/valid lifetimes (s), created/updated (cs since boot)
  MULTICAST: 7,
  FLAGS: 8, // u32: IFA_F_* including those that do not fit ifa_flags
} as const;

/** IFA_F holds address flags (ifa_flags u8 and IFA_FLAGS u32). */
export const IFA_F = {
  SECONDARY: 0x01,
  NODAD: 0x02,
  OPTIMISTIC: 0x04,
  DADFAILED: 0x08,
  HOMEADDRESS: 0x10,
  DEPRECATED: 0x20,
  TENTATIVE: 0x40,
  PERMANENT: 0x80,
  MANAGETEMPADDR: 0x100,
  NOPREFIXROUTE: 0x200,
} as const;

/** RT_SCOPE holds ifa_scope values. */
export const RT_SCOPE = { UNIVERSE: 0, SITE: 200, LINK: 253, HOST: 254, NOWHERE: 255 } as const;

/** IFLA holds struct ifinfomsg attribute types. */
export const IFLA = {
  ADDRESS: 1, // link-layer address (bytes)
  BROADCAST: 2,
  IFNAME: 3, // NUL-terminated
  MTU: 4, // u32
  LINK: 5, // u32 ifindex of the lower device (macvlan parent)
  MASTER: 10,
  OPERSTATE: 16, // u8, RFC 2863 IF_OPER_*
  LINKINFO: 18, // nested IFLA_INFO_*
  EXT_MASK: 29, // u32 RTEXT_FILTER_*
  CARRIER: 33, // u8
} as const;

/** IFLA_INFO holds the attributes nested in IFLA_LINKINFO. */
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;

/** IFLA_MACVLAN holds the attributes nested in IFLA_INFO_DATA of a macvlan. */
export const IFLA_MACVLAN = { MODE: 1, FLAGS: 2 } as const;

/** MACVLAN_MODE holds the macvlan modes; keepalived's use_vmac makes "private" ones. */
export const MACVLAN_MODE = { PRIVATE: 1, VEPA: 2, BRIDGE: 4, PASSTHRU: 8, SOURCE: 16 } as const;

/** RTEXT_FILTER holds IFLA_EXT_MASK bits; iproute2 asks for VF | SKIP_STATS (9). */
export const RTEXT_FILTER = { VF: 1, BRVLAN: 2, BRVLAN_COMPRESSED: 4, SKIP_STATS: 8 } as const;

/** IFF holds the net_device_flags bits of ifi_flags that link tracking reads. */
export const IFF = {
  UP: 0x1, // administratively up
  BROADCAST: 0x2,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  RUNNING: 0x40, // operationally up (RFC 2863 "up")
  NOARP: 0x80,
  MULTICAST: 0x1000,
  LOWER_UP: 0x10000, // the driver signals carrier
  DORMANT: 0x20000,
} as const;

/** IF_OPER holds the RFC 2863 operational states of IFLA_OPERSTATE. */
export const IF_OPER = {
  UNKNOWN: 0,
  NOTPRESENT: 1,
  DOWN: 2,
  LOWERLAYERDOWN: 3,
  TESTING: 4,
  DORMANT: 5,
  UP: 6,
} as const;

/** OperState is IFLA_OPERSTATE as text, or the number when the kernel sends one not listed. */
export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up' | { other: number };

const OPER_NAMES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;

/** operStateOf maps an IF_OPER_* number to its name. */
export function operStateOf(n: number): OperState {
  return OPER_NAMES[n] ?? { other: n };
}

/** operStateNumber maps an OperState back to its IF_OPER_* number. */
export function operStateNumber(s: OperState): number {
  if (typeof s === 'object') return s.other;
  return OPER_NAMES.indexOf(s);
}

/** Sizes of fixed headers, in bytes. */
export const IFADDRMSG_LEN = 8; // struct ifaddrmsg
export const IFINFOMSG_LEN = 16; // struct ifinfomsg
export const IFA_CACHEINFO_LEN = 16; // struct ifa_cacheinfo
