import { beginNested, endAttr, putBytes, putRaw, putString, putU16be, putU32be, putU64be, type RawAttr } from '../netlink/attrs.js';
import { NLA_TYPE_MASK } from '../netlink/consts.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { CTA, CTA_HELP, CTA_SECCTX } from './consts.js';
import { decodeCounters, decodeTimestamp, encodeCounters, encodeTimestamp } from './counters.js';
import { decodeNatRange, encodeNatRange } from './nat.js';
import { encodeNfgenmsg, familyOf, NFGENMSG_LEN, nfgenmsgFor } from './nfgenmsg.js';
import { badSize, bytesAt, fail, nlaLen, nlaNext, pushRaw, stringAt, u16At, u32At, u64At, type Path } from './nla.js';
import { decodeProtoInfo, encodeProtoInfo } from './protoinfo.js';
import { decodeSeqAdj, encodeSeqAdj } from './seqadj.js';
import { decodeSynproxy, encodeSynproxy } from './synproxy.js';
import { decodeTuple, encodeTuple, type AttrOrder } from './tuple.js';
import type { Conntrack } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const P: Path = ['conntrack'];
const P_ORIG: Path = ['conntrack', 'orig'];
const P_REPLY: Path = ['conntrack', 'reply'];
const P_MASTER: Path = ['conntrack', 'master'];
const P_PROTOINFO: Path = ['conntrack', 'protoinfo'];
const P_HELP: Path = ['conntrack', 'help'];
const P_NAT_SRC: Path = ['conntrack', 'natSrc'];
const P_NAT_DST: Path = ['conntrack', 'natDst'];
const P_CTR_ORIG: Path = ['conntrack', 'countersOrig'];
const P_CTR_REPLY: Path = ['conntrack', 'countersReply'];
const P_SEQ_ORIG: Path = ['conntrack', 'seqAdjOrig'];
const P_SEQ_REPLY: Path = ['conntrack', 'seqAdjReply'];
const P_SECCTX: Path = ['conntrack', 'secctx'];
const P_TIMESTAMP: Path = ['conntrack', 'timestamp'];
const P_SYNPROXY: Path = ['conntrack', 'synproxy'];

/** NF_CT_LABELS_MAX_SIZE: 128 label bits. libnetfilter_conntrack sends whole 32-bit words only. */
const LABELS_MAX = 16;

function labelsAt(r: Reader, off: number, len: number, name: string): Uint8Array {
  const n = len - 4;
  if (n === 0 || n > LABELS_MAX || n % 4 !== 0) badSize(P, off, n, `4, 8, 12 or ${LABELS_MAX}`, name);
  return bytesAt(r, off, len);
}

/**
 * decodeConntrack decodes one conntrack entry from an nlmsg payload (struct nfgenmsg, then CTA_*
 * attributes): a dump or GET reply, an event, or a request. It allocates nothing per attribute
 * beyond the values it returns. nfgen_family must be AF_INET or AF_INET6.
 */
export function decodeConntrack(payload: Uint8Array): Conntrack {
  const r = new Reader(payload, 0, payload.length, P);
  if (payload.length < NFGENMSG_LEN) fail('SHORT', P, 0, `${payload.length} bytes cannot hold struct nfgenmsg`);
  const family = familyOf(r.u8(), P, 0);
  return decodeConntrackAttrs(r, NFGENMSG_LEN, payload.length, family);
}

