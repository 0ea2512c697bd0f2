import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { demotionReason, SyncCompleteness } from '../../src/engine/completeness.js';

const opts = { timeoutMs: 60_000, linkDownMs: 3_000 };

describe('SyncCompleteness', () => {
  it('is incomplete from the resync request until the peer has sent everything (idle)', () => {
    const c = new SyncCompleteness(opts);
    c.start(1_000);
    c.onHeard(1_100);
    const v = c.view(1_500);
    assert.equal(v.complete, false);
    assert.equal(v.reason, 'startup');
    assert.equal(v.remainingMs, 59_500);
    assert.equal(demotionReason(v), 'sync incomplete: start-up bulk sync not finished');
    c.onIdle();
    assert.equal(c.view(1_600).complete, true);
    assert.equal(demotionReason(c.view(1_600)), undefined);
  });

  it('a gap keeps it incomplete until the peer is idle again; a second gap meanwhile changes nothing', () => {
    const c = new SyncCompleteness(opts);
    c.start(0);
    c.onIdle();
    c.onHeard(10_000);
    c.onGap(10_000);
    c.onHeard(10_500);
    c.onGap(10_500);
    const v = c.view(11_000);
    assert.deepEqual([v.complete, v.reason, v.sinceMs], [false, 'gap', 10_000]);
    c.onIdle();
    assert.ok(c.view(11_100).complete);
  });

  it('a silent peer is a link down while this node is not master, not when it is', () => {
    const c = new SyncCompleteness(opts);
    c.start(0);
    c.onHeard(100);
    c.onIdle();
    assert.ok(c.view(3_000).complete, 'silent for 2.9 s: still up');
    const v = c.view(3_200);
    assert.deepEqual([v.complete, v.reason, v.sinceMs], [false, 'link', 100]);
    assert.ok(c.view(3_200, 3_000).complete, 'a master does not wait for anyone');
    c.onHeard(5_000);
    assert.ok(c.view(5_000).complete);
  });

  it('stops demoting once the timeout has run out, and starts counting again after a complete spell', () => {
    const c = new SyncCompleteness({ timeoutMs: 5_000, linkDownMs: 3_000 });
    c.start(0);
    assert.equal(c.view(4_999).timedOut, false);
    const v = c.view(5_000);
    assert.deepEqual([v.complete, v.timedOut, v.remainingMs], [false, true, 0]);
    assert.equal(demotionReason(v), undefined);
    c.onHeard(6_000);
    c.onIdle();
    assert.ok(c.view(6_000).complete);
    c.onGap(7_000);
    assert.equal(c.view(7_000).remainingMs, 5_000);
  });

  it('a master is complete, and its mastership ends the spell: the timeout of the next runs from the next resync request', () => {
    // CI, 2026-11-21: fw1 started alone (its start-up resync unanswered), was master for 4 s, went
    // to FAULT and asked again; the timeout, counted from the process start, ran out 6 s later and
    // fw1 preempted with half a table.
    const c = new SyncCompleteness({ timeoutMs: 10_000, linkDownMs: 3_000 });
    c.start(0);
    assert.equal(c.view(100).remainingMs, 9_900);
    const m = c.view(4_000, 1_000);
    assert.deepEqual([m.complete, m.reason, m.timedOut], [true, undefined, false]);
    c.start(4_100); // leaves MASTER: resyncFromPeer
    const v = c.view(6_000);
    assert.deepEqual([v.complete, v.reason, v.sinceMs, v.remainingMs], [false, 'startup', 4_100, 8_100]);
    assert.notEqual(demotionReason(c.view(13_000)), undefined, 'still demoted 13 s after the process start');
  });

  it('a mastership shorter than masterSettleMs leaves the spell running: the node lost a split brain', () => {
    // Bench, 2026-11-21: fw1 came back from FAULT demoted, won an election for a moment before it
    // heard fw2, lost the split brain; the watcher saw it master, restored priority 150 and fw1
    // preempted fw2 with a stale table.
    const c = new SyncCompleteness({ timeoutMs: 60_000, linkDownMs: 3_000, masterSettleMs: 1_000 });
    c.start(0);
    const early = c.view(5_050, 5_000);
    assert.deepEqual([early.complete, early.reason, early.sinceMs], [false, 'startup', 0]);
    assert.notEqual(demotionReason(early), undefined, 'still demoted 50 ms into the mastership');
    assert.deepEqual([c.view(6_000, 5_000).complete, c.view(6_000, 5_000).asMaster], [true, true], 'settled after 1 s');
  });

  it('with a zero timeout it never demotes', () => {
    const c = new SyncCompleteness({ timeoutMs: 0, linkDownMs: 3_000 });
    c.start(0);
    assert.equal(demotionReason(c.view(0)), undefined);
  });
});
