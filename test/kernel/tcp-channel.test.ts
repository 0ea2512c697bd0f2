// NOTRACK and FTFW over a TCP dedicated link with the real conntrackd 1.4.7, on a veth between two fresh
// namespaces: a keepstate node (in this process, its sockets opened in namespace A) and conntrackd
// (in B). Each side is a server (reads) and a client (writes). Entries made in one kernel reach the
// other side's external cache both ways, `-s` shows both connections up, and after conntrackd
// restarts both connections come back and replication resumes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { unsupportedFeatures } from '../../src/config/conntrackd/unsupported.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { formatChannelStats } from '../../src/control/format.js';
import { channelStats } from '../../src/daemon/links.js';
import type { Logger } from '../../src/daemon/log.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');

const N = 200;
const PORT = 3781;

/** entry i: an ESTABLISHED TCP entry from 10.(90+side).a.b to 203.0.113.9:443, made in one kernel. */
function entry(i: number, side: number): Conntrack {
  const src = `10.${90 + side}.${(i >> 8) & 0xff}.${i & 0xff}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.9', proto: IPPROTO.TCP, srcPort: 1024 + i, dstPort: 443 },
    reply: { family: 'ipv4', src: '203.0.113.9', dst: src, proto: IPPROTO.TCP, srcPort: 443, dstPort: 1024 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 3600,
    mark: i % 5,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}


const warnings: string[] = [];
const quiet: Logger = { log: (level, message) => void (level !== 'info' && level !== 'notice' && warnings.push(`${level}: ${message}`)) };

for (const [MODE, mode] of [
  ['NOTRACK { }', 'notrack'],
  ['FTFW { }', 'ftfw'],
] as const) describe(`${mode.toUpperCase()} over TCP with the real conntrackd 1.4.7`, { skip, timeout: 300_000 }, () => {
  let a: Netns, b: Netns;
  let dirA: string;
  let node: SyncNode | undefined;
  let kA: ConntrackClient, kB: ConntrackClient;
  let ctd: Conntrackd | undefined;

  before(async () => {
    a = Netns.create('tca');
    b = Netns.create('tcb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.234.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.234.0.2/24' });
    for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    dirA = mkdtempSync(join(tmpdir(), 'ks-tca-'));
    ctd = new Conntrackd(b, { kind: 'tcp', self: '10.234.0.2', peer: '10.234.0.1', device: 'sync0', port: PORT }, '', undefined, MODE);
    await ctd.start();
    const { config } = parseConntrackdConfig(syncConf(dirA, { kind: 'tcp', self: '10.234.0.1', peer: '10.234.0.2', device: 'sync0', port: PORT }, '', undefined, MODE), 'a.conf');
    assert.equal(config.sync?.channels[0]?.kind, 'tcp');
    assert.deepEqual(unsupportedFeatures(config), [], 'a TCP link is accepted at start');
    node = await SyncNode.start(config, quiet, { netns: a.name });
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

  const externalOfB = (prefix: string): string[] => ctd!.externalLines(`src=${prefix}`);
  const ours = (net: string): Conntrack[] => [...node!.replicator.external.values()].map((e) => e.ct).filter((c) => c.orig?.src.startsWith(net) === true);
  const tcpState = (): { server: boolean; client: boolean } | undefined => node!.linkTable().links[0]?.tcp;

  it(`sends ${N} entries made in A's kernel to conntrackd's external cache`, async () => {
    assert.equal(node!.replicator.mode, mode);
    assert.equal((await kA.create(Array.from({ length: N }, (_, i) => entry(i, 1)))).filter((r) => r.ok).length, N);
    await until(`${N} entries in conntrackd's external cache`, () => externalOfB('10.91.').length === N);
    const line = externalOfB('10.91.0.7 ')[0] ?? '';
    assert.match(line, /sport=1031 dport=443/);
    assert.match(line, /ESTABLISHED/);
    assert.equal(tcpState()?.client, true, 'our client is connected to conntrackd');
    assert.match(ctd!.run('-s').stdout, /TCP traffic \(active device=sync0\) server=connected client=/);
  });

  it(`receives ${N} entries conntrackd sends from B's kernel, and deletions`, async () => {
    assert.equal((await kB.create(Array.from({ length: N }, (_, i) => entry(i, 2)))).filter((r) => r.ok).length, N);
    await until(`${N} entries in our external cache`, () => ours('10.92.').length === N);
    const e6 = node!.replicator.external.find(entry(6, 2))?.ct;
    assert.equal(e6?.mark, 1);
    assert.equal(e6?.protoinfo?.tcp?.state, TCP_CONNTRACK.ESTABLISHED);
    assert.equal((await kB.delete(Array.from({ length: 50 }, (_, i) => entry(i, 2)))).filter((r) => r.ok).length, 50);
    await until('50 fewer entries in our external cache', () => ours('10.92.').length === N - 50);
    assert.deepEqual(tcpState(), { server: true, client: true });
    assert.match(ctd!.run('-s').stdout, /server=connected client=connected/);
    // Our `-s` shows the same line (conntrackd's format).
    const link = node!.linkTable().links[0]!;
    assert.match(formatChannelStats(channelStats(link)), /^TCP traffic \(active device=sync0\) server=connected client=connected:\n/);
  });

  it('counts no malformed message on either side (the stream is cut at message boundaries)', () => {
    assert.deepEqual(node!.replicator.stats.rejected, {});
    assert.match(ctd!.run('-s').stdout, /\s0 Malformed msgs\s+0 Lost msgs/);
  });

  it('reconnects both ways after conntrackd restarts, and replication resumes', async () => {
    await ctd!.stop(true);
    await until('our two connections down', () => tcpState()?.server === false && tcpState()?.client === false);
    await ctd!.start();
    await until('our client connected again', () => tcpState()?.client === true);
    // conntrackd's client connects when it first has something to send.
    assert.equal((await kB.create(Array.from({ length: 20 }, (_, i) => entry(i, 3)))).filter((r) => r.ok).length, 20);
    await until('entries from the restarted conntrackd', () => ours('10.93.').length > 0);
    assert.equal(tcpState()?.server, true);
    // The restarted conntrackd starts with an empty external cache; new entries of ours reach it.
    assert.equal((await kA.create(Array.from({ length: 20 }, (_, i) => entry(i, 4)))).filter((r) => r.ok).length, 20);
    await until("20 new entries in the restarted conntrackd's external cache", () => externalOfB('10.94.').length === 20);
    // With both connections up again, nothing is lost.
    assert.equal((await kB.create(Array.from({ length: 20 }, (_, i) => entry(i, 5)))).filter((r) => r.ok).length, 20);
    await until('20 later entries from conntrackd', () => ours('10.95.').length === 20);
    assert.deepEqual(tcpState(), { server: true, client: true });
  });

  it('logged no error and no warning (a peer going away is not one)', () => {
    assert.deepEqual(warnings, []);
  });
});
