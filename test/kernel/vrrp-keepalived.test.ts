// keepstated's failover manager and the real keepalived 2.2.7 in the same virtual routers: fw1 runs
// keepstated with a keepalived.conf (the same text keepalived reads: a sync group of a LAN and a WAN
// instance), fw2 runs keepalived. They elect by priority, fail over and back in both directions —
// VRRPv2 over IPv4, VRRPv3 over IPv4 with 100 ms adverts, VRRPv3 over IPv6 — and the VIPs are
// always on exactly the master's side.
//
//   fw1 (keepstated) lan0 ── veth ── lan0 fw2 (keepalived)      VRIDs 71 / 72
//                    wan0 ── veth ── wan0
//                    sync0 ─ veth ── sync0 (nothing listens: the sync engine's peer is absent)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until as waitFor } from '../helpers/until.js';
import { syncConf } from '../../lab/conntrackd.js';
import { Keepalived, keepalivedConf, tearDownPair, type KeepalivedSpec } from '../../lab/keepalived.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

const BIN = new URL('../../../bin/keepstated.js', import.meta.url).pathname;
const skip = rootSkipReason() ?? (Keepalived.version() === undefined ? 'keepalived is not installed (scripts/setup.sh installs it)' : undefined);

interface Variant {
  readonly label: string;
  readonly version: 2 | 3;
  readonly advertSec: number;
  readonly lan: (n: number) => string; // fw n's own address (cidr)
  readonly wan: (n: number) => string;
  readonly vips: readonly [string, string]; // LAN and WAN VIP (cidr)
}

const VARIANTS: readonly Variant[] = [
  { label: 'VRRPv2, IPv4, 1 s adverts', version: 2, advertSec: 1, lan: (n) => `10.241.1.${n}/24`, wan: (n) => `10.241.2.${n}/24`, vips: ['10.241.1.100/24', '10.241.2.100/24'] },
  { label: 'VRRPv3, IPv4, 100 ms adverts', version: 3, advertSec: 0.1, lan: (n) => `10.242.1.${n}/24`, wan: (n) => `10.242.2.${n}/24`, vips: ['10.242.1.100/24', '10.242.2.100/24'] },
  { label: 'VRRPv3, IPv6, 100 ms adverts', version: 3, advertSec: 0.1, lan: (n) => `fd43:1::${n}/64`, wan: (n) => `fd43:2::${n}/64`, vips: ['fd43:1::100/64', 'fd43:2::100/64'] },
];

