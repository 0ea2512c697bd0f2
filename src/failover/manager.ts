import type { KeepalivedConfig, Notifies, SyncGroup, VrrpInstance } from '../config/keepalived/types.js';
import { ifNameToIndex } from '../native/socket.js';
import { RtnlClient } from '../rtnetlink/client.js';
import type { AddressSpec } from '../rtnetlink/requests.js';
import { Announcer } from '../vrrp-io/announcer.js';
import type { SpawnScript } from './script-spawn.js';
import { VRRP_GROUP, VrrpChannel } from '../vrrp-io/channel.js';
import { US_PER_CS, US_PER_S, VRRP_AUTH, VRRP_PRIO } from '../vrrp/consts.js';
import type { NotifyState, TransitionReason, VrrpRole } from '../vrrp/fsm.js';
import { encodeVrrp, type VrrpAdvert } from '../vrrp/packet.js';
import { syncGroupStep, type GroupState } from '../vrrp/sync-group.js';
import { validateAdvert, type DiscardReason, type LocalVrrpConfig } from '../vrrp/validate.js';
import { Notifier } from './notify.js';
import { hostAccounts, hostStat, hostWhich, insecurePath, ScriptUsers, type Accounts } from './script-user.js';
import { VirtualRouter, type TimelineEntry, type TimerPort } from './router.js';
import { SplitBrainWatch, arrivalOnTimers, inHandover, type SplitBrainStatus } from './split-brain.js';
import { realTimers } from './timers.js';
import { LinkTracker } from './track-interface.js';
import { ScriptTracker } from './track-script.js';
import { instanceTracking, trackEffect, trackVerdict, type TrackSpec, type TrackState } from './track-weights.js';
import { procSysctl, Vmac, VmacHost } from './vmac.js';

/**
 * FailoverManager runs the VRRP instances and sync groups of a keepalived.conf: one VirtualRouter
 * each, with its advert socket, VIPs, announcements and notify scripts, and the sync engine behind
 * StatePort. Meant to run on a thread of its own (worker.ts), so that no sync or commit work can
 * hold up an advert.
 */

/** StatePort is the sync engine's part of a transition (the daemon's main thread). */
export interface StatePort {
  /** prepare resolves once the replicated state is in the kernel (before the VIPs come up). */
  prepare(instance: string, reason: TransitionReason): Promise<void>;
  /** release is the state work of entering `to` from `from` (not master; after the VIPs went away, if any). */
  release(instance: string, to: VrrpRole, from: VrrpRole): Promise<void>;
  /**
   * role tells of a transition the moment it happens. prepare and release run in order, each
   * after the one before is done: a node that is master for a moment while a long prepare runs
   * would otherwise look master to the sync engine for as long as that prepare takes.
   */
  role?(instance: string, role: VrrpRole): void;
  /** served tells that the instance's VIPs are up: this mastership now carries traffic. */
  served?(instance: string): void;
  /**
   * masterSeen tells whom the instance hears as master while it is BACKUP, when that changes
   * (undefined: nobody — it left BACKUP, or the master resigned). A request for the master's table
   * waits for this: a backup's answer is not the master's table.
   */
  masterSeen?(instance: string, address: string | undefined): void;
}

export type FailoverLog = (level: 'error' | 'warning' | 'notice' | 'info', message: string) => void;

export interface FailoverOptions {
  readonly netns?: string;
  readonly state: StatePort;
  readonly log: FailoverLog;
  readonly timers?: TimerPort;
  /** accounts looks up script users (default: getent on this host). */
  readonly accounts?: Accounts;
  /** spawn starts notify and track scripts (default: as children of this process). */
  readonly spawn?: SpawnScript;
}

/** hasScripts: the configuration runs at least one script (notify, track or FIFO script). */
export function hasScripts(c: KeepalivedConfig): boolean {
  const some = (n: Notifies): boolean => Object.values(n).some((v) => v !== undefined);
  return (
    c.scripts.length > 0 ||
    c.instances.some((i) => some(i.notify)) ||
    c.syncGroups.some((g) => some(g.notify)) ||
    [c.global.notifyFifo, c.global.vrrpNotifyFifo].some((f) => f?.script !== undefined)
  );
}

/** Transition is one entry of an instance's timeline, with wall-clock time for status. */
export interface TimelineRecord {
  readonly atMs: number; // Date.now()
  readonly entry: TimelineEntry;
}

