// The control interface against the real conntrackd 1.4.7, in a network namespace made here, with
// its config, UNIX socket and lock file in a temporary directory:
// - conntrackd's own client talks to keepstate's ControlServer: for every command line of
//   test/control/args-rows.ts it must send the request code parseDaemonArgs computes (every code
//   conntrackd has an option for), print the same usage and messages, and exit with the same status;
// - keepstate's client talks to a real conntrackd daemon and gets exactly what conntrackd's own
//   client prints, for every stats view and dump of an idle NOTRACK daemon, then stops it with -k.
import assert from 'node:assert/strict';
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CANT_CONNECT, controlRequest, NO_JSON, runControlRequest } from '../../src/control/client.js';
import { CTL, isCtlCode } from '../../src/control/codes.js';
import { ControlServer, type ControlConn } from '../../src/control/server.js';
import { formatUsage, formatVersion, parseDaemonArgs, type DaemonCommand } from '../../src/daemon/args.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { ARG_ROWS, normalizeUsage } from '../control/args-rows.js';

function conntrackdSkipReason(): string | undefined {
  const r = rootSkipReason();
  if (r !== undefined) return r;
  // The package version, so that conntrackd itself only ever runs in namespaces this test made.
  const probe = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'conntrackd'], { encoding: 'utf8' });
  if (probe.status !== 0 || !/^(\d+:)?1\.4\.7\b/.test(probe.stdout)) return 'conntrackd 1.4.7 is not installed (Debian package conntrackd)';
  return undefined;
}
const skip = conntrackdSkipReason();

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** conntrackdIn runs conntrackd in the namespace without blocking the event loop (our server answers it); killed after 10 s. */
function conntrackdIn(ns: Netns, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    // A fixed environment: conntrackd reads argv[i][1] even of an empty argument, which for the
    // last one is the first character of the environment ('P' of PATH: an unknown option).
    const env = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
    execFile('ip', ['netns', 'exec', ns.name, 'conntrackd', ...args], { timeout: 10_000, killSignal: 'SIGKILL', encoding: 'utf8', env }, (err, stdout, stderr) => {
      const status = err === null ? 0 : typeof err.code === 'number' ? err.code : 255;
      resolve({ status, stdout, stderr });
    });
  });
}

/** logLines turns conntrackd's stderr into "[level] message" lines (time and pid dropped). */
function logLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/^\[[^\]]+\] \(pid=\d+\) /, ''));
}

function conf(dir: string, node: string, mode: string): string {
  const file = join(dir, `${node}.conf`);
  writeFileSync(
    file,
    `Sync {
	Mode ${mode} {
	}
	UDP {
		IPv4_address 127.0.0.1
		IPv4_Destination_Address 127.0.0.2
		Port 3795
		Interface lo
	}
}
General {
	LogFile off
	Syslog off
	LockFile ${join(dir, `${node}.lock`)}
	UNIX {
		Path ${join(dir, `${node}.ctl`)}
	}
}
`,
  );
  return file;
}

