import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { LogLevel, Logger } from '../../src/daemon/log.js';
import { KernelPurge, type PurgeTarget } from '../../src/daemon/purge.js';

/**
 * `-t` and `-F` as conntrackd 1.4.7 runs them (src/sync-mode.c RESET_TIMERS, do_reset_cache_alarm;
 * src/ctnl.c local_flush_master), on a mocked clock. The target records what would reach the
 * kernel and the cache; test/kernel/keepstated-purge.test.ts does it against a real kernel table.
 */

interface Recorded {
  readonly target: PurgeTarget;
  readonly calls: string[];
  readonly lines: string[];
  readonly log: Logger;
}

function record(failKernel = false): Recorded {
  const calls: string[] = [];
  const lines: string[] = [];
  return {
    calls,
    lines,
    target: {
      flushKernel: () => {
        calls.push('kernel');
        return failKernel ? Promise.reject(new Error('EPERM')) : Promise.resolve();
      },
      flushInternalCache: () => void calls.push('internal'),
    },
    log: { log: (level: LogLevel, m: string) => void lines.push(`[${level}] ${m}`) },
  };
}

describe('KernelPurge: -t schedules a kernel flush in PurgeTimeout seconds', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('flushes the kernel table and the internal cache once the delay has passed, not before', () => {
    const r = record();
    const p = new KernelPurge(60, r.target, r.log);
    p.schedule();
    assert.deepEqual(r.lines, ['[notice] flushing conntrack table in 60 secs']);
    assert.equal(p.pending, true);
    mock.timers.tick(59_999);
    assert.deepEqual(r.calls, [], 'nothing before PurgeTimeout');
    mock.timers.tick(1);
    assert.deepEqual(r.calls, ['kernel', 'internal']);
    assert.deepEqual(r.lines.slice(1), ['[notice] flushing kernel conntrack table (scheduled)']);
    assert.equal(p.pending, false);
    assert.equal(p.flushes, 1);
  });

  it('a second -t while armed neither re-arms nor logs: the first deadline stands', () => {
    const r = record();
    const p = new KernelPurge(10, r.target, r.log);
    p.schedule();
    mock.timers.tick(6_000);
    p.schedule();
    assert.equal(r.lines.length, 1);
    mock.timers.tick(4_000);
    assert.deepEqual(r.calls, ['kernel', 'internal'], 'fired 10 s after the first -t');
    mock.timers.tick(60_000);
    assert.deepEqual(r.calls, ['kernel', 'internal'], 'and only once');
  });

  it('cancel (a cache flush, shutdown) disarms it; -t afterwards arms it afresh', () => {
    const r = record();
    const p = new KernelPurge(5, r.target, r.log);
    p.schedule();
    p.cancel();
    assert.equal(p.pending, false);
    mock.timers.tick(10_000);
    assert.deepEqual(r.calls, []);
    p.schedule();
    assert.equal(r.lines.filter((l) => l.includes('in 5 secs')).length, 2, 'logged again: it was not armed');
    mock.timers.tick(5_000);
    assert.deepEqual(r.calls, ['kernel', 'internal']);
    p.cancel(); // nothing armed: harmless
  });

  it('-t after a scheduled flush has run arms a new one', () => {
    const r = record();
    const p = new KernelPurge(1, r.target, r.log);
    p.schedule();
    mock.timers.tick(1_000);
    p.schedule();
    mock.timers.tick(1_000);
    assert.deepEqual(r.calls, ['kernel', 'internal', 'kernel', 'internal']);
    assert.equal(p.flushes, 2);
  });

  it('a failing kernel flush is logged as an error; the internal cache is still flushed', async () => {
    const r = record(true);
    const p = new KernelPurge(1, r.target, r.log);
    p.schedule();
    mock.timers.tick(1_000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(r.calls, ['kernel', 'internal']);
    assert.match(r.lines.at(-1) ?? '', /^\[error\] scheduled flush of the kernel conntrack table failed: EPERM$/);
  });
});

describe('KernelPurge: -F flushes at once', () => {
  it('logs as conntrackd, counts the flush, leaves the internal cache and a scheduled flush alone', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const r = record();
      const p = new KernelPurge(30, r.target, r.log);
      p.schedule();
      await p.now();
      assert.deepEqual(r.calls, ['kernel']);
      assert.deepEqual(r.lines, ['[notice] flushing conntrack table in 30 secs', '[notice] flushing kernel conntrack table']);
      assert.equal(p.flushes, 1);
      assert.equal(p.pending, true, '-F does not disarm -t (conntrackd does not either)');
      mock.timers.tick(30_000);
      assert.equal(p.flushes, 2);
    } finally {
      mock.timers.reset();
    }
  });

  it('a failing -F rejects (the client request fails)', async () => {
    const r = record(true);
    await assert.rejects(new KernelPurge(60, r.target, r.log).now(), /EPERM/);
  });
});