/** InstanceStatus is what `keepstate status` shows of one instance. */
export interface InstanceStatus {
  readonly name: string;
  readonly interface: string;
  readonly family: string;
  readonly version: 2 | 3;
  readonly vrid: number;
  readonly role: VrrpRole;
  /**
   * effective is what the router advertises; why says what moved it from the configured one or holds
   * the instance in FAULT — "track_interface wan0 down (-20)", "demoted: <reason>" (the demotion wins
   * over the weights: priority 1 while demoted), "FAULT: track_script chk failed (FAULT)".
   */
  readonly priority: { readonly configured: number; readonly effective: number; readonly why?: string };
  /** tracking lists the tracked objects, their state and what each does now (a weight, or FAULT). */
  readonly tracking: readonly TrackedStatus[];
  /** splitBrain: adverts of another master of this VRID heard while master (undefined until the first). */
  readonly splitBrain?: SplitBrainStatus;
  readonly master?: { readonly address: string; readonly priority: number };
  /** peers: every other router heard on this VRID, the most recently heard first. */
  readonly peers: readonly Omit<PeerSeen, 'lastHeardUs'>[];
  readonly syncGroup?: string;
  readonly timeline: readonly TimelineRecord[];
  readonly adverts: { readonly sent: number; readonly maxSendGapMs?: number; readonly received: number; readonly discarded: Readonly<Record<string, number>> };
}

/** PeerSeen is another router heard on an instance's VRID: its last advert. */
export interface PeerSeen {
  readonly address: string;
  readonly priority: number;
  /** The advert interval it announces (µs). */
  readonly advertIntUs: number;
  readonly adverts: number;
  readonly lastHeardMs: number; // Date.now()
  /**
   * The longest wait between two of its adverts as they arrived (ms, the kernel's stamps): how late
   * a master ever was, not how late this process read them.
   */
  readonly maxGapMs: number;
  /** When its last advert arrived (µs, on the timers' monotonic clock). */
  readonly lastHeardUs: number;
}

/** At most this many peers are kept per instance for status (a VRID rarely has more than a few routers). */
const MAX_PEERS_SHOWN = 16;

/** TrackedStatus is one tracked object in status. */
export interface TrackedStatus {
  readonly kind: TrackSpec['kind'];
  readonly name: string;
  readonly weight: number;
  readonly reverse: boolean;
  readonly state: TrackState;
  readonly effect: 'FAULT' | number;
}

const TIMELINE_KEEP = 20;

/** Instance is one vrrp_instance at run time. */
class Instance {
  readonly router: VirtualRouter;
  readonly timeline: TimelineRecord[] = [];
  readonly discarded: Partial<Record<DiscardReason | 'DECODE', number>> = {};
  received = 0;
  demotedBy: string | undefined;
  /** What this instance tracks (keepalived's resolution of instance, group, owner rules). */
  tracks: readonly TrackSpec[] = [];
  private why: string | undefined;
  private faulted = false;
  private garpTimers: unknown[] = [];
  private lowerPrioGarp: unknown;
  readonly splitBrain: SplitBrainWatch;

  constructor(
    readonly cfg: VrrpInstance,
    private readonly m: FailoverManager,
    private readonly channel: VrrpChannel,
    private readonly links: InstanceLinks,
    private readonly primary: string,
  ) {
    const local = this.localConfig();
    this.splitBrain = new SplitBrainWatch(cfg.name, m.timers, (level, msg) => m.log(level, msg), (cfg.downTimerAdverts + 1) * cfg.advertIntervalUs);
    this.router = new VirtualRouter(
      cfg.name,
      {
        version: cfg.version,
        family: cfg.family,
        priority: cfg.priority,
        advertIntUs: cfg.advertIntervalUs,
        primaryAddress: cfg.sourceAddress ?? primary,
        preempt: cfg.preempt,
        preemptDelayUs: cfg.preemptDelayUs,
        acceptMode: cfg.accept,
        downTimerAdverts: cfg.downTimerAdverts,
        lowerPrioNoAdvert: cfg.lowerPrioNoAdvert,
        ...(cfg.syncGroup !== undefined ? { syncGroup: true } : {}),
      },
      {
        timers: m.timers,
        sendAdvert: (p) => this.sendAdvert(p),
        prepareState: (reason) => m.state.prepare(cfg.name, reason),
        addVips: () => this.vips('add'),
        removeVips: () => this.vips('delete'),
        announce: () => this.announce(),
        stopAnnouncing: () => this.stopAnnouncing(),
        releaseState: (to, from) => m.state.release(cfg.name, to, from),
        notify: (state, prio) => m.notifier.notify('INSTANCE', cfg.name, cfg.notify, state, prio),
        notifyLowerPriority: (src, prio) => this.heardLowerPriority(src, prio),
        wantMaster: () => {
          m.log('notice', `(${cfg.name}) master down: ${this.silence()}`);
          m.groupWantsMaster(this);
        },
        ownFault: (active) => m.groupOwnFault(this, active),
        record: (entry) => this.record(entry),
      },
    );
    channel.start({
      onAdvert: (a) => {
        const v = validateAdvert(a.payload, { family: cfg.family, src: a.src, dst: a.dst, ttl: a.ttl }, local);
        if (!v.ok) {
          // Another instance's VRID on the same link is not an error.
          if (v.reason !== 'VRID') this.discarded[v.reason] = (this.discarded[v.reason] ?? 0) + 1;
          return;
        }
        this.received++;
        const adv = v.advert;
        const advertIntUs = adv.version === 2 ? adv.advertIntSec * US_PER_S : adv.maxAdvertIntCs * US_PER_CS;
        this.arrivalUs = arrivalOnTimers(m.timers.nowUs(), Date.now() * 1000, a.arrivedUs);
        this.heard(a.src, adv.priority, advertIntUs);
        this.router.handle({ kind: 'advert', priority: adv.priority, src: a.src, advertIntUs });
        this.reportMaster();
      },
      onError: (e) => m.log('warning', `(${cfg.name}) advert socket: ${e.message}`),
    });
  }

