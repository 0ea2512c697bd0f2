import type { KeepalivedConfig } from '../config/keepalived/types.js';
import type { TransitionReason, VrrpRole } from '../vrrp/fsm.js';
import { SCHED, setThreadScheduler } from '../native/sched.js';
import { FailoverManager, type InstanceStatus } from './manager.js';

/**
 * The failover process (forked by host.ts, with `--single-threaded-gc`: see there): the VRRP
 * instances run here, on an event loop of their own at SCHED_RR 99, so that a commit or a burst
 * of sync traffic in the daemon never delays an advert. The state work of a transition is asked of
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
  | { readonly kind: 'log'; readonly level: 'error' | 'warning' | 'notice' | 'info'; readonly message: string }
  | { readonly kind: 'status'; readonly id: number; readonly instances: readonly InstanceStatus[] }
  | { readonly kind: 'stopped' };

if (process.send === undefined) throw new Error('failover process: started by keepstated (fork with an IPC channel)');
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
let stopping: Promise<void> | undefined;
/** stop resigns the masters and removes the VIPs, once. */
const stop = (): Promise<void> => (stopping ??= (manager?.stop() ?? Promise.resolve()).catch(() => undefined));

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

function start(data: FailoverWorkerData): void {
  if (data.realtimePriority !== undefined) {
    try {
      setThreadScheduler(0, SCHED.RR, data.realtimePriority);
    } catch (e) {
      post({ kind: 'log', level: 'warning', message: `failover process: SCHED_RR ${data.realtimePriority} refused (${e instanceof Error ? e.message : String(e)}); adverts may wait behind sync work` });
    }
  }
  FailoverManager.start(data.config, {
    ...(data.netns !== undefined ? { netns: data.netns } : {}),
    state: {
      prepare: (instance, reason) => ask({ kind: 'prepare', instance, reason }),
      release: (instance, to, from) => ask({ kind: 'release', instance, to, from }),
      role: (instance, role) => post({ kind: 'role', instance, role }),
      served: (instance) => post({ kind: 'served', instance }),
    },
    log: (level, message) => post({ kind: 'log', level, message }),
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
