import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigErrors, formatConfigError } from '../config/error.js';
import { parseConntrackdConfig, unsupportedFeatures } from '../config/conntrackd/index.js';
import type { ConntrackdConfig, GeneralConfig } from '../config/conntrackd/types.js';
import { runControlRequest } from '../control/client.js';
import { CTL, KS_CTL } from '../control/codes.js';
import type { InstanceView, StatusReport, SyncStatus } from '../control/status.js';
import { expCacheDumpJson, formatExpCacheDump, type ExpCacheEntry } from '../control/format.js';
import { formatKernelCtLine, formatKernelExpLine } from '../control/format.js';
import { decodeConntrack } from '../ctnetlink/conntrack.js';
import { acceptsConntrack, compileFilter } from '../engine/filter.js';
import { formatCtCacheDump, formatJsonReply, formatStatsView, STATS_VIEW_OF_CODE, statsViewJson, ctCacheDumpJson, type CtCacheEntry } from '../control/format.js';
import { ControlServer, type ControlConn } from '../control/server.js';
import { ZERO_NETWORK_STATS, type CacheStats, type SyncDaemonStats } from '../control/stats.js';
import { formatUsage, formatVersion, parseDaemonArgs, type DaemonCommand } from './args.js';
import { openDaemonLog } from './daemon-log.js';
import { logLine, type Logger } from './log.js';
import { DAEMON_NODE_FLAGS, missingDaemonFlags } from './node-flags.js';
import { applyPrioritySettings } from './priority.js';
import { SdNotifier, watchdogSetting } from './sd-notify.js';
import { KernelPurge } from './purge.js';
import { SyncNode } from './sync-node.js';
import { channelStats } from './links.js';
import { handleStatsRequest } from './stats-control.js';
import { StatsNode } from './stats-node.js';
import { takeoverState } from './takeover-state.js';
import { parseKeepalivedConfig } from '../config/keepalived/index.js';
import type { KeepalivedConfig } from '../config/keepalived/types.js';
import { FailoverHost } from '../failover/host.js';
import { demotionReason, type CompletenessView } from '../engine/completeness.js';

/**
 * keepstated's composition root: the only place that wires real ports. conntrackd's command line
 * (args.ts) either sends one request to a running daemon's control socket (client mode) or runs
 * the daemon: config → refusal of what is not built yet → lock file → log → sync node → control
 * socket; `-d` returns only once the daemon is up. Exit statuses are conntrackd's: 0 on success, 1
 * on any failure to start or to reach the daemon (every exit path: README.md, "keepstated exit
 * codes"). With `Systemd on` (the default) and $NOTIFY_SOCKET set, systemd is told READY=1,
 * WATCHDOG=1, STOPPING=1 and, from a `-d` parent, MAINPID (sd-notify.ts).
 */

const out = (s: string): void => void writeSync(1, s);
const err = (s: string): void => void writeSync(2, s);

