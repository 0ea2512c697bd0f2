import { addressBytes, type Family } from '../wire/ip.js';
import { VRRP_PRIO } from './consts.js';
import { DEFAULT_DOWN_TIMER_ADVERTS, masterDownIntervalUs, skewTimeUs } from './timing.js';

/**
 * The VRRP state machine of one virtual router (RFC 5798 §6.4 / RFC 3768 §6.4, failover-and-peers.md
 * §1.7) with keepalived's additions (FAULT, preempt_delay, the answer to a lower-priority advert,
 * sync groups), as a pure function: `step(state, event) → { state, actions }`. It never reads a
 * clock or owns a timer: the runtime executes the actions in order (arming and cancelling its own
 * timers, sending adverts, doing the takeover) and feeds timer expiries back as events.
 *
 * A `transition` action to 'master' is where the runtime runs the ordered takeover (replicated
 * state in the kernel → VIPs → gratuitous ARP / unsolicited NA); a transition *from* 'master'
 * removes the VIPs first. `notify` actions come after the transition, for scripts and the FIFO.
 */

/** VrrpRole: RFC states (Initialize, Backup, Master — RFC 9568's "Active") plus keepalived's FAULT. */
export type VrrpRole = 'initialize' | 'backup' | 'master' | 'fault';

/** VrrpFsmConfig is the static configuration of one virtual router. */
export interface VrrpFsmConfig {
  readonly version: 2 | 3;
  readonly family: Family;
  /** Configured priority: 1..254, or 255 (VRRP_PRIO.OWNER) for the address owner. */
  readonly priority: number;
  /** Advertisement_Interval, microseconds (v2: whole seconds; v3: whole centiseconds). */
  readonly advertIntUs: number;
  /** This router's primary address on the link (IPv4 primary / IPv6 link-local), for the equal-priority tie-break. */
  readonly primaryAddress: string;
  /** Preempt_Mode (RFC default true; keepalived `nopreempt` = false). */
  readonly preempt: boolean;
  /** keepalived `preempt_delay`, microseconds (0 = none): how long a backup keeps accepting a lower-priority master. */
  readonly preemptDelayUs: number;
  /** Accept_Mode (v3): carried for the runtime (accept traffic to the VIPs as a non-owner master); no effect on transitions. */
  readonly acceptMode: boolean;
  /** keepalived `down_timer_adverts` (default 3). */
  readonly downTimerAdverts?: number;
  /** keepalived `lower_prio_no_advert`: a master stays silent when it hears a lower priority (RFC 5798); default false = answer (keepalived, RFC 9568). */
  readonly lowerPrioNoAdvert?: boolean;
  /** Member of a vrrp_sync_group: mastership is granted by the group (sync-group.ts), not taken alone. */
  readonly syncGroup?: boolean;
}

/** MasterSeen is the last master this router heard (for status and the takeover reason). */
export interface MasterSeen {
  readonly address: string;
  readonly priority: number;
}

/** VrrpState is everything the state machine remembers; replace it with each step's result. */
export interface VrrpState {
  readonly config: VrrpFsmConfig;
  readonly role: VrrpRole;
  /** Priority advertised now: the configured one changed by tracking weights or sync-aware demotion. */
  readonly effectivePriority: number;
  /** Master_Adver_Interval, microseconds: v3 learns it from the master's adverts. */
  readonly masterAdverIntUs: number;
  readonly masterSeen?: MasterSeen;
  /** preempt_delay progress: 'running' while a lower-priority master is tolerated, 'expired' once it may be preempted. */
  readonly preemptDelay: 'idle' | 'running' | 'expired';
  /** Sync-group member whose Master_Down_Timer fired: ready to be master, waiting for the group. */
  readonly wantsMaster: boolean;
  /** Why the router is in FAULT: its own tracked objects, and/or its sync group. */
  readonly ownFault: boolean;
  readonly groupFault: boolean;
}

/** TimerName: the RFC's Adver_Timer and Master_Down_Timer, and keepalived's preempt delay. */
export type TimerName = 'adver' | 'masterDown' | 'preemptDelay';

/** GroupOrder is what a sync group tells a member to do (sync-group.ts). */
export type GroupOrder = 'master' | 'backup' | 'fault' | 'release';

