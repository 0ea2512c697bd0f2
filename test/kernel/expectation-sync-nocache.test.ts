// Expectation sync where no internal cache event path carries expectations, with the real
// conntrackd 1.4.7 as the peer (its own internal cache on), between two fresh namespaces:
// - DisableInternalCache on (Mode NOTRACK): the expectation A's FTP helper makes goes to conntrackd
//   as it happens, `-B` and conntrackd's RESYNC request (-n) send it again from A's kernel table,
//   and kernelExpTable (`-i expect`) lists A's kernel expectations.
// - The same through keepstated's control socket: `-i expect` (and -x) print the kernel's
//   expectation in conntrack's format, `-s expect` shows the "internal bypass:" counters.
// - PollSecs (polling mode, FTFW): the expectation reaches conntrackd by a poll, and once it is gone
//   from A's kernel a later poll sends its EXP_DEL.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import type { Logger } from '../../src/daemon/log.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { linkVeth, nft } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';
import { ftpScript, waitLine } from './ftp.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');

const EXP_SYNC = 'Options { ExpectationSync On }';
/** The FTP helper on the loopback's control connections, and an untracked dedicated link (see expectation-sync.test.ts). */
const RULES = `table ip ks {
  ct helper ftp-std { type "ftp" protocol tcp; }
  chain out { type filter hook output priority 0; tcp dport 21 ct helper set "ftp-std"; }
  chain raw_out { type filter hook output priority -300; udp dport 3780 notrack; }
  chain raw_pre { type filter hook prerouting priority -300; udp dport 3780 notrack; }
}`;

/** The daemon of this build: a launcher written next to the config (bin/keepstated.js runs dist/'s). */
const MAIN = new URL('../../src/daemon/main.js', import.meta.url).href;

const errors: string[] = [];
const log: Logger = { log: (level, message) => void (level === 'error' && errors.push(message)) };

/** pair makes namespaces A (keepstate) and B (conntrackd) joined by a veth on 10.<net>.0.0/24, FTP helper on. */
function pair(tag: string, net: number): { a: Netns; b: Netns } {
  const a = Netns.create(`${tag}a`);
  const b = Netns.create(`${tag}b`);
  linkVeth({ ns: a, ifname: 'sync0', cidr: `10.${net}.0.1/24` }, { ns: b, ifname: 'sync0', cidr: `10.${net}.0.2/24` });
  for (const ns of [a, b]) {
    ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    nft(ns, RULES);
  }
  return { a, b };
}

