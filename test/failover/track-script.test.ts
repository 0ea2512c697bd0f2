// vrrp_script runs as keepalived 2.2.7 runs them: the rise/fall counter (vrrp_scheduler.c
// vrrp_script_child_thread) as a pure step, and the runner with real child processes (/bin/sh):
// exit status, timeouts, init_fail, and that a script never blocks the event loop.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { VrrpScript } from '../../src/config/keepalived/types.js';
import { ScriptRunner } from '../../src/failover/script-runner.js';
import { realTimers } from '../../src/failover/timers.js';
import { ScriptTracker, initialProgress, scriptStep, type ScriptProgress } from '../../src/failover/track-script.js';
import type { TrackState } from '../../src/failover/track-weights.js';
import { until } from '../helpers/until.js';

/** run feeds outcomes ('+' success, '-' failure) and returns the reports, '.' where there was none. */
function run(s: { rise: number; fall: number; initFail: boolean }, outcomes: string): string {
  let p: ScriptProgress = initialProgress(s);
  let out = '';
  for (const o of outcomes) {
    const r = scriptStep(p, s, o === '+');
    p = r.progress;
    out += r.report === 'up' ? 'U' : r.report === 'down' ? 'D' : '.';
  }
  return out;
}

describe('scriptStep (rise / fall)', () => {
  it('before the first result one run decides, whatever rise and fall', () => {
    assert.equal(run({ rise: 3, fall: 2, initFail: false }, '+'), 'U');
    assert.equal(run({ rise: 3, fall: 2, initFail: false }, '-'), 'D');
  });

  it('a good script fails after `fall` failures in a row; a failed one is good after `rise` successes in a row', () => {
    const s = { rise: 3, fall: 2, initFail: false };
    assert.equal(run(s, '+-+-+--'), 'U.....D');
    assert.equal(run(s, '+--++-+++'), 'U.D.....U');
  });

  it('init_fail starts failed: no report until `rise` successes', () => {
    assert.equal(run({ rise: 2, fall: 1, initFail: true }, '--++'), '...U');
    assert.equal(run({ rise: 1, fall: 1, initFail: true }, '+'), 'U');
  });
});

const dir = mkdtempSync(join(tmpdir(), 'ks-trackscript-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function vrrpScript(argv: string[], over: Partial<VrrpScript> = {}): VrrpScript {
  return { name: 'chk', loc: { file: 'test', line: 1, col: 1 }, command: { argv, loc: { file: 'test', line: 1, col: 1 } }, intervalUs: 100_000, weight: 0, reverse: false, rise: 1, fall: 1, initFail: false, ...over } as VrrpScript;
}

describe('ScriptTracker (real child processes)', () => {
  it("reports up for exit 0 and down for /bin/sh -c 'exit 1', following a file the test toggles", async () => {
    const flag = join(dir, 'ok');
    const seen: TrackState[] = [];
    const t = new ScriptTracker(vrrpScript(['/bin/sh', '-c', `test -e ${flag}`], { fall: 2 }), realTimers, () => {}, (s) => seen.push(s));
    t.start();
    try {
      await until('first verdict', () => seen.length === 1);
      assert.deepEqual(seen, ['down']);
      writeFileSync(flag, '');
      await until('up', () => t.state === 'up');
      rmSync(flag);
      await until('down again', () => t.state === 'down');
      assert.deepEqual(seen, ['down', 'up', 'down']);
      assert.ok(t.stats.runs >= 4, 'fall 2: at least two failed runs after the good one');
    } finally {
      t.stop();
    }
  });

  it("exit 1 is failure, a missing command is failure", async () => {
    for (const argv of [['/bin/sh', '-c', 'exit 1'], [join(dir, 'no-such-script')]]) {
      const t = new ScriptTracker(vrrpScript(argv), realTimers, () => {}, () => {});
      t.start();
      try {
        await until(`${argv.join(' ')} failed`, () => t.state === 'down');
      } finally {
        t.stop();
      }
    }
  });

  it('a run past its timeout is killed (its process group) and counts as failure; the event loop runs on meanwhile', async () => {
    const logs: string[] = [];
    const t = new ScriptTracker(vrrpScript(['/bin/sh', '-c', 'sleep 30 & wait'], { intervalUs: 1_000_000, timeoutUs: 200_000 }), realTimers, (_l, m) => logs.push(m), () => {});
    let ticks = 0;
    const tick = setInterval(() => ticks++, 10);
    t.start();
    try {
      await until('timed out', () => t.state === 'down');
      assert.ok(t.stats.timeouts >= 1);
      assert.ok(logs.some((l) => /VRRP_Script\(chk\) timed_out/.test(l)), logs.join('\n'));
      assert.ok(ticks > 0, 'timers kept firing while the script ran');
    } finally {
      clearInterval(tick);
      t.stop();
    }
  });

  it('init_fail: down before the first run, up after rise successes', async () => {
    const seen: TrackState[] = [];
    const t = new ScriptTracker(vrrpScript(['/bin/true'], { initFail: true, rise: 2 }), realTimers, () => {}, (s) => seen.push(s));
    assert.equal(t.state, 'down');
    t.start();
    try {
      await until('up', () => t.state === 'up');
      assert.deepEqual(seen, ['up']);
      assert.ok(t.stats.runs >= 2);
    } finally {
      t.stop();
    }
  });
});

describe('ScriptTracker through the script runner (as in the failover process)', () => {
  const runner = ScriptRunner.start(() => undefined);
  after(() => runner.close());

  it('success, failure, a missing command and a timeout come back as they do from a child of its own', async () => {
    const cases: [string[], TrackState, Partial<VrrpScript>][] = [
      [['/bin/true'], 'up', {}],
      [['/bin/sh', '-c', 'exit 1'], 'down', {}],
      [[join(dir, 'no-such-script')], 'down', {}],
      [['/bin/sh', '-c', 'sleep 30 & wait'], 'down', { intervalUs: 1_000_000, timeoutUs: 200_000 }],
    ];
    for (const [argv, want, opts] of cases) {
      const logs: string[] = [];
      const t = new ScriptTracker(vrrpScript(argv, opts), realTimers, (_l, m) => logs.push(m), () => {}, undefined, runner.spawn);
      t.start();
      try {
        await until(`${argv.join(' ')} ${want}`, () => t.state === want);
        if (opts.timeoutUs !== undefined) assert.ok(logs.some((l) => /timed_out/.test(l)), logs.join('\n'));
      } finally {
        t.stop();
      }
    }
  });
});
