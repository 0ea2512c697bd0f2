import { Worker } from 'node:worker_threads';
import type { KeepalivedConfig } from '../config/keepalived/types.js';
import type { FailoverLog, InstanceStatus, StatePort } from './manager.js';
import type { FailoverWorkerData, FromFailover, ToFailover } from './worker.js';

/**
 * FailoverHost is the main thread's handle on the failover thread (worker.ts): it starts it,
 * answers its state requests through the StatePort (the sync engine lives on this thread), passes
 * sync-aware demotion on, and asks for status.
 */
export class FailoverHost {
  private nextId = 1;
  private readonly statusWaiting = new Map<number, (s: readonly InstanceStatus[]) => void>();
  private stopped: Promise<void> | undefined;
  private onStopped: (() => void) | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly state: StatePort,
    private readonly log: FailoverLog,
  ) {}

  /** start runs the failover thread and resolves once every instance has started. */
  static start(config: KeepalivedConfig, state: StatePort, log: FailoverLog, opts: { netns?: string; demoted?: string; realtimePriority?: number } = {}): Promise<FailoverHost> {
    const data: FailoverWorkerData = { config, ...opts };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data });
    const host = new FailoverHost(worker, state, log);
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromFailover) => {
        if (m.kind === 'ready') resolve(host);
        else if (m.kind === 'failed') {
          void worker.terminate();
          reject(new Error(m.message));
        } else host.onMessage(m);
      });
      worker.once('error', (e) => {
        reject(e);
        log('error', `failover thread: ${e.message}`);
      });
      worker.once('exit', (code) => {
        reject(new Error(`failover thread exited (${code})`));
        host.onStopped?.();
      });
    });
  }

  private post(m: ToFailover): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: FromFailover): void {
    switch (m.kind) {
      case 'prepare':
      case 'release': {
        const work = m.kind === 'prepare' ? this.state.prepare(m.instance, m.reason) : this.state.release(m.instance, m.to, m.from);
        work.then(
          () => this.post({ kind: 'done', id: m.id }),
          (e: unknown) => this.post({ kind: 'done', id: m.id, error: e instanceof Error ? e.message : String(e) }),
        );
        return;
      }
      case 'log':
        this.log(m.level, m.message);
        return;
      case 'status':
        this.statusWaiting.get(m.id)?.(m.instances);
        this.statusWaiting.delete(m.id);
        return;
      case 'stopped':
        this.onStopped?.();
        return;
      default:
        return;
    }
  }

  /** demote sets or lifts the sync-aware demotion of every instance (see FailoverManager.demote). */
  demote(reason: string | undefined): void {
    this.post(reason !== undefined ? { kind: 'demote', reason } : { kind: 'demote' });
  }

  status(): Promise<readonly InstanceStatus[]> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.statusWaiting.set(id, resolve);
      this.post({ kind: 'status', id });
    });
  }

  /** stop resigns the masters (priority 0), removes the VIPs and ends the thread. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      this.onStopped = resolve;
      this.post({ kind: 'stop' });
    }).then(() => void this.worker.terminate());
    return this.stopped;
  }
}
