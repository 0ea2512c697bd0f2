import type { TcpStateName } from '../config/conntrackd/keywords.js';
import type { FilterConfig, FilterPolicy } from '../config/conntrackd/types.js';
import { TCP_CONNTRACK } from '../ctnetlink/consts.js';
import type { KernelCtView } from '../ctnetlink/scan.js';
import type { Conntrack } from '../ctnetlink/types.js';
import { addressBytes } from '../wire/ip.js';

/**
 * General { Filter }: which kernel entries a node replicates, as conntrackd 1.4.7's user-space filter
 * (src/filter.c, ct_filter_check) decides it, pure. Every part that is configured must pass:
 * - Protocol: the original tuple's layer-4 protocol is (Accept) or is not (Ignore) in the list.
 * - Address: the entry's "real" ends, the original source and the reply source (after NAT the reply
 *   source is the host really reached), are checked; the entry matches when either is inside one of
 *   the listed hosts or networks of its family. Accept passes what matches, Ignore what does not.
 *   (conntrackd 1.4.7 tests networks and single hosts as two separate lists and, under Accept, wants a
 *   match in both, so that Accept with only hosts or only networks refuses every entry; see
 *   src/config/conntrackd/README.md. Here one list: a single host is a /32 or /128.)
 * - State: decides for TCP entries whose message carries a TCP state; any other entry passes.
 * - Mark (keepstate's addition): (mark & mask) === value for one listed pair; a message without
 *   CTA_MARK has mark 0 (the kernel leaves a zero mark out).
 *
 * Two readers give the same fields: `fieldsOfView` on the replication fast path (the bytes of a kernel
 * message, scanned by scanKernelCt, nothing allocated) and `fieldsOfConntrack` for a decoded entry.
 */

/** CtFilter is a FilterConfig compiled for testing entries quickly. */
export interface CtFilter {
  readonly protocol: { readonly accept: boolean; readonly member: Uint8Array } | undefined; // member[proto] = 1
  readonly address:
    | {
        readonly accept: boolean;
        readonly v4: Uint32Array; // (network, mask) pairs, host order
        readonly v6: Uint32Array; // per entry: 4 network words then 4 mask words, host order
      }
    | undefined;
  readonly state: { readonly accept: boolean; readonly bits: number } | undefined; // bit n: TCP state n
  readonly mark: { readonly accept: boolean; readonly pairs: Uint32Array } | undefined; // (value, mask) pairs
}

/**
 * CtFilterFields are what a filter reads of an entry: one object, refilled for every message.
 * Addresses are offsets into `buf` (4 or 16 bytes, network order).
 */
export class CtFilterFields {
  addrLen = 0; // 4 or 16
  proto = -1; // original tuple's IPPROTO_*
  buf: Uint8Array = EMPTY;
  origSrc = -1;
  replySrc = -1; // -1: no reply tuple
  tcpState = -1; // -1: not in the message
  mark = 0;
}

const EMPTY = new Uint8Array(0);
const IPPROTO_TCP = 6;

const TCP_STATE_NUMBER: Readonly<Record<TcpStateName, number>> = {
  SYN_SENT: TCP_CONNTRACK.SYN_SENT,
  SYN_RECV: TCP_CONNTRACK.SYN_RECV,
  ESTABLISHED: TCP_CONNTRACK.ESTABLISHED,
  FIN_WAIT: TCP_CONNTRACK.FIN_WAIT,
  CLOSE_WAIT: TCP_CONNTRACK.CLOSE_WAIT,
  LAST_ACK: TCP_CONNTRACK.LAST_ACK,
  TIME_WAIT: TCP_CONNTRACK.TIME_WAIT,
  CLOSED: TCP_CONNTRACK.CLOSE,
  LISTEN: TCP_CONNTRACK.SYN_SENT2, // conntrackd's LISTEN is the kernel's 9 (SYN_SENT2 today)
};

const isAccept = (p: FilterPolicy): boolean => p === 'accept';

/** prefixWords returns the 32-bit words of a prefix-length mask over `words` words. */
function prefixWords(prefixLength: number, words: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < words; i++) {
    const bits = Math.max(0, Math.min(32, prefixLength - 32 * i));
    out.push(bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
  }
  return out;
}

function wordsOf(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 4) out.push(be32(bytes, i));
  return out;
}