function readConfig(path: string): ConntrackdConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new StartError(`can't open config file \`${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return parseConntrackdConfig(text, path).config;
  } catch (e) {
    if (e instanceof ConfigErrors) throw new StartError(e.errors.map(formatConfigError).join('\n'));
    throw e;
  }
}

/** readKeepalivedConfig reads `--keepalived FILE`: every error at file:line:col refuses the start. */
function readKeepalivedConfig(path: string, log?: Logger): KeepalivedConfig {
  try {
    const { config, warnings } = parseKeepalivedConfig(path);
    for (const w of warnings) log?.log('warning', formatConfigError(w));
    return config;
  } catch (e) {
    if (e instanceof ConfigErrors) throw new StartError(e.errors.map(formatConfigError).join('\n'));
    throw new StartError(`can't read keepalived configuration \`${path}': ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The failover process's SCHED_RR priority: above every sync thread (belowFailover). */
const FAILOVER_RT_PRIORITY = 99;

/** belowFailover lowers the configured real-time priority of the sync threads under the failover process's. */
function belowFailover(g: GeneralConfig, log: Logger): GeneralConfig {
  if (g.scheduler.priority < FAILOVER_RT_PRIORITY) return g;
  log.log('notice', `scheduler: the sync threads run at priority ${FAILOVER_RT_PRIORITY - 1}, below the failover process (SCHED_RR ${FAILOVER_RT_PRIORITY})`);
  return { ...g, scheduler: { ...g.scheduler, priority: FAILOVER_RT_PRIORITY - 1 } };
}

/** The peer sends an ALIVE every second when idle: three missed mean the sync link is down. */
const SYNC_LINK_DOWN_MS = 3000;
/** How long an unacknowledged resync request waits before it is sent again (ms; the peer ACKs at least every second). */
const RESYNC_RETRY_MS = 3000;
/** How often the completeness of the replicated state is looked at (ms). */
const COMPLETENESS_POLL_MS = 100;

function completenessWord(v: CompletenessView): string {
  return v.complete ? 'sync complete' : `--sync-timeout expired, sync still incomplete: ${v.detail ?? ''}`;
}

/** FailoverStatusSource is what `keepstate status` asks of the failover manager. */
interface FailoverStatusSource {
  readonly host: FailoverHost;
  readonly masterSinceMs: () => number | undefined;
}

/** statusReport is KS_CTL.STATUS: sync completeness, queues and caches, and the failover instances. */
async function statusReport(node: SyncNode, cfg: ConntrackdConfig, fo: FailoverStatusSource | undefined): Promise<StatusReport> {
  const nowMs = Date.now();
  const r = node.replicator;
  const v = node.completeness?.view(nowMs, fo?.masterSinceMs()) ?? { complete: true, timedOut: false };
  const sync: SyncStatus = {
    mode: cfg.sync?.protocol ?? 'none',
    ...v,
    queued: r.protocol.queued,
    awaitingAck: r.protocol.awaitingAck,
    lag: r.lag(nowMs),
    internal: r.internal.liveSize,
    external: node.injector !== undefined ? 0 : r.external.size,
  };
  const instances = fo !== undefined ? ((await fo.host.status()) as readonly InstanceView[]) : undefined;
  return { pid: process.pid, uptimeSec: node.uptimeSec, nowMs, sync, ...(instances !== undefined ? { instances } : {}) };
}

/** StartError is a reason the command cannot go on; its message is printed as is, exit status 1. */
class StartError extends Error {}

/** main runs keepstated with argv (without node and the script) and returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const cmd: DaemonCommand = parseDaemonArgs(argv);
  const dlog = (level: 'warning' | 'error', message: string): void => err(logLine(level, message, new Date(), process.pid));
  for (const n of cmd.notices) {
    if (n.usage) out(formatUsage('keepstated'));
    dlog(n.level, n.message);
  }
  try {
    switch (cmd.kind) {
      case 'version':
        out(formatVersion());
        return 0;
      case 'help':
        out(formatUsage('keepstated'));
        return 0;
      case 'error':
        if (cmd.usageOnStdout) out(formatUsage('keepstated'));
        dlog('error', cmd.message);
        return cmd.status;
      case 'request': {
        const cfg = readConfig(cmd.config);
        const r = await runControlRequest(cfg.general.unixPath, cmd.code, cmd.json, (chunk) => void writeSync(1, chunk));
        if (r.status !== 0) err(`${r.message}\n`);
        return r.status;
      }
      case 'daemon':
        return await daemon(cmd.config, cmd.detach, cmd.keepalived, cmd.syncTimeoutSec, cmd.warmUp);
    }
  } catch (e) {
    if (e instanceof StartError) {
      // A detached child has no stderr: its waiting `-d` parent prints the reason.
      if (process.env.KEEPSTATED_DETACHED === '1' && process.send !== undefined) process.send({ error: e.message });
      else err(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function daemon(configPath: string, detach: boolean, keepalived: string | undefined, syncTimeoutSec: number, warmUp: boolean): Promise<number> {
  const cfg = readConfig(configPath);
  const refusals = unsupportedFeatures(cfg).map(formatConfigError);
  // The keepalived.conf is read now so that a bad one refuses the start before anything is opened.
  const vrrp = keepalived !== undefined ? readKeepalivedConfig(keepalived) : undefined;
  if (vrrp !== undefined && cfg.mode !== 'sync') refusals.push(`--keepalived ${keepalived}: the failover manager runs with a Sync section (this file runs ${cfg.mode === 'stats' ? 'Stats mode' : 'no mode'})`);
  if (cfg.mode === 'none') refusals.push(`${cfg.file}: only Sync and Stats modes are supported yet (this file runs no mode)`);
  if (refusals.length > 0) throw new StartError(refusals.join('\n'));
  if (detach && process.env.KEEPSTATED_DETACHED !== '1') return detachAndWait(cfg.general.systemd);
  // As conntrackd (umask(0177) in main.c): the lock, the log and the control socket are the owner's only.
  process.umask(0o177);

  // conntrackd opens LogFile before anything else (init_log) and exits 1 when it cannot; keepstated's
  // logger opens it for every line (log rotation), so it is tried once here.
  if (cfg.general.logFile !== undefined) {
    try {
      closeSync(openSync(cfg.general.logFile, 'a'));
    } catch (e) {
      throw new StartError(`can't open logfile \`${cfg.general.logFile}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  const lock = cfg.general.lockFile;
  try {
    closeSync(openSync(lock, 'wx'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StartError(code === 'EEXIST' ? `lockfile \`${lock}' exists, perhaps keepstated already running?` : `can't create lockfile \`${lock}': ${code ?? String(e)}`);
  }
  // LogFile and Syslog; KEEPSTATED_SYSLOG_SOCKET replaces /dev/log (tests, or a syslog socket elsewhere).
  const daemonLog = openDaemonLog(cfg.general, { syslogPath: process.env.KEEPSTATED_SYSLOG_SOCKET });
  const log = daemonLog.log;
  let node: SyncNode | undefined;
  let statsNode: StatsNode | undefined; // Stats mode (flow logging) instead of node
  let server: ControlServer | undefined;
  let purge: KernelPurge | undefined;
  let failover: FailoverHost | undefined;
  let watchCompleteness: NodeJS.Timeout | undefined;
  let failoverStatus: FailoverStatusSource | undefined;
  const cleanup = async (): Promise<void> => {
    clearInterval(watchCompleteness);
    // The VIPs go first (masters resign with priority 0), then the sync engine.
    await failover?.stop();
    purge?.cancel();
    await server?.close();
    await node?.stop();
    await statsNode?.stop();
    try {
      unlinkSync(lock);
    } catch {
      // already gone
    }
    daemonLog.close();
  };
  try {
    // Scheduler (RR 99 by default), Nice ignored: as conntrackd. With the failover manager, its
    // process runs at RR 99 and the sync threads one step below, so that no commit (whose kernel
    // work runs on the commit thread) can hold an advert back for a round-robin time slice.
    const sched = applyPrioritySettings(vrrp !== undefined ? belowFailover(cfg.general, log) : cfg.general, log);
    if (cfg.mode === 'stats') {
      const st = await StatsNode.start(cfg, log, { syslogPath: process.env.KEEPSTATED_SYSLOG_SOCKET });
      statsNode = st;
      if (cfg.general.unixPath === undefined) log.log('warning', 'no UNIX { Path } in the configuration: no control socket');
      else server = await ControlServer.listen({ path: cfg.general.unixPath, handler: { handle: (code, conn) => handleStatsRequest(st, code, conn, { log, stop }) }, logger: log });
    } else {
      const started = await SyncNode.start(cfg, log, { warmUp });
      node = started;
      purge = new KernelPurge(
        cfg.sync?.purgeTimeoutSec ?? 60,
        {
          flushKernel: () => started.flushKernel(),
          flushInternalCache: () => void started.flushCaches('internal'),
          // ExpectationSync on: `-F` and `-F expect` flush the kernel's expectations (conntrackd's local_exp_flush_master).
          ...(cfg.sync?.expectationSync.enabled === true ? { flushKernelExpectations: () => started.flushKernelExpectations() } : {}),
        },
        log,
      );
      if (cfg.general.unixPath === undefined) log.log('warning', 'no UNIX { Path } in the configuration: no control socket');
      else server = await ControlServer.listen({ path: cfg.general.unixPath, handler: { handle: (code, conn) => handle(node!, cfg, code, conn, stop, { purge: purge!, log, failover: () => failoverStatus }) }, logger: log });
      if (vrrp !== undefined) {
        const state = takeoverState(started, purge, log);
        // Sync-aware election: demoted until the peer's table is in (engine/completeness.ts).
        // A mastership counts once it has outlasted a master-down interval of the slowest instance
        // plus one advert: long enough for a master it had not heard to make itself known.
        const slowestAdvertMs = Math.max(...vrrp.instances.map((i) => i.advertIntervalUs / 1000));
        const completeness = started.trackCompleteness({ timeoutMs: syncTimeoutSec * 1000, linkDownMs: SYNC_LINK_DOWN_MS, masterSettleMs: 4 * slowestAdvertMs + 100 });
        let demoted = demotionReason(completeness.view(Date.now()));
        const host = await FailoverHost.start(vrrp, state, (level, message) => log.log(level, `VRRP: ${message}`), {
          ...(demoted !== undefined ? { demoted } : {}),
          ...(sched.ok ? { realtimePriority: FAILOVER_RT_PRIORITY } : {}),
        });
        failover = host;
        failoverStatus = { host, masterSinceMs: state.masterSinceMs };
        log.log('notice', `failover manager started: ${vrrp.instances.map((i) => i.name).join(', ')} (${keepalived})${demoted !== undefined ? `, priority demoted (${demoted})` : ''}`);
        let wasReference = false;
        watchCompleteness = setInterval(() => {
          // A master holds the state itself: it asks nobody for a table, and gaps in what its peer
          // sends it never demote it.
          const master = state.master();
          const nowMs = Date.now();
          let v = completeness.view(nowMs, state.masterSinceMs());
          // The end of a settled mastership (FAULT, or a preempting peer): from now on the new master
          // has what this table lacks. Incomplete at once — the demotion must be in place before the
          // FAULT clears — and the table asked of the master once one is heard (takeover-state's
          // askMaster): an older request, or one answered by a peer that is still backup, proves nothing.
          if (wasReference && v.asMaster !== true) {
            log.log('notice', 'mastership over: asking the master for its table');
            state.askMaster();
            v = completeness.view(nowMs, state.masterSinceMs());
          }
          if (!master) started.retryResync(nowMs, RESYNC_RETRY_MS);
          wasReference = v.asMaster === true;
          const now = demotionReason(v);
          if (now === demoted) return;
          const why = v.asMaster === true ? 'master: its own table is the reference' : completenessWord(v);
          log.log('notice', now !== undefined ? `priority demoted: ${now}` : `priority restored (${why})`);
          demoted = now;
          host.demote(now);
        }, COMPLETENESS_POLL_MS);
        watchCompleteness.unref();
      }
    }
    const missing = missingDaemonFlags(process.execArgv);
    if (missing.length > 0) log.log('notice', `node runs without ${missing.join(' ')}: more CPU per entry (bin/keepstated.js and packaging/keepstated.service pass ${DAEMON_NODE_FLAGS.join(' ')})`);
    log.log('notice', 'initialization completed');
    // conntrackd says which way it runs once initialised (main.c), console unless -d.
    log.log('notice', `-- starting in ${process.env.KEEPSTATED_DETACHED === '1' ? 'daemon' : 'console'} mode --`);
  } catch (e) {
    await cleanup();
    throw new StartError(`start failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const systemd = SdNotifier.fromEnv(process.env, cfg.general.systemd, log);
  let stopping: Promise<void> | undefined;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  function stop(): Promise<void> {
    stopping ??= (async () => {
      log.log('notice', '---- shutdown received ----');
      systemd?.stopping();
      await cleanup();
      systemd?.close();
      stopped();
    })();
    return stopping;
  }
  // `on`, not `once`: a second signal during the cleanup must not kill the process half-way (conntrackd blocks them).
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void stop());
  // Log rotation: the log file is opened for every line, so after a rename the next line creates
  // LogFile again; SIGHUP only says so in the new file. (conntrackd 1.4.7 does not catch SIGHUP:
  // it dies, leaving its lock file.)
  process.on('SIGHUP', () => log.log('notice', 'SIGHUP received: log file reopened'));
  const ready = (): void => {
    systemd?.notify(['READY', '1']);
    systemd?.startWatchdog(watchdogSetting(process.env, process.pid));
  };
  if (process.env.KEEPSTATED_DETACHED === '1' && process.send !== undefined) {
    // Detached child of `-d`: the waiting parent sends MAINPID to systemd, then disconnects; only
    // then is READY=1 sent, from this (the main) process, as conntrackd's forked child does.
    process.once('disconnect', ready);
    process.send('ready');
  } else {
    process.send?.('ready'); // a parent holding an IPC channel (tests) learns the daemon is up
    ready();
  }
  await done;
  return 0;
}

/**
 * detachAndWait is `-d`: Node cannot fork, so the daemon re-runs itself detached (own session, no
 * terminal, stdio closed) and this process exits 0 only once the child says it is ready, 1 if the
 * child exits first — conntrackd's "returns only after a successful start".
 */
function detachAndWait(systemd: boolean): Promise<number> {
  // The script this process runs (bin/keepstated.js, or a bench's copy of it), so that the child
  // runs the same build.
  const script = process.argv[1] ?? fileURLToPath(new URL('../../../bin/keepstated.js', import.meta.url));
  // The daemon keeps none of this process's stdio (a caller waiting for our output would otherwise
  // wait for the daemon's end); it reports 'ready' or {error} over the IPC channel.
  const child = spawn(process.execPath, [...process.execArgv, ...missingDaemonFlags(process.execArgv), script, ...process.argv.slice(2)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: childEnv(process.env, process.pid),
  });
  return new Promise((resolve) => {
    child.once('message', (m: unknown) => {
      if (m === 'ready') {
        child.removeAllListeners('exit');
        child.unref();
        const sd = SdNotifier.fromEnv(process.env, systemd, { log: (level, message) => void err(logLine(level, message, new Date(), process.pid)) });
        if (child.pid !== undefined) sd?.notify(['MAINPID', String(child.pid)]);
        sd?.close();
        child.disconnect(); // the child sends READY=1 on this
        resolve(0);
        return;
      }
      const reason = typeof m === 'object' && m !== null && 'error' in m ? String((m as { error: unknown }).error) : 'the daemon failed to start';
      err(`${reason}\n`);
      resolve(1);
    });
    child.once('exit', (code) => resolve(code === 0 ? 1 : (code ?? 1)));
  });
}

/**
 * childEnv is the detached daemon's environment. systemd's watchdog, when it is this process's
 * (WATCHDOG_PID is our pid), becomes the child's: conntrackd reads it before it forks, then its
 * child pings.
 */
function childEnv(env: NodeJS.ProcessEnv, pid: number): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, KEEPSTATED_DETACHED: '1' };
  if (out.WATCHDOG_PID === String(pid)) delete out.WATCHDOG_PID;
  return out;
}

