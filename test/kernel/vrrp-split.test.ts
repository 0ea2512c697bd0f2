// Split brain between two keepstated nodes (FailoverNode: keepstated's FailoverManager) on one LAN,
// with a host on the LAN capturing ARP:
//
//   fw1 (priority 150) lan0 ──┐
//                             br0 (host: 10.244.1.9, tcpdump arp)
//   fw2 (priority 100) lan0 ──┘
//
// An nftables rule in fw2's input drops VRRP (ip protocol 112): fw2 hears nobody and becomes master
// too; fw1 hears fw2's adverts while master — the split brain is counted, logged and shown in status.
// The rule goes: fw2 hears fw1's higher priority and yields, exactly one master remains, and the host
// sees fw1's gratuitous ARPs for the VIP after fw2 yielded (keepalived's garp_lower_prio_delay burst).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Capture } from '../../lab/capture.js';
import { killProcessesIn } from '../../lab/keepalived.js';
import { nft } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';
import { FailoverNode, bridgePort, hasAddress, macOf, readPcapGarps } from './vrrp-track-node.js';

const VIP = '10.244.1.100';

/** conf: VRRPv2, 1 s adverts, keepalived's GARP defaults (5 per burst, second burst after 5 s). */
function conf(priority: number): string {
  return `vrrp_instance VI_1 {
  state BACKUP
  interface lan0
  virtual_router_id 91
  priority ${priority}
  advert_int 1
  virtual_ipaddress {
    ${VIP}/24 dev lan0
  }
}
`;
}

describe('split brain between two keepstated nodes', { skip: rootSkipReason(), timeout: 180_000 }, () => {
  let fw1: Netns, fw2: Netns, host: Netns;
  let dir: string;
  let capture: Capture | undefined;
  const nodes: FailoverNode[] = [];

  before(() => {
    fw1 = Netns.create('vsb1');
    fw2 = Netns.create('vsb2');
    host = Netns.create('vsbh');
    host.exec('ip', ['link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    host.exec('ip', ['addr', 'add', '10.244.1.9/24', 'dev', 'br0']);
    host.exec('ip', ['link', 'set', 'br0', 'up']);
    bridgePort(fw1, 'lan0', '10.244.1.1/24', host, 'br0', 'p1');
    bridgePort(fw2, 'lan0', '10.244.1.2/24', host, 'br0', 'p2');
    dir = mkdtempSync(join(tmpdir(), 'ks-vsb-'));
  });

  after(async () => {
    await capture?.stop().catch(() => []);
    for (const n of nodes) await n.stop();
    for (const ns of [fw1, fw2, host]) {
      if (ns === undefined) continue;
      killProcessesIn(ns);
      ns.close();
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('both become master while VRRP is dropped, status and log show it; after the heal one master remains and re-sends GARPs', async () => {
    const pcap = join(dir, 'arp.pcap');
    capture = await Capture.start(host, 'br0', pcap, 'arp');
    const a = await FailoverNode.start(fw1, conf(150));
    nodes.push(a);
    await until('fw1 master', () => a.role('VI_1') === 'master');
    const b = await FailoverNode.start(fw2, conf(100));
    nodes.push(b);
    const diag = (): string => `\n--- fw1:\n${a.log}\n--- fw2:\n${b.log}`;
    const wait = (what: string, cond: () => boolean): Promise<void> =>
      until(what, cond, 60_000).catch((e: unknown) => assert.fail(`${e instanceof Error ? e.message : String(e)}${diag()}`));
    await wait('fw2 backup of fw1', () => b.role('VI_1') === 'backup' && b.status('VI_1').master?.priority === 150);
    assert.equal(a.status('VI_1').splitBrain, undefined, 'no split brain yet');

    nft(fw2, 'table ip ks_split {\n  chain input {\n    type filter hook input priority 0;\n    ip protocol 112 drop\n  }\n}\n');
    await wait('fw2 master too', () => b.role('VI_1') === 'master' && hasAddress(fw2, VIP));
    await wait('fw1 sees the split brain', () => a.status('VI_1').splitBrain?.active === true && a.status('VI_1').splitBrain!.count >= 2);
    assert.equal(a.role('VI_1'), 'master', 'fw1 stays master (higher priority)');
    const during = a.status('VI_1').splitBrain!;
    assert.equal(during.lastPeer, '10.244.1.2');
    assert.equal(during.lastPeerPriority, 100);
    assert.equal(during.episodes, 1);
    assert.match(a.log, /\(VI_1\) split brain: 10\.244\.1\.2 is master too \(its priority 100, ours 150\)/);
    assert.equal(a.log.match(/split brain: /g)?.length, 1, 'the start is logged once');

    fw2.exec('nft', ['delete', 'table', 'ip', 'ks_split']);
    await wait('fw2 yielded', () => b.role('VI_1') === 'backup' && !hasAddress(fw2, VIP));
    const yieldedAt = b.status('VI_1').timeline.filter((t) => t.entry.step === 'transition' && t.entry.to === 'backup').at(-1)!.atMs;
    await wait('the split brain is over', () => a.status('VI_1').splitBrain?.active === false);
    assert.match(a.log, /\(VI_1\) split brain with 10\.244\.1\.2 over: the other master is silent/);
    assert.equal(a.role('VI_1'), 'master');
    assert.equal(b.role('VI_1'), 'backup');
    assert.ok(hasAddress(fw1, VIP) && !hasAddress(fw2, VIP), 'the VIP only on fw1');

    // The GARP burst garp_lower_prio_delay (5 s) after the last advert of the other master.
    const mac1 = macOf(fw1, 'lan0');
    const after = (): number => (existsSync(pcap) ? readPcapGarps(readFileSync(pcap)).filter((g) => g.ip === VIP && g.senderMac === mac1 && g.atMs > yieldedAt).length : 0);
    await wait('fw1 GARPs after the heal', () => after() >= 5);
    await capture.stop();
    capture = undefined;
    const garps = readPcapGarps(readFileSync(pcap)).filter((g) => g.ip === VIP);
    const mac2 = macOf(fw2, 'lan0');
    assert.ok(garps.some((g) => g.senderMac === mac2), 'fw2 announced the VIP during the split brain');
    assert.equal(a.status('VI_1').splitBrain!.episodes, 1);
  });
});
