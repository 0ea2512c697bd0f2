import { endAttr, forEachAttr, putBytes, putRaw, putString, putU32ne, readString, type RawAttr } from '../netlink/attrs.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { IFF, IFINFOMSG_LEN, IFLA, IFLA_INFO, IFLA_MACVLAN, operStateNumber, operStateOf, type OperState } from './consts.js';

/**
 * LinkInfo is IFLA_LINKINFO: the driver kind ("veth", "macvlan") and, for macvlan, the mode of
 * IFLA_INFO_DATA. Other drivers' data and other nested attributes are kept raw in `unknown`.
 */
export interface LinkInfo {
  readonly kind?: string;
  readonly macvlanMode?: number; // MACVLAN_MODE_*
  readonly unknown?: readonly RawAttr[];
}

/**
 * Link is one RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK message: struct ifinfomsg and the attributes
 * link tracking and use_vmac need. `flags` are net_device_flags (IFF_*), `change` the mask of
 * flags the message changes (events set it to what just changed). The link-layer address is
 * lowercase colon-separated hex ("00:00:5e:00:01:05").
 */
export interface Link {
  readonly family: number; // AF_UNSPEC (0) in every message here
  readonly type: number; // ifi_type, ARPHRD_* (1: Ethernet, 772: loopback)
  readonly ifindex: number;
  readonly flags: number;
  readonly change: number;
  readonly ifname?: string; // IFLA_IFNAME
  readonly address?: string; // IFLA_ADDRESS
  readonly mtu?: number; // IFLA_MTU, bytes
  readonly link?: number; // IFLA_LINK: ifindex of the lower device
  readonly operState?: OperState; // IFLA_OPERSTATE
  readonly carrier?: boolean; // IFLA_CARRIER
  readonly extMask?: number; // IFLA_EXT_MASK (requests only)
  readonly linkInfo?: LinkInfo; // IFLA_LINKINFO
  readonly unknown?: readonly RawAttr[];
}

