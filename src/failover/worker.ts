import type { KeepalivedConfig } from '../config/keepalived/types.js';
import type { TransitionReason, VrrpRole } from '../vrrp/fsm.js';
import { SCHED, SCHED_FLAG, setThreadDeadline, setThreadScheduler, type DeadlineReservation } from '../native/sched.js';
import { FailoverManager, hasScripts, type InstanceStatus } from './manager.js';
import { ScriptRunner } from './script-runner.js';

/**
 * The failover process (forked by host.ts, with `--single-threaded-gc`: see there): the VRRP
 * instances run here, on an event loop of their own under SCHED_DEADLINE (SCHED_RR 99 where the
 * kernel refuses it), so that a commit or a burst of sync traffic in the daemon never delays an
 * advert. The state work of a transition is asked of
 * the daemon (prepare / release) and awaited. If the daemon goes away (killed), this process
 * resigns its masters and exits: VRRP without the state behind it is not a firewall.
 */

export interface FailoverWorkerData {
  readonly config: KeepalivedConfig;
  readonly netns?: string;
  /** A sync-aware demotion in force from the start (the state is incomplete until the peer's bulk is in). */
  readonly demoted?: string;
  /**
   * SCHED_RR priority for this process (the daemon's real-time scheduling worked); none: inherited.
   * RR, not FIFO: either preempts the sync threads (RR 98) at once, but with this process at FIFO 99
   * the event socket of the master overran in a burst of 100 000 creates in the lab (1 s adverts,
   * 2 runs each: FIFO 28–31 s until the standby held the burst, RR 1 ms; with 10 ms adverts RR
   * still overran once in 2; cause not found).
   */
  readonly realtimePriority?: number;
}

/**
 * The reservation the failover process asks for before falling back to SCHED_RR: 1 ms of CPU in
 * every 5 ms (an advert's send or receive costs ~0.1 ms; 10 ms adverts on two instances ~0.5 ms
 * per 10 ms), so a wakeup waits at most one period even in the rare GC pause that overruns it.
 * Why not RR 99 alone: the sync threads at RR 98 can hold a CPU for most of a second in a 100 000
 * entry burst; the kernel then gives the starved normal tasks up to 50 ms in one go (the fair
 * server, and before it real-time throttling), and every real-time task on that CPU waits, RR 99
 * included. `perf sched timehist` showed the master's failover process waiting 35–53 ms with
 * 10 ms adverts, and the backup took over for a moment. A deadline thread is served first.
 * RECLAIM lets it use bandwidth no other deadline task reserved; RESET_ON_FORK lets it spawn the
 * notify and track scripts (as normal processes).
 */
const FAILOVER_DEADLINE: DeadlineReservation = { runtimeUs: 1000, deadlineUs: 5000, periodUs: 5000, flags: SCHED_FLAG.RESET_ON_FORK | SCHED_FLAG.RECLAIM };

export type ToFailover =
  | { readonly kind: 'init'; readonly data: FailoverWorkerData }
  | { readonly kind: 'done'; readonly id: number; readonly error?: string }
  | { readonly kind: 'demote'; readonly reason?: string }
  | { readonly kind: 'status'; readonly id: number }
  | { readonly kind: 'stop' };

export type FromFailover =
  | { readonly kind: 'ready' }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'prepare'; readonly id: number; readonly instance: string; readonly reason: TransitionReason }
  | { readonly kind: 'release'; readonly id: number; readonly instance: string; readonly to: VrrpRole; readonly from: VrrpRole }
  | { readonly kind: 'role'; readonly instance: string; readonly role: VrrpRole }
  | { readonly kind: 'served'; readonly instance: string }
  | { readonly kind: 'master-seen'; readonly instance: string; readonly address?: string }
  | { readonly kind: 'log'; readonly level: 'error' | 'warning' | 'notice' | 'info'; readonly message: string }
  | { readonly kind: 'status'; readonly id: number; readonly instances: readonly InstanceStatus[] }
  | { readonly kind: 'stopped' };

