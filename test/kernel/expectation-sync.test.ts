// Expectation sync (ExpectationSync On) with the real conntrackd 1.4.7, FTFW over UDP between two
// fresh namespaces: a keepstate node (in this process, its sockets in A) and conntrackd (in B).
// Each namespace makes a real FTP expectation with the kernel's FTP helper (a control connection on
// its loopback whose server answers PASV): ours reaches conntrackd's external expectation cache,
// conntrackd's reaches ours, our commit puts B's master and expectation into A's kernel, and a
// data connection in A is then admitted as RELATED to B's control connection.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO } from '../../src/ctnetlink/consts.js';
import type { Conntrack, Expectation } from '../../src/ctnetlink/types.js';
import type { Logger } from '../../src/daemon/log.js';
import { SyncNode } from '../../src/daemon/sync-node.js';
import { Conntrackd, syncConf } from '../../lab/conntrackd.js';
import { linkVeth, nft } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';
import { ftpScript, waitLine } from './ftp.js';

const skip = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');

const EXP_SYNC = 'Options { ExpectationSync On }';
/**
 * The dedicated link's own datagrams are not tracked: each side's entry for them is the other's
 * reversed, and committing the peer's copy (delete the clashing local one, create) races with the
 * next datagram, which makes the local one again (EEXIST).
 */
const NOTRACK_LINK =
  'chain raw_out { type filter hook output priority -300; udp dport 3780 notrack; }\n chain raw_pre { type filter hook prerouting priority -300; udp dport 3780 notrack; }';
/** The daemon of this build (bin/keepstated.js runs dist/'s): a launcher written next to the config. */
const MAIN = new URL('../../src/daemon/main.js', import.meta.url).href;

async function expectations(k: ConntrackClient): Promise<Expectation[]> {
  const out: Expectation[] = [];
  for await (const b of k.dumpExpectations()) out.push(...b);
  return out;
}
async function conntracks(k: ConntrackClient): Promise<Conntrack[]> {
  const out: Conntrack[] = [];
  for await (const b of k.dump()) out.push(...b);
  return out;
}

const errors: string[] = [];
const log: Logger = { log: (level, message) => void (level === 'error' && errors.push(message)) };

