// setThreadScheduler against the kernel: what needs no privilege runs here, a policy change runs in a
// child process (so this test runner's threads keep theirs), as root and as nobody.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SCHED, SCHED_FLAG, setThreadDeadline, setThreadScheduler } from '../../src/native/sched.js';
import { ErrnoError } from '../../src/native/socket.js';

const CHILD = fileURLToPath(new URL('./sched-child.js', import.meta.url));
const DEADLINE_CHILD = fileURLToPath(new URL('./deadline-child.js', import.meta.url));

/** policyOf reads (policy, rt_priority) of a thread from /proc (fields 41 and 40 of stat). */
function policyOf(tid: number | 'self'): { policy: number; rtPriority: number } {
  const stat = readFileSync(`/proc/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { policy: Number(f[38]), rtPriority: Number(f[37]) };
}

describe('setThreadScheduler', () => {
  test('arguments are checked before the addon is called', () => {
    assert.throws(() => setThreadScheduler(-1, SCHED.RR, 1), RangeError);
    assert.throws(() => setThreadScheduler(0, SCHED.RR, 100), RangeError);
    assert.throws(() => setThreadScheduler(0, SCHED.RR, 1.5), RangeError);
  });

  test('SCHED_OTHER at 0 on the calling thread needs no privilege; RR at 0 is EINVAL; a thread that does not exist is ESRCH', () => {
    setThreadScheduler(0, SCHED.OTHER, 0);
    assert.deepEqual(policyOf('self'), { policy: SCHED.OTHER, rtPriority: 0 });
    assert.throws(() => setThreadScheduler(0, SCHED.RR, 0), (e: unknown) => e instanceof ErrnoError && e.code === 'EINVAL' && e.syscall === 'sched_setscheduler');
    assert.throws(() => setThreadScheduler(0x7ffffffe, SCHED.FIFO, 1), (e: unknown) => e instanceof ErrnoError && e.code === 'ESRCH');
  });

  test('RR 10 in a child: applied when privileged, EPERM as nobody', () => {
    const root = process.getuid?.() === 0;
    const r = spawnSync(process.execPath, [CHILD], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), root ? 'ok 2 10' : 'EPERM 0 0');
    if (root) {
      const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, CHILD];
      const n = spawnSync('setpriv', asNobody, { encoding: 'utf8' });
      assert.equal(n.status, 0, n.stderr);
      assert.equal(n.stdout.trim(), 'EPERM 0 0');
    }
  });
});

describe('setThreadDeadline', () => {
  test('a reservation that is not 0 < runtime <= deadline <= period, or bad flags, is refused before the addon is called', () => {
    const ok = { runtimeUs: 1000, deadlineUs: 5000, periodUs: 5000, flags: 0 };
    assert.throws(() => setThreadDeadline(0, { ...ok, runtimeUs: 0 }), RangeError);
    assert.throws(() => setThreadDeadline(0, { ...ok, runtimeUs: 6000 }), RangeError);
    assert.throws(() => setThreadDeadline(0, { ...ok, periodUs: 4000 }), RangeError);
    assert.throws(() => setThreadDeadline(0, { ...ok, flags: -1 }), RangeError);
    assert.throws(() => setThreadDeadline(-1, ok), RangeError);
  });

  test('in a child: SCHED_DEADLINE (policy 6) when privileged; its children start at SCHED_OTHER with RESET_ON_FORK, and cannot be forked without it', () => {
    const run = (flags: number): string => {
      const r = spawnSync(process.execPath, [DEADLINE_CHILD, String(flags)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    if (process.getuid?.() !== 0) {
      assert.match(run(SCHED_FLAG.RESET_ON_FORK), /^EPERM 0 0$/);
      return;
    }
    assert.equal(run(SCHED_FLAG.RESET_ON_FORK | SCHED_FLAG.RECLAIM), 'ok 6 0');
    assert.equal(run(0), 'ok 6 EAGAIN');
  });
});
