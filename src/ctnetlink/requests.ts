import { putU16be, putU32be } from '../netlink/attrs.js';
import { NLM_F } from '../netlink/consts.js';
import type { Family } from '../wire/ip.js';
import { Writer } from '../wire/writer.js';
import { CTA, IPCTNL_MSG_CT, IPCTNL_MSG_EXP, NFNETLINK_V0, NFNL_SUBSYS } from './consts.js';
import { encodeConntrackAttrs } from './conntrack.js';
import { encodeExpectationAttrs } from './expectation.js';
import { afOf, encodeNfgenmsg, nfgenmsgFor, nfMsgType, type Nfgenmsg } from './nfgenmsg.js';
import type { Conntrack, DumpFilter, Expectation } from './types.js';

/**
 * NfRequest is one request for the kernel, ready to frame: the full nlmsg_type, the NLM_F_* flags
 * other than NLM_F_REQUEST and NLM_F_ACK (the sender adds those), and the body (struct nfgenmsg +
 * attributes). Attribute order is conntrack(8)'s (libnetfilter_conntrack 1.0.9), so a request for
 * the same command is byte-identical to what conntrack 1.4.7 sends (test/golden/*.hex).
 */
export interface NfRequest {
  readonly type: number;
  readonly flags: number;
  readonly body: Uint8Array;
}

const CT_GET = nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.GET);
const CT_DELETE = nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.DELETE);
const EXP_NEW = nfMsgType(NFNL_SUBSYS.CTNETLINK_EXP, IPCTNL_MSG_EXP.NEW);
const EXP_GET = nfMsgType(NFNL_SUBSYS.CTNETLINK_EXP, IPCTNL_MSG_EXP.GET);
const EXP_DELETE = nfMsgType(NFNL_SUBSYS.CTNETLINK_EXP, IPCTNL_MSG_EXP.DELETE);

function headerOnly(h: Nfgenmsg): Uint8Array {
  const w = new Writer(4);
  encodeNfgenmsg(w, h);
  return w.finish();
}

/**
 * NfStreamedRequest is an NfRequest whose body is written straight into the sender's batch buffer
 * (NetlinkConn accepts both): no per-entry buffer and no copy, which is what 100 000-entry batches
 * need. The bytes are the same as the NfRequest built from the same entry.
 */
export interface NfStreamedRequest {
  readonly type: number;
  readonly flags: number;
  readonly body: (w: Writer) => void;
}

/**
 * ctStreamed encodes a conntrack request in conntrack(8)'s attribute order (CtLayout 'request':
 * what the kernel only reports — use, counters, timestamps, secctx, the event timestamp — is left
 * out). `msg` is an IPCTNL_MSG_CT_* type.
 */
function ctStreamed(msg: number, flags: number, ct: Conntrack): NfStreamedRequest {
  return {
    type: nfMsgType(NFNL_SUBSYS.CTNETLINK, msg),
    flags,
    body: (w) => {
      encodeNfgenmsg(w, nfgenmsgFor(ct.family));
      encodeConntrackAttrs(w, ct, 'request');
    },
  };
}

/** materialize turns a streamed request into one with a byte body. */
function materialize(r: NfStreamedRequest): NfRequest {
  const w = new Writer(256);
  r.body(w);
  return { type: r.type, flags: r.flags, body: w.finish() };
}

/** ctRequest encodes any conntrack request with a byte body (see ctStreamed). */
export function ctRequest(msg: number, flags: number, ct: Conntrack): NfRequest {
  return materialize(ctStreamed(msg, flags, ct));
}

/** withoutId drops CTA_ID: ids are per host and the kernel ignores them on NEW. */
function withoutId(ct: Conntrack): Conntrack {
  if (ct.id === undefined) return ct;
  const { id: _id, ...rest } = ct;
  return rest;
}

/**
 * ctCreate asks for a new entry (IPCTNL_MSG_CT_NEW with NLM_F_CREATE|NLM_F_EXCL: EEXIST if the
 * tuple is taken). The kernel wants both tuples, a timeout and, for a status, IPS_CONFIRMED set
 * (conntrack(8) and ConntrackClient.create add it). CTA_ID is not sent.
 */
