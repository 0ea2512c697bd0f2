import { step, initialVrrpState, type NotifyState, type TimerName, type TransitionReason, type VrrpAction, type VrrpEvent, type VrrpFsmConfig, type VrrpRole, type VrrpState } from '../vrrp/fsm.js';

/**
 * The runtime of one virtual router: it feeds events to the pure state machine (vrrp/fsm.ts), runs
 * its timers and carries out its actions in the order that keeps connections alive:
 *
 *   becoming master  advert at once (claims the router: the other backups keep quiet), then the
 *                    replicated state into the kernel, then the VIPs, then gratuitous ARP / NA,
 *                    then the notify scripts — none of which sits in front of the next step;
 *                    preempting a master that is alive, the state comes first and the advert
 *                    after it: the old master keeps the VIPs and forwards while we commit, and
 *                    lets them go only when our advert says we are ready;
 *   leaving master   announcements stop, the VIPs go first, then the state work, then notify.
 *
 * The takeover steps are asynchronous (a commit takes a while); adverts and timers go on meanwhile.
 * A takeover overtaken by a demotion stops before adding VIPs. Everything outside (sockets,
 * addresses, the sync engine, scripts, the clock) comes in through RouterPorts.
 */

/** TimerPort is a monotonic clock and one-shot timers, in microseconds. */
export interface TimerPort {
  nowUs(): number;
  set(us: number, fn: () => void): unknown;
  clear(handle: unknown): void;
}

/** RouterPorts is what a router does to the world. */
export interface RouterPorts {
  readonly timers: TimerPort;
  /** sendAdvert sends one advertisement with this priority (0 = resigning). */
  sendAdvert(priority: number): void;
  /** prepareState resolves once the replicated state is in the kernel (commit, or nothing to do). */
  prepareState(reason: TransitionReason): Promise<void>;
  /** addVips / removeVips add or remove the virtual addresses (idempotent). */
  addVips(): Promise<void>;
  removeVips(): Promise<void>;
  /** announce starts the gratuitous ARP / unsolicited NA bursts; stopAnnouncing ends any pending repeats. */
  announce(): void;
  stopAnnouncing(): void;
  /** releaseState is the state work of entering a role other than master (after the VIPs are gone, when there were any). */
  releaseState(to: VrrpRole, from: VrrpRole): Promise<void>;
  notify(state: NotifyState, priority: number): void;
  notifyLowerPriority(src: string, priority: number): void;
  /** wantMaster: a sync-group member is ready to be master (the manager asks its group). */
  wantMaster(): void;
  /** ownFault: the router's own fault started or ended (a sync group follows it). */
  ownFault?(active: boolean): void;
  /** record is told each transition and takeover step, for status and logs. */
  record(entry: TimelineEntry): void;
}

/** TimelineEntry is one step of a transition, timestamped (µs of TimerPort.nowUs). */
export type TimelineEntry =
  | { readonly step: 'transition'; readonly atUs: number; readonly from: VrrpRole; readonly to: VrrpRole; readonly reason: TransitionReason }
  | { readonly step: 'state-ready' | 'claimed' | 'vips-added' | 'announced' | 'vips-removed' | 'state-released'; readonly atUs: number }
  | { readonly step: 'failed'; readonly atUs: number; readonly what: string; readonly message: string };

/** A master heard within this many of its advert intervals is alive (a dead one is silent for three and more). */
const LIVE_MASTER_INTERVALS = 2;

export class VirtualRouter {
  private s: VrrpState;
  private readonly pending = new Map<TimerName, unknown>();
  /** Transition work, one after the other. */
  private work: Promise<void> = Promise.resolve();
  /** Bumped by every transition: a takeover whose generation is no longer current stops. */
  private generation = 0;
  private vipsUp = false;
  /** The last advert heard from another router with priority > 0 (µs of TimerPort.nowUs). */
  private lastHeard: { readonly atUs: number; readonly priority: number } | undefined;
  /** Set while preempting a live master: our adverts wait for the replicated state to be in. */
  private claimHeld = false;

  constructor(
    readonly name: string,
    config: VrrpFsmConfig,
    private readonly ports: RouterPorts,
  ) {
    this.s = initialVrrpState(config);
  }

  get state(): VrrpState {
    return this.s;
  }

  /** handle applies one event and carries out the resulting actions. */
  handle(e: VrrpEvent): void {
    if (e.kind === 'advert' && e.priority > 0) this.lastHeard = { atUs: this.ports.timers.nowUs(), priority: e.priority };
    const r = step(this.s, e);
    // Decided before any action runs: the FSM's first advert as master precedes its transition.
    const t = r.actions.find((a) => a.kind === 'transition');
    if (t !== undefined) this.claimHeld = t.to === 'master' && this.preemptsLiveMaster(t.reason);
    this.s = r.state;
    for (const a of r.actions) this.execute(a);
  }

