import type { Conntrack, Expectation, Tuple } from '../../ctnetlink/types.js';
import { DCCP_STATE_NAMES, protoName, SCTP_STATE_NAMES, TCP_STATE_NAMES, type MsgType } from './format.js';
import { labelName, type LabelMap } from './labels.js';

/**
 * `-o json`, keepstate's addition: one JSON object per line (NDJSON) per entry, event or
 * expectation. Keys are stable camelCase and appear only when the kernel sent the attribute, as
 * the text formats do. 64-bit kernel counters (packets, bytes, timestamps in nanoseconds) are
 * decimal strings, so they survive parsers limited to 2^53; every other number is a JSON number.
 * Addresses are the canonical text the text formats print.
 *
 *   {"family":"ipv4","proto":"tcp","protonum":6,"timeout":431999,"state":"ESTABLISHED",
 *    "original":{"src":"10.0.0.1","dst":"10.0.0.2","sport":40000,"dport":22,"packets":"10","bytes":"1200"},
 *    "reply":{"src":"10.0.0.2","dst":"10.0.0.1","sport":22,"dport":40000},
 *    "status":["SEEN_REPLY","ASSURED","CONFIRMED"],"mark":0,"use":1,"id":3284654506}
 *
 * Events add "event": "new" | "update" | "destroy" first. Labels are listed as bit numbers
 * ("labels") and, when /etc/xtables/connlabel.conf names them, by name ("labelNames").
 */

/** STATUS_NAMES are enum ip_conntrack_status's bits (IPS_*), lowest first. */
const STATUS_NAMES = [
  'EXPECTED',
  'SEEN_REPLY',
  'ASSURED',
  'CONFIRMED',
  'SRC_NAT',
  'DST_NAT',
  'SEQ_ADJUST',
  'SRC_NAT_DONE',
  'DST_NAT_DONE',
  'DYING',
  'FIXED_TIMEOUT',
  'TEMPLATE',
  'UNTRACKED',
  'HELPER',
  'OFFLOAD',
  'HW_OFFLOAD',
];

const EXPECT_FLAG_NAMES = ['PERMANENT', 'INACTIVE', 'USERSPACE'];

const EVENT_NAMES = [undefined, 'new', 'update', 'destroy'] as const;

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** bitNames lists the names of the set bits, "bit<n>" for those without one. */
function bitNames(v: number, names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < 32; i++) if (((v >>> i) & 1) !== 0) out.push(names[i] ?? `bit${i}`);
  return out;
}

function tupleJson(t: Tuple): { [k: string]: Json } {
  const o: { [k: string]: Json } = { src: t.src, dst: t.dst };
  if (t.proto === 47) {
    if (t.srcPort !== undefined) o['srckey'] = t.srcPort;
    if (t.dstPort !== undefined) o['dstkey'] = t.dstPort;
  } else {
    if (t.srcPort !== undefined) o['sport'] = t.srcPort;
    if (t.dstPort !== undefined) o['dport'] = t.dstPort;
  }
  if (t.icmpType !== undefined) o['type'] = t.icmpType;
  if (t.icmpCode !== undefined) o['code'] = t.icmpCode;
  if (t.icmpId !== undefined) o['id'] = t.icmpId;
  if (t.zone !== undefined) o['zone'] = t.zone;
  return o;
}

function labelBits(labels: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < labels.length * 8; i++) if (((labels[i >> 3]! >> (i & 7)) & 1) !== 0) out.push(i);
  return out;
}

