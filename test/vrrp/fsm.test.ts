import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialVrrpState, step, type VrrpAction, type VrrpEvent, type VrrpFsmConfig, type VrrpState } from '../../src/vrrp/fsm.js';

const V2: VrrpFsmConfig = { version: 2, family: 'ipv4', priority: 100, advertIntUs: 1_000_000, primaryAddress: '10.0.0.2', preempt: true, preemptDelayUs: 0, acceptMode: false };
const V3: VrrpFsmConfig = { ...V2, version: 3, advertIntUs: 100_000 };

/** run feeds events in order and returns the final state and the actions of the last event. */
function run(cfg: VrrpFsmConfig, events: readonly VrrpEvent[]): { state: VrrpState; actions: readonly VrrpAction[] } {
  let state = initialVrrpState(cfg);
  let actions: readonly VrrpAction[] = [];
  for (const e of events) ({ state, actions } = step(state, e));
  return { state, actions };
}

const advert = (priority: number, src = '10.0.0.9', advertIntUs = 1_000_000): VrrpEvent => ({ kind: 'advert', priority, src, advertIntUs });
const fire = (timer: 'adver' | 'masterDown' | 'preemptDelay'): VrrpEvent => ({ kind: 'timer', timer });
const START: VrrpEvent = { kind: 'startup' };
const asMaster = [START, fire('masterDown')];

describe('Initialize', () => {
  it('startup, priority < 255 → Backup, Master_Down_Timer = Master_Down_Interval', () => {
    const { state, actions } = run(V2, [START]);
    assert.equal(state.role, 'backup');
    assert.deepEqual(actions, [
      { kind: 'armTimer', timer: 'masterDown', us: 3_609_375 },
      { kind: 'transition', from: 'initialize', to: 'backup', reason: 'startup' },
      { kind: 'notify', state: 'BACKUP', priority: 100 },
    ]);
  });
  it('startup, priority 255 (owner) → Master at once: advert, transition (VIPs, GARP), Adver_Timer', () => {
    const { state, actions } = run({ ...V2, priority: 255 }, [START]);
    assert.equal(state.role, 'master');
    assert.deepEqual(
      actions.filter((a) => a.kind !== 'cancelTimer'),
      [
        { kind: 'sendAdvert', priority: 255 },
        { kind: 'transition', from: 'initialize', to: 'master', reason: 'owner-startup' },
        { kind: 'armTimer', timer: 'adver', us: 1_000_000 },
        { kind: 'notify', state: 'MASTER', priority: 255 },
      ],
    );
  });
  it('ignores adverts and timers', () => {
    assert.deepEqual(run(V2, [advert(200)]).actions, []);
    assert.deepEqual(run(V2, [fire('masterDown')]).actions, []);
    assert.equal(run(V2, [fire('masterDown')]).state.role, 'initialize');
  });
});

