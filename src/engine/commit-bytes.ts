import { CTA, CTA_IP, CTA_NAT, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_PROTONAT, CTA_SYNPROXY, CTA_TUPLE, IPPROTO, IPS } from '../ctnetlink/consts.js';
import { NLA_F_NESTED } from '../netlink/consts.js';
import { NTA } from '../sync/consts.js';
import { encodeConntrackAttrs } from '../ctnetlink/conntrack.js';
import { encodeNfgenmsg, nfgenmsgFor } from '../ctnetlink/nfgenmsg.js';
import type { Conntrack } from '../ctnetlink/types.js';
import { be16At as be16, HOST_LITTLE_ENDIAN } from '../wire/byte-order.js';
import { ViewCache, ViewMemo } from '../wire/copy.js';
import type { Writer } from '../wire/writer.js';
import type { RecordArena } from './record-arena.js';
import { commitEntry, commitTimeout, ICMP_REPLY, ICMPV6_REPLY, NAT_PORT_PROTOS, natReplyTuple, TCP_FLAG_BE_LIBERAL, TCP_FLAG_WINDOW_SCALE, type CommitOptions } from './commit.js';

/**
 * The commit's fast path: the ctnetlink create request for a received conntrackd message body,
 * written straight from its bytes — byte for byte what commitEntry + ctCreate write for the
 * decoded entry (commit.ts is the reference and holds the rules: plain inverse reply, NAT
 * bindings, aged timeout, TCP flags). `scanBody` accepts the bodies a firewall's table is made
 * of (TCP/UDP/ICMP/other protocols, NAT, mark, zone, synproxy, window scale); a master tuple,
 * sequence adjustment, helper, labels, SCTP or DCCP state leave the fast path.
 */

/** Payload offsets of a body's attributes by NTA id (-1 = absent), filled by scanBody. */
export class BodyView {
  readonly at = new Int32Array(NTA.MAX).fill(-1);
  /** NTA.IPV4 or NTA.IPV6. */
  l3 = -1;
}

/** FAST[id] is 1 for the attributes the fast path handles (a table: looked up for every attribute of every entry). */
const FAST = new Uint8Array(NTA.MAX);
for (const id of [
  NTA.IPV4, NTA.IPV6, NTA.L4PROTO, NTA.PORT, NTA.TCP_STATE, NTA.STATUS, NTA.TIMEOUT, NTA.MARK,
  NTA.SNAT_IPV4, NTA.DNAT_IPV4, NTA.SPAT_PORT, NTA.DPAT_PORT, NTA.ICMP_TYPE, NTA.ICMP_CODE, NTA.ICMP_ID,
  NTA.TCP_WSCALE_ORIG, NTA.TCP_WSCALE_REPL, NTA.SNAT_IPV6, NTA.DNAT_IPV6, NTA.SYNPROXY, NTA.ZONE,
]) FAST[id] = 1;


/**
 * scanBody records where the attributes of a (validated) body [start, start + len) of `b` are; false
 * when the body is outside the fast path: an attribute it does not handle, a repeated one, or NAT
 * addresses of the other family.
 */
export function scanBody(b: Uint8Array, len: number, v: BodyView, start = 0): boolean {
  v.at.fill(-1);
  v.l3 = -1;
  const end = start + len;
  for (let o = start; o + 4 <= end; ) {
    const n = be16(b, o);
    const id = be16(b, o + 2);
    if (n < 4 || n > end - o || id >= NTA.MAX || FAST[id] === 0 || v.at[id] !== -1) return false;
    v.at[id] = o + 4;
    if (id === NTA.IPV4 || id === NTA.IPV6) {
      if (v.l3 !== -1) return false;
      v.l3 = id;
    }
    o += (n + 3) & ~3;
  }
  if (v.l3 === -1 || v.at[NTA.L4PROTO] === -1) return false;
  const v6 = v.l3 === NTA.IPV6;
  if (v.at[v6 ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6] !== -1 || v.at[v6 ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6] !== -1) return false;
  return true;
}


