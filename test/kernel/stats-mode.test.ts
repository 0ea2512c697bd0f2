// Stats mode (a Stats section instead of Sync) on real flows: keepstated and conntrackd 1.4.7 run
// side by side in one namespace; both log each destroyed flow to their stats LogFile, and their
// logs, `-s`, `-s cache` and `-i` must be the same text (dates and "active since" aside).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Conntrackd } from '../../lab/conntrackd.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');
// The daemon this test was compiled with (bin/keepstated.js always loads dist/): bench/keepstated.ts runs main from the same tree.
const BIN = new URL('../../bench/keepstated.js', import.meta.url).pathname;

function statsConf(dir: string): string {
  return `General {
  HashSize 8192
  HashLimit 65535
  LogFile ${dir}/log
  LockFile ${dir}/lock
  UNIX { Path ${dir}/ctl }
}
Stats {
  LogFile ${dir}/stats.log
  Syslog off
}
`;
}

// Loopback traffic in the namespace: a TCP echo (connect, one round trip, close) and one UDP
// datagram each way, from fixed ports so that the flows are known.
const TRAFFIC = `
import net from 'node:net';
import dgram from 'node:dgram';
const srv = net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('end', () => s.end()); });
await new Promise((r) => srv.listen(8080, '127.0.0.1', r));
const c = net.connect({ port: 8080, host: '127.0.0.1', localPort: 41580 });
await new Promise((r) => c.once('connect', r));
c.write('hello');
await new Promise((r) => c.once('data', r));
c.end();
await new Promise((r) => c.once('close', r));
const us = dgram.createSocket('udp4');
await new Promise((r) => us.bind(5353, '127.0.0.1', r));
us.on('message', (m, ri) => us.send(m, ri.port, ri.address));
const u = dgram.createSocket('udp4');
await new Promise((r) => u.bind(41553, '127.0.0.1', r));
u.send('ping', 5353, '127.0.0.1');
await new Promise((r) => u.once('message', r));
u.close(); us.close(); srv.close();
`;

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split(/(?<=\n)/).filter((l) => l !== '') : []);
const DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}\t/;
const withoutDate = (l: string): string => l.replace(DATE, '<date>\t');
const sortedDump = (s: string): string[] => s.split('\n').filter((l) => l !== '').map((l) => l.replace(/\[active since \d+s\]/, '[active since Ns]').replace(/delta-time=\d+/, 'delta-time=N')).sort();

