import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigErrors, type ConfigError, type ConfigErrorCode } from '../../src/config/error.js';
import { GLOBAL_DEFAULTS, parseKeepalivedConfig, parseKeepalivedText, type ParsedKeepalivedConfig } from '../../src/config/keepalived/index.js';

const parse = (text: string): ParsedKeepalivedConfig => parseKeepalivedText(text, '/nonexistent-dir/k.conf');

function errorsOf(text: string): ConfigError[] {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof ConfigErrors) return [...e.errors];
    throw e;
  }
  assert.fail(`accepted: ${text}`);
}

const inst = (body: string, name = 'VI_1'): string => `vrrp_instance ${name} {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.1/24\n }\n${body}\n}\n`;

describe('keepalived.conf: defaults as keepalived 2.2.7 applies them', () => {
  it('fills an instance with the defaults and the global ones', () => {
    const { config, warnings } = parse(inst(''));
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.global, GLOBAL_DEFAULTS);
    const i = config.instances[0]!;
    assert.equal(i.name, 'VI_1');
    assert.equal(i.family, 'ipv4');
    assert.equal(i.version, 2);
    assert.equal(i.initialState, 'BACKUP');
    assert.equal(i.priority, 100);
    assert.equal(i.advertIntervalUs, 1_000_000);
    assert.equal(i.preempt, true);
    assert.equal(i.accept, true);
    assert.equal(i.garpMasterDelayUs, 5_000_000);
    assert.equal(i.garpMasterRepeat, 5);
    assert.equal(i.garpMasterRefreshUs, 0);
    assert.equal(i.garpLowerPrioDelayUs, 5_000_000);
    assert.equal(i.garpLowerPrioRepeat, 5);
    assert.equal(i.downTimerAdverts, 3);
    assert.deepEqual(i.virtualAddresses.map((v) => [v.address, v.prefixLength]), [['192.0.2.1', 24]]);
  });

  it('state MASTER without a priority means 255; priority 255 without a state means MASTER', () => {
    assert.equal(parse(inst('state MASTER')).config.instances[0]!.priority, 255);
    assert.equal(parse(inst('priority 255')).config.instances[0]!.initialState, 'MASTER');
    const i = parse(inst('state MASTER\npriority 150')).config.instances[0]!;
    assert.deepEqual([i.initialState, i.priority], ['MASTER', 150]);
  });

  it('IPv6 virtual addresses make a VRRPv3 IPv6 instance', () => {
    const text = 'vrrp_instance V6 {\n interface eth0\n virtual_router_id 7\n advert_int 0.25\n virtual_ipaddress {\n  fe80::1/64\n  2001:db8::1/64 dev eth1\n }\n}\n';
    const i = parse(text).config.instances[0]!;
    assert.deepEqual([i.family, i.version, i.advertIntervalUs], ['ipv6', 3, 250_000]);
    assert.deepEqual(i.virtualAddresses.map((v) => [v.address, v.prefixLength, v.dev]), [
      ['fe80::1', 64, undefined],
      ['2001:db8::1', 64, 'eth1'],
    ]);
  });

  it('global_defs settings reach the instances; instance settings win', () => {
    const g = 'global_defs {\n router_id fw1\n vrrp_version 3\n vrrp_garp_master_delay 1\n vrrp_garp_master_repeat 2\n vrrp_garp_interval 0.001\n vrrp_strict\n}\n';
    const { config } = parse(g + inst('priority 255\ngarp_master_repeat 1'));
    assert.equal(config.global.routerId, 'fw1');
    assert.equal(config.global.garpIntervalUs, 1000);
    const i = config.instances[0]!;
    assert.deepEqual([i.version, i.strict, i.garpMasterDelayUs, i.garpMasterRepeat, i.lowerPrioNoAdvert, i.accept], [3, true, 1_000_000, 1, true, true]);
  });

  it('vrrp_min_garp: one GARP and no second burst unless set explicitly', () => {
    const i = parse('global_defs {\n vrrp_min_garp\n}\n' + inst('')).config.instances[0]!;
    assert.deepEqual([i.garpMasterRepeat, i.garpMasterDelayUs], [1, 0]);
  });

  it('reads VIP options, tracking, notify scripts, unicast, vmac and authentication', () => {
    const text = [
      'vrrp_script chk {',
      '  script "/usr/bin/pgrep -x \'conntrackd\'"',
      '  interval 2',
      '  weight -20 reverse',
      '  fall 3',
      '}',
      inst(
        [
          'virtual_ipaddress_excluded {',
          '  2001:db8::5/64 dev eth1',
          '  198.51.100.7 dev eth1 label eth1:vip scope global brd 198.51.100.255 no_track',
          '}',
          'track_interface {',
          '  eth1 weight -10',
          '  eth2',
          '}',
          'track_script {',
          '  chk weight 5 noreverse',
          '}',
          'notify_master "/etc/k/master.sh arg1" root wheel',
          'notify /etc/k/notify.sh',
          'unicast_src_ip 192.0.2.10',
          'unicast_peer {',
          '  192.0.2.11',
          '  192.0.2.12 min_ttl 250',
          '}',
          'use_vmac vrrp.51',
          'vmac_xmit_base',
          'authentication {',
          '  auth_type PASS',
          '  auth_pass secret',
          '}',
        ].join('\n'),
      ),
    ].join('\n');
    const { config } = parse(text);
    const s = config.scripts[0]!;
    assert.deepEqual(s.command.argv, ['/usr/bin/pgrep', '-x', 'conntrackd']);
    assert.deepEqual([s.intervalUs, s.weight, s.reverse, s.fall, s.rise], [2_000_000, -20, true, 3, 1]);
    const i = config.instances[0]!;
    assert.deepEqual(i.excludedAddresses.map((v) => [v.family, v.address, v.label, v.scope, v.broadcast, v.noTrack]), [
      ['ipv6', '2001:db8::5', undefined, undefined, undefined, false],
      ['ipv4', '198.51.100.7', 'eth1:vip', 'global', '198.51.100.255', true],
    ]);
    assert.deepEqual(i.trackInterfaces.map((t) => [t.name, t.weight, t.reverse]), [
      ['eth1', -10, false],
      ['eth2', undefined, false],
    ]);
    assert.deepEqual(i.trackScripts.map((t) => [t.name, t.weight, t.reverse]), [['chk', 5, false]]);
    assert.deepEqual([i.notify.master?.argv, i.notify.master?.user, i.notify.master?.group], [['/etc/k/master.sh', 'arg1'], 'root', 'wheel']);
    assert.deepEqual(i.notify.generic?.argv, ['/etc/k/notify.sh']);
    assert.equal(i.sourceAddress, '192.0.2.10');
    assert.deepEqual(i.unicastPeers.map((p) => [p.address, p.minTtl]), [
      ['192.0.2.11', undefined],
      ['192.0.2.12', 250],
    ]);
    assert.equal(i.unicastTtl, 255);
    assert.deepEqual(i.vmac, { name: 'vrrp.51', xmitBase: true });
    assert.deepEqual(i.auth, { type: 'PASS', password: 'secret' });
  });

  it('sync groups: members, group tracking and group notifies', () => {
    const text = `${inst('', 'A')}${inst('', 'B').replace('virtual_router_id 51', 'virtual_router_id 52')}vrrp_script s {\n script /bin/true\n}\nvrrp_sync_group G {\n group {\n  A B\n }\n track_script {\n  s weight 10\n }\n notify_master /bin/m\n}\n`;
    const { config } = parse(text);
    assert.deepEqual(config.syncGroups.map((g) => [g.name, g.instances, g.trackScripts.map((t) => t.name), g.notify.master?.argv]), [['G', ['A', 'B'], ['s'], ['/bin/m']]]);
    assert.deepEqual(config.instances.map((i) => i.syncGroup), ['G', 'G']);
  });

  it('harmless keywords of other keepalived processes are accepted and ignored', () => {
    const text = 'global_defs {\n notification_email {\n  a@b\n }\n smtp_server 127.0.0.1\n enable_snmp_vrrp\n lvs_flush\n}\n' + inst('smtp_alert');
    assert.equal(parse(text).config.instances.length, 1);
  });
});