export function ctCreate(ct: Conntrack): NfRequest {
  return materialize(ctCreateStreamed(ct));
}
export function ctCreateStreamed(ct: Conntrack): NfStreamedRequest {
  return ctStreamed(IPCTNL_MSG_CT.NEW, NLM_F.CREATE | NLM_F.EXCL, withoutId(ct));
}

/** ctUpdate changes an existing entry found by its tuple (IPCTNL_MSG_CT_NEW without NLM_F_CREATE, as `conntrack -U` sends). */
export function ctUpdate(ct: Conntrack): NfRequest {
  return materialize(ctUpdateStreamed(ct));
}
export function ctUpdateStreamed(ct: Conntrack): NfStreamedRequest {
  return ctStreamed(IPCTNL_MSG_CT.NEW, 0, withoutId(ct));
}

/**
 * lookupKey keeps what the kernel uses to find one entry: the original tuple (or, without one, the
 * reply tuple) with its directional zone, CTA_ZONE, and CTA_ID (the kernel answers ENOENT when the
 * id does not match, which protects against deleting a recycled entry).
 */
function lookupKey(ct: Conntrack): Conntrack {
  const key: { -readonly [K in keyof Conntrack]: Conntrack[K] } = { family: ct.family };
  if (ct.orig !== undefined) key.orig = ct.orig;
  else if (ct.reply !== undefined) key.reply = ct.reply;
  if (ct.zone !== undefined) key.zone = ct.zone;
  if (ct.id !== undefined) key.id = ct.id;
  return key;
}

/** ctDelete deletes one entry by its original (or reply) tuple, zone and, if present, id. */
export function ctDelete(ct: Conntrack): NfRequest {
  return materialize(ctDeleteStreamed(ct));
}
export function ctDeleteStreamed(ct: Conntrack): NfStreamedRequest {
  return ctStreamed(IPCTNL_MSG_CT.DELETE, 0, lookupKey(ct));
}

/** ctGet fetches one entry by its original (or reply) tuple and zone (and id, if present). */
export function ctGet(ct: Conntrack): NfRequest {
  return ctRequest(IPCTNL_MSG_CT.GET, 0, lookupKey(ct));
}

/**
 * ctDump dumps the table (NLM_F_DUMP), filtered in the kernel by nfgen_family, CTA_MARK (with
 * CTA_MARK_MASK; the kernel uses 0xffffffff when the mask is absent), CTA_STATUS (with
 * CTA_STATUS_MASK; the kernel uses the status itself when absent) and CTA_ZONE. conntrack(8) sends
 * mark and status filters the same way but filters zones in user space.
 */
export function ctDump(filter: DumpFilter = {}): NfRequest {
  const w = new Writer(64);
  encodeNfgenmsg(w, nfgenmsgFor(filter.family));
  if (filter.mark !== undefined) {
    putU32be(w, CTA.MARK, filter.mark);
    putU32be(w, CTA.MARK_MASK, filter.markMask ?? 0xffffffff);
  }
  if (filter.zone !== undefined) putU16be(w, CTA.ZONE, filter.zone);
  if (filter.status !== undefined) {
    putU32be(w, CTA.STATUS, filter.status);
    putU32be(w, CTA.STATUS_MASK, filter.statusMask ?? filter.status);
  }
  return { type: CT_GET, flags: NLM_F.DUMP, body: w.finish() };
}

/**
 * ctDumpZero dumps the table and zeroes the counters of every entry it sends (IPCTNL_MSG_CT_GET_CTRZERO,
 * `conntrack -L -z`), with the same kernel-side filters as ctDump.
 */
export function ctDumpZero(filter: DumpFilter = {}): NfRequest {
  const d = ctDump(filter);
  return { ...d, type: nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.GET_CTRZERO) };
}

/** ctDumpDying dumps the entries that are being destroyed (IPCTNL_MSG_CT_GET_DYING, `conntrack -L dying`). */
export function ctDumpDying(): NfRequest {
  return { type: nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.GET_DYING), flags: NLM_F.DUMP, body: headerOnly(nfgenmsgFor(undefined)) };
}

