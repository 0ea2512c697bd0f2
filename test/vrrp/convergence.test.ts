import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { masterDownUs, type VrrpFsmConfig } from '../../src/vrrp/fsm.js';
import { SimLink } from './sim-link.js';

/**
 * Convergence properties of the state machine: two or three routers on a simulated link
 * (sim-link.ts), started in any order, with crashes, graceful stops, restarts, priority changes and
 * one-way link failures (split brain) at arbitrary times; once the disturbances end and the link
 * has been quiet for long enough, exactly one running router is master and the others are backup.
 */

type Op = { at: number; router: number; kind: 'start' | 'stop' | 'crash' } | { at: number; router: number; kind: 'priority'; priority: number } | { at: number; router: number; kind: 'mute'; forIntervals: number };

interface Scenario {
  version: 2 | 3;
  intervalUs: number;
  routers: { priority: number; preempt: boolean; preemptDelayIntervals: number; lowerPrioNoAdvert: boolean }[];
  ops: Op[];
  seed: number;
}

const ADDRESSES = ['10.0.0.1', '10.0.0.2', '10.0.0.10'];

function scenario(onlyPreempt: boolean): fc.Arbitrary<Scenario> {
  return fc
    .record({
      version: fc.constantFrom<2 | 3>(2, 3),
      n: fc.integer({ min: 2, max: 3 }),
      seed: fc.integer(),
      pick: fc.nat(),
    })
    .chain(({ version, n, seed, pick }) => {
      const intervals = version === 2 ? [1_000_000, 2_000_000] : [50_000, 100_000, 1_000_000];
      const intervalUs = intervals[pick % intervals.length]!;
      const opsWindow = 20 * intervalUs;
      const router = fc.record({
        // Equal priorities are frequent so that the address tie-break is exercised.
        priority: fc.oneof(fc.constantFrom(100, 255), fc.integer({ min: 1, max: 255 })),
        preempt: onlyPreempt ? fc.constant(true) : fc.boolean(),
        preemptDelayIntervals: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 })),
        lowerPrioNoAdvert: fc.boolean(),
      });
      const op: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ at: fc.integer({ min: 0, max: opsWindow }), router: fc.integer({ min: 0, max: n - 1 }), kind: fc.constantFrom<'start' | 'stop' | 'crash'>('start', 'start', 'stop', 'crash') }),
        fc.record({ at: fc.integer({ min: 0, max: opsWindow }), router: fc.integer({ min: 0, max: n - 1 }), kind: fc.constant('priority' as const), priority: fc.integer({ min: 1, max: 254 }) }),
        fc.record({ at: fc.integer({ min: 0, max: opsWindow }), router: fc.integer({ min: 0, max: n - 1 }), kind: fc.constant('mute' as const), forIntervals: fc.integer({ min: 1, max: 10 }) }),
      );
      return fc.record({
        version: fc.constant(version),
        intervalUs: fc.constant(intervalUs),
        routers: fc.array(router, { minLength: n, maxLength: n }),
        ops: fc.array(op, { maxLength: 12 }),
        seed: fc.constant(seed),
      });
    });
}

function configs(s: Scenario): VrrpFsmConfig[] {
  return s.routers.map((r, i) => ({
    version: s.version,
    family: 'ipv4',
    priority: r.priority,
    advertIntUs: s.intervalUs,
    primaryAddress: ADDRESSES[i]!,
    preempt: r.preempt,
    preemptDelayUs: r.preemptDelayIntervals * s.intervalUs,
    acceptMode: false,
    lowerPrioNoAdvert: r.lowerPrioNoAdvert,
  }));
}

/** simulate runs the scenario: every router starts at time 0 or by an op, ops apply, then a quiet period. */
function simulate(s: Scenario, startAll: boolean): SimLink {
  const link = new SimLink(configs(s), s.seed);
  const ops = [...s.ops].sort((a, b) => a.at - b.at);
  if (startAll) for (let i = 0; i < s.routers.length; i++) link.start(i);
  let lastQuiet = 0;
  for (const op of ops) {
    link.runUntil(op.at);
    switch (op.kind) {
      case 'start':
        link.start(op.router);
        break;
      case 'stop':
        link.stop(op.router);
        break;
      case 'crash':
        link.crash(op.router);
        break;
      case 'priority':
        link.setPriority(op.router, op.priority);
        break;
      case 'mute':
        link.mute(op.router, op.forIntervals * s.intervalUs);
        lastQuiet = Math.max(lastQuiet, op.at + op.forIntervals * s.intervalUs);
        break;
    }
  }
  const end = Math.max(link.now, lastQuiet);
  // Quiet period: longer than any Master_Down_Interval plus any preempt delay, several times over.
  const worstDown = Math.max(...configs(s).map((c) => 3 * c.advertIntUs + c.advertIntUs + c.preemptDelayUs));
  link.runUntil(end + 6 * worstDown);
  return link;
}

