import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { syncGroupStep, type GroupMember } from '../../src/vrrp/sync-group.js';

const m = (name: string, role: GroupMember['role'], wantsMaster = false, ownFault = false): GroupMember => ({ name, role, wantsMaster, ownFault });

describe('syncGroupStep (vrrp_sync_group)', () => {
  it('one member ready is held until all are', () => {
    const d = syncGroupStep('backup', [m('lan', 'backup', true), m('wan', 'backup')], { kind: 'wantMaster', member: 'lan' });
    assert.deepEqual(d, { state: 'backup', orders: [] });
  });
  it('when the last member is ready, all are promoted and the group notifies MASTER', () => {
    const d = syncGroupStep('backup', [m('lan', 'backup', true), m('wan', 'backup', true)], { kind: 'wantMaster', member: 'wan' });
    assert.deepEqual(d, { state: 'master', notify: 'master', orders: [{ member: 'lan', order: 'master' }, { member: 'wan', order: 'master' }] });
  });
  it('a ready member of a master group is promoted alone (it rejoins)', () => {
    const d = syncGroupStep('master', [m('lan', 'master'), m('wan', 'backup', true)], { kind: 'wantMaster', member: 'wan' });
    assert.deepEqual(d, { state: 'master', orders: [{ member: 'wan', order: 'master' }] });
  });
  it('a member that hears a better master takes the whole group to BACKUP', () => {
    const d = syncGroupStep('master', [m('lan', 'backup'), m('wan', 'master')], { kind: 'transition', member: 'lan', from: 'master', to: 'backup' });
    assert.deepEqual(d, { state: 'backup', notify: 'backup', orders: [{ member: 'wan', order: 'backup' }] });
  });
  it('one member in FAULT puts the whole group in FAULT', () => {
    const d = syncGroupStep('master', [m('lan', 'fault', false, true), m('wan', 'master'), m('dmz', 'backup')], { kind: 'transition', member: 'lan', from: 'master', to: 'fault' });
    assert.deepEqual(d, { state: 'fault', notify: 'fault', orders: [{ member: 'wan', order: 'fault' }, { member: 'dmz', order: 'fault' }] });
  });
  it('the group leaves FAULT only when no member is faulty of its own, releasing the held ones', () => {
    const still = syncGroupStep('fault', [m('lan', 'backup'), m('wan', 'fault', false, true), m('dmz', 'fault')], { kind: 'transition', member: 'lan', from: 'fault', to: 'backup' });
    assert.equal(still.state, 'fault');
    assert.deepEqual(still.orders, [{ member: 'lan', order: 'fault' }]);
    const clear = syncGroupStep('fault', [m('lan', 'backup'), m('wan', 'fault'), m('dmz', 'fault')], { kind: 'transition', member: 'lan', from: 'fault', to: 'backup' });
    assert.deepEqual(clear, { state: 'backup', notify: 'backup', orders: [{ member: 'wan', order: 'release' }, { member: 'dmz', order: 'release' }] });
  });
  it('an own fault cleared while group-held releases the whole group (no deadlock of mutual holds)', () => {
    const d = syncGroupStep('fault', [m('lan', 'fault'), m('wan', 'fault')], { kind: 'ownFault', member: 'wan', active: false });
    assert.deepEqual(d, { state: 'backup', notify: 'backup', orders: [{ member: 'lan', order: 'release' }, { member: 'wan', order: 'release' }] });
  });
});