describe('Backup', () => {
  it('Master_Down_Timer fires → Master (reason master-down)', () => {
    const { state, actions } = run(V2, asMaster);
    assert.equal(state.role, 'master');
    assert.deepEqual(actions.find((a) => a.kind === 'transition'), { kind: 'transition', from: 'backup', to: 'master', reason: 'master-down' });
    assert.ok(actions.findIndex((a) => a.kind === 'sendAdvert') < actions.findIndex((a) => a.kind === 'transition'), 'advert before the takeover');
  });
  it('priority-0 advert → Master_Down_Timer = Skew_Time, then takeover reason master-resigned', () => {
    const r = run(V2, [START, advert(0)]);
    assert.deepEqual(r.actions, [{ kind: 'armTimer', timer: 'masterDown', us: 609_375 }]);
    const t = step(r.state, fire('masterDown'));
    assert.equal(t.state.role, 'master');
    assert.deepEqual(t.actions.find((a) => a.kind === 'transition'), { kind: 'transition', from: 'backup', to: 'master', reason: 'master-resigned' });
  });
  it('v3 priority-0 advert: Skew_Time uses Master_Adver_Interval (10 cs → 60.9 ms)', () => {
    assert.deepEqual(run(V3, [START, advert(0, '10.0.0.9', 100_000)]).actions, [{ kind: 'armTimer', timer: 'masterDown', us: 60_937 }]);
  });
  it('higher-priority advert resets Master_Down_Timer', () => {
    assert.deepEqual(run(V2, [START, advert(150)]).actions, [{ kind: 'armTimer', timer: 'masterDown', us: 3_609_375 }]);
  });
  it('equal-priority advert resets Master_Down_Timer whatever the addresses (backups do not tie-break)', () => {
    assert.deepEqual(run(V2, [START, advert(100, '10.0.0.1')]).actions, [{ kind: 'armTimer', timer: 'masterDown', us: 3_609_375 }]);
  });
  it('lower-priority advert with preempt → discarded (the timer runs out: preemption by timeout)', () => {
    const r = run(V2, [START, advert(50)]);
    assert.deepEqual(r.actions, []);
    assert.deepEqual(r.state.masterSeen, { address: '10.0.0.9', priority: 50 });
    const t = step(r.state, fire('masterDown'));
    assert.deepEqual(t.actions.find((a) => a.kind === 'transition'), { kind: 'transition', from: 'backup', to: 'master', reason: 'preempt' });
  });
  it('lower-priority advert with nopreempt → accepted, timer reset (never preempts)', () => {
    assert.deepEqual(run({ ...V2, preempt: false }, [START, advert(50)]).actions, [{ kind: 'armTimer', timer: 'masterDown', us: 3_609_375 }]);
  });
  it('v3 adopts the master\'s interval and recomputes Master_Down_Interval', () => {
    const r = run(V3, [START, advert(150, '10.0.0.9', 50_000)]);
    assert.equal(r.state.masterAdverIntUs, 50_000);
    assert.deepEqual(r.actions, [{ kind: 'armTimer', timer: 'masterDown', us: 150_000 + 30_468 }]);
  });
  it('v2 keeps its own interval (a different one is discarded by validation)', () => {
    assert.equal(run(V2, [START, advert(150, '10.0.0.9', 5_000_000)]).state.masterAdverIntUs, 1_000_000);
  });
  it('shutdown → Initialize, timers cancelled, notify STOP, no advert', () => {
    const { state, actions } = run(V2, [START, { kind: 'shutdown' }]);
    assert.equal(state.role, 'initialize');
    assert.deepEqual(actions, [
      { kind: 'cancelTimer', timer: 'masterDown' },
      { kind: 'cancelTimer', timer: 'preemptDelay' },
      { kind: 'transition', from: 'backup', to: 'initialize', reason: 'shutdown' },
      { kind: 'notify', state: 'STOP', priority: 100 },
    ]);
  });
  it('a stale Adver_Timer expiry is ignored', () => {
    assert.deepEqual(run(V2, [START, fire('adver')]).actions, []);
  });
});

describe('preempt_delay', () => {
  const cfg = { ...V2, preemptDelayUs: 5_000_000 };
  it('first lower-priority advert: tolerated, delay armed, down timer reset', () => {
    const r = run(cfg, [START, advert(50)]);
    assert.equal(r.state.preemptDelay, 'running');
    assert.deepEqual(r.actions, [
      { kind: 'armTimer', timer: 'masterDown', us: 3_609_375 },
      { kind: 'armTimer', timer: 'preemptDelay', us: 5_000_000 },
    ]);
  });
  it('while running, lower-priority adverts keep resetting the down timer', () => {
    assert.deepEqual(run(cfg, [START, advert(50), advert(50)]).actions, [{ kind: 'armTimer', timer: 'masterDown', us: 3_609_375 }]);
  });
  it('once elapsed, lower-priority adverts are discarded → takeover by timeout', () => {
    const r = run(cfg, [START, advert(50), fire('preemptDelay'), advert(50)]);
    assert.equal(r.state.preemptDelay, 'expired');
    assert.deepEqual(r.actions, []);
    assert.equal(step(r.state, fire('masterDown')).state.role, 'master');
  });
  it('a higher-priority master cancels it', () => {
    const r = run(cfg, [START, advert(50), advert(150)]);
    assert.equal(r.state.preemptDelay, 'idle');
    assert.deepEqual(r.actions, [{ kind: 'armTimer', timer: 'masterDown', us: 3_609_375 }, { kind: 'cancelTimer', timer: 'preemptDelay' }]);
  });
});

