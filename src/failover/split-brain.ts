import type { TimerPort } from './router.js';

/**
 * SplitBrainWatch keeps count of a split brain on one instance: while master it heard an advert of
 * another master of its VRID with a lower priority (or its own priority from a lower address) — a
 * backup never sends adverts, so the other side is master too and both hold the VIPs. (An advert
 * that makes this master yield is the protocol's ordinary handover, preemption included, and is not
 * counted.) Resolution is the state machine's: the higher one answers every such advert at once, and
 * the other yields as soon as it hears one.
 *
 * The episode is active until no such advert came for `quietUs` (Master_Down_Interval and one more
 * interval: the other side has yielded or gone) or this side leaves master. The log says when an
 * episode starts and ends, and in between at most every LOG_EVERY_US that it goes on.
 */

/** HANDOVER_SLACK_US: transit and scheduling on top of the old master's advert interval (µs). */
const HANDOVER_SLACK_US = 10_000;

/**
 * inHandover tells whether an advert of a lower priority, heard as master, belongs to the ordinary
 * handover: the master we took over from may have had one advert in flight when our claim went
 * out, so one that *arrived* within one of its advert intervals (and a little) of the claim, or
 * before it, is not a split brain. Arrival, not reading: a router held up just after its claim (a
 * starved CPU) reads the old master's last advert late, and must not count it. All in the timers'
 * µs; `claimedAtUs` undefined: not claimed yet.
 */
export function inHandover(arrivalUs: number, claimedAtUs: number | undefined, peerIntervalUs: number): boolean {
  return claimedAtUs !== undefined && arrivalUs - claimedAtUs <= peerIntervalUs + HANDOVER_SLACK_US;
}

/**
 * arrivalOnTimers maps the kernel's arrival stamp of an advert (CLOCK_REALTIME µs) onto the timers'
 * monotonic µs: now less its age. Without a stamp, or with one from the future (the realtime
 * clock stepped back meanwhile), the advert counts as arriving now.
 */
export function arrivalOnTimers(nowUs: number, realtimeNowUs: number, arrivedUs: number | undefined): number {
  return arrivedUs === undefined ? nowUs : nowUs - Math.max(0, realtimeNowUs - arrivedUs);
}

/** SplitBrainStatus is what status shows. */
export interface SplitBrainStatus {
  /** Adverts of another master heard, since start. */
  readonly count: number;
  /** Episodes: times a split brain started. */
  readonly episodes: number;
  readonly lastPeer: string;
  readonly lastPeerPriority: number;
  /** Date.now() of the last one. */
  readonly lastAtMs: number;
  readonly active: boolean;
}

export type SplitBrainLog = (level: 'warning' | 'notice', message: string) => void;

/** LOG_EVERY_US: the "still going on" message at most this often (µs). */
const LOG_EVERY_US = 10_000_000;

export class SplitBrainWatch {
  count = 0;
  private episodes = 0;
  private episodeCount = 0;
  private lastPeer = '';
  private lastPeerPriority = 0;
  private lastAtMs = 0;
  private lastLogUs = 0;
  private quiet: unknown;

  constructor(
    private readonly instance: string,
    private readonly timers: TimerPort,
    private readonly log: SplitBrainLog,
    private readonly quietUs: number,
  ) {}

  get active(): boolean {
    return this.quiet !== undefined;
  }

  /** heard: the master heard `peer` advertise `priority` (ours: `own`). */
  heard(peer: string, priority: number, own: number): void {
    this.count++;
    this.episodeCount++;
    this.lastPeer = peer;
    this.lastPeerPriority = priority;
    this.lastAtMs = Date.now();
    const now = this.timers.nowUs();
    if (this.quiet === undefined) {
      this.episodes++;
      this.episodeCount = 1;
      this.lastLogUs = now;
      this.log('warning', `(${this.instance}) split brain: ${peer} is master too (its priority ${priority}, ours ${own}); answering with our advert`);
    } else {
      this.timers.clear(this.quiet);
      if (now - this.lastLogUs >= LOG_EVERY_US) {
        this.lastLogUs = now;
        this.log('warning', `(${this.instance}) split brain with ${peer} goes on (${this.episodeCount} adverts of another master so far)`);
      }
    }
    this.quiet = this.timers.set(this.quietUs, () => this.end('the other master is silent'));
  }

  /** leftMaster ends an episode: this side yielded (or failed). */
  leftMaster(): void {
    if (this.quiet !== undefined) this.end('this router left master');
  }

  private end(why: string): void {
    if (this.quiet !== undefined) this.timers.clear(this.quiet);
    this.quiet = undefined;
    this.log('notice', `(${this.instance}) split brain with ${this.lastPeer} over: ${why} (${this.episodeCount} adverts of another master)`);
  }

  status(): SplitBrainStatus {
    return { count: this.count, episodes: this.episodes, lastPeer: this.lastPeer, lastPeerPriority: this.lastPeerPriority, lastAtMs: this.lastAtMs, active: this.active };
  }

  close(): void {
    if (this.quiet !== undefined) this.timers.clear(this.quiet);
    this.quiet = undefined;
  }
}
