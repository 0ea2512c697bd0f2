// The TCP dedicated link over IPv6 (IPv6_address / IPv6_Destination_Address), on a veth between two
// fresh namespaces: FTFW between two keepstate nodes, and NOTRACK between a keepstate node and the
// real conntrackd 1.4.7 (whose tcp.c has the AF_INET6 server and client). Entries made in one
// kernel reach the other side's external cache both ways, and both connections show up in `-s`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import type { Logger } from '../../src/daemon/log.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason();
const skipCtd = skip ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');

const N = 100;
const PORT = 3782;
const ADDR_A = 'fd00:6b73:7463::1';
const ADDR_B = 'fd00:6b73:7463::2';

/** entry i: an ESTABLISHED TCP entry from 10.(80+side).0.i to 203.0.113.9:443. */
function entry(i: number, side: number): Conntrack {
  const src = `10.${80 + side}.${(i >> 8) & 0xff}.${i & 0xff}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.9', proto: IPPROTO.TCP, srcPort: 1024 + i, dstPort: 443 },
    reply: { family: 'ipv4', src: '203.0.113.9', dst: src, proto: IPPROTO.TCP, srcPort: 443, dstPort: 1024 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 3600,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}

/** conf6 is syncConf's TCP configuration with the link's addresses written as IPv6 ones. */
function conf6(dir: string, self: string, peer: string, mode: string): string {
  const text = syncConf(dir, { kind: 'tcp', self, peer, device: 'sync0', port: PORT }, '', undefined, mode)
    .replace(`IPv4_address ${self}`, `IPv6_address ${self}`)
    .replace(`IPv4_Destination_Address ${peer}`, `IPv6_Destination_Address ${peer}`);
  assert.match(text, /IPv6_address .*\n\s*IPv6_Destination_Address /);
  return text;
}

const warnings: string[] = [];
const quiet: Logger = { log: (level, message) => void (level !== 'info' && level !== 'notice' && warnings.push(`${level}: ${message}`)) };

/** pair makes namespaces A and B joined by sync0 with the two IPv6 addresses (no DAD wait). */
function pair(tag: string): { a: Netns; b: Netns } {
  const a = Netns.create(`${tag}a`);
  const b = Netns.create(`${tag}b`);
  linkVeth({ ns: a, ifname: 'sync0', cidr: `${ADDR_A}/64` }, { ns: b, ifname: 'sync0', cidr: `${ADDR_B}/64` });
  for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
  return { a, b };
}

const externalOf = (n: SyncNode, net: string): number => [...n.replicator.external.values()].filter((e) => e.ct.orig?.src.startsWith(net) === true).length;

describe('FTFW over TCP/IPv6 between two keepstate nodes', { skip, timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dirA: string, dirB: string;
  let nodeA: SyncNode | undefined, nodeB: SyncNode | undefined;
  let kA: ConntrackClient, kB: ConntrackClient;

  before(async () => {
    ({ a, b } = pair('t6k'));
    dirA = mkdtempSync(join(tmpdir(), 'ks-t6ka-'));
    dirB = mkdtempSync(join(tmpdir(), 'ks-t6kb-'));
    const cfgA = parseConntrackdConfig(conf6(dirA, ADDR_A, ADDR_B, 'FTFW { }'), 'a.conf').config;
    const ch = cfgA.sync?.channels[0];
    assert.deepEqual([ch?.kind, ch?.kind === 'tcp' ? ch.family : undefined], ['tcp', 'ipv6']);
    nodeA = await SyncNode.start(cfgA, quiet, { netns: a.name });
    nodeB = await SyncNode.start(parseConntrackdConfig(conf6(dirB, ADDR_B, ADDR_A, 'FTFW { }'), 'b.conf').config, quiet, { netns: b.name });
    kA = ConntrackClient.open({ netns: a.name });
    kB = ConntrackClient.open({ netns: b.name });
  });

  after(async () => {
    await nodeA?.stop();
    await nodeB?.stop();
    kA?.close();
    kB?.close();
    a?.close();
    b?.close();
    for (const d of [dirA, dirB]) if (d !== undefined) rmSync(d, { recursive: true, force: true });
  });

  it(`replicates ${N} entries each way and shows both connections up`, async () => {
    assert.equal((await kA.create(Array.from({ length: N }, (_, i) => entry(i, 1)))).filter((r) => r.ok).length, N);
    assert.equal((await kB.create(Array.from({ length: N }, (_, i) => entry(i, 2)))).filter((r) => r.ok).length, N);
    await until(`${N} of A's entries in B's external cache`, () => externalOf(nodeB!, '10.81.') === N);
    await until(`${N} of B's entries in A's external cache`, () => externalOf(nodeA!, '10.82.') === N);
    assert.deepEqual(nodeA!.linkTable().links[0]?.tcp, { server: true, client: true });
    assert.deepEqual(nodeB!.linkTable().links[0]?.tcp, { server: true, client: true });
    assert.equal(nodeA!.linkStats().kind, 'tcp');
    assert.deepEqual(nodeA!.replicator.stats.rejected, {});
    assert.deepEqual(nodeB!.replicator.stats.rejected, {});
    assert.deepEqual(warnings, []);
  });
});

describe('NOTRACK over TCP/IPv6 with the real conntrackd 1.4.7', { skip: skipCtd, timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dirA: string;
  let node: SyncNode | undefined;
  let ctd: Conntrackd | undefined;
  let kA: ConntrackClient, kB: ConntrackClient;

  before(async () => {
    ({ a, b } = pair('t6c'));
    dirA = mkdtempSync(join(tmpdir(), 'ks-t6ca-'));
    ctd = new Conntrackd(b, { kind: 'tcp', self: ADDR_B, peer: ADDR_A, device: 'sync0', port: PORT }, '', undefined, 'NOTRACK { }');
    writeFileSync(ctd.conf, conf6(ctd.dir, ADDR_B, ADDR_A, 'NOTRACK { }'));
    await ctd.start();
    node = await SyncNode.start(parseConntrackdConfig(conf6(dirA, ADDR_A, ADDR_B, 'NOTRACK { }'), 'a.conf').config, quiet, { netns: a.name });
    kA = ConntrackClient.open({ netns: a.name });
    kB = ConntrackClient.open({ netns: b.name });
  });

  after(async () => {
    await node?.stop();
    kA?.close();
    kB?.close();
    await ctd?.stop();
    a?.close();
    b?.close();
    if (dirA !== undefined) rmSync(dirA, { recursive: true, force: true });
  });

  it(`sends ${N} entries to conntrackd's external cache`, async () => {
    assert.equal((await kA.create(Array.from({ length: N }, (_, i) => entry(i, 3)))).filter((r) => r.ok).length, N);
    await until(`${N} entries in conntrackd's external cache`, () => ctd!.externalLines('src=10.83.').length === N);
    assert.equal(node!.linkTable().links[0]?.tcp?.client, true);
  });

  it(`receives ${N} entries conntrackd sends, over its IPv6 client connection`, async () => {
    assert.equal((await kB.create(Array.from({ length: N }, (_, i) => entry(i, 4)))).filter((r) => r.ok).length, N);
    await until(`${N} entries in our external cache`, () => externalOf(node!, '10.84.') === N);
    assert.deepEqual(node!.linkTable().links[0]?.tcp, { server: true, client: true });
    assert.match(ctd!.run('-s').stdout, /TCP traffic \(active device=sync0\) server=connected client=connected/);
    assert.match(ctd!.run('-s').stdout, /\s0 Malformed msgs\s+0 Lost msgs/);
    assert.deepEqual(node!.replicator.stats.rejected, {});
    assert.deepEqual(warnings, []);
  });
});
