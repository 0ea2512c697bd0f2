import { HOST_LITTLE_ENDIAN } from '../wire/byte-order.js';
import { DecodeError } from '../wire/decode-error.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../wire/ip.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';

/**
 * Pure encoders and decoders for the socket-option structs and control messages of the VRRP,
 * ARP and NA sockets (include/uapi/linux/in.h, in6.h, ipv6.h, icmpv6.h; bits/socket.h for cmsghdr).
 * Structs are host order except addresses and ports, which are network order.
 */

/** SOL_IPV6 / IPPROTO_ICMPV6 are option levels; IPPROTO_VRRP is the IP protocol number of VRRP. */
export const SOL_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_VRRP = 112;

/** IP_OPT holds the IPv4 options the VRRP socket sets (level SOL_IP) besides native/socket.ts's IP. */
export const IP_OPT = {
  TOS: 1, // int: the TOS byte; keepalived sends adverts with 0xc0 (precedence "internetwork control")
  TTL: 2, // int: unicast TTL
  PKTINFO: 8, // int flag; each datagram carries a struct in_pktinfo cmsg of type IP_PKTINFO
  MULTICAST_IF: 32, // struct ip_mreqn: which interface (and source) multicast leaves by
  MULTICAST_TTL: 33, // int
  MULTICAST_LOOP: 34, // int flag
  ADD_MEMBERSHIP: 35, // struct ip_mreqn
} as const;

/** IPV6_OPT holds the IPv6 options (level SOL_IPV6). */
export const IPV6_OPT = {
  UNICAST_HOPS: 16, // int
  MULTICAST_IF: 17, // int ifindex
  MULTICAST_HOPS: 18, // int
  MULTICAST_LOOP: 19, // int flag
  JOIN_GROUP: 20, // struct ipv6_mreq (IPV6_ADD_MEMBERSHIP)
  RECVPKTINFO: 49, // int flag → IPV6_PKTINFO cmsg
  PKTINFO: 50, // cmsg type: struct in6_pktinfo (destination address, ifindex)
  RECVHOPLIMIT: 51, // int flag → IPV6_HOPLIMIT cmsg
  HOPLIMIT: 52, // cmsg type: int hop limit
  TCLASS: 67, // int: traffic class byte
} as const;

/** ICMP6_FILTER (level IPPROTO_ICMPV6) is a 256-bit bitmap; a set bit blocks that ICMPv6 type. */
export const ICMP6_FILTER = 1;

/** icmp6FilterBlockAll blocks every ICMPv6 type: for a socket that only sends. */
export function icmp6FilterBlockAll(): Uint8Array {
  return new Uint8Array(32).fill(0xff);
}

function v4(addr: string): Uint8Array {
  const b = parseIPv4(addr);
  if (b === undefined) throw new RangeError(`not an IPv4 address: ${addr}`);
  return b;
}

function v6(addr: string): Uint8Array {
  const b = parseIPv6(addr);
  if (b === undefined) throw new RangeError(`not an IPv6 address: ${addr}`);
  return b;
}

/**
 * ipMreqn is struct ip_mreqn {imr_multiaddr, imr_address, imr_ifindex} (12 bytes) for
 * IP_ADD_MEMBERSHIP and IP_MULTICAST_IF: for the latter, imr_address is the source address of
 * what is sent (0.0.0.0: the interface's primary address).
 */
export function ipMreqn(group: string, ifindex: number, address = '0.0.0.0'): Uint8Array {
  return new Writer(12).bytes(v4(group)).bytes(v4(address)).u32ne(ifindex).finish();
}

/** ipv6Mreq is struct ipv6_mreq {ipv6mr_multiaddr, ipv6mr_interface} (20 bytes) for IPV6_JOIN_GROUP. */
export function ipv6Mreq(group: string, ifindex: number): Uint8Array {
  return new Writer(20).bytes(v6(group)).u32ne(ifindex).finish();
}

