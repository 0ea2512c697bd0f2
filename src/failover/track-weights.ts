import type { SyncGroup, TrackedInterface, TrackedScript, VrrpInstance, VrrpScript } from '../config/keepalived/types.js';
import { VRRP_PRIO } from '../vrrp/consts.js';

/**
 * The arithmetic of keepalived's tracking (2.2.7 vrrp_track.c, vrrp.c vrrp_complete_instance), pure:
 * which objects an instance tracks, what each one's state does to it, and the priority it advertises.
 *
 *   - An unweighted object (weight 0) puts the instance in FAULT while it is down (with `reverse`:
 *     while it is up).
 *   - A weighted one moves the priority: weight > 0 adds weight while the object is up, weight < 0
 *     adds the (negative) weight while it is down; `reverse` multiplies by −1. An object that has not
 *     reported yet (a script before its first run) adds nothing.
 *   - Effective priority = configured + the sum, clamped to 1..254; the owner's 255 is never tracked.
 *   - Sync-aware demotion (FailoverManager.demote) wins over the weights: priority 1 while demoted, the
 *     weighted priority otherwise. FAULT is independent of both.
 */

/** TrackKind names a tracked object's kind as keepalived's keywords do. */
export type TrackKind = 'track_interface' | 'track_script';

/** TrackState: up (link up and running / script succeeding), down, or not known yet (script before its first result). */
export type TrackState = 'up' | 'down' | 'unknown';

/** TrackSpec is one object an instance tracks, after keepalived's rules for sync groups and owners. */
export interface TrackSpec {
  readonly kind: TrackKind;
  readonly name: string;
  /** 0 = FAULT while down (or up, with reverse); else −254..254 (a group and an instance entry may not add up past it). */
  readonly weight: number;
  readonly reverse: boolean;
}

/** TrackEffect is what one object does to an instance right now. */
export type TrackEffect = { readonly fault: true } | { readonly fault: false; readonly delta: number };

/** trackEffect is keepalived's rule for one object in one state. */
export function trackEffect(spec: TrackSpec, state: TrackState): TrackEffect {
  const multiplier = spec.reverse ? -1 : 1;
  if (spec.weight === 0) {
    // A script that has not reported holds nothing (keepalived keeps the instance in INIT meanwhile).
    if (state === 'unknown') return { fault: false, delta: 0 };
    return (state === 'up') !== (multiplier === 1) ? { fault: true } : { fault: false, delta: 0 };
  }
  if (state === 'up' && spec.weight > 0) return { fault: false, delta: spec.weight * multiplier };
  if (state === 'down' && spec.weight < 0) return { fault: false, delta: spec.weight * multiplier };
  return { fault: false, delta: 0 };
}

/** TrackedNow is a spec with its current state. */
export interface TrackedNow {
  readonly spec: TrackSpec;
  readonly state: TrackState;
}

/** TrackVerdict is the instance's priority and FAULT with the reasons, for the FSM and for status. */
export interface TrackVerdict {
  readonly priority: number;
  readonly fault: boolean;
  /** Why the priority is not the configured one, or why the instance is in FAULT; undefined when neither. */
  readonly why?: string;
}

/** describe names one object and its effect: "track_interface wan0 down (-20)". */
function describe(t: TrackedNow, e: TrackEffect): string {
  const what = `${t.spec.kind} ${t.spec.name} ${t.spec.kind === 'track_script' ? (t.state === 'up' ? 'ok' : t.state === 'down' ? 'failed' : 'not run yet') : t.state}`;
  if (e.fault) return `${what} (FAULT)`;
  return `${what} (${e.delta > 0 ? '+' : ''}${e.delta})`;
}

/**
 * trackVerdict combines an instance's tracked objects and the sync-aware demotion (a reason, or
 * undefined) into the priority it advertises and whether it is in FAULT.
 */
