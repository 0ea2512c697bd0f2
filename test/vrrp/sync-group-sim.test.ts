import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { VrrpAction, VrrpFsmConfig } from '../../src/vrrp/fsm.js';
import { syncGroupStep, type GroupState } from '../../src/vrrp/sync-group.js';
import { SimLink } from './sim-link.js';

/**
 * Two firewalls, each with a LAN and a WAN virtual router in one vrrp_sync_group, on simulated
 * links (sim-link.ts; router index = node × 2 + vr). Each node's group is wired as the daemon would
 * wire it: every `wantMaster` or `transition` action of a member goes through syncGroupStep and the
 * orders are fed back to the node's members. After arbitrary starts, crashes, faults (cleared
 * before the end) and link failures, both virtual routers must end with exactly one master, on the
 * same node — the property sync groups exist for.
 */

type Op = { at: number; node: number; kind: 'start' | 'crash' | 'stop' } | { at: number; node: number; vr: number; kind: 'fault' | 'mute' };

interface Scenario {
  priorities: [number, number];
  preempt: [boolean, boolean];
  ops: Op[];
  seed: number;
}

const INTERVAL = 100_000; // VRRPv3, 10 cs
const members = (node: number): number[] => [node * 2, node * 2 + 1];

function build(s: Scenario): { link: SimLink; group: GroupState[] } {
  const configs: VrrpFsmConfig[] = [];
  for (let node = 0; node < 2; node++) {
    for (let vr = 0; vr < 2; vr++) {
      // Addresses ordered the same way on both links, so that equal priorities tie-break consistently.
      configs.push({ version: 3, family: 'ipv4', priority: s.priorities[node]!, advertIntUs: INTERVAL, primaryAddress: `10.0.${vr}.${node + 1}`, preempt: s.preempt[node]!, preemptDelayUs: 0, acceptMode: false, syncGroup: true });
    }
  }
  const group: GroupState[] = ['backup', 'backup'];
  const hook = (i: number, a: VrrpAction): void => {
    if (a.kind !== 'wantMaster' && a.kind !== 'transition' && a.kind !== 'ownFault') return;
    const node = Math.floor(i / 2);
    const view = members(node).map((m) => {
      const st = link.state(m);
      return { name: String(m), role: link.running(m) ? st.role : ('initialize' as const), wantsMaster: st.wantsMaster, ownFault: st.ownFault };
    });
    const member = String(i);
    const trigger = a.kind === 'wantMaster' ? { kind: a.kind, member } : a.kind === 'ownFault' ? { kind: a.kind, member, active: a.active } : { kind: a.kind, member, from: a.from, to: a.to };
    const d = syncGroupStep(group[node]!, view, trigger);
    group[node] = d.state;
    for (const o of d.orders) link.feed(Number(o.member), { kind: 'group', order: o.order });
  };
  const link: SimLink = new SimLink(configs, s.seed, 2_000, 400_000, [0, 1, 0, 1], hook);
  return { link, group };
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  priorities: fc.tuple(fc.constantFrom(100, 150, 200), fc.constantFrom(100, 150, 200)),
  preempt: fc.tuple(fc.boolean(), fc.boolean()),
  ops: fc.array(
    fc.oneof(
      fc.record({ at: fc.integer({ min: 0, max: 40 * INTERVAL }), node: fc.integer({ min: 0, max: 1 }), kind: fc.constantFrom<'start' | 'crash' | 'stop'>('start', 'start', 'crash', 'stop') }),
      fc.record({ at: fc.integer({ min: 0, max: 40 * INTERVAL }), node: fc.integer({ min: 0, max: 1 }), vr: fc.integer({ min: 0, max: 1 }), kind: fc.constantFrom<'fault' | 'mute'>('fault', 'mute') }),
    ),
    { maxLength: 10 },
  ),
  seed: fc.integer(),
});

