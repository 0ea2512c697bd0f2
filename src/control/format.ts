import type { Conntrack, Expectation, Tuple } from '../ctnetlink/types.js';
import { formatConntrack, formatExpect, formatExpectXml, MSG, NO_FLAGS, protoName, TCP_STATE_NAMES } from '../cli/conntrack/format.js';
import { conntrackJson, expectationJson } from '../cli/conntrack/json.js';
import { CTL } from './codes.js';
import type {
  BypassStats,
  CacheStats,
  ChannelStats,
  DaemonStats,
  ExternalSideStats,
  InjectStats,
  InternalSideStats,
  NetworkStats,
  ProcessEntry,
  QueueStats,
  RsQueueEntry,
  RuntimeStats,
  SyncDaemonStats,
  TrafficStats,
} from './stats.js';

/**
 * What conntrackd 1.4.7 writes on its control socket, as pure functions of the typed stats and
 * cache entries: each text formatter reproduces one conntrackd printf (file named in its comment)
 * byte for byte, checked against captures of the real daemon (test/fixtures/control). `%12u`
 * counters are u32, `%20llu` ones u64; a negative or oversized value wraps as C would print it.
 * The JSON equivalents carry the same data (and a little more: every counter of the typed object)
 * with stable camelCase keys; 64-bit counters are decimal strings, as in `keepstate conntrack -o json`.
 */

// ---------------------------------------------------------------------------------------------
// printf helpers
// ---------------------------------------------------------------------------------------------

/** u12 is `%12u` of a 32-bit counter. */
function u12(n: number): string {
  return String(n >>> 0).padStart(12);
}
/** u20 is `%20u` of a 32-bit counter. */
function u20(n: number): string {
  return String(n >>> 0).padStart(20);
}
/** llu20 is `%20llu` of a 64-bit counter. */
function llu20(n: bigint): string {
  return BigInt.asUintN(64, n).toString().padStart(20);
}

// ---------------------------------------------------------------------------------------------
// -s blocks
// ---------------------------------------------------------------------------------------------

/** formatCacheStats is cache_stats() (cache.c): the "cache NAME:" block of `-s`. */
export function formatCacheStats(c: CacheStats): string {
  return (
    `cache ${c.name}:\n` +
    `current active connections:\t${u12(c.active)}\n` +
    `connections created:\t\t${u12(c.addOk)}\tfailed:\t${u12(c.addFail)}\n` +
    `connections updated:\t\t${u12(c.updOk)}\tfailed:\t${u12(c.updFail)}\n` +
    `connections destroyed:\t\t${u12(c.delOk)}\tfailed:\t${u12(c.delFail)}\n\n`
  );
}

/** formatCacheStatsExtended is cache_stats_extended() (cache.c): one cache of `-s cache`. */
export function formatCacheStatsExtended(c: CacheStats): string {
  return (
    `cache:${c.name}\tactive objects:\t\t${u12(c.objects)}\n` +
    `\tactive/total entries:\t\t${u12(c.active)}/${u12(c.entries)}\n` +
    `\tcreation OK/failed:\t\t${u12(c.addOk)}/${u12(c.addFail)}\n` +
    `\t\tno memory available:\t${u12(c.addFailEnomem)}\n` +
    `\t\tno space left in cache:\t${u12(c.addFailEnospc)}\n` +
    `\tupdate OK/failed:\t\t${u12(c.updOk)}/${u12(c.updFail)}\n` +
    `\t\tentry not found:\t${u12(c.updFailEnoent)}\n` +
    `\tdeletion created/failed:\t${u12(c.delOk)}/${u12(c.delFail)}\n` +
    `\t\tentry not found:\t${u12(c.delFailEnoent)}\n\n`
  );
}

/** formatBypassStats is internal_bypass_ct_stats() (internal_bypass.c), printed for `-s` and `-s cache` alike. */
export function formatBypassStats(b: BypassStats): string {
  return (
    'internal bypass:\n' +
    `connections new:\t\t${u12(b.new)}\n` +
    `connections updated:\t\t${u12(b.upd)}\n` +
    `connections destroyed:\t\t${u12(b.del)}\n\n`
  );
}