describe('Master', () => {
  it('Adver_Timer fires → send advert, re-arm', () => {
    assert.deepEqual(run(V2, [...asMaster, fire('adver')]).actions, [{ kind: 'sendAdvert', priority: 100 }, { kind: 'armTimer', timer: 'adver', us: 1_000_000 }]);
  });
  it('shutdown → cancel Adver_Timer, priority-0 advert, Initialize', () => {
    const { state, actions } = run(V2, [...asMaster, { kind: 'shutdown' }]);
    assert.equal(state.role, 'initialize');
    assert.deepEqual(actions, [
      { kind: 'cancelTimer', timer: 'adver' },
      { kind: 'sendAdvert', priority: 0 },
      { kind: 'transition', from: 'master', to: 'initialize', reason: 'shutdown' },
      { kind: 'notify', state: 'STOP', priority: 100 },
    ]);
  });
  it('priority-0 advert (another master resigning) → advert at once, Adver_Timer reset', () => {
    assert.deepEqual(run(V2, [...asMaster, advert(0)]).actions, [{ kind: 'sendAdvert', priority: 100 }, { kind: 'armTimer', timer: 'adver', us: 1_000_000 }]);
  });
  it('higher-priority advert → Backup, Master_Down_Timer armed', () => {
    const { state, actions } = run(V2, [...asMaster, advert(101)]);
    assert.equal(state.role, 'backup');
    assert.deepEqual(actions, [
      { kind: 'cancelTimer', timer: 'adver' },
      { kind: 'armTimer', timer: 'masterDown', us: 3_609_375 },
      { kind: 'transition', from: 'master', to: 'backup', reason: 'higher-priority' },
      { kind: 'notify', state: 'BACKUP', priority: 100 },
    ]);
  });
  it('equal priority from a higher primary address → Backup (tie-break)', () => {
    const { state, actions } = run(V2, [...asMaster, advert(100, '10.0.0.3')]);
    assert.equal(state.role, 'backup');
    assert.deepEqual(actions.find((a) => a.kind === 'transition'), { kind: 'transition', from: 'master', to: 'backup', reason: 'equal-priority-higher-address' });
  });
  it('equal priority from a lower primary address → stays Master and answers', () => {
    const { state, actions } = run(V2, [...asMaster, advert(100, '10.0.0.1')]);
    assert.equal(state.role, 'master');
    assert.deepEqual(actions, [{ kind: 'sendAdvert', priority: 100 }, { kind: 'notifyLowerPriority', src: '10.0.0.1', priority: 100 }]);
  });
  it('the tie-break compares addresses as numbers, not text (10.0.0.10 > 10.0.0.9)', () => {
    const cfg = { ...V2, primaryAddress: '10.0.0.9' };
    assert.equal(run(cfg, [...asMaster, advert(100, '10.0.0.10')]).state.role, 'backup');
  });
  it('IPv6 tie-break on link-local addresses', () => {
    const cfg: VrrpFsmConfig = { ...V3, family: 'ipv6', primaryAddress: 'fe80::2' };
    assert.equal(run(cfg, [...asMaster, advert(100, 'fe80::1:0', 100_000)]).state.role, 'backup');
    assert.equal(run(cfg, [...asMaster, advert(100, 'fe80::1', 100_000)]).state.role, 'master');
  });
  it('lower-priority advert → stays Master; answers with an advert (keepalived default)', () => {
    const { state, actions } = run(V2, [...asMaster, advert(50)]);
    assert.equal(state.role, 'master');
    assert.deepEqual(actions, [{ kind: 'sendAdvert', priority: 100 }, { kind: 'notifyLowerPriority', src: '10.0.0.9', priority: 50 }]);
  });
  it('lower-priority advert with lower_prio_no_advert → silent (RFC 5798)', () => {
    assert.deepEqual(run({ ...V2, lowerPrioNoAdvert: true }, [...asMaster, advert(50)]).actions, [{ kind: 'notifyLowerPriority', src: '10.0.0.9', priority: 50 }]);
  });
  it('its own address at its own priority (looped back) is ignored', () => {
    assert.deepEqual(run(V2, [...asMaster, advert(100, '10.0.0.2')]).actions, []);
  });
  it('v3 master yielding adopts the winner\'s interval', () => {
    assert.equal(run(V3, [...asMaster, advert(200, '10.0.0.9', 30_000)]).state.masterAdverIntUs, 30_000);
  });
  it('owner: equal priority 255 from a higher address yields (duplicate owners resolve by address)', () => {
    assert.equal(run({ ...V2, priority: 255 }, [START, advert(255, '10.0.0.3')]).state.role, 'backup');
  });
});