describe('sync groups on a simulated pair of firewalls', () => {
  it('both virtual routers end with one master each, on the same node', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { link, group } = build(s);
        for (let node = 0; node < 2; node++) for (const m of members(node)) link.start(m);
        const faults: number[] = [];
        for (const op of [...s.ops].sort((a, b) => a.at - b.at)) {
          link.runUntil(op.at);
          const ms = members(op.node);
          switch (op.kind) {
            case 'start':
              ms.forEach((m) => link.start(m));
              break;
            case 'crash':
              ms.forEach((m) => link.crash(m));
              break;
            case 'stop':
              ms.forEach((m) => link.stop(m));
              break;
            case 'mute':
              link.mute(ms[op.vr]!, 8 * INTERVAL);
              break;
            case 'fault':
              link.feed(ms[op.vr]!, { kind: 'fault' });
              faults.push(ms[op.vr]!);
              break;
          }
        }
        link.runUntil(link.now + 10 * INTERVAL);
        for (const m of faults) link.feed(m, { kind: 'faultCleared' });
        link.runUntil(link.now + 40 * INTERVAL);
        const roles = [0, 1, 2, 3].map((i) => (link.running(i) ? link.role(i) : 'down'));
        const msg = `roles ${JSON.stringify(roles)} groups ${JSON.stringify(group)}\n${JSON.stringify(link.log.slice(-10))}`;
        for (const vr of [0, 1]) {
          const up = [0, 1].map((node) => node * 2 + vr).filter((i) => link.running(i));
          if (up.length === 0) continue;
          assert.equal(up.filter((i) => link.role(i) === 'master').length, 1, `VR ${vr}: ${msg}`);
        }
        const masterNodes = new Set([0, 1, 2, 3].filter((i) => link.running(i) && link.role(i) === 'master').map((i) => Math.floor(i / 2)));
        assert.ok(masterNodes.size <= 1, `masters on both nodes: ${msg}`);
      }),
      { numRuns: 200 },
    );
  });

  it('a one-way LAN failure of the master does not split the pair: the backup node stays backup on both', () => {
    // Node 0 (200) is master of both; its LAN adverts are lost. Node 1's LAN member times out and is
    // ready, but its WAN member still hears node 0: the group holds node 1 in BACKUP on both.
    const { link } = build({ priorities: [200, 100], preempt: [true, true], ops: [], seed: 7 });
    [0, 1, 2, 3].forEach((i) => link.start(i));
    link.runUntil(20 * INTERVAL);
    assert.deepEqual([0, 1, 2, 3].map((i) => link.role(i)), ['master', 'master', 'backup', 'backup']);
    link.mute(0, 100 * INTERVAL);
    for (let t = 0; t < 100; t++) {
      link.runUntil(link.now + INTERVAL);
      assert.deepEqual([link.role(2), link.role(3)], ['backup', 'backup'], `node 1 at +${t} intervals`);
    }
    assert.ok(link.state(2).wantsMaster, 'node 1 LAN member is ready and held');
  });

  it('when one member yields to a better node, its sibling yields too (even where that node is not heard)', () => {
    // Node 1 (100) is master of both; node 0 (200) starts, but its WAN adverts are lost. Node 0
    // preempts on both (it hears node 1 everywhere); node 1 hears 200 on the LAN only, and its
    // group must take the WAN member down with it, or the WAN would have two masters.
    const { link } = build({ priorities: [200, 100], preempt: [true, true], ops: [], seed: 9 });
    link.start(2);
    link.start(3);
    link.runUntil(20 * INTERVAL);
    assert.deepEqual([link.role(2), link.role(3)], ['master', 'master']);
    link.mute(1, 200 * INTERVAL);
    link.start(0);
    link.start(1);
    link.runUntil(link.now + 20 * INTERVAL);
    assert.deepEqual([0, 1, 2, 3].map((i) => link.role(i)), ['master', 'master', 'backup', 'backup']);
  });
});