for (const v of VARIANTS) {
  describe(`keepstated and keepalived in the same virtual routers: ${v.label}`, { skip, timeout: 180_000 }, () => {
    let fw1: Netns, fw2: Netns;
    let dir: string;
    let conf: string, kaConf: string;
    let ka: Keepalived;
    const spec = (priority: number): KeepalivedSpec => ({
      routerId: `fw${priority}`,
      priority,
      version: v.version,
      advertSec: v.advertSec,
      notify: '/bin/true',
      instances: [
        { name: 'VI_LAN', iface: 'lan0', vrid: 71, vip: v.vips[0] },
        { name: 'VI_WAN', iface: 'wan0', vrid: 72, vip: v.vips[1] },
      ],
    });
    const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => fw1.run(process.execPath, [BIN, '-C', conf, ...args]);
    const ksLog = (): string => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '');
    const vipsOf = (ns: Netns): string[] => {
      const want = v.vips.map((c) => c.split('/')[0]!);
      return want.filter((a) => ns.exec('ip', ['-o', 'addr', 'show']).includes(` ${a}/`));
    };
    const until = (what: string, cond: () => boolean, hangMs = 30_000): Promise<void> => waitFor(what, cond, hangMs, 50, () => `--- keepstated log:\n${ksLog()}\n--- keepalived:\n${ka.output}`);
    const holds = (ns: Netns): boolean => vipsOf(ns).length === 2;
    const bare = (ns: Netns): boolean => vipsOf(ns).length === 0;
    const startKs = (): void => {
      // No sync peer runs here: --sync-timeout 0, or the sync-aware election would keep
      // keepstated at priority 1 for a minute (its copy of the state never gets complete).
      const r = ks('--keepalived', kaConf, '--sync-timeout', '0', '-d');
      assert.equal(r.status, 0, `keepstated -d: ${r.stderr}\n${ksLog()}`);
    };
    const stopKs = async (): Promise<void> => {
      ks('-k');
      await until('keepstated stopped', () => !existsSync(join(dir, 'lock')));
    };

    before(() => {
      fw1 = Netns.create('vka1');
      fw2 = Netns.create('vka2');
      for (const ns of [fw1, fw2]) {
        ns.sysctl('net.ipv6.conf.all.accept_dad', 0);
        ns.sysctl('net.ipv6.conf.default.accept_dad', 0);
      }
      linkVeth({ ns: fw1, ifname: 'lan0', cidr: v.lan(1) }, { ns: fw2, ifname: 'lan0', cidr: v.lan(2) });
      linkVeth({ ns: fw1, ifname: 'wan0', cidr: v.wan(1) }, { ns: fw2, ifname: 'wan0', cidr: v.wan(2) });
      linkVeth({ ns: fw1, ifname: 'sync0', cidr: '10.240.0.1/24' }, { ns: fw2, ifname: 'sync0', cidr: '10.240.0.2/24' });
      dir = mkdtempSync(join(tmpdir(), 'ks-vka-'));
      conf = join(dir, 'conntrackd.conf');
      writeFileSync(conf, syncConf(dir, { kind: 'udp', self: '10.240.0.1', peer: '10.240.0.2', device: 'sync0' }));
      kaConf = join(dir, 'keepalived.conf');
      ka = new Keepalived(fw2, spec(100));
    });

    after(() => tearDownPair({ ka, stopKeepstated: fw1 !== undefined ? () => void ks('-k') : undefined, namespaces: [fw1, fw2], dir }));

    it('keepstated (priority 150) is master, keepalived (100) backup; keepalived takes over when keepstated stops, keepstated preempts when it is back', async () => {
      writeFileSync(kaConf, keepalivedConf(spec(150)));
      startKs();
      await until('keepstated master with both VIPs', () => holds(fw1));
      ka.start();
      await ka.waitFor(/\(VI_LAN\) Entering BACKUP STATE/);
      await ka.waitFor(/\(VI_WAN\) Entering BACKUP STATE/);
      assert.ok(bare(fw2), 'keepalived holds no VIP');
      assert.doesNotMatch(ka.output, /Entering MASTER STATE/);

      // keepstated stops: it resigns (priority 0) and removes its VIPs; keepalived takes over.
      await stopKs();
      assert.ok(bare(fw1), 'keepstated removed its VIPs when stopping');
      await ka.waitFor(/\(VI_LAN\) Entering MASTER STATE/);
      await until('keepalived holds both VIPs', () => holds(fw2));
      assert.match(ka.output, /priority 0 advert|Backup received priority 0 advertisement/i);

      // keepstated is back with the higher priority: it preempts, keepalived yields.
      startKs();
      await until('keepstated master again', () => holds(fw1));
      await ka.waitFor(/\(VI_LAN\) Entering BACKUP STATE/, 2);
      await until('keepalived released the VIPs', () => bare(fw2));
      // In a sync group the group grants mastership once both members' down timers ran out.
      assert.equal(ksLog().match(/\(VI_(LAN|WAN)\) Entering MASTER STATE \(group\)/g)?.length, 4);
      await stopKs();
      await ka.stop();
      ka = new Keepalived(fw2, spec(100));
    });

    it('keepalived (priority 200) preempts keepstated (150); keepstated takes over when keepalived stops', async () => {
      const from = ksLog().length; // this test's part of the log
      startKs();
      await until('keepstated master alone', () => holds(fw1));
      ka.configure(spec(200));
      ka.start();
      await ka.waitFor(/\(VI_LAN\) Entering MASTER STATE/);
      await until('keepalived holds both VIPs', () => holds(fw2));
      await until('keepstated released its VIPs', () => bare(fw1));
      // The member that heard keepalived first yields for that reason; the group takes the other along.
      assert.match(ksLog().slice(from), /\(VI_(LAN|WAN)\) Entering BACKUP STATE \(higher-priority\)/);

      await ka.stop();
      await until('keepstated master after keepalived left', () => holds(fw1));
      assert.equal(ksLog().slice(from).match(/\(VI_(LAN|WAN)\) Entering MASTER STATE/g)?.length, 4, 'both members master again');
      assert.ok(bare(fw2));
      await stopKs();
    });
  });
}