export function trackVerdict(configured: number, tracked: readonly TrackedNow[], demotedBy?: string): TrackVerdict {
  const faults: string[] = [];
  const moves: string[] = [];
  let total = configured;
  for (const t of tracked) {
    const e = trackEffect(t.spec, t.state);
    if (e.fault) faults.push(describe(t, e));
    else if (e.delta !== 0) {
      total += e.delta;
      moves.push(describe(t, e));
    }
  }
  const owner = configured === VRRP_PRIO.OWNER;
  const weighted = owner ? configured : Math.min(VRRP_PRIO.OWNER - 1, Math.max(1, total));
  const priority = demotedBy !== undefined && !owner ? 1 : weighted;
  const parts: string[] = [];
  if (faults.length > 0) parts.push(`FAULT: ${faults.join(', ')}`);
  if (demotedBy !== undefined && !owner) parts.push(`demoted: ${demotedBy}${moves.length > 0 ? ` (tracking alone would give ${weighted}: ${moves.join(', ')})` : ''}`);
  else if (moves.length > 0 && !owner) parts.push(moves.join(', '));
  return { priority, fault: faults.length > 0, ...(parts.length > 0 ? { why: parts.join('; ') } : {}) };
}

/**
 * instanceTracking lists what an instance tracks, as keepalived 2.2.7 resolves it:
 *
 *   - its own interface, unweighted, unless dont_track_primary; a track_interface entry naming the
 *     own interface is ignored ("since own interface");
 *   - in a sync group without sync_group_tracking_weight, instance-level interface weights become 0
 *     (FAULT) and weighted instance-level scripts are dropped; an address owner drops both kinds of
 *     weighted entries;
 *   - the group's track_interface / track_script apply to every member with their weights (0 when a
 *     member is an owner); a group interface entry replaces a weighted instance entry of the same
 *     interface, an unweighted one stays.
 *
 * A track_script entry's weight and reverse default to the vrrp_script's.
 */
export function instanceTracking(inst: VrrpInstance, group: SyncGroup | undefined, scripts: readonly VrrpScript[], groupHasOwner: boolean): TrackSpec[] {
  const owner = inst.priority === VRRP_PRIO.OWNER;
  const noWeights = (group !== undefined && !group.trackingWeight) || owner;
  const ifaces = new Map<string, { weight: number | 'untracked'; reverse: boolean }>();
  for (const t of inst.trackInterfaces) {
    if (t.name === inst.interface) continue;
    const weight = t.weight ?? 0;
    if (weight !== 0 && noWeights) {
      if (owner) continue;
      ifaces.set(t.name, { weight: 0, reverse: t.reverse });
    } else ifaces.set(t.name, { weight, reverse: t.reverse });
  }
  if (inst.interface !== undefined) ifaces.set(inst.interface, { weight: inst.dontTrackPrimary ? 'untracked' : 0, reverse: false });
  for (const t of group?.trackInterfaces ?? []) addGroupInterface(ifaces, t, groupHasOwner);

  const byName = new Map(scripts.map((s) => [s.name, s]));
  const scriptSpecs = new Map<string, TrackSpec>();
  const addScript = (t: TrackedScript, fromGroup: boolean): void => {
    const s = byName.get(t.name);
    if (s === undefined) return; // the parser reports unknown names
    let weight = t.weight ?? s.weight;
    if (weight !== 0 && !fromGroup && noWeights) return;
    if (weight !== 0 && fromGroup && groupHasOwner) weight = 0;
    scriptSpecs.set(t.name, { kind: 'track_script', name: t.name, weight, reverse: t.reverse ?? s.reverse });
  };
  for (const t of inst.trackScripts) addScript(t, false);
  for (const t of group?.trackScripts ?? []) addScript(t, true);

  const out: TrackSpec[] = [];
  for (const [name, v] of ifaces) if (v.weight !== 'untracked') out.push({ kind: 'track_interface', name, weight: v.weight, reverse: v.reverse });
  out.push(...scriptSpecs.values());
  return out;
}

function addGroupInterface(ifaces: Map<string, { weight: number | 'untracked'; reverse: boolean }>, t: TrackedInterface, groupHasOwner: boolean): void {
  const weight = groupHasOwner ? 0 : (t.weight ?? 0);
  const had = ifaces.get(t.name);
  // keepalived add_vrrp_to_interface: "use the sync group's weight unless the vrrp setting is unweighted".
  if (had !== undefined && had.weight === 0) return;
  ifaces.set(t.name, { weight, reverse: t.reverse });
}
