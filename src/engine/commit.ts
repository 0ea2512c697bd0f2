import { IPPROTO, IPS } from '../ctnetlink/consts.js';
import type { Conntrack, TcpFlags, Tuple } from '../ctnetlink/types.js';
import type { ExternalEntry } from './cache.js';

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

/** ICMP request type → reply type, the pairs conntrack tracks (icmp: echo, timestamp, info, mask; icmpv6: echo, node info). */
const ICMP_REPLY: Readonly<Record<number, number>> = { 8: 0, 13: 14, 15: 16, 17: 18 };
const ICMPV6_REPLY: Readonly<Record<number, number>> = { 128: 129, 139: 140 };

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

function liberal(f: TcpFlags | undefined): TcpFlags {
  return { flags: (f?.flags ?? 0) | TCP_FLAG_BE_LIBERAL, mask: (f?.mask ?? 0) | TCP_FLAG_BE_LIBERAL };
}

/** commitEntry turns one external-cache entry into the ctnetlink create request for it. */
export function commitEntry(e: ExternalEntry, opts: CommitOptions): Conntrack {
  const ct = e.ct;
  const out: { -readonly [K in keyof Conntrack]: Conntrack[K] } = { ...ct };
  const reply = replyTuple(ct);
  if (reply !== undefined) out.reply = reply;
  if (ct.status !== undefined) out.status = ct.status & ~IPS.EXPECTED;
  const timeout = commitTimeout(ct.timeout, e.receivedAtMs, opts);
  if (timeout !== undefined) out.timeout = timeout;
  if (opts.tcpWindowTracking !== true && ct.orig?.proto === IPPROTO.TCP) {
    const tcp = ct.protoinfo?.tcp ?? {};
    out.protoinfo = { ...ct.protoinfo, tcp: { ...tcp, flagsOrig: liberal(tcp.flagsOrig), flagsReply: liberal(tcp.flagsReply) } };
  }
  return out;
}

/**
 * planCommit orders the commit in conntrackd's two passes — entries without a master first, then
 * the RELATED ones (with a master tuple), so that every master exists before its children.
 */
export function planCommit(entries: Iterable<ExternalEntry>, opts: CommitOptions): Conntrack[] {
  const first: Conntrack[] = [];
  const second: Conntrack[] = [];
  for (const e of entries) (e.ct.master === undefined ? first : second).push(commitEntry(e, opts));
  return first.concat(second);
}
