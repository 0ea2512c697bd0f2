// use_vmac with keepstated on one side and the real keepalived 2.2.7 on the other, both with
// use_vmac (VRRPv2 and v3 over IPv4, v3 over IPv6): keepstated creates the private macvlan
// vrrp.<VRID> with MAC 00:00:5e:00:01:<VRID> (IPv6: 00:00:5e:00:02:<VRID>) and keepalived's
// settings, puts the VIP on it, sends its adverts from it (the VMAC is their Ethernet source; the
// IP source is the parent's address — IPv6: its link-local address, copied onto the macvlan), and
// the peer resolves the VIP to the VMAC. When keepstated stops, the macvlan goes and the parent's
// settings come back; keepalived takes over, keepstated preempts it again and announces the VIP
// from the VMAC (gratuitous ARP / unsolicited NA).
//
//   fw1 (keepstated) lan0 ── veth ── lan0 fw2 (keepalived)      VRID 61 (0x3d)
//                    sync0 ─ veth ── sync0 (nothing listens)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until as waitFor } from '../helpers/until.js';
import { syncConf } from '../../lab/conntrackd.js';
import { Keepalived, tearDownPair } from '../../lab/keepalived.js';
import { linkVeth, nft } from '../../lab/link.js';
import { Capture } from '../../lab/capture.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

const MAIN = new URL('../../lab/keepstated-main.js', import.meta.url).pathname;
const skip = rootSkipReason() ?? (Keepalived.version() === undefined ? 'keepalived is not installed (scripts/setup.sh installs it)' : undefined);

function vmacConf(o: { router: string; priority: number; version: 2 | 3; advertSec: number; vip: string }): string {
  return `global_defs {
  router_id ${o.router}
}
vrrp_instance VI_V {
  state BACKUP
  interface lan0
  use_vmac
  virtual_router_id 61
  priority ${o.priority}
  advert_int ${o.advertSec}
  version ${o.version}
  virtual_ipaddress {
    ${o.vip}
  }
}
`;
}

interface Variant {
  readonly label: string;
  readonly version: 2 | 3;
  readonly advertSec: number;
  readonly addr: (n: number) => string; // fw n's address; 100 is the VIP
  readonly prefix: number;
  readonly vmac: string;
}

const VARIANTS: readonly Variant[] = [
  { label: 'VRRPv2, IPv4, 1 s adverts', version: 2, advertSec: 1, addr: (n) => `10.246.1.${n}`, prefix: 24, vmac: '00:00:5e:00:01:3d' },
  { label: 'VRRPv3, IPv4, 100 ms adverts', version: 3, advertSec: 0.1, addr: (n) => `10.246.2.${n}`, prefix: 24, vmac: '00:00:5e:00:01:3d' },
  { label: 'VRRPv3, IPv6, 100 ms adverts', version: 3, advertSec: 0.1, addr: (n) => `fd46:3::${n}`, prefix: 64, vmac: '00:00:5e:00:02:3d' },
];

const re = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