/**
 * The requests below are written into the writer's buffer (Writer.room / advance) through
 * DataViews, a field a store: one is written per entry of a commit or injection, and a daemon's
 * first commit runs this cold while the kernel waits for the chunks (a Writer call per field, then
 * a store per byte, were most of the cost: 100 000 requests ~3.5 µs each, bench/pipeline.ts).
 * `o` views the output buffer, `s` the body's array. Attribute headers are in host order, payloads
 * in network order (house-style R3); a nest's length is patched once its attributes are in.
 */
/** Room for the longest request written here (IPv6, NAT both ways, every attribute): ~380 bytes. */
const MAX_REQUEST = 512;

/** The views of the last output and body arrays (a commit writes into few buffers from few segments). */
const outViews = new ViewCache();
const bodyViews = new ViewMemo();

function hdr(o: DataView, n: number, len: number, type: number): number {
  o.setUint16(n, len, HOST_LITTLE_ENDIAN);
  o.setUint16(n + 2, type, HOST_LITTLE_ENDIAN);
  return n + 4;
}
/** open starts a nest (NLA_F_NESTED, as ctnetlink sends them); close patches its length. */
function open(o: DataView, n: number, type: number): number {
  return hdr(o, n, 0, type | NLA_F_NESTED);
}
function close(o: DataView, at: number, n: number): number {
  o.setUint16(at, n - at, HOST_LITTLE_ENDIAN);
  return n;
}
/** u8Attr: the byte, then 3 zero bytes of padding. */
function u8Attr(o: DataView, n: number, type: number, v: number): number {
  o.setUint32(hdr(o, n, 5, type), v << 24);
  return n + 8;
}
/** be16Attr: the value in network order, then 2 zero bytes of padding. */
function be16Attr(o: DataView, n: number, type: number, v: number): number {
  o.setUint32(hdr(o, n, 6, type), v << 16);
  return n + 8;
}
function be32Attr(o: DataView, n: number, type: number, v: number): number {
  o.setUint32(hdr(o, n, 8, type), v);
  return n + 8;
}
/** addrAttr copies an address (4 or 16 bytes: no padding) of the body at `p`. */
function addrAttr(o: DataView, n: number, type: number, s: DataView, p: number, len: number): number {
  n = hdr(o, n, 4 + len, type);
  o.setInt32(n, s.getInt32(p));
  if (len === 16) {
    o.setInt32(n + 4, s.getInt32(p + 4));
    o.setInt32(n + 8, s.getInt32(p + 8));
    o.setInt32(n + 12, s.getInt32(p + 12));
  }
  return n + len;
}
/** nfgenmsg: AF_INET / AF_INET6, NFNETLINK_V0, res_id 0. */
function nfgen(o: DataView, n: number, v: BodyView): number {
  o.setUint32(n, (v.l3 === NTA.IPV4 ? 2 : 10) << 24);
  return n + 4;
}

/**
 * tuple writes a tuple nest in libnetfilter_conntrack's order; `reply` swaps it into the plain
 * inverse, `nat` (with `reply`) into the NAT'd one natReplyTuple gives.
 */
