// keepstated as a service, next to the real conntrackd 1.4.7 in the same namespace: systemd's
// notification protocol (a real AF_UNIX datagram socket bound here, NOTIFY_SOCKET pointing at it),
// log rotation on SIGHUP, clean shutdown on SIGTERM/SIGINT, and the exit statuses of both programs
// for the same command lines.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { decodeNotifyMessage } from '../../src/daemon/sd-notify.js';
import { AF, NativeSocket, SOCK, unixSockaddr } from '../../src/native/socket.js';
import { until } from '../helpers/until.js';
import { DAEMON_NODE_FLAGS } from '../../src/daemon/node-flags.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');
const BIN = new URL('../../../bin/keepstated.js', import.meta.url).pathname;
// The daemon this test was compiled with (bin/keepstated.js always loads dist/).
const MAIN = new URL('../../src/daemon/main.js', import.meta.url).href;

const exited = (c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  c.exitCode !== null || c.signalCode !== null ? Promise.resolve({ code: c.exitCode, signal: c.signalCode }) : new Promise((r) => c.once('exit', (code, signal) => r({ code, signal })));

/** shape collapses runs of the same message (WATCHDOG=1 pings) into one. */
const shape = (msgs: readonly string[]): string[] => msgs.filter((m, i) => i === 0 || m !== msgs[i - 1]);

type Prog = 'keepstated' | 'conntrackd';

describe('keepstated as a service: systemd notifications, SIGHUP, SIGTERM, exit statuses — beside conntrackd 1.4.7', { skip, timeout: 180_000 }, () => {
  let ns: Netns;
  let dir: string;
  let launcher: string;
  let notify: NativeSocket;
  const children: ChildProcess[] = [];

  /** drain returns the notifications queued on the test's socket, one string per datagram. */
  const drain = (from: NativeSocket = notify): string[] => {
    const out: string[] = [];
    for (let d = from.recvSync(4096); d !== null; d = from.recvSync(4096))
      out.push(
        decodeNotifyMessage(d)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n'),
      );
    return out;
  };

  /** setup writes a config for `prog` in a fresh directory (UDP link on lo, nobody at the other end). */
  function setup(name: string, general = ''): { conf: string; d: string } {
    const d = join(dir, name);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d);
    const conf = join(d, 'conf');
    writeFileSync(conf, syncConf(d, { kind: 'udp', self: '127.0.0.1', peer: '127.0.0.2', device: 'lo' }).replace('General {\n', `General {\n${general}`));
    return { conf, d };
  }
  const cmd = (prog: Prog): string[] => (prog === 'keepstated' ? [process.execPath, launcher] : ['conntrackd']);
  /** run runs `prog args` in the namespace to its end. */
  const run = (prog: Prog, args: readonly string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } =>
    spawnSync('ip', ['netns', 'exec', ns.name, ...cmd(prog), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  /** start runs `prog -C conf` in the foreground (console mode) until its control socket answers. */
  async function start(prog: Prog, conf: string, env: Record<string, string> = {}): Promise<ChildProcess> {
    const [file, ...pre] = cmd(prog);
    const child = ns.spawn(file!, [...pre, '-C', conf], { stdio: 'ignore', env: { ...process.env, ...env } });
    children.push(child);
    await until(`${prog}’s control socket`, () => run(prog, ['-C', conf, '-s']).status === 0);
    return child;
  }

  before(() => {
    ns = Netns.create('ops');
    dir = mkdtempSync(join(tmpdir(), 'ks-ops-'));
    launcher = join(dir, 'keepstated.mjs');
    const bin = readFileSync(BIN, 'utf8');
    assert.ok(bin.includes("'../dist/src/daemon/main.js'"), 'bin/keepstated.js loads dist/src/daemon/main.js');
    writeFileSync(launcher, bin.replace("'../dist/src/daemon/main.js'", JSON.stringify(MAIN)));
    notify = NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
    notify.bind(unixSockaddr(join(dir, 'notify')));
  });

  after(async () => {
    for (const c of children)
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await exited(c);
      }
    notify?.close();
    ns?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const prog of ['keepstated', 'conntrackd'] as const)
    it(`${prog} in the foreground (Type=notify): READY=1 when its control socket answers, WATCHDOG=1 at half WATCHDOG_USEC, STOPPING=1 on SIGTERM; exit 0, socket and lock gone`, async () => {
      const { conf, d } = setup(`fg-${prog}`);
      drain();
      const env = { NOTIFY_SOCKET: join(dir, 'notify'), WATCHDOG_USEC: '200000' };
      const [file, ...pre] = cmd(prog);
      const child = ns.spawn(file!, [...pre, '-C', conf], { stdio: 'ignore', env: { ...process.env, ...env } });
      children.push(child);
      const got: string[] = [];
      await until('READY=1', () => (got.push(...drain()), got.includes('READY=1')));
      assert.equal(run(prog, ['-C', conf, '-s']).status, 0, 'READY=1 means the control socket answers');
      await until('two watchdog pings', () => (got.push(...drain()), got.filter((m) => m === 'WATCHDOG=1').length >= 2));
      child.kill('SIGTERM');
      assert.deepEqual(await exited(child), { code: 0, signal: null });
      got.push(...drain());
      assert.deepEqual(shape(got), ['READY=1', 'WATCHDOG=1', 'STOPPING=1']);
      assert.equal(existsSync(join(d, 'ctl')), false, 'control socket removed');
      assert.equal(existsSync(join(d, 'lock')), false, 'lock file removed');
      assert.match(readFileSync(join(d, 'log'), 'utf8'), /\[notice\] ---- shutdown received ----\n$/);
    });

  for (const prog of ['keepstated', 'conntrackd'] as const)
    it(`${prog} -d: the parent sends MAINPID=<daemon pid> before it returns, the daemon READY=1 and its watchdog pings`, async () => {
      const { conf, d } = setup(`d-${prog}`);
      // A socket of its own: a daemon of an earlier test may still ping the shared one.
      const own = NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
      own.bind(unixSockaddr(join(dir, `notify-d-${prog}`)));
      const mine = (): string[] => drain(own);
      const r = run(prog, ['-C', conf, '-d'], { NOTIFY_SOCKET: join(dir, `notify-d-${prog}`), WATCHDOG_USEC: '200000' });
      assert.equal(r.status, 0, r.stderr);
      const got: string[] = [];
      await until('READY=1 and a ping', () => (got.push(...mine()), got.includes('READY=1') && got.includes('WATCHDOG=1')));
      const mainpid = /^MAINPID=(\d+)$/.exec(got[0] ?? '');
      assert.ok(mainpid !== null, `first message is MAINPID: ${JSON.stringify(got)}`);
      assert.deepEqual(shape(got.slice(1)), ['READY=1', 'WATCHDOG=1']);
      const pid = Number(mainpid[1]);
      const log = readFileSync(join(d, 'log'), 'utf8');
      assert.match(log, new RegExp(`\\(pid=${pid}\\) \\[notice\\] -- starting in daemon mode --`), 'MAINPID is the daemon’s pid');
      if (prog === 'keepstated') {
        // The detached daemon runs node with the daemon's flags, whatever its parent ran with.
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        for (const f of DAEMON_NODE_FLAGS) assert.ok(argv.includes(f), `node ${f} for the daemon: ${argv.join(' ')}`);
        assert.doesNotMatch(log, /node runs without/);
      }
      assert.equal(run(prog, ['-C', conf, '-k']).status, 0);
      await until('the daemon gone', () => !existsSync(join(d, 'lock')));
      got.push(...mine());
      own.close();
      assert.equal(got.at(-1), 'STOPPING=1');
    });

  for (const prog of ['keepstated', 'conntrackd'] as const)
    it(`${prog} with Systemd off sends nothing; SIGINT is a clean shutdown too`, async () => {
      const { conf, d } = setup(`off-${prog}`, '  Systemd off\n');
      drain();
      const child = await start(prog, conf, { NOTIFY_SOCKET: join(dir, 'notify'), WATCHDOG_USEC: '200000' });
      child.kill('SIGINT');
      assert.deepEqual(await exited(child), { code: 0, signal: null });
      assert.deepEqual(drain(), []);
      assert.equal(existsSync(join(d, 'ctl')), false);
      assert.equal(existsSync(join(d, 'lock')), false);
    });

  it('log rotation: after a rename, SIGHUP makes keepstated log to a new file at LogFile and it keeps running (conntrackd 1.4.7 is killed by SIGHUP, its lock file left behind)', async () => {
    const { conf, d } = setup('hup-keepstated');
    const child = await start('keepstated', conf);
    renameSync(join(d, 'log'), join(d, 'log.1'));
    const rotated = readFileSync(join(d, 'log.1'), 'utf8');
    process.kill(child.pid!, 'SIGHUP');
    await until('the new log file', () => existsSync(join(d, 'log')) && readFileSync(join(d, 'log'), 'utf8').includes('SIGHUP received'));
    assert.equal(run('keepstated', ['-C', conf, '-s']).status, 0, 'still running');
    child.kill('SIGTERM');
    assert.deepEqual(await exited(child), { code: 0, signal: null });
    const fresh = readFileSync(join(d, 'log'), 'utf8');
    assert.match(fresh, new RegExp(`^\\[[^\\]]+\\] \\(pid=${child.pid}\\) \\[notice\\] SIGHUP received: log file reopened\\n`), fresh);
    assert.match(fresh, /---- shutdown received ----\n$/);
    assert.equal(readFileSync(join(d, 'log.1'), 'utf8'), rotated, 'nothing more went to the renamed file');

    const c = setup('hup-conntrackd');
    const ctd = await start('conntrackd', c.conf);
    process.kill(ctd.pid!, 'SIGHUP');
    assert.deepEqual(await exited(ctd), { code: null, signal: 'SIGHUP' });
    assert.equal(existsSync(join(c.d, 'lock')), true, 'conntrackd had no chance to remove its lock');
  });

  it('exit statuses: keepstated’s are conntrackd’s for the same command lines', () => {
    const { conf, d } = setup('exit');
    const bad = join(d, 'bad.conf');
    writeFileSync(bad, 'General {\n  HashSize\n');
    const noSocketDir = join(d, 'nosuchdir', 'ctl');
    const unixFails = join(d, 'unix-fails.conf');
    writeFileSync(unixFails, readFileSync(conf, 'utf8').replace(`Path ${d}/ctl`, `Path ${noSocketDir}`));
    const logFails = join(d, 'log-fails.conf');
    writeFileSync(logFails, readFileSync(conf, 'utf8').replace(`LogFile ${d}/log`, `LogFile ${d}/nosuchdir/log`));
    const cases: { what: string; args: string[]; status: number; lockBefore?: boolean; lockAfter?: boolean }[] = [
      { what: '-v', args: ['-v'], status: 0 },
      { what: '-h', args: ['-h'], status: 0 },
      { what: 'unknown option (1.4.7: usage, error, status 0)', args: ['-z'], status: 0 },
      { what: 'daemon and client options together', args: ['-d', '-s'], status: 1 },
      { what: 'bad -f sub-argument', args: ['-f', 'bogus'], status: 1 },
      { what: 'config file missing', args: ['-C', join(d, 'missing.conf')], status: 1 },
      { what: 'config file with a syntax error', args: ['-C', bad], status: 1 },
      { what: 'client request, no daemon running', args: ['-C', conf, '-s'], status: 1 },
      { what: 'lock file exists (left in place)', args: ['-C', conf], status: 1, lockBefore: true, lockAfter: true },
      { what: '-d, lock file exists', args: ['-C', conf, '-d'], status: 1, lockBefore: true, lockAfter: true },
      { what: 'LogFile cannot be opened', args: ['-C', logFails], status: 1, lockAfter: false },
      { what: '-d, LogFile cannot be opened', args: ['-C', logFails, '-d'], status: 1, lockAfter: false },
      { what: 'control socket cannot be created (lock removed)', args: ['-C', unixFails], status: 1, lockAfter: false },
    ];
    for (const c of cases)
      for (const prog of ['conntrackd', 'keepstated'] as const) {
        rmSync(join(d, 'lock'), { force: true });
        if (c.lockBefore === true) writeFileSync(join(d, 'lock'), '');
        const r = run(prog, c.args);
        assert.equal(r.status, c.status, `${prog}: ${c.what}\n${r.stdout}${r.stderr}`);
        if (c.lockAfter !== undefined) assert.equal(existsSync(join(d, 'lock')), c.lockAfter, `${prog}: ${c.what}: lock file`);
        assert.equal(existsSync(join(d, 'ctl')), false, `${prog}: ${c.what}: nothing left running`);
      }
  });
});
