import { forEachAttr, putBytes, putRaw, putString, putU32ne, readString, type RawAttr } from '../netlink/attrs.js';
import { addressBytes, formatIPv4, formatIPv6, type Family } from '../wire/ip.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { IFA, IFA_CACHEINFO_LEN, IFADDRMSG_LEN } from './consts.js';

/** AF_INET / AF_INET6 as ifa_family carries them. */
const AF_INET = 2;
const AF_INET6 = 10;

/** AddrCacheInfo is struct ifa_cacheinfo: lifetimes in seconds (0xffffffff = forever), stamps in centiseconds since boot. */
export interface AddrCacheInfo {
  readonly preferredSec: number;
  readonly validSec: number;
  readonly createdCs: number;
  readonly updatedCs: number;
}

/**
 * IfAddress is one RTM_NEWADDR / RTM_DELADDR message: struct ifaddrmsg and the attributes keepstate
 * reads. Addresses are canonical text of `family`. `flags` is the u8 ifa_flags; `extFlags` the
 * u32 IFA_FLAGS attribute, which the kernel sends because newer flags do not fit in ifa_flags.
 * Attributes this codec does not interpret are kept in `unknown` (house-style R4).
 */
export interface IfAddress {
  readonly family: Family;
  readonly prefixLen: number;
  readonly flags: number;
  readonly scope: number; // RT_SCOPE_*
  readonly ifindex: number;
  readonly address?: string; // IFA_ADDRESS
  readonly local?: string; // IFA_LOCAL
  readonly label?: string; // IFA_LABEL
  readonly broadcast?: string; // IFA_BROADCAST
  readonly extFlags?: number; // IFA_FLAGS
  readonly cacheInfo?: AddrCacheInfo; // IFA_CACHEINFO
  readonly unknown?: readonly RawAttr[];
}

const addrLen = (f: Family): number => (f === 'ipv4' ? 4 : 16);

/**
 * encodeAddress writes an ifaddrmsg and its attributes, in the order iproute2 sends them
 * (IFA_LOCAL, IFA_LABEL, IFA_ADDRESS, IFA_BROADCAST), then IFA_FLAGS, IFA_CACHEINFO and kept ones.
 */
export function encodeAddress(a: IfAddress): Uint8Array {
  const w = new Writer(64);
  w.u8(a.family === 'ipv4' ? AF_INET : AF_INET6)
    .u8(a.prefixLen)
    .u8(a.flags)
    .u8(a.scope)
    .u32ne(a.ifindex);
  if (a.local !== undefined) putBytes(w, IFA.LOCAL, addressBytes(a.local, a.family));
  if (a.label !== undefined) putString(w, IFA.LABEL, a.label);
  if (a.address !== undefined) putBytes(w, IFA.ADDRESS, addressBytes(a.address, a.family));
  if (a.broadcast !== undefined) putBytes(w, IFA.BROADCAST, addressBytes(a.broadcast, a.family));
  if (a.extFlags !== undefined) putU32ne(w, IFA.FLAGS, a.extFlags);
  if (a.cacheInfo !== undefined) {
    const c = new Writer(IFA_CACHEINFO_LEN).u32ne(a.cacheInfo.preferredSec).u32ne(a.cacheInfo.validSec).u32ne(a.cacheInfo.createdCs).u32ne(a.cacheInfo.updatedCs);
    putBytes(w, IFA.CACHEINFO, c.finish());
  }
  for (const u of a.unknown ?? []) putRaw(w, u);
  return w.finish();
}

/**
 * decodeAddress reads the payload of an RTM_NEWADDR/RTM_DELADDR message. A family other than
 * AF_INET/AF_INET6 is DecodeError BAD_VALUE; an address attribute of the wrong size, BAD_SIZE.
 */
export function decodeAddress(payload: Uint8Array): IfAddress {
  const r = new Reader(payload, 0, payload.length, ['ifaddrmsg']);
  r.need(IFADDRMSG_LEN);
  const fam = r.u8();
  if (fam !== AF_INET && fam !== AF_INET6) r.fail('BAD_VALUE', `ifa_family ${fam} is neither AF_INET nor AF_INET6`);
  const family: Family = fam === AF_INET ? 'ipv4' : 'ipv6';
  const prefixLen = r.u8();
  const flags = r.u8();
  const scope = r.u8();
  const ifindex = r.u32ne();
  const out: {
    -readonly [K in keyof IfAddress]: IfAddress[K];
  } = { family, prefixLen, flags, scope, ifindex };
  const unknown: RawAttr[] = [];
  const addr = (p: Reader, name: string): string => {
    if (p.remaining !== addrLen(family)) p.fail('BAD_SIZE', `${name} of ${p.remaining} bytes for ${family}`, name);
    const b = p.bytes(addrLen(family));
    return family === 'ipv4' ? formatIPv4(b) : formatIPv6(b);
  };
  forEachAttr(r, (type, fullType, p) => {
    switch (type) {
      case IFA.ADDRESS:
        out.address = addr(p, 'IFA_ADDRESS');
        break;
      case IFA.LOCAL:
        out.local = addr(p, 'IFA_LOCAL');
        break;
      case IFA.BROADCAST:
        out.broadcast = addr(p, 'IFA_BROADCAST');
        break;
      case IFA.LABEL:
        out.label = readString(p);
        break;
      case IFA.FLAGS:
        if (p.remaining !== 4) p.fail('BAD_SIZE', `IFA_FLAGS of ${p.remaining} bytes`, 'IFA_FLAGS');
        out.extFlags = p.u32ne();
        break;
      case IFA.CACHEINFO:
        if (p.remaining !== IFA_CACHEINFO_LEN) p.fail('BAD_SIZE', `IFA_CACHEINFO of ${p.remaining} bytes`, 'IFA_CACHEINFO');
        out.cacheInfo = { preferredSec: p.u32ne(), validSec: p.u32ne(), createdCs: p.u32ne(), updatedCs: p.u32ne() };
        break;
      default:
        unknown.push({ type: fullType, data: p.bytes(p.remaining) });
    }
  });
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}

/** AddrFilter selects the addresses a dump asks for: ifa_family (undefined: all) and ifa_index (0: all). */
export interface AddrFilter {
  readonly family?: Family;
  readonly ifindex?: number;
}

/**
 * encodeAddrDumpRequest is the ifaddrmsg body of an RTM_GETADDR dump. Without NETLINK_GET_STRICT_CHK
 * the kernel filters by family only, so callers filter by ifindex themselves, as iproute2 does.
 */
export function encodeAddrDumpRequest(f: AddrFilter = {}): Uint8Array {
  const fam = f.family === undefined ? 0 : f.family === 'ipv4' ? AF_INET : AF_INET6;
  return new Writer(IFADDRMSG_LEN).u8(fam).u8(0).u8(0).u8(0).u32ne(f.ifindex ?? 0).finish();
}