describe('ExpectationSync with the real conntrackd 1.4.7', { skip, timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dirA: string;
  let node: SyncNode | undefined;
  let kA: ConntrackClient;
  let ctd: Conntrackd | undefined;
  const children: ChildProcess[] = [];
  let ftpA: ChildProcess;
  let portB = 0; // the source port of B's control connection

  before(async () => {
    a = Netns.create('xa');
    b = Netns.create('xb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.232.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.232.0.2/24' });
    for (const ns of [a, b]) {
      ns.sysctl('net.netfilter.nf_conntrack_events', 1);
      // The FTP helper on the control connections of the loopback (local traffic: the output hook).
      nft(
        ns,
        `table ip ks {
          ct helper ftp-std { type "ftp" protocol tcp; }
          chain out { type filter hook output priority 0; tcp dport 21 ct helper set "ftp-std"; }
          ${NOTRACK_LINK}
        }`,
      );
    }
    dirA = mkdtempSync(join(tmpdir(), 'ks-xa-'));
    ctd = new Conntrackd(b, { kind: 'udp', self: '10.232.0.2', peer: '10.232.0.1', device: 'sync0' }, EXP_SYNC);
    await ctd.start();
    const conf = syncConf(dirA, { kind: 'udp', self: '10.232.0.1', peer: '10.232.0.2', device: 'sync0' }, EXP_SYNC);
    node = await SyncNode.start(parseConntrackdConfig(conf, 'a.conf').config, log, { netns: a.name });
    kA = ConntrackClient.open({ netns: a.name });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await node?.stop();
    kA?.close();
    await ctd?.stop();
    a?.close();
    b?.close();
    if (dirA !== undefined) rmSync(dirA, { recursive: true, force: true });
  });

  it('sends the expectation A’s FTP helper makes to conntrackd’s external expectation cache', async () => {
    ftpA = a.spawn('node', ['-e', ftpScript(10000)]);
    children.push(ftpA);
    const line = await waitLine(ftpA, 'pasv-ok');
    const sport = Number(line.split(' ')[1]);
    await until('the expectation in our internal cache', () => [...node!.replicator.internalExp.live()].some((o) => o.exp.tuple?.dstPort === 10000));
    const mine = [...node!.replicator.internalExp.live()].find((o) => o.exp.tuple?.dstPort === 10000)!.exp;
    assert.equal(mine.helper, 'ftp');
    assert.equal(mine.master?.srcPort, sport);
    const ext = (): string[] => ctd!.run('-e', 'expect').stdout.split('\n').filter((l) => l.includes('dport=10000'));
    await until('conntrackd’s external expectation cache to hold it', () => ext().length === 1);
    assert.match(ext()[0]!, new RegExp(`master-src=127\\.0\\.0\\.1 master-dst=127\\.0\\.0\\.1 sport=${sport} dport=21 .*helper=ftp`));
  });

  it('receives the expectation conntrackd sends from B’s kernel into our external expectation cache', async () => {
    const ftpB = b.spawn('node', ['-e', ftpScript(10100)]);
    children.push(ftpB);
    portB = Number((await waitLine(ftpB, 'pasv-ok')).split(' ')[1]);
    const find = (): Expectation | undefined => [...node!.replicator.externalExp.values()].map((x) => x.exp).find((e) => e.tuple?.dstPort === 10100);
    await until('B’s expectation in our external cache', () => find() !== undefined);
    const e = find()!;
    assert.equal(e.helper, 'ftp');
    assert.deepEqual([e.master?.src, e.master?.dst, e.master?.proto, e.master?.srcPort, e.master?.dstPort], ['127.0.0.1', '127.0.0.1', IPPROTO.TCP, portB, 21]);
    assert.deepEqual([e.tuple?.src, e.tuple?.dst, e.tuple?.srcPort], ['127.0.0.1', '127.0.0.1', 0]);
    assert.ok(e.timeout !== undefined && e.timeout > 0 && e.timeout <= 300, `timeout ${e.timeout}`);
    // and its master, a conntrack entry, came first
    await until('B’s control connection in our external cache', () => [...node!.replicator.external.values()].some((x) => x.ct.orig?.srcPort === portB && x.ct.orig.dstPort === 21));
  });

  it('commits B’s master and then its expectation into A’s kernel', async () => {
    errors.length = 0;
    const r = await node!.commit();
    assert.deepEqual(errors, [], 'no commit errors were logged');
    assert.equal(r.failed, 0);
    const master = (await conntracks(kA)).find((c) => c.orig?.srcPort === portB && c.orig.dstPort === 21);
    assert.ok(master, 'the master is in A’s kernel');
    assert.equal(master.helper, 'ftp', 'with its helper');
    const exp = (await expectations(kA)).find((e) => e.tuple?.dstPort === 10100);
    assert.ok(exp, 'the expectation is in A’s kernel');
    assert.equal(exp.master?.srcPort, portB);
    assert.equal(exp.helper, 'ftp');
    // A second commit meets both as existing (EEXIST): delete and create again, nothing fails.
    const again = await node!.commit();
    assert.deepEqual(errors, [], 'no errors on the second commit either');
    assert.equal(again.failed, 0);
    assert.ok((await expectations(kA)).some((e) => e.tuple?.dstPort === 10100));
  });

  it('admits the data connection in A as RELATED to B’s control connection', async () => {
    // A's own script opens 127.0.0.1 → 127.0.0.1:10100; run a listener there first.
    const data = a.spawn('node', ['-e', `require('node:net').createServer((s) => s.on('error', () => {})).listen(10100, '127.0.0.1', () => { console.log('listening'); const c = require('node:net').connect(10100, '127.0.0.1', () => console.log('data-ok')); c.on('error', () => {}); });`]);
    children.push(data);
    await waitLine(data, 'data-ok');
    const entry = (await conntracks(kA)).find((c) => c.orig?.dstPort === 10100);
    assert.ok(entry, 'the data connection is in A’s table');
    assert.deepEqual([entry.master?.srcPort, entry.master?.dstPort], [portB, 21], 'its master is B’s control connection (RELATED)');
    const listed = a.run('conntrack', ['-L', '-p', 'tcp', '--dport', '10100']).stdout;
    assert.match(listed, /dport=10100/);
  });

  it('with DisableExternalCache on, conntrackd’s expectation goes straight into our kernel after its master', async () => {
    await node!.stop();
    const conf = syncConf(dirA, { kind: 'udp', self: '10.232.0.1', peer: '10.232.0.2', device: 'sync0' }, EXP_SYNC).replace('Mode FTFW { }', 'Mode FTFW { DisableExternalCache on }');
    node = await SyncNode.start(parseConntrackdConfig(conf, 'a.conf').config, log, { netns: a.name });
    errors.length = 0;
    // The earlier FTP scripts hold port 21 in their namespaces: end them first.
    await Promise.all(children.filter((c) => c.exitCode === null).map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGKILL')))));
    const ftpB = b.spawn('node', ['-e', ftpScript(10400)]);
    children.push(ftpB);
    const sport = Number((await waitLine(ftpB, 'pasv-ok')).split(' ')[1]);
    const inKernel = async (): Promise<Expectation | undefined> => {
      for await (const batch of kA.dumpExpectations()) for (const e of batch) if (e.tuple?.dstPort === 10400) return e;
      return undefined;
    };
    let got: Expectation | undefined;
    const end = Date.now() + 20_000; // hang guard
    while ((got = await inKernel()) === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    assert.ok(got, 'the expectation is in A’s kernel');
    assert.deepEqual([got.master?.srcPort, got.master?.dstPort, got.helper], [sport, 21, 'ftp'], 'with its master, B’s control connection');
    assert.equal(node!.replicator.externalExp.size, 0, 'nothing in the external expectation cache');
    assert.deepEqual(errors, [], 'no inject errors');
  });
});

/** withoutSince drops the "[active since Ns]" suffix (the two daemons saw the entry at different times). */
const withoutSince = (l: string): string => l.replace(/ \[active since \d+s\]$/, '');

describe('keepstated’s expectation requests, beside conntrackd 1.4.7', { skip, timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let conf: string;
  let ctd: Conntrackd | undefined;
  const children: ChildProcess[] = [];
  let bin: string;
  const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => a.run(process.execPath, [bin, '-C', conf, ...args]);
  const lines = (out: string, needle: string): string[] => out.split('\n').filter((l) => l.includes(needle));

  before(async () => {
    a = Netns.create('xda');
    b = Netns.create('xdb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.233.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.233.0.2/24' });
    for (const ns of [a, b]) {
      ns.sysctl('net.netfilter.nf_conntrack_events', 1);
      nft(ns, `table ip ks {\n ct helper ftp-std { type "ftp" protocol tcp; }\n chain out { type filter hook output priority 0; tcp dport 21 ct helper set "ftp-std"; }\n${NOTRACK_LINK}\n}`);
    }
    dir = mkdtempSync(join(tmpdir(), 'ks-xd-'));
    conf = join(dir, 'conntrackd.conf');
    bin = join(dir, 'keepstated.mjs');
    writeFileSync(bin, `import { main } from ${JSON.stringify(MAIN)};\nmain(process.argv.slice(2)).then((s) => process.exit(s));\n`);
    writeFileSync(conf, syncConf(dir, { kind: 'udp', self: '10.233.0.1', peer: '10.233.0.2', device: 'sync0' }, EXP_SYNC));
    ctd = new Conntrackd(b, { kind: 'udp', self: '10.233.0.2', peer: '10.233.0.1', device: 'sync0' }, EXP_SYNC);
    await ctd.start();
    const r = ks('-d');
    assert.equal(r.status, 0, r.stderr);
  });

  after(async () => {
    ks('-k');
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await ctd?.stop();
    a?.close();
    b?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('-i expect / -e expect (plain and -x) print what conntrackd prints for the same expectation; -s expect counts them', async () => {
    const fa = a.spawn('node', ['-e', ftpScript(10200)]);
    const fb = b.spawn('node', ['-e', ftpScript(10300)]);
    children.push(fa, fb);
    await Promise.all([waitLine(fa, 'pasv-ok'), waitLine(fb, 'pasv-ok')]);
    await until('A’s expectation in conntrackd’s external cache', () => lines(ctd!.run('-e', 'expect').stdout, 'dport=10200').length === 1);
    await until('B’s expectation in our external cache', () => lines(ks('-e', 'expect').stdout, 'dport=10300').length === 1);
    // Ours, in our internal cache and in conntrackd's external one.
    const ourInt = lines(ks('-i', 'expect').stdout, 'dport=10200');
    assert.equal(ourInt.length, 1);
    assert.match(ourInt[0]!, / \[active since \d+s\]$/);
    assert.equal(withoutSince(ourInt[0]!), withoutSince(lines(ctd!.run('-e', 'expect').stdout, 'dport=10200')[0]!));
    assert.equal(lines(ks('-i', 'expect', '-x').stdout, '<dport>10200</dport>')[0], lines(ctd!.run('-e', 'expect', '-x').stdout, '<dport>10200</dport>')[0]);
    // Theirs, in conntrackd's internal cache and in our external one.
    assert.equal(withoutSince(lines(ks('-e', 'expect').stdout, 'dport=10300')[0]!), withoutSince(lines(ctd!.run('-i', 'expect').stdout, 'dport=10300')[0]!));
    assert.equal(lines(ks('-e', 'expect', '-x').stdout, '<dport>10300</dport>')[0], lines(ctd!.run('-i', 'expect', '-x').stdout, '<dport>10300</dport>')[0]);
    const s = ks('-s', 'expect').stdout;
    assert.match(s, /^cache internal:\ncurrent active connections:\s+1\n/);
    assert.match(s, /cache external:\ncurrent active connections:\s+1\n/);
  });

  it('-c commits the expectation conntrackd sent into our kernel', () => {
    assert.equal(ks('-c').status, 0);
    assert.match(a.run('conntrack', ['-L', 'expect']).stdout, /dport=10300 .*helper=ftp/);
  });

  it('-F expect empties our kernel’s expectation table', () => {
    assert.equal(ks('-F', 'expect').status, 0);
    assert.doesNotMatch(a.run('conntrack', ['-L', 'expect']).stdout, /dport=10/);
  });

  it('-F flushes the expectation table too, and counts two kernel flushes as conntrackd does (-F expect: one)', () => {
    const flushes = (out: string): number => Number(/flush kernel table:\s+(\d+)/.exec(out)?.[1] ?? NaN);
    assert.equal(ks('-c').status, 0);
    assert.match(a.run('conntrack', ['-L', 'expect']).stdout, /dport=10300/);
    const ours = flushes(ks('-s', 'runtime').stdout);
    const theirs = flushes(ctd!.run('-s', 'runtime').stdout);
    assert.equal(ks('-F').status, 0);
    assert.equal(ctd!.run('-F').status, 0);
    assert.doesNotMatch(a.run('conntrack', ['-L', 'expect']).stdout, /dport=10/);
    assert.equal(flushes(ctd!.run('-s', 'runtime').stdout), theirs + 2, 'conntrackd: conntrack table and expectation table');
    assert.equal(flushes(ks('-s', 'runtime').stdout), ours + 2);
    assert.equal(ks('-F', 'expect').status, 0);
    assert.equal(ctd!.run('-F', 'expect').status, 0);
    assert.equal(flushes(ctd!.run('-s', 'runtime').stdout), theirs + 3);
    assert.equal(flushes(ks('-s', 'runtime').stdout), ours + 3);
  });
});