export type VrrpEvent =
  | { readonly kind: 'startup' }
  | { readonly kind: 'shutdown' }
  /** A valid advert (validateAdvert passed); advertIntUs is the interval it carries, in microseconds. */
  | { readonly kind: 'advert'; readonly priority: number; readonly src: string; readonly advertIntUs: number }
  | { readonly kind: 'timer'; readonly timer: TimerName }
  /** The effective priority changed while running (track weights, sync-aware demotion). */
  | { readonly kind: 'priority'; readonly priority: number }
  /** A tracked object without weight failed / recovered (keepalived FAULT). */
  | { readonly kind: 'fault' }
  | { readonly kind: 'faultCleared' }
  | { readonly kind: 'group'; readonly order: GroupOrder };

export type TransitionReason =
  | 'startup' // Initialize → Backup
  | 'owner-startup' // Initialize → Master, priority 255
  | 'master-down' // Master_Down_Timer fired: the master fell silent
  | 'master-resigned' // Master_Down_Timer (Skew_Time) fired after a priority-0 advert
  | 'preempt' // Master_Down_Timer fired while discarding a lower-priority master's adverts
  | 'higher-priority' // master heard a higher priority
  | 'equal-priority-higher-address' // master heard its own priority from a higher primary address
  | 'shutdown'
  | 'fault'
  | 'fault-cleared'
  | 'group'; // ordered by the sync group

/** NotifyState: keepalived's notify / FIFO state names. */
export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

export type VrrpAction =
  /** Send an advert with this priority (0 = resigning); the runtime fills VRID, interval and addresses. */
  | { readonly kind: 'sendAdvert'; readonly priority: number }
  /** (Re)arm a timer: it fires `us` microseconds from now, replacing any pending expiry of the same timer. */
  | { readonly kind: 'armTimer'; readonly timer: TimerName; readonly us: number }
  | { readonly kind: 'cancelTimer'; readonly timer: TimerName }
  | { readonly kind: 'transition'; readonly from: VrrpRole; readonly to: VrrpRole; readonly reason: TransitionReason }
  | { readonly kind: 'notify'; readonly state: NotifyState; readonly priority: number }
  /** keepalived notify_master_rx_lower_pri / FIFO MASTER_RX_LOWER_PRI: a master heard a lower priority. */
  | { readonly kind: 'notifyLowerPriority'; readonly src: string; readonly priority: number }
  /** A sync-group member is ready to become master; the runtime asks the group (syncGroupStep). */
  | { readonly kind: 'wantMaster' }
  /** The router's own fault (tracked objects) started or ended; a sync group must re-decide (syncGroupStep). */
  | { readonly kind: 'ownFault'; readonly active: boolean };

export interface StepResult {
  readonly state: VrrpState;
  readonly actions: readonly VrrpAction[];
}

/** initialVrrpState is the Initialize state for a configuration. */
export function initialVrrpState(config: VrrpFsmConfig): VrrpState {
  return {
    config,
    role: 'initialize',
    effectivePriority: config.priority,
    masterAdverIntUs: config.advertIntUs,
    preemptDelay: 'idle',
    wantsMaster: false,
    ownFault: false,
    groupFault: false,
  };
}

/** masterDownUs is the state's Master_Down_Interval (own effective priority, learned interval). */
export function masterDownUs(s: VrrpState): number {
  return masterDownIntervalUs(s.config.version, s.effectivePriority, s.masterAdverIntUs, s.config.downTimerAdverts ?? DEFAULT_DOWN_TIMER_ADVERTS);
}

