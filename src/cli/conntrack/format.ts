import type { Conntrack, Expectation, Tuple } from '../../ctnetlink/types.js';
import { labelName, type LabelMap } from './labels.js';

/**
 * Text output of libnetfilter_conntrack 1.0.9 (nfct_snprintf / nfexp_snprintf, default and XML
 * flavours) as conntrack 1.4.7 prints it, built from the ctnetlink data model. An attribute the
 * kernel did not send is simply absent here, as an unset ATTR_* is there. These run once per entry
 * of a dump, so they build one string with plain concatenation and no intermediate arrays.
 */

/** MSG is enum nf_conntrack_msg_type as the formatters distinguish it. */
export const MSG = { UNKNOWN: 0, NEW: 1, UPDATE: 2, DESTROY: 3 } as const;
export type MsgType = (typeof MSG)[keyof typeof MSG];

/** FmtFlags are NFCT_OF_SHOW_LAYER3, NFCT_OF_ID, NFCT_OF_TIMESTAMP and NFCT_OF_TIME. */
export interface FmtFlags {
  readonly layer3: boolean;
  readonly id: boolean;
  readonly ktimestamp: boolean;
  readonly time: boolean;
}

export const NO_FLAGS: FmtFlags = { layer3: false, id: false, ktimestamp: false, time: false };

const IPS_SEEN_REPLY = 1 << 1;
const IPS_ASSURED = 1 << 2;
const IPS_OFFLOAD = 1 << 14;
const IPS_HW_OFFLOAD = 1 << 15;

/** PROTO_NAMES is proto2str[]: names libnetfilter_conntrack knows; others print "unknown". */
const PROTO_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 136: 'udplite', 1: 'icmp', 58: 'icmpv6', 132: 'sctp', 47: 'gre', 33: 'dccp' };
/** PROTO_COL is "%-8s %u " for each named protocol, precomputed. */
const PROTO_COL: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(PROTO_NAMES).map(([n, s]) => [n, `${s.padEnd(8)} ${n} `]));

export const TCP_STATE_NAMES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'] as const;
export const SCTP_STATE_NAMES = [
  'NONE',
  'CLOSED',
  'COOKIE_WAIT',
  'COOKIE_ECHOED',
  'ESTABLISHED',
  'SHUTDOWN_SENT',
  'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT',
  'HEARTBEAT_SENT',
  'HEARTBEAT_ACKED',
] as const;
export const DCCP_STATE_NAMES = ['NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT', 'IGNORE', 'INVALID'] as const;

/** protoName is __proto2str(). */
export function protoName(n: number): string {
  return PROTO_NAMES[n] ?? 'unknown';
}

function l3name(family: string): string {
  return family === 'ipv4' ? 'ipv4' : 'ipv6';
}
function l3num(family: string): number {
  return family === 'ipv4' ? 2 : 10;
}

function hasPorts(p: number): boolean {
  return p === 6 || p === 17 || p === 136 || p === 132 || p === 33;
}

/** tupleProto is __snprintf_proto(): ports, GRE keys or ICMP type/code/id, each with a trailing space. */
function tupleProto(t: Tuple): string {
  const p = t.proto;
  if (hasPorts(p)) return 'sport=' + (t.srcPort ?? 0) + ' dport=' + (t.dstPort ?? 0) + ' ';
  if (p === 47) return 'srckey=0x' + (t.srcPort ?? 0).toString(16) + ' dstkey=0x' + (t.dstPort ?? 0).toString(16) + ' ';
  if (p === 1 || p === 58) return 'type=' + (t.icmpType ?? 0) + ' code=' + (t.icmpCode ?? 0) + ' id=' + (t.icmpId ?? 0) + ' ';
  return '';
}