/** decodeConntrackAttrs decodes the CTA_* attributes in [start, end) of a Reader. */
export function decodeConntrackAttrs(r: Reader, start: number, end: number, family: Conntrack['family']): Conntrack {
  const ct: Mutable<Conntrack> = { family };
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, P);
    const full = r.u16ne();
    const s = off + 4;
    const e = off + len;
    switch (full & NLA_TYPE_MASK) {
      case CTA.TUPLE_ORIG:
        ct.orig = decodeTuple(r, s, e, P_ORIG);
        break;
      case CTA.TUPLE_REPLY:
        ct.reply = decodeTuple(r, s, e, P_REPLY);
        break;
      case CTA.STATUS:
        ct.status = u32At(r, off, len, P, 'status');
        break;
      case CTA.PROTOINFO:
        ct.protoinfo = decodeProtoInfo(r, s, e, P_PROTOINFO);
        break;
      case CTA.HELP:
        decodeHelp(r, s, e, ct);
        break;
      case CTA.NAT_SRC:
        ct.natSrc = decodeNatRange(r, s, e, P_NAT_SRC);
        break;
      case CTA.TIMEOUT:
        ct.timeout = u32At(r, off, len, P, 'timeout');
        break;
      case CTA.MARK:
        ct.mark = u32At(r, off, len, P, 'mark');
        break;
      case CTA.COUNTERS_ORIG:
        ct.countersOrig = decodeCounters(r, s, e, P_CTR_ORIG);
        break;
      case CTA.COUNTERS_REPLY:
        ct.countersReply = decodeCounters(r, s, e, P_CTR_REPLY);
        break;
      case CTA.USE:
        ct.use = u32At(r, off, len, P, 'use');
        break;
      case CTA.ID:
        ct.id = u32At(r, off, len, P, 'id');
        break;
      case CTA.NAT_DST:
        ct.natDst = decodeNatRange(r, s, e, P_NAT_DST);
        break;
      case CTA.TUPLE_MASTER:
        ct.master = decodeTuple(r, s, e, P_MASTER);
        break;
      case CTA.SEQ_ADJ_ORIG:
        ct.seqAdjOrig = decodeSeqAdj(r, s, e, P_SEQ_ORIG);
        break;
      case CTA.SEQ_ADJ_REPLY:
        ct.seqAdjReply = decodeSeqAdj(r, s, e, P_SEQ_REPLY);
        break;
      case CTA.SECMARK:
        ct.secmark = u32At(r, off, len, P, 'secmark');
        break;
      case CTA.ZONE:
        ct.zone = u16At(r, off, len, P, 'zone');
        break;
      case CTA.SECCTX:
        decodeSecctx(r, s, e, ct);
        break;
      case CTA.TIMESTAMP:
        ct.timestamp = decodeTimestamp(r, s, e, P_TIMESTAMP);
        break;
      case CTA.MARK_MASK:
        ct.markMask = u32At(r, off, len, P, 'markMask');
        break;
      case CTA.LABELS:
        ct.labels = labelsAt(r, off, len, 'labels');
        break;
      case CTA.LABELS_MASK:
        ct.labelsMask = labelsAt(r, off, len, 'labelsMask');
        break;
      case CTA.SYNPROXY:
        ct.synproxy = decodeSynproxy(r, s, e, P_SYNPROXY);
        break;
      case CTA.STATUS_MASK:
        ct.statusMask = u32At(r, off, len, P, 'statusMask');
        break;
      case CTA.TIMESTAMP_EVENT:
        ct.timestampEvent = u64At(r, off, len, P, 'timestampEvent');
        break;
      default:
        // CTA_FILTER (dump requests only) and anything newer than this code.
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) ct.unknown = unknown;
  return ct;
}

function decodeHelp(r: Reader, start: number, end: number, ct: Mutable<Conntrack>): void {
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, P_HELP);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_HELP.NAME:
        ct.helper = stringAt(r, off, len);
        break;
      case CTA_HELP.INFO:
        ct.helperInfo = bytesAt(r, off, len);
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (ct.helper === undefined) fail('MISSING', P_HELP, start, 'CTA_HELP without CTA_HELP_NAME', 'name');
  if (unknown !== undefined) ct.helpUnknown = unknown;
}

function decodeSecctx(r: Reader, start: number, end: number, ct: Mutable<Conntrack>): void {
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, P_SECCTX);
    const full = r.u16ne();
    if ((full & NLA_TYPE_MASK) === CTA_SECCTX.NAME) ct.secctx = stringAt(r, off, len);
    else unknown = pushRaw(unknown, r, off, len, full);
    off = nlaNext(off, len);
  }
  if (ct.secctx === undefined) fail('MISSING', P_SECCTX, start, 'CTA_SECCTX without CTA_SECCTX_NAME', 'name');
  if (unknown !== undefined) ct.secctxUnknown = unknown;
}

/**
 * CtLayout is the attribute order of an encoded entry. The kernel fills the same entry in three
 * different orders, and conntrack(8)'s library in a fourth; golden tests check that re-encoding a
 * captured message gives back its exact bytes, so the encoder follows the message kind:
 * - 'dump': ctnetlink_fill_info (dump and GET replies);
 * - 'event': ctnetlink_conntrack_event for NEW and UPDATE;
 * - 'destroy': ctnetlink_conntrack_event for DESTROY;
 * - 'request': libnetfilter_conntrack's nfct_nlmsg_build, the order conntrack(8) sends, plus
 *   CTA_STATUS_MASK, CTA_MARK_MASK and CTA_ID. A request leaves out what the kernel only ever
 *   reports (CTA_USE, CTA_COUNTERS_*, CTA_TIMESTAMP, CTA_SECCTX) and CTA_TIMESTAMP_EVENT, which
 *   the kernel's policy rejects (NLA_REJECT).
 * The kernel layouts write fields the kernel would not send (CTA_NAT_SRC, CTA_SECMARK…) after
 * the ones it does, in attribute-number order, so no value is ever dropped. Unknown attributes
 * always come last.
 */
export type CtLayout = 'dump' | 'event' | 'destroy' | 'request';

