// The sync engine's part of a VRRP transition (src/daemon/takeover-state.ts) on real nodes in two
// namespaces: what a demotion leaves armed, what a takeover sets, with and without
// DisableExternalCache, and the election's view of mastership that sync completeness uses.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import type { Logger } from '../../src/daemon/log.js';
import { KernelPurge } from '../../src/daemon/purge.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import { takeoverState } from '../../src/daemon/takeover-state.js';
import { syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

/** until polls `pred` every 20 ms; the 20 s limit only guards against a hang. */
async function until(pred: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const A_IP = '10.239.0.1';
const B_IP = '10.239.0.2';

describe('takeover state work', { skip: rootSkipReason(), timeout: 60_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  const nodes: SyncNode[] = [];
  const purges: KernelPurge[] = [];
  const lines: string[] = [];
  const log: Logger = { log: (level, m) => void lines.push(`${level}: ${m}`) };

  const start = async (self: 'a' | 'b', mode = 'FTFW { }'): Promise<{ node: SyncNode; purge: KernelPurge }> => {
    const [me, peer] = self === 'a' ? [A_IP, B_IP] : [B_IP, A_IP];
    const text = syncConf(join(dir, self), { kind: 'udp', self: me, peer, device: 'sync0' }, 'PurgeTimeout 30', undefined, mode);
    const node = await SyncNode.start(parseConntrackdConfig(text, `${self}.conf`).config, log, { netns: (self === 'a' ? a : b).name });
    nodes.push(node);
    const purge = new KernelPurge(30, { flushKernel: () => node.flushKernel(), flushInternalCache: () => node.flushCaches('internal') }, log);
    purges.push(purge);
    return { node, purge };
  };

  before(() => {
    a = Netns.create('tsa');
    b = Netns.create('tsb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: `${A_IP}/24` }, { ns: b, ifname: 'sync0', cidr: `${B_IP}/24` });
    dir = mkdtempSync(join(tmpdir(), 'ks-ts-'));
  });

  const stopAll = async (): Promise<void> => {
    for (const p of purges.splice(0)) p.cancel();
    for (const n of nodes.splice(0)) await n.stop();
  };
  afterEach(stopAll);

  after(async () => {
    await stopAll();
    a?.close();
    b?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('DisableExternalCache: the master keeps its kernel entries once it has claimed; a demotion arms no -t flush of the replica', async () => {
    const { node, purge } = await start('b', 'FTFW { DisableExternalCache on }');
    const state = takeoverState(node, purge, log);
    assert.equal(state.masterSinceMs(), undefined);
    const before = Date.now();
    state.role?.('VI_1', 'master');
    state.role?.('VI_2', 'master');
    const since = state.masterSinceMs();
    assert.ok(since !== undefined && since >= before, 'master in the election from the transition on');
    assert.equal(node.injector?.keepExisting, false, 'not before the state is in');
    await state.prepare('VI_1', 'preempt');
    assert.equal(node.injector?.keepExisting, true);
    state.role?.('VI_1', 'backup');
    assert.equal(state.masterSinceMs(), since, 'still master while one instance is');
    state.role?.('VI_2', 'backup');
    assert.equal(state.masterSinceMs(), undefined, 'the election view follows the transitions, not the state work');
    await state.release('VI_1', 'backup', 'master');
    assert.equal(node.injector?.keepExisting, false);
    assert.equal(purge.pending, false, 'the kernel is the standby copy: no -t');
    await state.release('VI_2', 'fault', 'master');
    assert.equal(purge.pending, false);
  });

  it('external cache: a demotion arms the -t flush, as primary-backup.sh does', async () => {
    const { node, purge } = await start('a');
    const state = takeoverState(node, purge, log);
    await state.prepare('VI_1', 'preempt');
    await state.release('VI_1', 'backup', 'master');
    assert.equal(purge.pending, true);
    purge.cancel();
  });

  it('only a mastership that had its VIPs up runs -f -R -B after it and asks the new master for its table when it ends', async () => {
    const { node, purge } = await start('a');
    const state = takeoverState(node, purge, log);
    const said = (text: string): number => lines.filter((l) => l.includes(text)).length;
    const [asked, bulks] = [said('→ backup: asking the master for its table'), said('bulk sent')];
    // Lost before its VIPs came up (a moment of split brain): the caches are as they were.
    await state.prepare('VI_1', 'preempt');
    await state.release('VI_1', 'backup', 'master');
    assert.deepEqual([said('→ backup: asking the master for its table'), said('bulk sent')], [asked, bulks]);
    // Served (VIPs up): -f -R -B once the state is in, and a resync request when it ends.
    await state.prepare('VI_1', 'preempt');
    state.served?.('VI_1');
    await until(() => said('bulk sent') === bulks + 1, 'the bulk after the takeover');
    await state.release('VI_1', 'backup', 'master');
    assert.equal(said('→ backup: asking the master for its table'), asked + 1);
    purge.cancel();
  });

  it('the end of a mastership asks for the table only once a master is heard, and a master in its takeover answers once it holds the table', async () => {
    const { node: old, purge } = await start('a');
    const { node: peer, purge: peerPurge } = await start('b');
    const oldState = takeoverState(old, purge, log);
    const peerState = takeoverState(peer, peerPurge, log);
    const completeness = old.trackCompleteness({ timeoutMs: 60_000, linkDownMs: 3000 });
    const complete = (): boolean => completeness.view(Date.now()).complete;
    await until(complete, 'the start-up answer');
    // `old` was master with its VIPs up; it goes back to BACKUP and hears no master yet.
    await oldState.prepare('VI_1', 'preempt');
    oldState.served?.('VI_1');
    await until(() => lines.some((l) => l.includes('bulk sent')), 'the bulk after the takeover');
    await oldState.release('VI_1', 'backup', 'master');
    assert.equal(complete(), false, 'stale from the end of the mastership on');
    assert.equal(old.waitsForMaster, true);
    const resyncsBefore = peer.replicator.stats.resyncRequests;
    await new Promise((r) => setTimeout(r, 1500)); // ALIVEs and ACKs go on meanwhile: none of them completes it
    assert.equal(complete(), false);
    assert.equal(peer.replicator.stats.resyncRequests, resyncsBefore, 'nobody was asked: the peer is no master yet');
    // The peer takes over; its takeover holds RESYNC answers until its table is rebuilt and sent.
    await peerState.prepare('VI_1', 'preempt');
    oldState.masterSeen?.('VI_1', B_IP);
    await until(() => peer.replicator.stats.resyncRequests > resyncsBefore, 'the request to the master');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(complete(), false, 'the master in its takeover has not answered yet');
    peerState.served?.('VI_1');
    await until(complete, 'the master answered once its table was in');
    purge.cancel();
    peerPurge.cancel();
  });
});