/** ctime is ctime(3) without the newline, in the local time zone: "Thu Jan  1 00:00:00 1970". */
export function ctime(sec: number): string {
  const d = new Date(sec * 1000);
  const day = d.getDate();
  return (
    WDAY[d.getDay()]! +
    ' ' +
    MON[d.getMonth()]! +
    (day < 10 ? '  ' : ' ') +
    day +
    ' ' +
    two(d.getHours()) +
    ':' +
    two(d.getMinutes()) +
    ':' +
    two(d.getSeconds()) +
    ' ' +
    d.getFullYear()
  );
}
const WDAY = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function two(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

const NS = 1_000_000_000n;

/** u64 prints a C `%llu` of a signed difference (negative values wrap). */
function llu(v: bigint): string {
  return BigInt.asUintN(64, v).toString();
}

/** labelNames lists the named labels set in a CTA_LABELS bitmap, in bit order. */
export function labelNames(labels: Uint8Array, map: LabelMap): string[] {
  const out: string[] = [];
  // nfct_bitmask_maxbit: the parsed bitmap has whole 32-bit words.
  const bits = Math.ceil(labels.length / 4) * 32;
  for (let i = 0; i < bits; i++) {
    const byte = labels[i >> 3];
    if (byte === undefined || ((byte >> (i & 7)) & 1) === 0) continue;
    const name = labelName(map, i);
    if (name === undefined || name === '') continue;
    out.push(name);
  }
  return out;
}

const MSG_PREFIX = ['', '    [NEW] ', ' [UPDATE] ', '[DESTROY] '] as const;

/**
 * formatConntrack is __snprintf_conntrack_default(). `nowSec` is time(NULL), used for the
 * delta-time of entries that have not stopped.
 */
export function formatConntrack(ct: Conntrack, msg: MsgType, flags: FmtFlags, map: LabelMap | undefined, nowSec: number): string {
  let s = MSG_PREFIX[msg];
  const o = ct.orig;
  const r = ct.reply;
  if (flags.layer3 && o !== undefined) s += ct.family === 'ipv4' ? 'ipv4     2 ' : 'ipv6     10 ';
  if (o !== undefined) s += PROTO_COL[o.proto] ?? 'unknown  ' + o.proto + ' ';
  if (ct.timeout !== undefined) s += ct.timeout + ' ';
  const pi = ct.protoinfo;
  if (pi !== undefined) {
    if (pi.tcp?.state !== undefined) s += (TCP_STATE_NAMES[pi.tcp.state] ?? 'NONE') + ' ';
    if (pi.sctp?.state !== undefined) s += (SCTP_STATE_NAMES[pi.sctp.state] ?? 'NONE') + ' ';
    if (pi.dccp?.state !== undefined) s += (DCCP_STATE_NAMES[pi.dccp.state] ?? 'NONE') + ' ';
  }
  if (o !== undefined) {
    s += 'src=' + o.src + ' dst=' + o.dst + ' ' + tupleProto(o);
    if (o.zone !== undefined) s += 'zone-orig=' + o.zone + ' ';
  }
  const co = ct.countersOrig;
  if (co !== undefined) s += 'packets=' + co.packets + ' bytes=' + co.bytes + ' ';
  const status = ct.status;
  if (status !== undefined && (status & IPS_SEEN_REPLY) === 0) s += '[UNREPLIED] ';
  if (r !== undefined) {
    s += 'src=' + r.src + ' dst=' + r.dst + ' ' + tupleProto(r);
    if (r.zone !== undefined) s += 'zone-reply=' + r.zone + ' ';
  }
  const cr = ct.countersReply;
  if (cr !== undefined) s += 'packets=' + cr.packets + ' bytes=' + cr.bytes + ' ';
  if (status !== undefined) {
    if ((status & IPS_HW_OFFLOAD) !== 0) s += '[HW_OFFLOAD] ';
    else if ((status & IPS_OFFLOAD) !== 0) s += '[OFFLOAD] ';
    else if ((status & IPS_ASSURED) !== 0) s += '[ASSURED] ';
  }
  if (ct.mark !== undefined) s += 'mark=' + ct.mark + ' ';
  if (ct.secmark !== undefined) s += 'secmark=' + ct.secmark + ' ';
  if (ct.secctx !== undefined) s += 'secctx=' + ct.secctx + ' ';
  if (ct.zone !== undefined) s += 'zone=' + ct.zone + ' ';
  const ts = ct.timestamp;
  if (ts?.start !== undefined) {
    const stop = ts.stop === undefined || ts.stop === 0n ? BigInt(nowSec) : ts.stop / NS;
    s += 'delta-time=' + llu(stop - ts.start / NS) + ' ';
  }
  if (flags.ktimestamp && ts !== undefined) {
    if (ts.start !== undefined) s += '[start=' + ctime(Number(ts.start / NS)) + '] ';
    if (ts.stop !== undefined) s += '[stop=' + ctime(Number(ts.stop / NS)) + '] ';
  }
  if (ct.helper !== undefined) s += 'helper=' + ct.helper + ' ';
  if (ct.use !== undefined) s += 'use=' + ct.use + ' ';
  if (flags.id && ct.id !== undefined) s += 'id=' + ct.id + ' ';
  if (map !== undefined && ct.labels !== undefined) {
    const names = labelNames(ct.labels, map);
    s += names.length === 0 ? 'labels ' : 'labels=' + names.join(',') + ' ';
  }
  return s.length > 0 ? s.slice(0, -1) : s;
}

/** localtimeXml is __snprintf_localtime_xml(). */
function localtimeXml(ms: number): string {
  const d = new Date(ms);
  return (
    '<hour>' +
    d.getHours() +
    '</hour><min>' +
    two(d.getMinutes()) +
    '</min><sec>' +
    two(d.getSeconds()) +
    '</sec><wday>' +
    (d.getDay() + 1) +
    '</wday><day>' +
    d.getDate() +
    '</day><month>' +
    (d.getMonth() + 1) +
    '</month><year>' +
    d.getFullYear() +
    '</year>'
  );
}

function addrXml(t: Tuple): string {
  return '<src>' + t.src + '</src><dst>' + t.dst + '</dst>';
}

/** protoXml is __snprintf_proto_xml() for both ends. */
function protoXml(t: Tuple): string {
  if (hasPorts(t.proto)) return '<sport>' + (t.srcPort ?? 0) + '</sport><dport>' + (t.dstPort ?? 0) + '</dport>';
  if (t.proto === 47) return '<srckey>0x' + (t.srcPort ?? 0).toString(16) + '</srckey><dstkey>0x' + (t.dstPort ?? 0).toString(16) + '</dstkey>';
  return '';
}

function tupleXml(ct: Conntrack, t: Tuple | undefined, dir: 'original' | 'reply', family: string): string {
  let s = '<meta direction="' + dir + '">';
  const fam = t?.family ?? family;
  s += '<layer3 protonum="' + l3num(fam) + '" protoname="' + l3name(fam) + '">';
  if (t !== undefined) s += addrXml(t);
  s += '</layer3>';
  const p = t?.proto ?? 0;
  s += '<layer4 protonum="' + p + '" protoname="' + protoName(p) + '">';
  if (t !== undefined) s += protoXml(t);
  s += '</layer4>';
  if (t?.zone !== undefined) s += '<zone>' + t.zone + '</zone>';
  // The library tests the original direction's counters for both directions.
  if (ct.countersOrig !== undefined) {
    const c = dir === 'original' ? ct.countersOrig : ct.countersReply;
    s += '<counters><packets>' + (c?.packets ?? 0n) + '</packets><bytes>' + (c?.bytes ?? 0n) + '</bytes></counters>';
  }
  return s + '</meta>';
}

const XML_OPEN = ['<flow>', '<flow type="new">', '<flow type="update">', '<flow type="destroy">'] as const;

/** formatConntrackXml is __snprintf_conntrack_xml(). `nowMs` feeds <when> and the running deltatime. */
export function formatConntrackXml(ct: Conntrack, msg: MsgType, flags: FmtFlags, map: LabelMap | undefined, nowMs: number): string {
  let s = XML_OPEN[msg] + tupleXml(ct, ct.orig, 'original', ct.family) + tupleXml(ct, ct.reply, 'reply', ct.family);
  const pi = ct.protoinfo;
  const ts = ct.timestamp;
  const independent =
    pi?.tcp?.state !== undefined ||
    pi?.sctp?.state !== undefined ||
    pi?.dccp?.state !== undefined ||
    ct.timeout !== undefined ||
    ct.mark !== undefined ||
    ct.secmark !== undefined ||
    ct.zone !== undefined ||
    ct.use !== undefined ||
    ct.status !== undefined ||
    ct.id !== undefined ||
    ct.labels !== undefined ||
    ts?.start !== undefined ||
    ts?.stop !== undefined;
  if (independent) s += '<meta direction="independent">';
  // The library names SCTP and DCCP states from the TCP table.
  if (pi?.tcp?.state !== undefined) s += '<state>' + (TCP_STATE_NAMES[pi.tcp.state] ?? 'NONE') + '</state>';
  if (pi?.sctp?.state !== undefined) s += '<state>' + (pi.sctp.state < 10 ? TCP_STATE_NAMES[pi.sctp.state] : 'NONE') + '</state>';
  if (pi?.dccp?.state !== undefined) s += '<state>' + (pi.dccp.state < 10 ? TCP_STATE_NAMES[pi.dccp.state] : 'NONE') + '</state>';
  if (ct.timeout !== undefined) s += '<timeout>' + ct.timeout + '</timeout>';
  if (ct.mark !== undefined) s += '<mark>' + ct.mark + '</mark>';
  if (map !== undefined && ct.labels !== undefined) s += '<labels>' + labelNames(ct.labels, map).map((n) => '<label>' + n + '</label>').join('') + '</labels>';
  if (ct.secmark !== undefined) s += '<secmark>' + ct.secmark + '</secmark>';
  if (ct.secctx !== undefined) s += '<secctx>' + ct.secctx + '</secctx>';
  if (ct.zone !== undefined) s += '<zone>' + ct.zone + '</zone>';
  if (ct.use !== undefined) s += '<use>' + ct.use + '</use>';
  if (ct.id !== undefined) s += '<id>' + ct.id + '</id>';
  if (ct.status !== undefined && (ct.status & IPS_ASSURED) !== 0) s += '<assured/>';
  if (ct.status !== undefined && (ct.status & IPS_SEEN_REPLY) === 0) s += '<unreplied/>';
  if (flags.ktimestamp && ts !== undefined && (ts.start !== undefined || ts.stop !== undefined)) {
    s += '<timestamp>';
    if (ts.start !== undefined) s += '<start>' + ts.start + '</start>';
    if (ts.stop !== undefined) s += '<stop>' + ts.stop + '</stop>';
    s += '</timestamp>';
  }
  if (ts?.start !== undefined && ts.stop !== undefined) s += '<deltatime>' + llu((ts.stop - ts.start) / NS) + '</deltatime>';
  else if (ts?.start !== undefined) s += '<deltatime>' + llu(BigInt(Math.floor(nowMs / 1000)) - ts.start / NS) + '</deltatime>';
  if (independent) s += '</meta>';
  if (flags.time) s += '<when>' + localtimeXml(nowMs) + '</when>';
  if (ct.helper !== undefined) s += '<helper>' + ct.helper + '</helper>';
  return s + '</flow>';
}

/** expTuple is __snprintf_address + __snprintf_proto for an expectation tuple. */
function expTuple(t: Tuple | undefined, srcTag: string, dstTag: string): string {
  if (t === undefined) return '';
  return srcTag + '=' + t.src + ' ' + dstTag + '=' + t.dst + ' ' + tupleProto(t);
}

const NF_CT_EXPECT_PERMANENT = 1;
const NF_CT_EXPECT_INACTIVE = 2;
const NF_CT_EXPECT_USERSPACE = 4;

/** formatExpect is __snprintf_expect_default(). */
export function formatExpect(e: Expectation, msg: MsgType): string {
  let s: string = MSG_PREFIX[msg];
  if (e.timeout !== undefined) s += e.timeout + ' ';
  s += 'proto=' + (e.tuple?.proto ?? 0) + ' ';
  s += expTuple(e.tuple, 'src', 'dst');
  s += expTuple(e.mask, 'mask-src', 'mask-dst');
  s += expTuple(e.master, 'master-src', 'master-dst');
  if (e.zone !== undefined) s += 'zone=' + e.zone + ' ';
  const f = e.flags ?? 0;
  let delim = '';
  if ((f & NF_CT_EXPECT_PERMANENT) !== 0) {
    s += 'PERMANENT';
    delim = ',';
  }
  if ((f & NF_CT_EXPECT_INACTIVE) !== 0) {
    s += delim + 'INACTIVE';
    delim = ',';
  }
  if ((f & NF_CT_EXPECT_USERSPACE) !== 0) s += delim + 'USERSPACE';
  if (f !== 0) s += ' ';
  if (e.class !== undefined) s += 'class=' + e.class + ' ';
  if (e.helper !== undefined) s += 'helper=' + e.helper;
  return s.endsWith(' ') ? s.slice(0, -1) : s;
}

/** formatExpectXml is __snprintf_expect_xml(). */
export function formatExpectXml(e: Expectation, msg: MsgType, flags: FmtFlags, nowMs: number): string {
  const fam = e.tuple?.family ?? e.family;
  let s: string = XML_OPEN[msg];
  s += '<layer3 protonum="' + l3num(fam) + '" protoname="' + l3name(fam) + '">';
  s += '<expected>' + (e.tuple !== undefined ? addrXml(e.tuple) : '') + '</expected>';
  s += '<mask>' + (e.mask !== undefined ? addrXml(e.mask) : '') + '</mask>';
  s += '<master>' + (e.master !== undefined ? addrXml(e.master) : '') + '</master>';
  s += '</layer3>';
  const p = e.tuple?.proto ?? 0;
  s += '<layer4 protonum="' + p + '" protoname="' + protoName(p) + '">';
  s += '<expected>' + (e.tuple !== undefined ? protoXml(e.tuple) : '') + '</expected>';
  s += '<mask>' + (e.mask !== undefined ? protoXml(e.mask) : '') + '</mask>';
  s += '<master>' + (e.master !== undefined ? protoXml(e.master) : '') + '</master>';
  s += '</layer4><meta>';
  if (e.helper !== undefined) s += '<helper-name>' + e.helper + '</helper-name>';
  if (e.timeout !== undefined) s += '<timeout>' + e.timeout + '</timeout>';
  if (e.class !== undefined) s += '<class>' + e.class + '</class>';
  if (e.zone !== undefined) s += '<zone>' + e.zone + '</zone>';
  if (flags.time) s += '<when>' + localtimeXml(nowMs) + '</when>';
  const f = e.flags ?? 0;
  if ((f & NF_CT_EXPECT_PERMANENT) !== 0) s += '<permanent/>';
  if ((f & NF_CT_EXPECT_INACTIVE) !== 0) s += '<inactive/>';
  if ((f & NF_CT_EXPECT_USERSPACE) !== 0) s += '<userspace/>';
  return s + '</meta></flow>';
}

/** XML_HEADER_CT / XML_HEADER_EXP open an XML listing; the footers close it. */
export const XML_HEADER_CT = '<?xml version="1.0" encoding="utf-8"?>\n<conntrack>\n';
export const XML_HEADER_EXP = '<?xml version="1.0" encoding="utf-8"?>\n<expect>\n';
