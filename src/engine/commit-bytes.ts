import { CTA, CTA_IP, CTA_NAT, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_PROTONAT, CTA_SYNPROXY, CTA_TUPLE, IPPROTO, IPS } from '../ctnetlink/consts.js';
import { NLA_F_NESTED } from '../netlink/consts.js';
import { NTA } from '../sync/consts.js';
import { encodeConntrackAttrs } from '../ctnetlink/conntrack.js';
import { encodeNfgenmsg, nfgenmsgFor } from '../ctnetlink/nfgenmsg.js';
import type { Conntrack } from '../ctnetlink/types.js';
import { be16At as be16, be32At as be32, putBe16At, putBe32At, putU16At, putU8Pad3At } from '../wire/byte-order.js';
import type { Writer } from '../wire/writer.js';
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

const le16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);

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
 * The requests below are written byte by byte into the writer's buffer (Writer.room / advance):
 * one is written per entry of a commit or injection, and a Writer call per field (its checks and
 * DataView) was most of the cost. Attribute headers are in host order, payloads in network order
 * (house-style R3); a nest's length is patched once its attributes are in.
 */
/** Room for the longest request written here (IPv6, NAT both ways, every attribute): ~380 bytes. */
const MAX_REQUEST = 512;

function hdr(out: Uint8Array, n: number, len: number, type: number): number {
  return putU16At(out, putU16At(out, n, len), type);
}
/** open starts a nest (NLA_F_NESTED, as ctnetlink sends them); close patches its length. */
function open(out: Uint8Array, n: number, type: number): number {
  return hdr(out, n, 0, type | NLA_F_NESTED);
}
function close(out: Uint8Array, at: number, n: number): number {
  putU16At(out, at, n - at);
  return n;
}
function u8Attr(out: Uint8Array, n: number, type: number, v: number): number {
  return putU8Pad3At(out, hdr(out, n, 5, type), v);
}
function be16Attr(out: Uint8Array, n: number, type: number, v: number): number {
  n = putBe16At(out, hdr(out, n, 6, type), v);
  out[n] = out[n + 1] = 0;
  return n + 2;
}
function be32Attr(out: Uint8Array, n: number, type: number, v: number): number {
  return putBe32At(out, hdr(out, n, 8, type), v);
}
/** addrAttr copies an address (4 or 16 bytes: no padding) of `b` at `p`. */
function addrAttr(out: Uint8Array, n: number, type: number, b: Uint8Array, p: number, len: number): number {
  n = hdr(out, n, 4 + len, type);
  for (let i = 0; i < len; i++) out[n + i] = b[p + i]!;
  return n + len;
}
/** nfgenmsg: AF_INET / AF_INET6, NFNETLINK_V0, res_id 0. */
function nfgen(out: Uint8Array, n: number, v: BodyView): number {
  out[n] = v.l3 === NTA.IPV4 ? 2 : 10;
  out[n + 1] = out[n + 2] = out[n + 3] = 0;
  return n + 4;
}

/**
 * tuple writes a tuple nest in libnetfilter_conntrack's order; `reply` swaps it into the plain
 * inverse, `nat` (with `reply`) into the NAT'd one natReplyTuple gives.
 */
