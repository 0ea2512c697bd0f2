// Stats mode (a Stats section instead of Sync) with General { Filter }, and after event overruns:
// - Filter: keepstated (StatsNode, in this process) and conntrackd 1.4.7 run side by side in one
//   namespace with the same Filter; flows made before the start (the dump) and after (events) are
//   cached and, once destroyed, logged only when the Filter accepts them, by both, line for line.
// - Overrun: with a 64 KiB event buffer a burst of creations and then of deletions overruns it
//   (ENOBUFS); the buffer grows up to NetlinkBufferSizeMaxGrowth, and NetlinkOverrunResync's resync
//   brings the lost NEW events back into the cache and logs the flows whose DESTROY was lost
//   (purge): in the end every flow is logged exactly once.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import type { Logger } from '../../src/daemon/log.js';
import { StatsNode } from '../../src/daemon/stats-node.js';
import { Conntrackd } from '../../lab/conntrackd.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';
import { tcpEntry } from './entries.js';

const skipCtd = rootSkipReason() ?? (Conntrackd.installed() ? undefined : 'conntrackd 1.4.7 is not installed (scripts/setup.sh installs it)');

/** statsConf is a Stats-mode configuration with its files in `dir`; `general` goes into General. */
function statsConf(dir: string, general = ''): string {
  return `General {
  HashSize 8192
  HashLimit 65535
  LogFile ${dir}/log
  LockFile ${dir}/lock
  UNIX { Path ${dir}/ctl }
${general}
}
Stats {
  LogFile ${dir}/stats.log
  Syslog off
}
`;
}

// Accepted: TCP and UDP, not from 10.9.1.0/24. (Address Ignore, not Accept: conntrackd 1.4.7's
// Accept with networks only refuses everything; see src/config/conntrackd/README.md.)
const FILTER = `  Filter From Userspace {
    Protocol Accept { TCP UDP }
    Address Ignore { IPv4_address 10.9.1.0/24 }
  }`;

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split(/(?<=\n)/).filter((l) => l !== '') : []);
const DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}\t/;
const withoutDate = (l: string): string => l.replace(DATE, '<date>\t').replace(/delta-time=\d+/, 'delta-time=N');

/** FLOWS are `conntrack -I` arguments: [source, accepted by FILTER, the rest]. */
const udp = (src: string, sport: number): string[] => ['-p', 'udp', '-s', src, '-d', '10.8.0.1', '--sport', String(sport), '--dport', '53', '-t', '300'];
const FLOWS_BEFORE: [string, boolean, string[]][] = [
  ['10.9.0.9', true, udp('10.9.0.9', 1009)],
  ['10.9.1.9', false, udp('10.9.1.9', 1019)],
];
const FLOWS_AFTER: [string, boolean, string[]][] = [
  ['10.9.0.1', true, udp('10.9.0.1', 1001)],
  ['10.9.1.1', false, udp('10.9.1.1', 1011)],
  ['10.9.0.2', true, ['-p', 'tcp', '-s', '10.9.0.2', '-d', '10.8.0.1', '--sport', '1002', '--dport', '80', '--state', 'ESTABLISHED', '-t', '300']],
  ['10.9.1.2', false, ['-p', 'tcp', '-s', '10.9.1.2', '-d', '10.8.0.1', '--sport', '1012', '--dport', '80', '--state', 'ESTABLISHED', '-t', '300']],
  ['10.9.0.3', false, ['-p', 'icmp', '-s', '10.9.0.3', '-d', '10.8.0.1', '--icmp-type', '8', '--icmp-code', '0', '--icmp-id', '3', '-t', '30']],
];

