import { putRaw, putU32be, type RawAttr } from '../netlink/attrs.js';
import { NLA_TYPE_MASK } from '../netlink/consts.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { AF, CTA_STATS, CTA_STATS_EXP, CTA_STATS_GLOBAL, NFNETLINK_V0 } from './consts.js';
import { decodeNfgenmsg, encodeNfgenmsg, NFGENMSG_LEN } from './nfgenmsg.js';
import { fail, nlaLen, nlaNext, pushRaw, u32At, type Path } from './nla.js';
import type { CpuStats, ExpCpuStats, GlobalStats } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type CpuCounter = Exclude<keyof CpuStats, 'cpu' | 'unknown'>;
type ExpCounter = Exclude<keyof ExpCpuStats, 'cpu' | 'unknown'>;

/** CPU_FIELDS maps enum ctattr_stats_cpu to CpuStats fields; the kernel sends them in this order. */
const CPU_FIELDS: readonly (readonly [number, CpuCounter])[] = [
  [CTA_STATS.SEARCHED, 'searched'],
  [CTA_STATS.FOUND, 'found'],
  [CTA_STATS.NEW, 'new'],
  [CTA_STATS.INVALID, 'invalid'],
  [CTA_STATS.IGNORE, 'ignore'],
  [CTA_STATS.DELETE, 'delete'],
  [CTA_STATS.DELETE_LIST, 'deleteList'],
  [CTA_STATS.INSERT, 'insert'],
  [CTA_STATS.INSERT_FAILED, 'insertFailed'],
  [CTA_STATS.DROP, 'drop'],
  [CTA_STATS.EARLY_DROP, 'earlyDrop'],
  [CTA_STATS.ERROR, 'error'],
  [CTA_STATS.SEARCH_RESTART, 'searchRestart'],
  [CTA_STATS.CLASH_RESOLVE, 'clashResolve'],
  [CTA_STATS.CHAIN_TOOLONG, 'chainTooLong'],
];
const CPU_BY_TYPE = new Map<number, CpuCounter>(CPU_FIELDS);

const EXP_FIELDS: readonly (readonly [number, ExpCounter])[] = [
  [CTA_STATS_EXP.NEW, 'new'],
  [CTA_STATS_EXP.CREATE, 'create'],
  [CTA_STATS_EXP.DELETE, 'delete'],
];
const EXP_BY_TYPE = new Map<number, ExpCounter>(EXP_FIELDS);

/**
 * decodeU32Table walks a flat list of u32 attributes, storing each known one under its field name
 * and keeping the rest; it returns the nfgenmsg res_id (the CPU number for per-CPU answers).
 */
function decodeU32Table<K extends string>(
  payload: Uint8Array,
  path: Path,
  byType: ReadonlyMap<number, K>,
  out: Partial<Record<K, number>>,
): { resId: number; unknown: RawAttr[] | undefined } {
  const r = new Reader(payload, 0, payload.length, path);
  if (payload.length < NFGENMSG_LEN) fail('SHORT', path, 0, `${payload.length} bytes cannot hold struct nfgenmsg`);
  const { resId } = decodeNfgenmsg(r);
  let unknown: RawAttr[] | undefined;
  for (let off = NFGENMSG_LEN; off < payload.length; ) {
    const len = nlaLen(r, off, payload.length, path);
    const full = r.u16ne();
    const name = byType.get(full & NLA_TYPE_MASK);
    if (name !== undefined) out[name] = u32At(r, off, len, path, name);
    else unknown = pushRaw(unknown, r, off, len, full);
    off = nlaNext(off, len);
  }
  return { resId, unknown };
}

function encodeU32Table<K extends string>(
  resId: number,
  fields: readonly (readonly [number, K])[],
  values: Partial<Record<K, number>>,
  unknown: readonly RawAttr[] | undefined,
): Uint8Array {
  const w = new Writer(128);
  encodeNfgenmsg(w, { family: AF.UNSPEC, version: NFNETLINK_V0, resId });
  for (const [type, name] of fields) {
    const v = values[name];
    if (v !== undefined) putU32be(w, type, v);
  }
  if (unknown !== undefined) for (const a of unknown) putRaw(w, a);
  return w.finish();
}

/**
 * decodeCpuStats decodes one answer to IPCTNL_MSG_CT_GET_STATS_CPU (a dump: one message per
 * possible CPU). The CPU number travels in nfgenmsg.res_id. Kernels since 5.x no longer send the
 * searched/new/ignore/delete/delete_list counters; those stay undefined.
 */
export function decodeCpuStats(payload: Uint8Array): CpuStats {
  const s: Mutable<Partial<Record<CpuCounter, number>>> = {};
  const { resId, unknown } = decodeU32Table(payload, ['cpuStats'], CPU_BY_TYPE, s);
  const out: Mutable<CpuStats> = { cpu: resId, ...s };
  if (unknown !== undefined) out.unknown = unknown;
  return out;
}

/** encodeCpuStats encodes a per-CPU statistics answer as the kernel does (AF_UNSPEC, res_id = cpu). */
export function encodeCpuStats(s: CpuStats): Uint8Array {
  return encodeU32Table(s.cpu, CPU_FIELDS, s, s.unknown);
}

/** decodeExpCpuStats decodes one answer to IPCTNL_MSG_EXP_GET_STATS_CPU. */
export function decodeExpCpuStats(payload: Uint8Array): ExpCpuStats {
  const s: Mutable<Partial<Record<ExpCounter, number>>> = {};
  const { resId, unknown } = decodeU32Table(payload, ['expCpuStats'], EXP_BY_TYPE, s);
  const out: Mutable<ExpCpuStats> = { cpu: resId, ...s };
  if (unknown !== undefined) out.unknown = unknown;
  return out;
}

/** encodeExpCpuStats encodes a per-CPU expectation statistics answer. */
export function encodeExpCpuStats(s: ExpCpuStats): Uint8Array {
  return encodeU32Table(s.cpu, EXP_FIELDS, s, s.unknown);
}

type GlobalCounter = 'entries' | 'maxEntries';
const GLOBAL_FIELDS: readonly (readonly [number, GlobalCounter])[] = [
  [CTA_STATS_GLOBAL.ENTRIES, 'entries'],
  [CTA_STATS_GLOBAL.MAX_ENTRIES, 'maxEntries'],
];
const GLOBAL_BY_TYPE = new Map<number, GlobalCounter>(GLOBAL_FIELDS);

/** decodeGlobalStats decodes the answer to IPCTNL_MSG_CT_GET_STATS: the entry count and nf_conntrack_max. */
export function decodeGlobalStats(payload: Uint8Array): GlobalStats {
  const s: Partial<Record<GlobalCounter, number>> = {};
  const path: Path = ['globalStats'];
  const { unknown } = decodeU32Table(payload, path, GLOBAL_BY_TYPE, s);
  if (s.entries === undefined) fail('MISSING', path, NFGENMSG_LEN, 'no CTA_STATS_GLOBAL_ENTRIES', 'entries');
  const out: Mutable<GlobalStats> = { entries: s.entries };
  if (s.maxEntries !== undefined) out.maxEntries = s.maxEntries;
  if (unknown !== undefined) out.unknown = unknown;
  return out;
}

/** encodeGlobalStats encodes a global statistics answer. */
export function encodeGlobalStats(s: GlobalStats): Uint8Array {
  return encodeU32Table(0, GLOBAL_FIELDS, s, s.unknown);
}