/** formatInjectStats is external_inject_ct_stats() (external_inject.c), printed for `-s` and `-s cache` alike. */
export function formatInjectStats(i: InjectStats): string {
  return (
    'external inject:\n' +
    `connections created:\t\t${u12(i.addOk)}\tfailed:\t${u12(i.addFail)}\n` +
    `connections updated:\t\t${u12(i.updOk)}\tfailed:\t${u12(i.updFail)}\n` +
    `connections destroyed:\t\t${u12(i.delOk)}\tfailed:\t${u12(i.delFail)}\n\n`
  );
}

function sideStats(s: InternalSideStats | ExternalSideStats, extended: boolean): string {
  switch (s.kind) {
    case 'cache':
      return extended ? formatCacheStatsExtended(s) : formatCacheStats(s);
    case 'bypass':
      return formatBypassStats(s);
    case 'inject':
      return formatInjectStats(s);
  }
}

/** formatTrafficStats is dump_traffic_stats() (traffic_stats.c). */
export function formatTrafficStats(t: TrafficStats): string {
  return `traffic processed:\n${llu20(t.bytes)} Bytes      ${llu20(t.packets)} Pckts\n\n`;
}

const CHANNEL_LABEL = { multicast: 'multicast', udp: 'UDP', tcp: 'TCP' } as const;

function channelCounters(ch: ChannelStats): string {
  return (
    `${llu20(ch.sent.bytes)} Bytes sent ${llu20(ch.recv.bytes)} Bytes recv\n` +
    `${llu20(ch.sent.messages)} Pckts sent ${llu20(ch.recv.messages)} Pckts recv\n` +
    `${llu20(ch.sent.errors)} Error send ${llu20(ch.recv.errors)} Error recv\n\n`
  );
}

/** formatChannelStats is mcast/udp/tcp_snprintf_stats(): the current channel's block of `-s` and `-s network`. */
export function formatChannelStats(ch: ChannelStats): string {
  const head = `${CHANNEL_LABEL[ch.kind]} traffic (active device=${ch.ifname})`;
  const tcp = ch.kind === 'tcp' ? ` server=${ch.serverConnected ? 'connected' : 'disconnected'} client=${ch.clientConnected ? 'connected' : 'disconnected'}` : '';
  return `${head}${tcp}:\n${channelCounters(ch)}`;
}

/** formatChannelStatsExtended is mcast/udp/tcp_snprintf_stats2(): one channel of `-s link`. */
export function formatChannelStatsExtended(ch: ChannelStats, active: boolean): string {
  return `${CHANNEL_LABEL[ch.kind]} traffic device=${ch.ifname} status=${ch.status} role=${active ? 'ACTIVE' : 'BACKUP'}:\n${channelCounters(ch)}`;
}

/** formatMessageTracking is dump_stats_sync() (sync-mode.c): the last block of `-s`. */
export function formatMessageTracking(n: NetworkStats): string {
  return `message tracking:\n${llu20(n.rcvMalformed)} Malformed msgs ${llu20(n.rcvLost)} Lost msgs\n\n`;
}

/** formatNetworkStats is dump_stats_sync_extended() (sync-mode.c): the first part of `-s network`. */
export function formatNetworkStats(n: NetworkStats): string {
  return (
    'network statistics:\n' +
    '\trecv:\n' +
    `\t\tMalformed messages:\t${llu20(n.rcvMalformed)}\n` +
    `\t\tWrong protocol version:\t${u20(n.rcvBadVersion)}\n` +
    `\t\tMalformed header:\t${u20(n.rcvBadHeader)}\n` +
    `\t\tMalformed payload:\t${u20(n.rcvBadPayload)}\n` +
    `\t\tBad message type:\t${u20(n.rcvBadType)}\n` +
    `\t\tTruncated message:\t${u20(n.rcvTruncated)}\n` +
    `\t\tBad message size:\t${u20(n.rcvBadSize)}\n` +
    '\tsend:\n' +
    `\t\tMalformed messages:\t${u20(n.sndMalformed)}\n\n` +
    'sequence tracking statistics:\n' +
    '\trecv:\n' +
    `\t\tPackets lost:\t\t${llu20(n.rcvLost)}\n` +
    `\t\tPackets before:\t\t${llu20(n.rcvBefore)}\n\n`
  );
}

