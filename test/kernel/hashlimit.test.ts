// HashLimit: past it the internal cache refuses new entries; the refusals are counted (`-s`
// "failed") and logged — once at first, then at most every 10 s with the total.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import type { Logger } from '../../src/daemon/log.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import { syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { tcpEntry } from './entries.js';

describe('HashLimit', { skip: rootSkipReason(), timeout: 60_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let node: SyncNode | undefined;
  const lines: string[] = [];
  const log: Logger = { log: (level, m) => void lines.push(`${level}: ${m}`) };

  before(async () => {
    a = Netns.create('hla');
    b = Netns.create('hlb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.236.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.236.0.2/24' });
    dir = mkdtempSync(join(tmpdir(), 'ks-hl-'));
    const text = syncConf(dir, { kind: 'udp', self: '10.236.0.1', peer: '10.236.0.2', device: 'sync0' }).replace(/HashLimit \d+/, 'HashLimit 100');
    node = await SyncNode.start(parseConntrackdConfig(text, 'a.conf').config, log, { netns: a.name });
  });

  after(async () => {
    await node?.stop();
    a?.close();
    b?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses entries past the limit, counts them and logs one line for the flood', async () => {
    const k = ConntrackClient.open({ netns: a.name });
    try {
      assert.equal((await k.create(Array.from({ length: 150 }, (_, i) => tcpEntry(i)))).filter((r) => r.ok).length, 150);
    } finally {
      k.close();
    }
    const end = Date.now() + 20_000; // hang guard
    while (node!.replicator.internal.stats.refusedOverLimit < 50 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(node!.replicator.internal.size, 100);
    assert.equal(node!.replicator.internal.stats.refusedOverLimit, 50);
    const warned = lines.filter((l) => l.includes('internal cache is full (HashLimit 100)'));
    assert.equal(warned.length, 1, lines.join('\n'));
  });
});
