import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { madeUpEntriesLeft, PLAIN_PATHS, warmUp } from '../../src/daemon/warm-up.js';
import { compileFilter } from '../../src/engine/filter.js';
import type { ReplicatorConfig } from '../../src/engine/replicator.js';

const CFG: ReplicatorConfig = { ackWindow: 300, resendQueueSize: 131072, hashLimit: 262144, mtu: 1500, overhead: 28, tcpWindowTracking: false, commitTimeout: false, initialSeq: 7 };
const loc = { file: 'x.conf', line: 1, col: 1 };

describe('warmUp: made-up entries through the event, sync and commit paths, in memory', () => {
  it('every entry reaches the peer’s external cache and gets a create request, in each mode', () => {
    for (const mode of ['ftfw', 'notrack', 'alarm'] as const) {
      const w = warmUp({ ...CFG, mode }, PLAIN_PATHS, 500);
      // 8 batches of events: each after the first destroys 2 entries of the one before.
      assert.equal(madeUpEntriesLeft(500), 486);
      assert.equal(w.entries, 486, mode);
      assert.equal(w.requests, 486, mode);
      assert.ok(w.cpuUs > 0 && w.ms > 0, mode);
    }
    const bypass = warmUp({ ...CFG, mode: 'notrack', bypass: true }, PLAIN_PATHS, 300); // DisableInternalCache
    assert.deepEqual([bypass.entries, bypass.requests], [292, 292]); // 5 batches, 8 destroyed
  });
  it('is not held back by the daemon’s own HashLimit or resend queue, and honours TCPWindowTracking', () => {
    const w = warmUp({ ...CFG, hashLimit: 10, resendQueueSize: 10, tcpWindowTracking: true }, PLAIN_PATHS, 400);
    assert.deepEqual([w.entries, w.requests], [388, 388]); // 7 batches, 12 destroyed
  });
  it('goes through the configured Filter, as the daemon’s events do', () => {
    // Only UDP: the mix is 7 UDP entries in 20 (kinds 11..17 of madeUpEntry), 70 of 200, less
    // entry 191 (kind 11), which the fourth batch destroys.
    const filter = compileFilter({ loc, from: 'userspace', protocol: { policy: 'accept', protocols: [17], loc } });
    const w = warmUp({ ...CFG, filter }, PLAIN_PATHS, 200);
    assert.deepEqual([w.entries, w.requests], [69, 69]);
  });
});
