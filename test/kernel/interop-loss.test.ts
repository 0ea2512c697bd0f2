// FTFW under 20 % loss on the dedicated link (nftables drops datagrams at random in both
// namespaces; the kernel here has no netem): the receiver ends up with exactly the sender's table —
// nothing missing, nothing stale, nothing duplicated — against a conntrackd 1.4.7 peer and against
// a keepstate peer, in both directions.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import type { Logger } from '../../src/daemon/log.js';
import { Conntrackd, dropRandomly, stopDropping, syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until as untilDone } from '../helpers/until.js';

const N = 2000;
const quiet: Logger = { log: () => undefined };

function entry(i: number, net: number, mark = 0): Conntrack {
  const src = `10.${net}.${(i >> 8) & 0xff}.${i & 0xff}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.20', proto: i % 3 === 0 ? IPPROTO.UDP : IPPROTO.TCP, srcPort: 1024 + i, dstPort: 53 },
    reply: { family: 'ipv4', src: '203.0.113.20', dst: src, proto: i % 3 === 0 ? IPPROTO.UDP : IPPROTO.TCP, srcPort: 53, dstPort: 1024 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 3600,
    mark,
    ...(i % 3 === 0 ? {} : { protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } } }),
  };
}

/** key of a line of conntrackd -e output or of an entry: source address and port, plus the mark. */
const lineKey = (l: string): string => `${/src=(\S+)/.exec(l)?.[1]}:${/sport=(\d+)/.exec(l)?.[1]} mark=${/mark=(\d+)/.exec(l)?.[1] ?? '0'}`;
const entryKey = (c: Conntrack): string => `${c.orig?.src}:${c.orig?.srcPort} mark=${c.mark ?? 0}`;

const until = (what: string, cond: () => boolean | Promise<boolean>, guardMs = 90_000): Promise<void> => untilDone(what, cond, guardMs, 200);

/** churn makes N entries in a kernel, then changes the mark of a quarter and deletes another quarter; returns what must remain. */
async function churn(k: ConntrackClient, net: number): Promise<Set<string>> {
  assert.equal((await k.create(Array.from({ length: N }, (_, i) => entry(i, net)))).filter((r) => r.ok).length, N);
  const want = new Map(Array.from({ length: N }, (_, i) => [i, entry(i, net)] as const));
  const updates = Array.from({ length: N / 4 }, (_, j) => entry(4 * j, net, 7));
  assert.equal((await k.update(updates)).filter((r) => r.ok).length, N / 4);
  for (const [j, u] of updates.entries()) want.set(4 * j, u);
  const deletes = Array.from({ length: N / 4 }, (_, j) => entry(4 * j + 1, net));
  assert.equal((await k.delete(deletes)).filter((r) => r.ok).length, N / 4);
  for (let j = 0; j < N / 4; j++) want.delete(4 * j + 1);
  return new Set([...want.values()].map(entryKey));
}

for (const peerKind of ['conntrackd', 'keepstate'] as const) {
  const skip = rootSkipReason() ?? (peerKind === 'conntrackd' && !Conntrackd.installed() ? 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)' : undefined);

  describe(`20 % loss on the link, keepstate ↔ ${peerKind}`, { skip, timeout: 300_000 }, () => {
    let a: Netns, b: Netns;
    let dirs: string[] = [];
    let nodeA: SyncNode | undefined, nodeB: SyncNode | undefined;
    let ctd: Conntrackd | undefined;
    let kA: ConntrackClient, kB: ConntrackClient;

    before(async () => {
      a = Netns.create('la');
      b = Netns.create('lb');
      linkVeth({ ns: a, ifname: 'sync0', cidr: '10.232.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.232.0.2/24' });
      for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
      const dirA = mkdtempSync(join(tmpdir(), 'ks-la-'));
      dirs = [dirA];
      const linkB = { kind: 'udp' as const, self: '10.232.0.2', peer: '10.232.0.1', device: 'sync0' };
      if (peerKind === 'conntrackd') {
        ctd = new Conntrackd(b, linkB);
        await ctd.start();
      } else {
        const dirB = mkdtempSync(join(tmpdir(), 'ks-lb-'));
        dirs.push(dirB);
        nodeB = await SyncNode.start(parseConntrackdConfig(syncConf(dirB, linkB), 'b.conf').config, quiet, { netns: b.name });
      }
      const confA = syncConf(dirA, { kind: 'udp', self: '10.232.0.1', peer: '10.232.0.2', device: 'sync0' });
      nodeA = await SyncNode.start(parseConntrackdConfig(confA, 'a.conf').config, quiet, { netns: a.name });
      kA = ConntrackClient.open({ netns: a.name });
      kB = ConntrackClient.open({ netns: b.name });
      // Let the HELLO handshake finish on a clean link: FTFW cannot recover what is lost during it.
      await until('the HELLO handshake', () => nodeA!.replicator.ftfw.helloState === 'done' && (nodeB === undefined || nodeB.replicator.ftfw.helloState === 'done'), 15_000);
      await new Promise((r) => setTimeout(r, 2200)); // two alive rounds: the peer's side of it too
      dropRandomly(a, 20);
      dropRandomly(b, 20);
    });

    after(async () => {
      await nodeA?.stop();
      await nodeB?.stop();
      await ctd?.stop();
      kA?.close();
      kB?.close();
      a?.close();
      b?.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    it(`keepstate → ${peerKind}: the peer's external cache converges to exactly our table`, async () => {
      const want = await churn(kA, 71);
      const got = (): Set<string> =>
        ctd !== undefined
          ? new Set(ctd.externalLines('src=10.71.').map(lineKey))
          : new Set([...nodeB!.replicator.external.values()].map((e) => e.ct).filter((c) => c.orig?.src.startsWith('10.71.') === true).map(entryKey));
      await until(`${want.size} entries on the ${peerKind} side`, () => {
        const g = got();
        return g.size === want.size && [...want].every((k) => g.has(k));
      });
      if (ctd !== undefined) assert.equal(ctd.externalLines('src=10.71.').length, want.size, 'nothing duplicated');
      assert.ok((nodeA!.replicator.ftfw.stats.retransmitted) > 0, 'the loss really happened: we retransmitted');
    });

    it(`${peerKind} → keepstate: our external cache converges to exactly the peer's table`, async () => {
      const want = await churn(kB, 72);
      const got = (): Set<string> => new Set([...nodeA!.replicator.external.values()].map((e) => e.ct).filter((c) => c.orig?.src.startsWith('10.72.') === true).map(entryKey));
      await until(`${want.size} entries in our external cache`, () => {
        const g = got();
        return g.size === want.size && [...want].every((k) => g.has(k));
      });
      assert.ok(nodeA!.replicator.ftfw.stats.lost > 0, 'gaps were seen and NACKed');
      stopDropping(a);
      stopDropping(b);
    });
  });
}