/** formatUptime is uptime() (run.c): "N day(s) " when a day has passed, then "H h M min" or "M min". */
export function formatUptime(sec: number): string {
  const s = Math.trunc(sec);
  const days = Math.trunc(s / 86400);
  const minutesTotal = Math.trunc(s / 60);
  const hours = Math.trunc(minutesTotal / 60) % 24;
  const minutes = minutesTotal % 60;
  const d = days !== 0 ? `${days} day${days !== 1 ? 's' : ''} ` : '';
  return hours !== 0 ? `${d}${hours} h ${minutes} min` : `${d}${minutes} min`;
}

/** formatRuntimeStats is dump_stats_runtime() (run.c): `-s runtime`. */
export function formatRuntimeStats(r: RuntimeStats): string {
  return (
    `daemon uptime: ${formatUptime(r.uptimeSec)}\n\n` +
    'netlink stats:\n' +
    `\tevents received:\t${llu20(r.nlEventsReceived)}\n` +
    `\tevents filtered:\t${llu20(r.nlEventsFiltered)}\n` +
    `\tevents unknown type:\t\t${u12(r.nlEventsUnknownType)}\n` +
    `\tcatch event failed:\t\t${u12(r.nlCatchEventFailed)}\n` +
    `\tdump unknown type:\t\t${u12(r.nlDumpUnknownType)}\n` +
    `\tnetlink overrun:\t\t${u12(r.nlOverrun)}\n` +
    `\tflush kernel table:\t\t${u12(r.nlKernelTableFlush)}\n` +
    `\tresync with kernel table:\t${u12(r.nlKernelTableResync)}\n` +
    `\tcurrent buffer size (in bytes):\t${u12(r.netlinkBufferSize)}\n\n` +
    'runtime stats:\n' +
    `\tchild process failed:\t\t${u12(r.childProcessFailed)}\n` +
    `\t\tchild process segfault:\t${u12(r.childProcessSegfault)}\n` +
    `\t\tchild process termsig:\t${u12(r.childProcessTermsig)}\n` +
    `\tselect failed:\t\t\t${u12(r.selectFailed)}\n` +
    `\twait failed:\t\t\t${u12(r.waitFailed)}\n` +
    `\tlocal read failed:\t\t${u12(r.localReadFailed)}\n` +
    `\tlocal unknown request:\t\t${u12(r.localUnknownRequest)}\n\n`
  );
}

/** formatQueueStats is queue_stats_show() (queue.c): `-s queue`. */
export function formatQueueStats(q: QueueStats): string {
  let s = `allocated queue nodes:\t\t${u12(q.allocatedNodes)}\n\n`;
  for (const x of q.queues) {
    s += `queue ${x.name}:\ncurrent elements:\t\t${u12(x.current)}\nmaximum elements:\t\t${u12(x.max)}\nnot enough space errors:\t${u12(x.enospc)}\n\n`;
  }
  return s;
}

/** formatRsQueue is ftfw_local_queue() (sync-ftfw.c): `-s rsqueue`, oldest entry first. */
export function formatRsQueue(entries: readonly RsQueueEntry[]): string {
  let s = `resent queue (len=${entries.length})\n`;
  for (const e of entries) {
    s += e.kind === 'object' ? `object -> seq:${e.seq >>> 0}\n` : `control -> seq:${e.seq >>> 0} flags:${e.flags >>> 0}\n`;
  }
  return s;
}

/** formatProcessList is fork_process_dump() (process.c): `-s process`, empty when no child runs. */
export function formatProcessList(p: readonly ProcessEntry[]): string {
  return p.map((c) => `PID=${c.pid >>> 0} type=${c.type}\n`).join('');
}

// ---------------------------------------------------------------------------------------------
// Views: what each stats request prints in each running mode
// ---------------------------------------------------------------------------------------------

