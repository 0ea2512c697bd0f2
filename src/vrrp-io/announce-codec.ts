import { DecodeError } from '../wire/decode-error.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../wire/ip.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { formatMac, parseMac } from '../rtnetlink/link.js';

/**
 * Pure encoders (and decoders, for tests and captures) of what a new master announces its VIPs
 * with: a gratuitous ARP (RFC 5227 §2.3 "ARP Announcement", RFC 5798 §6.4.1) as a whole Ethernet
 * frame, and an unsolicited Neighbor Advertisement (RFC 4861 §4.4, §7.2.6) as an ICMPv6 message
 * whose checksum the kernel fills in. All fields are network order.
 */

/** ETHERTYPE_ARP and the ARP constants of an Ethernet/IPv4 ARP packet (RFC 826). */
const ETHERTYPE_ARP = 0x0806;
const ARPHRD_ETHER = 1;
const ETHERTYPE_IPV4 = 0x0800;
export const ARPOP = { REQUEST: 1, REPLY: 2 } as const;

/** ETH_HLEN / ARP_LEN: an Ethernet header, and an Ethernet/IPv4 ARP packet, in bytes. */
export const ETH_HLEN = 14;
export const ARP_LEN = 28;

/** GarpFrame is a gratuitous ARP: the MAC it announces (Ethernet source and sender) and the VIP. */
export interface GarpFrame {
  readonly mac: string; // the interface's MAC, or the VRRP virtual MAC 00:00:5e:00:01:<vrid>
  readonly ip: string;
  readonly op?: number; // ARPOP_REQUEST (default, what keepalived sends) or ARPOP_REPLY
  /**
   * The target hardware address: ff:ff:ff:ff:ff:ff by default, as keepalived 2.2.7 sends it
   * (test/vrrp-io/golden/keepalived-garp.hex); RFC 5227 §2.3 says receivers ignore it and
   * suggests zero, which "00:00:00:00:00:00" gives.
   */
  readonly targetMac?: string;
}

const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

function mac6(text: string): Uint8Array {
  const b = parseMac(text);
  if (b.length !== 6) throw new RangeError(`not an Ethernet address: ${text}`);
  return b;
}

function ip4(text: string): Uint8Array {
  const b = parseIPv4(text);
  if (b === undefined) throw new RangeError(`not an IPv4 address: ${text}`);
  return b;
}

/**
 * encodeGarpFrame builds the 42-byte broadcast frame "who-has VIP tell VIP": Ethernet destination
 * ff:ff:ff:ff:ff:ff, source and sender hardware address `mac`, sender and target protocol address
 * the VIP, and `targetMac`. Byte for byte what keepalived 2.2.7 sends; the NIC pads it to the
 * Ethernet minimum.
 */
export function encodeGarpFrame(g: GarpFrame): Uint8Array {
  const mac = mac6(g.mac);
  const ip = ip4(g.ip);
  const w = new Writer(ETH_HLEN + ARP_LEN);
  w.bytes(BROADCAST).bytes(mac).u16be(ETHERTYPE_ARP);
  w.u16be(ARPHRD_ETHER).u16be(ETHERTYPE_IPV4).u8(6).u8(4).u16be(g.op ?? ARPOP.REQUEST);
  w.bytes(mac).bytes(ip).bytes(g.targetMac === undefined ? BROADCAST : mac6(g.targetMac)).bytes(ip);
  return w.finish();
}

/** DecodedArp is an Ethernet/IPv4 ARP frame as received or captured. */
export interface DecodedArp {
  readonly ethDst: string;
  readonly ethSrc: string;
  readonly op: number;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac: string;
  readonly targetIp: string;
}