describe('keepalived.conf: errors name file:line:col and are all collected', () => {
  const cases: readonly (readonly [string, string, readonly (readonly [number, number, ConfigErrorCode])[]])[] = [
    ['VRID out of range', inst('').replace('virtual_router_id 51', 'virtual_router_id 256'), [[3, 20, 'CFG_BAD_VALUE']]],
    ['priority 0', inst('priority 0'), [[7, 10, 'CFG_BAD_VALUE']]],
    ['missing VRID', inst('').replace(' virtual_router_id 51\n', ''), [[1, 1, 'CFG_MISSING']]],
    ['missing interface', inst('').replace(' interface eth0\n', ''), [[1, 1, 'CFG_MISSING']]],
    ['v2 advert_int with a fraction', inst('advert_int 1.5'), [[7, 1, 'CFG_BAD_VALUE']]],
    ['v3 advert_int not in 10 ms units', inst('version 3\nadvert_int 0.015'), [[8, 1, 'CFG_BAD_VALUE']]],
    ['advert_int above 255 s', inst('advert_int 300'), [[7, 12, 'CFG_BAD_VALUE']]],
    ['line continuation does not exist', inst('priority 100 \\'), [[7, 10, 'CFG_BAD_VALUE']]],
    ['IPv6 VIP in an IPv4 instance', inst('virtual_ipaddress {\n  2001:db8::1\n}').replace('virtual_ipaddress {\n  192.0.2.1/24\n }\n', ''), []],
    ['mixed families', inst('').replace('192.0.2.1/24', '192.0.2.1/24\n  2001:db8::1'), [[6, 3, 'CFG_CONFLICT']]],
    ['IPv6 with version 2', inst('version 2').replace('192.0.2.1/24', 'fe80::1'), [[7, 1, 'CFG_CONFLICT']]],
    ['unknown keyword', inst('bogus 1'), [[7, 1, 'CFG_UNKNOWN_KEYWORD']]],
    ['misplaced keyword', inst('router_id x'), [[7, 1, 'CFG_MISPLACED']]],
    ['unsupported keyword', inst('virtual_routes {\n  10.0.0.0/8 via 192.0.2.254\n}'), [[7, 1, 'CFG_UNSUPPORTED']]],
    ['unsupported VIP option', inst('').replace('192.0.2.1/24', '192.0.2.1/24 home'), [[5, 16, 'CFG_UNSUPPORTED']]],
    ['unsupported top-level block', 'virtual_server 10.0.0.1 80 {\n delay_loop 6\n}\n', [[1, 1, 'CFG_UNSUPPORTED']]],
    ['duplicate instance name', inst('') + inst('').replace('51', '52'), [[9, 15, 'CFG_DUPLICATE']]],
    ['duplicate VRID on one interface', inst('', 'A') + inst('', 'B'), [[9, 1, 'CFG_CONFLICT']]],
    ['sync group names an unknown instance', inst('') + 'vrrp_sync_group G {\n group {\n  VI_1\n  VI_9\n }\n}\n', [[12, 3, 'CFG_MISSING']]],
    ['track_script names an unknown script', inst('track_script {\n  nope\n}'), [[8, 3, 'CFG_MISSING']]],
    ['weighted tracking in a sync group member', inst('track_interface {\n  eth1 weight 5\n}') + 'vrrp_sync_group G {\n group {\n  VI_1\n }\n}\n', [[8, 3, 'CFG_CONFLICT']]],
    ['state MASTER with nopreempt', inst('state MASTER\npriority 150\nnopreempt'), [[9, 1, 'CFG_CONFLICT']]],
    ['strict mode and state MASTER below 255', inst('strict_mode\nstate MASTER\npriority 100'), [[8, 1, 'CFG_CONFLICT']]],
    ['authentication with VRRPv3', inst('version 3\nauthentication {\n auth_type PASS\n auth_pass x\n}'), [[8, 1, 'CFG_CONFLICT']]],
    ['AH is unsupported', inst('authentication {\n auth_type AH\n auth_pass x\n}'), [[8, 12, 'CFG_UNSUPPORTED']]],
    ['missing closing brace', 'vrrp_instance A {\n state MASTER\n', [[2, 2, 'CFG_SYNTAX']]],
    ['extra closing brace', '}\n', [[1, 1, 'CFG_SYNTAX']]],
    ['block where none is allowed', inst('priority 100 {\n}'), [[7, 14, 'CFG_SYNTAX']]],
    ['keyword without its block', inst('track_interface'), [[7, 1, 'CFG_SYNTAX']]],
    ['too many values', inst('priority 100 200'), [[7, 14, 'CFG_SYNTAX']]],
    ['vrrp_script without a script', 'vrrp_script s {\n interval 1\n}\n', [[1, 1, 'CFG_MISSING']]],
    ['several errors are all reported, in file order', inst('priority 300\nstate SLAVE\nbogus'), [[7, 10, 'CFG_BAD_VALUE'], [8, 7, 'CFG_BAD_VALUE'], [9, 1, 'CFG_UNKNOWN_KEYWORD']]],
  ];
  for (const [name, text, want] of cases)
    it(name, () => {
      if (want.length === 0) {
        // The IPv6-VIP-only instance is fine: it becomes an IPv6 VRRPv3 instance.
        assert.equal(parse(text).config.instances[0]!.version, 3);
        return;
      }
      const got = errorsOf(text).map((e) => [e.line, e.col, e.code] as const);
      assert.deepEqual(got, want, JSON.stringify(errorsOf(text)));
      for (const e of errorsOf(text)) assert.equal(e.file, '/nonexistent-dir/k.conf');
    });

  it('the message names the keyword', () => {
    const [e] = errorsOf(inst('use_ipvlan'));
    assert.match(e!.message, /use_ipvlan/);
  });
});