describe("conntrackd's client against keepstate's control server", { skip }, () => {
  let ns: Netns;
  let dir: string;
  let file: string;
  let server: ControlServer;
  const received: number[] = [];
  before(async () => {
    ns = Netns.create('ctlargs');
    dir = mkdtempSync(join(tmpdir(), 'ks-ctlargs-'));
    file = conf(dir, 'x', 'NOTRACK');
    server = await ControlServer.listen({
      path: join(dir, 'x.ctl'),
      handler: {
        handle(code: number, _conn: ControlConn): Promise<string> {
          received.push(code);
          return Promise.resolve(`request ${code}\n`);
        },
      },
    });
  });
  after(async () => {
    await server?.close();
    ns?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  for (const [what, argv] of ARG_ROWS) {
    it(what, async () => {
      const args = ['-C', file, ...argv.map((a) => (a === '/tmp/x.conf' ? file : a))];
      const ours: DaemonCommand = parseDaemonArgs(args);
      assert.notEqual(ours.kind, 'daemon', 'rows never start a daemon');
      const before = received.length;
      const unknownBefore = server.stats.unknownCode;
      const theirs = await conntrackdIn(ns, args);
      const notices = ours.notices.map((n) => `[${n.level === 'error' ? 'ERROR' : 'warning'}] ${n.message}`);
      switch (ours.kind) {
        case 'request': {
          assert.equal(theirs.status, 0, theirs.stderr);
          assert.deepEqual(logLines(theirs.stderr), notices);
          if (isCtlCode(ours.code)) {
            assert.deepEqual(received.slice(before), [ours.code], 'the code conntrackd sent');
            assert.equal(theirs.stdout, `request ${ours.code}\n`);
          } else {
            assert.equal(received.length, before, 'an undefined code never reaches the handler');
            assert.equal(server.stats.unknownCode, unknownBefore + 1, `conntrackd sent the undefined code ${ours.code}`);
            assert.equal(theirs.stdout, '');
          }
          break;
        }
        case 'error':
          assert.equal(theirs.status, ours.status);
          assert.equal(theirs.stdout, ours.usageOnStdout ? normalizeUsage(formatUsage('conntrackd')) : '');
          assert.deepEqual(logLines(theirs.stderr), [...notices, `[ERROR] ${ours.message}`]);
          assert.equal(received.length, before);
          break;
        case 'help':
          assert.equal(theirs.status, 0);
          assert.equal(theirs.stdout, normalizeUsage(formatUsage('conntrackd')));
          assert.deepEqual(logLines(theirs.stderr), notices);
          break;
        case 'version':
          assert.equal(theirs.status, 0);
          assert.equal(theirs.stdout.split('\n')[0], formatVersion().split('\n')[0]!.replace(/ \(keepstated [^)]*\)/, ''));
          assert.deepEqual(logLines(theirs.stderr), notices);
          break;
      }
    });
  }

  it('a request with no server: the same message and exit status as keepstate', async () => {
    const other = conf(dir, 'none', 'NOTRACK');
    const theirs = await conntrackdIn(ns, ['-C', other, '-s']);
    assert.equal(theirs.status, 1);
    assert.deepEqual(logLines(theirs.stderr), [`[ERROR] ${CANT_CONNECT}`]);
    assert.deepEqual(await runControlRequest(join(dir, 'none.ctl'), CTL.STATS, false, () => {}), { status: 1, message: CANT_CONNECT });
  });
});

describe("keepstate's client against a real conntrackd", { skip }, () => {
  let ns: Netns;
  let dir: string;
  let file: string;
  let path: string;
  let daemon: ChildProcess | undefined;
  before(async () => {
    ns = Netns.create('ctlclient');
    dir = mkdtempSync(join(tmpdir(), 'ks-ctlclient-'));
    file = conf(dir, 'd', 'NOTRACK');
    path = join(dir, 'd.ctl');
    daemon = ns.spawn('conntrackd', ['-C', file]);
    daemon.stdout?.resume();
    daemon.stderr?.resume();
    const start = Date.now();
    while (!existsSync(path)) {
      if (Date.now() - start > 10_000 || daemon.exitCode !== null) throw new Error('conntrackd did not create its control socket');
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  after(async () => {
    if (daemon?.pid !== undefined && daemon.exitCode === null) {
      const gone = new Promise((r) => daemon!.once('exit', r));
      process.kill(daemon.pid, 'SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    }
    ns?.close(); // SIGKILLs what is left
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const VIEWS: readonly (readonly [string, number])[] = [
    ['-s', CTL.STATS],
    ['-s network', CTL.STATS_NETWORK],
    ['-s cache', CTL.STATS_CACHE],
    ['-s runtime', CTL.STATS_RUNTIME],
    ['-s link', CTL.STATS_LINK],
    ['-s rsqueue', CTL.STATS_RSQUEUE],
    ['-s queue', CTL.STATS_QUEUE],
    ['-s process', CTL.STATS_PROCESS],
    ['-s expect', CTL.EXP_STATS],
    ['-i', CTL.CT_DUMP_INTERNAL],
    ['-e', CTL.CT_DUMP_EXTERNAL],
    ['-i -x', CTL.CT_DUMP_INT_XML],
  ];
  for (const [cmd, code] of VIEWS) {
    it(`${cmd}: the same bytes as conntrackd's own client`, async () => {
      const theirs = await conntrackdIn(ns, ['-C', file, ...cmd.split(' ')]);
      assert.equal(theirs.status, 0, theirs.stderr);
      const ours = await controlRequest(path, code);
      assert.equal(ours.toString(), theirs.stdout);
    });
  }

  it('conntrackd answers a --json request with nothing: the client says so', async () => {
    assert.deepEqual(await runControlRequest(path, CTL.STATS, true, () => {}), { status: 1, message: NO_JSON });
  });

  it('-k stops it; then requests cannot connect', async () => {
    assert.ok(daemon !== undefined);
    const exited = new Promise((r) => daemon!.once('exit', r));
    assert.deepEqual(await runControlRequest(path, CTL.KILL, false, () => {}), { status: 0 });
    await exited;
    assert.deepEqual(await runControlRequest(path, CTL.STATS, false, () => {}), { status: 1, message: CANT_CONNECT });
    assert.equal(existsSync(path), false, 'conntrackd removed its socket');
  });
});