/** StatsView names the stats requests (`-s VIEW`). */
export type StatsView = 'ct' | 'network' | 'cache' | 'runtime' | 'link' | 'rsqueue' | 'process' | 'queue' | 'expect';

/** STATS_VIEW_OF_CODE maps each stats request code to its view. */
export const STATS_VIEW_OF_CODE: ReadonlyMap<number, StatsView> = new Map<number, StatsView>([
  [CTL.STATS, 'ct'],
  [CTL.STATS_NETWORK, 'network'],
  [CTL.STATS_CACHE, 'cache'],
  [CTL.STATS_RUNTIME, 'runtime'],
  [CTL.STATS_LINK, 'link'],
  [CTL.STATS_RSQUEUE, 'rsqueue'],
  [CTL.STATS_PROCESS, 'process'],
  [CTL.STATS_QUEUE, 'queue'],
  [CTL.EXP_STATS, 'expect'],
]);

function currentChannel(s: SyncDaemonStats): ChannelStats | undefined {
  return s.link.channels[s.link.current];
}

/**
 * formatStatsView is conntrackd 1.4.7's whole answer to a stats request in the daemon's mode
 * (local_handler in run.c, then local_handler_sync or local_handler_stats): '' where conntrackd
 * prints nothing (`-s network` in stats mode, `-s expect` without ExpectationSync, `-s rsqueue`
 * outside FTFW, everything but runtime and process without a Sync or Stats section).
 */
export function formatStatsView(view: StatsView, s: DaemonStats): string {
  if (view === 'runtime') return formatRuntimeStats(s.runtime);
  if (view === 'process') return formatProcessList(s.processes);
  if (s.mode === 'none') return '';
  if (s.mode === 'stats') {
    if (view === 'ct') return formatCacheStats(s.cache) + formatTrafficStats(s.traffic);
    if (view === 'cache') return formatCacheStatsExtended(s.cache);
    return '';
  }
  const ch = currentChannel(s);
  const chText = ch === undefined ? '' : formatChannelStats(ch);
  switch (view) {
    case 'ct':
      return sideStats(s.internal, false) + sideStats(s.external, false) + formatTrafficStats(s.traffic) + chText + formatMessageTracking(s.network);
    case 'network':
      return formatNetworkStats(s.network) + chText;
    case 'cache':
      return sideStats(s.internal, true) + sideStats(s.external, true);
    case 'link':
      return s.link.channels.map((c, i) => formatChannelStatsExtended(c, i === s.link.current)).join('');
    case 'rsqueue':
      return s.rsqueue === undefined ? '' : formatRsQueue(s.rsqueue);
    case 'queue':
      return formatQueueStats(s.queues);
    case 'expect':
      if (s.expect === undefined) return '';
      return sideStats(s.expect.internal, false) + sideStats(s.expect.external, false) + formatTrafficStats(s.traffic) + chText + formatMessageTracking(s.network);
  }
}

// ---------------------------------------------------------------------------------------------
// Cache dumps (-i / -e)
// ---------------------------------------------------------------------------------------------

/** CtCacheEntry is one cached conntrack as a dump shows it. */
export interface CtCacheEntry {
  readonly ct: Conntrack;
  /** activeSinceSec: time(NULL) minus the second the entry entered the cache ("[active since Ns]"). */
  readonly activeSinceSec: number;
  /** expiresInSec: seconds left on the entry's timer (ALARM's caches, "[expires in Ns]"); undefined without a timer. */
  readonly expiresInSec?: number | undefined;
}

/** ExpCacheEntry is one cached expectation as a dump shows it. */
export interface ExpCacheEntry {
  readonly exp: Expectation;
  readonly activeSinceSec: number;
  readonly expiresInSec?: number | undefined;
}

/** DumpFormat: conntrackd's plain lines or its `-x` XML (one <flow> per line, no root element, no suffixes). */
export type DumpFormat = 'plain' | 'xml';

function suffix(e: { readonly activeSinceSec: number; readonly expiresInSec?: number | undefined }): string {
  const exp = e.expiresInSec === undefined ? '' : ` [expires in ${Math.trunc(e.expiresInSec)}s]`;
  return `${exp} [active since ${Math.trunc(e.activeSinceSec)}s]`;
}

