import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigErrors, type ConfigError } from '../../src/config/error.js';
import { parseKeepalivedConfig, type ParsedKeepalivedConfig } from '../../src/config/keepalived/index.js';

/**
 * The example configurations that ship with keepalived 2.2.7 (Debian package keepalived, installed in
 * /usr/share/doc/keepalived/samples/). Their VRRP parts must parse; what keepstate refuses in them is
 * only what it does not support (LVS virtual servers, static and virtual routes/rules, AH, '@' lines),
 * each refused with CFG_UNSUPPORTED at the keyword — plus what keepalived 2.2.7 itself refuses.
 */

const DIR = '/usr/share/doc/keepalived/samples';
const skip = existsSync(DIR) ? undefined : `${DIR} not found (Debian package keepalived)`;

function outcome(file: string): { ok: ParsedKeepalivedConfig } | { errors: ConfigError[] } {
  try {
    return { ok: parseKeepalivedConfig(join(DIR, file)) };
  } catch (e) {
    if (e instanceof ConfigErrors) return { errors: [...e.errors] };
    throw e;
  }
}

/** Per sample: the keywords refused as unsupported, in order; other errors must not occur. */
const EXPECTED: Readonly<Record<string, readonly string[]>> = {
  'keepalived.conf.HTTP_GET.port': ['virtual_server'],
  'keepalived.conf.IPv6': ['virtual_server_group', 'virtual_server'],
  'keepalived.conf.PING_CHECK': ['virtual_server'],
  'keepalived.conf.SMTP_CHECK': ['virtual_server'],
  'keepalived.conf.SSL_GET': ['auth_type AH', 'virtual_server', 'virtual_server'],
  'keepalived.conf.UDP_CHECK': ['virtual_server'],
  'keepalived.conf.fwmark': ['virtual_server'],
  'keepalived.conf.inhibit': ['virtual_server'],
  'keepalived.conf.misc_check': ['virtual_server'],
  'keepalived.conf.misc_check_arg': ['virtual_server'],
  'keepalived.conf.quorum': ['virtual_server'],
  'keepalived.conf.sample': ['virtual_server'],
  'keepalived.conf.status_code': ['virtual_server'],
  'keepalived.conf.track_interface': ['static_routes', 'virtual_routes'],
  'keepalived.conf.virtual_server_group': ['virtual_server_group', 'virtual_server'],
  'keepalived.conf.virtualhost': ['virtual_server'],
  'keepalived.conf.vrrp': [],
  'keepalived.conf.vrrp.localcheck': [],
  'keepalived.conf.vrrp.routes': ['static_routes', 'virtual_routes'],
  'keepalived.conf.vrrp.rules': ['static_rules', 'virtual_rules'],
  'keepalived.conf.vrrp.scripts': [],
  'keepalived.conf.vrrp.static_ipaddress': ['static_ipaddress', 'virtual_routes'],
  'keepalived.conf.vrrp.sync': [],
};

/** Samples keepalived 2.2.7 itself refuses (`keepalived -t`), with the errors we give. */
const BROKEN: Readonly<Record<string, readonly string[]>> = {
  // `vrrp_sync_group VG1 { VI_2 VI_3 }` lacks `group { }`: keepalived says "Unknown keyword 'VI_2'".
  'keepalived.conf.vrrp.lvs_syncd': ['CFG_MISSING', 'CFG_UNKNOWN_KEYWORD', 'CFG_UNKNOWN_KEYWORD', 'CFG_UNSUPPORTED', 'CFG_UNSUPPORTED'],
  // '@id' lines are keepalived's conditional configuration, which keepstate does not expand.
  'keepalived.conf.conditional_conf': ['CFG_UNSUPPORTED', 'CFG_UNSUPPORTED', 'CFG_MISSING', 'CFG_UNSUPPORTED', 'CFG_UNSUPPORTED', 'CFG_UNSUPPORTED', 'CFG_UNSUPPORTED'],
};

const unsupportedKeyword = (e: ConfigError): string => /^not supported: ([^(]+?)(?: \(|$)/.exec(e.message)?.[1] ?? `?${e.message}`;

describe('keepalived 2.2.7 sample configurations', { skip }, () => {
  const files = skip === undefined ? readdirSync(DIR).filter((f) => f.startsWith('keepalived.conf.')) : [];
  it('every sample is in one of the tables', () => {
    for (const f of files) assert.ok(f in EXPECTED || f in BROKEN, f);
  });
  for (const [file, keywords] of Object.entries(EXPECTED))
    it(`${file}: the VRRP part parses; refused only: ${keywords.join(', ') || 'nothing'}`, () => {
      const r = outcome(file);
      if ('ok' in r) {
        assert.deepEqual(keywords, []);
        return;
      }
      assert.deepEqual(r.errors.map((e) => e.code), keywords.map(() => 'CFG_UNSUPPORTED'), JSON.stringify(r.errors));
      assert.deepEqual(r.errors.map(unsupportedKeyword), keywords);
      for (const e of r.errors) assert.equal(e.file, join(DIR, file));
    });
  for (const [file, codes] of Object.entries(BROKEN))
    it(`${file}: refused with ${codes.length} errors`, () => {
      const r = outcome(file);
      assert.ok('errors' in r);
      assert.deepEqual(r.errors.map((e) => e.code), codes);
    });

  it('keepalived.conf.vrrp.sync: two sync groups of instances', () => {
    const r = outcome('keepalived.conf.vrrp.sync');
    assert.ok('ok' in r);
    const c = r.ok.config;
    assert.deepEqual(c.syncGroups.map((g) => [g.name, g.instances]), [
      ['G1', ['VI_1', 'VI_2', 'VI_5', 'VI_6', 'VI_7', 'VI_8', 'VI_9']],
      ['G2', ['VI_3', 'VI_4']],
    ]);
    for (const g of c.syncGroups) for (const m of g.instances) assert.equal(c.instances.find((i) => i.name === m)?.syncGroup, g.name);
  });

  it('keepalived.conf.vrrp.scripts: group notify scripts and quoted instance notify commands', () => {
    const r = outcome('keepalived.conf.vrrp.scripts');
    assert.ok('ok' in r);
    const c = r.ok.config;
    assert.deepEqual(c.syncGroups[0]!.notify.master?.argv, ['/usr/local/bin/vrrp.mast', 'arg1', 'arg2']);
    const vi1 = c.instances.find((i) => i.name === 'VI_1')!;
    assert.deepEqual(vi1.notify.backup?.argv, ['/usr/local/bin/vrrp.sh', 'BACKUP', 'VI_1']);
    assert.deepEqual([vi1.initialState, vi1.priority, vi1.auth?.type], ['MASTER', 100, 'PASS']);
  });
});