const KNOWN: readonly number[] = [
  CTA.TUPLE_ORIG, CTA.TUPLE_REPLY, CTA.STATUS, CTA.PROTOINFO, CTA.HELP, CTA.NAT_SRC, CTA.TIMEOUT, CTA.MARK,
  CTA.COUNTERS_ORIG, CTA.COUNTERS_REPLY, CTA.USE, CTA.ID, CTA.NAT_DST, CTA.TUPLE_MASTER, CTA.SEQ_ADJ_ORIG,
  CTA.SEQ_ADJ_REPLY, CTA.SECMARK, CTA.ZONE, CTA.SECCTX, CTA.TIMESTAMP, CTA.MARK_MASK, CTA.LABELS,
  CTA.LABELS_MASK, CTA.SYNPROXY, CTA.STATUS_MASK, CTA.TIMESTAMP_EVENT,
];

function withRest(head: readonly number[]): readonly number[] {
  return [...head, ...KNOWN.filter((t) => !head.includes(t))];
}

const LAYOUTS: Readonly<Record<CtLayout, readonly number[]>> = {
  // ctnetlink_fill_info: tuples, zone, ctnetlink_dump_info, then ctnetlink_dump_extinfo
  dump: withRest([
    CTA.TUPLE_ORIG, CTA.TUPLE_REPLY, CTA.ZONE, CTA.STATUS, CTA.MARK, CTA.SECCTX, CTA.ID, CTA.USE,
    CTA.TUPLE_MASTER, CTA.TIMEOUT, CTA.PROTOINFO, CTA.COUNTERS_ORIG, CTA.COUNTERS_REPLY, CTA.TIMESTAMP,
    CTA.HELP, CTA.LABELS, CTA.SEQ_ADJ_ORIG, CTA.SEQ_ADJ_REPLY, CTA.SYNPROXY,
  ]),
  // ctnetlink_conntrack_event, NEW/UPDATE branch
  event: withRest([
    CTA.TUPLE_ORIG, CTA.TUPLE_REPLY, CTA.ZONE, CTA.ID, CTA.STATUS, CTA.TIMEOUT, CTA.PROTOINFO, CTA.HELP,
    CTA.SECCTX, CTA.LABELS, CTA.TUPLE_MASTER, CTA.SEQ_ADJ_ORIG, CTA.SEQ_ADJ_REPLY, CTA.SYNPROXY, CTA.MARK,
    CTA.TIMESTAMP_EVENT,
  ]),
  // ctnetlink_conntrack_event, DESTROY branch
  destroy: withRest([
    CTA.TUPLE_ORIG, CTA.TUPLE_REPLY, CTA.ZONE, CTA.ID, CTA.STATUS, CTA.TIMEOUT, CTA.COUNTERS_ORIG,
    CTA.COUNTERS_REPLY, CTA.TIMESTAMP, CTA.PROTOINFO, CTA.MARK, CTA.TIMESTAMP_EVENT,
  ]),
  // nfct_nlmsg_build (libnetfilter_conntrack 1.0.9), masks after their values, CTA_ID last
  request: [
    CTA.TUPLE_ORIG, CTA.TUPLE_REPLY, CTA.TUPLE_MASTER, CTA.STATUS, CTA.STATUS_MASK, CTA.TIMEOUT, CTA.MARK,
    CTA.MARK_MASK, CTA.SECMARK, CTA.PROTOINFO, CTA.NAT_SRC, CTA.NAT_DST, CTA.SEQ_ADJ_ORIG, CTA.SEQ_ADJ_REPLY,
    CTA.HELP, CTA.ZONE, CTA.LABELS, CTA.LABELS_MASK, CTA.SYNPROXY, CTA.ID,
  ],
};

