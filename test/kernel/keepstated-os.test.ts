// keepstated's Scheduler, Nice and Syslog settings as the kernel sees them (/proc/<pid>/task/*/stat)
// and as a syslog daemon receives them (an AF_UNIX datagram socket bound by this test), next to a
// real conntrackd 1.4.7 given the same General section.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Conntrackd, syncConf, type SyncLinkSpec } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { decodeSyslogMessage, type SyslogRecord } from '../../src/daemon/syslog.js';
import { AF, NativeSocket, SOCK, unixSockaddr } from '../../src/native/socket.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');
const BIN = new URL('../../../bin/keepstated.js', import.meta.url).pathname;
const SCHED_RR = 2;

const LINK_A: SyncLinkSpec = { kind: 'udp', self: '10.237.0.1', peer: '10.237.0.2', device: 'sync0' };
const LINK_B: SyncLinkSpec = { kind: 'udp', self: '10.237.0.2', peer: '10.237.0.1', device: 'sync0' };

/** withGeneral adds `lines` at the top of syncConf's General section. */
const withGeneral = (conf: string, lines: string): string => conf.replace('General {\n', `General {\n${lines}\n`);

/** ThreadSched is what /proc says about one thread: nice (field 19), rt_priority (40), policy (41). */
interface ThreadSched {
  readonly nice: number;
  readonly rtPriority: number;
  readonly policy: number;
}

function threadsOf(pid: number): ThreadSched[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { nice: Number(f[16]), rtPriority: Number(f[37]), policy: Number(f[38]) };
  });
}