function describeRun(link: SimLink): string {
  const roles = link.configs.map((c, i) => `${c.primaryAddress} prio ${link.state(i).effectivePriority}${c.preempt ? '' : ' nopreempt'}: ${link.running(i) ? link.role(i) : 'down'}`);
  return `${roles.join('; ')}\nlast transitions: ${JSON.stringify(link.log.slice(-8))}`;
}

describe('VRRP convergence on a simulated link', () => {
  it('exactly one master among the running routers after arbitrary starts, failures and split brains', () => {
    fc.assert(
      fc.property(scenario(false), fc.boolean(), (s, startAll) => {
        const link = simulate(s, startAll);
        const up = link.configs.map((_, i) => i).filter((i) => link.running(i));
        const masters = up.filter((i) => link.role(i) === 'master');
        if (up.length === 0) return;
        assert.equal(masters.length, 1, describeRun(link));
        for (const i of up) if (i !== masters[0]) assert.equal(link.role(i), 'backup', describeRun(link));
        // Stable: another long quiet stretch changes nothing.
        const before = link.log.length;
        link.runUntil(link.now + 10 * Math.max(...up.map((i) => masterDownUs(link.state(i)))));
        assert.equal(link.log.length, before, `no transitions once converged\n${describeRun(link)}`);
      }),
      { numRuns: 300 },
    );
  });

  it('with preemption everywhere, the master has the highest priority (equal priorities: a running master is not preempted)', () => {
    fc.assert(
      fc.property(scenario(true), fc.boolean(), (s, startAll) => {
        const link = simulate(s, startAll);
        const up = link.configs.map((_, i) => i).filter((i) => link.running(i));
        if (up.length === 0) return;
        const top = Math.max(...up.map((i) => link.state(i).effectivePriority));
        const master = up.find((i) => link.role(i) === 'master');
        assert.ok(master !== undefined, describeRun(link));
        assert.equal(link.state(master).effectivePriority, top, describeRun(link));
      }),
      { numRuns: 300 },
    );
  });

  it('equal priorities becoming master together: the higher primary address wins the tie-break', () => {
    const cfg = (addr: string): VrrpFsmConfig => ({ version: 2, family: 'ipv4', priority: 100, advertIntUs: 1_000_000, primaryAddress: addr, preempt: true, preemptDelayUs: 0, acceptMode: false });
    for (const seed of [1, 2, 3, 4, 5]) {
      const link = new SimLink([cfg('10.0.0.10'), cfg('10.0.0.9'), cfg('10.0.0.2')], seed);
      for (let i = 0; i < 3; i++) link.start(i); // same Master_Down_Interval: all three time out together
      link.runUntil(10_000_000);
      assert.deepEqual([0, 1, 2].map((i) => link.role(i)), ['master', 'backup', 'backup'], describeRun(link));
      assert.ok(link.log.some((t) => t.reason === 'equal-priority-higher-address'));
    }
  });

  it('a priority-0 advert hands over after Skew_Time, not Master_Down_Interval', () => {
    const cfg = (priority: number, addr: string): VrrpFsmConfig => ({ version: 3, family: 'ipv4', priority, advertIntUs: 100_000, primaryAddress: addr, preempt: true, preemptDelayUs: 0, acceptMode: false });
    const link = new SimLink([cfg(200, '10.0.0.1'), cfg(100, '10.0.0.2')], 1, 1);
    link.start(0);
    link.start(1);
    link.runUntil(2_000_000);
    assert.equal(link.role(0), 'master');
    const stopAt = link.now;
    link.stop(0);
    link.runUntil(stopAt + 1_000_000);
    const takeover = link.log.find((t) => t.router === 1 && t.to === 'master');
    assert.ok(takeover !== undefined);
    assert.equal(takeover.reason, 'master-resigned');
    // Skew_Time for priority 100 at 10 cs is 60.9 ms (+ the link delay); Master_Down_Interval would be 360.9 ms.
    assert.ok(takeover.at - stopAt < 62_000, `took ${takeover.at - stopAt} µs`);
  });
});
