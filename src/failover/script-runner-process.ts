import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { SCHED, setThreadScheduler } from '../native/sched.js';
import type { FromRunner, ToRunner } from './script-runner.js';
import { spawnOptions } from './script-spawn.js';

/**
 * The script runner (forked by ScriptRunner in the failover process): starts each script it is
 * asked for and reports its pid, a failure to start, and its exit. It runs, and its scripts run,
 * at the normal scheduling policy, as keepalived's scripts do (SCHED_RESET_ON_FORK): a process
 * forked by a real-time one may have inherited SCHED_RR, so every thread is set back first.
 */
if (process.send === undefined) throw new Error('script runner: started by the failover process (fork with an IPC channel)');
process.title = 'keepstated-scripts';
const post = (m: FromRunner): void => {
  if (process.connected) process.send!(m);
};

for (const tid of readdirSync('/proc/self/task').map(Number)) {
  try {
    setThreadScheduler(tid, SCHED.OTHER, 0);
  } catch {
    // A helper thread that is gone, or an addon without the call: the scripts then inherit what we have.
  }
}

// Ctrl-C reaches the daemon's whole process group: the failover process still has STOP scripts to
// run when it stops, so this process lives until that process lets it go (disconnect).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => process.exit(0));

process.on('message', (m: ToRunner) => {
  if (m.kind !== 'spawn') return;
  const { id, opts } = m;
  const child = spawn(m.cmd, m.args, spawnOptions(opts));
  child.once('error', (e) => post({ kind: 'error', id, message: e.message }));
  child.once('exit', (code, signal) => post({ kind: 'exit', id, code, signal }));
  if (child.pid !== undefined) post({ kind: 'spawned', id, pid: child.pid });
});