describe('keepstated applies Scheduler and Syslog, and ignores Nice, as conntrackd 1.4.7', { skip, timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let syslogSock: NativeSocket;
  const received: SyslogRecord[] = [];
  const confs: string[] = [];
  const children: ChildProcess[] = [];

  const drain = (): void => {
    for (let d = syslogSock.recvSync(65536); d !== null; d = syslogSock.recvSync(65536)) received.push(decodeSyslogMessage(d));
  };
  const ks = (conf: string, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } =>
    spawnSync('ip', ['netns', 'exec', a.name, process.execPath, BIN, '-C', conf, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

  /** startConntrackd runs the real conntrackd in b (foreground child) with `general` lines added, until its socket answers. */
  async function startConntrackd(name: string, general: string): Promise<ChildProcess> {
    const cdir = join(dir, name);
    rmSync(cdir, { recursive: true, force: true });
    const conf = join(dir, `${name}.conf`);
    spawnSync('mkdir', ['-p', cdir]);
    writeFileSync(conf, withGeneral(syncConf(cdir, LINK_B), general));
    const child = b.spawn('conntrackd', ['-C', conf], { stdio: 'ignore' });
    children.push(child);
    await until('conntrackd’s control socket', () => b.run('conntrackd', ['-C', conf, '-s']).status === 0);
    return child;
  }
  async function stopChild(c: ChildProcess): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }

  before(() => {
    a = Netns.create('osa');
    b = Netns.create('osb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.237.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.237.0.2/24' });
    for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    dir = mkdtempSync(join(tmpdir(), 'ks-os-'));
    syslogSock = NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
    syslogSock.bind(unixSockaddr(join(dir, 'syslog.sock')));
  });

  after(async () => {
    for (const conf of confs) ks(conf, ['-k']);
    for (const c of children) await stopChild(c);
    syslogSock?.close();
    a?.close();
    b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Scheduler RR 10 on every thread, Nice -5 ignored, every log line also in syslog at local3 — conntrackd shows the same policy and nice', async () => {
    const general = '  Nice -5\n  Scheduler {\n    Type RR\n    Priority 10\n  }\n  Syslog local3';
    const conf = join(dir, 'ks.conf');
    writeFileSync(conf, withGeneral(syncConf(dir, LINK_A), general));
    confs.push(conf);
    const r = ks(conf, ['-d'], { KEEPSTATED_SYSLOG_SOCKET: join(dir, 'syslog.sock') });
    assert.equal(r.status, 0, r.stderr);
    await until('"initialization completed" in syslog', () => {
      drain();
      return received.some((m) => m.message === 'initialization completed');
    });
    const pid = received[0]!.pid;
    for (const m of received) {
      assert.equal(m.facility, 19, `local3: ${m.message}`);
      assert.equal(m.ident, 'keepstated');
      assert.equal(m.pid, pid, 'LOG_PID: the daemon’s pid');
    }
    const nice = received.find((m) => m.message.includes('Nice is deprecated and ignored'));
    assert.ok(nice !== undefined, 'the Nice warning went to syslog');
    assert.equal(nice.severity, 4);
    assert.match(nice.message, /ks\.conf:2:3: /);
    assert.equal(received.find((m) => m.message === '-- starting in daemon mode --')?.severity, 5);
    assert.ok(!received.some((m) => m.message.startsWith('scheduler')), 'no scheduler warning: it was applied');

    const log = readFileSync(join(dir, 'log'), 'utf8');
    assert.match(log, new RegExp(`\\(pid=${pid}\\) \\[warning\\] .*Nice is deprecated and ignored`), 'the same lines in LogFile, same pid');
    assert.doesNotMatch(log, /not applied/);

    const ours = threadsOf(pid);
    assert.ok(ours.length > 1, 'node has helper threads');
    for (const t of ours) assert.deepEqual(t, { nice: 0, rtPriority: 10, policy: SCHED_RR });

    const ctd = await startConntrackd('ctd1', general);
    assert.deepEqual(threadsOf(ctd.pid!), [{ nice: 0, rtPriority: 10, policy: SCHED_RR }], 'conntrackd: same policy, and Nice ignored too');
    await stopChild(ctd);

    assert.equal(ks(conf, ['-k']).status, 0);
    await until('"---- shutdown received ----" in syslog', () => {
      drain();
      return received.some((m) => m.message === '---- shutdown received ----');
    });
    await until('the lock file removed', () => !existsSync(join(dir, 'lock')));
  });

  it('no Scheduler: RR at 99, as conntrackd; Syslog on without a syslog daemon: the daemon runs, one warning, a count at shutdown', async () => {
    const kdir = join(dir, 'k2');
    spawnSync('mkdir', ['-p', kdir]);
    const conf = join(dir, 'ks2.conf');
    writeFileSync(conf, withGeneral(syncConf(kdir, LINK_A), '  Syslog on'));
    confs.push(conf);
    const before = received.length;
    const child = a.spawn(process.execPath, [BIN, '-C', conf], { stdio: 'ignore', env: { ...process.env, KEEPSTATED_SYSLOG_SOCKET: join(dir, 'nobody-listens') } });
    children.push(child);
    await until('keepstated’s control socket', () => ks(conf, ['-s']).status === 0);
    for (const t of threadsOf(child.pid!)) assert.deepEqual(t, { nice: 0, rtPriority: 99, policy: SCHED_RR });
    const ctd = await startConntrackd('ctd2', '  Syslog on');
    assert.deepEqual(threadsOf(ctd.pid!), [{ nice: 0, rtPriority: 99, policy: SCHED_RR }]);
    await stopChild(ctd);

    assert.equal(ks(conf, ['-k']).status, 0);
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    assert.equal(child.exitCode, 0);
    const log = readFileSync(join(kdir, 'log'), 'utf8');
    assert.equal(log.match(/\[warning\] syslog: can't send to .*nobody-listens \(ENOENT: no syslog daemon listening\)/g)?.length, 1, log);
    assert.match(log, /\[notice\] syslog: (\d+) of \1 lines could not be sent to .*nobody-listens \(last error ENOENT\)\n$/);
    drain();
    assert.equal(received.length, before, 'nothing reached the other socket');
  });
});
