import type { GroupOrder, VrrpRole } from './fsm.js';

/**
 * vrrp_sync_group as a pure combinator (failover-and-peers.md §2.3; keepalived vrrp_sync.c): the
 * members of a group — a firewall's LAN and WAN virtual routers — change state together, so that
 * traffic never goes out through one node and comes back through the other.
 *
 *   - The group is MASTER only when every member is ready to be (each member's Master_Down_Timer
 *     fired — its FSM emitted `wantMaster` — or it is master already); until then ready members are
 *     held in BACKUP (keepalived vrrp_sync_can_goto_master: "prefer backup state to avoid thrashing").
 *   - A member that leaves MASTER for BACKUP (it heard a better master) takes the group to BACKUP:
 *     the other masters are told to yield.
 *   - A member in FAULT of its own takes the group to FAULT; the group leaves FAULT when no member
 *     has a fault of its own, and the members it held are released to BACKUP. (keepalived forces
 *     every member back on the first recovery, even one still faulty of its own — issue #1532's
 *     family of bugs; keeping own and group faults apart avoids that.)
 */

export type GroupState = 'backup' | 'master' | 'fault';

/** GroupMember is what the combinator needs of each member's VrrpState, after the triggering step. */
export interface GroupMember {
  readonly name: string;
  readonly role: VrrpRole;
  readonly wantsMaster: boolean;
  readonly ownFault: boolean;
}

/** GroupTrigger: what a member's step just reported — a `wantMaster`, `transition` or `ownFault` action. */
export type GroupTrigger =
  | { readonly kind: 'wantMaster'; readonly member: string }
  | { readonly kind: 'transition'; readonly member: string; readonly from: VrrpRole; readonly to: VrrpRole }
  | { readonly kind: 'ownFault'; readonly member: string; readonly active: boolean };

/** GroupDecision: the group's new state, the orders to feed to members as `{kind:'group', order}` events, and a group notify when it changed. */
export interface GroupDecision {
  readonly state: GroupState;
  readonly orders: readonly { readonly member: string; readonly order: GroupOrder }[];
  readonly notify?: GroupState;
}

/** syncGroupStep decides what the group does after one member's step. */
export function syncGroupStep(group: GroupState, members: readonly GroupMember[], trigger: GroupTrigger): GroupDecision {
  const decide = (state: GroupState, orders: { member: string; order: GroupOrder }[]): GroupDecision =>
    state === group ? { state, orders } : { state, orders, notify: state };

  if (members.some((m) => m.ownFault)) {
    return decide(
      'fault',
      members.filter((m) => m.role !== 'fault' && m.role !== 'initialize').map((m) => ({ member: m.name, order: 'fault' })),
    );
  }
  if (group === 'fault') {
    return decide(
      'backup',
      members.filter((m) => m.role === 'fault').map((m) => ({ member: m.name, order: 'release' })),
    );
  }
  if (trigger.kind === 'wantMaster') {
    const ready = members.every((m) => m.role === 'master' || (m.role === 'backup' && m.wantsMaster));
    if (!ready) return decide(group, []);
    return decide(
      'master',
      members.filter((m) => m.role !== 'master').map((m) => ({ member: m.name, order: 'master' })),
    );
  }
  if (trigger.kind === 'ownFault') return decide(group, []);
  if (trigger.from === 'master' && trigger.to === 'backup') {
    return decide(
      'backup',
      members.filter((m) => m.name !== trigger.member && m.role === 'master').map((m) => ({ member: m.name, order: 'backup' })),
    );
  }
  if (trigger.to === 'master' && members.every((m) => m.role === 'master')) return decide('master', []);
  if (trigger.to === 'initialize' && group === 'master' && !members.some((m) => m.role === 'master')) return decide('backup', []);
  return decide(group, []);
}