describe('keepstated in Stats mode, next to conntrackd 1.4.7', { skip, timeout: 120_000 }, () => {
  let ns: Netns;
  let ksDir: string, ctdDir: string;
  let ctd: ChildProcess | undefined;
  const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => ns.run(process.execPath, [BIN, '-C', join(ksDir, 'conntrackd.conf'), ...args]);
  const real = (...args: string[]): { status: number; stdout: string; stderr: string } => ns.run('conntrackd', ['-C', join(ctdDir, 'conntrackd.conf'), ...args]);
  const waitFor = async (what: string, ok: () => boolean): Promise<void> => {
    const end = Date.now() + 20_000; // hang guard
    while (!ok()) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    ns = Netns.create('kst');
    ns.exec('ip', ['link', 'set', 'lo', 'up']);
    ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    ns.sysctl('net.netfilter.nf_conntrack_acct', 1);
    ns.sysctl('net.netfilter.nf_conntrack_timestamp', 1);
    // A ct expression registers conntrack's hooks in the namespace: loopback traffic is tracked.
    ns.exec('nft', ['-f', '-'], 'table inet ks_stats {\n chain out {\n  type filter hook output priority 0;\n  ct state new counter\n }\n}\n');
    // A flow made before both daemons: they find it in their start-up dump.
    ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '10.9.0.1', '-d', '10.9.0.2', '--sport', '1000', '--dport', '2000', '-t', '300']);
    ksDir = mkdtempSync(join(tmpdir(), 'ks-st-'));
    ctdDir = mkdtempSync(join(tmpdir(), 'ks-stc-'));
    for (const d of [ksDir, ctdDir]) writeFileSync(join(d, 'conntrackd.conf'), statsConf(d));
    ctd = ns.spawn('conntrackd', ['-C', join(ctdDir, 'conntrackd.conf')], { stdio: 'ignore' });
    await waitFor('conntrackd to start', () => real('-s').status === 0);
    const r = ks('-d');
    assert.equal(r.status, 0, r.stderr);
  });

  after(async () => {
    ks('-k'); // in case a test failed before its own -k
    const c = ctd;
    if (c?.pid !== undefined && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    ns?.close();
    for (const d of [ksDir, ctdDir]) if (d !== undefined) rmSync(d, { recursive: true, force: true });
  });

  it('starts in Stats mode (no longer refused) and caches the kernel table (-i, -s) as conntrackd does', () => {
    assert.ok(existsSync(join(ksDir, 'stats.log')), 'the stats LogFile is created at start');
    assert.deepEqual(sortedDump(ks('-i').stdout), sortedDump(real('-i').stdout));
    assert.match(ks('-i').stdout, /^udp {6}17 src=10\.9\.0\.1 dst=10\.9\.0\.2 sport=1000 dport=2000 \[UNREPLIED\] .* mark=0 delta-time=\d+ \[active since \d+s\]$/m);
    assert.equal(ks('-s').stdout, real('-s').stdout);
  });

  it('logs each destroyed flow in conntrackd’s line format, with counters and delta-time, and counts them (-s)', async () => {
    ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '10.9.0.3', '-d', '10.9.0.4', '--sport', '1000', '--dport', '2000', '-t', '100', '-m', '7', '--zone', '3']);
    const t = ns.run(process.execPath, ['--input-type=module', '-e', TRAFFIC]);
    assert.equal(t.status, 0, t.stderr);
    // Both daemons have seen the flows (the cache dumps agree) before they are destroyed.
    await waitFor('both caches to hold the 4 flows', () => sortedDump(ks('-i').stdout).length === 4 && sortedDump(real('-i').stdout).length === 4);
    assert.deepEqual(sortedDump(ks('-i').stdout), sortedDump(real('-i').stdout));
    for (const args of [['-p', 'udp', '--dport', '5353'], ['-p', 'tcp', '--dport', '8080'], ['-p', 'udp', '-s', '10.9.0.3'], ['-p', 'udp', '-s', '10.9.0.1']]) ns.exec('conntrack', ['-D', ...args]);
    await waitFor('4 lines in both stats logs', () => lines(join(ksDir, 'stats.log')).length === 4 && lines(join(ctdDir, 'stats.log')).length === 4);
    const ours = lines(join(ksDir, 'stats.log'));
    const theirs = lines(join(ctdDir, 'stats.log'));
    for (const l of ours) assert.match(l, DATE);
    assert.deepEqual(ours.map(withoutDate), theirs.map(withoutDate));
    assert.match(ours.join(''), /\ttcp {6}6 TIME_WAIT src=127\.0\.0\.1 dst=127\.0\.0\.1 sport=41580 dport=8080 packets=\d+ bytes=\d+ src=127\.0\.0\.1 .* packets=\d+ bytes=\d+ \[ASSURED\] delta-time=\d+\n/);
    assert.match(ours.join(''), /\tudp {6}17 src=10\.9\.0\.3 .* mark=7 zone=3 delta-time=\d+\n/);
    const s = ks('-s').stdout;
    assert.equal(s, real('-s').stdout);
    assert.match(s, /connections destroyed:\t\t {11}4\t/);
    assert.doesNotMatch(s, /traffic processed:\n {19}0 Bytes/, 'the destroyed flows’ counters are summed');
    assert.equal(ks('-s', 'cache').stdout, real('-s', 'cache').stdout);
    assert.equal(ks('-s', 'network').stdout, '', 'nothing, as conntrackd in stats mode');
  });

  it('-f internal empties the cache, -R reloads it from the kernel, -f alone does nothing: as conntrackd', () => {
    ns.exec('conntrack', ['-I', '-p', 'udp', '-s', '10.9.0.5', '-d', '10.9.0.6', '--sport', '1000', '--dport', '2000', '-t', '300']);
    // After each request: how many flows the cache holds (-f is ALL_FLUSH_CACHE, which stats mode ignores).
    for (const [args, held] of [[['-f'], 1], [['-f', 'internal'], 0], [['-R'], 1]] as const) {
      assert.equal(ks(...args).status, 0);
      assert.equal(real(...args).status, 0);
      const ours = sortedDump(ks('-i').stdout);
      assert.equal(ours.length, held, `after ${args.join(' ')}`);
      assert.deepEqual(ours, sortedDump(real('-i').stdout), `after ${args.join(' ')}`);
    }
    assert.equal(ks('-s', 'cache').stdout, real('-s', 'cache').stdout);
  });

  it('-k stops it and removes its lock file', async () => {
    assert.equal(ks('-k').status, 0);
    await waitFor('the lock file to go', () => !existsSync(join(ksDir, 'lock')));
  });
});
