import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { KeepalivedConfig } from '../config/keepalived/types.js';
import type { TransitionReason, VrrpRole } from '../vrrp/fsm.js';
import { SCHED, setThreadScheduler } from '../native/sched.js';
import { FailoverManager, type InstanceStatus } from './manager.js';

/**
 * The failover thread (worker entry): the VRRP instances run here, on an event loop of their own,
 * so that a commit or a burst of sync traffic on the main thread never delays an advert. The
 * state work of a transition is asked of the main thread (prepare / release) and awaited.
 */

export interface FailoverWorkerData {
  readonly config: KeepalivedConfig;
  readonly netns?: string;
  /** A sync-aware demotion in force from the start (the state is incomplete until the peer's bulk is in). */
  readonly demoted?: string;
  /** SCHED_FIFO priority for this thread (the daemon's real-time scheduling worked); none: inherited. */
  readonly realtimePriority?: number;
}

export type ToFailover =
  | { readonly kind: 'done'; readonly id: number; readonly error?: string }
  | { readonly kind: 'demote'; readonly reason?: string }
  | { readonly kind: 'status'; readonly id: number }
  | { readonly kind: 'stop' };

export type FromFailover =
  | { readonly kind: 'ready' }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'prepare'; readonly id: number; readonly instance: string; readonly reason: TransitionReason }
  | { readonly kind: 'release'; readonly id: number; readonly instance: string; readonly to: VrrpRole; readonly from: VrrpRole }
  | { readonly kind: 'log'; readonly level: 'error' | 'warning' | 'notice' | 'info'; readonly message: string }
  | { readonly kind: 'status'; readonly id: number; readonly instances: readonly InstanceStatus[] }
  | { readonly kind: 'stopped' };

if (parentPort === null) throw new Error('failover worker: runs as a worker thread');
const port: MessagePort = parentPort;
const data = workerData as FailoverWorkerData;
const post = (m: FromFailover): void => port.postMessage(m);

let nextId = 1;
const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
function ask(m: { kind: 'prepare'; instance: string; reason: TransitionReason } | { kind: 'release'; instance: string; to: VrrpRole; from: VrrpRole }): Promise<void> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    post({ ...m, id });
  });
}

if (data.realtimePriority !== undefined) {
  try {
    setThreadScheduler(0, SCHED.FIFO, data.realtimePriority);
  } catch (e) {
    post({ kind: 'log', level: 'warning', message: `failover thread: SCHED_FIFO ${data.realtimePriority} refused (${e instanceof Error ? e.message : String(e)}); adverts may wait behind sync work` });
  }
}

let manager: FailoverManager | undefined;
port.on('message', (m: ToFailover) => {
  switch (m.kind) {
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
      void (manager?.stop() ?? Promise.resolve()).finally(() => {
        post({ kind: 'stopped' });
        port.close();
      });
      return;
  }
});

FailoverManager.start(data.config, {
  ...(data.netns !== undefined ? { netns: data.netns } : {}),
  state: {
    prepare: (instance, reason) => ask({ kind: 'prepare', instance, reason }),
    release: (instance, to, from) => ask({ kind: 'release', instance, to, from }),
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
