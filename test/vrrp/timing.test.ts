import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { masterDownIntervalUs, skewTimeUs } from '../../src/vrrp/timing.js';

describe('VRRP timers (failover-and-peers.md §1.6 worked numbers, keepalived µs arithmetic)', () => {
  const rows: [string, 2 | 3, number, number, number, number][] = [
    // name, version, priority, interval µs, skew µs, Master_Down_Interval µs
    ['v2 1 s prio 254', 2, 254, 1_000_000, 7_812, 3_007_812],
    ['v2 1 s prio 150', 2, 150, 1_000_000, 414_062, 3_414_062],
    ['v2 1 s prio 100', 2, 100, 1_000_000, 609_375, 3_609_375],
    ['v2 1 s prio 1', 2, 1, 1_000_000, 996_093, 3_996_093],
    ['v2 skew ignores the interval (3 s)', 2, 100, 3_000_000, 609_375, 9_609_375],
    ['v3 100 cs prio 100', 3, 100, 1_000_000, 609_375, 3_609_375],
    ['v3 10 cs prio 100', 3, 100, 100_000, 60_937, 360_937],
    ['v3 1 cs prio 254 (keeps a non-zero skew)', 3, 254, 10_000, 78, 30_078],
    ['v3 owner', 3, 255, 1_000_000, 3_906, 3_003_906],
  ];
  for (const [name, v, p, adv, skew, mdi] of rows) {
    it(name, () => {
      assert.equal(skewTimeUs(v, p, adv), skew);
      assert.equal(masterDownIntervalUs(v, p, adv), mdi);
    });
  }
  it('down_timer_adverts replaces the factor 3', () => {
    assert.equal(masterDownIntervalUs(3, 100, 100_000, 5), 500_000 + 60_937);
  });
  it('the measured takeovers after a priority-0 advert match Skew_Time (0.614 s v2, 0.067 s v3 10 cs)', () => {
    assert.ok(Math.abs(skewTimeUs(2, 100, 1_000_000) - 614_000) < 10_000);
    assert.ok(Math.abs(skewTimeUs(3, 100, 100_000) - 67_000) < 10_000);
  });
});
