import { IPPROTO, IPS } from '../ctnetlink/consts.js';
import type { Conntrack, NatRange, TcpFlags, Tuple } from '../ctnetlink/types.js';
/** ReceivedEntry is what a commit needs of an external-cache entry. */
export interface ReceivedEntry {
  readonly ct: Conntrack;
  readonly receivedAtMs: number;
}

/**
 * Commit planning (conntrackd-protocol.md §1.6), pure: what to create in the kernel for the
 * entries of the external cache. The wire carries no reply tuple. The request carries the plain
 * inverse of the original tuple plus CTA_NAT_SRC / CTA_NAT_DST, and the kernel derives the NAT'd
 * reply itself: nf_nat_setup_info() sets IPS_SRC_NAT / IPS_DST_NAT (the bits that make it rewrite
 * packets) only when the binding changes the reply tuple it was given. A reply tuple with the NAT
 * already applied yields an entry that looks right and is never NAT'd — measured in
 * test/kernel/commit.test.ts.
 */

/** IP_CT_TCP_FLAG_BE_LIBERAL: accept any in-window-or-not segment (no window tracking after takeover). */
export const TCP_FLAG_BE_LIBERAL = 0x08;
/** IP_CT_TCP_FLAG_WINDOW_SCALE: the direction negotiated window scaling (the kernel applies td_scale only with it). */
export const TCP_FLAG_WINDOW_SCALE = 0x01;

/**
 * NAT_PORT_PROTOS are the protocols whose NTA_SPAT_PORT / NTA_DPAT_PORT are ports. For the others
 * the sender read libnetfilter_conntrack's 16-bit port union of a tuple without ports: ICMP flows
 * through a NAT hook arrive with SPAT 0 and DPAT 0 whatever the reply id was
 * (test/golden/sync-ct-icmp.hex). Given to the kernel as a CTA_NAT_PROTO range, that 0 would force
 * the reply's ICMP id to 0 — and every such echo of a NAT'd host onto the same tuple, so all but
 * the first fail. libnetfilter_conntrack (conntrackd's commit) sends NAT ports for TCP and UDP
 * only; SCTP and DCCP ports are kept here as well, since for them the values are real ports.
 */
export const NAT_PORT_PROTOS: ReadonlySet<number> = new Set([IPPROTO.TCP, IPPROTO.UDP, IPPROTO.SCTP, IPPROTO.DCCP]);

/** ICMP request type → reply type, the pairs conntrack tracks (icmp: echo, timestamp, info, mask; icmpv6: echo, node info). */
export const ICMP_REPLY: Readonly<Record<number, number>> = { 8: 0, 13: 14, 15: 16, 17: 18 };
export const ICMPV6_REPLY: Readonly<Record<number, number>> = { 128: 129, 139: 140 };

/** replyTuple is the inverse of the original tuple (ICMP requests answered by their reply type), without NAT. */
export function replyTuple(ct: Conntrack): Tuple | undefined {
  const o = ct.orig;
  if (o === undefined) return undefined;
  const r: { -readonly [K in keyof Tuple]: Tuple[K] } = { family: o.family, src: o.dst, dst: o.src, proto: o.proto };
  if (o.proto === IPPROTO.ICMP || o.proto === IPPROTO.ICMPV6) {
    if (o.icmpId !== undefined) r.icmpId = o.icmpId;
    if (o.icmpType !== undefined) r.icmpType = (o.proto === IPPROTO.ICMP ? ICMP_REPLY : ICMPV6_REPLY)[o.icmpType] ?? o.icmpType;
    if (o.icmpCode !== undefined) r.icmpCode = o.icmpCode;
  } else {
    if (o.dstPort !== undefined) r.srcPort = o.dstPort;
    if (o.srcPort !== undefined) r.dstPort = o.srcPort;
  }
  return r;
}

/**
 * natReplyTuple is the reply tuple the kernel holds for `ct` once its NAT is set up: the inverse
 * of the original, with the SNAT address and port as its destination and the DNAT ones as its
 * source (what a lookup by the reply tuple must ask for).
 */
export function natReplyTuple(ct: Conntrack): Tuple | undefined {
  const r = replyTuple(ct);
  if (r === undefined) return undefined;
  const out: { -readonly [K in keyof Tuple]: Tuple[K] } = { ...r };
  const ports = NAT_PORT_PROTOS.has(r.proto);
  if (ct.natSrc?.minIp !== undefined) out.dst = ct.natSrc.minIp;
  if (ports && ct.natSrc?.minPort !== undefined) out.dstPort = ct.natSrc.minPort;
  if (ct.natDst?.minIp !== undefined) out.src = ct.natDst.minIp;
  if (ports && ct.natDst?.minPort !== undefined) out.srcPort = ct.natDst.minPort;
  return out;
}

