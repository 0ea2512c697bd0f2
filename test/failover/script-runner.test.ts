// The failover process's script runner with real processes: exit statuses, failures to start,
// signals (also one asked for before the runner said the pid), a runner that dies, and the
// scheduling policy its scripts get when the process that forked it was real-time.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SCHED, setThreadScheduler } from '../../src/native/sched.js';
import { ScriptRunner } from '../../src/failover/script-runner.js';
import type { ScriptHandle } from '../../src/failover/script-spawn.js';
import { until } from '../helpers/until.js';

type Outcome = { readonly error: string } | { readonly code: number | null; readonly signal: string | null };

/** outcome resolves with how the script ended. */
function outcome(h: ScriptHandle): Promise<Outcome> {
  return new Promise((resolve) => {
    h.onError((error) => resolve({ error }));
    h.onExit((code, signal) => resolve({ code, signal }));
  });
}

const logs: string[] = [];
const runner = ScriptRunner.start((_l, m) => logs.push(m));
after(() => runner.close());

describe('ScriptRunner', () => {
  it('reports the exit status, and a failure to start', async () => {
    assert.deepEqual(await outcome(runner.spawn('/bin/sh', ['-c', 'exit 3'], { detached: true })), { code: 3, signal: null });
    const h = runner.spawn('/nonexistent/notify.sh', ['primary'], { detached: true });
    const o = await outcome(h);
    assert.ok('error' in o && /ENOENT/.test(o.error), JSON.stringify(o));
    assert.equal(h.running, false);
  });

  it('delivers a signal asked for at once, before the runner has said which pid the script has', async () => {
    const h = runner.spawn('/bin/sleep', ['30'], { detached: true });
    h.signal('SIGTERM');
    assert.deepEqual(await outcome(h), { code: null, signal: 'SIGTERM' });
  });

  it('signals the whole process group of a detached script', async () => {
    // The shell waits for its child; SIGTERM to the group ends both (to the shell alone it would wait on).
    const h = runner.spawn('/bin/sh', ['-c', 'trap "" TERM; sleep 30 & wait'], { detached: true });
    await until('the script runs', () => h.running, 5000);
    await new Promise((r) => setTimeout(r, 200));
    h.signal('SIGKILL');
    assert.deepEqual(await outcome(h), { code: null, signal: 'SIGKILL' });
  });

  it('reports the scripts of a runner that died as failed, and the next script starts a new runner', async () => {
    const h = runner.spawn('/bin/sleep', ['30'], { detached: true });
    const first = runner.pid;
    assert.ok(first !== undefined);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(first, 'SIGKILL');
    const o = await outcome(h);
    h.signal('SIGKILL'); // the orphaned sleep
    assert.ok('error' in o && /runner exited/.test(o.error), JSON.stringify(o));
    await until('the runner death is logged', () => logs.some((m) => /script runner exited \(SIGKILL\)/.test(m)), 5000);
    assert.deepEqual(await outcome(runner.spawn('/bin/true', [], { detached: true })), { code: 0, signal: null });
    assert.notEqual(runner.pid, first);
  });

  it('runs its scripts at SCHED_OTHER though the process that forked it was real-time', { skip: process.getuid?.() !== 0 ? 'needs root (SCHED_RR)' : false }, async () => {
    // The fork inherits this thread's SCHED_RR 10; the runner sets every thread back to SCHED_OTHER.
    setThreadScheduler(0, SCHED.RR, 10);
    let rt: ScriptRunner;
    try {
      rt = ScriptRunner.start(() => undefined);
    } finally {
      setThreadScheduler(0, SCHED.OTHER, 0);
    }
    try {
      // Exit status = field 41 of /proc/self/stat (policy) of the script's own child.
      const o = await outcome(rt.spawn('/bin/sh', ['-c', 'exit $(cut -d" " -f41 /proc/self/stat)'], { detached: true }));
      assert.deepEqual(o, { code: SCHED.OTHER, signal: null });
    } finally {
      await rt.close();
    }
  });
});