function tuple(out: Uint8Array, n: number, type: number, b: Uint8Array, v: BodyView, reply: boolean, nat = false): number {
  const a = v.at;
  const len = v.l3 === NTA.IPV4 ? 4 : 16;
  const g = a[v.l3]!;
  const proto = b[a[NTA.L4PROTO]!]!;
  const nest = n;
  n = open(out, n, type);
  const ip = n;
  n = open(out, n, CTA_TUPLE.IP);
  const srcT = len === 4 ? CTA_IP.V4_SRC : CTA_IP.V6_SRC;
  const dstT = len === 4 ? CTA_IP.V4_DST : CTA_IP.V6_DST;
  const snatIp = nat ? a[len === 4 ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6]! : -1;
  const dnatIp = nat ? a[len === 4 ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6]! : -1;
  n = addrAttr(out, n, srcT, b, reply ? (dnatIp >= 0 ? dnatIp : g + len) : g, len);
  n = addrAttr(out, n, dstT, b, reply ? (snatIp >= 0 ? snatIp : g) : g + len, len);
  n = close(out, ip, n);
  const pr = n;
  n = open(out, n, CTA_TUPLE.PROTO);
  n = u8Attr(out, n, CTA_PROTO.NUM, proto);
  const icmp = proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6;
  const port = a[NTA.PORT]!;
  if (port >= 0 && !(reply && icmp)) {
    // NTA_SPAT/DPAT_PORT are little-endian on the wire (§2.8); tuple ports are big-endian.
    const natPorts = nat && NAT_PORT_PROTOS.has(proto);
    const spat = natPorts ? a[NTA.SPAT_PORT]! : -1;
    const dpat = natPorts ? a[NTA.DPAT_PORT]! : -1;
    n = be16Attr(out, n, CTA_PROTO.SRC_PORT, reply ? (dpat >= 0 ? le16(b, dpat) : be16(b, port + 2)) : be16(b, port));
    n = be16Attr(out, n, CTA_PROTO.DST_PORT, reply ? (spat >= 0 ? le16(b, spat) : be16(b, port)) : be16(b, port + 2));
  }
  if (!reply || icmp) {
    const v6 = proto === IPPROTO.ICMPV6;
    if (a[NTA.ICMP_CODE]! >= 0) n = u8Attr(out, n, v6 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, b[a[NTA.ICMP_CODE]!]!);
    if (a[NTA.ICMP_TYPE]! >= 0) {
      const t = b[a[NTA.ICMP_TYPE]!]!;
      n = u8Attr(out, n, v6 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, reply ? ((proto === IPPROTO.ICMP ? ICMP_REPLY : ICMPV6_REPLY)[t] ?? t) : t);
    }
    if (a[NTA.ICMP_ID]! >= 0) n = be16Attr(out, n, v6 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, le16(b, a[NTA.ICMP_ID]!));
  }
  n = close(out, pr, n);
  return close(out, nest, n);
}

function natRange(out: Uint8Array, n: number, type: number, b: Uint8Array, v: BodyView, ipId: number, portId: number, ports: boolean): number {
  const a = v.at;
  const ip = a[ipId]!;
  const port = ports ? a[portId]! : -1;
  if (ip < 0 && a[portId]! < 0) return n;
  const nest = n;
  n = open(out, n, type);
  if (ip >= 0) n = v.l3 === NTA.IPV4 ? addrAttr(out, n, CTA_NAT.V4_MINIP, b, ip, 4) : addrAttr(out, n, CTA_NAT.V6_MINIP, b, ip, 16);
  if (port >= 0) {
    const p = n;
    n = open(out, n, CTA_NAT.PROTO);
    n = be16Attr(out, n, CTA_PROTONAT.PORT_MIN, le16(b, port));
    n = close(out, p, n);
  }
  return close(out, nest, n);
}

/**
 * writeCommitRequest writes struct nfgenmsg and the CTA_* attributes of the create request for a
 * body scanBody accepted (`v`), as ctCreate(commitEntry(entry)) would.
 */