/** conntrackJson is the JSON object of one entry (or event, when `msg` is not UNKNOWN). */
export function conntrackJson(ct: Conntrack, msg: MsgType, map: LabelMap | undefined): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  const ev = EVENT_NAMES[msg];
  if (ev !== undefined) o['event'] = ev;
  o['family'] = ct.family;
  const proto = ct.orig?.proto ?? ct.reply?.proto;
  if (proto !== undefined) {
    o['proto'] = protoName(proto);
    o['protonum'] = proto;
  }
  if (ct.timeout !== undefined) o['timeout'] = ct.timeout;
  const pi = ct.protoinfo;
  if (pi?.tcp?.state !== undefined) o['state'] = TCP_STATE_NAMES[pi.tcp.state] ?? `state${pi.tcp.state}`;
  if (pi?.sctp?.state !== undefined) o['state'] = SCTP_STATE_NAMES[pi.sctp.state] ?? `state${pi.sctp.state}`;
  if (pi?.dccp?.state !== undefined) o['state'] = DCCP_STATE_NAMES[pi.dccp.state] ?? `state${pi.dccp.state}`;
  if (ct.orig !== undefined) {
    const t = tupleJson(ct.orig);
    if (ct.countersOrig !== undefined) {
      t['packets'] = ct.countersOrig.packets.toString();
      t['bytes'] = ct.countersOrig.bytes.toString();
    }
    o['original'] = t;
  }
  if (ct.reply !== undefined) {
    const t = tupleJson(ct.reply);
    if (ct.countersReply !== undefined) {
      t['packets'] = ct.countersReply.packets.toString();
      t['bytes'] = ct.countersReply.bytes.toString();
    }
    o['reply'] = t;
  }
  if (ct.master !== undefined) o['master'] = tupleJson(ct.master);
  if (ct.status !== undefined) o['status'] = bitNames(ct.status, STATUS_NAMES);
  if (ct.mark !== undefined) o['mark'] = ct.mark;
  if (ct.secmark !== undefined) o['secmark'] = ct.secmark;
  if (ct.secctx !== undefined) o['secctx'] = ct.secctx;
  if (ct.zone !== undefined) o['zone'] = ct.zone;
  if (ct.use !== undefined) o['use'] = ct.use;
  if (ct.id !== undefined) o['id'] = ct.id;
  if (ct.helper !== undefined) o['helper'] = ct.helper;
  if (ct.timestamp !== undefined) {
    const ts: { [k: string]: Json } = {};
    if (ct.timestamp.start !== undefined) ts['start'] = ct.timestamp.start.toString();
    if (ct.timestamp.stop !== undefined) ts['stop'] = ct.timestamp.stop.toString();
    o['timestamp'] = ts;
  }
  if (ct.labels !== undefined) {
    const bits = labelBits(ct.labels);
    o['labels'] = bits;
    if (map !== undefined) {
      const names: string[] = [];
      for (const b of bits) {
        const n = labelName(map, b);
        if (n !== undefined && n !== '') names.push(n);
      }
      o['labelNames'] = names;
    }
  }
  return o;
}

/** expectationJson is the JSON object of one expectation (or expectation event). */
export function expectationJson(e: Expectation, msg: MsgType): { [k: string]: Json } {
  const o: { [k: string]: Json } = {};
  const ev = EVENT_NAMES[msg];
  if (ev !== undefined) o['event'] = ev;
  o['family'] = e.family;
  const proto = e.tuple?.proto;
  if (proto !== undefined) {
    o['proto'] = protoName(proto);
    o['protonum'] = proto;
  }
  if (e.timeout !== undefined) o['timeout'] = e.timeout;
  if (e.tuple !== undefined) o['tuple'] = tupleJson(e.tuple);
  if (e.mask !== undefined) o['mask'] = tupleJson(e.mask);
  if (e.master !== undefined) o['master'] = tupleJson(e.master);
  if (e.zone !== undefined) o['zone'] = e.zone;
  if (e.flags !== undefined) o['flags'] = bitNames(e.flags, EXPECT_FLAG_NAMES);
  if (e.class !== undefined) o['class'] = e.class;
  if (e.helper !== undefined) o['helper'] = e.helper;
  if (e.fn !== undefined) o['fn'] = e.fn;
  if (e.id !== undefined) o['id'] = e.id;
  if (e.nat !== undefined) {
    const n: { [k: string]: Json } = {};
    if (e.nat.dir !== undefined) n['dir'] = e.nat.dir === 0 ? 'original' : 'reply';
    if (e.nat.tuple !== undefined) n['tuple'] = tupleJson(e.nat.tuple);
    o['nat'] = n;
  }
  return o;
}