  /** settled resolves once the transition work queued so far is done (tests, shutdown). */
  settled(): Promise<void> {
    return this.work;
  }

  private execute(a: VrrpAction): void {
    switch (a.kind) {
      case 'sendAdvert':
        if (this.claimHeld && a.priority > 0) return; // the advert goes out once the state is in
        this.ports.sendAdvert(a.priority);
        return;
      case 'armTimer': {
        this.cancel(a.timer);
        const h = this.ports.timers.set(a.us, () => {
          if (this.pending.get(a.timer) !== h) return;
          this.pending.delete(a.timer);
          this.handle({ kind: 'timer', timer: a.timer });
        });
        this.pending.set(a.timer, h);
        return;
      }
      case 'cancelTimer':
        this.cancel(a.timer);
        return;
      case 'transition':
        this.transition(a.from, a.to, a.reason);
        return;
      case 'notify':
        // After the transition's own work (queued before it), never in its way.
        this.then(async () => this.ports.notify(a.state, a.priority));
        return;
      case 'notifyLowerPriority':
        // Before our claim the master we are taking over from is expected to go on: no split brain.
        if (this.claimHeld) return;
        this.ports.notifyLowerPriority(a.src, a.priority);
        return;
      case 'wantMaster':
        this.ports.wantMaster();
        return;
      case 'ownFault':
        this.ports.ownFault?.(a.active);
        return;
      default: {
        const never: never = a;
        throw new TypeError(`unknown VRRP action ${JSON.stringify(never)}`);
      }
    }
  }

  private cancel(t: TimerName): void {
    const h = this.pending.get(t);
    if (h === undefined) return;
    this.ports.timers.clear(h);
    this.pending.delete(t);
  }

  private transition(from: VrrpRole, to: VrrpRole, reason: TransitionReason): void {
    const gen = ++this.generation;
    const now = (): number => this.ports.timers.nowUs();
    this.ports.record({ step: 'transition', atUs: now(), from, to, reason });
    if (to === 'master') {
      this.then(async () => {
        if (gen !== this.generation) return;
        await this.attempt('state', () => this.ports.prepareState(reason));
        this.ports.record({ step: 'state-ready', atUs: now() });
        if (gen !== this.generation) return; // demoted meanwhile: no VIPs
        if (this.claimHeld) {
          this.claimHeld = false;
          this.ports.sendAdvert(this.s.effectivePriority);
          this.ports.record({ step: 'claimed', atUs: now() });
        }
        await this.attempt('vips', () => this.ports.addVips());
        this.vipsUp = true;
        this.ports.record({ step: 'vips-added', atUs: now() });
        if (gen !== this.generation) return;
        this.ports.announce();
        this.ports.record({ step: 'announced', atUs: now() });
      });
      return;
    }
    if (from !== 'master' && !this.vipsUp) {
      // backup ↔ fault, initialize → backup: no VIPs to remove, the state work only (a node back
      // from FAULT asks the master for its table).
      this.then(async () => {
        await this.attempt('state', () => this.ports.releaseState(to, from));
        this.ports.record({ step: 'state-released', atUs: now() });
      });
      return;
    }
    this.ports.stopAnnouncing();
    this.then(async () => {
      if (this.vipsUp) {
        this.vipsUp = false;
        await this.attempt('vips', () => this.ports.removeVips());
        this.ports.record({ step: 'vips-removed', atUs: now() });
      }
      await this.attempt('state', () => this.ports.releaseState(to, from));
      this.ports.record({ step: 'state-released', atUs: now() });
    });
  }

  /**
   * preemptsLiveMaster: this transition to master takes over from a master still advertising (a
   * lower priority heard within the last two advert intervals), not from a dead one — there is no
   * hurry to claim the router, and every millisecond of commit after the claim is one without
   * VIPs. A master that is down has been silent for Master_Down_Interval (three intervals and
   * more): claiming at once then keeps a returning router from taking over meanwhile.
   */
  private preemptsLiveMaster(reason: TransitionReason): boolean {
    if (reason !== 'preempt' && reason !== 'group') return false;
    const h = this.lastHeard;
    return h !== undefined && h.priority < this.s.effectivePriority && this.ports.timers.nowUs() - h.atUs < LIVE_MASTER_INTERVALS * this.s.masterAdverIntUs;
  }

  /** attempt runs one takeover step; a failure is recorded and the sequence goes on (a VIP without state beats no VIP). */
  private async attempt(what: string, f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (e) {
      this.ports.record({ step: 'failed', atUs: this.ports.timers.nowUs(), what, message: e instanceof Error ? e.message : String(e) });
    }
  }

  private then(f: () => Promise<void>): void {
    this.work = this.work.then(f, f);
  }

  /** stop cancels the timers (after a shutdown event has been handled). */
  stop(): void {
    for (const t of [...this.pending.keys()]) this.cancel(t);
  }
}
