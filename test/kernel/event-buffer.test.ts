// The event socket's buffer as conntrackd sizes it: NetlinkBufferSize (with a
// NetlinkBufferSizeMaxGrowth at least as large) is the effective size; each overrun doubles it up
// to NetlinkBufferSizeMaxGrowth; NetlinkOverrunResync then brings back what the overrun lost.
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

const SMALL = 65536;
const MAX = 4 * SMALL;
const N = 20_000;

describe('event socket buffer: NetlinkBufferSize, growth on overrun, overrun resync', { skip: rootSkipReason(), timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let node: SyncNode | undefined;
  const lines: string[] = [];
  const log: Logger = { log: (level, m) => void lines.push(`${level}: ${m}`) };

  before(async () => {
    a = Netns.create('eba');
    b = Netns.create('ebb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.233.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.233.0.2/24' });
    dir = mkdtempSync(join(tmpdir(), 'ks-eb-'));
    // The helper writes NetlinkBufferSize/MaxGrowth; the overrun resync comes 1 s after an overrun.
    const text = syncConf(dir, { kind: 'udp', self: '10.233.0.1', peer: '10.233.0.2', device: 'sync0' }, '', SMALL)
      .replace(/NetlinkBufferSizeMaxGrowth \d+/, `NetlinkBufferSizeMaxGrowth ${MAX}\n  NetlinkOverrunResync 1`);
    node = await SyncNode.start(parseConntrackdConfig(text, 'a.conf').config, log, { netns: a.name });
  });

  after(async () => {
    await node?.stop();
    a?.close();
    b?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('starts with NetlinkBufferSize as the effective size', () => {
    assert.equal(node!.eventSocketBuffer(), SMALL);
  });

  it('an overrun doubles the buffer up to NetlinkBufferSizeMaxGrowth, and the resync brings back every entry', async () => {
    const k = ConntrackClient.open({ netns: a.name });
    try {
      // A batched burst far beyond 64 KiB of events (each ~600 bytes of buffer).
      const made = await k.create(Array.from({ length: N }, (_, i) => tcpEntry(i)));
      assert.equal(made.filter((r) => r.ok).length, N);
    } finally {
      k.close();
    }
    const end = Date.now() + 60_000; // hang guard
    while (node!.replicator.internal.liveSize < N && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.ok(node!.counters.overruns > 0, 'the burst overran the small buffer');
    assert.ok(node!.counters.overrunResyncs > 0, 'and an overrun resync ran');
    assert.equal(node!.replicator.internal.liveSize, N, 'every entry is in the internal cache');
    const size = node!.eventSocketBuffer();
    assert.ok(size > SMALL && size <= MAX, `buffer grew within the maximum: ${size}`);
    assert.ok(lines.some((l) => l.includes('netlink event socket buffer size has been set to')), lines.join('\n'));
  });
});

describe('NetlinkEventsReliable: no DESTROY event is lost, even with a buffer far too small', { skip: rootSkipReason(), timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let node: SyncNode | undefined;
  const lines: string[] = [];
  const log: Logger = { log: (level, m) => void lines.push(`${level}: ${m}`) };

  before(async () => {
    a = Netns.create('era');
    b = Netns.create('erb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.234.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.234.0.2/24' });
    dir = mkdtempSync(join(tmpdir(), 'ks-er-'));
    const text = syncConf(dir, { kind: 'udp', self: '10.234.0.1', peer: '10.234.0.2', device: 'sync0' }, '', SMALL)
      .replace(/NetlinkBufferSizeMaxGrowth \d+/, `NetlinkBufferSizeMaxGrowth ${SMALL}\n  NetlinkOverrunResync off\n  NetlinkEventsReliable on`);
    node = await SyncNode.start(parseConntrackdConfig(text, 'a.conf').config, log, { netns: a.name });
  });

  after(async () => {
    await node?.stop();
    a?.close();
    b?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('a flush of 5000 entries reaches the internal cache as 5000 DESTROY events, no overrun reported', async () => {
    assert.ok(lines.some((l) => l.includes('reliable ctnetlink event delivery is ENABLED')));
    const k = ConntrackClient.open({ netns: a.name });
    const until = async (what: string, cond: () => boolean): Promise<void> => {
      const end = Date.now() + 60_000; // hang guard
      while (!cond()) {
        if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      // Created in small batches (NEW events of ctnetlink's own creates are not redelivered).
      for (let i = 0; i < 5000; i += 50) {
        await k.create(Array.from({ length: 50 }, (_, j) => tcpEntry(i + j)));
        await until(`${i + 50} cached`, () => node!.replicator.internal.liveSize >= i + 50);
      }
      await k.flush();
    } finally {
      k.close();
    }
    await until('every entry dead', () => node!.replicator.internal.liveSize === 0);
    assert.equal(node!.counters.overruns, 0, 'NETLINK_NO_ENOBUFS: no overrun is reported');
  });
});
