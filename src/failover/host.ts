import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KeepalivedConfig } from '../config/keepalived/types.js';
import type { FailoverLog, InstanceStatus, StatePort } from './manager.js';
import type { FailoverWorkerData, FromFailover, ToFailover } from './worker.js';

/**
 * FailoverHost is the daemon's handle on the failover process (worker.ts): it starts it, answers
 * its state requests through the StatePort (the sync engine lives in this process), passes
 * sync-aware demotion on, and asks for status.
 *
 * A process, not a worker thread: a worker shares the daemon's V8 platform threads, and its
 * garbage collector waits for them (cppgc's concurrent sweeping: the worker re-posts a sweep task
 * until they are done). At SCHED_FIFO 99 that wait spun at 100 % of a CPU while the platform
 * threads, below it, could not run — measured with perf in the lab (two firewalls on two CPUs,
 * both failover threads spinning: the failback never came). The failover process runs V8 with
 * `--single-threaded`: its collector never waits for another thread (its heap is small), and it
 * posts no compile jobs to the platform threads either — with them, `perf sched` showed the loop
 * of the failover process waiting 50–85 ms on a futex while those threads, below the sync
 * threads' real-time priority, could not run.
 */
export class FailoverHost {
  private nextId = 1;
  private readonly statusWaiting = new Map<number, (s: readonly InstanceStatus[]) => void>();
  private stopped: Promise<void> | undefined;
  private onStopped: (() => void) | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly state: StatePort,
    private readonly log: FailoverLog,
  ) {}

  /** start runs the failover process and resolves once every instance has started. */
  static start(config: KeepalivedConfig, state: StatePort, log: FailoverLog, opts: { netns?: string; demoted?: string; realtimePriority?: number } = {}): Promise<FailoverHost> {
    const data: FailoverWorkerData = { config, ...opts };
    const child = fork(fileURLToPath(new URL('./worker.js', import.meta.url)), [], {
      execArgv: ['--single-threaded'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const host = new FailoverHost(child, state, log);
    return new Promise((resolve, reject) => {
      child.on('message', (m: FromFailover) => {
        if (m.kind === 'ready') resolve(host);
        else if (m.kind === 'failed') {
          child.kill('SIGKILL');
          reject(new Error(m.message));
        } else host.onMessage(m);
      });
      child.once('error', (e) => {
        reject(e);
        log('error', `failover process: ${e.message}`);
      });
      child.once('exit', (code, signal) => {
        reject(new Error(`failover process exited (${signal ?? code ?? '?'})`));
        host.exited = true;
        host.onStopped?.();
      });
      host.post({ kind: 'init', data });
    });
  }

  private exited = false;

  private post(m: ToFailover): void {
    if (this.child.connected) this.child.send(m);
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
      case 'role':
        this.state.role?.(m.instance, m.role);
        return;
      case 'served':
        this.state.served?.(m.instance);
        return;
      case 'master-seen':
        this.state.masterSeen?.(m.instance, m.address);
        return;
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
    if (!this.child.connected) return Promise.resolve([]);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.statusWaiting.set(id, resolve);
      this.post({ kind: 'status', id });
    });
  }

  /** stop resigns the masters (priority 0), removes the VIPs and ends the process. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      if (this.exited) return resolve();
      this.onStopped = resolve;
      this.post({ kind: 'stop' });
    }).then(async () => {
      if (this.exited) return;
      // It exits once it has said 'stopped'; a process that does not is killed.
      const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
      const t = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
      await gone;
      clearTimeout(t);
    });
    return this.stopped;
  }
}

/** How long the failover process may take to exit after it has stopped (ms). */
const STOP_GRACE_MS = 2000;