describe('Stats mode with a Filter, next to conntrackd 1.4.7', { skip: skipCtd, timeout: 120_000 }, () => {
  let ns: Netns;
  let dir: string;
  let node: StatsNode | undefined;
  let ctd: Conntrackd | undefined;
  const srcs = (): string[] => [...node!.cache.values()].map((e) => e.ct.orig?.src ?? '').sort();
  const theirSrcs = (): string[] => ctd!.run('-i').stdout.split('\n').filter((l) => l !== '').map((l) => /src=(\S+)/.exec(l)?.[1] ?? '').sort();

  before(async () => {
    ns = Netns.create('ksf');
    ns.exec('ip', ['link', 'set', 'lo', 'up']);
    ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    for (const [, , args] of FLOWS_BEFORE) ns.exec('conntrack', ['-I', ...args]);
    dir = mkdtempSync(join(tmpdir(), 'ks-ksf-'));
    ctd = new Conntrackd(ns, { kind: 'udp', self: '127.0.0.1', peer: '127.0.0.1', device: 'lo' });
    writeFileSync(ctd.conf, statsConf(ctd.dir, FILTER));
    await ctd.start();
    const log: Logger = { log: () => undefined };
    node = await StatsNode.start(parseConntrackdConfig(statsConf(dir, FILTER), 'ks.conf').config, log, { netns: ns.name });
  });

  after(async () => {
    await node?.stop();
    await ctd?.stop();
    ns?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('caches only the accepted flows of the start-up dump and of events, as conntrackd', async () => {
    assert.deepEqual(srcs(), ['10.9.0.9']);
    for (const [, , args] of FLOWS_AFTER) ns.exec('conntrack', ['-I', ...args]);
    const accepted = [...FLOWS_BEFORE, ...FLOWS_AFTER].filter(([, ok]) => ok).map(([s]) => s).sort();
    await until('the accepted flows in our cache', () => srcs().length === accepted.length);
    assert.deepEqual(srcs(), accepted);
    await until('the accepted flows in conntrackd’s cache', () => theirSrcs().length === accepted.length);
    assert.deepEqual(theirSrcs(), accepted);
    assert.equal(node!.counters.eventsFiltered, FLOWS_AFTER.filter(([, ok]) => !ok).length, 'each refused NEW event counted');
  });

  it('logs only the accepted flows once destroyed, line for line as conntrackd', async () => {
    for (const [src] of [...FLOWS_BEFORE, ...FLOWS_AFTER]) ns.exec('conntrack', ['-D', '-s', src]);
    const n = [...FLOWS_BEFORE, ...FLOWS_AFTER].filter(([, ok]) => ok).length;
    const ours = join(dir, 'stats.log');
    const theirs = join(ctd!.dir, 'stats.log');
    await until('both stats logs to hold the accepted flows', () => lines(ours).length === n && lines(theirs).length === n);
    assert.deepEqual(lines(ours).map(withoutDate).sort(), lines(theirs).map(withoutDate).sort());
    assert.doesNotMatch(lines(ours).join(''), /10\.9\.1\.|icmp/, 'nothing refused by the Filter is logged');
    assert.equal(node!.cache.size, 0);
  });
});

const SMALL = 65536;
const MAX = 4 * SMALL;
const N = 20_000;

describe('Stats mode after event overruns (ENOBUFS → buffer growth → resync)', { skip: rootSkipReason(), timeout: 180_000 }, () => {
  let ns: Netns;
  let dir: string;
  let node: StatsNode | undefined;
  const logged: string[] = [];

  before(async () => {
    ns = Netns.create('kso');
    ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    dir = mkdtempSync(join(tmpdir(), 'ks-kso-'));
    const general = `  NetlinkBufferSize ${SMALL}\n  NetlinkBufferSizeMaxGrowth ${MAX}\n  NetlinkOverrunResync 1`;
    const log: Logger = { log: (level, message) => void logged.push(`${level}: ${message}`) };
    node = await StatsNode.start(parseConntrackdConfig(statsConf(dir, general), 'ks.conf').config, log, { netns: ns.name });
  });

  after(async () => {
    await node?.stop();
    ns?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('a burst of creations overruns the buffer, which grows within the maximum; the resync caches every flow', async () => {
    assert.equal(node!.eventSocketBuffer(), SMALL);
    const k = ConntrackClient.open({ netns: ns.name });
    try {
      const made = await k.create(Array.from({ length: N }, (_, i) => tcpEntry(i)));
      assert.equal(made.filter((r) => r.ok).length, N);
    } finally {
      k.close();
    }
    await until(`${N} flows cached`, () => node!.cache.size === N, 60_000);
    assert.ok(node!.counters.overruns > 0, 'the burst overran the 64 KiB buffer');
    assert.ok(node!.counters.overrunResyncs > 0, 'and the overrun resync ran');
    const size = node!.eventSocketBuffer();
    assert.ok(size > SMALL && size <= MAX, `the buffer grew within NetlinkBufferSizeMaxGrowth: ${size}`);
    assert.ok(logged.some((l) => l.startsWith('warning: netlink event socket overrun')));
  });

  it('a burst of deletions overruns it again; DESTROY events and the resync’s purge log every flow exactly once', async () => {
    const overruns = node!.counters.overruns;
    const resyncs = node!.counters.overrunResyncs;
    const k = ConntrackClient.open({ netns: ns.name });
    try {
      await k.flush();
    } finally {
      k.close();
    }
    await until('the cache empty', () => node!.cache.size === 0, 60_000);
    assert.ok(node!.counters.overruns > overruns, 'the flush overran the buffer');
    await until('the overrun resync', () => node!.counters.overrunResyncs > resyncs, 60_000);
    const path = join(dir, 'stats.log');
    await until(`${N} lines in the stats log`, () => lines(path).length >= N, 60_000);
    const sports = lines(path).map((l) => /sport=(\d+)/.exec(l)?.[1]);
    assert.equal(sports.length, N, 'no flow logged twice');
    assert.equal(new Set(sports).size, N, 'every flow logged');
  });
});