/** compareAddresses orders two addresses of a family as unsigned big-endian numbers (RFC 5798 §6.4.3, keepalived inet_inaddrcmp). */
export function compareAddresses(a: string, b: string, family: Family): number {
  const x = addressBytes(a, family);
  const y = addressBytes(b, family);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

/** step applies one event to a virtual router. */
export function step(s: VrrpState, e: VrrpEvent): StepResult {
  switch (e.kind) {
    case 'startup':
      return s.role === 'initialize' ? start(s, 'startup') : same(s);
    case 'shutdown':
      return shutdown(s);
    case 'advert':
      if (s.role === 'backup') return backupAdvert(s, e);
      if (s.role === 'master') return masterAdvert(s, e);
      return same(s);
    case 'timer':
      return timer(s, e.timer);
    case 'priority':
      return priority(s, e.priority);
    case 'fault':
      return withOwnFault(s, true, enterFault({ ...s, ownFault: true }, 'fault'));
    case 'faultCleared':
      return withOwnFault(s, false, leaveFault({ ...s, ownFault: false }));
    case 'group':
      return groupOrder(s, e.order);
    default:
      return assertNever(e);
  }
}

function assertNever(x: never): never {
  throw new TypeError(`unknown VRRP event ${JSON.stringify(x)}`);
}

/** withOwnFault reports a change of the own-fault flag after the step's other actions (a group member may be held by its group still). */
function withOwnFault(before: VrrpState, active: boolean, r: StepResult): StepResult {
  if (before.ownFault === active || r.state.ownFault !== active) return r;
  return { state: r.state, actions: [...r.actions, { kind: 'ownFault', active }] };
}

function same(s: VrrpState): StepResult {
  return { state: s, actions: [] };
}

/** start leaves Initialize (or FAULT): the owner becomes master at once, everyone else backup (RFC 5798 §6.4.1). */
function start(s: VrrpState, reason: TransitionReason): StepResult {
  const { masterSeen: _forgotten, ...rest } = s;
  const base: VrrpState = { ...rest, masterAdverIntUs: s.config.advertIntUs, preemptDelay: 'idle', wantsMaster: false };
  if (s.effectivePriority === VRRP_PRIO.OWNER && s.config.syncGroup !== true) {
    return becomeMaster(base, reason === 'startup' ? 'owner-startup' : reason);
  }
  const backup: VrrpState = { ...base, role: 'backup' };
  const actions: VrrpAction[] = [
    { kind: 'armTimer', timer: 'masterDown', us: masterDownUs(backup) },
    { kind: 'transition', from: s.role, to: 'backup', reason },
    { kind: 'notify', state: 'BACKUP', priority: s.effectivePriority },
  ];
  // A sync-group owner is ready at once; the group grants mastership when every member is.
  if (s.effectivePriority === VRRP_PRIO.OWNER) return { state: { ...backup, wantsMaster: true }, actions: [...actions, { kind: 'wantMaster' }] };
  return { state: backup, actions };
}

/**
 * becomeMaster: send an advert first (so that a resigning master hears it before our gratuitous
 * ARPs, as keepalived does), then the transition the runtime turns into state → VIPs → GARP/NA.
 */
function becomeMaster(s: VrrpState, reason: TransitionReason): StepResult {
  const next: VrrpState = { ...s, role: 'master', preemptDelay: 'idle', wantsMaster: false };
  return {
    state: next,
    actions: [
      { kind: 'cancelTimer', timer: 'masterDown' },
      { kind: 'cancelTimer', timer: 'preemptDelay' },
      { kind: 'sendAdvert', priority: s.effectivePriority },
      { kind: 'transition', from: s.role, to: 'master', reason },
      { kind: 'armTimer', timer: 'adver', us: s.config.advertIntUs },
      { kind: 'notify', state: 'MASTER', priority: s.effectivePriority },
    ],
  };
}

/** becomeBackup: a master yields (RFC 5798 §6.4.3); `resign` sends priority 0 first so peers take over after Skew_Time. */
function becomeBackup(s: VrrpState, reason: TransitionReason, resign: boolean): StepResult {
  const next: VrrpState = { ...s, role: 'backup', preemptDelay: 'idle', wantsMaster: false };
  return {
    state: next,
    actions: [
      { kind: 'cancelTimer', timer: 'adver' },
      ...(resign ? [{ kind: 'sendAdvert', priority: VRRP_PRIO.STOP } as const] : []),
      { kind: 'armTimer', timer: 'masterDown', us: masterDownUs(next) },
      { kind: 'transition', from: s.role, to: 'backup', reason },
      { kind: 'notify', state: 'BACKUP', priority: s.effectivePriority },
    ],
  };
}

function shutdown(s: VrrpState): StepResult {
  if (s.role === 'initialize') return same(s);
  const next: VrrpState = { ...s, role: 'initialize', preemptDelay: 'idle', wantsMaster: false, ownFault: false, groupFault: false };
  const actions: VrrpAction[] = [];
  if (s.role === 'master') actions.push({ kind: 'cancelTimer', timer: 'adver' }, { kind: 'sendAdvert', priority: VRRP_PRIO.STOP });
  if (s.role === 'backup') actions.push({ kind: 'cancelTimer', timer: 'masterDown' }, { kind: 'cancelTimer', timer: 'preemptDelay' });
  actions.push({ kind: 'transition', from: s.role, to: 'initialize', reason: 'shutdown' }, { kind: 'notify', state: 'STOP', priority: s.effectivePriority });
  return { state: next, actions };
}

/** backupAdvert is RFC 5798 §6.4.2 "If an ADVERTISEMENT is received", with keepalived's preempt_delay. */
function backupAdvert(s: VrrpState, e: { priority: number; src: string; advertIntUs: number }): StepResult {
  const seen: MasterSeen = { address: e.src, priority: e.priority };
  if (e.priority === VRRP_PRIO.STOP) {
    // The master resigns: take over after Skew_Time unless someone else speaks first.
    return { state: { ...s, masterSeen: seen }, actions: [{ kind: 'armTimer', timer: 'masterDown', us: skewTimeUs(s.config.version, s.effectivePriority, s.masterAdverIntUs) }] };
  }
  const lower = e.priority < s.effectivePriority;
  const tolerated = !s.config.preempt || !lower || (s.config.preemptDelayUs > 0 && s.preemptDelay !== 'expired');
  if (!tolerated) {
    // Lower priority and we may preempt: discard, so Master_Down_Timer runs out (RFC: no instant preemption).
    return { state: { ...s, masterSeen: seen }, actions: [] };
  }
  const actions: VrrpAction[] = [];
  let preemptDelay = s.preemptDelay;
  if (s.config.preempt && s.config.preemptDelayUs > 0) {
    if (!lower && preemptDelay !== 'idle') {
      if (preemptDelay === 'running') actions.push({ kind: 'cancelTimer', timer: 'preemptDelay' });
      preemptDelay = 'idle';
    } else if (lower && preemptDelay === 'idle') {
      actions.push({ kind: 'armTimer', timer: 'preemptDelay', us: s.config.preemptDelayUs });
      preemptDelay = 'running';
    }
  }
  // v3: Master_Adver_Interval := the advert's Max Adver Int (v2 intervals are equal by validation).
  const next: VrrpState = { ...s, masterSeen: seen, preemptDelay, wantsMaster: false, masterAdverIntUs: s.config.version === 3 ? e.advertIntUs : s.masterAdverIntUs };
  actions.unshift({ kind: 'armTimer', timer: 'masterDown', us: masterDownUs(next) });
  return { state: next, actions };
}

/** masterAdvert is RFC 5798 §6.4.3 "If an ADVERTISEMENT is received", with keepalived's answer to a lower priority. */
function masterAdvert(s: VrrpState, e: { priority: number; src: string; advertIntUs: number }): StepResult {
  const p = s.effectivePriority;
  if (e.priority === VRRP_PRIO.STOP) {
    return { state: s, actions: [{ kind: 'sendAdvert', priority: p }, { kind: 'armTimer', timer: 'adver', us: s.config.advertIntUs }] };
  }
  const cmp = compareAddresses(e.src, s.config.primaryAddress, s.config.family);
  if (e.priority === p && cmp === 0) return same(s); // our own address: a looped-back advert, or a misconfiguration
  if (e.priority > p || (e.priority === p && cmp > 0)) {
    const next: VrrpState = { ...s, masterSeen: { address: e.src, priority: e.priority }, masterAdverIntUs: s.config.version === 3 ? e.advertIntUs : s.masterAdverIntUs };
    return becomeBackup(next, e.priority > p ? 'higher-priority' : 'equal-priority-higher-address', false);
  }
  // A lower priority: a backup that thinks there is no master. keepalived answers with an advert
  // ("forcing new election"; RFC 9568 behaviour per its man page), unless lower_prio_no_advert.
  const actions: VrrpAction[] = [];
  if (s.config.lowerPrioNoAdvert !== true) actions.push({ kind: 'sendAdvert', priority: p });
  actions.push({ kind: 'notifyLowerPriority', src: e.src, priority: e.priority });
  return { state: s, actions };
}

function timer(s: VrrpState, t: TimerName): StepResult {
  switch (t) {
    case 'adver':
      if (s.role !== 'master') return same(s); // stale expiry
      return { state: s, actions: [{ kind: 'sendAdvert', priority: s.effectivePriority }, { kind: 'armTimer', timer: 'adver', us: s.config.advertIntUs }] };
    case 'masterDown': {
      if (s.role !== 'backup') return same(s);
      if (s.config.syncGroup === true) {
        // keepalived vrrp_sync_can_goto_master: wait for the group, re-arming the down timer meanwhile.
        return { state: { ...s, wantsMaster: true }, actions: [{ kind: 'armTimer', timer: 'masterDown', us: masterDownUs(s) }, { kind: 'wantMaster' }] };
      }
      return becomeMaster(s, takeoverReason(s));
    }
    case 'preemptDelay':
      return s.role === 'backup' && s.preemptDelay === 'running' ? same({ ...s, preemptDelay: 'expired' }) : same(s);
    default:
      return assertNever(t);
  }
}

function takeoverReason(s: VrrpState): TransitionReason {
  const m = s.masterSeen;
  if (m === undefined) return 'master-down';
  if (m.priority === VRRP_PRIO.STOP) return 'master-resigned';
  return m.priority < s.effectivePriority && s.config.preempt ? 'preempt' : 'master-down';
}

/**
 * priority applies a new effective priority. The owner's 255 is not tracked (keepalived refuses
 * it); others are kept in 1..254. A master advertises the change at once, so that a demoted node
 * (sync-aware election) is preempted within Master_Down_Interval rather than one interval later.
 */
function priority(s: VrrpState, requested: number): StepResult {
  if (s.config.priority === VRRP_PRIO.OWNER) return same(s);
  const p = Math.min(254, Math.max(1, Math.round(requested)));
  if (p === s.effectivePriority) return same(s);
  const next: VrrpState = { ...s, effectivePriority: p };
  if (s.role !== 'master') return same(next);
  return { state: next, actions: [{ kind: 'sendAdvert', priority: p }, { kind: 'armTimer', timer: 'adver', us: s.config.advertIntUs }] };
}

/** enterFault: keepalived FAULT. A master resigns with priority 0 first (keepalived PR #34). */
function enterFault(s: VrrpState, reason: TransitionReason): StepResult {
  if (s.role === 'fault') return same(s);
  const actions: VrrpAction[] = [];
  if (s.role === 'master') actions.push({ kind: 'cancelTimer', timer: 'adver' }, { kind: 'sendAdvert', priority: VRRP_PRIO.STOP });
  if (s.role === 'backup') actions.push({ kind: 'cancelTimer', timer: 'masterDown' }, { kind: 'cancelTimer', timer: 'preemptDelay' });
  actions.push({ kind: 'transition', from: s.role, to: 'fault', reason }, { kind: 'notify', state: 'FAULT', priority: s.effectivePriority });
  return { state: { ...s, role: 'fault', preemptDelay: 'idle', wantsMaster: false }, actions };
}

/** leaveFault starts over (as at startup) once neither the router nor its group holds it in FAULT. */
function leaveFault(s: VrrpState): StepResult {
  if (s.role !== 'fault' || s.ownFault || s.groupFault) return same(s);
  return start(s, 'fault-cleared');
}

function groupOrder(s: VrrpState, order: GroupOrder): StepResult {
  switch (order) {
    case 'master':
      return s.role === 'backup' ? becomeMaster(s, 'group') : same(s);
    case 'backup':
      // Another member lost its election: yield, resigning with priority 0 so that the peer's
      // member takes over after Skew_Time instead of Master_Down_Interval.
      if (s.role === 'master') return becomeBackup(s, 'group', true);
      return same({ ...s, wantsMaster: false });
    case 'fault':
      return s.role === 'initialize' ? same(s) : enterFault({ ...s, groupFault: true }, 'group');
    case 'release': {
      const next = { ...s, groupFault: false };
      return next.role === 'fault' && !next.ownFault ? start(next, 'group') : same(next);
    }
    default:
      return assertNever(order);
  }
}