describe('ExpectationSync with DisableInternalCache on, to conntrackd 1.4.7', { skip, timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let node: SyncNode | undefined;
  let ctd: Conntrackd | undefined;
  const children: ChildProcess[] = [];
  const ext = (): string[] => ctd!.run('-e', 'expect').stdout.split('\n').filter((l) => l.includes('dport=10500'));
  let sport = 0;

  before(async () => {
    ({ a, b } = pair('xna', 234));
    dir = mkdtempSync(join(tmpdir(), 'ks-xna-'));
    ctd = new Conntrackd(b, { kind: 'udp', self: '10.234.0.2', peer: '10.234.0.1', device: 'sync0' }, EXP_SYNC, undefined, 'NOTRACK { }');
    await ctd.start();
    const conf = syncConf(dir, { kind: 'udp', self: '10.234.0.1', peer: '10.234.0.2', device: 'sync0' }, EXP_SYNC, undefined, 'NOTRACK { DisableInternalCache on }');
    node = await SyncNode.start(parseConntrackdConfig(conf, 'a.conf').config, log, { netns: a.name });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await node?.stop();
    await ctd?.stop();
    a?.close();
    b?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('sends the expectation A’s FTP helper makes as it happens, after its master', async () => {
    errors.length = 0;
    const ftp = a.spawn('node', ['-e', ftpScript(10500)]);
    children.push(ftp);
    sport = Number((await waitLine(ftp, 'pasv-ok')).split(' ')[1]);
    await until('conntrackd’s external expectation cache to hold it', () => ext().length === 1);
    assert.match(ext()[0]!, new RegExp(`master-src=127\\.0\\.0\\.1 master-dst=127\\.0\\.0\\.1 sport=${sport} dport=21 .*helper=ftp`));
    assert.ok(ctd!.externalLines(`sport=${sport} dport=21`).length > 0, 'its master is in conntrackd’s external cache');
    assert.equal(node!.replicator.internalExp.size, 0, 'nothing cached');
    assert.ok(node!.replicator.bypassExpStats.new >= 1);
    assert.deepEqual(errors, []);
  });

  it('-i expect lists the kernel’s expectations (kernelExpTable), as `conntrack -L expect` shows them', async () => {
    const listed = await node!.kernelExpTable();
    const mine = listed.find((e) => e.tuple?.dstPort === 10500);
    assert.ok(mine, 'the expectation is listed');
    assert.deepEqual([mine.master?.srcPort, mine.master?.dstPort, mine.helper], [sport, 21, 'ftp']);
    assert.match(a.run('conntrack', ['-L', 'expect']).stdout, /dport=10500/);
  });

  it('-B sends the kernel’s expectation table again (after conntrackd flushed its caches)', async () => {
    assert.equal(ctd!.run('-f').status, 0);
    await until('conntrackd’s caches to be empty', () => ext().length === 0);
    node!.bulk();
    await until('the expectation back in conntrackd’s external cache', () => ext().length === 1);
  });

  it('conntrackd’s RESYNC request (-n) is answered with the kernel tables, expectations included', async () => {
    assert.equal(ctd!.run('-f').status, 0);
    await until('conntrackd’s caches to be empty', () => ext().length === 0);
    assert.equal(ctd!.run('-n').status, 0);
    await until('the expectation back in conntrackd’s external cache', () => ext().length === 1);
  });

  it('the expectation’s removal from the kernel is sent as EXP_DEL', async () => {
    assert.equal(a.run('conntrack', ['-F', 'expect']).status, 0);
    await until('conntrackd’s external expectation cache to lose it', () => ext().length === 0);
    assert.ok(node!.replicator.bypassExpStats.del >= 1);
  });
});

describe('keepstated’s -i expect and -s expect with DisableInternalCache on', { skip: rootSkipReason(), timeout: 60_000 }, () => {
  let a: Netns;
  let dir: string;
  let conf: string;
  let bin: string;
  const children: ChildProcess[] = [];
  const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => a.run(process.execPath, [bin, '-C', conf, ...args]);

  before(() => {
    a = Netns.create('xnd');
    a.exec('ip', ['link', 'set', 'lo', 'up']);
    a.sysctl('net.netfilter.nf_conntrack_events', 1);
    nft(a, RULES);
    dir = mkdtempSync(join(tmpdir(), 'ks-xnd-'));
    conf = join(dir, 'conntrackd.conf');
    bin = join(dir, 'keepstated.mjs');
    writeFileSync(bin, `import { main } from ${JSON.stringify(MAIN)};\nmain(process.argv.slice(2)).then((s) => process.exit(s));\n`);
    // No peer: the link's datagrams go to an address nobody listens on.
    writeFileSync(conf, syncConf(dir, { kind: 'udp', self: '127.0.0.1', peer: '127.0.0.2', device: 'lo' }, EXP_SYNC, undefined, 'NOTRACK { DisableInternalCache on }'));
    const r = ks('-d');
    assert.equal(r.status, 0, r.stderr);
  });

  after(() => {
    ks('-k');
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    a?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('-i expect prints the kernel’s expectation as `conntrack -L expect` does; -s expect counts the event', async () => {
    const ftp = a.spawn('node', ['-e', ftpScript(10550)]);
    children.push(ftp);
    await waitLine(ftp, 'pasv-ok');
    const kernel = a.run('conntrack', ['-L', 'expect']).stdout.split('\n').filter((l) => l.includes('dport=10550'));
    assert.equal(kernel.length, 1);
    // `conntrack -L expect` prints the timeout left first; so does -i expect, a moment later.
    const noTimeout = (l: string): string => l.replace(/^\d+ /, '');
    const listed = (args: string[]): string[] => ks('-i', 'expect', ...args).stdout.split('\n').filter((l) => l.includes('dport=10550'));
    assert.deepEqual(listed([]).map(noTimeout), kernel.map(noTimeout));
    assert.deepEqual(listed(['-x']).map(noTimeout), kernel.map(noTimeout), '-x: the same plain text, as internal_bypass_exp_dump');
    // (The FTP helper on the loopback may replace its expectation once: NEW, DESTROY, NEW.)
    await until('the event counted', () => /^internal bypass:\nconnections new:\s+[1-9]\d*\n/.test(ks('-s', 'expect').stdout));
  });
});

describe('ExpectationSync in polling mode (PollSecs), to conntrackd 1.4.7', { skip, timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let node: SyncNode | undefined;
  let ctd: Conntrackd | undefined;
  const children: ChildProcess[] = [];
  const ext = (): string[] => ctd!.run('-e', 'expect').stdout.split('\n').filter((l) => l.includes('dport=10600'));

  before(async () => {
    ({ a, b } = pair('xpa', 235));
    dir = mkdtempSync(join(tmpdir(), 'ks-xpa-'));
    ctd = new Conntrackd(b, { kind: 'udp', self: '10.235.0.2', peer: '10.235.0.1', device: 'sync0' }, EXP_SYNC);
    await ctd.start();
    const conf = syncConf(dir, { kind: 'udp', self: '10.235.0.1', peer: '10.235.0.2', device: 'sync0' }, EXP_SYNC).replace('General {\n', 'General {\n  PollSecs 1\n');
    const cfg = parseConntrackdConfig(conf, 'a.conf').config;
    assert.equal(cfg.general.pollSecs, 1);
    node = await SyncNode.start(cfg, log, { netns: a.name });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await node?.stop();
    await ctd?.stop();
    a?.close();
    b?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('a poll finds the expectation A’s FTP helper made (no event socket) and sends it after its master', async () => {
    errors.length = 0;
    const ftp = a.spawn('node', ['-e', ftpScript(10600)]);
    children.push(ftp);
    const sport = Number((await waitLine(ftp, 'pasv-ok')).split(' ')[1]);
    await until('conntrackd’s external expectation cache to hold it', () => ext().length === 1);
    assert.match(ext()[0]!, new RegExp(`sport=${sport} dport=21 .*helper=ftp`));
    assert.ok(node!.counters.polls >= 1);
    assert.equal(node!.counters.eventsReceived, 0, 'no events: polling mode');
    assert.deepEqual(errors, []);
  });

  it('once gone from A’s kernel, a later poll sends its EXP_DEL', async () => {
    assert.equal(a.run('conntrack', ['-F', 'expect']).status, 0);
    await until('conntrackd’s external expectation cache to lose it', () => ext().length === 0);
    assert.equal(node!.replicator.internalExp.liveSize, 0);
  });
});
