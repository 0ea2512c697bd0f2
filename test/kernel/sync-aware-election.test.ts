// Sync-aware election between two keepstated nodes (issue 5 item 4): fw1 is master and holds
// 20 000 entries; fw2, the preferred node (priority 200), starts next to it. fw2 advertises
// priority 1 until fw1's bulk is in, so it does not preempt fw1 with an empty table; once complete
// it preempts, and its takeover puts all 20 000 entries into its kernel before the VIP. With the
// sync link blocked, fw2 stays demoted — `keepstate status` says why and for how long — until
// --sync-timeout runs out.
//
//   fw1 lan0 10.244.1.1 ── veth ── lan0 fw2 10.244.1.2      VRRPv3, 100 ms adverts, VRID 81, VIP .100
//       sync0 10.244.0.1 ─ veth ── sync0 10.244.0.2         FTFW over UDP
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until as waitFor } from '../helpers/until.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { syncConf } from '../../lab/conntrackd.js';
import { Keepalived, killProcessesIn } from '../../lab/keepalived.js';
import { linkVeth, nft } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { tcpEntry } from './entries.js';

const BIN = new URL('../../../bin/keepstated.js', import.meta.url).pathname;
const CLI = new URL('../../../bin/keepstate.js', import.meta.url).pathname;
const skip = rootSkipReason() ?? (Keepalived.version() === undefined ? 'keepalived is not installed (its Debian package brings the tools this test compares with)' : undefined);
const N = 20_000;
const VIP = '10.244.1.100';

function kaConf(priority: number): string {
  return `vrrp_instance VI_1 {
  state BACKUP
  interface lan0
  virtual_router_id 81
  priority ${priority}
  advert_int 0.1
  version 3
  virtual_ipaddress {
    ${VIP}/24
  }
}
`;
}

interface Node {
  readonly ns: Netns;
  readonly dir: string;
  readonly conf: string;
  readonly ka: string;
}

