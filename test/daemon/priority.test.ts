// Scheduler and Nice as conntrackd 1.4.7 treats them, with the OS port injected: which calls are made,
// in which order, and what is logged when the kernel refuses.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import type { LogLevel, Logger } from '../../src/daemon/log.js';
import { applyPrioritySettings, applyScheduler, type SchedulerPort } from '../../src/daemon/priority.js';
import { NativeUnavailableError } from '../../src/native/binding.js';
import { SCHED, type SchedPolicy } from '../../src/native/sched.js';
import { ErrnoError } from '../../src/native/socket.js';

const SELF = 1000;

/** fakePort records setScheduler calls; `refuse` maps a tid to the error that call throws. */
function fakePort(tids: readonly number[], refuse: ReadonlyMap<number, unknown> = new Map()): SchedulerPort & { calls: [number, SchedPolicy, number][] } {
  const calls: [number, SchedPolicy, number][] = [];
  return {
    calls,
    threadIds: () => tids,
    setScheduler(tid, policy, priority) {
      calls.push([tid, policy, priority]);
      const e = refuse.get(tid);
      if (e !== undefined) throw e;
    },
  };
}

function recorder(): Logger & { lines: [LogLevel, string][] } {
  const lines: [LogLevel, string][] = [];
  return { lines, log: (level, message) => void lines.push([level, message]) };
}

const general = (body: string) => parseConntrackdConfig(`General {\n${body}\n}\nSync {\n Mode FTFW { }\n UDP {\n  IPv4_address 10.0.0.1\n  IPv4_Destination_Address 10.0.0.2\n  Port 3780\n  Interface eth0\n }\n}\n`, 'k.conf').config.general;
const errno = (code: string, no: number): ErrnoError => new ErrnoError(no, code, 'sched_setscheduler');

describe('Scheduler', () => {
  test('without a Scheduler block: RR at 99 (conntrackd’s default), event loop first, then every other thread', () => {
    const port = fakePort([SELF, 1001, 1002]);
    const log = recorder();
    const r = applyPrioritySettings(general(' HashSize 8192'), log, port, SELF);
    assert.deepEqual(port.calls, [
      [0, SCHED.RR, 99],
      [1001, SCHED.RR, 99],
      [1002, SCHED.RR, 99],
    ]);
    assert.deepEqual(r, { ok: true, threads: 3, helperFailures: [] });
    assert.deepEqual(log.lines, [], 'nothing is logged when it works, as conntrackd');
  });

  test('Type FIFO Priority 10 (any case) is SCHED_FIFO at 10', () => {
    const port = fakePort([SELF]);
    applyPrioritySettings(general(' Scheduler {\n  Type fifo\n  Priority 10\n }'), recorder(), port, SELF);
    assert.deepEqual(port.calls, [[0, SCHED.FIFO, 10]]);
  });

  test('a refusal for the event loop: one warning with the reason, the other threads are left alone', () => {
    const port = fakePort([SELF, 1001], new Map([[0, errno('EPERM', 1)]]));
    const log = recorder();
    const r = applyPrioritySettings(general(' Scheduler {\n  Type RR\n  Priority 10\n }'), log, port, SELF);
    assert.equal(r.ok, false);
    assert.deepEqual(port.calls, [[0, SCHED.RR, 10]]);
    assert.equal(log.lines.length, 1);
    assert.deepEqual(log.lines[0], [
      'warning',
      'scheduler configuration failed: SCHED_RR at priority 10 (k.conf:3:3): EPERM, not permitted: it needs root or CAP_SYS_NICE (or an RLIMIT_RTPRIO of at least 10), and a cpu cgroup with real-time runtime; continuing with the system default scheduler',
    ]);
  });

  test('the default named as such; EINVAL and a stale addon give their own reasons', () => {
    const einval = recorder();
    applyPrioritySettings(general(''), einval, fakePort([SELF], new Map([[0, errno('EINVAL', 22)]])), SELF);
    assert.match(einval.lines[0]![1], /^scheduler configuration failed: SCHED_RR at priority 99 \(the default\): EINVAL, the kernel refuses priority 99 for SCHED_RR;/);
    const stale = recorder();
    applyPrioritySettings(general(''), stale, fakePort([SELF], new Map([[0, new NativeUnavailableError('addon predates schedSetScheduler')]])), SELF);
    assert.match(stale.lines[0]![1], /: addon predates schedSetScheduler; continuing/);
  });

  test('helper threads: one that exited meanwhile (ESRCH) is skipped, another refusal is reported', () => {
    const port = fakePort([SELF, 1001, 1002, 1003], new Map([[1001, errno('ESRCH', 3)], [1002, errno('EPERM', 1)]]));
    const r = applyScheduler({ policy: 'RR', priority: 5 }, port, SELF);
    assert.equal(port.calls.length, 4);
    assert.ok(r.ok);
    assert.equal(r.threads, 2);
    assert.equal(r.helperFailures.length, 1);
    assert.match(r.helperFailures[0]!, /^thread 1002: EPERM/);
    const log = recorder();
    applyPrioritySettings(general(''), log, fakePort([SELF, 7], new Map([[7, errno('EPERM', 1)]])), SELF);
    assert.match(log.lines[0]![1], /^scheduler: SCHED_RR at priority 99 \(the default\) is set for the event loop, but not for 1 helper thread\(s\): thread 7: EPERM/);
  });

  test('threads that cannot be listed: the event loop keeps its policy, the failure is reported', () => {
    const port: SchedulerPort = {
      threadIds: () => {
        throw new Error('no /proc');
      },
      setScheduler: () => undefined,
    };
    assert.deepEqual(applyScheduler({ policy: 'FIFO', priority: 1 }, port, SELF), { ok: true, threads: 1, helperFailures: ["can't list the other threads: no /proc"] });
  });
});

describe('Nice', () => {
  test('is ignored with a warning at its file:line:col, as conntrackd 1.4.7 does; nothing is niced', () => {
    const port = fakePort([SELF]);
    const log = recorder();
    applyPrioritySettings(general(' Nice -5'), log, port, SELF);
    assert.deepEqual(port.calls, [[0, SCHED.RR, 99]], 'only the scheduler is touched');
    assert.equal(log.lines.length, 1);
    assert.equal(log.lines[0]![0], 'warning');
    assert.match(log.lines[0]![1], /^k\.conf:2:2: Nice is deprecated and ignored, as conntrackd 1\.4\.7 does/);
  });
});