function tuple(o: DataView, n: number, type: number, s: DataView, v: BodyView, reply: boolean, nat = false): number {
  const a = v.at;
  const len = v.l3 === NTA.IPV4 ? 4 : 16;
  const g = a[v.l3]!;
  const proto = s.getUint8(a[NTA.L4PROTO]!);
  const nest = n;
  n = open(o, n, type);
  const ip = n;
  n = open(o, n, CTA_TUPLE.IP);
  const srcT = len === 4 ? CTA_IP.V4_SRC : CTA_IP.V6_SRC;
  const dstT = len === 4 ? CTA_IP.V4_DST : CTA_IP.V6_DST;
  const snatIp = nat ? a[len === 4 ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6]! : -1;
  const dnatIp = nat ? a[len === 4 ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6]! : -1;
  n = addrAttr(o, n, srcT, s, reply ? (dnatIp >= 0 ? dnatIp : g + len) : g, len);
  n = addrAttr(o, n, dstT, s, reply ? (snatIp >= 0 ? snatIp : g) : g + len, len);
  n = close(o, ip, n);
  const pr = n;
  n = open(o, n, CTA_TUPLE.PROTO);
  n = u8Attr(o, n, CTA_PROTO.NUM, proto);
  const icmp = proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6;
  const port = a[NTA.PORT]!;
  if (port >= 0 && !(reply && icmp)) {
    // NTA_SPAT/DPAT_PORT are little-endian on the wire (§2.8); tuple ports are big-endian.
    const natPorts = nat && NAT_PORT_PROTOS.has(proto);
    const spat = natPorts ? a[NTA.SPAT_PORT]! : -1;
    const dpat = natPorts ? a[NTA.DPAT_PORT]! : -1;
    n = be16Attr(o, n, CTA_PROTO.SRC_PORT, reply ? (dpat >= 0 ? s.getUint16(dpat, true) : s.getUint16(port + 2)) : s.getUint16(port));
    n = be16Attr(o, n, CTA_PROTO.DST_PORT, reply ? (spat >= 0 ? s.getUint16(spat, true) : s.getUint16(port)) : s.getUint16(port + 2));
  }
  if (!reply || icmp) {
    const v6 = proto === IPPROTO.ICMPV6;
    if (a[NTA.ICMP_CODE]! >= 0) n = u8Attr(o, n, v6 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, s.getUint8(a[NTA.ICMP_CODE]!));
    if (a[NTA.ICMP_TYPE]! >= 0) {
      const t = s.getUint8(a[NTA.ICMP_TYPE]!);
      n = u8Attr(o, n, v6 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, reply ? ((proto === IPPROTO.ICMP ? ICMP_REPLY : ICMPV6_REPLY)[t] ?? t) : t);
    }
    if (a[NTA.ICMP_ID]! >= 0) n = be16Attr(o, n, v6 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, s.getUint16(a[NTA.ICMP_ID]!, true));
  }
  n = close(o, pr, n);
  return close(o, nest, n);
}

function natRange(o: DataView, n: number, type: number, s: DataView, v: BodyView, ipId: number, portId: number, ports: boolean): number {
  const a = v.at;
  const ip = a[ipId]!;
  const port = ports ? a[portId]! : -1;
  if (ip < 0 && a[portId]! < 0) return n;
  const nest = n;
  n = open(o, n, type);
  if (ip >= 0) n = v.l3 === NTA.IPV4 ? addrAttr(o, n, CTA_NAT.V4_MINIP, s, ip, 4) : addrAttr(o, n, CTA_NAT.V6_MINIP, s, ip, 16);
  if (port >= 0) {
    const p = n;
    n = open(o, n, CTA_NAT.PROTO);
    n = be16Attr(o, n, CTA_PROTONAT.PORT_MIN, s.getUint16(port, true));
    n = close(o, p, n);
  }
  return close(o, nest, n);
}

/**
 * writeCommitRequest writes struct nfgenmsg and the CTA_* attributes of the create request for a
 * body scanBody accepted (`v`, offsets into `b`), as ctCreate(commitEntry(entry)) would.
 */
export function writeCommitRequest(w: Writer, b: Uint8Array, v: BodyView, receivedAtMs: number, opts: CommitOptions): void {
  writeCommitRequestFrom(w, bodyViews.of(b), v, receivedAtMs, opts);
}