const AF_INET = 2;
const AF_INET6 = 10;

/** inet6Sockaddr is struct sockaddr_in6 (28 bytes): port and flowinfo network order, scope id host order. */
export function inet6Sockaddr(addr: string, port = 0, scopeId = 0): Uint8Array {
  return new Writer(28).u16ne(AF_INET6).u16be(port).u32be(0).bytes(v6(addr)).u32ne(scopeId).finish();
}

/** SockaddrIn is a decoded sockaddr_in / sockaddr_in6: the address as text, the scope id for IPv6. */
export interface SockaddrIn {
  readonly address: string;
  readonly port: number;
  readonly scopeId?: number;
}

/** decodeSockaddrIn reads a sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes) as recvmsg returns it. */
export function decodeSockaddrIn(b: Uint8Array): SockaddrIn {
  const r = new Reader(b, 0, b.length, ['sockaddr']);
  const fam = r.u16ne();
  const port = r.u16be();
  if (fam === AF_INET) return { address: formatIPv4(r.bytes(4)), port };
  if (fam !== AF_INET6) r.fail('BAD_VALUE', `sa_family ${fam} is neither AF_INET nor AF_INET6`);
  r.skip(4); // sin6_flowinfo
  const address = formatIPv6(r.bytes(16));
  return { address, port, scopeId: r.u32ne() };
}

/** Cmsg is one control message: cmsg_level, cmsg_type and a view of its data. */
export interface Cmsg {
  readonly level: number;
  readonly type: number;
  readonly data: Uint8Array;
}

/**
 * CMSG_HDR is sizeof(struct cmsghdr) on LP64 Linux: size_t cmsg_len, int level, int type; data
 * and the next header are aligned to sizeof(size_t) (CMSG_ALIGN).
 */
const CMSG_HDR = 16;
const cmsgAlign = (n: number): number => (n + 7) & ~7;

/** decodeCmsgs splits recvmsg ancillary data into control messages (DecodeError on a bad cmsg_len). */
export function decodeCmsgs(ctrl: Uint8Array): Cmsg[] {
  const out: Cmsg[] = [];
  const view = new DataView(ctrl.buffer, ctrl.byteOffset, ctrl.byteLength);
  for (let o = 0; o + CMSG_HDR <= ctrl.length; ) {
    const len = Number(view.getBigUint64(o, HOST_LITTLE_ENDIAN));
    if (len < CMSG_HDR || len > ctrl.length - o) throw new DecodeError('BAD_LENGTH', ['cmsg'], o, `cmsg_len ${len} outside ${CMSG_HDR}..${ctrl.length - o}`);
    out.push({ level: view.getInt32(o + 8, HOST_LITTLE_ENDIAN), type: view.getInt32(o + 12, HOST_LITTLE_ENDIAN), data: ctrl.subarray(o + CMSG_HDR, o + len) });
    o += cmsgAlign(len);
  }
  return out;
}

/** encodeCmsg builds one control message as the kernel lays it out (tests feed decodeCmsgs with it). */
export function encodeCmsg(level: number, type: number, data: Uint8Array): Uint8Array {
  const len = CMSG_HDR + data.length;
  const b = new Uint8Array(cmsgAlign(len));
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(len), HOST_LITTLE_ENDIAN);
  v.setInt32(8, level, HOST_LITTLE_ENDIAN);
  v.setInt32(12, type, HOST_LITTLE_ENDIAN);
  b.set(data, CMSG_HDR);
  return b;
}

/** InPktinfo is struct in_pktinfo (IP_PKTINFO): the receiving ifindex, the local address and the header destination. */
export interface InPktinfo {
  readonly ifindex: number;
  readonly specDst: string;
  readonly dst: string;
}