  /** When this router last started to advertise as master (timers' µs), for the handover grace. */
  private claimedAtUs: number | undefined;
  /** When the advert being handled arrived (timers' µs; the kernel's stamp, not when it was read). */
  private arrivalUs = 0;
  /** The master last told to the state port (StatePort.masterSeen). */
  private masterReported: string | undefined;

  /** reportMaster tells the state port when the master heard in BACKUP changes. */
  private reportMaster(): void {
    const s = this.router.state;
    const now = s.role === 'backup' && s.masterSeen !== undefined && s.masterSeen.priority !== VRRP_PRIO.STOP ? s.masterSeen.address : undefined;
    if (now === this.masterReported) return;
    this.masterReported = now;
    this.m.state.masterSeen?.(this.cfg.name, now);
  }
  /** Every router heard on this VRID, by source address (bounded: the least recently heard goes). */
  private readonly peers = new Map<string, PeerSeen>();

  private heard(address: string, priority: number, advertIntUs: number): void {
    const prev = this.peers.get(address);
    this.peers.delete(address); // re-inserted last: the map stays ordered by last heard
    if (this.peers.size >= MAX_PEERS_SHOWN) this.peers.delete(this.peers.keys().next().value!);
    const atUs = this.arrivalUs;
    const gapMs = prev !== undefined ? (atUs - prev.lastHeardUs) / 1000 : 0;
    this.peers.set(address, { address, priority, advertIntUs, adverts: (prev?.adverts ?? 0) + 1, lastHeardMs: Date.now(), lastHeardUs: atUs, maxGapMs: Math.max(prev?.maxGapMs ?? 0, Math.round(gapMs * 10) / 10) });
  }

  /** silence says how long ago the master last spoke, for the log line of a takeover by Master_Down_Interval. */
  private silence(): string {
    const m = this.router.state.masterSeen;
    const p = m !== undefined ? this.peers.get(m.address) : [...this.peers.values()].at(-1);
    if (p === undefined) return 'no master heard';
    return `${p.address} last heard ${((this.m.timers.nowUs() - p.lastHeardUs) / 1000).toFixed(1)} ms ago (advert interval ${p.advertIntUs / 1000} ms)`;
  }

  private localConfig(): LocalVrrpConfig {
    return {
      version: this.cfg.version,
      family: this.cfg.family,
      vrid: this.cfg.virtualRouterId,
      priority: this.cfg.priority,
      advertIntUs: this.cfg.advertIntervalUs,
      addresses: this.advertAddresses(),
      ...(this.cfg.auth?.type === 'PASS' ? { authType: VRRP_AUTH.PASS } : {}),
      ...(this.cfg.unicastPeers.length > 0 ? { unicastPeers: this.cfg.unicastPeers.map((p) => p.address), checkUnicastSrc: this.cfg.checkUnicastSrc } : {}),
    };
  }

  /** The addresses an advert carries: the instance's VIPs of its family (not the excluded ones). */
  private advertAddresses(): string[] {
    return this.cfg.virtualAddresses.filter((a) => a.family === this.cfg.family).map((a) => a.address);
  }

  /** When the last advert went out (µs, monotonic), and the longest wait between two as master (ms). */
  private lastSentUs: number | undefined;
  private maxSendGapMs = 0;

