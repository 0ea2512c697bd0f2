import { DecodeError } from '../wire/decode-error.js';
import type { Family } from '../wire/ip.js';
import { checksumFormOf, type ChecksumForm } from './checksum.js';
import { US_PER_CS, US_PER_S, VRRP_AUTH, VRRP_IP_TTL, VRRP_PRIO, VRRP_TYPE_ADVERTISEMENT } from './consts.js';
import { decodeVrrp, type VrrpAdvert } from './packet.js';

/**
 * Receive validation of one advertisement, in the order of failover-and-peers.md §1.5 (RFC 5798
 * §7.1, RFC 3768 §7.1), as a pure function so the daemon can count every discard by reason.
 */

/** AdvertMeta is what the I/O layer knows about a received advertisement. */
export interface AdvertMeta {
  readonly family: Family;
  /** IP source and destination, canonical text. */
  readonly src: string;
  readonly dst: string;
  /** IPv4 TTL / IPv6 hop limit when the socket reported it (IP_RECVTTL / IPV6_RECVHOPLIMIT). */
  readonly ttl?: number;
}

/** LocalVrrpConfig is the receiving virtual router's configuration, as far as validation needs it. */
export interface LocalVrrpConfig {
  readonly version: 2 | 3;
  readonly family: Family;
  /** VRIDs configured on the receiving interface for this family (§1.5 step 5). */
  readonly vrid: number;
  /** Configured priority: 255 makes this router the owner (§1.5 step 6). */
  readonly priority: number;
  /** Advertisement_Interval, microseconds; v2 compares it with the advert's whole seconds. */
  readonly advertIntUs: number;
  /** Virtual addresses, canonical text, in configuration order. */
  readonly addresses: readonly string[];
  /** VRRPv2 Auth Type expected (default NONE). */
  readonly authType?: number;
  /** Unicast peers (keepalived unicast_peer): TTL is not checked; `checkUnicastSrc` restricts the source to them. */
  readonly unicastPeers?: readonly string[];
  readonly checkUnicastSrc?: boolean;
  /** RFC behaviour for the owner: drop every advert. keepalived 2.3.3+ default processes them (to resolve duplicate owners). */
  readonly ownerDropsAdverts?: boolean;
}

/** DiscardReason says why an advertisement was dropped; each has a counter in the daemon. */
export type DiscardReason =
  | 'TTL' // TTL / hop limit not 255 on a multicast instance
  | 'VERSION' // version other than the configured one
  | 'TYPE' // type other than ADVERTISEMENT
  | 'LENGTH' // length does not match the address count
  | 'CHECKSUM' // no accepted checksum form matches
  | 'VRID' // VRID not configured here
  | 'OWNER' // local router is the address owner and drops adverts (ownerDropsAdverts)
  | 'AUTH_TYPE' // v2 Auth Type differs from the local one
  | 'ADVERT_INTERVAL' // v2 Adver Int differs from the local one; v3 Max Adver Int 0
  | 'UNICAST_SOURCE'; // unicast advert from an address that is not a configured peer

/** AdvertWarning: something worth logging (rate-limited) that does not discard the advertisement. */
export type AdvertWarning =
  | 'ADDRESS_LIST' // address count or list differs from the local configuration (RFC 5798 §7.1: log, keep)
  | 'ADVERT_INTERVAL'; // v3 Max Adver Int differs from the local one (the backup adopts the master's)

/** AdvertVerdict is the result of validateAdvert. */
export type AdvertVerdict =
  | { readonly ok: true; readonly advert: VrrpAdvert; readonly checksumForm: ChecksumForm; readonly warnings: readonly AdvertWarning[] }
  | { readonly ok: false; readonly reason: DiscardReason; readonly detail: string };

function discard(reason: DiscardReason, detail: string): AdvertVerdict {
  return { ok: false, reason, detail };
}

/**
 * acceptedChecksumForms lists the checksum forms accepted on receipt: v2 message only; v3/IPv6
 * pseudo-header only; v3/IPv4 both (RFC 9568 message-only first, then the pseudo-header form that
 * keepalived and FRR send by default), so that every deployed peer is understood (§1.4).
 */
export function acceptedChecksumForms(version: 2 | 3, family: Family): readonly ChecksumForm[] {
  if (version === 2) return ['message-only'];
  return family === 'ipv6' ? ['pseudo-header'] : ['message-only', 'pseudo-header'];
}

/** validateAdvert decodes and checks one received advertisement (the IP payload) against the local configuration. */
export function validateAdvert(packet: Uint8Array, meta: AdvertMeta, local: LocalVrrpConfig): AdvertVerdict {
  const unicast = (local.unicastPeers?.length ?? 0) > 0;
  if (!unicast && meta.ttl !== undefined && meta.ttl !== VRRP_IP_TTL) return discard('TTL', `TTL/hop limit ${meta.ttl}, want ${VRRP_IP_TTL}`);
  if (packet.length < 1) return discard('LENGTH', 'empty packet');
  const version = packet[0]! >> 4;
  const type = packet[0]! & 0x0f;
  if (version !== local.version) return discard('VERSION', `version ${version}, configured ${local.version}`);
  if (type !== VRRP_TYPE_ADVERTISEMENT) return discard('TYPE', `type ${type}, want ${VRRP_TYPE_ADVERTISEMENT}`);
  if (meta.family !== local.family) return discard('VERSION', `${meta.family} advert for an ${local.family} instance`);
  let advert: VrrpAdvert;
  try {
    advert = decodeVrrp(packet, meta.family);
  } catch (e) {
    if (e instanceof DecodeError) return discard('LENGTH', e.message);
    throw e;
  }
  const checksumForm = checksumFormOf(packet, meta.family, acceptedChecksumForms(advert.version, meta.family), meta);
  if (checksumForm === undefined) return discard('CHECKSUM', `checksum 0x${(((packet[6] ?? 0) << 8) | (packet[7] ?? 0)).toString(16).padStart(4, '0')} matches no accepted form`);
  if (advert.vrid !== local.vrid) return discard('VRID', `VRID ${advert.vrid} is not configured here (${local.vrid})`);
  if (local.priority === VRRP_PRIO.OWNER && local.ownerDropsAdverts === true) return discard('OWNER', 'local router owns the addresses');
  if (unicast && local.checkUnicastSrc === true && !(local.unicastPeers ?? []).includes(meta.src)) return discard('UNICAST_SOURCE', `${meta.src} is not a unicast peer`);
  const warnings: AdvertWarning[] = [];
  if (advert.version === 2) {
    const authType = local.authType ?? VRRP_AUTH.NONE;
    if (advert.authType !== authType) return discard('AUTH_TYPE', `auth type ${advert.authType}, configured ${authType}`);
    if (advert.advertIntSec * US_PER_S !== local.advertIntUs) return discard('ADVERT_INTERVAL', `advert interval ${advert.advertIntSec} s, configured ${local.advertIntUs / US_PER_S} s`);
  } else {
    if (advert.maxAdvertIntCs === 0) return discard('ADVERT_INTERVAL', 'max advert interval 0');
    if (advert.maxAdvertIntCs * US_PER_CS !== local.advertIntUs) warnings.push('ADVERT_INTERVAL');
  }
  if (!sameAddresses(advert.addresses, local.addresses)) warnings.push('ADDRESS_LIST');
  return { ok: true, advert, checksumForm, warnings };
}

/** sameAddresses compares address sets (order is free: keepalived sends them in configuration order). */
function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(b);
  return a.every((x) => set.has(x));
}