/** writeCommitRequestFrom is writeCommitRequest given the DataView `s` of the body's array. */
function writeCommitRequestFrom(w: Writer, s: DataView, v: BodyView, receivedAtMs: number, opts: CommitOptions): void {
  const o = outViews.of(w.room(MAX_REQUEST));
  const a = v.at;
  const proto = s.getUint8(a[NTA.L4PROTO]!);
  let n = nfgen(o, w.length, v);
  n = tuple(o, n, CTA.TUPLE_ORIG, s, v, false);
  n = tuple(o, n, CTA.TUPLE_REPLY, s, v, true);
  if (a[NTA.STATUS]! >= 0) n = be32Attr(o, n, CTA.STATUS, ((s.getUint32(a[NTA.STATUS]!) & ~IPS.EXPECTED) | IPS.CONFIRMED) >>> 0);
  const timeout = commitTimeout(a[NTA.TIMEOUT]! >= 0 ? s.getUint32(a[NTA.TIMEOUT]!) : undefined, receivedAtMs, opts);
  if (timeout !== undefined) n = be32Attr(o, n, CTA.TIMEOUT, timeout);
  if (a[NTA.MARK]! >= 0) n = be32Attr(o, n, CTA.MARK, s.getUint32(a[NTA.MARK]!));
  n = protoInfo(o, n, s, v, proto, opts);
  const ports = NAT_PORT_PROTOS.has(proto);
  n = natRange(o, n, CTA.NAT_SRC, s, v, v.l3 === NTA.IPV4 ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6, NTA.SPAT_PORT, ports);
  n = natRange(o, n, CTA.NAT_DST, s, v, v.l3 === NTA.IPV4 ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6, NTA.DPAT_PORT, ports);
  if (a[NTA.ZONE]! >= 0) n = be16Attr(o, n, CTA.ZONE, s.getUint16(a[NTA.ZONE]!));
  const sp = a[NTA.SYNPROXY]!;
  if (sp >= 0) {
    // NTA_SYNPROXY carries its, isn, tsoff; the request wants ISN, ITS, TSOFF.
    const nest = n;
    n = open(o, n, CTA.SYNPROXY);
    n = be32Attr(o, n, CTA_SYNPROXY.ISN, s.getUint32(sp + 4));
    n = be32Attr(o, n, CTA_SYNPROXY.ITS, s.getUint32(sp));
    n = be32Attr(o, n, CTA_SYNPROXY.TSOFF, s.getUint32(sp + 8));
    n = close(o, nest, n);
  }
  w.advance(n);
}

/**
 * writeUpdateRequest writes the in-place update of an entry that already exists (EEXIST on the
 * create), found by its REPLY tuple: found, it has the same NAT binding and ctnetlink changes
 * timeout, mark and TCP state in place; not found (ENOENT), the existing entry has another
 * binding and must be deleted and created. Left out: the NAT ranges and the master (ctnetlink
 * changes neither on a confirmed entry: EOPNOTSUPP) and the status (changing its unchangeable bits
 * is EBUSY; the rest follows the traffic).
 */
export function writeUpdateRequest(w: Writer, b: Uint8Array, v: BodyView, receivedAtMs: number, opts: CommitOptions): void {
  const o = outViews.of(w.room(MAX_REQUEST));
  const s = bodyViews.of(b);
  const a = v.at;
  const proto = s.getUint8(a[NTA.L4PROTO]!);
  let n = nfgen(o, w.length, v);
  n = tuple(o, n, CTA.TUPLE_REPLY, s, v, true, true);
  const timeout = commitTimeout(a[NTA.TIMEOUT]! >= 0 ? s.getUint32(a[NTA.TIMEOUT]!) : undefined, receivedAtMs, opts);
  if (timeout !== undefined) n = be32Attr(o, n, CTA.TIMEOUT, timeout);
  if (a[NTA.MARK]! >= 0) n = be32Attr(o, n, CTA.MARK, s.getUint32(a[NTA.MARK]!));
  n = protoInfo(o, n, s, v, proto, opts);
  if (a[NTA.ZONE]! >= 0) n = be16Attr(o, n, CTA.ZONE, s.getUint16(a[NTA.ZONE]!));
  w.advance(n);
}

/** tcpFlags writes one direction's struct nf_ct_tcp_flags {flags, mask} (2 bytes, 2 of padding). */
function tcpFlags(o: DataView, n: number, type: number, flags: number): number {
  o.setUint32(hdr(o, n, 6, type), (flags << 24) | (flags << 16));
  return n + 8;
}