if (process.send === undefined) throw new Error('failover process: started by keepstated (fork with an IPC channel)');
process.title = 'keepstated-vrrp'; // ps, top and perf show which process this is
const post = (m: FromFailover): void => {
  if (process.connected) process.send!(m);
};
// Ctrl-C reaches the whole process group: the daemon stops this process in order (stop), and if
// the daemon itself is gone, 'disconnect' below does.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

let nextId = 1;
const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
function ask(m: { kind: 'prepare'; instance: string; reason: TransitionReason } | { kind: 'release'; instance: string; to: VrrpRole; from: VrrpRole }): Promise<void> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    post({ ...m, id });
  });
}

let manager: FailoverManager | undefined;
let runner: ScriptRunner | undefined;
let stopping: Promise<void> | undefined;
/** stop resigns the masters and removes the VIPs, once; then lets the script runner go. */
const stop = (): Promise<void> =>
  (stopping ??= (manager?.stop() ?? Promise.resolve()).catch(() => undefined).then(() => runner?.close()));

let stopAsked = false;
process.on('disconnect', () => {
  // After 'stop' the daemon let us go; otherwise it is gone (killed): resign and exit, bounded in time.
  const code = stopAsked ? 0 : 1;
  setTimeout(() => process.exit(code), 2000).unref();
  void stop().finally(() => process.exit(code));
});

process.on('message', (m: ToFailover) => {
  switch (m.kind) {
    case 'init':
      start(m.data);
      return;
    case 'done': {
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve();
      return;
    }
    case 'demote':
      manager?.demote(m.reason);
      return;
    case 'status':
      post({ kind: 'status', id: m.id, instances: manager?.status() ?? [] });
      return;
    case 'stop':
      stopAsked = true;
      void stop().finally(() => {
        if (process.connected) process.send!({ kind: 'stopped' } satisfies FromFailover, () => process.disconnect());
      });
      return;
  }
});

/** realtime puts this process's event loop under SCHED_DEADLINE, else SCHED_RR at `priority`, and says which. */
function realtime(priority: number): void {
  const why = (e: unknown): string => (e instanceof Error ? e.message : String(e));
  const r = FAILOVER_DEADLINE;
  try {
    setThreadDeadline(0, r);
    post({ kind: 'log', level: 'info', message: `failover process: SCHED_DEADLINE, ${r.runtimeUs} µs every ${r.periodUs} µs` });
    return;
  } catch (e) {
    try {
      setThreadScheduler(0, SCHED.RR, priority);
      post({ kind: 'log', level: 'notice', message: `failover process: SCHED_DEADLINE refused (${why(e)}); SCHED_RR ${priority} instead, which the sync threads can delay when they hold a CPU for most of a second` });
    } catch (e2) {
      post({ kind: 'log', level: 'warning', message: `failover process: SCHED_DEADLINE refused (${why(e)}), SCHED_RR ${priority} refused (${why(e2)}); adverts may wait behind sync work` });
    }
  }
}

function start(data: FailoverWorkerData): void {
  if (data.realtimePriority !== undefined) realtime(data.realtimePriority);
  // After the scheduling policy: the runner is forked at the normal one (SCHED_RESET_ON_FORK).
  if (hasScripts(data.config)) runner = ScriptRunner.start((level, message) => post({ kind: 'log', level, message }));
  FailoverManager.start(data.config, {
    ...(data.netns !== undefined ? { netns: data.netns } : {}),
    state: {
      prepare: (instance, reason) => ask({ kind: 'prepare', instance, reason }),
      release: (instance, to, from) => ask({ kind: 'release', instance, to, from }),
      role: (instance, role) => post({ kind: 'role', instance, role }),
      served: (instance) => post({ kind: 'served', instance }),
      masterSeen: (instance, address) => post({ kind: 'master-seen', instance, ...(address !== undefined ? { address } : {}) }),
    },
    log: (level, message) => post({ kind: 'log', level, message }),
    ...(runner !== undefined ? { spawn: runner.spawn } : {}),
  }).then(
    (m) => {
      manager = m;
      // Before any timer can fire: the instances started a moment ago, their down timers are running.
      if (data.demoted !== undefined) m.demote(data.demoted);
      post({ kind: 'ready' });
    },
    (e: unknown) => post({ kind: 'failed', message: e instanceof Error ? e.message : String(e) }),
  );
}
