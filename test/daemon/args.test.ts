import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CTL } from '../../src/control/codes.js';
import { DEFAULT_CONFIG_FILE, formatUsage, formatVersion, parseDaemonArgs, type ArgNotice } from '../../src/daemon/args.js';
import { KEEPSTATE_VERSION } from '../../src/cli/version.js';
import { ARG_ROWS, C, invalid, normalizeUsage, req, unknown } from '../control/args-rows.js';
import { loadFixture } from '../control/fixtures.js';

/**
 * keepstated's command line against conntrackd 1.4.7's main() (conntrackd-protocol.md §4.3).
 * Every row's expectation was checked against the real binary (test/kernel/control-conntrackd
 * runs the same rows through conntrackd and compares); the rows live in test/control/args-rows.ts.
 */

describe('parseDaemonArgs: conntrackd 1.4.7 rules', () => {
  for (const [what, argv, want] of ARG_ROWS) {
    it(what, () => assert.deepEqual(parseDaemonArgs([...C, ...argv]), want));
  }
  it('covers every request code', () => {
    const codes = new Set(ARG_ROWS.flatMap(([, , d]) => (d.kind === 'request' ? [d.code] : [])));
    for (const [name, code] of Object.entries(CTL)) {
      if (name === 'CT_FLUSH_CACHE' || name === 'DEBUG_INFO') continue; // no option sends them
      assert.ok(codes.has(code), name);
    }
  });
});

describe('parseDaemonArgs: daemon mode and the config file', () => {
  it('no arguments: console mode with the default config', () => {
    assert.deepEqual(parseDaemonArgs([]), { kind: 'daemon', config: DEFAULT_CONFIG_FILE, detach: false, keepalived: undefined, syncTimeoutSec: 60, warmUp: true, notices: [] });
  });
  it('-d detaches; repeating it is fine', () => {
    assert.deepEqual(parseDaemonArgs(['-d', '-C', 'a.conf', '-d']), { kind: 'daemon', config: 'a.conf', detach: true, keepalived: undefined, syncTimeoutSec: 60, warmUp: true, notices: [] });
  });
  it('-C takes the next argument whatever it is; the last -C wins', () => {
    assert.deepEqual(parseDaemonArgs(['-C', '-s']), { kind: 'daemon', config: '-s', detach: false, keepalived: undefined, syncTimeoutSec: 60, warmUp: true, notices: [] });
    assert.deepEqual(parseDaemonArgs(['-C', 'a', '-s', '-C', 'b']), { kind: 'request', config: 'b', code: CTL.STATS, json: false, notices: [] });
    assert.deepEqual(parseDaemonArgs(['xC', 'a', '-s']), { kind: 'request', config: 'a', code: CTL.STATS, json: false, notices: [] });
  });
  it('-C without a file: usage and an error, then the default file (1.4.7 carries on)', () => {
    const missing: ArgNotice = { level: 'error', message: 'Missing config filename', usage: true };
    assert.deepEqual(parseDaemonArgs(['-s', '-C']), { kind: 'request', config: DEFAULT_CONFIG_FILE, code: CTL.STATS, json: false, notices: [missing] });
    assert.deepEqual(parseDaemonArgs(['-C']), { kind: 'daemon', config: DEFAULT_CONFIG_FILE, detach: false, keepalived: undefined, syncTimeoutSec: 60, warmUp: true, notices: [missing] });
  });
  it('-C "" means the default file', () => {
    assert.deepEqual(parseDaemonArgs(['-C', '', '-k']), { kind: 'request', config: DEFAULT_CONFIG_FILE, code: CTL.KILL, json: false, notices: [] });
  });
  it('a config path longer than PATH_MAX is cut to 4095 bytes with a warning', () => {
    const long = '/' + 'a'.repeat(5000);
    const r = parseDaemonArgs(['-C', long, '-s']);
    assert.equal(r.kind, 'request');
    if (r.kind !== 'request') return;
    assert.equal(r.config, long.slice(0, 4095));
    assert.deepEqual(r.notices, [{ level: 'warning', message: 'Path to config file to long. Cutting it down to 4096 characters', usage: false }]);
  });
});

