import { CTL } from '../control/codes.js';
import { ctCacheDumpJson, formatCtCacheDump, formatJsonReply, formatStatsView, STATS_VIEW_OF_CODE, statsViewJson, type CtCacheEntry } from '../control/format.js';
import type { ControlConn } from '../control/server.js';
import type { StatsModeDaemonStats } from '../control/stats.js';
import type { Logger } from './log.js';
import type { StatsNode } from './stats-node.js';

/**
 * The control requests of a Stats-mode daemon, as conntrackd 1.4.7 answers them (run.c's
 * local_handler, ctnl_local, then stats-mode.c's local_handler_stats): `-s` prints the "stats"
 * cache and the traffic of the logged flows, `-s cache` its extended counters, `-s runtime` and
 * `-s process` as in every mode, every other view nothing; `-i` (and `-i -x`) dumps the cache;
 * `-f internal` empties it (`-f` alone is not handled in this mode and does nothing); `-F` flushes
 * the kernel table, `-R` reloads the cache from it; `-k` stops the daemon. Requests of the sync
 * modes (-e, -c, -B, -n, -t ...) answer nothing.
 */

/** statsSnapshot builds the view model of `-s` from the running node. */
export function statsSnapshot(node: Pick<StatsNode, 'cache' | 'counters' | 'uptimeSec' | 'eventSocketBuffer'>): StatsModeDaemonStats {
  const c = node.cache;
  const n = c.counters;
  return {
    mode: 'stats',
    cache: {
      name: 'stats',
      active: c.size,
      objects: c.size,
      entries: c.size,
      addOk: n.addOk,
      addFail: n.addFail,
      addFailEnomem: 0,
      addFailEnospc: n.addFailEnospc,
      updOk: n.updOk,
      updFail: 0,
      updFailEnoent: 0,
      delOk: n.delOk,
      delFail: 0,
      delFailEnoent: 0,
    },
    traffic: { bytes: c.traffic.bytes, packets: c.traffic.packets },
    runtime: {
      uptimeSec: node.uptimeSec,
      nlEventsReceived: BigInt(node.counters.eventsReceived),
      nlEventsFiltered: BigInt(node.counters.eventsFiltered),
      nlEventsUnknownType: 0,
      nlCatchEventFailed: node.counters.overruns,
      nlDumpUnknownType: 0,
      nlOverrun: node.counters.overruns,
      nlKernelTableFlush: node.counters.kernelFlushes,
      nlKernelTableResync: node.counters.kernelResyncs + node.counters.overrunResyncs,
      netlinkBufferSize: node.eventSocketBuffer(),
      childProcessFailed: 0,
      childProcessSegfault: 0,
      childProcessTermsig: 0,
      selectFailed: 0,
      waitFailed: 0,
      localReadFailed: 0,
      localUnknownRequest: 0,
    },
    processes: [],
  };
}

/** handleStatsRequest runs one control request against a Stats-mode node and returns the reply. */
export async function handleStatsRequest(node: StatsNode, code: number, conn: ControlConn, ctx: { readonly log: Logger; readonly stop: () => Promise<void> }): Promise<string> {
  const view = STATS_VIEW_OF_CODE.get(code);
  if (view !== undefined) {
    const s = statsSnapshot(node);
    return conn.json ? formatJsonReply(statsViewJson(view, s)) : formatStatsView(view, s);
  }
  const nowSec = Math.floor(Date.now() / 1000);
  const entries = (): CtCacheEntry[] => [...node.cache.values()].map((e) => ({ ct: e.ct, activeSinceSec: nowSec - e.sinceSec }));
  switch (code) {
    case CTL.CT_DUMP_INTERNAL:
    case CTL.CT_DUMP_INT_XML:
      return conn.json ? formatJsonReply(ctCacheDumpJson('stats', entries())) : formatCtCacheDump(entries(), code === CTL.CT_DUMP_INT_XML ? 'xml' : 'plain', nowSec);
    case CTL.CT_FLUSH_CACHE:
    case CTL.CT_FLUSH_INT_CACHE:
      ctx.log.log('notice', 'flushing caches');
      node.flushCache();
      return '';
    case CTL.CT_FLUSH_MASTER:
    case CTL.ALL_FLUSH_MASTER:
      ctx.log.log('notice', 'flushing kernel conntrack table');
      await node.flushKernel();
      return '';
    case CTL.CT_RESYNC_MASTER:
    case CTL.ALL_RESYNC_MASTER:
      ctx.log.log('notice', 'resync with master conntrack table');
      node.counters.kernelResyncs++;
      await node.resyncWithKernel();
      return '';
    case CTL.KILL:
      setImmediate(() => void ctx.stop());
      return '';
    default:
      return '';
  }
}
