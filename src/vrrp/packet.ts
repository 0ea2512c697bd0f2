import { DecodeError } from '../wire/decode-error.js';
import { addressBytes, formatIPv4, formatIPv6, type Family } from '../wire/ip.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { CHECKSUM_OFFSET, vrrpChecksum, type ChecksumAddresses, type ChecksumForm } from './checksum.js';
import { US_PER_CS, US_PER_S, VRRP_HEADER_LEN, VRRP_TYPE_ADVERTISEMENT, VRRP_V2_AUTH_DATA_LEN, VRRP_V3_MAX_ADVER_INT_CS } from './consts.js';

/**
 * The VRRP advertisement, the only VRRP packet (what follows the IPv4 header / IPv6 headers):
 *
 *   byte 0      version << 4 | type (1 = ADVERTISEMENT)
 *   byte 1      Virtual Rtr ID (VRID)
 *   byte 2      Priority
 *   byte 3      Count IP Addrs
 *   v2 byte 4   Auth Type          v3 bytes 4-5   rsvd (4 bits, zero) | Max Adver Int (12 bits, centiseconds)
 *   v2 byte 5   Adver Int (seconds)
 *   bytes 6-7   Checksum (checksum.ts)
 *   bytes 8-    addresses: 4 bytes each (IPv4), 16 (IPv6, v3 only)
 *   v2 only     Authentication Data, 8 bytes
 *
 * The model holds what the packet says, not how it was checksummed: the checksum is a function of
 * the content and of the IP addresses (checksum.ts), verified by validateAdvert and computed by
 * encodeVrrp. The v3 reserved bits are ignored on receipt and sent as zero (RFC 5798 §5.2.5).
 */

/** VrrpAdvertV2 is a VRRPv2 advertisement (RFC 3768 §5.3); VRRPv2 is IPv4 only. */
export interface VrrpAdvertV2 {
  readonly version: 2;
  readonly family: 'ipv4';
  readonly vrid: number;
  readonly priority: number;
  /** Auth Type (VRRP_AUTH): keepalived's `authtype none` sends 0. */
  readonly authType: number;
  /** Adver Int, seconds (1..255). */
  readonly advertIntSec: number;
  readonly addresses: readonly string[];
  /** Authentication Data, 8 bytes: zero for Auth Type 0 (RFC 3768 §5.3.10), the password for PASS. */
  readonly authData: Uint8Array;
}

/** VrrpAdvertV3 is a VRRPv3 advertisement (RFC 5798 / RFC 9568 §5.2), IPv4 or IPv6. */
export interface VrrpAdvertV3 {
  readonly version: 3;
  readonly family: Family;
  readonly vrid: number;
  readonly priority: number;
  /** Max Adver Int, centiseconds (12 bits; 1..4095 are meaningful). */
  readonly maxAdvertIntCs: number;
  /** IPv6: the first one is the virtual router's link-local address (RFC 5798 §5.2.9). */
  readonly addresses: readonly string[];
}

export type VrrpAdvert = VrrpAdvertV2 | VrrpAdvertV3;

/**
 * V3Ipv4Checksum chooses how a VRRPv3/IPv4 checksum is sent. 'pseudo-header' is what keepalived
 * 2.2.7 sends and the only form it accepts (vrrp.c vrrp_check_packet, no v3_checksum_as_v2 knob
 * before 2.3.x), so it is the default to interoperate with the keepalived the lab ships;
 * 'message-only' is RFC 9568's form (Cisco, Juniper, Arista, keepalived with v3_checksum_as_v2).
 * Receivers accept both (validate.ts).
 */
export type V3Ipv4Checksum = ChecksumForm;
export const DEFAULT_V3_IPV4_CHECKSUM: V3Ipv4Checksum = 'pseudo-header';

