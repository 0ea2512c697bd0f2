// Redundant dedicated links (conntrackd-protocol.md §2.12): two keepstate nodes in two namespaces
// joined by two veth pairs (sync0, sync1), each node with two UDP channels. Taking the active link
// down moves sending to the other one and replication goes on; a node also follows the link its
// peer speaks on.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { formatChannelStatsExtended } from '../../src/control/format.js';
import type { Logger } from '../../src/daemon/log.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import { channelStats } from '../../src/daemon/links.js';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { tcpEntry } from './entries.js';

const noConntrackd = Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)';
const IP = { a: ['10.239.0.1', '10.239.1.1'], b: ['10.239.0.2', '10.239.1.2'] } as const;

/** until polls `pred` every 50 ms; the 20 s limit only guards against a hang. */
async function until(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** linkText renders a node's links as `-s link` does (via the control formatter). */
function linkText(n: SyncNode): string {
  const t = n.linkTable();
  return t.links
    .map((l, i) =>
      formatChannelStatsExtended(channelStats(l), i === t.current),
    )
    .join('');
}

describe('redundant dedicated links', { skip: rootSkipReason(), timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let kA: ConntrackClient, kB: ConntrackClient;
  const nodes: SyncNode[] = [];
  const lines: string[] = [];
  const log: Logger = { log: (level, m) => void lines.push(`${level}: ${m}`) };

  /** conf: two UDP links, sync0 on port 3780 and sync1 on 3781; `def` is the one marked Default. */
  const block = (self: 'a' | 'b', i: 0 | 1, def: boolean) =>
    `UDP${def ? ' Default' : ''} {\n    IPv4_address ${IP[self][i]}\n    IPv4_Destination_Address ${IP[self === 'a' ? 'b' : 'a'][i]}\n    Port ${3780 + i}\n    Interface sync${i}\n  }`;
  const conf = (self: 'a' | 'b', def: 0 | 1) => {
    const peer = self === 'a' ? 'b' : 'a';
    const text = syncConf(join(dir, self), { kind: 'udp', self: IP[self][0], peer: IP[peer][0], device: 'sync0' }, block(self, 1, def === 1)).replace(/UDP \{[^}]*\}/, block(self, 0, def === 0));
    const parsed = parseConntrackdConfig(text, `${self}.conf`);
    assert.equal(parsed.config.sync?.channels.length, 2, text);
    return parsed.config;
  };
  const start = async (self: 'a' | 'b', def: 0 | 1 = 0): Promise<SyncNode> => {
    const n = await SyncNode.start(conf(self, def), log, { netns: (self === 'a' ? a : b).name });
    nodes.push(n);
    return n;
  };
  const stopAll = async (): Promise<void> => {
    for (const n of nodes.splice(0)) await n.stop();
    await kA.flush();
    await kB.flush();
    for (const ns of [a, b]) for (const dev of ['sync0', 'sync1']) ns.exec('ip', ['link', 'set', dev, 'up']);
  };

  before(() => {
    a = Netns.create('lka');
    b = Netns.create('lkb');
    for (const i of [0, 1] as const) linkVeth({ ns: a, ifname: `sync${i}`, cidr: `${IP.a[i]}/24` }, { ns: b, ifname: `sync${i}`, cidr: `${IP.b[i]}/24` });
    dir = mkdtempSync(join(tmpdir(), 'ks-lk-'));
    kA = ConntrackClient.open({ netns: a.name });
    kB = ConntrackClient.open({ netns: b.name });
  });

  after(async () => {
    for (const n of nodes.splice(0)) await n.stop();
    kA?.close();
    kB?.close();
    a?.close();
    b?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('the active link going down moves sending to the other one; replication continues', async () => {
    try {
      const nA = await start('a');
      const nB = await start('b');
      await kA.create(Array.from({ length: 20 }, (_, i) => tcpEntry(i)));
      await until(() => nB.replicator.external.size === 20, "B's external cache (sync0)");
      let tA = nA.linkTable();
      assert.equal(tA.current, 0);
      assert.deepEqual(tA.links.map((l) => [l.device, l.status]), [['sync0', 'RUNNING'], ['sync1', 'RUNNING']]);
      assert.ok(tA.links[0]!.stats.packetsSent > 0);
      assert.equal(tA.links[1]!.stats.packetsSent, 0, 'nothing goes out on the backup link');
      assert.match(linkText(nA), /^UDP traffic device=sync0 status=RUNNING role=ACTIVE:\n[^]*UDP traffic device=sync1 status=RUNNING role=BACKUP:\n/);

      a.exec('ip', ['link', 'set', 'sync0', 'down']);
      await until(() => nA.linkTable().current === 1, 'A switching to sync1');
      assert.ok(lines.includes("notice: device `sync1' becomes dedicated link"), lines.join('\n'));
      await kA.create(Array.from({ length: 20 }, (_, i) => tcpEntry(100 + i)));
      await until(() => nB.replicator.external.size === 40, "B's external cache (sync1)");
      assert.ok(nB.replicator.external.find(tcpEntry(119)) !== undefined);
      tA = nA.linkTable();
      assert.equal(tA.links[0]!.status, 'DOWN');
      assert.ok(tA.links[1]!.stats.packetsSent > 0);
      // B's end of sync0 lost its carrier, and B now hears A on sync1: it answers there too.
      await until(() => nB.linkTable().current === 1, 'B on sync1');
      assert.equal(nB.linkTable().links[0]!.status, 'NO-CARRIER');
      assert.match(linkText(nB), /device=sync0 status=NO-CARRIER role=BACKUP:\n[^]*device=sync1 status=RUNNING role=ACTIVE:\n/);

      // Both links down: nothing to switch to.
      a.exec('ip', ['link', 'set', 'sync1', 'down']);
      await until(() => lines.includes('error: no dedicated links available!'), 'the no-link error');

      // sync0 back: A moves to it (the current sync1 is still down), and replication resumes there.
      a.exec('ip', ['link', 'set', 'sync0', 'up']);
      await kA.create([tcpEntry(200)]);
      await until(() => nA.linkTable().current === 0, 'A back on sync0');
      await until(() => nB.replicator.external.find(tcpEntry(200)) !== undefined, 'entry 200 at B over sync0');
    } finally {
      await stopAll();
    }
  });

  it('a node sends on the link its peer last spoke on', async () => {
    try {
      lines.length = 0;
      // Different Default links: each first speaks on its own, then they follow each other.
      const nA = await start('a', 0);
      const nB = await start('b', 1);
      await kA.create(Array.from({ length: 10 }, (_, i) => tcpEntry(i)));
      await until(() => nB.replicator.external.size === 10, "B's external cache");
      await kB.create(Array.from({ length: 10 }, (_, i) => tcpEntry(300 + i)));
      await until(() => nA.replicator.external.size === 10, "A's external cache");
      // No interface changed: only reception can make the two agree.
      await until(() => nA.linkTable().current === nB.linkTable().current, 'A and B on the same link');
      for (const n of [nA, nB]) assert.deepEqual(n.linkTable().links.map((l) => l.status), ['RUNNING', 'RUNNING']);
      assert.ok(!lines.some((l) => l.includes('becomes dedicated link')), lines.join('\n'));
    } finally {
      await stopAll();
    }
  });

  it('against conntrackd 1.4.7 with the same two links: both move to sync1 and replication goes on both ways', { skip: noConntrackd }, async () => {
    const ctd = new Conntrackd(b, { kind: 'udp', self: IP.b[0], peer: IP.a[0], device: 'sync0' }, block('b', 1, false));
    try {
      await ctd.start();
      const nA = await start('a');
      await kA.create(Array.from({ length: 10 }, (_, i) => tcpEntry(i)));
      await until(() => ctd.externalLines('dport=').length === 10, "conntrackd's external cache (sync0)");
      a.exec('ip', ['link', 'set', 'sync0', 'down']);
      await until(() => nA.linkTable().current === 1, 'A switching to sync1');
      await kA.create(Array.from({ length: 10 }, (_, i) => tcpEntry(100 + i)));
      await until(() => ctd.externalLines('dport=').length === 20, "conntrackd's external cache (sync1)");
      // conntrackd saw its sync0 lose the carrier and uses sync1 as well.
      const theirs = ctd.run('-s', 'link').stdout;
      assert.match(theirs, /^UDP traffic device=sync0 status=NO-CARRIER role=BACKUP:\n[^]*UDP traffic device=sync1 status=RUNNING role=ACTIVE:\n/, theirs);
      assert.match(linkText(nA), /^UDP traffic device=sync0 status=DOWN role=BACKUP:\n[^]*UDP traffic device=sync1 status=RUNNING role=ACTIVE:\n/);
      await kB.create(Array.from({ length: 5 }, (_, i) => tcpEntry(300 + i)));
      await until(() => nA.replicator.external.size === 5, "A's external cache from conntrackd over sync1");
      assert.ok(nA.linkTable().links[1]!.stats.packetsRecv > 0);
    } finally {
      await stopAll();
      await ctd.stop();
    }
  });
});