describe("parseDaemonArgs: keepstated's own options", () => {
  it('--json with a client request', () => {
    assert.deepEqual(parseDaemonArgs([...C, '-s', 'cache', '--json']), req(CTL.STATS_CACHE, true));
    assert.deepEqual(parseDaemonArgs(['--json', ...C, '-i', '-x']), req(CTL.CT_DUMP_INT_XML, true));
  });
  it('--json without a client request is an error', () => {
    assert.deepEqual(parseDaemonArgs([...C, '--json']), { kind: 'error', message: '--json needs a client request', status: 1, usageOnStdout: false, notices: [] });
    assert.deepEqual(parseDaemonArgs([...C, '-d', '--json']), { kind: 'error', message: '--json needs a client request', status: 1, usageOnStdout: false, notices: [] });
  });
  it('--keepalived FILE is stored for the daemon, in both spellings', () => {
    assert.deepEqual(parseDaemonArgs([...C, '--keepalived', '/etc/keepalived/keepalived.conf', '-d']), {
      kind: 'daemon',
      config: '/tmp/x.conf',
      detach: true,
      keepalived: '/etc/keepalived/keepalived.conf',
      syncTimeoutSec: 60,
      warmUp: true,
      notices: [],
    });
    assert.deepEqual(parseDaemonArgs(['--keepalived=k.conf']), { kind: 'daemon', config: DEFAULT_CONFIG_FILE, detach: false, keepalived: 'k.conf', syncTimeoutSec: 60, warmUp: true, notices: [] });
  });
  it('--sync-timeout SEC goes with --keepalived: seconds 0..86400, in both spellings', () => {
    assert.deepEqual(parseDaemonArgs(['--keepalived', 'k.conf', '--sync-timeout', '0']), { kind: 'daemon', config: DEFAULT_CONFIG_FILE, detach: false, keepalived: 'k.conf', syncTimeoutSec: 0, warmUp: true, notices: [] });
    assert.deepEqual(parseDaemonArgs(['--sync-timeout=90', '--keepalived=k.conf']), { kind: 'daemon', config: DEFAULT_CONFIG_FILE, detach: false, keepalived: 'k.conf', syncTimeoutSec: 90, warmUp: true, notices: [] });
    for (const bad of [['--sync-timeout'], ['--sync-timeout', '-1'], ['--sync-timeout=1.5'], ['--sync-timeout', '86401']]) {
      const r = parseDaemonArgs(['--keepalived', 'k.conf', ...bad]);
      assert.equal(r.kind, 'error', bad.join(' '));
      assert.match((r as { message: string }).message, /^option --sync-timeout needs a number of seconds/);
    }
    assert.deepEqual(parseDaemonArgs(['--sync-timeout', '5']), { kind: 'error', message: '--sync-timeout needs --keepalived', status: 1, usageOnStdout: false, notices: [] });
    assert.deepEqual(parseDaemonArgs([...C, '--sync-timeout', '5', '-s']), invalid);
  });
  it('--keepalived needs a file and is a daemon option', () => {
    assert.deepEqual(parseDaemonArgs(['--keepalived']), { kind: 'error', message: 'option --keepalived needs a file', status: 1, usageOnStdout: false, notices: [] });
    assert.deepEqual(parseDaemonArgs(['--keepalived=']), { kind: 'error', message: 'option --keepalived needs a file', status: 1, usageOnStdout: false, notices: [] });
    assert.deepEqual(parseDaemonArgs([...C, '--keepalived', 'k.conf', '-s']), invalid);
  });
  it('--no-warm-up is a daemon option', () => {
    assert.deepEqual(parseDaemonArgs([...C, '--no-warm-up', '-d']), { kind: 'daemon', config: '/tmp/x.conf', detach: true, keepalived: undefined, syncTimeoutSec: 60, warmUp: false, notices: [] });
    assert.deepEqual(parseDaemonArgs([...C, '--no-warm-up', '-s']), invalid);
    assert.deepEqual(parseDaemonArgs([...C, '--no-warm']), unknown('--no-warm'));
  });
  it('other long options are still conntrackd unknown options', () => {
    assert.deepEqual(parseDaemonArgs([...C, '--jsonx']), unknown('--jsonx'));
    assert.deepEqual(parseDaemonArgs([...C, '--keepalive', 'x']), unknown('--keepalive'));
  });
});

describe('usage and version texts', () => {
  it("the usage is conntrackd's word for word, plus keepstated's options", () => {
    const theirs = loadFixture('client-h.txt');
    assert.equal(theirs.status, 0);
    assert.equal(normalizeUsage(formatUsage('keepstated')), theirs.body);
    assert.match(formatUsage('keepstated'), new RegExp(`^Connection tracking userspace daemon v1\\.4\\.7 \\(keepstated ${KEEPSTATE_VERSION.replaceAll('.', '\\.')}\\)\nUsage: keepstated \\[commands\\] \\[options\\]\n`));
    assert.match(formatUsage('keepstated'), /\n {2}--json, [^\n]+\n {2}--keepalived FILE, [^\n]+\n {2}--sync-timeout SEC, [^\n]+\n {6}[^\n]+\n {2}--no-warm-up, [^\n]+\n( {6}[^\n]+\n){2}\n$/);
  });
  it('usage for an unknown option and invalid parameters is the same text', () => {
    assert.equal(loadFixture('client-unknown.txt').body, loadFixture('client-h.txt').body);
    assert.equal(loadFixture('client-unknown.txt').stderr, '[<time>] (pid=<pid>) [ERROR] Unknown option: -Z');
    assert.equal(loadFixture('client-invalid.txt').body, loadFixture('client-h.txt').body);
    assert.equal(loadFixture('client-invalid.txt').status, 1);
  });
  it('the version keeps the line scripts match and says keepstated answered', () => {
    const theirs = loadFixture('client-v.txt').body;
    const firstLine = theirs.split('\n')[0]!;
    assert.equal(firstLine, 'Connection tracking userspace daemon v1.4.7. Licensed under GPLv2.');
    const ours = formatVersion();
    assert.equal(ours.split('\n')[0]!.replace(/ \(keepstated [^)]*\)/, ''), firstLine);
    assert.match(ours, /^Connection tracking userspace daemon v1\.4\.7 /);
    assert.doesNotMatch(ours, /Pablo/);
  });
});
