// keepstated and the real keepalived 2.2.7 in one virtual router over unicast (unicast_src_ip,
// unicast_peer), VRRPv2 and VRRPv3 over IPv4: they elect by priority, fail over and back in both
// directions, the VIP is always on the master's side only, and no advert goes to 224.0.0.18.
// A third run adds use_vmac + vmac_xmit_base on both nodes (keepalived's requirement for unicast
// with a VMAC): the VIP lives on the macvlan, the adverts leave from the parent with its own MAC.
//
//   fw1 (keepstated) lan0 ── veth ── lan0 fw2 (keepalived)      VRID 81, unicast both ways
//                    sync0 ─ veth ── sync0 (nothing listens: the sync engine's peer is absent)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { until as waitFor } from '../helpers/until.js';
import { syncConf } from '../../lab/conntrackd.js';
import { Keepalived, tearDownPair } from '../../lab/keepalived.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

// The daemon of this build (bin/keepstated.js would run dist/).
const MAIN = new URL('../../lab/keepstated-main.js', import.meta.url).pathname;
const skip = rootSkipReason() ?? (Keepalived.version() === undefined ? 'keepalived is not installed (scripts/setup.sh installs it)' : undefined);

/** unicastConf is one node's keepalived.conf: one unicast instance from `self` to `peer`. */
function unicastConf(o: { router: string; priority: number; version: 2 | 3; advertSec: number; self: string; peers: readonly string[]; vip: string; vmac: boolean }): string {
  return `global_defs {
  router_id ${o.router}
}
vrrp_instance VI_U {
  state BACKUP
  interface lan0
${o.vmac ? '  use_vmac\n  vmac_xmit_base\n' : ''}  virtual_router_id 81
  priority ${o.priority}
  advert_int ${o.advertSec}
  version ${o.version}
  unicast_src_ip ${o.self}
  unicast_peer {
${o.peers.map((p) => `    ${p}\n`).join('')}  }
  virtual_ipaddress {
    ${o.vip}
  }
}
`;
}

const VARIANTS = [
  { label: 'VRRPv2, 1 s adverts', version: 2, advertSec: 1, net: '10.245.1', vmac: false, extraPeer: false },
  { label: 'VRRPv3, 100 ms adverts', version: 3, advertSec: 0.1, net: '10.245.2', vmac: false, extraPeer: false },
  // A second (absent) peer listed first on keepstated's side: the v3 checksum covers each peer's
  // address, so the advert keepalived gets must be computed for keepalived's address.
  { label: 'VRRPv3, 100 ms adverts, two peers', version: 3, advertSec: 0.1, net: '10.245.4', vmac: false, extraPeer: true },
  // keepalived needs vmac_xmit_base for unicast with use_vmac: adverts from the parent, VIP on the macvlan.
  { label: 'VRRPv2, 1 s adverts, use_vmac + vmac_xmit_base', version: 2, advertSec: 1, net: '10.245.3', vmac: true, extraPeer: false },
] as const;