/**
 * ctFlush empties the table, or only the entries of one family. The kernel honours nfgen_family on
 * a flush only when nfgenmsg.version is non-zero (older userspace sent AF_INET to mean "all"), so a
 * family-limited flush goes out with version 1. conntrack 1.4.7's `-F -f ipv6` sends version 0 and
 * therefore flushes every family.
 */
export function ctFlush(family?: Family): NfRequest {
  const h: Nfgenmsg = { family: afOf(family), version: family === undefined ? NFNETLINK_V0 : 1, resId: 0 };
  return { type: CT_DELETE, flags: 0, body: headerOnly(h) };
}

/** ctStatsCpu asks for the per-CPU counters (`conntrack -S`): a dump, one answer per CPU. */
export function ctStatsCpu(): NfRequest {
  return { type: nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.GET_STATS_CPU), flags: NLM_F.DUMP, body: headerOnly(nfgenmsgFor(undefined)) };
}

/** ctStats asks for the entry count and nf_conntrack_max (`conntrack -C`). */
export function ctStats(): NfRequest {
  return { type: nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.GET_STATS), flags: 0, body: headerOnly(nfgenmsgFor(undefined)) };
}

function expRequest(type: number, flags: number, e: Expectation): NfRequest {
  const w = new Writer(256);
  encodeNfgenmsg(w, nfgenmsgFor(e.family));
  encodeExpectationAttrs(w, e, 'request');
  return { type, flags, body: w.finish() };
}

/**
 * expCreate creates an expectation (IPCTNL_MSG_EXP_NEW, NLM_F_CREATE|NLM_F_EXCL). The kernel needs
 * tuple, mask and master; the master entry must exist and have a helper. CTA_EXPECT_ID is not sent.
 */
export function expCreate(e: Expectation): NfRequest {
  if (e.id === undefined) return expRequest(EXP_NEW, NLM_F.CREATE | NLM_F.EXCL, e);
  const { id: _id, ...rest } = e;
  return expRequest(EXP_NEW, NLM_F.CREATE | NLM_F.EXCL, rest);
}

/** expKey keeps what the kernel uses to find one expectation: its tuple (else the master tuple), zone and id. */
function expKey(e: Expectation): Expectation {
  const key: { -readonly [K in keyof Expectation]: Expectation[K] } = { family: e.family };
  if (e.tuple !== undefined) key.tuple = e.tuple;
  else if (e.master !== undefined) key.master = e.master;
  if (e.zone !== undefined) key.zone = e.zone;
  if (e.id !== undefined) key.id = e.id;
  return key;
}

/** expDelete deletes one expectation by its tuple, zone and, if present, id. */
export function expDelete(e: Expectation): NfRequest {
  return expRequest(EXP_DELETE, 0, expKey(e));
}

/** expGet fetches one expectation by its tuple (or its master's tuple), zone and id. */
export function expGet(e: Expectation): NfRequest {
  return expRequest(EXP_GET, 0, expKey(e));
}

/**
 * expDump dumps the expectation table, of one family or (undefined: AF_UNSPEC) all. conntrack(8)'s
 * `-L expect` sends AF_INET unless given `-f ipv6`, so it never lists both families at once.
 */
export function expDump(family?: Family): NfRequest {
  return { type: EXP_GET, flags: NLM_F.DUMP, body: headerOnly(nfgenmsgFor(family)) };
}

/** expFlush removes every expectation; the kernel ignores the family here (conntrack(8) sends AF_INET). */
export function expFlush(family?: Family): NfRequest {
  return { type: EXP_DELETE, flags: 0, body: headerOnly(nfgenmsgFor(family)) };
}

/**
 * expStatsCpu asks for the per-CPU expectation counters (`conntrack -S expect`). The kernel answers
 * under subsystem CTNETLINK, not CTNETLINK_EXP (ctnetlink_exp_stat_fill_info), with message type
 * IPCTNL_MSG_EXP_GET_STATS_CPU, so the answer's nlmsg_type equals IPCTNL_MSG_CT_GET_CTRZERO's.
 */
export function expStatsCpu(): NfRequest {
  return { type: nfMsgType(NFNL_SUBSYS.CTNETLINK_EXP, IPCTNL_MSG_EXP.GET_STATS_CPU), flags: NLM_F.DUMP, body: headerOnly(nfgenmsgFor(undefined)) };
}
