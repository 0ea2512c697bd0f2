import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { ConfigErrors, type ConfigErrorCode } from '../../src/config/error.js';
import { parseKeepalivedConfig } from '../../src/config/keepalived/index.js';

/**
 * The real keepalived 2.2.7 is the arbiter: `keepalived -t -f FILE` parses the file, runs its checks
 * and exits 0 when the configuration has no error (non-zero otherwise: 5 for a configuration error,
 * 6 for a script-security error); no daemon starts. It checks the interfaces named in the file against
 * the system, so it runs inside a namespace of our own that has eth0..eth2 (veth pairs).
 */

const probe = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
const installed = probe.error === undefined && /v2\.2\.7/.test(probe.stdout + probe.stderr);
const skip = !installed ? 'keepalived 2.2.7 is not installed (Debian package keepalived)' : rootSkipReason();

const dir = mkdtempSync(join(tmpdir(), 'keepstate-keepalived-cmp-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let ns: Netns | undefined;
before(() => {
  if (skip !== undefined) return;
  ns = Netns.create('kacfg');
  for (const i of [0, 1, 2]) ns.exec('ip', ['link', 'add', `eth${i}`, 'type', 'veth', 'peer', 'name', `peer${i}`]);
});
after(() => ns?.close());

function keepalivedAccepts(text: string): { ok: boolean; out: string } {
  const file = join(dir, 'k.conf');
  writeFileSync(file, text);
  const r = ns!.run('keepalived', ['-t', '-f', file, '-l', '-D', '-n']);
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

function ours(text: string): ConfigErrorCode[] {
  const file = join(dir, 'k.conf');
  writeFileSync(file, text);
  try {
    parseKeepalivedConfig(file);
    return [];
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    return e.errors.map((x) => x.code);
  }
}

const SECURE = 'global_defs {\n enable_script_security\n script_user root\n}\n';
const inst = (body: string, name = 'VI_1', vrid = 51): string =>
  `vrrp_instance ${name} {\n interface eth0\n virtual_router_id ${vrid}\n virtual_ipaddress {\n  192.0.2.${vrid}/24\n }\n${body}\n}\n`;

/** Texts on which keepstate and keepalived must agree (accept both, or refuse both). */
const AGREE: readonly (readonly [string, string])[] = [
  ['a minimal instance', inst('')],
  ['comments with # and ! anywhere', `! head\n${inst('priority 150 # c\nadvert_int 2!c')}`],
  ['a block written on one line', 'vrrp_instance A { interface eth0\nvirtual_router_id 9\nvirtual_ipaddress { 192.0.2.9 }\n}\n'],
  ['state MASTER priority 255, nopreempt on a backup', `${inst('state MASTER\npriority 255', 'A', 1)}${inst('nopreempt\npriority 50', 'B', 2)}`],
  ['VRRPv3 IPv6 with fractional advert_int', 'vrrp_instance V6 {\n interface eth1\n virtual_router_id 7\n advert_int 0.05\n virtual_ipaddress {\n  fe80::7/64\n  2001:db8::7/64\n }\n}\n'],
  ['unicast with peers', inst('unicast_src_ip 192.0.2.10\nunicast_peer {\n 192.0.2.11\n}')],
  ['VIP options', inst('virtual_ipaddress_excluded {\n 198.51.100.1/24 dev eth1 label eth1:1 scope global\n 2001:db8::1/64 dev eth2\n}')],
  ['sync group with scripts and notifies', `${SECURE}vrrp_script chk {\n script "/bin/true"\n interval 2\n weight -5 reverse\n}\n${inst('', 'A', 1)}${inst('', 'B', 2)}vrrp_sync_group G {\n group {\n  A\n  B\n }\n track_script {\n  chk\n }\n notify_master "/bin/true master" root\n}\n`],
  ['global GARP settings', `global_defs {\n vrrp_garp_master_delay 1\n vrrp_garp_master_repeat 2\n vrrp_garp_interval 0.001\n vrrp_version 3\n}\n${inst('advert_int 0.5')}`],
  ['VRID 256', inst('').replace('virtual_router_id 51', 'virtual_router_id 256')],
  ['priority 0', inst('priority 0')],
  ['missing VRID', inst('').replace(' virtual_router_id 51\n', '')],
  ['v2 advert_int 1.5', inst('advert_int 1.5')],
  ['v3 advert_int 0.015', inst('version 3\nadvert_int 0.015')],
  ['advert_int 300', inst('advert_int 300')],
  ['no line continuation', inst('priority 100 \\')],
  ['unknown keyword', inst('bogus 1')],
  ['global keyword in an instance', inst('router_id x')],
  ['state SLAVE', inst('state SLAVE')],
  ['nopreempt with state MASTER', inst('state MASTER\npriority 150\nnopreempt')],
  ['unknown track_script', inst('track_script {\n chk\n}')],
  ['sync group with an unknown member', `${inst('')}vrrp_sync_group G {\n group {\n  VI_1\n  VI_9\n }\n}\n`],
  ['duplicate instance name', `${inst('', 'A', 1)}${inst('', 'A', 2)}`],
  ['unicast_src_ip without peers', inst('unicast_src_ip 192.0.2.10')],
  ['authentication with VRRPv3', inst('version 3\nauthentication {\n auth_type PASS\n auth_pass x\n}')],
  ['strict mode, MASTER below 255', inst('strict_mode\nstate MASTER\npriority 100')],
  ['extra closing brace', `${inst('')}}\n`],
  ['a brace glued to the name, two braces closing on one line', 'vrrp_instance A{\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n 192.0.2.9 }}\n'],
  ['braces on lines of their own', 'vrrp_instance A\n{\n interface eth0\n virtual_router_id 9\n virtual_ipaddress\n {\n 192.0.2.9\n }\n}\n'],
  ['two addresses on one VIP line', 'vrrp_instance A {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress { 192.0.2.9 192.0.2.10 }\n}\n'],
  ['prefix length 33', inst('').replace('192.0.2.51/24', '192.0.2.51/33')],
  ['track_interface weight 300', inst('track_interface {\n eth1 weight 300\n}')],
  ['state MASTER with priority 50', inst('state MASTER\npriority 50')],
  ['vrrp_script weight with an unknown option', `${SECURE}vrrp_script s {\n script "/bin/true"\n weight 10 bogus\n}\n${inst('track_script {\n s\n}')}`],
  ['vrrp_garp_master_repeat 0', `global_defs {\n vrrp_garp_master_repeat 0\n}\n${inst('')}`],
  ['preempt_delay 1001', inst('preempt_delay 1001')],
];

/** Texts keepalived 2.2.7 accepts and keepstate refuses on purpose (README.md), with our error. */
const STRICTER: readonly (readonly [string, string, ConfigErrorCode])[] = [
  ['include of a missing file', `${inst('')}include /nonexistent-keepstate.conf\n`, 'CFG_MISSING'],
  ['extra words after a value', inst('priority 100 200'), 'CFG_SYNTAX'],
  ['version 2 on an IPv6 instance', 'vrrp_instance V6 {\n interface eth1\n virtual_router_id 7\n version 2\n virtual_ipaddress {\n  fe80::7/64\n }\n}\n', 'CFG_CONFLICT'],
  ['virtual_routes (not supported)', inst('virtual_routes {\n 10.0.0.0/8 via 192.0.2.254 dev eth0\n}'), 'CFG_UNSUPPORTED'],
  ['LVS virtual_server (not supported)', `${inst('')}virtual_server 192.0.2.51 80 {\n delay_loop 6\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 192.0.2.100 80 {\n  weight 1\n }\n}\n`, 'CFG_UNSUPPORTED'],
];

describe('keepalived.conf parser agrees with keepalived 2.2.7 (keepalived -t)', { skip }, () => {
  for (const [name, text] of AGREE)
    it(name, () => {
      const them = keepalivedAccepts(text);
      const us = ours(text);
      assert.equal(us.length === 0, them.ok, `keepalived ${them.ok ? 'accepts' : 'refuses'} (${them.out}); ours: ${us.join(', ') || 'accepted'}`);
    });
  for (const [name, text, code] of STRICTER)
    it(`stricter: ${name}`, () => {
      const them = keepalivedAccepts(text);
      assert.ok(them.ok, `keepalived 2.2.7 accepts it: ${them.out}`);
      assert.deepEqual(ours(text), [code]);
    });
});