describe('keepalived.conf: include', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keepstate-keepalived-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'conf.d'));
  mkdirSync(join(dir, 'conf.d', 'sub'));
  writeFileSync(join(dir, 'conf.d', 'b.conf'), inst('', 'B').replace('51', '52'));
  writeFileSync(join(dir, 'conf.d', 'a.conf'), `${inst('', 'A')}include sub/*.conf\n`);
  writeFileSync(join(dir, 'conf.d', 'sub', 'c.conf'), inst('', 'C').replace('51', '53'));
  writeFileSync(join(dir, 'conf.d', 'x.txt'), 'garbage {{{\n');
  writeFileSync(join(dir, 'half.conf'), 'vrrp_instance H {\n');
  writeFileSync(join(dir, 'bad.conf'), 'global_defs {\n bogus\n}\n');

  it('expands globs in sorted order, relative to the including file, nested', () => {
    writeFileSync(join(dir, 'main.conf'), 'global_defs {\n router_id r\n}\ninclude conf.d/*.conf\n');
    const { config } = parseKeepalivedConfig(join(dir, 'main.conf'));
    assert.deepEqual(config.instances.map((i) => i.name), ['A', 'C', 'B']);
    assert.deepEqual(config.files, [join(dir, 'main.conf'), join(dir, 'conf.d/a.conf'), join(dir, 'conf.d/sub/c.conf'), join(dir, 'conf.d/b.conf')]);
  });

  it('brace alternatives are matched in the order written', () => {
    writeFileSync(join(dir, 'braces.conf'), 'include conf.d/{b,a}.conf\n');
    assert.deepEqual(parseKeepalivedConfig(join(dir, 'braces.conf')).config.instances.map((i) => i.name), ['B', 'A', 'C']);
  });

  it('a block may close in the including file', () => {
    writeFileSync(join(dir, 'split.conf'), 'include half.conf\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  192.0.2.9\n }\n}\n');
    assert.deepEqual(parseKeepalivedConfig(join(dir, 'split.conf')).config.instances.map((i) => i.name), ['H']);
  });

  it('errors in an included file name that file and line', () => {
    writeFileSync(join(dir, 'inc-bad.conf'), 'include bad.conf\n');
    assert.throws(
      () => parseKeepalivedConfig(join(dir, 'inc-bad.conf')),
      (e: unknown) => e instanceof ConfigErrors && e.errors.length === 1 && e.errors[0]!.file === join(dir, 'bad.conf') && e.errors[0]!.line === 2,
    );
  });

  it('a missing file is an error; a wildcard without matches is not (except includew)', () => {
    writeFileSync(join(dir, 'missing.conf'), 'include nothere.conf\ninclude none/*.conf\nincludew none/*.conf\n');
    assert.throws(
      () => parseKeepalivedConfig(join(dir, 'missing.conf')),
      (e: unknown) => e instanceof ConfigErrors && e.errors.map((x) => [x.line, x.code]).join() === [[1, 'CFG_MISSING'], [3, 'CFG_MISSING']].join(),
    );
  });

  it('include loops, directories and executable files are errors', () => {
    writeFileSync(join(dir, 'loop.conf'), 'include loop.conf\ninclude conf.d\n');
    writeFileSync(join(dir, 'exec.conf'), 'global_defs {\n}\n');
    chmodSync(join(dir, 'exec.conf'), 0o755);
    writeFileSync(join(dir, 'odd.conf'), 'include loop.conf\ninclude exec.conf\n');
    assert.throws(
      () => parseKeepalivedConfig(join(dir, 'odd.conf')),
      (e: unknown) => e instanceof ConfigErrors && e.errors.length === 3 && e.errors.every((x) => x.code === 'CFG_BAD_VALUE'),
    );
  });

  it('a file that cannot be read is an error, not an exception', () => {
    assert.throws(
      () => parseKeepalivedConfig(join(dir, 'no-such-file.conf')),
      (e: unknown) => e instanceof ConfigErrors && e.errors[0]!.code === 'CFG_MISSING',
    );
  });
});