for (const v of VARIANTS) {
  describe(`use_vmac, keepstated and keepalived: ${v.label}`, { skip, timeout: 180_000 }, () => {
    let fw1: Netns, fw2: Netns;
    let dir: string;
    let conf: string, ksConf: string;
    let ka: Keepalived;
    const vip = v.addr(100);
    const v6 = vip.includes(':');
    const VMAC = v.vmac;
    const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => fw1.run(process.execPath, [MAIN, '-C', conf, ...args]);
    const ksLog = (): string => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '');
    const holds = (ns: Netns): boolean => ns.run('ip', ['-o', 'addr', 'show', 'dev', 'vrrp.61']).stdout.includes(` ${vip}/`);
    const sysctl = (ns: Netns, key: string): string => ns.exec('cat', [`/proc/sys/${key}`]).trim();
    const until = (what: string, cond: () => boolean, hangMs = 30_000): Promise<void> => waitFor(what, cond, hangMs, 50, () => `--- keepstated log:\n${ksLog()}\n--- keepalived:\n${ka.output}`);
    const startKs = (priority: number): void => {
      writeFileSync(ksConf, vmacConf({ router: 'fw1', priority, version: v.version, advertSec: v.advertSec, vip: `${vip}/${v.prefix}` }));
      const r = ks('--keepalived', ksConf, '--sync-timeout', '0', '-d');
      assert.equal(r.status, 0, `keepstated -d: ${r.stderr}\n${ksLog()}`);
    };
    const stopKs = async (): Promise<void> => {
      ks('-k');
      await until('keepstated stopped', () => !existsSync(join(dir, 'lock')));
    };

    before(() => {
      fw1 = Netns.create('vmk1');
      fw2 = Netns.create('vmk2');
      for (const ns of [fw1, fw2]) {
        ns.sysctl('net.ipv6.conf.all.accept_dad', 0);
        ns.sysctl('net.ipv6.conf.default.accept_dad', 0);
      }
      linkVeth({ ns: fw1, ifname: 'lan0', cidr: `${v.addr(1)}/${v.prefix}` }, { ns: fw2, ifname: 'lan0', cidr: `${v.addr(2)}/${v.prefix}` });
      linkVeth({ ns: fw1, ifname: 'sync0', cidr: '10.240.0.1/24' }, { ns: fw2, ifname: 'sync0', cidr: '10.240.0.2/24' });
      dir = mkdtempSync(join(tmpdir(), 'ks-vmk-'));
      conf = join(dir, 'conntrackd.conf');
      writeFileSync(conf, syncConf(dir, { kind: 'udp', self: '10.240.0.1', peer: '10.240.0.2', device: 'sync0' }));
      ksConf = join(dir, 'keepalived.conf');
      ka = new Keepalived(fw2, { routerId: 'fw2', priority: 100, instances: [], notify: '/bin/true' });
      writeFileSync(ka.conf, vmacConf({ router: 'fw2', priority: 100, version: v.version, advertSec: v.advertSec, vip: `${vip}/${v.prefix}` }));
    });

    after(() => tearDownPair({ ka, stopKeepstated: fw1 !== undefined ? () => void ks('-k') : undefined, namespaces: [fw1, fw2], dir }));

    it('keepstated (150) master on its VMAC, keepalived (100) backup; takeover both ways', async () => {
      assert.equal(sysctl(fw1, 'net/ipv4/conf/lan0/arp_ignore'), '0');
      const reportsPcap = join(dir, 'reports.pcap');
      // (MLD reports carry a hop-by-hop header: tcpdump's icmp6 filter would miss them.)
      const reportsCap = await Capture.start(fw2, 'lan0', reportsPcap, v6 ? 'ip6' : 'igmp');
      startKs(150);
      await until('keepstated master with the VIP on vrrp.61', () => holds(fw1));
      // Its group membership reports leave from the parent (nftables dup), never with the VMAC.
      const lan0Mac = /link\/ether ([0-9a-f:]+)/.exec(fw1.exec('ip', ['link', 'show', 'dev', 'lan0']))?.[1] ?? 'none';
      const reportRe = v6 ? /multicast listener report/ : /igmp v[23] report/;
      await until(`a membership report from fw1 (${lan0Mac}) in\n${fw2.run('tcpdump', ['-r', reportsPcap, '-e', '-n', '-v']).stdout}`, () => fw2.exec('tcpdump', ['-r', reportsPcap, '-e', '-n']).split('\n').some((l) => reportRe.test(l) && l.includes(`${lan0Mac} >`)));
      await reportsCap.stopFile(false);
      const reports = fw2.exec('tcpdump', ['-r', reportsPcap, '-e', '-n']).split('\n').filter((l) => reportRe.test(l));
      assert.deepEqual(reports.filter((l) => l.includes(`${VMAC} >`)), [], 'no report carries the VMAC');
      if (v6) assert.doesNotMatch(fw2.exec('tcpdump', ['-r', reportsPcap, '-e', '-n']), new RegExp(`${re(VMAC)} > .*router solicitation`), 'no router solicitation from the VMAC');
      assert.match(fw1.exec('nft', ['list', 'tables']), new RegExp(`table ${v6 ? 'ip6' : 'ip'} keepstated_vmac_vrrp_61`));

      // The macvlan as keepalived makes it, and the settings on it and its parent.
      const link = fw1.exec('ip', ['-d', 'link', 'show', 'dev', 'vrrp.61']);
      assert.match(link, /vrrp\.61@lan0/);
      assert.match(link, new RegExp(`link/ether ${VMAC} `));
      assert.match(link, /macvlan mode private/);
      assert.match(link, /state UP|,UP/);
      if (!v6) {
        for (const [k, want] of [['vrrp.61/arp_ignore', '1'], ['vrrp.61/accept_local', '1'], ['vrrp.61/rp_filter', '0'], ['vrrp.61/promote_secondaries', '1'], ['lan0/arp_ignore', '1'], ['lan0/arp_filter', '1']] as const) {
          assert.equal(sysctl(fw1, `net/ipv4/conf/${k}`), want, k);
        }
        assert.equal(sysctl(fw1, 'net/ipv6/conf/vrrp.61/disable_ipv6'), '1');
      } else {
        // No EUI-64 address of the VMAC; the parent's link-local address instead.
        assert.equal(sysctl(fw1, 'net/ipv6/conf/vrrp.61/addr_gen_mode'), '1');
        const ll = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(fw1.exec('ip', ['-6', 'addr', 'show', 'dev', 'lan0']))?.[1];
        assert.ok(ll !== undefined);
        assert.deepEqual([...fw1.exec('ip', ['-6', 'addr', 'show', 'dev', 'vrrp.61']).matchAll(/inet6 (fe80::[0-9a-f:]+)\//g)].map((m) => m[1]), [ll]);
      }

      ka.start();
      await ka.waitFor(/\(VI_V\) Entering BACKUP STATE/);
      assert.doesNotMatch(ka.output, /Entering MASTER STATE/);
      // Adverts leave from the VMAC, with the parent's address as IP source.
      const adverts = fw2.run('timeout', ['10', 'tcpdump', '-i', 'lan0', '-e', '-n', '-c', '3', v6 ? 'ip6 proto 112' : 'ip proto 112']).stdout;
      const from = v6 ? `${re(VMAC)} > 33:33:00:00:00:12, .*fe80::[0-9a-f:]+ > ff02::12` : `${re(VMAC)} > 01:00:5e:00:00:12, .*${re(v.addr(1))} > 224\\.0\\.0\\.18`;
      assert.match(adverts, new RegExp(`${from}: VRRPv${v.version}, Advertisement, vrid 61, prio 150`));
      // The peer resolves the VIP to the VMAC: the macvlan answers ARP for it, the parent does not.
      // A datagram to the VIP makes fw2 resolve it. fw1's ICMP port-unreachable answer is dropped:
      // routed out of lan0 with the VIP as source, its ARP request for fw2 would overwrite fw2's
      // entry with lan0's MAC (the same happens between two keepalived nodes on one subnet).
      nft(fw1, 'table inet ks_probe {\n  chain out {\n    type filter hook output priority 0;\n    icmp type destination-unreachable drop\n    icmpv6 type destination-unreachable drop\n  }\n}\n');
      fw2.exec('bash', ['-c', `echo probe > /dev/udp/${vip}/9`]);
      await until('fw2 resolved the VIP', () => /lladdr|FAILED/.test(fw2.exec('ip', ['neigh', 'show', vip])));
      assert.match(fw2.exec('ip', ['neigh', 'show', vip]), new RegExp(`dev lan0 lladdr ${VMAC}`));

      // keepstated stops: priority 0, VIP and macvlan gone, the parent's ARP settings back.
      await stopKs();
      assert.equal(fw1.run('ip', ['link', 'show', 'dev', 'vrrp.61']).status === 0, false, 'vrrp.61 was removed');
      assert.doesNotMatch(fw1.exec('nft', ['list', 'tables']), /keepstated_vmac/, 'its nftables table too');
      assert.equal(sysctl(fw1, 'net/ipv4/conf/lan0/arp_ignore'), '0');
      assert.equal(sysctl(fw1, 'net/ipv4/conf/lan0/arp_filter'), '0');
      await ka.waitFor(/\(VI_V\) Entering MASTER STATE/);
      await until('keepalived holds the VIP', () => holds(fw2));

      // keepstated back: it preempts over keepalived's VMAC adverts (same MAC on both sides), and
      // the gratuitous ARPs it sends carry the VMAC.
      const pcap = join(dir, 'garp.pcap');
      const cap = await Capture.start(fw2, 'lan0', pcap, v6 ? 'icmp6' : 'arp');
      startKs(150);
      await until('keepstated master again', () => holds(fw1));
      await ka.waitFor(/\(VI_V\) Entering BACKUP STATE/, 2);
      await cap.stopFile(false);
      const garps = fw2.exec('tcpdump', ['-r', pcap, '-e', '-n']);
      const announced = v6 ? `${re(VMAC)} > 33:33:00:00:00:01, .*neighbor advertisement, tgt is ${re(vip)}` : `${re(VMAC)} > ff:ff:ff:ff:ff:ff, .*Request who-has ${re(vip)} (\\(ff:ff:ff:ff:ff:ff\\) )?tell ${re(vip)}`;
      assert.match(garps, new RegExp(announced), 'gratuitous ARPs / unsolicited NAs from the VMAC');
      await until('keepalived released the VIP', () => !holds(fw2));
      assert.match(ksLog(), /\(VI_V\) Entering BACKUP STATE/);
      await stopKs();
    });

    it('keepalived (200) preempts keepstated (150); keepstated takes over when keepalived stops', async () => {
      await stopKs(); // (should the first test have failed with keepstated running)
      await ka.stop();
      ka = new Keepalived(fw2, { routerId: 'fw2', priority: 200, instances: [], notify: '/bin/true' });
      writeFileSync(ka.conf, vmacConf({ router: 'fw2', priority: 200, version: v.version, advertSec: v.advertSec, vip: `${vip}/${v.prefix}` }));
      const from = ksLog().length;
      startKs(150);
      await until('keepstated master alone', () => holds(fw1));
      ka.start();
      await ka.waitFor(/\(VI_V\) Entering MASTER STATE/);
      await until('keepalived holds the VIP', () => holds(fw2));
      await until('keepstated released its VIP', () => !holds(fw1));
      assert.match(ksLog().slice(from), /\(VI_V\) Entering BACKUP STATE \(higher-priority\)/);
      await ka.stop();
      await until('keepstated master after keepalived left', () => holds(fw1));
      await stopKs();
    });
  });
}