function protoInfo(o: DataView, n: number, s: DataView, v: BodyView, proto: number, opts: CommitOptions): number {
  const a = v.at;
  const state = a[NTA.TCP_STATE]!;
  const wo = a[NTA.TCP_WSCALE_ORIG]!;
  const wr = a[NTA.TCP_WSCALE_REPL]!;
  let flags = 0;
  if (proto === IPPROTO.TCP) {
    flags = opts.tcpWindowTracking === true ? 0 : TCP_FLAG_BE_LIBERAL;
    if ((wo >= 0 && s.getUint8(wo) !== 0) || (wr >= 0 && s.getUint8(wr) !== 0)) flags |= TCP_FLAG_WINDOW_SCALE;
  }
  if (state < 0 && wo < 0 && wr < 0 && flags === 0) return n;
  const nest = n;
  n = open(o, n, CTA.PROTOINFO);
  const tcp = n;
  n = open(o, n, CTA_PROTOINFO.TCP);
  if (state >= 0) n = u8Attr(o, n, CTA_PROTOINFO_TCP.STATE, s.getUint8(state));
  if (flags !== 0) {
    n = tcpFlags(o, n, CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, flags);
    n = tcpFlags(o, n, CTA_PROTOINFO_TCP.FLAGS_REPLY, flags);
  }
  if (wo >= 0) n = u8Attr(o, n, CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, s.getUint8(wo));
  if (wr >= 0) n = u8Attr(o, n, CTA_PROTOINFO_TCP.WSCALE_REPLY, s.getUint8(wr));
  n = close(o, tcp, n);
  return close(o, nest, n);
}

/**
 * CommitJob is one entry of a commit: the entry, the writer of its create request's payload, and
 * of the delete request that clears the way when the entry already exists (failback).
 */
/**
 * CommitSource is what the commit reads of a received entry: its body's bytes, when it was
 * received, and its model (`ct`, for the bodies off the fast path). bodyArray gives the array that
 * holds the body at [bodyOffset, bodyOffset + bodyLength): the entry's own (read, not copied), or
 * `scratch` (bodyLength bytes of room) with the body copied to its front.
 */
export interface CommitSource {
  readonly receivedAtMs: number;
  readonly bodyLength: number;
  readonly bodyOffset: number;
  bodyArray(scratch: Uint8Array): Uint8Array;
  readonly ct: Conntrack;
}

export interface CommitJob<E> {
  readonly entry: E;
  /** 1 for entries without a master, 2 for related ones: pass 2 starts once pass 1 is done. */
  readonly pass: 1 | 2;
  readonly write: (w: Writer) => void;
  readonly writeDelete: (w: Writer) => void;
  /** The in-place update by the reply tuple (writeUpdateRequest), tried before a delete and create. */
  readonly writeUpdate: (w: Writer) => void;
}

/** planCommitRequests' scratch (it runs to the end before anything else does). */
const planView = new BodyView();
let planBuf = new Uint8Array(1024);

/**
 * planCommitRequests is planCommit for the bytes: one create request writer per entry, masters
 * first (entries with a master tuple last, as conntrackd's two passes). Bodies on the fast path
 * are written from their bytes; the others through the model (commitEntry, then the request
 * encoder), which gives the same bytes for any body.
 */
export function planCommitRequests<E extends CommitSource>(
  entries: Iterable<E>,
  opts: CommitOptions,
): CommitJob<E>[] {
  const first: CommitJob<E>[] = [];
  const second: CommitJob<E>[] = [];
  for (const e of entries) {
    const n = e.bodyLength;
    if (planBuf.length < n) planBuf = new Uint8Array(2 * n);
    if (scanBody(e.bodyArray(planBuf), n, planView, e.bodyOffset)) {
      first.push(fastJob(e, opts));
      continue;
    }
    const req = commitEntry(e, opts);
    const withConfirmed = req.status === undefined || (req.status & IPS.CONFIRMED) !== 0 ? req : { ...req, status: req.status | IPS.CONFIRMED };
    const write = (w: Writer): void => {
      encodeNfgenmsg(w, nfgenmsgFor(withConfirmed.family));
      encodeConntrackAttrs(w, withConfirmed, 'request');
    };
    const writeDelete = (w: Writer): void => {
      encodeNfgenmsg(w, nfgenmsgFor(req.family));
      encodeConntrackAttrs(w, { family: req.family, ...(req.orig !== undefined ? { orig: req.orig } : {}), ...(req.zone !== undefined ? { zone: req.zone } : {}) }, 'request');
    };
    const writeUpdate = (w: Writer): void => {
      encodeNfgenmsg(w, nfgenmsgFor(req.family));
      const upd: { -readonly [K in keyof Conntrack]: Conntrack[K] } = { family: req.family };
      const reply = natReplyTuple(req);
      if (reply !== undefined) upd.reply = reply;
      for (const k of ['timeout', 'mark', 'protoinfo', 'zone', 'labels'] as const) if (req[k] !== undefined) Object.assign(upd, { [k]: req[k] });
      encodeConntrackAttrs(w, upd, 'request');
    };
    if (req.master === undefined) first.push({ entry: e, pass: 1, write, writeDelete, writeUpdate });
    else second.push({ entry: e, pass: 2, write, writeDelete, writeUpdate });
  }
  return first.concat(second);
}