/** withoutTimeout drops the cached timeout: conntrackd unsets ATTR_TIMEOUT before printing ("this may confuse users"). */
function withoutTimeout<T extends { readonly timeout?: number }>(x: T): T {
  if (x.timeout === undefined) return x;
  const { timeout: _t, ...rest } = x;
  return rest as T;
}

/**
 * formatCtCacheLine is cache_ct_dump_step() (cache-ct.c) for one entry, newline included: plain is
 * libnetfilter_conntrack's default line without the timeout, then the timer and "active since"
 * suffixes; XML is one <flow> element. `nowSec` is time(NULL), used only for a timestamped entry's
 * delta-time. Which entries to list is the caller's business (FTFW does not list dead ones).
 */
export function formatCtCacheLine(e: CtCacheEntry, format: DumpFormat, nowSec: number): string {
  const ct = withoutTimeout(e.ct);
  if (format === 'xml') return formatCacheConntrackXml(ct, nowSec) + '\n';
  return formatConntrack(ct, MSG.UNKNOWN, NO_FLAGS, undefined, nowSec) + suffix(e) + '\n';
}

/** formatCtCacheDump is cache_dump(): every entry's line, in the order given (conntrackd's is its hash table's). */
export function formatCtCacheDump(entries: Iterable<CtCacheEntry>, format: DumpFormat, nowSec: number): string {
  let s = '';
  for (const e of entries) s += formatCtCacheLine(e, format, nowSec);
  return s;
}

/** formatExpCacheLine is cache_exp_dump_step() (cache-exp.c) for one expectation, newline included. */
export function formatExpCacheLine(e: ExpCacheEntry, format: DumpFormat, nowSec: number): string {
  const exp = withoutTimeout(e.exp);
  if (format === 'xml') return formatExpectXml(exp, MSG.UNKNOWN, NO_FLAGS, nowSec * 1000) + '\n';
  return formatExpect(exp, MSG.UNKNOWN) + suffix(e) + '\n';
}

/** formatExpCacheDump lists expectations like formatCtCacheDump. */
export function formatExpCacheDump(entries: Iterable<ExpCacheEntry>, format: DumpFormat, nowSec: number): string {
  let s = '';
  for (const e of entries) s += formatExpCacheLine(e, format, nowSec);
  return s;
}

/**
 * formatKernelCtLine is internal_bypass_ct_dump_cb() (internal_bypass.c): with DisableInternalCache
 * there is no cache, and `-i` (with or without -x) lists the kernel table in conntrack's default
 * format (timeout, counters, use included, no suffix).
 */
export function formatKernelCtLine(ct: Conntrack, nowSec: number): string {
  return formatConntrack(ct, MSG.UNKNOWN, NO_FLAGS, undefined, nowSec) + '\n';
}

/** formatKernelExpLine is internal_bypass_exp_dump_cb(): `-i expect` without an internal cache. */
export function formatKernelExpLine(e: Expectation): string {
  return formatExpect(e, MSG.UNKNOWN) + '\n';
}

// libnetfilter_conntrack 1.0.9's __snprintf_conntrack_xml() with flags 0 and no label map, as
// conntrackd calls it. It differs from `conntrack -o xml` where a tuple is missing: an external-cache
// entry has no reply tuple, and the library still prints one with layer-3 and layer-4 protocol 0
// ("unknown") and empty <src></src><dst></dst>.

const IPS_SEEN_REPLY = 1 << 1;
const IPS_ASSURED = 1 << 2;

function hasPorts(p: number): boolean {
  return p === 6 || p === 17 || p === 136 || p === 132 || p === 33;
}

