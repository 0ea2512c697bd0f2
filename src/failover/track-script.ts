import type { ScriptUsers } from './script-user.js';
import { spawnHere, type ScriptHandle, type SpawnScript } from './script-spawn.js';
import type { VrrpScript } from '../config/keepalived/types.js';
import type { TimerPort } from './router.js';
import type { TrackState } from './track-weights.js';

/**
 * A vrrp_script run as keepalived 2.2.7 runs it (vrrp_scheduler.c vrrp_script_thread /
 * vrrp_script_child_thread): every `interval` the command is started as a child process of its own
 * process group (never waited for on the thread: its exit comes back as an event), exit status 0 is
 * success, anything else — another status, a signal, a failure to start — is failure. A run that
 * outlives `timeout` (default: the interval) gets SIGTERM on its process group, SIGKILL two seconds
 * later, and counts as failure ("timed_out").
 *
 * `rise` successes in a row make a failed script good, `fall` failures in a row a good one failed;
 * before its first result a script is not known (one result decides), unless `init_fail` starts it
 * failed.
 */

/** ScriptProgress is keepalived's `result` counter (good when ≥ rise) and whether no result came yet. */
export interface ScriptProgress {
  readonly result: number;
  readonly init: boolean;
}

/** initialProgress: init_fail starts failed (result 0); otherwise one result decides (result rise − 1). */
export function initialProgress(s: Pick<VrrpScript, 'rise' | 'initFail'>): ScriptProgress {
  return s.initFail ? { result: 0, init: false } : { result: s.rise - 1, init: true };
}

/** initialState is the TrackState before the first run. */
export function initialState(s: Pick<VrrpScript, 'initFail'>): TrackState {
  return s.initFail ? 'down' : 'unknown';
}

/** scriptStep applies one run's outcome; `report` is set when the script's verdict changes (keepalived update_script_priorities). */
export function scriptStep(p: ScriptProgress, s: Pick<VrrpScript, 'rise' | 'fall'>, ok: boolean): { readonly progress: ScriptProgress; readonly report?: 'up' | 'down' } {
  const top = s.rise + s.fall - 1;
  if (ok) {
    if (p.result < s.rise - 1) return { progress: { result: p.result + 1, init: false } };
    if (p.result === top) return { progress: { result: top, init: false } };
    const becameGood = p.result < s.rise;
    return { progress: { result: top, init: false }, ...(becameGood ? { report: 'up' as const } : {}) };
  }
  if (p.result > s.rise) return { progress: { result: p.result - 1, init: false } };
  const becameBad = p.result === s.rise || p.init;
  return { progress: { result: 0, init: false }, ...(becameBad ? { report: 'down' as const } : {}) };
}

/** ScriptRunLog receives keepalived-like messages about a script. */
export type ScriptRunLog = (level: 'warning' | 'info', message: string) => void;

/** KILL_GRACE_US: how long a timed-out script has between SIGTERM and SIGKILL (keepalived: 2 s). */
const KILL_GRACE_US = 2_000_000;

/** ScriptTracker runs one vrrp_script and reports its verdict changes. */
export class ScriptTracker {
  private progress: ScriptProgress;
  private verdict: TrackState;
  private child: ScriptHandle | undefined;
  private timedOut = false;
  private lastStatus: number | undefined;
  private tick: unknown;
  private killTimer: unknown;
  private stopped = false;
  /** Counters for status: runs started, runs skipped because the previous one was still running. */
  readonly stats = { runs: 0, skipped: 0, timeouts: 0 };

  constructor(
    readonly script: VrrpScript,
    private readonly timers: TimerPort,
    private readonly log: ScriptRunLog,
    private readonly onChange: (state: TrackState) => void,
    /** Whom the script runs as (its `user`, else script_user); undefined: as this process. */
    private readonly users?: ScriptUsers,
    /** How the script is started (the failover process: its script runner). */
    private readonly spawn: SpawnScript = spawnHere,
  ) {
    this.progress = initialProgress(script);
    this.verdict = initialState(script);
  }

  get state(): TrackState {
    return this.verdict;
  }

  /** start runs the script now and then every interval. */
  start(): void {
    const loop = (): void => {
      if (this.stopped) return;
      this.tick = this.timers.set(this.script.intervalUs, loop);
      this.runOnce();
    };
    loop();
  }

  private runOnce(): void {
    if (this.child !== undefined) {
      // keepalived logs and starts another one anyway; overlapping runs only pile up, so skip.
      this.stats.skipped++;
      this.log('info', `Track script ${this.script.name} is already running, expect idle - skipping run`);
      return;
    }
    const [cmd, ...args] = this.script.command.argv;
    if (cmd === undefined) return;
    const sc = this.script;
    const runAs = this.users === undefined ? {} : this.users.runAs({ argv: sc.command.argv, user: sc.user ?? sc.command.user, group: sc.user !== undefined ? sc.group : sc.command.group, loc: sc.loc }, `track script ${sc.name}`);
    if (runAs === undefined) return;
    this.stats.runs++;
    this.timedOut = false;
    const child = this.spawn(cmd, args, { detached: true, ...runAs });
    this.child = child;
    const timeoutUs = this.script.timeoutUs ?? this.script.intervalUs;
    let deadline: unknown = this.timers.set(timeoutUs, () => {
      deadline = undefined;
      this.timedOut = true;
      this.stats.timeouts++;
      child.signal('SIGTERM');
      this.killTimer = this.timers.set(KILL_GRACE_US, () => child.signal('SIGKILL'));
    });
    let done = false;
    const finish = (ok: boolean, how: string, status?: number): void => {
      if (done) return;
      done = true;
      if (deadline !== undefined) this.timers.clear(deadline);
      if (this.killTimer !== undefined) this.timers.clear(this.killTimer);
      this.killTimer = undefined;
      this.child = undefined;
      if (status !== undefined && status !== this.lastStatus) this.log('info', `Script \`${this.script.name}\` now returning ${status}`);
      if (status !== undefined) this.lastStatus = status;
      if (!this.stopped) this.result(ok, how);
    };
    child.onError((message) => finish(false, `failed (${message})`));
    child.onExit((code, signal) => {
      if (this.timedOut && signal !== null) {
        child.signal('SIGKILL'); // and whatever it started
        finish(false, 'timed_out');
      } else if (code === 0) finish(true, 'succeeded', 0);
      else if (code !== null) finish(false, `failed (exited with status ${code})`, code);
      else finish(false, `failed (due to signal ${signal ?? '?'})`);
    });
  }

  private result(ok: boolean, how: string): void {
    const r = scriptStep(this.progress, this.script, ok);
    this.progress = r.progress;
    if (r.report === undefined) return;
    this.log('info', `VRRP_Script(${this.script.name}) ${how}`);
    if (r.report === this.verdict) return;
    this.verdict = r.report;
    this.onChange(r.report);
  }

  /** stop ends the schedule and kills a run in progress. */
  stop(): void {
    this.stopped = true;
    if (this.tick !== undefined) this.timers.clear(this.tick);
    if (this.killTimer !== undefined) this.timers.clear(this.killTimer);
    this.child?.signal('SIGKILL');
  }
}