for (const v of VARIANTS) {
  describe(`keepstated and keepalived over unicast: ${v.label}`, { skip, timeout: 180_000 }, () => {
    let fw1: Netns, fw2: Netns;
    let dir: string;
    let conf: string, ksConf: string;
    let ka: Keepalived;
    const vip = `${v.net}.100`;
    const ksText = (priority: number): string => unicastConf({ router: 'fw1', priority, version: v.version, advertSec: v.advertSec, self: `${v.net}.1`, peers: v.extraPeer ? [`${v.net}.9`, `${v.net}.2`] : [`${v.net}.2`], vip: `${vip}/24`, vmac: v.vmac });
    const kaText = (priority: number): string => unicastConf({ router: 'fw2', priority, version: v.version, advertSec: v.advertSec, self: `${v.net}.2`, peers: [`${v.net}.1`], vip: `${vip}/24`, vmac: v.vmac });
    const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => fw1.run(process.execPath, [MAIN, '-C', conf, ...args]);
    const ksLog = (): string => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '');
    const vipDev = v.vmac ? 'vrrp.81' : 'lan0';
    const holds = (ns: Netns): boolean => ns.run('ip', ['-o', 'addr', 'show', 'dev', vipDev]).stdout.includes(` ${vip}/`);
    const until = (what: string, cond: () => boolean, hangMs = 30_000): Promise<void> => waitFor(what, cond, hangMs, 50, () => `--- keepstated log:\n${ksLog()}\n--- keepalived:\n${ka.output}`);
    const startKs = (priority: number): void => {
      writeFileSync(ksConf, ksText(priority));
      const r = ks('--keepalived', ksConf, '--sync-timeout', '0', '-d');
      assert.equal(r.status, 0, `keepstated -d: ${r.stderr}\n${ksLog()}`);
    };
    const stopKs = async (): Promise<void> => {
      ks('-k');
      await until('keepstated stopped', () => !existsSync(join(dir, 'lock')));
    };
    const startKa = (priority: number): void => {
      writeFileSync(ka.conf, kaText(priority));
      ka.start();
    };

    before(() => {
      fw1 = Netns.create('vuk1');
      fw2 = Netns.create('vuk2');
      linkVeth({ ns: fw1, ifname: 'lan0', cidr: `${v.net}.1/24` }, { ns: fw2, ifname: 'lan0', cidr: `${v.net}.2/24` });
      linkVeth({ ns: fw1, ifname: 'sync0', cidr: '10.240.0.1/24' }, { ns: fw2, ifname: 'sync0', cidr: '10.240.0.2/24' });
      dir = mkdtempSync(join(tmpdir(), 'ks-vuk-'));
      conf = join(dir, 'conntrackd.conf');
      writeFileSync(conf, syncConf(dir, { kind: 'udp', self: '10.240.0.1', peer: '10.240.0.2', device: 'sync0' }));
      ksConf = join(dir, 'keepalived.conf');
      ka = new Keepalived(fw2, { routerId: 'fw2', priority: 100, instances: [], notify: '/bin/true' });
    });

    after(() => tearDownPair({ ka, stopKeepstated: fw1 !== undefined ? () => void ks('-k') : undefined, namespaces: [fw1, fw2], dir }));

    it('keepstated (150) master, keepalived (100) backup; keepalived takes over when keepstated stops; keepstated preempts when back', async () => {
      startKs(150);
      await until('keepstated master with the VIP', () => holds(fw1));
      startKa(100);
      await ka.waitFor(/\(VI_U\) Entering BACKUP STATE/);
      // Adverts are unicast to the peer: a capture on fw2's side sees them addressed to 10.x.2, none to the group.
      const seen = fw2.run('timeout', ['10', 'tcpdump', '-i', 'lan0', '-e', '-n', '-c', '3', 'ip proto 112 and src host ' + `${v.net}.1`]).stdout;
      assert.match(seen, new RegExp(`${v.net.replaceAll('.', '\\.')}\\.1 > ${v.net.replaceAll('.', '\\.')}\\.2: VRRPv${v.version}, Advertisement, vrid 81, prio 150`));
      // With vmac_xmit_base they leave from the parent, with its own MAC.
      const lan0Mac = /link\/ether ([0-9a-f:]+)/.exec(fw1.exec('ip', ['link', 'show', 'dev', 'lan0']))?.[1] ?? 'none';
      assert.match(seen, new RegExp(`^\\S+ ${lan0Mac} > `, 'm'));
      assert.doesNotMatch(seen, /224\.0\.0\.18/);
      assert.ok(!holds(fw2), 'keepalived holds no VIP');
      assert.doesNotMatch(ka.output, /Entering MASTER STATE/);

      await stopKs();
      assert.ok(!holds(fw1), 'keepstated removed its VIP when stopping');
      await ka.waitFor(/\(VI_U\) Entering MASTER STATE/);
      await until('keepalived holds the VIP', () => holds(fw2));
      assert.match(ka.output, /priority 0 advert|Backup received priority 0 advertisement/i);

      startKs(150);
      await until('keepstated master again', () => holds(fw1));
      await ka.waitFor(/\(VI_U\) Entering BACKUP STATE/, 2);
      await until('keepalived released the VIP', () => !holds(fw2));
      await stopKs();
      await ka.stop();
      ka = new Keepalived(fw2, { routerId: 'fw2', priority: 100, instances: [], notify: '/bin/true' });
    });

    it('keepalived (200) preempts keepstated (150); keepstated takes over when keepalived stops', async () => {
      const from = ksLog().length;
      startKs(150);
      await until('keepstated master alone', () => holds(fw1));
      startKa(200);
      await ka.waitFor(/\(VI_U\) Entering MASTER STATE/);
      await until('keepalived holds the VIP', () => holds(fw2));
      await until('keepstated released its VIP', () => !holds(fw1));
      assert.match(ksLog().slice(from), /\(VI_U\) Entering BACKUP STATE \(higher-priority\)/);
      await ka.stop();
      await until('keepstated master after keepalived left', () => holds(fw1));
      assert.ok(!holds(fw2));
      await stopKs();
    });
  });
}