function cacheTupleXml(ct: Conntrack, t: Tuple | undefined, dir: 'original' | 'reply'): string {
  let s = `<meta direction="${dir}">`;
  if (t === undefined) {
    s += '<layer3 protonum="0" protoname="unknown"><src></src><dst></dst></layer3><layer4 protonum="0" protoname="unknown"></layer4>';
  } else {
    s += t.family === 'ipv4' ? '<layer3 protonum="2" protoname="ipv4">' : '<layer3 protonum="10" protoname="ipv6">';
    s += `<src>${t.src}</src><dst>${t.dst}</dst></layer3>`;
    s += `<layer4 protonum="${t.proto}" protoname="${protoName(t.proto)}">`;
    if (hasPorts(t.proto)) s += `<sport>${t.srcPort ?? 0}</sport><dport>${t.dstPort ?? 0}</dport>`;
    else if (t.proto === 47) s += `<srckey>0x${(t.srcPort ?? 0).toString(16)}</srckey><dstkey>0x${(t.dstPort ?? 0).toString(16)}</dstkey>`;
    s += '</layer4>';
    if (t.zone !== undefined) s += `<zone>${t.zone}</zone>`;
  }
  // The library tests the original direction's counters for both directions.
  if (ct.countersOrig !== undefined) {
    const c = dir === 'original' ? ct.countersOrig : ct.countersReply;
    s += `<counters><packets>${c?.packets ?? 0n}</packets><bytes>${c?.bytes ?? 0n}</bytes></counters>`;
  }
  return s + '</meta>';
}

const NS = 1_000_000_000n;

/** formatCacheConntrackXml is one cached entry as conntrackd's `-x` prints it (no trailing newline). */
export function formatCacheConntrackXml(ct: Conntrack, nowSec: number): string {
  let s = '<flow>' + cacheTupleXml(ct, ct.orig, 'original') + cacheTupleXml(ct, ct.reply, 'reply');
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
  if (pi?.tcp?.state !== undefined) s += `<state>${TCP_STATE_NAMES[pi.tcp.state] ?? 'NONE'}</state>`;
  if (pi?.sctp?.state !== undefined) s += `<state>${pi.sctp.state < 10 ? TCP_STATE_NAMES[pi.sctp.state] : 'NONE'}</state>`;
  if (pi?.dccp?.state !== undefined) s += `<state>${pi.dccp.state < 10 ? TCP_STATE_NAMES[pi.dccp.state] : 'NONE'}</state>`;
  if (ct.timeout !== undefined) s += `<timeout>${ct.timeout}</timeout>`;
  if (ct.mark !== undefined) s += `<mark>${ct.mark}</mark>`;
  if (ct.secmark !== undefined) s += `<secmark>${ct.secmark}</secmark>`;
  if (ct.secctx !== undefined) s += `<secctx>${ct.secctx}</secctx>`;
  if (ct.zone !== undefined) s += `<zone>${ct.zone}</zone>`;
  if (ct.use !== undefined) s += `<use>${ct.use}</use>`;
  if (ct.id !== undefined) s += `<id>${ct.id}</id>`;
  if (ct.status !== undefined && (ct.status & IPS_ASSURED) !== 0) s += '<assured/>';
  if (ct.status !== undefined && (ct.status & IPS_SEEN_REPLY) === 0) s += '<unreplied/>';
  if (ts?.start !== undefined && ts.stop !== undefined) s += `<deltatime>${BigInt.asUintN(64, (ts.stop - ts.start) / NS)}</deltatime>`;
  else if (ts?.start !== undefined) s += `<deltatime>${BigInt.asUintN(64, BigInt(Math.trunc(nowSec)) - ts.start / NS)}</deltatime>`;
  if (independent) s += '</meta>';
  if (ct.helper !== undefined) s += `<helper>${ct.helper}</helper>`;
  return s + '</flow>';
}

// ---------------------------------------------------------------------------------------------
// JSON (keepstate's --json)
// ---------------------------------------------------------------------------------------------

/** Json is a JSON value; bigint counters become decimal strings in `toJson`. */
export type Json = string | number | boolean | null | readonly Json[] | { readonly [k: string]: Json };

/**
 * Jsonable is what `toJson` accepts: plain data (the typed stats objects are interfaces, which
 * have no index signature, hence `object`) whose leaves are strings, numbers, booleans, null,
 * undefined or bigints.
 */
export type Jsonable = string | number | boolean | null | undefined | bigint | object;