export interface CommitOptions {
  /** CommitTimeout in seconds: the timeout of every committed entry, when configured. */
  readonly commitTimeoutSec?: number;
  /** TCPWindowTracking: keep the kernel's window checks (default off: be liberal, as conntrackd). */
  readonly tcpWindowTracking?: boolean;
  /** The time of the commit, in ms, to age the received timeouts. */
  readonly nowMs: number;
}

/** commitTimeout is §1.6's rule: CommitTimeout, else the received timeout minus its age; negative → 60 s, exactly 0 → the received value. */
export function commitTimeout(received: number | undefined, receivedAtMs: number, opts: CommitOptions): number | undefined {
  if (opts.commitTimeoutSec !== undefined) return opts.commitTimeoutSec;
  if (received === undefined) return undefined;
  const left = received - Math.floor((opts.nowMs - receivedAtMs) / 1000);
  if (left < 0) return 60;
  if (left === 0) return received;
  return left;
}

function withFlag(f: TcpFlags | undefined, flag: number): TcpFlags {
  return { flags: (f?.flags ?? 0) | flag, mask: (f?.mask ?? 0) | flag };
}

/** withoutPorts drops the port range of a NAT binding (an empty range still asks for the binding, as conntrackd's empty CTA_NAT_PROTO does). */
function withoutPorts(n: NatRange | undefined): NatRange | undefined {
  if (n === undefined || (n.minPort === undefined && n.maxPort === undefined)) return n;
  const { minPort: _min, maxPort: _max, ...rest } = n;
  return rest;
}

/** commitEntry turns one external-cache entry into the ctnetlink create request for it. */
export function commitEntry(e: ReceivedEntry, opts: CommitOptions): Conntrack {
  const ct = e.ct;
  const out: { -readonly [K in keyof Conntrack]: Conntrack[K] } = { ...ct };
  const reply = replyTuple(ct);
  if (reply !== undefined) out.reply = reply;
  if (ct.status !== undefined) out.status = ct.status & ~IPS.EXPECTED;
  const timeout = commitTimeout(ct.timeout, e.receivedAtMs, opts);
  if (timeout !== undefined) out.timeout = timeout;
  const proto = ct.orig?.proto;
  if (proto !== undefined && !NAT_PORT_PROTOS.has(proto)) {
    const src = withoutPorts(ct.natSrc);
    const dst = withoutPorts(ct.natDst);
    if (src !== undefined) out.natSrc = src;
    if (dst !== undefined) out.natDst = dst;
  }
  if (proto === IPPROTO.TCP) {
    let flags = opts.tcpWindowTracking === true ? 0 : TCP_FLAG_BE_LIBERAL;
    // The kernel keeps CTA_PROTOINFO_TCP_WSCALE_* only for directions flagged WINDOW_SCALE, and the
    // wire carries no flags: without it the scale factors a TCPWindowTracking sender replicated are
    // dropped (conntrackd 1.4.7 loses them so), and the tracked window is read unscaled. Scaling is
    // on in both directions or in neither (RFC 7323), so a non-zero factor means both negotiated it.
    const tcp = ct.protoinfo?.tcp ?? {};
    if ((tcp.wscaleOrig ?? 0) !== 0 || (tcp.wscaleReply ?? 0) !== 0) flags |= TCP_FLAG_WINDOW_SCALE;
    if (flags !== 0) out.protoinfo = { ...ct.protoinfo, tcp: { ...tcp, flagsOrig: withFlag(tcp.flagsOrig, flags), flagsReply: withFlag(tcp.flagsReply, flags) } };
  }
  return out;
}

/**
 * planCommit orders the commit in conntrackd's two passes — entries without a master first, then
 * the RELATED ones (with a master tuple), so that every master exists before its children.
 */
export function planCommit(entries: Iterable<ReceivedEntry>, opts: CommitOptions): Conntrack[] {
  const first: Conntrack[] = [];
  const second: Conntrack[] = [];
  for (const e of entries) (e.ct.master === undefined ? first : second).push(commitEntry(e, opts));
  return first.concat(second);
}
