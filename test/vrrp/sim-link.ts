import { initialVrrpState, step, type TimerName, type VrrpAction, type VrrpEvent, type VrrpFsmConfig, type VrrpRole, type VrrpState } from '../../src/vrrp/fsm.js';

/**
 * SimLink is a pure, deterministic discrete-event simulation of VRRP routers on one link, for the
 * convergence properties: simulated time in microseconds, an event queue ordered by (time, insertion
 * order), timers as queue entries invalidated by a generation counter, adverts delivered to every
 * other running router after a per-packet delay from a seeded PRNG. No real timers, no clock.
 */

interface Entry {
  readonly at: number;
  readonly seq: number;
  readonly router: number;
  readonly event: VrrpEvent;
  /** For timer entries: the generation it was armed in (stale when the router re-armed or cancelled since). */
  readonly gen?: number;
}

interface Router {
  readonly vr: number;
  state: VrrpState;
  running: boolean;
  mutedUntil: number;
  readonly gen: Record<TimerName, number>;
}

/** Transition is one recorded role change, for failure messages. */
export interface Transition {
  readonly at: number;
  readonly router: number;
  readonly from: VrrpRole;
  readonly to: VrrpRole;
  readonly reason: string;
}

/** mulberry32: a tiny seeded PRNG (deterministic delays). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimLink {
  now = 0;
  private seq = 0;
  private readonly queue: Entry[] = [];
  private readonly routers: Router[];
  private readonly random: () => number;
  readonly log: Transition[] = [];
  steps = 0;

  constructor(
    readonly configs: readonly VrrpFsmConfig[],
    seed: number,
    private readonly maxDelayUs = 2_000,
    /** stepBudget bounds the run: an advert storm (two masters answering each other forever) fails instead of hanging. */
    private readonly stepBudget = 200_000,
    /** vrOf[i] is the virtual router (VRID) router i belongs to: adverts reach the same VR only. Default: all one VR. */
    vrOf: readonly number[] = [],
    /** onAction sees every action after the router's state was updated (sync-group wiring in tests). */
    private readonly onAction?: (router: number, action: VrrpAction) => void,
  ) {
    this.routers = configs.map((c, i) => ({ vr: vrOf[i] ?? 0, state: initialVrrpState(c), running: false, mutedUntil: 0, gen: { adver: 0, masterDown: 0, preemptDelay: 0 } }));
    this.random = mulberry32(seed);
  }

  role(i: number): VrrpRole {
    return this.routers[i]!.state.role;
  }
  running(i: number): boolean {
    return this.routers[i]!.running;
  }
  state(i: number): VrrpState {
    return this.routers[i]!.state;
  }

  /** start boots router i (no-op if it runs). */
  start(i: number): void {
    const r = this.routers[i]!;
    if (r.running) return;
    r.running = true;
    this.feed(i, { kind: 'startup' });
  }

  /** stop shuts router i down gracefully (a master resigns with priority 0). */
  stop(i: number): void {
    const r = this.routers[i]!;
    if (!r.running) return;
    this.feed(i, { kind: 'shutdown' });
    r.running = false;
  }

  /** crash kills router i silently: no advert, its timers die, it restarts from Initialize. */
  crash(i: number): void {
    const r = this.routers[i]!;
    if (!r.running) return;
    r.running = false;
    for (const t of ['adver', 'masterDown', 'preemptDelay'] as const) r.gen[t]++;
    if (r.state.role !== 'initialize') this.log.push({ at: this.now, router: i, from: r.state.role, to: 'initialize', reason: 'crash' });
    r.state = initialVrrpState(this.configs[i]!);
  }

  /** mute drops everything router i sends for `us` microseconds (a one-way link failure). */
  mute(i: number, us: number): void {
    this.routers[i]!.mutedUntil = this.now + us;
  }

  setPriority(i: number, priority: number): void {
    if (this.routers[i]!.running) this.feed(i, { kind: 'priority', priority });
  }

  /** runUntil processes every queued event up to time `t` and leaves `now` at `t`. */
  runUntil(t: number): void {
    for (;;) {
      const next = this.queue[0];
      if (next === undefined || next.at > t) break;
      this.queue.shift();
      this.now = next.at;
      const r = this.routers[next.router]!;
      if (!r.running) continue;
      if (next.event.kind === 'timer' && next.gen !== r.gen[next.event.timer]) continue;
      this.feed(next.router, next.event);
    }
    this.now = t;
  }

  /** feed steps router i with an event now (used for group orders and tracking events); ignored when it is down. */
  feed(i: number, e: VrrpEvent): void {
    const r = this.routers[i]!;
    if (!r.running && e.kind !== 'startup') return;
    const { state, actions } = step(r.state, e);
    r.state = state;
    if (++this.steps > this.stepBudget) throw new Error(`simulation exceeded ${this.stepBudget} steps at ${this.now} µs: an advert storm or a timer loop`);
    for (const a of actions) {
      this.apply(i, a);
      this.onAction?.(i, a);
    }
  }

  private apply(i: number, a: VrrpAction): void {
    const r = this.routers[i]!;
    switch (a.kind) {
      case 'sendAdvert': {
        if (this.now < r.mutedUntil) return;
        const cfg = this.configs[i]!;
        this.routers.forEach((peer, j) => {
          if (j === i || peer.vr !== r.vr) return;
          const delay = 1 + Math.floor(this.random() * this.maxDelayUs);
          this.push({ at: this.now + delay, router: j, event: { kind: 'advert', priority: a.priority, src: cfg.primaryAddress, advertIntUs: cfg.advertIntUs } });
        });
        return;
      }
      case 'armTimer':
        r.gen[a.timer]++;
        this.push({ at: this.now + a.us, router: i, event: { kind: 'timer', timer: a.timer }, gen: r.gen[a.timer] });
        return;
      case 'cancelTimer':
        r.gen[a.timer]++;
        return;
      case 'transition':
        this.log.push({ at: this.now, router: i, from: a.from, to: a.to, reason: a.reason });
        return;
      default:
        return; // notify, notifyLowerPriority, wantMaster: nothing to simulate for a single virtual router
    }
  }

  private push(e: Omit<Entry, 'seq'>): void {
    const entry: Entry = { ...e, seq: this.seq++ };
    // Binary search for the insertion point: ordered by time, then insertion order.
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.queue[mid]!;
      if (m.at < entry.at || (m.at === entry.at && m.seq < entry.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, entry);
  }
}