/** toJson turns plain data into JSON: bigint → decimal string, undefined fields dropped, Uint8Array → hex. */
export function toJson(v: Jsonable): Json {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'undefined':
      return null;
    case 'string':
    case 'number':
    case 'boolean':
      return v;
    case 'object':
      break;
    default:
      throw new TypeError(`toJson: ${typeof v} is not data`);
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (Array.isArray(v)) return v.map((x: Jsonable) => toJson(x));
  const o: { [k: string]: Json } = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = toJson(x as Jsonable);
  return o;
}

/** formatJsonReply is a JSON reply on the control socket: one JSON document and a newline. */
export function formatJsonReply(v: Jsonable): string {
  return JSON.stringify(toJson(v)) + '\n';
}

function channelJson(ch: ChannelStats, active: boolean): object {
  return { ...ch, role: active ? 'ACTIVE' : 'BACKUP' };
}

/**
 * statsViewJson is the JSON equivalent of formatStatsView: `{"view": VIEW, ...}` with the typed
 * stats objects (every counter, camelCase). Where conntrackd prints nothing it is
 * `{"view": VIEW, "unavailable": REASON}`.
 */
export function statsViewJson(view: StatsView, s: DaemonStats): object {
  if (view === 'runtime') return { view, runtime: { ...s.runtime, uptime: formatUptime(s.runtime.uptimeSec) } };
  if (view === 'process') return { view, processes: s.processes };
  if (s.mode === 'none') return { view, unavailable: 'no Sync or Stats section' };
  if (s.mode === 'stats') {
    if (view === 'ct') return { view, cache: s.cache, traffic: s.traffic };
    if (view === 'cache') return { view, cache: s.cache };
    return { view, unavailable: 'stats mode' };
  }
  const ch = currentChannel(s);
  const chJson = ch === undefined ? undefined : channelJson(ch, true);
  const tracking = { malformed: s.network.rcvMalformed, lost: s.network.rcvLost };
  switch (view) {
    case 'ct':
      return { view, internal: s.internal, external: s.external, traffic: s.traffic, channel: chJson, messageTracking: tracking };
    case 'network':
      return { view, network: s.network, channel: chJson };
    case 'cache':
      return { view, internal: s.internal, external: s.external };
    case 'link':
      return { view, channels: s.link.channels.map((c, i) => channelJson(c, i === s.link.current)) };
    case 'rsqueue':
      return s.rsqueue === undefined ? { view, unavailable: `${s.protocol} has no resend queue` } : { view, length: s.rsqueue.length, entries: s.rsqueue };
    case 'queue':
      return { view, allocatedNodes: s.queues.allocatedNodes, queues: s.queues.queues };
    case 'expect':
      if (s.expect === undefined) return { view, unavailable: 'ExpectationSync is off' };
      return { view, internal: s.expect.internal, external: s.expect.external, traffic: s.traffic, channel: chJson, messageTracking: tracking };
  }
}

/** ctCacheDumpJson is the JSON equivalent of a conntrack dump: `{"cache", "entries": [...]}`, each entry `keepstate conntrack -o json`'s object plus activeSince and expiresIn. */
export function ctCacheDumpJson(cache: 'internal' | 'external' | 'stats', entries: Iterable<CtCacheEntry>): object {
  const out: object[] = [];
  for (const e of entries) {
    out.push({ ...conntrackJson(withoutTimeout(e.ct), MSG.UNKNOWN, undefined), activeSince: Math.trunc(e.activeSinceSec), expiresIn: e.expiresInSec === undefined ? undefined : Math.trunc(e.expiresInSec) });
  }
  return { cache, kind: 'ct', entries: out };
}

/** expCacheDumpJson is ctCacheDumpJson for expectations. */
export function expCacheDumpJson(cache: 'internal' | 'external', entries: Iterable<ExpCacheEntry>): object {
  const out: object[] = [];
  for (const e of entries) {
    out.push({ ...expectationJson(withoutTimeout(e.exp), MSG.UNKNOWN), activeSince: Math.trunc(e.activeSinceSec), expiresIn: e.expiresInSec === undefined ? undefined : Math.trunc(e.expiresInSec) });
  }
  return { cache, kind: 'expect', entries: out };
}
