import { readdirSync } from 'node:fs';
import type { SourceLoc } from '../config/error.js';
import type { GeneralConfig, SchedulerConfig } from '../config/conntrackd/types.js';
import { SCHED, setThreadScheduler, type SchedPolicy } from '../native/sched.js';
import { ErrnoError } from '../native/socket.js';
import type { Logger } from './log.js';

/**
 * conntrackd 1.4.7's CPU priority settings, applied as it applies them once its log is open and its
 * lock file taken (init → set_scheduler), before the sync node starts:
 * - Scheduler: always a real-time policy, RR at priority 99 unless the file picks RR/FIFO and a
 *   priority. When the kernel refuses (no CAP_SYS_NICE, no real-time runtime in the cgroup, …) it
 *   logs a warning and runs on with the normal scheduler.
 * - Nice: deprecated since conntrackd 1.4.5 made the real-time policy the default, and ignored with a
 *   warning; keepstated does the same (a nice value has no effect on a real-time thread anyway).
 * conntrackd is single-threaded; keepstated applies the policy to each thread the process has at that
 * moment (the event loop's first), and threads created later inherit it from their creator.
 */

/** SchedulerPort is what applying a policy needs from the OS; tests inject their own. */
export interface SchedulerPort {
  /** threadIds lists this process's thread ids (/proc/self/task). */
  threadIds(): readonly number[];
  /** setScheduler is sched_setscheduler(2) on one thread (0: the calling one); throws on refusal. */
  setScheduler(tid: number, policy: SchedPolicy, priority: number): void;
}

/** osSchedulerPort is the real one: /proc/self/task and the addon's sched_setscheduler. */
export const osSchedulerPort: SchedulerPort = {
  threadIds: () => readdirSync('/proc/self/task').map(Number).filter((t) => Number.isInteger(t) && t > 0),
  setScheduler: setThreadScheduler,
};

/** SchedulerResult says how applying the policy went; `reason` is a phrase for a log line. */
export type SchedulerResult =
  | { readonly ok: true; readonly threads: number; readonly helperFailures: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/** reasonOf turns a refusal into a phrase, with the likely cause for the errnos sched_setscheduler(2) documents. */
function reasonOf(e: unknown, s: SchedulerConfig): string {
  if (!(e instanceof ErrnoError)) return e instanceof Error ? e.message : String(e);
  switch (e.code) {
    case 'EPERM':
      return `EPERM, not permitted: it needs root or CAP_SYS_NICE (or an RLIMIT_RTPRIO of at least ${s.priority}), and a cpu cgroup with real-time runtime`;
    case 'EINVAL':
      return `EINVAL, the kernel refuses priority ${s.priority} for SCHED_${s.policy}`;
    default:
      return e.code;
  }
}

/**
 * applyScheduler sets `s` on the calling (event-loop) thread, then on every other thread of the
 * process (`self` is the event loop's own id, process.pid). A refusal for the event loop is the
 * result; helper threads that vanish meanwhile (ESRCH) are skipped, other refusals listed.
 */
export function applyScheduler(s: SchedulerConfig, port: SchedulerPort, self: number = process.pid): SchedulerResult {
  const policy = s.policy === 'RR' ? SCHED.RR : SCHED.FIFO;
  try {
    port.setScheduler(0, policy, s.priority);
  } catch (e) {
    return { ok: false, reason: reasonOf(e, s) };
  }
  let others: readonly number[];
  try {
    others = port.threadIds().filter((t) => t !== self);
  } catch (e) {
    return { ok: true, threads: 1, helperFailures: [`can't list the other threads: ${e instanceof Error ? e.message : String(e)}`] };
  }
  let threads = 1;
  const helperFailures: string[] = [];
  for (const tid of others) {
    try {
      port.setScheduler(tid, policy, s.priority);
      threads++;
    } catch (e) {
      if (!(e instanceof ErrnoError && e.code === 'ESRCH')) helperFailures.push(`thread ${tid}: ${reasonOf(e, s)}`);
    }
  }
  return { ok: true, threads, helperFailures };
}

const at = (loc: SourceLoc): string => `${loc.file}:${loc.line}:${loc.col}`;

/**
 * applyPrioritySettings applies General's Scheduler and reports Nice as ignored, logging a warning
 * for each setting that does not take effect (nothing when all goes well, as conntrackd).
 */
export function applyPrioritySettings(g: GeneralConfig, log: Logger, port: SchedulerPort = osSchedulerPort, self: number = process.pid): SchedulerResult {
  if (g.at.nice !== undefined)
    log.log(
      'warning',
      `${at(g.at.nice)}: Nice is deprecated and ignored, as conntrackd 1.4.7 does (the daemon runs a real-time scheduler instead); use nice(1) or renice(1) to change it`,
    );
  const r = applyScheduler(g.scheduler, port, self);
  const what = `SCHED_${g.scheduler.policy} at priority ${g.scheduler.priority}${g.at.scheduler === undefined ? ' (the default)' : ` (${at(g.at.scheduler)})`}`;
  if (!r.ok) log.log('warning', `scheduler configuration failed: ${what}: ${r.reason}; continuing with the system default scheduler`);
  else if (r.helperFailures.length > 0)
    log.log('warning', `scheduler: ${what} is set for the event loop, but not for ${r.helperFailures.length} helper thread(s): ${r.helperFailures.join('; ')}`);
  return r;
}