/** EncodeContext gives the IP addresses for the pseudo-header (v3) and the v3/IPv4 checksum form. */
export interface EncodeContext extends Partial<ChecksumAddresses> {
  readonly v3Ipv4Checksum?: V3Ipv4Checksum;
}

/** AdvertSource is what an instance puts in every advert it sends (the FSM's sendAdvert gives the priority). */
export interface AdvertSource {
  readonly version: 2 | 3;
  readonly family: Family;
  readonly vrid: number;
  /** Advertisement_Interval, microseconds: sent as whole seconds (v2, 1..255) or centiseconds (v3, 1..4095). */
  readonly advertIntUs: number;
  readonly addresses: readonly string[];
  /** VRRPv2 Auth Type and data (keepalived `authtype none`: 0 and eight zero bytes, the defaults). */
  readonly authType?: number;
  readonly authData?: Uint8Array;
}

/** advertFor builds the advert an instance sends with `priority` (a sendAdvert action). */
export function advertFor(src: AdvertSource, priority: number): VrrpAdvert {
  if (src.version === 2) {
    if (src.family !== 'ipv4') throw new RangeError('VRRPv2 is IPv4 only');
    const advertIntSec = Math.min(255, Math.max(1, Math.round(src.advertIntUs / US_PER_S)));
    return { version: 2, family: 'ipv4', vrid: src.vrid, priority, authType: src.authType ?? 0, advertIntSec, addresses: src.addresses, authData: src.authData ?? new Uint8Array(VRRP_V2_AUTH_DATA_LEN) };
  }
  const maxAdvertIntCs = Math.min(VRRP_V3_MAX_ADVER_INT_CS, Math.max(1, Math.round(src.advertIntUs / US_PER_CS)));
  return { version: 3, family: src.family, vrid: src.vrid, priority, maxAdvertIntCs, addresses: src.addresses };
}

/** vrrpLength is the message length for a version, family and address count. */
export function vrrpLength(version: 2 | 3, family: Family, count: number): number {
  const addr = family === 'ipv4' ? 4 : 16;
  return VRRP_HEADER_LEN + addr * count + (version === 2 ? VRRP_V2_AUTH_DATA_LEN : 0);
}

/**
 * checksumFormFor is the form a message of this version and family is checksummed with when sent:
 * v2 message only, v3/IPv6 pseudo-header, v3/IPv4 as chosen.
 */
export function checksumFormFor(version: 2 | 3, family: Family, v3Ipv4: V3Ipv4Checksum = DEFAULT_V3_IPV4_CHECKSUM): ChecksumForm {
  if (version === 2) return 'message-only';
  return family === 'ipv6' ? 'pseudo-header' : v3Ipv4;
}