/** formatMac formats link-layer address bytes as lowercase colon-separated hex. */
export function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** parseMac parses colon-separated hex ("00:00:5e:00:01:05"), or throws RangeError. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length < 1 || parts.length > 32 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) throw new RangeError(`not a link-layer address: ${text}`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/**
 * encodeLink writes an ifinfomsg and its attributes in the order iproute2 sends them for
 * `ip link add … type macvlan` (IFLA_ADDRESS, IFLA_LINK, IFLA_IFNAME, IFLA_LINKINFO), the others
 * after them, then kept ones.
 */
export function encodeLink(l: Link): Uint8Array {
  const w = new Writer(64);
  w.u8(l.family).u8(0).u16ne(l.type).u32ne(l.ifindex).u32ne(l.flags).u32ne(l.change);
  if (l.address !== undefined) putBytes(w, IFLA.ADDRESS, parseMac(l.address));
  if (l.link !== undefined) putU32ne(w, IFLA.LINK, l.link);
  if (l.ifname !== undefined) putString(w, IFLA.IFNAME, l.ifname);
  if (l.mtu !== undefined) putU32ne(w, IFLA.MTU, l.mtu);
  if (l.operState !== undefined) putBytes(w, IFLA.OPERSTATE, Uint8Array.of(operStateNumber(l.operState)));
  if (l.carrier !== undefined) putBytes(w, IFLA.CARRIER, Uint8Array.of(l.carrier ? 1 : 0));
  if (l.extMask !== undefined) putU32ne(w, IFLA.EXT_MASK, l.extMask);
  if (l.linkInfo !== undefined) {
    // iproute2 sends IFLA_LINKINFO and IFLA_INFO_DATA without NLA_F_NESTED; the kernel accepts both.
    const at = w.length;
    w.u16ne(0).u16ne(IFLA.LINKINFO);
    if (l.linkInfo.kind !== undefined) {
      const k = new TextEncoder().encode(l.linkInfo.kind);
      putBytes(w, IFLA_INFO.KIND, k); // iproute2 sends the kind without its NUL
    }
    // A decoded IFLA_INFO_DATA with more than the mode is kept whole in `unknown`: write that one.
    const keptData = (l.linkInfo.unknown ?? []).some((u) => (u.type & 0x3fff) === IFLA_INFO.DATA);
    if (l.linkInfo.macvlanMode !== undefined && !keptData) {
      const d = w.length;
      w.u16ne(0).u16ne(IFLA_INFO.DATA);
      putU32ne(w, IFLA_MACVLAN.MODE, l.linkInfo.macvlanMode);
      endAttr(w, d);
    }
    for (const u of l.linkInfo.unknown ?? []) putRaw(w, u);
    endAttr(w, at);
  }
  for (const u of l.unknown ?? []) putRaw(w, u);
  return w.finish();
}

function u32Of(p: Reader, name: string): number {
  if (p.remaining !== 4) p.fail('BAD_SIZE', `${name} of ${p.remaining} bytes`, name);
  return p.u32ne();
}

function u8Of(p: Reader, name: string): number {
  if (p.remaining !== 1) p.fail('BAD_SIZE', `${name} of ${p.remaining} bytes`, name);
  return p.u8();
}

function decodeLinkInfo(r: Reader): LinkInfo {
  const out: { kind?: string; macvlanMode?: number; unknown?: RawAttr[] } = {};
  const unknown: RawAttr[] = [];
  forEachAttr(r, (type, fullType, p) => {
    if (type === IFLA_INFO.KIND) {
      out.kind = readString(p);
    } else if (type === IFLA_INFO.DATA && out.kind === 'macvlan') {
      const keep: RawAttr[] = [];
      forEachAttr(new Reader(p.buf, p.pos, p.end, [...p.path, 'IFLA_INFO_DATA']), (t, ft, q) => {
        if (t === IFLA_MACVLAN.MODE) out.macvlanMode = u32Of(q, 'IFLA_MACVLAN_MODE');
        else keep.push({ type: ft, data: q.bytes(q.remaining) });
      });
      // Data besides the mode (flags, macaddr counts) is kept whole, so nothing is lost;
      // macvlanMode is still set for readers, and encodeLink writes the kept copy only.
      if (keep.length > 0) unknown.push({ type: fullType, data: p.bytes(p.remaining) });
    } else {
      unknown.push({ type: fullType, data: p.bytes(p.remaining) });
    }
  });
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}

/**
 * decodeLink reads the payload of an RTM_NEWLINK/RTM_DELLINK message (dump reply, GET reply or
 * RTNLGRP_LINK event). Attributes other than those of Link are kept in `unknown`.
 */
export function decodeLink(payload: Uint8Array): Link {
  const r = new Reader(payload, 0, payload.length, ['ifinfomsg']);
  r.need(IFINFOMSG_LEN);
  const family = r.u8();
  r.skip(1);
  const type = r.u16ne();
  const ifindex = r.u32ne();
  const flags = r.u32ne();
  const change = r.u32ne();
  const out: { -readonly [K in keyof Link]: Link[K] } = { family, type, ifindex, flags, change };
  const unknown: RawAttr[] = [];
  forEachAttr(r, (t, fullType, p) => {
    switch (t) {
      case IFLA.IFNAME:
        out.ifname = readString(p);
        break;
      case IFLA.ADDRESS:
        out.address = formatMac(p.bytes(p.remaining));
        break;
      case IFLA.MTU:
        out.mtu = u32Of(p, 'IFLA_MTU');
        break;
      case IFLA.LINK:
        out.link = u32Of(p, 'IFLA_LINK');
        break;
      case IFLA.OPERSTATE:
        out.operState = operStateOf(u8Of(p, 'IFLA_OPERSTATE'));
        break;
      case IFLA.CARRIER:
        out.carrier = u8Of(p, 'IFLA_CARRIER') !== 0;
        break;
      case IFLA.EXT_MASK:
        out.extMask = u32Of(p, 'IFLA_EXT_MASK');
        break;
      case IFLA.LINKINFO:
        out.linkInfo = decodeLinkInfo(new Reader(p.buf, p.pos, p.end, [...p.path, 'IFLA_LINKINFO']));
        break;
      default:
        unknown.push({ type: fullType, data: p.bytes(p.remaining) });
    }
  });
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}

/**
 * LinkState is what track_interface needs from a link: administratively up (IFF_UP), operationally
 * up (IFF_RUNNING) and the RFC 2863 operstate. `usable` is the verdict: up, running and, when the
 * kernel reported one, an operstate of "up" or "unknown" (drivers without carrier reporting).
 */
export interface LinkState {
  readonly ifindex: number;
  readonly ifname: string | undefined;
  readonly adminUp: boolean;
  readonly running: boolean;
  readonly lowerUp: boolean;
  readonly operState: OperState | undefined;
  readonly usable: boolean;
}

/** linkStateOf reduces a decoded link to its LinkState. */
export function linkStateOf(l: Link): LinkState {
  const adminUp = (l.flags & IFF.UP) !== 0;
  const running = (l.flags & IFF.RUNNING) !== 0;
  const op = l.operState;
  const operOk = op === undefined || op === 'up' || op === 'unknown';
  return {
    ifindex: l.ifindex,
    ifname: l.ifname,
    adminUp,
    running,
    lowerUp: (l.flags & IFF.LOWER_UP) !== 0,
    operState: op,
    usable: adminUp && running && operOk,
  };
}