/** decodeArpFrame reads an Ethernet frame holding an Ethernet/IPv4 ARP packet (trailing padding allowed). */
export function decodeArpFrame(b: Uint8Array): DecodedArp {
  const r = new Reader(b, 0, b.length, ['arp']);
  const ethDst = formatMac(r.bytes(6));
  const ethSrc = formatMac(r.bytes(6));
  const type = r.u16be();
  if (type !== ETHERTYPE_ARP) r.fail('BAD_VALUE', `ethertype 0x${type.toString(16)} is not ARP`);
  const htype = r.u16be();
  const ptype = r.u16be();
  const hlen = r.u8();
  const plen = r.u8();
  if (htype !== ARPHRD_ETHER || ptype !== ETHERTYPE_IPV4 || hlen !== 6 || plen !== 4) {
    throw new DecodeError('BAD_VALUE', ['arp'], 14, `not Ethernet/IPv4 ARP (htype ${htype}, ptype 0x${ptype.toString(16)}, hlen ${hlen}, plen ${plen})`);
  }
  const op = r.u16be();
  return {
    ethDst,
    ethSrc,
    op,
    senderMac: formatMac(r.bytes(6)),
    senderIp: formatIPv4(r.bytes(4)),
    targetMac: formatMac(r.bytes(6)),
    targetIp: formatIPv4(r.bytes(4)),
  };
}

/** ND_NA_TYPE is the ICMPv6 type of a Neighbor Advertisement; ND_OPT_TARGET_LLADDR its link-layer option. */
export const ND_NA_TYPE = 136;
export const ND_OPT_TARGET_LLADDR = 2;

/** ND_NA_FLAG holds the NA flag bits of the first 32-bit word after the checksum (RFC 4861 §4.4). */
export const ND_NA_FLAG = { ROUTER: 0x80000000, SOLICITED: 0x40000000, OVERRIDE: 0x20000000 } as const;

/** NA_LEN is the NA with one target link-layer address option for Ethernet, in bytes. */
export const NA_LEN = 32;

/** UnsolicitedNa is a Neighbor Advertisement announcing that `target` is now at `mac`. */
export interface UnsolicitedNa {
  readonly target: string;
  readonly mac: string;
  /** Router flag: RFC 5798 §6.4 has a new master send its NAs with it set. Default true. */
  readonly router?: boolean;
}

/**
 * encodeUnsolicitedNa builds the ICMPv6 message: type 136, code 0, checksum 0 (a raw ICMPv6
 * socket has the kernel compute it), flags Override (and Router), never Solicited (RFC 4861
 * §7.2.6), the target address, and a target link-layer address option carrying `mac`.
 */
export function encodeUnsolicitedNa(na: UnsolicitedNa): Uint8Array {
  const target = parseIPv6(na.target);
  if (target === undefined) throw new RangeError(`not an IPv6 address: ${na.target}`);
  const flags = ND_NA_FLAG.OVERRIDE | (na.router === false ? 0 : ND_NA_FLAG.ROUTER);
  const w = new Writer(NA_LEN);
  w.u8(ND_NA_TYPE).u8(0).u16be(0).u32be(flags >>> 0).bytes(target);
  w.u8(ND_OPT_TARGET_LLADDR).u8(1).bytes(mac6(na.mac)); // option length in units of 8 bytes
  return w.finish();
}

/** DecodedNa is a Neighbor Advertisement: flags, target, and the target link-layer address if the option is there. */
export interface DecodedNa {
  readonly router: boolean;
  readonly solicited: boolean;
  readonly override: boolean;
  readonly target: string;
  readonly targetMac?: string;
}

/** decodeNa reads an ICMPv6 Neighbor Advertisement (options other than the target link-layer address are skipped). */
export function decodeNa(b: Uint8Array): DecodedNa {
  const r = new Reader(b, 0, b.length, ['na']);
  const type = r.u8();
  if (type !== ND_NA_TYPE) r.fail('BAD_VALUE', `ICMPv6 type ${type} is not a Neighbor Advertisement`);
  r.skip(3); // code, checksum
  const flags = r.u32be();
  const target = formatIPv6(r.bytes(16));
  let targetMac: string | undefined;
  while (r.remaining > 0) {
    const optType = r.u8();
    const units = r.u8();
    if (units === 0) r.fail('BAD_LENGTH', 'ND option of length 0');
    const body = r.bytes(units * 8 - 2);
    if (optType === ND_OPT_TARGET_LLADDR) targetMac = formatMac(body.subarray(0, 6));
  }
  return {
    router: (flags & ND_NA_FLAG.ROUTER) !== 0,
    solicited: (flags & ND_NA_FLAG.SOLICITED) !== 0,
    override: (flags & ND_NA_FLAG.OVERRIDE) !== 0,
    target,
    ...(targetMac !== undefined ? { targetMac } : {}),
  };
}