describe('priority change (tracking weights, sync-aware demotion)', () => {
  it('a master advertises the new priority at once', () => {
    const { state, actions } = run(V2, [...asMaster, { kind: 'priority', priority: 40 }]);
    assert.equal(state.effectivePriority, 40);
    assert.deepEqual(actions, [{ kind: 'sendAdvert', priority: 40 }, { kind: 'armTimer', timer: 'adver', us: 1_000_000 }]);
  });
  it('a demoted master is preempted by a better backup (discarded adverts, then takeover)', () => {
    // The peer (priority 100, this config) hears its master drop to 40.
    const r = run(V2, [START, advert(150), advert(40)]);
    assert.deepEqual(r.actions, []);
    assert.equal(step(r.state, fire('masterDown')).state.role, 'master');
  });
  it('a backup changes its priority silently; its skew follows on the next reset', () => {
    const r = run(V2, [START, { kind: 'priority', priority: 200 }, advert(250)]);
    assert.equal(r.state.effectivePriority, 200);
    assert.deepEqual(r.actions, [{ kind: 'armTimer', timer: 'masterDown', us: 3_000_000 + 218_750 }]);
  });
  it('stays within 1..254; the owner is not tracked', () => {
    assert.equal(run(V2, [START, { kind: 'priority', priority: 300 }]).state.effectivePriority, 254);
    assert.equal(run(V2, [START, { kind: 'priority', priority: -5 }]).state.effectivePriority, 1);
    assert.equal(run({ ...V2, priority: 255 }, [START, { kind: 'priority', priority: 10 }]).state.effectivePriority, 255);
  });
});

describe('FAULT (keepalived)', () => {
  it('a master in fault resigns with priority 0', () => {
    const { state, actions } = run(V2, [...asMaster, { kind: 'fault' }]);
    assert.equal(state.role, 'fault');
    assert.deepEqual(actions, [
      { kind: 'cancelTimer', timer: 'adver' },
      { kind: 'sendAdvert', priority: 0 },
      { kind: 'transition', from: 'master', to: 'fault', reason: 'fault' },
      { kind: 'notify', state: 'FAULT', priority: 100 },
      { kind: 'ownFault', active: true },
    ]);
  });
  it('in fault, adverts and timers do nothing; clearing starts over as Backup', () => {
    const r = run(V2, [START, { kind: 'fault' }, advert(0), fire('masterDown')]);
    assert.equal(r.state.role, 'fault');
    assert.deepEqual(r.actions, []);
    const c = step(r.state, { kind: 'faultCleared' });
    assert.equal(c.state.role, 'backup');
    assert.deepEqual(c.actions.find((a) => a.kind === 'transition'), { kind: 'transition', from: 'fault', to: 'backup', reason: 'fault-cleared' });
  });
  it('a fault at startup (interface down) is entered from Initialize', () => {
    assert.equal(run(V2, [{ kind: 'fault' }]).state.role, 'fault');
  });
});

describe('sync-group members', () => {
  const cfg = { ...V2, syncGroup: true };
  it('Master_Down_Timer fires → wantMaster, held in Backup, timer re-armed', () => {
    const { state, actions } = run(cfg, asMaster);
    assert.equal(state.role, 'backup');
    assert.equal(state.wantsMaster, true);
    assert.deepEqual(actions, [{ kind: 'armTimer', timer: 'masterDown', us: 3_609_375 }, { kind: 'wantMaster' }]);
  });
  it('an advert clears wantsMaster; the group order makes it master', () => {
    assert.equal(run(cfg, [...asMaster, advert(150)]).state.wantsMaster, false);
    const r = run(cfg, [...asMaster, { kind: 'group', order: 'master' }]);
    assert.equal(r.state.role, 'master');
    assert.deepEqual(r.actions.find((a) => a.kind === 'transition'), { kind: 'transition', from: 'backup', to: 'master', reason: 'group' });
  });
  it('ordered to backup, a master resigns with priority 0', () => {
    const r = run(cfg, [...asMaster, { kind: 'group', order: 'master' }, { kind: 'group', order: 'backup' }]);
    assert.equal(r.state.role, 'backup');
    assert.ok(r.actions.some((a) => a.kind === 'sendAdvert' && a.priority === 0));
  });
  it('group fault and own fault are kept apart', () => {
    const r = run(cfg, [START, { kind: 'group', order: 'fault' }, { kind: 'fault' }, { kind: 'group', order: 'release' }]);
    assert.equal(r.state.role, 'fault', 'still faulty of its own');
    assert.equal(step(r.state, { kind: 'faultCleared' }).state.role, 'backup');
  });
  it('clearing its own fault while the group holds it reports ownFault so the group can re-decide', () => {
    const r = run(cfg, [START, { kind: 'group', order: 'fault' }, { kind: 'fault' }, { kind: 'faultCleared' }]);
    assert.equal(r.state.role, 'fault');
    assert.deepEqual(r.actions, [{ kind: 'ownFault', active: false }]);
  });
  it('a sync-group owner starts in Backup and asks the group at once', () => {
    const r = run({ ...cfg, priority: 255 }, [START]);
    assert.equal(r.state.role, 'backup');
    assert.ok(r.actions.some((a) => a.kind === 'wantMaster'));
  });
});