/** compileFilter turns General { Filter } into a CtFilter (undefined: no Filter, every entry passes). */
export function compileFilter(cfg: FilterConfig | undefined): CtFilter | undefined {
  if (cfg === undefined) return undefined;
  let protocol: CtFilter['protocol'];
  if (cfg.protocol !== undefined) {
    const member = new Uint8Array(256);
    for (const p of cfg.protocol.protocols) member[p & 0xff] = 1;
    protocol = { accept: isAccept(cfg.protocol.policy), member };
  }
  let address: CtFilter['address'];
  if (cfg.address !== undefined) {
    const v4: number[] = [];
    const v6: number[] = [];
    for (const a of cfg.address.ipv4) {
      const mask = prefixWords(a.prefixLength, 1)[0]!;
      v4.push((wordsOf(addressBytes(a.address, 'ipv4'))[0]! & mask) >>> 0, mask);
    }
    for (const a of cfg.address.ipv6) {
      const mask = prefixWords(a.prefixLength, 4);
      v6.push(...wordsOf(addressBytes(a.address, 'ipv6')).map((w, i) => (w & mask[i]!) >>> 0), ...mask);
    }
    address = { accept: isAccept(cfg.address.policy), v4: Uint32Array.from(v4), v6: Uint32Array.from(v6) };
  }
  let state: CtFilter['state'];
  if (cfg.state !== undefined) {
    let bits = 0;
    for (const s of cfg.state.tcpStates) bits |= 1 << TCP_STATE_NUMBER[s];
    state = { accept: isAccept(cfg.state.policy), bits };
  }
  let mark: CtFilter['mark'];
  if (cfg.mark !== undefined) {
    const pairs: number[] = [];
    for (const m of cfg.mark.marks) pairs.push((m.value & m.mask) >>> 0, m.mask >>> 0);
    mark = { accept: isAccept(cfg.mark.policy), pairs: Uint32Array.from(pairs) };
  }
  return { protocol, address, state, mark };
}

const be32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

function inV4(list: Uint32Array, b: Uint8Array, at: number): boolean {
  const a = be32(b, at);
  for (let i = 0; i < list.length; i += 2) if (((a & list[i + 1]!) >>> 0) === list[i]) return true;
  return false;
}

function inV6(list: Uint32Array, b: Uint8Array, at: number): boolean {
  const a0 = be32(b, at);
  const a1 = be32(b, at + 4);
  const a2 = be32(b, at + 8);
  const a3 = be32(b, at + 12);
  for (let i = 0; i < list.length; i += 8) {
    if (
      ((a0 & list[i + 4]!) >>> 0) === list[i] &&
      ((a1 & list[i + 5]!) >>> 0) === list[i + 1] &&
      ((a2 & list[i + 6]!) >>> 0) === list[i + 2] &&
      ((a3 & list[i + 7]!) >>> 0) === list[i + 3]
    )
      return true;
  }
  return false;
}

/** filterAccepts tells whether an entry with fields `x` is replicated under `f`. */
export function filterAccepts(f: CtFilter, x: CtFilterFields): boolean {
  if (f.protocol !== undefined && (f.protocol.member[x.proto & 0xff] === 1) !== f.protocol.accept) return false;
  if (f.address !== undefined && (x.addrLen === 4 || x.addrLen === 16)) {
    const test = x.addrLen === 4 ? inV4 : inV6;
    const list = x.addrLen === 4 ? f.address.v4 : f.address.v6;
    const hit = test(list, x.buf, x.origSrc) || (x.replySrc >= 0 && test(list, x.buf, x.replySrc));
    if (hit !== f.address.accept) return false;
  }
  if (f.state !== undefined && x.proto === IPPROTO_TCP && x.tcpState >= 0) {
    const hit = x.tcpState < 31 && (f.state.bits & (1 << x.tcpState)) !== 0;
    if (hit !== f.state.accept) return false;
  }
  if (f.mark !== undefined) {
    const pairs = f.mark.pairs;
    let hit = false;
    for (let i = 0; i < pairs.length && !hit; i += 2) hit = ((x.mark & pairs[i + 1]!) >>> 0) === pairs[i];
    if (hit !== f.mark.accept) return false;
  }
  return true;
}

/** fieldsOfView fills `out` from a message scanned by scanKernelCt into `v` (its bytes: `b`). */
export function fieldsOfView(v: KernelCtView, b: Uint8Array, out: CtFilterFields): CtFilterFields {
  out.addrLen = v.orig.addrLen;
  out.proto = v.orig.proto;
  out.buf = b;
  out.origSrc = v.orig.src;
  out.replySrc = v.hasReply ? v.reply.src : -1;
  out.tcpState = v.tcpState;
  out.mark = v.mark < 0 ? 0 : v.mark;
  return out;
}

/** fieldsOfConntrack fills `out` from a decoded entry (an entry without an original tuple has addrLen 0). */
export function fieldsOfConntrack(ct: Conntrack, out: CtFilterFields): CtFilterFields {
  const orig = ct.orig;
  out.addrLen = 0;
  out.proto = orig?.proto ?? -1;
  out.origSrc = out.replySrc = -1;
  out.buf = EMPTY;
  if (orig !== undefined) {
    const o = addressBytes(orig.src, orig.family);
    const r = ct.reply !== undefined && ct.reply.family === orig.family ? addressBytes(ct.reply.src, ct.reply.family) : undefined;
    out.buf = new Uint8Array(o.length * 2);
    out.buf.set(o, 0);
    out.addrLen = o.length;
    out.origSrc = 0;
    if (r !== undefined) {
      out.buf.set(r, o.length);
      out.replySrc = o.length;
    }
  }
  out.tcpState = ct.protoinfo?.tcp?.state ?? -1;
  out.mark = (ct.mark ?? 0) >>> 0;
  return out;
}

/** acceptsConntrack is filterAccepts for a decoded entry (slow paths, tests). */
export function acceptsConntrack(f: CtFilter | undefined, ct: Conntrack): boolean {
  return f === undefined || filterAccepts(f, fieldsOfConntrack(ct, new CtFilterFields()));
}
