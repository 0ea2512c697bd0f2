// Gratuitous ARP and unsolicited NA (src/vrrp-io/announcer.ts) against the real kernel: two fresh
// namespaces on a veth pair; B announces VIPs, tcpdump in A sees the frames as it decodes them, and
// A's neighbour table entries for the VIPs (which existed, STALE, with another MAC) move to the
// announced MAC — the interface's own, then the VRRP virtual MAC.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Capture } from '../../lab/capture.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { Announcer } from '../../src/vrrp-io/announcer.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason();
const TIMEOUT = { timeout: 60_000 };
const VIP4 = '10.231.44.100';
const VIP6 = 'fd31:44::100';
const OLD_MAC = '02:00:00:00:99:99';
const VMAC4 = '00:00:5e:00:01:33';
const VMAC6 = '00:00:5e:00:02:33';

describe('gratuitous ARP and unsolicited NA', { skip }, () => {
  let a: Netns;
  let b: Netns;
  let dir: string;
  let ann: Announcer;
  let macB: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ks-announce-'));
    a = Netns.create('ann-a');
    b = Netns.create('ann-b');
    for (const ns of [a, b]) {
      ns.sysctl('net.ipv6.conf.all.accept_dad', 0);
      ns.sysctl('net.ipv6.conf.default.accept_dad', 0);
    }
    linkVeth({ ns: a, ifname: 'ka0', cidr: '10.231.44.1/24' }, { ns: b, ifname: 'ks0', cidr: '10.231.44.2/24' });
    a.exec('ip', ['-6', 'addr', 'add', 'fd31:44::1/64', 'dev', 'ka0', 'nodad']);
    macB = (JSON.parse(b.exec('ip', ['-j', 'link', 'show', 'dev', 'ks0'])) as { address: string }[])[0]!.address;
    ann = new Announcer({ ifname: 'ks0', netns: b.name });
  });
  after(() => {
    ann?.close();
    a?.close();
    b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const neigh = (addr: string): string | undefined =>
    (JSON.parse(a.exec('ip', ['-j', 'neigh', 'show', addr, 'dev', 'ka0'])) as { lladdr?: string }[])[0]?.lladdr;
  const stale = (addr: string): void => void a.exec('ip', ['neigh', 'replace', addr, 'lladdr', OLD_MAC, 'dev', 'ka0', 'nud', 'stale']);

  it('(d) a GARP burst is seen by tcpdump and rewrites the existing ARP entry (interface MAC, then virtual MAC)', TIMEOUT, async () => {
    stale(VIP4);
    assert.equal(neigh(VIP4), OLD_MAC);
    const file = join(dir, 'arp.pcap');
    const cap = await Capture.start(a, 'ka0', file, 'arp');
    assert.deepEqual(ann.sendGarp(VIP4, macB, 3), { sent: 3, failed: 0 });
    await until('the ARP entry moved to B', () => neigh(VIP4) === macB);
    assert.deepEqual(ann.sendGarp(VIP4, VMAC4, 1), { sent: 1, failed: 0 });
    await until('the ARP entry moved to the virtual MAC', () => neigh(VIP4) === VMAC4);
    await cap.stop();
    const lines = execFileSync('tcpdump', ['-r', file, '-n', '-e'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
    // tcpdump prints a non-zero target hardware address in parentheses (ours is broadcast, as keepalived's).
    const garps = lines.filter((l) => l.includes(`Request who-has ${VIP4} (ff:ff:ff:ff:ff:ff) tell ${VIP4}`));
    assert.equal(garps.length, 4, lines.join('\n'));
    for (const l of garps.slice(0, 3)) assert.match(l, new RegExp(`^\\S+ ${macB} > ff:ff:ff:ff:ff:ff, ethertype ARP \\(0x0806\\), length 42:`));
    assert.match(garps[3]!, new RegExp(`^\\S+ ${VMAC4} > ff:ff:ff:ff:ff:ff, ethertype ARP`));
  });

  it('(d) an unsolicited NA (override, router, hop limit 255) is seen by tcpdump and rewrites the existing neighbour entry', TIMEOUT, async () => {
    stale(VIP6);
    assert.equal(neigh(VIP6), OLD_MAC);
    const file = join(dir, 'na.pcap');
    const cap = await Capture.start(a, 'ka0', file, 'icmp6 and ip6[40] == 136');
    assert.deepEqual(ann.sendNa(VIP6, macB, 2), { sent: 2, failed: 0 });
    await until('the neighbour entry moved to B', () => neigh(VIP6) === macB);
    assert.deepEqual(ann.sendNa(VIP6, VMAC6, 1), { sent: 1, failed: 0 });
    await until('the neighbour entry moved to the virtual MAC', () => neigh(VIP6) === VMAC6);
    // As keepalived does: from the VIP itself, once it is assigned (nodad, so not tentative).
    b.exec('ip', ['-6', 'addr', 'add', `${VIP6}/64`, 'dev', 'ks0', 'nodad']);
    assert.deepEqual(ann.sendNa(VIP6, macB, 1, { source: VIP6 }), { sent: 1, failed: 0 });
    await until('the neighbour entry moved back to B', () => neigh(VIP6) === macB);
    await cap.stop();
    const text = execFileSync('tcpdump', ['-r', file, '-n', '-v', '-e'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const nas = text.split(/\n(?=\d)/).filter((p) => p.includes(`neighbor advertisement, length 32, tgt is ${VIP6}`));
    assert.equal(nas.length, 4, text);
    assert.match(nas[3]!, new RegExp(`\\) ${VIP6} > ff02::1: \\[icmp6 sum ok\\]`), 'sent from the VIP');
    for (const p of nas) {
      assert.match(p, /hlim 255, next-header ICMPv6 \(58\)/);
      assert.match(p, / > ff02::1: \[icmp6 sum ok\] ICMP6, neighbor advertisement/, 'the kernel computed the checksum');
      assert.match(p, /Flags \[router, override\]/);
      assert.match(p, /33:33:00:00:00:01/);
    }
    // tcpdump calls option 2 (Target Link-Layer Address, RFC 4861 §4.6.1) "destination link-address".
    assert.match(nas[0]!, new RegExp(`destination link-address option \\(2\\), length 8 \\(1\\): ${macB}`));
    assert.match(nas[2]!, new RegExp(`destination link-address option \\(2\\), length 8 \\(1\\): ${VMAC6}`));
  });
});
