// lab/topology.ts itself: the specs are consistent (a pure check that also runs unprivileged),
// the HALF firewall SNATs to the WAN VIP with random ports once it holds the VIPs, and a process
// that built a topology deletes its namespaces when it is stopped with SIGTERM or SIGINT.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { rootSkipReason } from '../../lab/netns.js';
import { buildTopology, halfTopology, hostHasCommand, threeNodeTopology, topologyErrors, type TopologySpec } from '../../lab/topology.js';
import { Traffic } from '../../lab/traffic.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason() ?? (hostHasCommand('nft') ? undefined : 'nft (nftables) is not installed');

describe('topology specs', () => {
  it('HALF and three-node are consistent', () => {
    assert.deepEqual(topologyErrors(halfTopology()), []);
    assert.deepEqual(topologyErrors(threeNodeTopology()), []);
  });

  const half = halfTopology();
  const cases: readonly { name: string; spec: TopologySpec; want: RegExp }[] = [
    { name: 'unknown bridge', spec: { ...half, bridges: ['lan'] }, want: /unknown bridge wan/ },
    { name: 'unknown node', spec: { ...half, nodes: half.nodes.filter((n) => n.name !== 'server') }, want: /unknown node server/ },
    {
      name: 'port used twice',
      spec: { ...half, links: [...half.links, { a: { node: 'fw1', ifname: 'lan0', cidrs: [] }, bridge: 'lan' }] },
      want: /fw1: port lan0 used twice/,
    },
    { name: 'firewall without the sync device', spec: { ...half, links: half.links.filter((l) => 'bridge' in l) }, want: /fw1 has no sync device sync0/ },
    { name: 'traffic end missing', spec: { ...half, traffic: { ...half.traffic, client: 'nobody' } }, want: /traffic end nobody/ },
  ];
  for (const c of cases) {
    it(`refuses a spec with ${c.name}`, () => {
      assert.match(topologyErrors(c.spec).join('\n'), c.want);
      assert.throws(() => buildTopology(c.spec), c.want, 'nothing is built');
    });
  }
});

/** tcpFlowsTo lists the TCP entries toward `server` in `netns`'s table. */
async function tcpFlowsTo(netns: string, server: string): Promise<Conntrack[]> {
  const c = ConntrackClient.open({ netns });
  try {
    const out: Conntrack[] = [];
    for await (const b of c.dump()) out.push(...b.filter((e) => e.orig?.proto === IPPROTO.TCP && e.orig.dst === server));
    return out;
  } finally {
    c.close();
  }
}

describe('HALF built in namespaces', { skip, timeout: 60_000 }, () => {
  it('the master SNATs the LAN to the WAN VIP with random ports', async () => {
    const lab = buildTopology(halfTopology({ net: '10.246' }));
    let traffic: Traffic | undefined;
    try {
      // fw1 as master by hand: the VIPs on its ports (no daemon in this test).
      for (const v of lab.spec.cluster.vrrp) lab.ns('fw1').exec('ip', ['addr', 'add', v.vip, 'dev', v.iface]);
      const t = lab.spec.traffic;
      traffic = await Traffic.start(lab.ns(t.server), lab.ns(t.client), { idle: 8, sending: 0, serverAddr: t.serverAddr });
      const flows = await tcpFlowsTo(lab.ns('fw1').name, t.serverAddr);
      assert.equal(flows.length, 8);
      const wanVip = lab.spec.cluster.vrrp.find((v) => v.name === 'VI_WAN')!.vip.split('/')[0];
      for (const f of flows) {
        assert.ok(((f.status ?? 0) & IPS.SRC_NAT) !== 0, 'SNAT');
        assert.equal(f.reply?.dst, wanVip);
      }
      // fully-random: the NAT ports are not the client's ports (8 of 8 kept would be port-preserving SNAT).
      const kept = flows.filter((f) => f.reply?.dstPort === f.orig?.srcPort).length;
      assert.ok(kept < flows.length, `NAT ports differ from the client's (${kept} of ${flows.length} kept)`);
      assert.equal((await tcpFlowsTo(lab.ns('fw2').name, t.serverAddr)).length, 0, 'fw2 forwarded nothing');
    } finally {
      traffic?.stop();
      lab.close();
    }
  });
});

describe('teardown when the process is stopped', { skip, timeout: 60_000 }, () => {
  const TOPOLOGY = new URL('../../lab/topology.js', import.meta.url).href;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    it(`${sig}: the namespaces and the processes in them are gone`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ks-topo-'));
      try {
        const script = join(dir, 'hold.mjs');
        writeFileSync(
          script,
          `import { buildTopology, threeNodeTopology } from ${JSON.stringify(TOPOLOGY)};\n` +
            `const lab = buildTopology(threeNodeTopology({ net: '10.245' }));\n` +
            `const c = lab.ns('fw1').spawn('sleep', ['300']);\n` +
            `console.log(JSON.stringify({ names: ['fw1', 'fw2', 'fw3', 'client', 'server'].map((n) => lab.ns(n).name).concat(lab.switchNs.name), sleep: c.pid }));\n` +
            `setInterval(() => {}, 1000);\n`,
        );
        const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
        const line = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('\n')) resolve(out.split('\n')[0]!);
          });
          child.once('exit', (code) => reject(new Error(`holder exited ${code} before building`)));
        });
        const { names, sleep } = JSON.parse(line) as { names: string[]; sleep: number };
        const listed = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!);
        assert.deepEqual(names.filter((n) => !listed().includes(n)), [], 'all built');
        const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, s) => r(s)));
        child.kill(sig);
        assert.equal(await exited, sig, 'the process still dies of the signal');
        assert.deepEqual(names.filter((n) => listed().includes(n)), [], 'every namespace deleted');
        // Killed: gone, or a zombie until init reaps the orphan.
        await until('the process inside killed', () => !existsSync(`/proc/${sleep}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${sleep}/status`, 'utf8')), 10_000, 50);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