/** putField writes the attribute of type `type` if `ct` has a value for it. */
function putField(w: Writer, ct: Conntrack, type: number, order: AttrOrder): void {
  switch (type) {
    case CTA.TUPLE_ORIG:
      if (ct.orig !== undefined) encodeTuple(w, CTA.TUPLE_ORIG, ct.orig, order);
      return;
    case CTA.TUPLE_REPLY:
      if (ct.reply !== undefined) encodeTuple(w, CTA.TUPLE_REPLY, ct.reply, order);
      return;
    case CTA.STATUS:
      if (ct.status !== undefined) putU32be(w, CTA.STATUS, ct.status);
      return;
    case CTA.PROTOINFO:
      if (ct.protoinfo !== undefined) encodeProtoInfo(w, ct.protoinfo, order);
      return;
    case CTA.HELP:
      if (ct.helper !== undefined) {
        const at = beginNested(w, CTA.HELP);
        putString(w, CTA_HELP.NAME, ct.helper);
        if (ct.helperInfo !== undefined) putBytes(w, CTA_HELP.INFO, ct.helperInfo);
        if (ct.helpUnknown !== undefined) for (const a of ct.helpUnknown) putRaw(w, a);
        endAttr(w, at);
      }
      return;
    case CTA.NAT_SRC:
      if (ct.natSrc !== undefined) encodeNatRange(w, CTA.NAT_SRC, ct.natSrc);
      return;
    case CTA.TIMEOUT:
      if (ct.timeout !== undefined) putU32be(w, CTA.TIMEOUT, ct.timeout);
      return;
    case CTA.MARK:
      if (ct.mark !== undefined) putU32be(w, CTA.MARK, ct.mark);
      return;
    case CTA.COUNTERS_ORIG:
      if (ct.countersOrig !== undefined) encodeCounters(w, CTA.COUNTERS_ORIG, ct.countersOrig);
      return;
    case CTA.COUNTERS_REPLY:
      if (ct.countersReply !== undefined) encodeCounters(w, CTA.COUNTERS_REPLY, ct.countersReply);
      return;
    case CTA.USE:
      if (ct.use !== undefined) putU32be(w, CTA.USE, ct.use);
      return;
    case CTA.ID:
      if (ct.id !== undefined) putU32be(w, CTA.ID, ct.id);
      return;
    case CTA.NAT_DST:
      if (ct.natDst !== undefined) encodeNatRange(w, CTA.NAT_DST, ct.natDst);
      return;
    case CTA.TUPLE_MASTER:
      if (ct.master !== undefined) encodeTuple(w, CTA.TUPLE_MASTER, ct.master, order);
      return;
    case CTA.SEQ_ADJ_ORIG:
      if (ct.seqAdjOrig !== undefined) encodeSeqAdj(w, CTA.SEQ_ADJ_ORIG, ct.seqAdjOrig);
      return;
    case CTA.SEQ_ADJ_REPLY:
      if (ct.seqAdjReply !== undefined) encodeSeqAdj(w, CTA.SEQ_ADJ_REPLY, ct.seqAdjReply);
      return;
    case CTA.SECMARK:
      if (ct.secmark !== undefined) putU32be(w, CTA.SECMARK, ct.secmark);
      return;
    case CTA.ZONE:
      if (ct.zone !== undefined) putU16be(w, CTA.ZONE, ct.zone);
      return;
    case CTA.SECCTX:
      if (ct.secctx !== undefined) {
        const at = beginNested(w, CTA.SECCTX);
        putString(w, CTA_SECCTX.NAME, ct.secctx);
        if (ct.secctxUnknown !== undefined) for (const a of ct.secctxUnknown) putRaw(w, a);
        endAttr(w, at);
      }
      return;
    case CTA.TIMESTAMP:
      if (ct.timestamp !== undefined) encodeTimestamp(w, CTA.TIMESTAMP, ct.timestamp);
      return;
    case CTA.MARK_MASK:
      if (ct.markMask !== undefined) putU32be(w, CTA.MARK_MASK, ct.markMask);
      return;
    case CTA.LABELS:
      if (ct.labels !== undefined) putBytes(w, CTA.LABELS, ct.labels);
      return;
    case CTA.LABELS_MASK:
      if (ct.labelsMask !== undefined) putBytes(w, CTA.LABELS_MASK, ct.labelsMask);
      return;
    case CTA.SYNPROXY:
      if (ct.synproxy !== undefined) encodeSynproxy(w, CTA.SYNPROXY, ct.synproxy);
      return;
    case CTA.STATUS_MASK:
      if (ct.statusMask !== undefined) putU32be(w, CTA.STATUS_MASK, ct.statusMask);
      return;
    case CTA.TIMESTAMP_EVENT:
      if (ct.timestampEvent !== undefined) putU64be(w, CTA.TIMESTAMP_EVENT, ct.timestampEvent);
      return;
  }
}

/** encodeConntrackAttrs writes the CTA_* attributes of `ct` in `layout` order, then its unknown attributes. */
export function encodeConntrackAttrs(w: Writer, ct: Conntrack, layout: CtLayout): void {
  const order: AttrOrder = layout === 'request' ? 'libnfct' : 'kernel';
  for (const type of LAYOUTS[layout]) putField(w, ct, type, order);
  if (ct.unknown !== undefined) for (const a of ct.unknown) putRaw(w, a);
}

/**
 * encodeConntrack encodes an entry as an nlmsg payload (struct nfgenmsg + attributes), the inverse
 * of decodeConntrack. `layout` picks the attribute order (default: a dump reply's).
 */
export function encodeConntrack(ct: Conntrack, layout: CtLayout = 'dump'): Uint8Array {
  const w = new Writer(512);
  encodeNfgenmsg(w, nfgenmsgFor(ct.family));
  encodeConntrackAttrs(w, ct, layout);
  return w.finish();
}
