// keepstated's -t against a real kernel table, as conntrackd 1.4.7 runs it: the table is flushed
// PurgeTimeout seconds after -t, not before; a second -t while armed changes nothing; -f and
// -f internal disarm it, -f external does not; -s runtime counts the flushes.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { syncConf } from '../../lab/conntrackd.js';
import { killProcessesIn } from '../../lab/keepalived.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { tcpEntry } from './entries.js';

const skip = rootSkipReason();
const BIN = new URL('../../../bin/keepstated.js', import.meta.url).pathname;
const PURGE_SEC = 3;

describe('keepstated -t: a kernel flush PurgeTimeout seconds later', { skip, timeout: 120_000 }, () => {
  let ns: Netns;
  let dir: string;
  let conf: string;
  let ct: ConntrackClient;
  const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => ns.run(process.execPath, [BIN, '-C', conf, ...args]);
  const log = (): string => readFileSync(join(dir, 'log'), 'utf8');
  const count = (re: RegExp): number => (log().match(new RegExp(re.source, 'g')) ?? []).length;
  const until = async (what: string, cond: () => boolean | Promise<boolean>): Promise<void> => {
    const end = Date.now() + 30_000; // hang guard
    while (!(await cond())) {
      if (Date.now() > end) assert.fail(`${what} never happened; log:\n${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const fill = async (n: number): Promise<void> => {
    const res = await ct.create(Array.from({ length: n }, (_, i) => tcpEntry(i + 1)));
    assert.deepEqual(
      res.map((r) => r.ok),
      res.map(() => true),
    );
  };
  const entries = async (): Promise<number> => (await ct.count()).entries;

  before(() => {
    ns = Netns.create('purge');
    // The dedicated link needs an interface with the node's address; nobody listens at the other end.
    ns.exec('ip', ['link', 'add', 'sync0', 'type', 'veth', 'peer', 'name', 'sync1']);
    ns.exec('ip', ['addr', 'add', '10.238.0.1/24', 'dev', 'sync0']);
    for (const dev of ['sync0', 'sync1']) ns.exec('ip', ['link', 'set', dev, 'up']);
    ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    dir = mkdtempSync(join(tmpdir(), 'ks-purge-'));
    conf = join(dir, 'conntrackd.conf');
    writeFileSync(conf, syncConf(dir, { kind: 'udp', self: '10.238.0.1', peer: '10.238.0.2', device: 'sync0' }, `PurgeTimeout ${PURGE_SEC}`));
    ct = ConntrackClient.open({ netns: ns.name });
  });

  after(() => {
    ct?.close();
    if (ns !== undefined) {
      ks('-k');
      killProcessesIn(ns); // a daemon -k did not reach
      ns.close();
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('starts with 5 entries in the kernel and its internal cache', async () => {
    await fill(5);
    const r = ks('-d');
    assert.equal(r.status, 0, r.stderr);
    assert.equal((ks('-i').stdout.match(/^tcp /gm) ?? []).length, 5);
  });

  it('-t logs the delay and leaves the table alone until it has passed; then flushes table and internal cache', async () => {
    const r = ks('-t');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(log(), /\[notice\] flushing conntrack table in 3 secs\n/);
    assert.equal(await entries(), 5, 'nothing is flushed when -t returns');
    assert.equal(ks('-t').status, 0);
    assert.equal(count(/flushing conntrack table in 3 secs/), 1, 'a second -t while armed logs nothing');
    assert.equal(count(/\(scheduled\)/), 0);
    assert.equal(await entries(), 5);
    await until('the scheduled flush', () => count(/\[notice\] flushing kernel conntrack table \(scheduled\)/) === 1);
    await until('an empty kernel table', async () => (await entries()) === 0);
    assert.equal(ks('-i').stdout.match(/^tcp /gm), null, 'the internal cache is flushed too');
    assert.match(ks('-s', 'runtime').stdout, /flush kernel table:\s+1\n/);
  });

  it('-f disarms a pending -t (the next -t arms afresh), -f external does not', async () => {
    await fill(3);
    await until('the new entries in the internal cache', () => (ks('-i').stdout.match(/^tcp /gm) ?? []).length === 3);
    assert.equal(ks('-t').status, 0);
    assert.equal(count(/flushing conntrack table in 3 secs/), 2);
    assert.equal(ks('-f', 'external').status, 0);
    assert.equal(ks('-t').status, 0);
    assert.equal(count(/flushing conntrack table in 3 secs/), 2, '-f external left it armed');
    assert.equal(ks('-f').status, 0);
    assert.match(log(), /\[notice\] flushing caches\n/);
    assert.equal(ks('-t').status, 0);
    assert.equal(count(/flushing conntrack table in 3 secs/), 3, 'after -f, -t arms a new flush: the old one is gone');
    assert.equal(ks('-f', 'internal').status, 0);
    assert.match(log(), /\[notice\] flushing internal cache\n/);
    assert.equal(ks('-t').status, 0);
    assert.equal(count(/flushing conntrack table in 3 secs/), 4, '-f internal disarmed it too');
    // Each "in 3 secs" line above shows nothing was armed any more: the flushes disarmed it.
    await until('the last armed flush', () => count(/\(scheduled\)/) === 2);
    await until('an empty kernel table', async () => (await entries()) === 0);
    assert.match(ks('-s', 'runtime').stdout, /flush kernel table:\s+2\n/);
  });

  it('-F flushes at once and counts', async () => {
    await fill(2);
    assert.equal(await entries(), 2);
    assert.equal(ks('-F').status, 0);
    assert.equal(await entries(), 0);
    assert.match(log(), /\[notice\] flushing kernel conntrack table\n/);
    assert.match(ks('-s', 'runtime').stdout, /flush kernel table:\s+3\n/);
  });
});
