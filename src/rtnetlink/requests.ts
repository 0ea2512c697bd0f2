import { NLM_F } from '../netlink/consts.js';
import type { NlRequest } from '../netlink/conn.js';
import { addressBytes, type Family } from '../wire/ip.js';
import { encodeAddress, encodeAddrDumpRequest, type AddrFilter } from './address.js';
import { IFA_F, MACVLAN_MODE, RTEXT_FILTER, RTM } from './consts.js';
import { encodeLink } from './link.js';

/**
 * The rtnetlink requests keepstate sends, each shaped as iproute2 shapes the same request (the
 * golden tests compare them byte for byte with `ip`'s). NetlinkConn adds NLM_F_REQUEST|NLM_F_ACK.
 */

/** AddressSpec is a VIP as configured: an address with its prefix length on one interface. */
export interface AddressSpec {
  readonly ifindex: number;
  readonly family: Family;
  readonly address: string;
  readonly prefixLen: number;
  readonly label?: string; // IPv4 only, "<ifname>:<suffix>" as keepalived's `label`
  readonly broadcast?: string; // IPv4 only
  readonly nodad?: boolean; // IPv6: skip duplicate address detection (IFA_F_NODAD), as keepalived does for VIPs
}

/** parseCidr splits "192.0.2.10/24" or "2001:db8::1/64" (no prefix: a host route length) into its parts. */
export function parseCidr(cidr: string): { family: Family; address: string; prefixLen: number } {
  const [addr, len, extra] = cidr.split('/');
  if (addr === undefined || extra !== undefined) throw new RangeError(`not an address/prefix: ${cidr}`);
  const family: Family = addr.includes(':') ? 'ipv6' : 'ipv4';
  addressBytes(addr, family); // throws on bad text
  const max = family === 'ipv4' ? 32 : 128;
  const prefixLen = len === undefined ? max : Number(len);
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max || (len !== undefined && !/^\d+$/.test(len)))
    throw new RangeError(`bad prefix length in ${cidr}`);
  return { family, address: addr, prefixLen };
}

/** newAddressRequest is RTM_NEWADDR with NLM_F_CREATE|NLM_F_EXCL (`ip addr add`): an existing address is EEXIST. */
export function newAddressRequest(a: AddressSpec): NlRequest {
  const flags = a.nodad === true ? IFA_F.NODAD : 0;
  const body = encodeAddress({
    family: a.family,
    prefixLen: a.prefixLen,
    flags,
    scope: 0,
    ifindex: a.ifindex,
    local: a.address,
    ...(a.label !== undefined ? { label: a.label } : {}),
    address: a.address,
    ...(a.broadcast !== undefined ? { broadcast: a.broadcast } : {}),
  });
  return { type: RTM.NEWADDR, flags: NLM_F.CREATE | NLM_F.EXCL, body };
}

/** deleteAddressRequest is RTM_DELADDR (`ip addr del`): an absent address is EADDRNOTAVAIL. */
export function deleteAddressRequest(a: Pick<AddressSpec, 'ifindex' | 'family' | 'address' | 'prefixLen'>): NlRequest {
  const body = encodeAddress({ family: a.family, prefixLen: a.prefixLen, flags: 0, scope: 0, ifindex: a.ifindex, local: a.address, address: a.address });
  return { type: RTM.DELADDR, flags: 0, body };
}

/** addressDumpRequest is RTM_GETADDR; send it with NetlinkConn.dump (which adds NLM_F_DUMP). */
export function addressDumpRequest(f: AddrFilter = {}): NlRequest {
  return { type: RTM.GETADDR, flags: 0, body: encodeAddrDumpRequest(f) };
}

/** getLinkRequest is RTM_GETLINK for one ifindex, without statistics (IFLA_EXT_MASK VF|SKIP_STATS, as `ip link show dev`). */
export function getLinkRequest(ifindex: number): NlRequest {
  return { type: RTM.GETLINK, flags: 0, body: encodeLink({ family: 0, type: 0, ifindex, flags: 0, change: 0, extMask: RTEXT_FILTER.VF | RTEXT_FILTER.SKIP_STATS }) };
}

/** linkDumpRequest is RTM_GETLINK for every link; send it with NetlinkConn.dump. */
export function linkDumpRequest(): NlRequest {
  return { type: RTM.GETLINK, flags: 0, body: encodeLink({ family: 0, type: 0, ifindex: 0, flags: 0, change: 0, extMask: RTEXT_FILTER.VF | RTEXT_FILTER.SKIP_STATS }) };
}

/** MacvlanSpec is a virtual-MAC interface for use_vmac: its name, parent ifindex and MAC (00:00:5e:00:01:<vrid>). */
export interface MacvlanSpec {
  readonly name: string;
  readonly parentIfindex: number;
  readonly mac: string;
  readonly mode?: number; // MACVLAN_MODE_*, default private (keepalived's choice)
}

/** newMacvlanRequest is RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL (`ip link add link P name N address M type macvlan mode private`). */
export function newMacvlanRequest(m: MacvlanSpec): NlRequest {
  const body = encodeLink({
    family: 0,
    type: 0,
    ifindex: 0,
    flags: 0,
    change: 0,
    address: m.mac,
    link: m.parentIfindex,
    ifname: m.name,
    linkInfo: { kind: 'macvlan', macvlanMode: m.mode ?? MACVLAN_MODE.PRIVATE },
  });
  return { type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL, body };
}

/** deleteLinkRequest is RTM_DELLINK by ifindex (`ip link del`). */
export function deleteLinkRequest(ifindex: number): NlRequest {
  return { type: RTM.DELLINK, flags: 0, body: encodeLink({ family: 0, type: 0, ifindex, flags: 0, change: 0 }) };
}

/** setLinkUpRequest is RTM_NEWLINK setting or clearing IFF_UP (`ip link set dev X up|down`). */
export function setLinkUpRequest(ifindex: number, up: boolean): NlRequest {
  return { type: RTM.NEWLINK, flags: 0, body: encodeLink({ family: 0, type: 0, ifindex, flags: up ? 1 : 0, change: 1 }) };
}
