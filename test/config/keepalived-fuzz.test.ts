import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigErrors, compareDiagnostics, type ConfigError } from '../../src/config/error.js';
import { parseKeepalivedText, type ConfigFs } from '../../src/config/keepalived/index.js';

/** NO_FILES: a file system with nothing in it, so `include` lines in generated text never touch the disk. */
const NO_FILES: ConfigFs = {
  readText: (p) => {
    throw new Error(`no file ${p}`);
  },
  kind: () => undefined,
  glob: () => ({ paths: [], wildcard: true }),
};

function outcome(text: string): { ok: true; warnings: readonly ConfigError[] } | { ok: false; errors: readonly ConfigError[] } {
  try {
    return { ok: true, warnings: parseKeepalivedText(text, '/fuzz/k.conf', NO_FILES).warnings };
  } catch (e) {
    if (!(e instanceof ConfigErrors)) throw e;
    return { ok: false, errors: e.errors };
  }
}

/** checkPositions: every diagnostic is in file order and points inside the text (or just past a line's end). */
function checkPositions(text: string, ds: readonly ConfigError[]): void {
  const lines = text.split('\n');
  for (let i = 0; i < ds.length; i++) {
    const d = ds[i]!;
    assert.equal(d.file, '/fuzz/k.conf');
    assert.ok(d.line >= 1 && d.line <= lines.length, `line ${d.line} of ${lines.length}`);
    assert.ok(d.col >= 1 && d.col <= [...lines[d.line - 1]!].length + 1, `col ${d.col} on line ${d.line}`);
    assert.ok(d.message.length > 0);
    if (i > 0) assert.ok(compareDiagnostics(ds[i - 1]!, d) <= 0, 'sorted by position');
  }
}

const WORDS = [
  'global_defs', 'vrrp_instance', 'vrrp_sync_group', 'vrrp_script', 'group', 'VI_1', 'VI_2', 'state', 'MASTER', 'BACKUP',
  'interface', 'eth0', 'virtual_router_id', '51', '0', '256', 'priority', '100', 'advert_int', '0.5', '1', 'version', '3',
  'virtual_ipaddress', 'virtual_ipaddress_excluded', '192.0.2.1/24', 'fe80::1', '2001:db8::1/64', 'dev', 'label', 'scope',
  'link', 'brd', 'track_interface', 'track_script', 'weight', '-10', 'reverse', 'script', '"/bin/x a"', "'q'", 'notify_master',
  'notify', 'authentication', 'auth_type', 'PASS', 'AH', 'auth_pass', 'nopreempt', 'preempt_delay', 'unicast_peer',
  'unicast_src_ip', 'use_vmac', 'vmac_xmit_base', 'strict_mode', 'vrrp_strict', 'include', 'x.conf', '{', '}', '"', '!', '#',
  '\\', '$X=1', '@h', '~SEQ', '\n', '\n', ' ', '\t', '\r',
];

describe('fuzz: the keepalived.conf parser', () => {
  it('never throws anything but ConfigErrors on arbitrary text, and places every diagnostic inside it', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        const r = outcome(text);
        checkPositions(text, r.ok ? r.warnings : r.errors);
        if (!r.ok) assert.ok(r.errors.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws anything but ConfigErrors on soups of keepalived words, and is deterministic', () => {
    const soup = fc.array(fc.constantFrom(...WORDS), { maxLength: 80 }).map((ws) => ws.join(' '));
    fc.assert(
      fc.property(soup, (text) => {
        const r = outcome(text);
        checkPositions(text, r.ok ? r.warnings : r.errors);
        assert.deepEqual(outcome(text), r);
      }),
      { numRuns: 2000 },
    );
  });
});
