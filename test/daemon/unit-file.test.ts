// packaging/keepstated.service: systemd's own checker accepts it (offline: nothing is installed or
// started), and its ExecStart is a keepstated command line that runs the daemon in the foreground,
// as Type=notify needs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseDaemonArgs } from '../../src/daemon/args.js';
import { DAEMON_NODE_FLAGS } from '../../src/daemon/node-flags.js';

const UNIT = new URL('../../../packaging/keepstated.service', import.meta.url).pathname;
const BIN = new URL('../../../bin/keepstated.js', import.meta.url).pathname;
const LOGROTATE = new URL('../../../packaging/keepstated.logrotate', import.meta.url).pathname;

/** settings reads a unit file's `Key=Value` lines of one [Section] (comments and blank lines skipped). */
function settings(text: string, section: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s !== null) {
      current = s[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not Key=Value: ${line}`);
    if (current !== section) continue;
    const k = line.slice(0, eq);
    out.set(k, [...(out.get(k) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const verifySkip = spawnSync('systemd-analyze', ['--version']).status === 0 ? undefined : 'systemd-analyze is not installed';

describe('packaging/keepstated.service', () => {
  const text = readFileSync(UNIT, 'utf8');
  const service = settings(text, 'Service');

  test('Type=notify with the main process as notifier, restarted on failure, conflicting with conntrackd', () => {
    assert.deepEqual(service.get('Type'), ['notify']);
    assert.deepEqual(service.get('NotifyAccess'), ['main']);
    assert.deepEqual(service.get('Restart'), ['on-failure']);
    assert.deepEqual(settings(text, 'Unit').get('Conflicts'), ['conntrackd.service']);
    assert.deepEqual(settings(text, 'Install').get('WantedBy'), ['multi-user.target']);
  });

  test('ExecStart runs keepstated in the foreground (no -d: systemd tracks the process it started) with conntrackd’s config file', () => {
    const exec = service.get('ExecStart');
    assert.equal(exec?.length, 1);
    const argv = exec![0]!.split(/\s+/);
    const script = argv.findIndex((a) => a.endsWith('/bin/keepstated.js'));
    assert.ok(script >= 0, exec![0]);
    const cmd = parseDaemonArgs(argv.slice(script + 1));
    assert.equal(cmd.kind, 'daemon');
    assert.ok(cmd.kind === 'daemon' && !cmd.detach);
    assert.equal(cmd.kind === 'daemon' ? cmd.config : '', '/etc/conntrackd/conntrackd.conf');
  });

  test("ExecStart and bin/keepstated.js's #! line start node with the daemon's flags (src/daemon/node-flags.ts)", () => {
    const argv = service.get('ExecStart')![0]!.split(/\s+/);
    const script = argv.findIndex((a) => a.endsWith('/bin/keepstated.js'));
    assert.deepEqual(argv.slice(1, script), DAEMON_NODE_FLAGS);
    const shebang = readFileSync(BIN, 'utf8').split('\n')[0]!;
    const m = /^#!\/usr\/bin\/env -S node((?: \S+)*)$/.exec(shebang);
    assert.ok(m !== null, shebang);
    assert.deepEqual(m[1]!.trim().split(' '), DAEMON_NODE_FLAGS);
    // The flags do what the #! line is for: node takes them (an unknown flag would exit 9).
    const r = spawnSync(BIN, ['-v'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /keepstated/);
  });

  test('systemd-analyze verify finds nothing to say', { skip: verifySkip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-unit-'));
    try {
      copyFileSync(UNIT, join(dir, 'keepstated.service'));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, 'keepstated.service')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', 'no warnings');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the logrotate snippet sends SIGHUP to the main process after the rename', () => {
    const rot = readFileSync(LOGROTATE, 'utf8');
    assert.match(rot, /postrotate\n\s+systemctl kill --kill-whom=main --signal=HUP keepstated\.service/);
    assert.doesNotMatch(rot, /copytruncate/, 'the file is renamed, not copied');
  });
});