  private sendAdvert(priority: number): void {
    const c = this.cfg;
    // How late the adverts of this master are, measured where they leave: a gap past two
    // intervals is logged (a backup declares the master down after three and a bit).
    const nowUs = this.m.timers.nowUs();
    if (this.lastSentUs !== undefined && this.router.state.role === 'master' && priority !== VRRP_PRIO.STOP) {
      const gapMs = (nowUs - this.lastSentUs) / 1000;
      this.maxSendGapMs = Math.max(this.maxSendGapMs, Math.round(gapMs * 10) / 10);
      if (gapMs > (2 * c.advertIntervalUs) / 1000) this.m.log('warning', `(${c.name}) advert sent ${gapMs.toFixed(1)} ms after the one before (interval ${c.advertIntervalUs / 1000} ms)`);
    }
    this.lastSentUs = priority === VRRP_PRIO.STOP ? undefined : nowUs;
    const addresses = this.advertAddresses();
    const advert: VrrpAdvert =
      c.version === 2
        ? { version: 2, family: 'ipv4', vrid: c.virtualRouterId, priority, authType: c.auth?.type === 'PASS' ? VRRP_AUTH.PASS : VRRP_AUTH.NONE, advertIntSec: Math.round(c.advertIntervalUs / US_PER_S), addresses, authData: passwordBytes(c.auth?.password) }
        : { version: 3, family: c.family, vrid: c.virtualRouterId, priority, maxAdvertIntCs: Math.round(c.advertIntervalUs / US_PER_CS), addresses };
    // The v3 checksum's pseudo-header names the destination: the group, or each unicast peer in
    // turn (keepalived recomputes it per peer); v2 has none, so one payload serves all.
    const src = c.sourceAddress ?? this.primary;
    try {
      if (c.version === 3 && c.unicastPeers.length > 1) this.channel.sendEach((dst) => encodeVrrp(advert, { src, dst }));
      else this.channel.send(encodeVrrp(advert, { src, dst: c.unicastPeers[0]?.address ?? c.mcastDestination ?? VRRP_GROUP[c.family] }));
    } catch (e) {
      this.m.log('warning', `(${c.name}) advert not sent: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async vips(op: 'add' | 'delete'): Promise<void> {
    for (const v of this.cfg.virtualAddresses) {
      const ifindex = v.dev !== undefined ? this.m.ifindexOf(v.dev) : this.links.vips.ifindex;
      const spec: AddressSpec = {
        ifindex,
        family: v.family,
        address: v.address,
        prefixLen: v.prefixLength,
        ...(v.label !== undefined ? { label: v.label } : {}),
        ...(v.broadcast !== undefined ? { broadcast: v.broadcast } : {}),
        ...(v.family === 'ipv6' ? { nodad: true } : {}),
      };
      if (op === 'add') await this.m.rtnl.addAddress(spec);
      else await this.m.rtnl.deleteAddress(spec);
    }
  }

  /** announce sends a burst of gratuitous ARPs / NAs now, another after garp_master_delay, then refreshes. */
  private announce(): void {
    this.stopAnnouncing();
    const c = this.cfg;
    this.burst(c.garpMasterRepeat);
    if (c.garpMasterDelayUs > 0) this.garpTimers.push(this.m.timers.set(c.garpMasterDelayUs, () => this.burst(c.garpMasterRepeat)));
    if (c.garpMasterRefreshUs > 0) {
      const refresh = (): void => {
        this.burst(c.garpMasterRefreshRepeat);
        this.garpTimers.push(this.m.timers.set(c.garpMasterRefreshUs, refresh));
      };
      this.garpTimers.push(this.m.timers.set(c.garpMasterRefreshUs, refresh));
    }
  }

  private burst(count: number): void {
    for (const v of this.cfg.virtualAddresses) {
      // A VIP goes out with the MAC of the interface it is on (keepalived: the VMAC on the macvlan).
      const on = v.dev === undefined ? this.links.vips : v.dev === this.cfg.interface ? this.links.base : v.dev === this.links.vmac?.ifname ? this.links.vips : undefined;
      if (on === undefined) continue; // announced on its own link by nobody yet
      const r = v.family === 'ipv4' ? on.announcer.sendGarp(v.address, on.mac, count) : on.announcer.sendNa(v.address, on.mac, count);
      if (r.failed > 0) this.m.log('warning', `(${this.cfg.name}) ${r.failed} announcements of ${v.address} failed: ${String(r.firstError)}`);
    }
  }

  private stopAnnouncing(): void {
    for (const t of this.garpTimers) this.m.timers.clear(t);
    this.garpTimers = [];
  }

  private record(entry: TimelineEntry): void {
    this.timeline.push({ atMs: Date.now(), entry });
    if (this.timeline.length > TIMELINE_KEEP) this.timeline.shift();
    if (entry.step === 'vips-added') this.m.state.served?.(this.cfg.name);
    // When this router started to advertise as master: the transition, or the claim after a hold.
    if (entry.step === 'claimed' || (entry.step === 'transition' && entry.to === 'master')) this.claimedAtUs = entry.atUs;
    if (entry.step === 'transition') {
      this.lastSentUs = undefined; // the gaps of one mastership, not across two
      this.m.state.role?.(this.cfg.name, entry.to);
      this.reportMaster();
      this.m.log('notice', `(${this.cfg.name}) Entering ${entry.to.toUpperCase()} STATE (${entry.reason})`);
      if (entry.from === 'master') {
        this.splitBrain.leftMaster();
        if (this.lowerPrioGarp !== undefined) this.m.timers.clear(this.lowerPrioGarp);
        this.lowerPrioGarp = undefined;
      }
      this.m.groupTransition(this, entry.from, entry.to);
    } else if (entry.step === 'failed') {
      this.m.log('error', `(${this.cfg.name}) takeover step ${entry.what} failed: ${entry.message}`);
    }
  }

  /**
   * applyTracking recomputes the priority and FAULT from the tracked objects and the demotion, and
   * tells the router what changed (priority first, so that FAULT's resign and a later start use it).
   */
  applyTracking(): void {
    const v = trackVerdict(this.cfg.priority, this.trackedNow(), this.demotedBy);
    this.why = v.why;
    const before = this.router.state.effectivePriority;
    if (v.priority !== before) {
      this.m.log('info', `(${this.cfg.name}) Changing effective priority from ${before} to ${v.priority}${v.why !== undefined ? ` (${v.why})` : ''}`);
      this.router.handle({ kind: 'priority', priority: v.priority });
      // keepalived (vrrp_track.c) never changes an owner's priority, and tells only of real changes.
      if (this.cfg.notifyPriorityChanges && this.cfg.priority !== VRRP_PRIO.OWNER) this.m.notifier.priorityChanged(this.cfg.name, this.router.state.role === 'master', v.priority);
    }
    if (v.fault !== this.faulted) {
      this.faulted = v.fault;
      if (v.fault) this.m.log('notice', `(${this.cfg.name}) entering FAULT state (${v.why ?? 'tracking'})`);
      this.router.handle({ kind: v.fault ? 'fault' : 'faultCleared' });
    }
  }

  private trackedNow(): { spec: TrackSpec; state: TrackState }[] {
    return this.tracks.map((spec) => ({ spec, state: this.m.trackState(spec) }));
  }

  /**
   * heardLowerPriority: the router is master and heard a lower priority (or its own from a lower
   * address) — another master of this VRID, a split brain. keepalived (vrrp.c vrrp_state_master_rx)
   * answers with an advert (the FSM did), sends garp_lower_prio_repeat gratuitous ARPs / NAs at
   * once and again after garp_lower_prio_delay, and does the same for the other members of its sync
   * group. Here one delayed burst is pending at a time (re-armed by each such advert), so the last
   * one comes garp_lower_prio_delay after the other master fell silent: after the heal.
   */
  private heardLowerPriority(src: string, priority: number): void {
    // The ordinary handover is still answered by the FSM, but not counted as a split brain.
    if (inHandover(this.arrivalUs, this.claimedAtUs, this.peers.get(src)?.advertIntUs ?? this.cfg.advertIntervalUs)) return;
    this.splitBrain.heard(src, priority, this.router.state.effectivePriority);
    this.m.notifier.masterRxLowerPriority(this.cfg.name, this.cfg.notify, this.router.state.effectivePriority);
    this.lowerPriorityGarp();
    for (const other of this.m.groupPeers(this)) other.lowerPriorityGarp();
  }

  lowerPriorityGarp(): void {
    const c = this.cfg;
    if (c.garpLowerPrioRepeat === 0 || this.router.state.role !== 'master') return;
    this.burst(c.garpLowerPrioRepeat);
    if (c.garpLowerPrioDelayUs === 0) return;
    if (this.lowerPrioGarp !== undefined) this.m.timers.clear(this.lowerPrioGarp);
    this.lowerPrioGarp = this.m.timers.set(c.garpLowerPrioDelayUs, () => {
      this.lowerPrioGarp = undefined;
      if (this.router.state.role === 'master') this.burst(c.garpLowerPrioRepeat);
    });
  }

  status(): InstanceStatus {
    const s = this.router.state;
    return {
      name: this.cfg.name,
      interface: this.cfg.interface ?? '',
      family: this.cfg.family,
      version: this.cfg.version,
      vrid: this.cfg.virtualRouterId,
      role: s.role,
      priority: { configured: this.cfg.priority, effective: s.effectivePriority, ...(this.why !== undefined ? { why: this.why } : {}) },
      tracking: this.trackedNow().map((t) => {
        const e = trackEffect(t.spec, t.state);
        return { kind: t.spec.kind, name: t.spec.name, weight: t.spec.weight, reverse: t.spec.reverse, state: t.state, effect: e.fault ? 'FAULT' : e.delta };
      }),
      ...(this.splitBrain.count > 0 ? { splitBrain: this.splitBrain.status() } : {}),
      ...(s.masterSeen !== undefined ? { master: s.masterSeen } : {}),
      peers: [...this.peers.values()].reverse().map(({ lastHeardUs: _monotonic, ...p }) => p),
      ...(this.cfg.syncGroup !== undefined ? { syncGroup: this.cfg.syncGroup } : {}),
      timeline: [...this.timeline],
      adverts: { sent: this.channel.stats.sent, maxSendGapMs: this.maxSendGapMs, received: this.received, discarded: { ...this.discarded, ...Object.fromEntries(Object.entries(this.channel.stats.dropped).filter(([, n]) => n > 0)) } },
    };
  }

  /** close stops the router and closes the sockets; then removeVmac deletes the macvlan, if any. */
  close(): void {
    this.stopAnnouncing();
    if (this.lowerPrioGarp !== undefined) this.m.timers.clear(this.lowerPrioGarp);
    this.splitBrain.close();
    this.router.stop();
    this.channel.close();
    closeLinks(this.links);
  }

  async removeVmac(): Promise<void> {
    try {
      await this.links.vmac?.remove();
    } catch (e) {
      this.m.log('warning', `(${this.cfg.name}) use_vmac: removing ${this.links.vmac?.ifname ?? ''}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** AnnounceOn is where gratuitous ARPs / NAs of VIPs on one interface go out, with which MAC. */
interface AnnounceOn {
  readonly announcer: Announcer;
  readonly mac: string;
  readonly ifindex: number;
}

/**
 * InstanceLinks: `base` is the configured interface; `vips` is where VIPs without `dev` go and are
 * announced from — the use_vmac macvlan with its VMAC, else the base interface.
 */
interface InstanceLinks {
  readonly base: AnnounceOn;
  readonly vips: AnnounceOn;
  readonly vmac?: Vmac;
}

function closeLinks(l: InstanceLinks): void {
  l.base.announcer.close();
  if (l.vips !== l.base) l.vips.announcer.close();
}

/** passwordBytes is the v2 Authentication Data: the PASS password in 8 zero-padded bytes, else zeros. */
function passwordBytes(password: string | undefined): Uint8Array {
  const out = new Uint8Array(8);
  if (password !== undefined) out.set(new TextEncoder().encode(password).subarray(0, 8));
  return out;
}

interface Group {
  readonly cfg: SyncGroup;
  state: GroupState;
  readonly members: Instance[];
}

export class FailoverManager {
  readonly timers: TimerPort;
  readonly state: StatePort;
  readonly log: FailoverLog;
  readonly notifier: Notifier;
  private readonly instances: Instance[] = [];
  private readonly groups = new Map<string, Group>();
  private readonly ifindexes = new Map<string, number>();
  private vmacHost: VmacHost | undefined;
  private links: LinkTracker | undefined;
  private readonly scripts = new Map<string, ScriptTracker>();
  private readonly users: ScriptUsers;
  /** Set once every tracker is there: changes before that are picked up by the first applyTracking. */
  private tracking = false;
  private stopped = false;

  private constructor(
    readonly config: KeepalivedConfig,
    readonly rtnl: RtnlClient,
    private readonly opts: FailoverOptions,
  ) {
    this.timers = opts.timers ?? realTimers;
    this.state = opts.state;
    this.log = opts.log;
    const fifos = [config.global.notifyFifo, config.global.vrrpNotifyFifo].filter((f) => f !== undefined);
    const security = config.global.enableScriptSecurity ? (cmd: string) => insecurePath(cmd, hostStat, hostWhich) : undefined;
    this.users = new ScriptUsers(config.global, opts.accounts ?? hostAccounts(), (level, msg) => opts.log(level, msg), process.getuid?.() === 0, security);
    this.users.warnDefault(hasScripts(config));
    this.notifier = new Notifier((level, msg) => opts.log(level, msg), fifos, this.users, opts.spawn);
  }

  /** start opens every instance's sockets and starts them (Initialize → Backup, or Master for an owner). */
  static async start(config: KeepalivedConfig, opts: FailoverOptions): Promise<FailoverManager> {
    const rtnl = RtnlClient.open(opts.netns !== undefined ? { netns: opts.netns } : {});
    const m = new FailoverManager(config, rtnl, opts);
    try {
      // The FIFOs are open and their scripts started before the first state is written to them.
      m.notifier.open();
      for (const cfg of config.instances) m.instances.push(await m.open(cfg));
      for (const g of config.syncGroups) {
        m.groups.set(g.name, { cfg: g, state: 'backup', members: m.instances.filter((i) => g.instances.includes(i.cfg.name)) });
      }
      await m.startTracking();
      // Priorities and FAULTs are known before any instance leaves Initialize.
      m.tracking = true;
      for (const i of m.instances) i.applyTracking();
      // keepalived tells of every group's BACKUP state first (an owner's group starts as master).
      for (const g of m.groups.values()) if (!g.members.some((i) => i.cfg.priority === VRRP_PRIO.OWNER)) m.notifier.notify('GROUP', g.cfg.name, g.cfg.notify, 'BACKUP', 0);
      for (const i of m.instances) i.router.handle({ kind: 'startup' });
      for (const t of m.scripts.values()) t.start();
      return m;
    } catch (e) {
      m.stopTracking();
      for (const i of m.instances) i.close();
      for (const i of m.instances) await i.removeVmac();
      m.notifier.close();
      rtnl.close();
      throw e;
    }
  }

  /**
   * startTracking resolves what each instance tracks and starts the trackers: one link follower for
   * every track_interface, one runner per vrrp_script however many instances track it (as keepalived
   * runs each script once). Scripts start running after the instances started.
   */
  private async startTracking(): Promise<void> {
    const groups = new Map(this.config.syncGroups.map((g) => [g.name, g]));
    for (const i of this.instances) {
      const g = i.cfg.syncGroup !== undefined ? groups.get(i.cfg.syncGroup) : undefined;
      const hasOwner = g !== undefined && this.instances.some((x) => g.instances.includes(x.cfg.name) && x.cfg.priority === VRRP_PRIO.OWNER);
      i.tracks = instanceTracking(i.cfg, g, this.config.scripts, hasOwner);
    }
    const tracks = this.instances.flatMap((i) => i.tracks);
    if (tracks.some((t) => t.kind === 'track_interface')) {
      this.links = await LinkTracker.start(
        this.rtnl,
        this.opts.netns,
        (ifname, state) => {
          this.log('info', `Netlink reports ${ifname} ${state}`);
          this.retrack('track_interface', ifname);
        },
        (msg) => this.log('warning', `track_interface: ${msg}`),
      );
    }
    for (const t of tracks) {
      if (t.kind !== 'track_script' || this.scripts.has(t.name)) continue;
      const script = this.config.scripts.find((s) => s.name === t.name);
      if (script === undefined) continue;
      const runner = new ScriptTracker(script, this.timers, (level, msg) => this.log(level, msg), () => this.retrack('track_script', t.name), this.users, this.opts.spawn);
      this.scripts.set(t.name, runner);
    }
  }

  private stopTracking(): void {
    for (const t of this.scripts.values()) t.stop();
    this.links?.close();
  }

  /** trackState is a tracked object's state now. */
  trackState(spec: TrackSpec): TrackState {
    if (spec.kind === 'track_interface') return this.links?.state(spec.name) ?? 'down';
    return this.scripts.get(spec.name)?.state ?? 'unknown';
  }

  private retrack(kind: TrackSpec['kind'], name: string): void {
    if (this.stopped || !this.tracking) return;
    for (const i of this.instances) if (i.tracks.some((t) => t.kind === kind && t.name === name)) i.applyTracking();
  }

  /** groupPeers are the other members of an instance's sync group. */
  groupPeers(member: Instance): Instance[] {
    const g = member.cfg.syncGroup !== undefined ? this.groups.get(member.cfg.syncGroup) : undefined;
    return g === undefined ? [] : g.members.filter((i) => i !== member);
  }

  ifindexOf(ifname: string): number {
    let i = this.ifindexes.get(ifname);
    if (i === undefined) {
      i = ifNameToIndex(ifname, this.opts.netns !== undefined ? { netns: this.opts.netns } : {});
      this.ifindexes.set(ifname, i);
    }
    return i;
  }

  private async open(cfg: VrrpInstance): Promise<Instance> {
    const ifname = cfg.interface;
    if (ifname === undefined) throw new Error(`${cfg.loc.file}:${cfg.loc.line}: vrrp_instance ${cfg.name}: an interface is needed (unicast without one is not supported yet)`);
    const ifindex = this.ifindexOf(ifname);
    const link = await this.rtnl.link(ifindex);
    if (link.address === undefined) throw new Error(`vrrp_instance ${cfg.name}: ${ifname} has no link-layer address`);
    const primary = cfg.sourceAddress ?? (await this.primaryAddress(ifindex, cfg));
    const ns = this.opts.netns !== undefined ? { netns: this.opts.netns } : {};
    const base: AnnounceOn = { announcer: new Announcer({ ifname, ...ns }), mac: link.address, ifindex };
    let vmac: Vmac | undefined;
    let channel: VrrpChannel | undefined;
    try {
      if (cfg.vmac !== undefined) {
        this.vmacHost ??= new VmacHost(procSysctl(this.opts.netns), (level, msg) => this.log(level, msg));
        vmac = await Vmac.create(this.rtnl, this.vmacHost, {
          instance: cfg.name,
          family: cfg.family,
          vrid: cfg.virtualRouterId,
          parent: ifname,
          parentIfindex: ifindex,
          ...(cfg.vmac.name !== undefined ? { name: cfg.vmac.name } : {}),
          ...(cfg.vmac.mac !== undefined ? { mac: cfg.vmac.mac } : {}),
          // IPv6 adverts from the macvlan need a link-local address there (not with vmac_xmit_base).
          ...(cfg.family === 'ipv6' && !cfg.vmac.xmitBase ? { linkLocal: primary } : {}),
        });
        this.log('info', `(${cfg.name}) use_vmac: ${vmac.ifname} (${vmac.mac}) on ${ifname}`);
      }
      // keepalived sends and receives adverts on the macvlan, or on the base with vmac_xmit_base.
      const advertIf = vmac !== undefined && cfg.vmac?.xmitBase !== true ? vmac.ifname : ifname;
      channel = VrrpChannel.open({
        family: cfg.family,
        ifname: advertIf,
        ...ns,
        ...(cfg.unicastPeers.length > 0 ? { unicastPeers: cfg.unicastPeers.map((p) => p.address) } : {}),
        // IPv4 from a macvlan without addresses: the base's address is named as the source.
        ...(cfg.sourceAddress !== undefined ? { sourceAddress: cfg.sourceAddress } : advertIf !== ifname && cfg.family === 'ipv4' ? { sourceAddress: primary } : {}),
      });
      const vips: AnnounceOn = vmac === undefined ? base : { announcer: new Announcer({ ifname: vmac.ifname, ...ns }), mac: vmac.mac, ifindex: vmac.ifindex };
      return new Instance(cfg, this, channel, { base, vips, ...(vmac !== undefined ? { vmac } : {}) }, primary);
    } catch (e) {
      channel?.close();
      base.announcer.close();
      await vmac?.remove();
      throw e;
    }
  }

  /** primaryAddress is the interface's address adverts come from: its first IPv4 address that is no VIP, or its IPv6 link-local one. */
  private async primaryAddress(ifindex: number, cfg: VrrpInstance): Promise<string> {
    const vips = new Set(cfg.virtualAddresses.map((v) => v.address));
    const addrs = await this.rtnl.listAddresses({ family: cfg.family, ifindex });
    // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on a point-to-point link).
    const pick = addrs.map((a) => a.local ?? a.address).find((a) => a !== undefined && !vips.has(a) && (cfg.family === 'ipv4' || a.startsWith('fe80:')));
    if (pick === undefined) throw new Error(`vrrp_instance ${cfg.name}: ${cfg.interface} has no ${cfg.family === 'ipv4' ? 'IPv4' : 'IPv6 link-local'} address to send adverts from`);
    return pick;
  }

  /**
   * demote sets (or, with undefined, lifts) the sync-aware demotion: while the node's copy of the
   * state is incomplete every instance but an owner advertises priority 1, so that a healthy
   * master is not preempted and a complete standby is preferred — yet a demoted node still takes
   * over when nobody else is there. The demotion wins over tracking weights (track-weights.ts):
   * priority 1 while demoted, the weighted priority again once lifted; FAULT from tracking holds
   * either way.
   */
  demote(reason: string | undefined): void {
    for (const i of this.instances) {
      if (i.cfg.priority === VRRP_PRIO.OWNER) continue;
      i.demotedBy = reason;
      i.applyTracking();
    }
  }

  /** groupOwnFault: a member's own fault started or ended; its group follows (sync-group.ts). */
  groupOwnFault(member: Instance, active: boolean): void {
    const g = member.cfg.syncGroup !== undefined ? this.groups.get(member.cfg.syncGroup) : undefined;
    if (g === undefined) return;
    this.decide(g, { kind: 'ownFault', member: member.cfg.name, active });
  }

  groupWantsMaster(member: Instance): void {
    const g = member.cfg.syncGroup !== undefined ? this.groups.get(member.cfg.syncGroup) : undefined;
    if (g === undefined) return;
    this.decide(g, { kind: 'wantMaster', member: member.cfg.name });
  }

  groupTransition(member: Instance, from: VrrpRole, to: VrrpRole): void {
    const g = member.cfg.syncGroup !== undefined ? this.groups.get(member.cfg.syncGroup) : undefined;
    if (g === undefined) return;
    this.decide(g, { kind: 'transition', member: member.cfg.name, from, to });
  }

  private decide(g: Group, trigger: Parameters<typeof syncGroupStep>[2]): void {
    // Orders are fed after the step that caused them has finished (no re-entry into a router).
    queueMicrotask(() => {
      // Stopping: the members leave one by one, and the group is told STOP once (stop()).
      if (this.stopped) return;
      const d = syncGroupStep(
        g.state,
        g.members.map((i) => ({ name: i.cfg.name, role: i.router.state.role, wantsMaster: i.router.state.wantsMaster, ownFault: i.router.state.ownFault })),
        trigger,
      );
      g.state = d.state;
      for (const o of d.orders) g.members.find((i) => i.cfg.name === o.member)?.router.handle({ kind: 'group', order: o.order });
      if (d.notify !== undefined) {
        const state = d.notify.toUpperCase() as NotifyState;
        this.log('notice', `VRRP_Group(${g.cfg.name}) Syncing instances to ${state} state`);
        this.notifier.notify('GROUP', g.cfg.name, g.cfg.notify, state, 0);
      }
    });
  }

  status(): InstanceStatus[] {
    return this.instances.map((i) => i.status());
  }

  /** stop resigns every master (priority 0 advert), removes its VIPs and closes the sockets. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTracking();
    for (const i of this.instances) i.router.handle({ kind: 'shutdown' });
    await Promise.all(this.instances.map((i) => i.router.settled()));
    // keepalived's notify_shutdown: the instances' STOP, then each group's (notify_stop, notify, FIFO).
    for (const g of this.groups.values()) this.notifier.notify('GROUP', g.cfg.name, g.cfg.notify, 'STOP', 0);
    for (const i of this.instances) i.close();
    for (const i of this.instances) await i.removeVmac();
    this.notifier.close();
    this.rtnl.close();
  }
}
