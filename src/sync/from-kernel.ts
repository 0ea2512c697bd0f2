import { decodeConntrackAttrs } from '../ctnetlink/conntrack.js';
import { KernelCtView, scanKernelCt, type KernelTupleView } from '../ctnetlink/scan.js';
import type { Family } from '../wire/ip.js';
import { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { be16At, be32At, putBe16At } from '../wire/byte-order.js';
import { encodeConntrackBody, type SyncEncodeOptions } from './conntrack.js';
import { hasPorts, IPS_DST_NAT_DONE, IPS_SRC_NAT_DONE, NTA, PROTO } from './consts.js';

/**
 * writeCtBodyFromKernel writes the conntrackd message body for a conntrack entry given as kernel
 * CTA_* attributes [start, end) of `b`: byte for byte what encodeConntrackBody writes for the
 * decoded entry (the reference; see the table in conntrack.ts), without building the model when
 * the entry is on scanKernelCt's fast path — the common TCP/UDP/ICMP/SCTP/DCCP entry with or
 * without NAT, mark and zone. Throws DecodeError for attributes the decoder refuses.
 */
export function writeCtBodyFromKernel(w: Writer, b: Uint8Array, start: number, end: number, family: Family, opts: SyncEncodeOptions = {}): void {
  if (scanKernelCt(b, start, end, view)) w.bytes(fastBody.subarray(0, bodyBytesFromView(fastBody, b, view, opts)));
  else encodeConntrackBody(w, decodeConntrackAttrs(new Reader(b, start, end, ['conntrack']), start, end, family), opts);
}

const view = new KernelCtView();

/** l4src / l4dst are libnetfilter_conntrack's 16-bit port unions (ICMP: id / type·256+code), as in conntrack.ts. */
function l4src(t: KernelTupleView): number {
  return t.srcPort >= 0 ? t.srcPort : t.icmpId >= 0 ? t.icmpId : 0;
}
function l4dst(t: KernelTupleView): number {
  if (t.dstPort >= 0) return t.dstPort;
  if (t.icmpType < 0 && t.icmpCode < 0) return 0;
  return (Math.max(t.icmpType, 0) << 8) | Math.max(t.icmpCode, 0);
}

function sameBytes(b: Uint8Array, x: number, y: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (b[x + i] !== b[y + i]) return false;
  return true;
}

/**
 * The body writers below put bytes straight into an array at an offset and return the new one:
 * a body is written for every event of the table (sync/ct-body.ts), and a Writer's checks and
 * DataView calls per field were a good part of its cost. Attribute headers are big-endian, as
 * conntrackd writes them (§2.8). Each writes its bytes itself rather than through the byte-order
 * helpers: bodyBytesFromView is past V8's inlining budget, and a helper of a helper stayed a call
 * (callgrind: ~1 400 instructions an entry in calls to hdr, putBe16At, putBe32At, putU8Pad3At).
 */
function hdr(out: Uint8Array, n: number, len: number, id: number): number {
  out[n] = len >>> 8;
  out[n + 1] = len & 0xff;
  out[n + 2] = id >>> 8;
  out[n + 3] = id & 0xff;
  return n + 4;
}
/** attrU8: a u8 and 3 bytes of padding. */
function attrU8(out: Uint8Array, n: number, id: number, v: number): number {
  out[n] = 0;
  out[n + 1] = 5;
  out[n + 2] = id >>> 8;
  out[n + 3] = id & 0xff;
  out[n + 4] = v;
  out[n + 5] = out[n + 6] = out[n + 7] = 0;
  return n + 8;
}
function attrU32be(out: Uint8Array, n: number, id: number, v: number): number {
  out[n] = 0;
  out[n + 1] = 8;
  out[n + 2] = id >>> 8;
  out[n + 3] = id & 0xff;
  out[n + 4] = v >>> 24;
  out[n + 5] = (v >>> 16) & 0xff;
  out[n + 6] = (v >>> 8) & 0xff;
  out[n + 7] = v & 0xff;
  return n + 8;
}
/** attrU16le: SPAT_PORT / DPAT_PORT / ICMP_ID as an x86 conntrackd writes them (host order), then 2 bytes of padding. */
function attrU16le(out: Uint8Array, n: number, id: number, v: number): number {
  out[n] = 0;
  out[n + 1] = 6;
  out[n + 2] = id >>> 8;
  out[n + 3] = id & 0xff;
  out[n + 4] = v & 0xff;
  out[n + 5] = (v >>> 8) & 0xff;
  out[n + 6] = out[n + 7] = 0;
  return n + 8;
}
/** attrBe16Pair: two big-endian u16 (NTA_PORT: source and destination port). */
function attrBe16Pair(out: Uint8Array, n: number, id: number, x: number, y: number): number {
  out[n] = 0;
  out[n + 1] = 8;
  out[n + 2] = id >>> 8;
  out[n + 3] = id & 0xff;
  out[n + 4] = x >>> 8;
  out[n + 5] = x & 0xff;
  out[n + 6] = y >>> 8;
  out[n + 7] = y & 0xff;
  return n + 8;
}
/** attrSynproxy: NTA_SYNPROXY's three big-endian u32, ITS, ISN and TSOFF (encodeConntrackBody's order). */
function attrSynproxy(out: Uint8Array, n: number, its: number, isn: number, tsoff: number): number {
  n = hdr(out, n, 16, NTA.SYNPROXY);
  out[n] = its >>> 24;
  out[n + 1] = (its >>> 16) & 0xff;
  out[n + 2] = (its >>> 8) & 0xff;
  out[n + 3] = its & 0xff;
  out[n + 4] = isn >>> 24;
  out[n + 5] = (isn >>> 16) & 0xff;
  out[n + 6] = (isn >>> 8) & 0xff;
  out[n + 7] = isn & 0xff;
  out[n + 8] = tsoff >>> 24;
  out[n + 9] = (tsoff >>> 16) & 0xff;
  out[n + 10] = (tsoff >>> 8) & 0xff;
  out[n + 11] = tsoff & 0xff;
  return n + 12;
}
function bytesTo(out: Uint8Array, n: number, b: Uint8Array, at: number, len: number): number {
  for (let i = 0; i < len; i++) out[n + i] = b[at + i]!;
  return n + len;
}

/** Room for the longest body bodyBytesFromView writes (IPv6 with every attribute it knows: 180 bytes). */
export const MAX_FAST_BODY = 256;
const fastBody = new Uint8Array(MAX_FAST_BODY);

/**
 * bodyBytesFromView writes into `out` at 0 the body writeCtBodyFromKernel writes for a message
 * scanKernelCt accepted into `v` (`b` holds its bytes) and returns its length; `out` must hold
 * MAX_FAST_BODY bytes.
 */
export function bodyBytesFromView(out: Uint8Array, b: Uint8Array, v: KernelCtView, opts: SyncEncodeOptions): number {
  const o = v.orig;
  const a = o.addrLen;
  // ct2msg's order (CT_EMIT_ORDER): address group, STATUS, L4PROTO, the protocol's part, TIMEOUT, MARK, NAT, SYNPROXY, ZONE.
  let n = hdr(out, 0, 4 + 2 * a, a === 4 ? NTA.IPV4 : NTA.IPV6);
  n = bytesTo(out, n, b, o.src, a);
  n = bytesTo(out, n, b, o.dst, a);
  n = attrU32be(out, n, NTA.STATUS, v.status >= 0 ? v.status : 0);
  const proto = o.proto;
  n = attrU8(out, n, NTA.L4PROTO, proto);
  if (hasPorts(proto)) {
    n = attrBe16Pair(out, n, NTA.PORT, Math.max(o.srcPort, 0), Math.max(o.dstPort, 0));
  }
  if (proto === PROTO.TCP && v.tcpState >= 0) {
    n = attrU8(out, n, NTA.TCP_STATE, v.tcpState);
    if (opts.tcpWindowTracking === true) {
      n = attrU8(out, n, NTA.TCP_WSCALE_ORIG, Math.max(v.tcpWscaleOrig, 0));
      n = attrU8(out, n, NTA.TCP_WSCALE_REPL, Math.max(v.tcpWscaleReply, 0));
    }
  } else if (proto === PROTO.SCTP && v.sctpState >= 0) {
    n = attrU8(out, n, NTA.SCTP_STATE, v.sctpState);
    n = attrU32be(out, n, NTA.SCTP_VTAG_ORIG, Math.max(v.sctpVtagOrig, 0));
    n = attrU32be(out, n, NTA.SCTP_VTAG_REPL, Math.max(v.sctpVtagReply, 0));
  } else if (proto === PROTO.DCCP && v.dccpState >= 0) {
    n = attrU8(out, n, NTA.DCCP_STATE, v.dccpState);
    n = attrU8(out, n, NTA.DCCP_ROLE, Math.max(v.dccpRole, 0));
  } else if ((proto === PROTO.ICMP || proto === PROTO.ICMPV6) && o.icmpType >= 0) {
    n = attrU8(out, n, NTA.ICMP_TYPE, o.icmpType);
    n = attrU8(out, n, NTA.ICMP_CODE, Math.max(o.icmpCode, 0));
    n = attrU16le(out, n, NTA.ICMP_ID, Math.max(o.icmpId, 0));
  }
  if (opts.commitTimeout !== true && v.timeout >= 0) n = attrU32be(out, n, NTA.TIMEOUT, v.timeout);
  if (v.mark >= 0) n = attrU32be(out, n, NTA.MARK, v.mark);
  if (v.hasReply) {
    // natToWire from the reply tuple: a status without the NAT_DONE bit vetoes, no status does not.
    const r = v.reply;
    const srcDone = v.status < 0 || (v.status & IPS_SRC_NAT_DONE) !== 0;
    const dstDone = v.status < 0 || (v.status & IPS_DST_NAT_DONE) !== 0;
    if (srcDone && !sameBytes(b, r.dst, o.src, a)) n = bytesTo(out, hdr(out, n, 4 + a, a === 4 ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6), b, r.dst, a);
    if (dstDone && !sameBytes(b, r.src, o.dst, a)) n = bytesTo(out, hdr(out, n, 4 + a, a === 4 ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6), b, r.src, a);
    if (srcDone && l4dst(r) !== l4src(o)) n = attrU16le(out, n, NTA.SPAT_PORT, Math.max(r.dstPort, 0));
    if (dstDone && l4src(r) !== l4dst(o)) n = attrU16le(out, n, NTA.DPAT_PORT, Math.max(r.srcPort, 0));
  }
  if (v.synIsn >= 0 && v.synIts >= 0 && v.synTsoff >= 0) n = attrSynproxy(out, n, v.synIts, v.synIsn, v.synTsoff);
  if (v.zone >= 0) {
    n = putBe16At(out, hdr(out, n, 6, NTA.ZONE), v.zone);
    out[n] = out[n + 1] = 0;
    n += 2;
  }
  return n;
}

/** ICMP request type → the reply type the kernel puts in the reply tuple (nf_conntrack_proto_icmp{,v6}.c invmap). */
const ICMP_REPLY: Readonly<Record<number, number>> = { 8: 0, 13: 14, 15: 16, 17: 18 };
const ICMPV6_REPLY: Readonly<Record<number, number>> = { 128: 129, 139: 140 };

/**
 * bodyShowsEntry tells whether the body bodyBytesFromView writes for `v` determines the entry as
 * `conntrack`'s output shows it: its protocol state is the protocol's own, and the reply tuple is
 * the inverse of the original one with the body's NAT addresses and ports applied (what a
 * receiver rebuilds, engine/commit.ts natReplyTuple). Not so for an entry without a reply tuple
 * or status, a reply changed without the NAT_DONE bit that would carry the change, or an ICMP
 * echo whose id a NAT rewrote (the wire carries no ICMP NAT id).
 */
export function bodyShowsEntry(b: Uint8Array, v: KernelCtView): boolean {
  if (!v.hasReply || v.status < 0) return false;
  const o = v.orig;
  const r = v.reply;
  if (r.proto !== o.proto) return false;
  if (v.tcpState >= 0 && o.proto !== PROTO.TCP) return false;
  if (v.sctpState >= 0 && o.proto !== PROTO.SCTP) return false;
  if (v.dccpState >= 0 && o.proto !== PROTO.DCCP) return false;
  const srcDone = (v.status & IPS_SRC_NAT_DONE) !== 0;
  const dstDone = (v.status & IPS_DST_NAT_DONE) !== 0;
  if (!srcDone && !sameBytes(b, r.dst, o.src, o.addrLen)) return false;
  if (!dstDone && !sameBytes(b, r.src, o.dst, o.addrLen)) return false;
  const proto = o.proto;
  if (hasPorts(proto)) {
    if (o.srcPort < 0 || o.dstPort < 0 || r.srcPort < 0 || r.dstPort < 0 || r.icmpId >= 0 || r.icmpType >= 0 || r.icmpCode >= 0) return false;
    return (dstDone || r.srcPort === o.dstPort) && (srcDone || r.dstPort === o.srcPort);
  }
  if (r.srcPort >= 0 || r.dstPort >= 0) return false;
  if (proto === PROTO.ICMP || proto === PROTO.ICMPV6) {
    const type = o.icmpType < 0 ? -1 : ((proto === PROTO.ICMP ? ICMP_REPLY : ICMPV6_REPLY)[o.icmpType] ?? o.icmpType);
    return r.icmpId === o.icmpId && r.icmpCode === o.icmpCode && r.icmpType === type;
  }
  return r.icmpId < 0 && r.icmpType < 0 && r.icmpCode < 0;
}

/**
 * inheritFromBody completes `v`, the scan of an UPDATE event, with what the entry's previous body
 * bytes [start, end) of `prev` (a body bodyBytesFromView wrote) hold of the attributes the event lacks: an UPDATE carries
 * CTA_PROTOINFO, CTA_MARK and CTA_SYNPROXY only when they changed or are set
 * (ctnetlink_conntrack_event), and the attributes it does not carry are unchanged (CTA_TIMEOUT
 * and CTA_ZONE come with every UPDATE of an entry that has them; kept the same way all the same). The same merge
 * compactCt makes of two kernel messages, one attribute group at a time.
 */
export function inheritFromBody(v: KernelCtView, prev: Uint8Array, start: number, end: number): void {
  const protoAbsent = !v.hasProtoInfo;
  const synAbsent = !v.hasSynproxy;
  for (let o = start, len = 0; o + 4 <= end; o += (len + 3) & ~3) {
    len = be16At(prev, o);
    if (len < 4) return;
    const p = o + 4;
    switch (be16At(prev, o + 2)) {
      case NTA.TCP_STATE:
        if (protoAbsent) v.tcpState = prev[p]!;
        break;
      case NTA.TCP_WSCALE_ORIG:
        if (protoAbsent) v.tcpWscaleOrig = prev[p]!;
        break;
      case NTA.TCP_WSCALE_REPL:
        if (protoAbsent) v.tcpWscaleReply = prev[p]!;
        break;
      case NTA.SCTP_STATE:
        if (protoAbsent) v.sctpState = prev[p]!;
        break;
      case NTA.SCTP_VTAG_ORIG:
        if (protoAbsent) v.sctpVtagOrig = be32At(prev, p);
        break;
      case NTA.SCTP_VTAG_REPL:
        if (protoAbsent) v.sctpVtagReply = be32At(prev, p);
        break;
      case NTA.DCCP_STATE:
        if (protoAbsent) v.dccpState = prev[p]!;
        break;
      case NTA.DCCP_ROLE:
        if (protoAbsent) v.dccpRole = prev[p]!;
        break;
      case NTA.TIMEOUT:
        if (v.timeout < 0) v.timeout = be32At(prev, p);
        break;
      case NTA.MARK:
        if (v.mark < 0) v.mark = be32At(prev, p);
        break;
      case NTA.ZONE:
        if (v.zone < 0) v.zone = be16At(prev, p);
        break;
      case NTA.SYNPROXY:
        if (synAbsent) {
          v.synIts = be32At(prev, p);
          v.synIsn = be32At(prev, p + 4);
          v.synTsoff = be32At(prev, p + 8);
        }
        break;
    }
  }
}
