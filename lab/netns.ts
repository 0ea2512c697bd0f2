import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';

/**
 * Netns is a network namespace this process created and owns: `exec` runs a command in it and
 * `close` deletes it (and kills every process started through `spawn`). Names carry a random suffix
 * so parallel runs never collide; `sweepStale` removes namespaces left by a crashed earlier run.
 */
export class Netns {
  private readonly children = new Set<ChildProcess>();
  private closed = false;

  private constructor(readonly name: string) {}

  /** create makes a fresh namespace named `ks-<label>-<random>` with loopback up. */
  static create(label: string): Netns {
    const name = `ks-${label}-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    try {
      ns.exec('ip', ['link', 'set', 'lo', 'up']);
    } catch (e) {
      ns.close();
      throw e;
    }
    return ns;
  }

  /** exec runs a command in the namespace and returns its stdout; a non-zero exit throws. */
  exec(cmd: string, args: readonly string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
      encoding: 'utf8',
      input,
      maxBuffer: 512 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  /** run is exec that never throws: it returns status, stdout and stderr. */
  run(cmd: string, args: readonly string[], input?: string): { status: number; stdout: string; stderr: string } {
    try {
      const r = execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], {
        encoding: 'utf8',
        input,
        maxBuffer: 512 * 1024 * 1024,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      return { status: 0, stdout: r, stderr: '' };
    } catch (e) {
      const x = e as { status?: number | null; stdout?: string; stderr?: string };
      return { status: x.status ?? 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  }

  /** spawn starts a long-running process in the namespace; close() kills it. */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: 'pipe', ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** sysctl sets a sysctl inside the namespace (per-netns ones such as net.netfilter.*). */
  sysctl(key: string, value: string | number): void {
    this.exec('sysctl', ['-qw', `${key}=${value}`]);
  }

  /** close kills the processes started here (by pid) and deletes the namespace. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.children) {
      if (c.pid !== undefined && c.exitCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * sweepStale deletes ks-* namespaces left by a killed run: no process inside and created more than
 * `minAgeMs` ago. The age matters: a namespace that a live process uses only through sockets it
 * opened with setns has no process inside either.
 */
export function sweepStale(minAgeMs = 10 * 60_000): void {
  const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    if (name === undefined || !name.startsWith('ks-')) continue;
    let age: number;
    try {
      age = Date.now() - statSync(`/run/netns/${name}`).mtimeMs;
    } catch {
      continue;
    }
    if (age < minAgeMs) continue;
    const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).trim();
    if (pids === '') execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  }
}

/** rootSkipReason returns why kernel tests cannot run here, or undefined when they can. */
export function rootSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, ctnetlink)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 `ip netns` is not available';
  }
  return undefined;
}
