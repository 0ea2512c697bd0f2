// The event socket's buffer as conntrackd sizes it: NetlinkBufferSize (with a
// NetlinkBufferSizeMaxGrowth at least as large) is the effective size; each overrun doubles it up
// to NetlinkBufferSizeMaxGrowth; NetlinkOverrunResync then brings back what the overrun lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { rootSkipReason } from '../../lab/netns.js';
import { startSoloNode, type SoloNode } from '../../lab/solo-node.js';
import { tcpEntry } from './entries.js';
import { until as untilDone } from '../helpers/until.js';

const SMALL = 65536;
const MAX = 4 * SMALL;
const N = 20_000;

describe('event socket buffer: NetlinkBufferSize, growth on overrun, overrun resync', { skip: rootSkipReason(), timeout: 120_000 }, () => {
  let solo: SoloNode | undefined;
  before(async () => {
    // The overrun resync comes 1 s after an overrun.
    solo = await startSoloNode('eb', '10.233.0', (c) => c.replace(/NetlinkBufferSizeMaxGrowth \d+/, `NetlinkBufferSizeMaxGrowth ${MAX}\n  NetlinkOverrunResync 1`), SMALL);
  });
  after(async () => {
    await solo?.close();
  });

  it('starts with NetlinkBufferSize as the effective size', () => {
    assert.equal(solo!.node.eventSocketBuffer(), SMALL);
  });

  it('an overrun doubles the buffer up to NetlinkBufferSizeMaxGrowth, and the resync brings back every entry', async () => {
    const { a, node, lines } = solo!;
    const k = ConntrackClient.open({ netns: a.name });
    try {
      // A batched burst far beyond 64 KiB of events (each ~600 bytes of buffer).
      const made = await k.create(Array.from({ length: N }, (_, i) => tcpEntry(i)));
      assert.equal(made.filter((r) => r.ok).length, N);
    } finally {
      k.close();
    }
    await until(`${N} entries cached`, () => node.replicator.internal.liveSize === N);
    assert.ok(node.counters.overruns > 0, 'the burst overran the small buffer');
    assert.ok(node.counters.overrunResyncs > 0, 'and an overrun resync ran');
    const size = node.eventSocketBuffer();
    assert.ok(size > SMALL && size <= MAX, `buffer grew within the maximum: ${size}`);
    assert.ok(lines.some((l) => l.includes('netlink event socket buffer size has been set to')), lines.join('\n'));
  });
});

describe('NetlinkEventsReliable: no DESTROY event is lost, even with a buffer far too small', { skip: rootSkipReason(), timeout: 120_000 }, () => {
  let solo: SoloNode | undefined;
  before(async () => {
    solo = await startSoloNode(
      'er',
      '10.234.0',
      (c) => c.replace(/NetlinkBufferSizeMaxGrowth \d+/, `NetlinkBufferSizeMaxGrowth ${SMALL}\n  NetlinkOverrunResync off\n  NetlinkEventsReliable on`),
      SMALL,
    );
  });
  after(async () => {
    await solo?.close();
  });

  it('a flush of 5000 entries reaches the internal cache as 5000 DESTROY events, no overrun reported', async () => {
    const { a, node, lines } = solo!;
    assert.ok(lines.some((l) => l.includes('reliable ctnetlink event delivery is ENABLED')));
    const k = ConntrackClient.open({ netns: a.name });
    try {
      // Created in small batches (NEW events of ctnetlink's own creates are not redelivered).
      for (let i = 0; i < 5000; i += 50) {
        await k.create(Array.from({ length: 50 }, (_, j) => tcpEntry(i + j)));
        await until(`${i + 50} cached`, () => node.replicator.internal.liveSize >= i + 50);
      }
      await k.flush();
    } finally {
      k.close();
    }
    await until('every entry dead', () => node.replicator.internal.liveSize === 0);
    assert.equal(node.counters.overruns, 0, 'NETLINK_NO_ENOBUFS: no overrun is reported');
  });
});

const until = (what: string, cond: () => boolean | Promise<boolean>, guardMs = 60_000): Promise<void> => untilDone(what, cond, guardMs, 50);
