import { spawn, type SpawnOptions } from 'node:child_process';

/**
 * How the failover side starts notify and track scripts: a port, so the failover process can have
 * them started by its script runner (script-runner.ts) and never wait for a fork on its own loop.
 */

/** ScriptSpawnOptions: `detached` makes the script lead a process group of its own (signals reach the group). */
export interface ScriptSpawnOptions {
  readonly detached: boolean;
  readonly uid?: number;
  readonly gid?: number;
}

/** ScriptHandle is one started script: its outcome, and signals for it. */
export interface ScriptHandle {
  /** onError: the script could not be started (ENOENT, EACCES, …); no exit follows. */
  onError(f: (message: string) => void): void;
  /** onExit: the script ended, with its exit status or the signal that ended it. */
  onExit(f: (code: number | null, signal: string | null) => void): void;
  /**
   * signal sends `sig` to the script, or to its whole process group when detached (the group can
   * outlive its leader: a timed-out track script's children are killed after it exits).
   */
  signal(sig: NodeJS.Signals): void;
  /** running: started (or starting) and not yet ended. */
  readonly running: boolean;
}

/** SpawnScript starts `cmd` with `args`, stdio ignored, in this process's environment. */
export type SpawnScript = (cmd: string, args: readonly string[], opts: ScriptSpawnOptions) => ScriptHandle;

/** signalScript sends `sig` to `pid`, or to its process group when `group`; a process already gone (ESRCH) is not an error. */
export function signalScript(pid: number, group: boolean, sig: NodeJS.Signals): void {
  try {
    process.kill(group ? -pid : pid, sig);
  } catch {
    // ESRCH: it is gone already.
  }
}

/** spawnOptions is node's spawn options for a script: stdio ignored, this process's environment. */
export function spawnOptions(opts: ScriptSpawnOptions): SpawnOptions {
  return { stdio: 'ignore', detached: opts.detached, ...(opts.uid !== undefined ? { uid: opts.uid } : {}), ...(opts.gid !== undefined ? { gid: opts.gid } : {}) };
}

/**
 * spawnHere starts the script as a child of this process (node's spawn, which waits for the
 * child's exec). The script runner uses it; so do tests and anything without a runner.
 */
export const spawnHere: SpawnScript = (cmd, args, opts) => {
  const child = spawn(cmd, [...args], spawnOptions(opts));
  child.unref();
  let running = true;
  const ended = (): void => {
    running = false;
  };
  child.once('error', ended);
  child.once('exit', ended);
  return {
    onError: (f) => child.once('error', (e) => f(e.message)),
    onExit: (f) => child.once('exit', (code, signal) => f(code, signal)),
    signal: (sig) => {
      // A process that has been reaped may have a recycled pid; a process group id stays ours while a member lives.
      if (child.pid !== undefined && (running || opts.detached)) signalScript(child.pid, opts.detached, sig);
    },
    get running() {
      return running;
    },
  };
};
