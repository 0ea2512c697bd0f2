import { addressBytes, type Family } from '../wire/ip.js';
import { IPPROTO_VRRP } from './consts.js';

/**
 * The VRRP checksum is the 16-bit one's-complement Internet checksum (RFC 1071) of the message with
 * the checksum field taken as zero. What it covers differs (failover-and-peers.md §1.4):
 *
 *   VRRPv2            the message only (header, addresses, 8 bytes of authentication data)
 *   VRRPv3 over IPv6  RFC 8200 §8.1 pseudo-header (src 16, dst 16, upper-layer length 4, zero 3, next header 112) + message
 *   VRRPv3 over IPv4  ambiguous in RFC 5798. keepalived (2.2.7 both sends and *only accepts* this), FRR by default
 *                     and tcpdump prepend an IPv4 pseudo-header (src 4, dst 4, zero 1, protocol 112, length 2);
 *                     RFC 9568 §5.2.8 settles on the message only, as Cisco and Juniper always did.
 */

/** ChecksumForm names what a checksum covers: the message only, or a pseudo-header and the message. */
export type ChecksumForm = 'message-only' | 'pseudo-header';

/** ChecksumAddresses are the IP source and destination the pseudo-header is built from (canonical text). */
export interface ChecksumAddresses {
  readonly src: string;
  readonly dst: string;
}

/** CHECKSUM_OFFSET is where the checksum sits in the VRRP message (RFC 5798 §5.2.8; IPV6_CHECKSUM offset). */
export const CHECKSUM_OFFSET = 6;

/** sum16 adds `b` as big-endian 16-bit words (an odd last byte padded with zero) to `acc`, without folding. */
function sum16(b: Uint8Array, acc: number, skipChecksumAt = -1): number {
  let s = acc;
  for (let i = 0; i + 1 < b.length; i += 2) {
    if (i === skipChecksumAt) continue;
    s += (b[i]! << 8) | b[i + 1]!;
  }
  if ((b.length & 1) === 1) s += b[b.length - 1]! << 8;
  return s;
}

function fold(s: number): number {
  let v = s;
  while (v > 0xffff) v = (v & 0xffff) + Math.floor(v / 0x10000);
  return v;
}

/** pseudoHeaderSum is the unfolded sum of the IPv4 or IPv6 pseudo-header for a VRRP message of `length` bytes. */
function pseudoHeaderSum(family: Family, addrs: ChecksumAddresses, length: number): number {
  const src = addressBytes(addrs.src, family);
  const dst = addressBytes(addrs.dst, family);
  // IPv4: zero byte + protocol as one word, 16-bit length. IPv6: 32-bit length, 3 zero bytes + next header.
  const tail = family === 'ipv4' ? IPPROTO_VRRP + length : Math.floor(length / 0x10000) + (length & 0xffff) + IPPROTO_VRRP;
  return sum16(src, 0) + sum16(dst, 0) + tail;
}

/**
 * vrrpChecksum computes the checksum field for `message` (its own checksum bytes are ignored) in the
 * given form. `addrs` is needed for the pseudo-header form only.
 */
export function vrrpChecksum(message: Uint8Array, family: Family, form: ChecksumForm, addrs?: ChecksumAddresses): number {
  let s = sum16(message, 0, CHECKSUM_OFFSET);
  if (form === 'pseudo-header') {
    if (addrs === undefined) throw new TypeError('the pseudo-header checksum needs the IP source and destination');
    s += pseudoHeaderSum(family, addrs, message.length);
  }
  return ~fold(s) & 0xffff;
}

/** storedChecksum reads the checksum field of a message (0 if the message is too short to hold one). */
export function storedChecksum(message: Uint8Array): number {
  return message.length < CHECKSUM_OFFSET + 2 ? 0 : (message[CHECKSUM_OFFSET]! << 8) | message[CHECKSUM_OFFSET + 1]!;
}

/**
 * checksumValid tells whether the stored checksum of `message` is right in the given form: the sum
 * over everything, checksum field included, folds to 0xffff (so 0x0000 and 0xffff, the two
 * one's-complement zeros, are both accepted as RFC 1071 receivers do).
 */
export function checksumValid(message: Uint8Array, family: Family, form: ChecksumForm, addrs?: ChecksumAddresses): boolean {
  let s = sum16(message, 0);
  if (form === 'pseudo-header') {
    if (addrs === undefined) throw new TypeError('the pseudo-header checksum needs the IP source and destination');
    s += pseudoHeaderSum(family, addrs, message.length);
  }
  return fold(s) === 0xffff;
}

/**
 * checksumFormOf tells which of the `accepted` forms (tried in order) the stored checksum of
 * `message` matches, or undefined when none does.
 */
export function checksumFormOf(message: Uint8Array, family: Family, accepted: readonly ChecksumForm[], addrs: ChecksumAddresses): ChecksumForm | undefined {
  return accepted.find((form) => checksumValid(message, family, form, addrs));
}