export function writeCommitRequest(w: Writer, b: Uint8Array, v: BodyView, receivedAtMs: number, opts: CommitOptions): void {
  const out = w.room(MAX_REQUEST);
  const a = v.at;
  const proto = b[a[NTA.L4PROTO]!]!;
  let n = nfgen(out, w.length, v);
  n = tuple(out, n, CTA.TUPLE_ORIG, b, v, false);
  n = tuple(out, n, CTA.TUPLE_REPLY, b, v, true);
  if (a[NTA.STATUS]! >= 0) n = be32Attr(out, n, CTA.STATUS, ((be32(b, a[NTA.STATUS]!) & ~IPS.EXPECTED) | IPS.CONFIRMED) >>> 0);
  const timeout = commitTimeout(a[NTA.TIMEOUT]! >= 0 ? be32(b, a[NTA.TIMEOUT]!) : undefined, receivedAtMs, opts);
  if (timeout !== undefined) n = be32Attr(out, n, CTA.TIMEOUT, timeout);
  if (a[NTA.MARK]! >= 0) n = be32Attr(out, n, CTA.MARK, be32(b, a[NTA.MARK]!));
  n = protoInfo(out, n, b, v, proto, opts);
  const ports = NAT_PORT_PROTOS.has(proto);
  n = natRange(out, n, CTA.NAT_SRC, b, v, v.l3 === NTA.IPV4 ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6, NTA.SPAT_PORT, ports);
  n = natRange(out, n, CTA.NAT_DST, b, v, v.l3 === NTA.IPV4 ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6, NTA.DPAT_PORT, ports);
  if (a[NTA.ZONE]! >= 0) n = be16Attr(out, n, CTA.ZONE, be16(b, a[NTA.ZONE]!));
  const sp = a[NTA.SYNPROXY]!;
  if (sp >= 0) {
    // NTA_SYNPROXY carries its, isn, tsoff; the request wants ISN, ITS, TSOFF.
    const nest = n;
    n = open(out, n, CTA.SYNPROXY);
    n = be32Attr(out, n, CTA_SYNPROXY.ISN, be32(b, sp + 4));
    n = be32Attr(out, n, CTA_SYNPROXY.ITS, be32(b, sp));
    n = be32Attr(out, n, CTA_SYNPROXY.TSOFF, be32(b, sp + 8));
    n = close(out, nest, n);
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
  const out = w.room(MAX_REQUEST);
  const a = v.at;
  const proto = b[a[NTA.L4PROTO]!]!;
  let n = nfgen(out, w.length, v);
  n = tuple(out, n, CTA.TUPLE_REPLY, b, v, true, true);
  const timeout = commitTimeout(a[NTA.TIMEOUT]! >= 0 ? be32(b, a[NTA.TIMEOUT]!) : undefined, receivedAtMs, opts);
  if (timeout !== undefined) n = be32Attr(out, n, CTA.TIMEOUT, timeout);
  if (a[NTA.MARK]! >= 0) n = be32Attr(out, n, CTA.MARK, be32(b, a[NTA.MARK]!));
  n = protoInfo(out, n, b, v, proto, opts);
  if (a[NTA.ZONE]! >= 0) n = be16Attr(out, n, CTA.ZONE, be16(b, a[NTA.ZONE]!));
  w.advance(n);
}

function protoInfo(out: Uint8Array, n: number, b: Uint8Array, v: BodyView, proto: number, opts: CommitOptions): number {
  const a = v.at;
  const state = a[NTA.TCP_STATE]!;
  const wo = a[NTA.TCP_WSCALE_ORIG]!;
  const wr = a[NTA.TCP_WSCALE_REPL]!;
  let flags = 0;
  if (proto === IPPROTO.TCP) {
    flags = opts.tcpWindowTracking === true ? 0 : TCP_FLAG_BE_LIBERAL;
    if ((wo >= 0 && b[wo] !== 0) || (wr >= 0 && b[wr] !== 0)) flags |= TCP_FLAG_WINDOW_SCALE;
  }
  if (state < 0 && wo < 0 && wr < 0 && flags === 0) return n;
  const nest = n;
  n = open(out, n, CTA.PROTOINFO);
  const tcp = n;
  n = open(out, n, CTA_PROTOINFO.TCP);
  if (state >= 0) n = u8Attr(out, n, CTA_PROTOINFO_TCP.STATE, b[state]!);
  if (flags !== 0) {
    // struct nf_ct_tcp_flags {flags, mask}, each direction.
    for (const t of [CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, CTA_PROTOINFO_TCP.FLAGS_REPLY]) {
      n = hdr(out, n, 6, t);
      out[n] = out[n + 1] = flags;
      out[n + 2] = out[n + 3] = 0;
      n += 4;
    }
  }
  if (wo >= 0) n = u8Attr(out, n, CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, b[wo]!);
  if (wr >= 0) n = u8Attr(out, n, CTA_PROTOINFO_TCP.WSCALE_REPLY, b[wr]!);
  n = close(out, tcp, n);
  return close(out, nest, n);
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

/** writeDeleteRequest writes the delete request of a scanned body: what ctDelete sends, the original tuple and the zone. */
export function writeDeleteRequest(w: Writer, b: Uint8Array, v: BodyView): void {
  const out = w.room(MAX_REQUEST);
  let n = tuple(out, nfgen(out, w.length, v), CTA.TUPLE_ORIG, b, v, false);
  if (v.at[NTA.ZONE]! >= 0) n = be16Attr(out, n, CTA.ZONE, be16(b, v.at[NTA.ZONE]!));
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