function cacheStats(name: string, size: number, live: number, st: { added: number; updated: number; deleted: number; refusedOverLimit: number }): CacheStats {
  return {
    name,
    active: live,
    objects: size,
    entries: size,
    addOk: st.added,
    addFail: st.refusedOverLimit,
    addFailEnomem: 0,
    addFailEnospc: st.refusedOverLimit,
    updOk: st.updated,
    updFail: 0,
    updFailEnoent: 0,
    delOk: st.deleted,
    delFail: 0,
    delFailEnoent: 0,
  };
}

/** snapshot builds the `-s` view model from the running node. Counters keepstate does not keep yet (flow traffic) are zero. */
function snapshot(node: SyncNode, cfg: ConntrackdConfig, kernelFlushes: number): SyncDaemonStats {
  const r = node.replicator;
  const live = r.internal.liveSize;
  const rej = r.stats.rejected;
  const links = node.linkTable();
  const rejected = Object.values(rej).reduce((a, b) => a + (b ?? 0), 0);
  return {
    mode: 'sync',
    protocol: r.mode,
    // DisableInternalCache on: the "internal bypass" counters instead (internal_bypass.c).
    internal: r.bypass ? { kind: 'bypass', ...r.bypassStats } : { kind: 'cache', ...cacheStats('internal', r.internal.size, live, r.internal.stats) },
    // DisableExternalCache on: the "external inject" counters instead (external_inject.c).
    external: node.injector !== undefined ? { kind: 'inject', ...node.injector.stats } : { kind: 'cache', ...cacheStats('external', r.external.size, r.external.size, r.external.stats) },
    expect: expectStats(node, cfg),
    traffic: { bytes: 0n, packets: 0n },
    network: {
      ...ZERO_NETWORK_STATS,
      rcvMalformed: BigInt(rejected),
      rcvBadVersion: rej.SYNC_BAD_VERSION ?? 0,
      rcvBadHeader: rej.SYNC_BAD_HEADER ?? 0,
      rcvBadPayload: (rej.SYNC_BAD_PAYLOAD ?? 0) + (rej.SYNC_INCOMPLETE ?? 0),
      rcvBadType: rej.SYNC_BAD_TYPE ?? 0,
      rcvTruncated: rej.SYNC_TRUNCATED ?? 0,
      rcvBadSize: rej.SYNC_BAD_SIZE ?? 0,
      rcvLost: BigInt(r.protocol.stats.lost),
      rcvBefore: BigInt(r.protocol.stats.before),
    },
    link: {
      channels: links.links.map(channelStats),
      current: links.current,
    },
    queues: {
      allocatedNodes: r.protocol.queued + r.protocol.awaitingAck + node.errorQueued,
      queues: [
        { name: 'txqueue', current: r.protocol.queued, max: 2147483647, enospc: 0 },
        // The error queue holds what a TCP link could not send; conntrackd shows it for every link kind.
        { name: 'errorq', current: node.errorQueued, max: cfg.sync?.errorQueueLength ?? 128, enospc: node.errorQueueDrops },
        // Only FTFW has a resend queue (notrack-*-s-queue fixtures).
        ...(r.mode === 'ftfw' ? [{ name: 'rsqueue', current: r.protocol.awaitingAck, max: cfg.sync?.resendQueueSize ?? 0, enospc: r.protocol.stats.resendOverflow }] : []),
      ],
    },
    rsqueue: r.mode === 'ftfw' ? [] : undefined,
    runtime: {
      uptimeSec: node.uptimeSec,
      nlEventsReceived: BigInt(node.counters.eventsReceived),
      nlEventsFiltered: BigInt(node.replicator.internal.stats.filtered),
      nlEventsUnknownType: 0,
      nlCatchEventFailed: 0,
      nlDumpUnknownType: 0,
      nlOverrun: node.counters.overruns,
      nlKernelTableFlush: kernelFlushes,
      nlKernelTableResync: node.counters.overrunResyncs,
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

/** expectStats is `-s expect`'s model: the expectation caches' counters, undefined without ExpectationSync. */
function expectStats(node: SyncNode, cfg: ConntrackdConfig): SyncDaemonStats['expect'] {
  if (cfg.sync?.expectationSync.enabled !== true) return undefined;
  const r = node.replicator;
  return {
    // DisableInternalCache on: the "internal bypass" counters of expectations (internal_bypass_exp_stats).
    internal: r.bypass ? { kind: 'bypass', ...r.bypassExpStats } : { kind: 'cache', ...cacheStats('internal', r.internalExp.size, r.internalExp.liveSize, r.internalExp.stats) },
    external: { kind: 'cache', ...cacheStats('external', r.externalExp.size, r.externalExp.size, r.externalExp.stats) },
  };
}

/**
 * handleExpect runs the expectation requests (`-i expect`, `-e expect` with or without -x, `-c
 * expect`, `-R expect`; `-F expect` is handled with the other flushes): as conntrackd, they do nothing without ExpectationSync. Undefined: not
 * an expectation request.
 */
async function handleExpect(node: SyncNode, cfg: ConntrackdConfig, code: number, conn: ControlConn, nowSec: number): Promise<string | undefined> {
  const codes: readonly number[] = [CTL.EXP_DUMP_INTERNAL, CTL.EXP_DUMP_INT_XML, CTL.EXP_DUMP_EXTERNAL, CTL.EXP_DUMP_EXT_XML, CTL.EXP_COMMIT, CTL.EXP_RESYNC_MASTER];
  if (!codes.includes(code)) return undefined;
  if (cfg.sync?.expectationSync.enabled !== true) return '';
  const r = node.replicator;
  switch (code) {
    case CTL.EXP_DUMP_INTERNAL:
    case CTL.EXP_DUMP_INT_XML: {
      if (r.bypass) return kernelExpTableDump(node, conn);
      const entries: ExpCacheEntry[] = [...r.internalExp.live()].map((o) => ({ exp: o.exp, activeSinceSec: nowSec - o.sinceSec }));
      return conn.json ? formatJsonReply(expCacheDumpJson('internal', entries)) : formatExpCacheDump(entries, code === CTL.EXP_DUMP_INT_XML ? 'xml' : 'plain', nowSec);
    }
    case CTL.EXP_DUMP_EXTERNAL:
    case CTL.EXP_DUMP_EXT_XML: {
      const entries: ExpCacheEntry[] = [...r.externalExp.values()].map((x) => ({ exp: x.exp, activeSinceSec: nowSec - Math.floor(x.sinceMs / 1000) }));
      return conn.json ? formatJsonReply(expCacheDumpJson('external', entries)) : formatExpCacheDump(entries, code === CTL.EXP_DUMP_EXT_XML ? 'xml' : 'plain', nowSec);
    }
    case CTL.EXP_COMMIT: {
      const c = await node.commitExpectations();
      return conn.json ? formatJsonReply(c) : '';
    }
    default: // EXP_RESYNC_MASTER
      await node.resyncWithKernel();
      return '';
  }
}

/**
 * kernelTableDump is `-i` (with or without -x) with DisableInternalCache on: the kernel table the
 * Filter accepts, in conntrack's default format (internal_bypass_ct_dump).
 */
async function kernelTableDump(node: SyncNode, cfg: ConntrackdConfig, conn: ControlConn, nowSec: number): Promise<string> {
  const filter = compileFilter(cfg.general.filter);
  const cts = (await node.kernelTable()).map((p) => decodeConntrack(p)).filter((ct) => acceptsConntrack(filter, ct));
  if (conn.json) return formatJsonReply(ctCacheDumpJson('internal', cts.map((ct) => ({ ct, activeSinceSec: 0 }))));
  let s = '';
  for (const ct of cts) s += formatKernelCtLine(ct, nowSec);
  return s;
}

/**
 * kernelExpTableDump is `-i expect` (with or without -x) with DisableInternalCache on: the kernel's
 * expectations the helper list and Filter pass, in conntrack's default format, as
 * internal_bypass_exp_dump means to (conntrackd 1.4.7 printed none in the lab while the kernel had one).
 */
async function kernelExpTableDump(node: SyncNode, conn: ControlConn): Promise<string> {
  const exps = await node.kernelExpTable();
  if (conn.json) return formatJsonReply(expCacheDumpJson('internal', exps.map((exp) => ({ exp, activeSinceSec: 0 }))));
  return exps.map(formatKernelExpLine).join('');
}

/** handle runs one control request (conntrackd's request codes, §4.2) against the node. */
async function handle(
  node: SyncNode,
  cfg: ConntrackdConfig,
  code: number,
  conn: ControlConn,
  stop: () => Promise<void>,
  ctx: { purge: KernelPurge; log: Logger; failover: () => FailoverStatusSource | undefined },
): Promise<string> {
  const nowSec = Math.floor(Date.now() / 1000);
  if (code === KS_CTL.STATUS) return formatJsonReply(await statusReport(node, cfg, ctx.failover()));
  const view = STATS_VIEW_OF_CODE.get(code);
  if (view !== undefined) {
    const s = snapshot(node, cfg, ctx.purge.flushes);
    return conn.json ? formatJsonReply(statsViewJson(view, s)) : formatStatsView(view, s);
  }
  const r = node.replicator;
  const internal = (): CtCacheEntry[] => [...r.internal.live()].map((o) => ({ ct: o.ct, activeSinceSec: nowSec - o.sinceSec }));
  // DisableExternalCache on: `-e` shows nothing, as conntrackd's external_inject dump.
  // ALARM: external entries expire CacheTimeout seconds after their last refresh ("[expires in Ns]").
  const cacheTimeoutMs = r.mode === 'alarm' ? (cfg.sync?.cacheTimeoutSec ?? 180) * 1000 : undefined;
  const nowMs = Date.now();
  const external = (): CtCacheEntry[] =>
    (node.injector !== undefined ? [] : [...r.external.values()]).map((e) => ({
      ct: e.ct,
      activeSinceSec: nowSec - Math.floor(e.receivedAtMs / 1000),
      expiresInSec: cacheTimeoutMs === undefined ? undefined : Math.max(0, (e.receivedAtMs + cacheTimeoutMs - nowMs) / 1000),
    }));
  switch (code) {
    case CTL.CT_DUMP_INTERNAL:
    case CTL.CT_DUMP_INT_XML:
      if (r.bypass) return kernelTableDump(node, cfg, conn, nowSec);
      return conn.json ? formatJsonReply(ctCacheDumpJson('internal', internal())) : formatCtCacheDump(internal(), code === CTL.CT_DUMP_INT_XML ? 'xml' : 'plain', nowSec);
    case CTL.CT_DUMP_EXTERNAL:
    case CTL.CT_DUMP_EXT_XML:
      return conn.json ? formatJsonReply(ctCacheDumpJson('external', external())) : formatCtCacheDump(external(), code === CTL.CT_DUMP_EXT_XML ? 'xml' : 'plain', nowSec);
    case CTL.CT_COMMIT:
    case CTL.ALL_COMMIT: {
      const c = await node.commit(code === CTL.CT_COMMIT ? 'ct' : 'all');
      return conn.json ? formatJsonReply(c) : '';
    }
    case CTL.CT_FLUSH_CACHE:
    case CTL.ALL_FLUSH_CACHE:
      if (node.flushCaches('both')) {
        ctx.purge.cancel(); // conntrackd: an immediate flush replaces a scheduled one
        ctx.log.log('notice', 'flushing caches');
      }
      return '';
    case CTL.CT_FLUSH_INT_CACHE:
      ctx.purge.cancel();
      if (node.flushCaches('internal')) ctx.log.log('notice', 'flushing internal cache');
      return '';
    case CTL.CT_FLUSH_EXT_CACHE:
      if (node.flushCaches('external')) ctx.log.log('notice', 'flushing external cache');
      return '';
    case CTL.CT_RESYNC_MASTER:
    case CTL.ALL_RESYNC_MASTER:
      ctx.log.log('notice', 'resync with master conntrack table');
      await node.resyncWithKernel();
      return '';
    case CTL.RESET_TIMERS:
      ctx.purge.schedule();
      return '';
    case CTL.SEND_BULK:
      node.bulk();
      return '';
    case CTL.REQUEST_DUMP:
      node.requestResync();
      return '';
    case CTL.CT_FLUSH_MASTER:
      await ctx.purge.now();
      return '';
    case CTL.ALL_FLUSH_MASTER:
      // conntrackd: the conntrack table, then (ExpectationSync on) the expectation table.
      await ctx.purge.now();
      await ctx.purge.nowExpectations();
      return '';
    case CTL.EXP_FLUSH_MASTER:
      await ctx.purge.nowExpectations(); // nothing without ExpectationSync
      return '';
    case CTL.KILL:
      setImmediate(() => void stop());
      return '';
    default:
      // Expectation requests (ExpectationSync), or the debug code: nothing to do.
      return (await handleExpect(node, cfg, code, conn, nowSec)) ?? '';
  }
}