const fastView = new BodyView();
let fastBuf = new Uint8Array(1024);

/** fastJob is the CommitJob of a body on the fast path (tryWriteCommitRequest accepted it). */
export function fastJob<E extends CommitSource>(e: E, opts: CommitOptions): CommitJob<E> {
  return { entry: e, pass: 1, write: (w) => writeFast(w, e, opts), writeDelete: (w) => writeFastDelete(w, e), writeUpdate: (w) => writeFastUpdate(w, e, opts) };
}

/**
 * tryWriteCommitRequest writes the create request of a body on the fast path and returns true, or
 * returns false having written nothing (the body needs the model: planCommitRequests). Bodies with
 * a master tuple are never on the fast path, so what it accepts may be created before anything else.
 */
export function tryWriteCommitRequest(w: Writer, e: CommitSource, opts: CommitOptions): boolean {
  const b = bodyOf(e);
  if (!scanBody(b, e.bodyLength, fastView, e.bodyOffset)) return false;
  writeCommitRequest(w, b, fastView, e.receivedAtMs, opts);
  return true;
}

/**
 * tryWriteCommitRecord is tryWriteCommitRequest for the external cache's record at `at` of
 * `arena` (a commit reads the records as they are: no entry object each).
 */
export function tryWriteCommitRecord(w: Writer, arena: RecordArena, at: number, opts: CommitOptions): boolean {
  if (!scanBody(arena.bytesAt(at), arena.bodyLength(at), fastView, arena.bodyStart(at))) return false;
  writeCommitRequestFrom(w, arena.viewAt(at), fastView, arena.stampOf(at), opts);
  return true;
}

/** writeDeleteRequest writes the delete request of a scanned body: what ctDelete sends, the original tuple and the zone. */
export function writeDeleteRequest(w: Writer, b: Uint8Array, v: BodyView): void {
  const o = outViews.of(w.room(MAX_REQUEST));
  const s = bodyViews.of(b);
  let n = tuple(o, nfgen(o, w.length, v), CTA.TUPLE_ORIG, s, v, false);
  if (v.at[NTA.ZONE]! >= 0) n = be16Attr(o, n, CTA.ZONE, s.getUint16(v.at[NTA.ZONE]!));
  w.advance(n);
}

/**
 * scanFast puts a body into fastBuf and scans it into fastView (accepted when planned: the
 * entries a commit holds do not change while it runs, ExternalCache.pin).
 */
function scanFast(e: CommitSource): Uint8Array {
  const b = bodyOf(e);
  scanBody(b, e.bodyLength, fastView, e.bodyOffset);
  return b;
}

/** bodyOf is the array holding `e`'s body (fastBuf when it has to be copied). */
function bodyOf(e: CommitSource): Uint8Array {
  if (fastBuf.length < e.bodyLength) fastBuf = new Uint8Array(2 * e.bodyLength);
  return e.bodyArray(fastBuf);
}

function writeFastDelete(w: Writer, e: CommitSource): void {
  writeDeleteRequest(w, scanFast(e), fastView);
}

function writeFast(w: Writer, e: CommitSource, opts: CommitOptions): void {
  writeCommitRequest(w, scanFast(e), fastView, e.receivedAtMs, opts);
}

function writeFastUpdate(w: Writer, e: CommitSource, opts: CommitOptions): void {
  const b = scanFast(e);
  writeUpdateRequest(w, b, fastView, e.receivedAtMs, opts);
}