describe('sync-aware election', { skip, timeout: 240_000 }, () => {
  let fw1: Node, fw2: Node;
  const nodes = (): Node[] => [fw1, fw2].filter((n) => n !== undefined);
  const ks = (n: Node, ...args: string[]): { status: number; stdout: string; stderr: string } => n.ns.run(process.execPath, [BIN, '-C', n.conf, ...args]);
  const status = (n: Node, ...args: string[]): { status: number; stdout: string; stderr: string } => n.ns.run(process.execPath, [CLI, 'status', '-C', n.conf, ...args]);
  const log = (n: Node): string => (existsSync(join(n.dir, 'log')) ? readFileSync(join(n.dir, 'log'), 'utf8') : '');
  const holdsVip = (n: Node): boolean => n.ns.exec('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lan0']).includes(` ${VIP}/`);
  const until = (what: string, cond: () => boolean, hangMs = 60_000): Promise<void> => waitFor(what, cond, hangMs, 50, () => `--- fw1:\n${log(fw1)}${ks(fw1, '-s').stdout}\n--- fw2:\n${log(fw2)}${ks(fw2, "-s").stdout}`);
  const start = (n: Node, syncTimeoutSec: number): void => {
    const r = ks(n, '--keepalived', n.ka, '--sync-timeout', String(syncTimeoutSec), '-d');
    assert.equal(r.status, 0, `keepstated -d: ${r.stderr}\n${log(n)}`);
  };
  const stop = async (n: Node): Promise<void> => {
    ks(n, '-k');
    await until(`${n.ns.name} stopped`, () => !existsSync(join(n.dir, 'lock')));
  };

  before(() => {
    const mk = (i: 1 | 2, priority: number): Node => {
      const ns = Netns.create(`sae${i}`);
      const dir = mkdtempSync(join(tmpdir(), `ks-sae${i}-`));
      const conf = join(dir, 'conntrackd.conf');
      writeFileSync(conf, syncConf(dir, { kind: 'udp', self: `10.244.0.${i}`, peer: `10.244.0.${3 - i}`, device: 'sync0' }));
      const ka = join(dir, 'keepalived.conf');
      writeFileSync(ka, kaConf(priority));
      ns.sysctl('net.netfilter.nf_conntrack_events', 1);
      return { ns, dir, conf, ka };
    };
    fw1 = mk(1, 100);
    fw2 = mk(2, 200);
    linkVeth({ ns: fw1.ns, ifname: 'lan0', cidr: '10.244.1.1/24' }, { ns: fw2.ns, ifname: 'lan0', cidr: '10.244.1.2/24' });
    linkVeth({ ns: fw1.ns, ifname: 'sync0', cidr: '10.244.0.1/24' }, { ns: fw2.ns, ifname: 'sync0', cidr: '10.244.0.2/24' });
  });

  after(() => {
    for (const n of nodes()) {
      ks(n, '-k');
      killProcessesIn(n.ns);
      n.ns.close();
      rmSync(n.dir, { recursive: true, force: true });
    }
  });

  it('fw2 (priority 200) does not preempt fw1 before fw1’s 20 000 entries are in; then it does, with all of them in its kernel', async () => {
    // fw1 alone: nobody answers its resync request, so its own demotion ends after 2 s.
    start(fw1, 2);
    await until('fw1 master', () => holdsVip(fw1));
    const ct = ConntrackClient.open({ netns: fw1.ns.name });
    try {
      const res = await ct.create(Array.from({ length: N }, (_, i) => tcpEntry(i)));
      assert.equal(res.filter((r) => !r.ok).length, 0);
    } finally {
      ct.close();
    }
    await until('fw1’s internal cache holds the entries', () => /cache internal:\s*\ncurrent active connections:\s*(\d+)/.exec(ks(fw1, '-s').stdout)?.[1] === String(N));

    start(fw2, 60);
    await until('fw2 master', () => holdsVip(fw2));
    await until('fw1 backup', () => !holdsVip(fw1));
    const l2 = log(fw2);
    const demoted = l2.indexOf('priority demoted (sync incomplete: start-up bulk sync not finished)');
    const restored = l2.indexOf('priority restored (sync complete)');
    const master = l2.indexOf('(VI_1) Entering MASTER STATE');
    assert.ok(demoted >= 0, `fw2 started demoted:\n${l2}`);
    assert.ok(restored > demoted, 'then its state became complete');
    assert.ok(master > restored, 'and only then did it become master');
    assert.match(l2.slice(master), new RegExp(`takeover: ${N} entries in the kernel`), 'the takeover committed every entry before the VIP');

    const text = status(fw2);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /sync \(ftfw\): complete/);
    assert.match(text.stdout, /VI_1: MASTER, priority 200 — lan0 IPv4 VRRPv3 VRID 81/);
    // fw1 was alive: fw2 committed first and claimed the router after (router.ts).
    assert.match(text.stdout, /BACKUP → MASTER \(preempt\): state-ready \+[\d.]+ ms, claimed \+[\d.]+ ms, vips-added \+[\d.]+ ms, announced \+[\d.]+ ms/);
    assert.doesNotMatch(text.stdout, /split brain/, `the master being preempted is no split brain\n--- fw1:\n${log(fw1)}\n--- fw2:\n${l2}`);
    // fw1's adverts, heard while fw2 was backup; and the bulk fw2 sent fw1 at its takeover, acknowledged.
    assert.match(text.stdout, /peer [\d.]+: priority 100, advert every 100 ms, \d+ adverts, last [\d.]+ s ago/);
    await until('fw1 acknowledged fw2’s bulk', () => /replication lag: every message acknowledged, last ACK \d+ ms after sending/.test(status(fw2).stdout));
    const json = JSON.parse(status(fw2, '--json').stdout) as { sync: { complete: boolean; external: number; lag: { lastAckRttMs?: number } }; instances: { name: string; role: string; peers: { priority: number }[] }[] };
    assert.equal(json.sync.complete, true);
    assert.equal(typeof json.sync.lag.lastAckRttMs, 'number');
    assert.deepEqual(json.instances.map((i) => [i.name, i.role, i.peers.map((p) => p.priority)]), [['VI_1', 'master', [100]]]);
  });

  it('with the sync link blocked fw2 stays demoted, status says why, and --sync-timeout ends it', async () => {
    await stop(fw2);
    await until('fw1 master again', () => holdsVip(fw1));
    nft(fw2.ns, 'table inet ks_block {\n chain in {\n  type filter hook input priority 0; iifname "sync0" drop\n }\n}\n');
    const from = log(fw2).length;
    start(fw2, 6);
    await until('fw2 running', () => log(fw2).slice(from).includes('failover manager started'));
    const text = status(fw2).stdout;
    assert.match(text, /sync \(ftfw\): INCOMPLETE: start-up bulk sync not finished for [\d.]+ s; priority demoted for at most [\d.]+ s more/);
    assert.match(text, /VI_1: BACKUP, priority 1 \(configured 200; demoted: sync incomplete: start-up bulk sync not finished\)/);
    assert.ok(holdsVip(fw1) && !holdsVip(fw2), 'fw1 keeps the VIP while fw2 is demoted');
    await until('fw2 preempts after the timeout', () => holdsVip(fw2));
    assert.match(log(fw2).slice(from), /priority restored \(--sync-timeout expired, sync still incomplete: start-up bulk sync not finished\)/);
  });
});