function checkByte(v: number, name: string, min = 0, max = 0xff): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} ${v} is not in ${min}..${max}`);
}

/**
 * encodeVrrp builds the advertisement with its checksum filled in. `ctx.src`/`ctx.dst` (the IP
 * source and destination) are required when the checksum covers a pseudo-header: v3/IPv6 always,
 * v3/IPv4 unless `ctx.v3Ipv4Checksum` is 'message-only'. Out-of-range fields throw RangeError.
 */
export function encodeVrrp(a: VrrpAdvert, ctx: EncodeContext = {}): Uint8Array {
  checkByte(a.vrid, 'vrid');
  checkByte(a.priority, 'priority');
  checkByte(a.addresses.length, 'address count');
  const w = new Writer(vrrpLength(a.version, a.family, a.addresses.length));
  w.u8((a.version << 4) | VRRP_TYPE_ADVERTISEMENT)
    .u8(a.vrid)
    .u8(a.priority)
    .u8(a.addresses.length);
  if (a.version === 2) {
    if (a.family !== 'ipv4') throw new RangeError('VRRPv2 is IPv4 only');
    checkByte(a.authType, 'auth type');
    checkByte(a.advertIntSec, 'advert interval (s)');
    if (a.authData.length !== VRRP_V2_AUTH_DATA_LEN) throw new RangeError(`authentication data is ${a.authData.length} bytes, not ${VRRP_V2_AUTH_DATA_LEN}`);
    w.u8(a.authType).u8(a.advertIntSec);
  } else {
    checkByte(a.maxAdvertIntCs, 'max advert interval (cs)', 0, VRRP_V3_MAX_ADVER_INT_CS);
    w.u16be(a.maxAdvertIntCs);
  }
  w.u16be(0); // checksum, patched below
  for (const addr of a.addresses) w.bytes(addressOrThrow(addr, a.family));
  if (a.version === 2) w.bytes(a.authData);
  const out = w.finish();
  const form = checksumFormFor(a.version, a.family, ctx.v3Ipv4Checksum);
  const addrs = ctx.src !== undefined && ctx.dst !== undefined ? { src: ctx.src, dst: ctx.dst } : undefined;
  const sum = vrrpChecksum(out, a.family, form, addrs);
  out[CHECKSUM_OFFSET] = sum >> 8;
  out[CHECKSUM_OFFSET + 1] = sum & 0xff;
  return out;
}

function addressOrThrow(text: string, family: Family): Uint8Array {
  try {
    return addressBytes(text, family);
  } catch {
    throw new RangeError(`not an ${family} address: ${text}`);
  }
}

/**
 * decodeVrrp reads one advertisement that fills `bytes` exactly (the IP payload, trimmed to the IP
 * length). `family` is the IP family it arrived over. Throws DecodeError only: BAD_VALUE for a
 * version other than 2/3, a type other than ADVERTISEMENT or VRRPv2 over IPv6; SHORT / TRAILING
 * when the length does not match the address count. The checksum is not checked here (validate.ts).
 */
export function decodeVrrp(bytes: Uint8Array, family: Family): VrrpAdvert {
  const r = new Reader(bytes, 0, bytes.length, ['vrrp']);
  const vt = r.u8();
  const version = vt >> 4;
  const type = vt & 0x0f;
  if (version !== 2 && version !== 3) throw new DecodeError('BAD_VALUE', ['vrrp', 'version'], 0, `version ${version}, want 2 or 3`);
  if (type !== VRRP_TYPE_ADVERTISEMENT) throw new DecodeError('BAD_VALUE', ['vrrp', 'type'], 0, `type ${type}, want ${VRRP_TYPE_ADVERTISEMENT} (ADVERTISEMENT)`);
  if (version === 2 && family !== 'ipv4') throw new DecodeError('BAD_VALUE', ['vrrp', 'version'], 0, 'VRRPv2 over IPv6');
  const vrid = r.u8();
  const priority = r.u8();
  const count = r.u8();
  const want = vrrpLength(version, family, count);
  if (bytes.length < want) throw new DecodeError('SHORT', ['vrrp'], bytes.length, `${bytes.length} bytes, ${count} addresses need ${want}`);
  if (bytes.length > want) throw new DecodeError('TRAILING', ['vrrp'], want, `${bytes.length} bytes, ${count} addresses need ${want}`);
  if (version === 2) {
    const authType = r.u8();
    const advertIntSec = r.u8();
    r.skip(2);
    const addresses = readAddresses(r, 'ipv4', count);
    const authData = Uint8Array.from(r.bytes(VRRP_V2_AUTH_DATA_LEN));
    return { version, family: 'ipv4', vrid, priority, authType, advertIntSec, addresses, authData };
  }
  const maxAdvertIntCs = r.u16be() & VRRP_V3_MAX_ADVER_INT_CS;
  r.skip(2);
  return { version, family, vrid, priority, maxAdvertIntCs, addresses: readAddresses(r, family, count) };
}

function readAddresses(r: Reader, family: Family, count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(family === 'ipv4' ? formatIPv4(r.bytes(4)) : formatIPv6(r.bytes(16)));
  return out;
}
