// Whom notify and track scripts run as (keepalived's script_user): the decision as a pure unit
// over a table of accounts, then a real notify script run as `nobody` through the host's getent.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Notifier } from '../../src/failover/notify.js';
import { hostAccounts, insecurePath, parseAccountLine, ScriptUsers, type Accounts, type FileMode } from '../../src/failover/script-user.js';
import { until } from '../helpers/until.js';

const loc = { file: '/etc/keepalived/keepalived.conf', line: 12, col: 3 };

function table(users: Record<string, [number, number]>, groups: Record<string, number>): Accounts {
  return { user: (n) => (users[n] !== undefined ? { uid: users[n][0], gid: users[n][1] } : undefined), group: (n) => groups[n] };
}

describe('parseAccountLine', () => {
  it('reads passwd and group lines, and nothing else', () => {
    assert.deepEqual(parseAccountLine('nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'), { name: 'nobody', id: 65534, gid: 65534 });
    assert.deepEqual(parseAccountLine('nogroup:x:65534:'), { name: 'nogroup', id: 65534 });
    assert.deepEqual(parseAccountLine('adm:x:4:syslog,alice'), { name: 'adm', id: 4 });
    assert.equal(parseAccountLine(''), undefined);
    assert.equal(parseAccountLine('broken:x:notanumber:1'), undefined);
  });
});

describe('ScriptUsers', () => {
  const accounts = table({ ops: [1001, 1001], keepalived_script: [990, 990] }, { wheel: 10 });

  it('a script’s own user and group win over script_user; a missing group is the user’s primary one', () => {
    const u = new ScriptUsers({ scriptUser: { user: 'ops' } }, accounts, () => undefined, true);
    assert.deepEqual(u.runAs({ user: 'keepalived_script', group: 'wheel', loc }, 'x'), { uid: 990, gid: 10 });
    assert.deepEqual(u.runAs({ loc }, 'x'), { uid: 1001, gid: 1001 });
  });

  it('without script_user: keepalived_script when it exists, else root with keepalived’s warning', () => {
    assert.deepEqual(new ScriptUsers({}, accounts, () => undefined, true).runAs({ loc }, 'x'), { uid: 990, gid: 990 });
    const logs: string[] = [];
    const u = new ScriptUsers({}, table({}, {}), (l, m) => logs.push(`${l}: ${m}`), true);
    u.warnDefault(true);
    assert.deepEqual(u.runAs({ loc }, 'x'), {}, 'root: no uid change');
    assert.deepEqual(logs, ["warning: default user 'keepalived_script' for script execution does not exist - please create (scripts run as root)"]);
  });

  it('a user or group that does not exist: the script does not run, said once with its position', () => {
    const logs: string[] = [];
    const u = new ScriptUsers({ scriptUser: { user: 'ghost' } }, accounts, (l, m) => logs.push(`${l}: ${m}`), true);
    assert.equal(u.runAs({ loc }, 'notify script /x'), undefined);
    assert.equal(u.runAs({ loc }, 'notify script /x'), undefined);
    assert.equal(u.runAs({ user: 'ops', group: 'nogroup-here', loc }, 'track script chk'), undefined);
    assert.deepEqual(logs, [
      "error: /etc/keepalived/keepalived.conf:12:3: notify script /x: user 'ghost' does not exist (script_user): not run",
      "error: /etc/keepalived/keepalived.conf:12:3: track script chk: group 'nogroup-here' does not exist: not run",
    ]);
  });

  it('not root: scripts run as this process (setuid would fail)', () => {
    assert.deepEqual(new ScriptUsers({ scriptUser: { user: 'ops' } }, accounts, () => undefined, false).runAs({ loc }, 'x'), {});
  });
});

describe('enable_script_security (insecurePath)', () => {
  const fs: Record<string, FileMode> = {
    '/': { uid: 0, mode: 0o40755 },
    '/usr': { uid: 0, mode: 0o40755 },
    '/usr/bin': { uid: 0, mode: 0o40755 },
    '/usr/bin/notify': { uid: 0, mode: 0o100755 },
    '/tmp': { uid: 0, mode: 0o41777 },
    '/tmp/ok': { uid: 0, mode: 0o100700 },
    '/srv': { uid: 0, mode: 0o40775 },
    '/srv/run': { uid: 0, mode: 0o100755 },
    '/home': { uid: 0, mode: 0o40755 },
    '/home/alice': { uid: 1000, mode: 0o40755 },
    '/home/alice/run': { uid: 0, mode: 0o100755 },
    '/usr/bin/open': { uid: 0, mode: 0o100757 },
  };
  const check = (cmd: string): string | undefined => insecurePath(cmd, (p) => fs[p], (c) => (fs[`/usr/bin/${c}`] !== undefined ? `/usr/bin/${c}` : undefined));

  it('accepts root’s files in root’s directories, and sticky directories such as /tmp; finds bare names on PATH', () => {
    assert.equal(check('/usr/bin/notify'), undefined);
    assert.equal(check('notify'), undefined);
    assert.equal(check('/tmp/ok'), undefined);
  });

  it('refuses what someone else could change, saying what', () => {
    assert.equal(check('/srv/run'), '/srv is writable by others than root');
    assert.equal(check('/home/alice/run'), '/home/alice does not belong to root');
    assert.equal(check('/usr/bin/open'), '/usr/bin/open is writable by others than root');
    assert.equal(check('/usr/bin/none'), '/usr/bin/none does not exist');
    assert.equal(check('none'), 'none is not found');
  });

  it('ScriptUsers applies it to scripts run as root only', () => {
    const logs: string[] = [];
    const accounts = table({ ops: [1001, 1001] }, {});
    const u = new ScriptUsers({}, accounts, (l, m) => logs.push(m), true, check);
    assert.equal(u.runAs({ argv: ['/srv/run', 'x'], loc }, 'notify script /srv/run'), undefined);
    assert.deepEqual(u.runAs({ argv: ['/srv/run'], user: 'ops', loc }, 'notify script /srv/run'), { uid: 1001, gid: 1001 }, 'as ops it may run');
    assert.deepEqual(logs, ['/etc/keepalived/keepalived.conf:12:3: notify script /srv/run: enable_script_security: /srv is writable by others than root: not run']);
  });
});

const nobody = hostAccounts().user('nobody');
const skip = process.getuid?.() !== 0 ? 'needs root (setuid)' : nobody === undefined ? 'no user nobody on this host' : undefined;

describe('a notify script under script_user', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-script-user-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs as that user, found through getent', async () => {
    chmodSync(dir, 0o777); // nobody writes its answer here
    const out = join(dir, 'id.out');
    const u = new ScriptUsers({ scriptUser: { user: 'nobody' } }, hostAccounts(), () => undefined);
    const n = new Notifier(() => undefined, [], u);
    n.notify('INSTANCE', 'VI_1', { master: { argv: ['/bin/sh', '-c', `echo "$(id -u) $(id -g)" > '${out}'`], loc } }, 'MASTER', 100);
    await until('the script ran', () => existsSync(out) && readFileSync(out, 'utf8').endsWith('\n'), 10_000);
    assert.equal(readFileSync(out, 'utf8').trim(), `${nobody!.uid} ${nobody!.gid}`);
  });
});
