import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { signalScript, type ScriptHandle, type ScriptSpawnOptions, type SpawnScript } from './script-spawn.js';

/**
 * ScriptRunner starts the failover process's scripts from a process of its own (the script runner,
 * script-runner-process.ts, at the normal scheduling policy), so that no fork waits on the loop
 * that sends the adverts. Node's spawn returns only once the child has called exec, and the child
 * of a real-time or deadline process runs at the normal policy (SCHED_RESET_ON_FORK): while the
 * sync threads held both CPUs, `perf sched` showed the master's failover process blocked 284 ms in
 * the spawn of a notify script — the backup declared it dead. A request to the runner is one
 * write on a non-blocking socket.
 *
 * Signals are sent from here by pid (process.kill), not through the runner. If the runner dies,
 * the scripts it had running are reported failed, and the next spawn starts a new runner.
 */

/** The messages between ScriptRunner and the runner process. */
export type ToRunner = { readonly kind: 'spawn'; readonly id: number; readonly cmd: string; readonly args: readonly string[]; readonly opts: ScriptSpawnOptions };
export type FromRunner =
  | { readonly kind: 'spawned'; readonly id: number; readonly pid: number }
  | { readonly kind: 'error'; readonly id: number; readonly message: string }
  | { readonly kind: 'exit'; readonly id: number; readonly code: number | null; readonly signal: string | null };

export type RunnerLog = (level: 'error' | 'warning', message: string) => void;

/** RemoteScript is the handle of a script the runner started (or is starting). */
class RemoteScript implements ScriptHandle {
  pid: number | undefined;
  running = true;
  /** Signals asked for before the runner said which pid the script has. */
  private readonly early: NodeJS.Signals[] = [];
  private readonly errorFns: ((message: string) => void)[] = [];
  private readonly exitFns: ((code: number | null, signal: string | null) => void)[] = [];

  constructor(private readonly detached: boolean) {}

  onError(f: (message: string) => void): void {
    this.errorFns.push(f);
  }
  onExit(f: (code: number | null, signal: string | null) => void): void {
    this.exitFns.push(f);
  }
  signal(sig: NodeJS.Signals): void {
    if (this.pid === undefined) {
      if (this.running) this.early.push(sig);
      return;
    }
    if (this.running || this.detached) signalScript(this.pid, this.detached, sig);
  }

  started(pid: number): void {
    this.pid = pid;
    for (const sig of this.early.splice(0)) this.signal(sig);
  }
  failed(message: string): void {
    if (!this.running) return;
    this.running = false;
    for (const f of this.errorFns) f(message);
  }
  exited(code: number | null, signal: string | null): void {
    if (!this.running) return;
    this.running = false;
    for (const f of this.exitFns) f(code, signal);
  }
}

export class ScriptRunner {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly scripts = new Map<number, RemoteScript>();
  private closed = false;

  private constructor(private readonly log: RunnerLog) {}

  /** start forks the runner now (at start-up, before any sync load: the fork itself waits for the child's exec). */
  static start(log: RunnerLog): ScriptRunner {
    const r = new ScriptRunner(log);
    r.child = r.fork();
    return r;
  }

  /** pid is the runner process's, while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private fork(): ChildProcess {
    const child = fork(fileURLToPath(new URL('./script-runner-process.js', import.meta.url)), [], {
      execArgv: ['--single-threaded'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (m: FromRunner) => this.onMessage(m));
    child.on('error', (e) => this.log('error', `script runner: ${e.message}`));
    // Its channel closes when it dies: what it had running will not be reported any more.
    child.once('disconnect', () => {
      if (this.child !== child) return;
      this.child = undefined;
      const lost = [...this.scripts.values()];
      this.scripts.clear();
      for (const s of lost) s.failed('the script runner exited');
    });
    child.once('exit', (code, signal) => {
      if (!this.closed) this.log('warning', `script runner exited (${signal ?? code ?? '?'}); a new one starts with the next script`);
    });
    // The runner keeps the process alive only while a script it started has not ended (refs()).
    child.unref();
    child.channel?.unref();
    return child;
  }

  private onMessage(m: FromRunner): void {
    const s = this.scripts.get(m.id);
    if (s === undefined) return;
    switch (m.kind) {
      case 'spawned':
        s.started(m.pid);
        return;
      case 'error':
        this.scripts.delete(m.id);
        this.refs();
        s.failed(m.message);
        return;
      case 'exit':
        this.scripts.delete(m.id);
        this.refs();
        s.exited(m.code, m.signal);
        return;
    }
  }

  /** refs holds the event loop open while a script's outcome is awaited, and only then. */
  private refs(): void {
    if (this.scripts.size > 0) this.child?.channel?.ref();
    else this.child?.channel?.unref();
  }

  readonly spawn: SpawnScript = (cmd, args, opts) => {
    const s = new RemoteScript(opts.detached);
    if (this.closed) {
      queueMicrotask(() => s.failed('the script runner is closed'));
      return s;
    }
    this.child ??= this.fork();
    const id = this.nextId++;
    this.scripts.set(id, s);
    this.refs();
    this.child.send({ kind: 'spawn', id, cmd, args: [...args], opts } satisfies ToRunner);
    return s;
  };

  /**
   * close lets the runner go once it has started what it was asked to (the STOP scripts of a
   * shutdown; at most `waitMs`): it exits, the scripts it started run on.
   */
  async close(waitMs = 2000): Promise<void> {
    this.closed = true;
    const end = Date.now() + waitMs;
    while ([...this.scripts.values()].some((s) => s.running && s.pid === undefined) && this.child?.connected === true && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (this.child?.connected === true) this.child.disconnect();
  }
}