/** decodeInPktinfo reads a 12-byte struct in_pktinfo. */
export function decodeInPktinfo(d: Uint8Array): InPktinfo {
  const r = new Reader(d, 0, d.length, ['in_pktinfo']);
  if (d.length !== 12) r.fail('BAD_SIZE', `in_pktinfo of ${d.length} bytes`);
  return { ifindex: r.u32ne(), specDst: formatIPv4(r.bytes(4)), dst: formatIPv4(r.bytes(4)) };
}

/** In6Pktinfo is struct in6_pktinfo (IPV6_PKTINFO): the destination address and the receiving ifindex. */
export interface In6Pktinfo {
  readonly dst: string;
  readonly ifindex: number;
}

/** decodeIn6Pktinfo reads a 20-byte struct in6_pktinfo. */
export function decodeIn6Pktinfo(d: Uint8Array): In6Pktinfo {
  const r = new Reader(d, 0, d.length, ['in6_pktinfo']);
  if (d.length !== 20) r.fail('BAD_SIZE', `in6_pktinfo of ${d.length} bytes`);
  return { dst: formatIPv6(r.bytes(16)), ifindex: r.u32ne() };
}

/**
 * decodeCmsgTimespec reads SCM_TIMESTAMPNS: a 16-byte struct timespec (LP64: tv_sec, tv_nsec, both
 * 64-bit), the CLOCK_REALTIME instant the kernel received the datagram, as µs since the epoch.
 */
export function decodeCmsgTimespec(d: Uint8Array): number {
  const r = new Reader(d, 0, d.length, ['timespec']);
  if (d.length !== 16) r.fail('BAD_SIZE', `timespec of ${d.length} bytes`);
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const sec = Number(view.getBigInt64(0, HOST_LITTLE_ENDIAN));
  const nsec = Number(view.getBigInt64(8, HOST_LITTLE_ENDIAN));
  if (nsec < 0 || nsec >= 1e9) r.fail('BAD_VALUE', `tv_nsec ${nsec}`);
  return sec * 1e6 + Math.floor(nsec / 1000);
}

/** decodeCmsgInt reads an int control message (IPV6_HOPLIMIT). */
export function decodeCmsgInt(d: Uint8Array): number {
  const r = new Reader(d, 0, d.length, ['cmsg_int']);
  if (d.length !== 4) r.fail('BAD_SIZE', `int cmsg of ${d.length} bytes`);
  return r.u32ne() | 0;
}

/** Ipv4Header is what a raw IPv4 socket's receiver needs from the IP header in front of the payload. */
export interface Ipv4Header {
  readonly headerLen: number; // bytes (IHL × 4)
  readonly totalLen: number; // bytes, header included
  readonly tos: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
}

/**
 * decodeIpv4Header reads the IPv4 header a raw socket returns in front of each datagram. A
 * version other than 4, IHL < 5 or a total length beyond the datagram is a DecodeError; Ethernet
 * padding after totalLen is allowed (the caller cuts the payload at totalLen).
 */
export function decodeIpv4Header(b: Uint8Array): Ipv4Header {
  const r = new Reader(b, 0, b.length, ['ipv4']);
  const vihl = r.u8();
  if (vihl >> 4 !== 4) r.fail('BAD_VALUE', `IP version ${vihl >> 4}`);
  const headerLen = (vihl & 0x0f) * 4;
  if (headerLen < 20) r.fail('BAD_VALUE', `IHL ${headerLen / 4} below 5`);
  const tos = r.u8();
  const totalLen = r.u16be();
  r.skip(4); // id, flags + fragment offset
  const ttl = r.u8();
  const protocol = r.u8();
  r.skip(2); // header checksum (the kernel checked it)
  const src = formatIPv4(r.bytes(4));
  const dst = formatIPv4(r.bytes(4));
  if (totalLen < headerLen || totalLen > b.length) r.fail('BAD_LENGTH', `total length ${totalLen} outside ${headerLen}..${b.length}`);
  return { headerLen, totalLen, tos, ttl, protocol, src, dst };
}
