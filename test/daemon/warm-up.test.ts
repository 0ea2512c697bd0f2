import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { warmUp } from '../../src/daemon/warm-up.js';
import { compileFilter } from '../../src/engine/filter.js';
import type { ReplicatorConfig } from '../../src/engine/replicator.js';

const CFG: ReplicatorConfig = { ackWindow: 300, resendQueueSize: 131072, hashLimit: 262144, mtu: 1500, overhead: 28, tcpWindowTracking: false, commitTimeout: false, initialSeq: 7 };
const loc = { file: 'x.conf', line: 1, col: 1 };

describe('warmUp: made-up entries through the event, sync and commit paths, in memory', () => {
  it('every entry reaches the peer’s external cache and gets a create request, in each mode', () => {
    for (const mode of ['ftfw', 'notrack', 'alarm'] as const) {
      const w = warmUp({ ...CFG, mode }, 500);
      assert.equal(w.entries, 500, mode);
      assert.equal(w.requests, 500, mode);
      assert.ok(w.cpuUs > 0 && w.ms > 0, mode);
    }
    const bypass = warmUp({ ...CFG, mode: 'notrack', bypass: true }, 300); // DisableInternalCache
    assert.deepEqual([bypass.entries, bypass.requests], [300, 300]);
  });
  it('is not held back by the daemon’s own HashLimit or resend queue, and honours TCPWindowTracking', () => {
    const w = warmUp({ ...CFG, hashLimit: 10, resendQueueSize: 10, tcpWindowTracking: true }, 400);
    assert.deepEqual([w.entries, w.requests], [400, 400]);
  });
  it('goes through the configured Filter, as the daemon’s events do', () => {
    // Only UDP: the mix is 7 UDP entries in 20 (kinds 11..17 of madeUpEntry).
    const filter = compileFilter({ loc, from: 'userspace', protocol: { policy: 'accept', protocols: [17], loc } });
    const w = warmUp({ ...CFG, filter }, 200);
    assert.deepEqual([w.entries, w.requests], [70, 70]);
  });
});
