// SplitBrainWatch on a simulated clock: counting, the episode's end after a quiet period or when
// this side leaves master, and the rate-limited log.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TimerPort } from '../../src/failover/router.js';
import { SplitBrainWatch, arrivalOnTimers, inHandover } from '../../src/failover/split-brain.js';

class SimTimers implements TimerPort {
  private t = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  nowUs(): number {
    return this.t;
  }
  set(us: number, fn: () => void): unknown {
    this.due.set(++this.seq, { at: this.t + us, fn });
    return this.seq;
  }
  clear(h: unknown): void {
    this.due.delete(h as number);
  }
  advance(us: number): void {
    const end = this.t + us;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.due) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      this.due.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

describe('SplitBrainWatch', () => {
  it('counts adverts of another master, is active until it has been quiet for the quiet period', () => {
    const timers = new SimTimers();
    const logs: string[] = [];
    const w = new SplitBrainWatch('VI_1', timers, (_l, m) => logs.push(m), 4_000_000);
    for (let i = 0; i < 30; i++) {
      w.heard('10.0.0.2', 50, 100);
      timers.advance(1_000_000);
    }
    const s = w.status();
    assert.equal(s.count, 30);
    assert.equal(s.episodes, 1);
    assert.equal(s.lastPeer, '10.0.0.2');
    assert.equal(s.lastPeerPriority, 50);
    assert.equal(s.active, true);
    // One start line and at most one "goes on" line per 10 s of a 30 s episode.
    assert.equal(logs.filter((l) => /split brain: 10\.0\.0\.2 is master too/.test(l)).length, 1);
    assert.equal(logs.filter((l) => /goes on/.test(l)).length, 2);
    timers.advance(2_000_000); // the last one was heard 3 s ago
    assert.equal(w.active, true);
    timers.advance(1_000_000);
    assert.equal(w.active, false);
    assert.match(logs.at(-1)!, /over: the other master is silent \(30 adverts/);
  });

  it('leaving master ends the episode; the next one counts as a new episode', () => {
    const timers = new SimTimers();
    const logs: string[] = [];
    const w = new SplitBrainWatch('VI_1', timers, (_l, m) => logs.push(m), 4_000_000);
    w.heard('10.0.0.2', 50, 100);
    w.leftMaster();
    assert.equal(w.active, false);
    assert.match(logs.at(-1)!, /left master/);
    w.heard('10.0.0.3', 90, 100);
    assert.deepEqual({ ...w.status(), lastAtMs: 0 }, { count: 2, episodes: 2, lastPeer: '10.0.0.3', lastPeerPriority: 90, lastAtMs: 0, active: true });
    w.close();
  });
});

describe('handover grace by arrival', () => {
  const claim = 5_000_000;
  it('an advert that arrived within the old master’s interval (and 10 ms) of the claim, or before it, is the handover', () => {
    assert.equal(inHandover(claim - 300_000, claim, 100_000), true, 'arrived before the claim');
    assert.equal(inHandover(claim + 110_000, claim, 100_000), true, 'interval + slack exactly');
    assert.equal(inHandover(claim + 110_001, claim, 100_000), false, 'a microsecond after');
    assert.equal(inHandover(claim + 900_000, claim, 1_000_000), true, 'a slower old master');
    assert.equal(inHandover(claim, undefined, 100_000), false, 'nothing claimed yet: not the handover (the router does not count before its claim)');
  });

  it('judges by when the advert arrived, not when a held-up process read it', () => {
    // Read 500 ms after the claim, but the kernel stamped it 20 ms after: the handover.
    const nowUs = claim + 500_000;
    const realNowUs = 1_790_000_000_000_000;
    const arrival = arrivalOnTimers(nowUs, realNowUs, realNowUs - 480_000);
    assert.equal(arrival, claim + 20_000);
    assert.equal(inHandover(arrival, claim, 100_000), true);
    // Stamped 500 ms after the claim: another master indeed.
    assert.equal(inHandover(arrivalOnTimers(nowUs, realNowUs, realNowUs), claim, 100_000), false);
  });

  it('without a stamp, or with one from the future (the realtime clock stepped back), the advert arrived now', () => {
    assert.equal(arrivalOnTimers(7_000, 1_000_000, undefined), 7_000);
    assert.equal(arrivalOnTimers(7_000, 1_000_000, 1_000_500), 7_000);
  });
});
