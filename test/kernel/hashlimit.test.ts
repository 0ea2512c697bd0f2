// HashLimit: past it the internal cache refuses new entries; the refusals are counted (`-s`
// "failed") and logged — once at first, then at most every 10 s with the total.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { rootSkipReason } from '../../lab/netns.js';
import { startSoloNode, type SoloNode } from '../../lab/solo-node.js';
import { tcpEntry } from './entries.js';

describe('HashLimit', { skip: rootSkipReason(), timeout: 60_000 }, () => {
  let solo: SoloNode | undefined;
  before(async () => {
    solo = await startSoloNode('hl', '10.236.0', (c) => c.replace(/HashLimit \d+/, 'HashLimit 100'));
  });
  after(async () => {
    await solo?.close();
  });

  it('refuses entries past the limit, counts them and logs one line for the flood', async () => {
    const { a, node, lines } = solo!;
    const k = ConntrackClient.open({ netns: a.name });
    try {
      assert.equal((await k.create(Array.from({ length: 150 }, (_, i) => tcpEntry(i)))).filter((r) => r.ok).length, 150);
    } finally {
      k.close();
    }
    const end = Date.now() + 20_000; // hang guard
    while (node.replicator.internal.stats.refusedOverLimit < 50 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(node.replicator.internal.size, 100);
    assert.equal(node.replicator.internal.stats.refusedOverLimit, 50);
    const warned = lines.filter((l) => l.includes('internal cache is full (HashLimit 100)'));
    assert.equal(warned.length, 1, lines.join('\n'));
  });
});
