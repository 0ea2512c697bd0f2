import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatCacheStats,
  formatCacheStatsExtended,
  formatChannelStats,
  formatChannelStatsExtended,
  formatMessageTracking,
  formatNetworkStats,
  formatProcessList,
  formatQueueStats,
  formatRsQueue,
  formatRuntimeStats,
  formatStatsView,
  formatTrafficStats,
  formatUptime,
  formatBypassStats,
  formatInjectStats,
  STATS_VIEW_OF_CODE,
  type StatsView,
} from '../../src/control/format.js';
import {
  zeroCacheStats,
  ZERO_LINK_COUNTERS,
  ZERO_NETWORK_STATS,
  type CacheStats,
  type ChannelStats,
  type DaemonStats,
  type ExternalSideStats,
  type InternalSideStats,
  type NetworkStats,
  type RuntimeStats,
  type SyncDaemonStats,
} from '../../src/control/stats.js';
import { CTL } from '../../src/control/codes.js';
import { fixtureNames, loadFixture, Scanner } from './fixtures.js';

/**
 * The -s formatters against the real conntrackd: every stats fixture is rebuilt from its own
 * numbers (read in the order of conntrackd's printf arguments) and must come out byte for byte;
 * labels, tabs, widths and which blocks appear are what is tested. Field placement is tested
 * separately with a distinct value in every counter.
 */

// ---------------------------------------------------------------------------------------------
// What each capture run was (test/fixtures/control/capture.sh)
// ---------------------------------------------------------------------------------------------

interface Run {
  readonly mode: 'sync' | 'stats';
  readonly protocol: 'ftfw' | 'alarm' | 'notrack';
  readonly channel: 'multicast' | 'udp' | 'tcp';
  readonly expect: boolean;
  readonly noCache: boolean;
}
const RUNS: Readonly<Record<string, Run>> = {
  'ftfw-mcast': { mode: 'sync', protocol: 'ftfw', channel: 'multicast', expect: true, noCache: false },
  'ftfw-udp': { mode: 'sync', protocol: 'ftfw', channel: 'udp', expect: true, noCache: false },
  'alarm-udp': { mode: 'sync', protocol: 'alarm', channel: 'udp', expect: false, noCache: false },
  'notrack-tcp': { mode: 'sync', protocol: 'notrack', channel: 'tcp', expect: false, noCache: false },
  'notrack-nocache': { mode: 'sync', protocol: 'notrack', channel: 'udp', expect: false, noCache: true },
  stats: { mode: 'stats', protocol: 'ftfw', channel: 'udp', expect: false, noCache: false },
};

const ZERO_RUNTIME: RuntimeStats = {
  uptimeSec: 0,
  nlEventsReceived: 0n,
  nlEventsFiltered: 0n,
  nlEventsUnknownType: 0,
  nlCatchEventFailed: 0,
  nlDumpUnknownType: 0,
  nlOverrun: 0,
  nlKernelTableFlush: 0,
  nlKernelTableResync: 0,
  netlinkBufferSize: 0,
  childProcessFailed: 0,
  childProcessSegfault: 0,
  childProcessTermsig: 0,
  selectFailed: 0,
  waitFailed: 0,
  localReadFailed: 0,
  localUnknownRequest: 0,
};

function zeroChannel(run: Run, body: string): ChannelStats {
  const base = { ifname: 'sync0', status: 'RUNNING' as const, sent: ZERO_LINK_COUNTERS, recv: ZERO_LINK_COUNTERS };
  if (run.channel !== 'tcp') return { ...base, kind: run.channel };
  // The TCP connection states are the daemon's state at capture time, read from the text.
  return { ...base, kind: 'tcp', serverConnected: !/server=disconnected/.test(body), clientConnected: !/client=disconnected/.test(body) };
}

function zeroSync(run: Run, body: string): SyncDaemonStats {
  return {
    mode: 'sync',
    protocol: run.protocol,
    internal: run.noCache ? { kind: 'bypass', new: 0, upd: 0, del: 0 } : { kind: 'cache', ...zeroCacheStats('internal') },
    external: run.noCache ? { kind: 'inject', addOk: 0, addFail: 0, updOk: 0, updFail: 0, delOk: 0, delFail: 0 } : { kind: 'cache', ...zeroCacheStats('external') },
    expect: run.expect ? { internal: { kind: 'cache', ...zeroCacheStats('internal') }, external: { kind: 'cache', ...zeroCacheStats('external') } } : undefined,
    traffic: { bytes: 0n, packets: 0n },
    network: ZERO_NETWORK_STATS,
    link: { channels: [zeroChannel(run, body)], current: 0 },
    queues: { allocatedNodes: 0, queues: [] },
    rsqueue: run.protocol === 'ftfw' ? [] : undefined,
    runtime: ZERO_RUNTIME,
    processes: [],
  };
}

// Scanners: conntrackd's printf arguments, in order.

function scanSide(sc: Scanner, like: InternalSideStats | ExternalSideStats, extended: boolean): InternalSideStats | ExternalSideStats {
  switch (like.kind) {
    case 'bypass':
      return { kind: 'bypass', new: sc.u(), upd: sc.u(), del: sc.u() };
    case 'inject':
      return { kind: 'inject', addOk: sc.u(), addFail: sc.u(), updOk: sc.u(), updFail: sc.u(), delOk: sc.u(), delFail: sc.u() };
    case 'cache':
      return { kind: 'cache', ...(extended ? scanCacheExt(sc, like.name) : scanCache(sc, like.name)) };
  }
}
function scanCache(sc: Scanner, name: string): CacheStats {
  const [active, addOk, addFail, updOk, updFail, delOk, delFail] = [sc.u(), sc.u(), sc.u(), sc.u(), sc.u(), sc.u(), sc.u()];
  return { ...zeroCacheStats(name), active, addOk, addFail, updOk, updFail, delOk, delFail };
}
function scanCacheExt(sc: Scanner, name: string): CacheStats {
  const objects = sc.u();
  const active = sc.u();
  const entries = sc.u();
  const [addOk, addFail, addFailEnomem, addFailEnospc, updOk, updFail, updFailEnoent, delOk, delFail, delFailEnoent] = Array.from({ length: 10 }, () => sc.u()) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { name, active, objects, entries, addOk, addFail, addFailEnomem, addFailEnospc, updOk, updFail, updFailEnoent, delOk, delFail, delFailEnoent };
}
function scanChannel(sc: Scanner, like: ChannelStats): ChannelStats {
  const [sb, rb, sm, rm, se, re] = [sc.b(), sc.b(), sc.b(), sc.b(), sc.b(), sc.b()];
  return { ...like, sent: { bytes: sb, messages: sm, errors: se }, recv: { bytes: rb, messages: rm, errors: re } };
}
function scanNetwork(sc: Scanner): NetworkStats {
  return {
    rcvMalformed: sc.b(),
    rcvBadVersion: sc.u(),
    rcvBadHeader: sc.u(),
    rcvBadPayload: sc.u(),
    rcvBadType: sc.u(),
    rcvTruncated: sc.u(),
    rcvBadSize: sc.u(),
    sndMalformed: sc.u(),
    rcvLost: sc.b(),
    rcvBefore: sc.b(),
  };
}
function scanRuntime(sc: Scanner, body: string): RuntimeStats {
  // "daemon uptime: N min" (no hours or days in the captures).
  assert.match(body, /^daemon uptime: \d+ min\n/);
  return {
    uptimeSec: sc.u() * 60,
    nlEventsReceived: sc.b(),
    nlEventsFiltered: sc.b(),
    nlEventsUnknownType: sc.u(),
    nlCatchEventFailed: sc.u(),
    nlDumpUnknownType: sc.u(),
    nlOverrun: sc.u(),
    nlKernelTableFlush: sc.u(),
    nlKernelTableResync: sc.u(),
    netlinkBufferSize: sc.u(),
    childProcessFailed: sc.u(),
    childProcessSegfault: sc.u(),
    childProcessTermsig: sc.u(),
    selectFailed: sc.u(),
    waitFailed: sc.u(),
    localReadFailed: sc.u(),
    localUnknownRequest: sc.u(),
  };
}

/** rebuild makes the DaemonStats a fixture shows, from its own numbers. */
function rebuild(view: StatsView, run: Run, body: string): DaemonStats {
  const sc = new Scanner(body);
  if (run.mode === 'stats') {
    const base = { mode: 'stats' as const, cache: zeroCacheStats('stats'), traffic: { bytes: 0n, packets: 0n }, runtime: ZERO_RUNTIME, processes: [] };
    if (view === 'ct') {
      const cache = scanCache(sc, 'stats');
      const traffic = { bytes: sc.b(), packets: sc.b() };
      sc.done();
      return { ...base, cache, traffic };
    }
    if (view === 'cache') {
      const cache = scanCacheExt(sc, 'stats');
      sc.done();
      return { ...base, cache };
    }
    return base;
  }
  let s = zeroSync(run, body);
  const ch0 = s.link.channels[0]!;
  switch (view) {
    case 'ct':
    case 'expect': {
      const sides = view === 'ct' ? s : s.expect;
      if (sides === undefined) break;
      const internal = scanSide(sc, sides.internal, false) as InternalSideStats;
      const external = scanSide(sc, sides.external, false) as ExternalSideStats;
      const traffic = { bytes: sc.b(), packets: sc.b() };
      const ch = scanChannel(sc, ch0);
      const network = { ...ZERO_NETWORK_STATS, rcvMalformed: sc.b(), rcvLost: sc.b() };
      s = { ...s, traffic, network, link: { channels: [ch], current: 0 } };
      s = view === 'ct' ? { ...s, internal, external } : { ...s, expect: { internal, external } };
      break;
    }
    case 'network': {
      const network = scanNetwork(sc);
      s = { ...s, network, link: { channels: [scanChannel(sc, ch0)], current: 0 } };
      break;
    }
    case 'cache':
      s = { ...s, internal: scanSide(sc, s.internal, true) as InternalSideStats, external: scanSide(sc, s.external, true) as ExternalSideStats };
      break;
    case 'runtime':
      s = { ...s, runtime: scanRuntime(sc, body) };
      break;
    case 'link':
      s = { ...s, link: { channels: [scanChannel(sc, ch0)], current: 0 } };
      break;
    case 'queue': {
      const allocatedNodes = sc.u();
      const names = [...body.matchAll(/^queue (\w+):$/gm)].map((m) => m[1]!);
      s = { ...s, queues: { allocatedNodes, queues: names.map((name) => ({ name, current: sc.u(), max: sc.u(), enospc: sc.u() })) } };
      break;
    }
    case 'rsqueue': {
      if (s.rsqueue === undefined) break;
      const entries = [...body.matchAll(/^(object|control) -> seq:(\d+)(?: flags:(\d+))?$/gm)].map((m) =>
        m[1] === 'object' ? { kind: 'object' as const, seq: Number(m[2]) } : { kind: 'control' as const, seq: Number(m[2]), flags: Number(m[3]) },
      );
      s = { ...s, rsqueue: entries };
      return s;
    }
    case 'process':
      s = {
        ...s,
        processes: [...body.matchAll(/^PID=(\d+) type=(any|flush|commit)$/gm)].map((m) => ({ pid: Number(m[1]), type: m[2] as 'any' | 'flush' | 'commit' })),
      };
      return s;
  }
  sc.done();
  return s;
}

const VIEW_OF_SUFFIX: Readonly<Record<string, StatsView>> = {
  s: 'ct',
  's-network': 'network',
  's-cache': 'cache',
  's-runtime': 'runtime',
  's-link': 'link',
  's-rsqueue': 'rsqueue',
  's-queue': 'queue',
  's-process': 'process',
  's-expect': 'expect',
};

describe('-s views against conntrackd 1.4.7 captures', () => {
  const names = fixtureNames(/-s(-[a-z]+)?\.txt$/);
  it('has captures of every view in FTFW over multicast and UDP', () => {
    for (const ch of ['mcast', 'udp']) for (const suffix of Object.keys(VIEW_OF_SUFFIX)) assert.ok(names.includes(`ftfw-${ch}-a-${suffix}.txt`), `ftfw-${ch}-a-${suffix}.txt`);
  });
  for (const name of names) {
    const m = /^(.+)-[ab]-(s(?:-[a-z]+)?)\.txt$/.exec(name);
    it(name, () => {
      assert.ok(m !== null);
      const run = RUNS[m[1]!];
      const view = VIEW_OF_SUFFIX[m[2]!];
      assert.ok(run !== undefined && view !== undefined, name);
      const f = loadFixture(name);
      assert.equal(f.status, 0);
      const stats = rebuild(view, run, f.body);
      assert.equal(formatStatsView(view, stats), f.body);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Field placement: a different value in every counter
// ---------------------------------------------------------------------------------------------

const CACHE: CacheStats = {
  name: 'internal',
  active: 1,
  objects: 2,
  entries: 3,
  addOk: 4,
  addFail: 5,
  addFailEnomem: 6,
  addFailEnospc: 7,
  updOk: 8,
  updFail: 9,
  updFailEnoent: 10,
  delOk: 11,
  delFail: 12,
  delFailEnoent: 13,
};
const pad = (v: number | bigint, w: number): string => String(v).padStart(w);

describe('formatters put every counter in its place', () => {
  it('cache_stats', () => {
    assert.equal(
      formatCacheStats(CACHE),
      `cache internal:\ncurrent active connections:\t${pad(1, 12)}\n` +
        `connections created:\t\t${pad(4, 12)}\tfailed:\t${pad(5, 12)}\n` +
        `connections updated:\t\t${pad(8, 12)}\tfailed:\t${pad(9, 12)}\n` +
        `connections destroyed:\t\t${pad(11, 12)}\tfailed:\t${pad(12, 12)}\n\n`,
    );
  });
  it('cache_stats_extended', () => {
    assert.equal(
      formatCacheStatsExtended(CACHE),
      `cache:internal\tactive objects:\t\t${pad(2, 12)}\n` +
        `\tactive/total entries:\t\t${pad(1, 12)}/${pad(3, 12)}\n` +
        `\tcreation OK/failed:\t\t${pad(4, 12)}/${pad(5, 12)}\n` +
        `\t\tno memory available:\t${pad(6, 12)}\n` +
        `\t\tno space left in cache:\t${pad(7, 12)}\n` +
        `\tupdate OK/failed:\t\t${pad(8, 12)}/${pad(9, 12)}\n` +
        `\t\tentry not found:\t${pad(10, 12)}\n` +
        `\tdeletion created/failed:\t${pad(11, 12)}/${pad(12, 12)}\n` +
        `\t\tentry not found:\t${pad(13, 12)}\n\n`,
    );
  });
  it('internal bypass and external inject', () => {
    assert.equal(formatBypassStats({ new: 1, upd: 2, del: 3 }), `internal bypass:\nconnections new:\t\t${pad(1, 12)}\nconnections updated:\t\t${pad(2, 12)}\nconnections destroyed:\t\t${pad(3, 12)}\n\n`);
    assert.equal(
      formatInjectStats({ addOk: 1, addFail: 2, updOk: 3, updFail: 4, delOk: 5, delFail: 6 }),
      `external inject:\nconnections created:\t\t${pad(1, 12)}\tfailed:\t${pad(2, 12)}\nconnections updated:\t\t${pad(3, 12)}\tfailed:\t${pad(4, 12)}\nconnections destroyed:\t\t${pad(5, 12)}\tfailed:\t${pad(6, 12)}\n\n`,
    );
  });
  it('traffic, channel and message tracking', () => {
    assert.equal(formatTrafficStats({ bytes: 123456789012n, packets: 7n }), `traffic processed:\n${pad(123456789012n, 20)} Bytes      ${pad(7, 20)} Pckts\n\n`);
    const ch: ChannelStats = { kind: 'udp', ifname: 'eth9', status: 'NO-CARRIER', sent: { bytes: 1n, messages: 2n, errors: 3n }, recv: { bytes: 4n, messages: 5n, errors: 6n } };
    const counters = `${pad(1, 20)} Bytes sent ${pad(4, 20)} Bytes recv\n${pad(2, 20)} Pckts sent ${pad(5, 20)} Pckts recv\n${pad(3, 20)} Error send ${pad(6, 20)} Error recv\n\n`;
    assert.equal(formatChannelStats(ch), `UDP traffic (active device=eth9):\n${counters}`);
    assert.equal(formatChannelStatsExtended(ch, false), `UDP traffic device=eth9 status=NO-CARRIER role=BACKUP:\n${counters}`);
    const tcp: ChannelStats = { ...ch, kind: 'tcp', status: 'DOWN', serverConnected: false, clientConnected: true };
    assert.equal(formatChannelStats(tcp), `TCP traffic (active device=eth9) server=disconnected client=connected:\n${counters}`);
    assert.equal(formatChannelStatsExtended(tcp, true), `TCP traffic device=eth9 status=DOWN role=ACTIVE:\n${counters}`);
    assert.equal(formatChannelStats({ ...ch, kind: 'multicast' }), `multicast traffic (active device=eth9):\n${counters}`);
    assert.equal(formatMessageTracking({ ...ZERO_NETWORK_STATS, rcvMalformed: 11n, rcvLost: 22n }), `message tracking:\n${pad(11, 20)} Malformed msgs ${pad(22, 20)} Lost msgs\n\n`);
  });
  it('network statistics', () => {
    const n: NetworkStats = { rcvMalformed: 1n, rcvBadVersion: 2, rcvBadHeader: 3, rcvBadPayload: 4, rcvBadType: 5, rcvTruncated: 6, rcvBadSize: 7, sndMalformed: 8, rcvLost: 9n, rcvBefore: 10n };
    const text = formatNetworkStats(n);
    const labels = [
      'Malformed messages',
      'Wrong protocol version',
      'Malformed header',
      'Malformed payload',
      'Bad message type',
      'Truncated message',
      'Bad message size',
      'Malformed messages',
      'Packets lost',
      'Packets before',
    ];
    const found = [...text.matchAll(/^\t\t([A-Za-z ]+):\t+ *(\d+)$/gm)].map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(
      found,
      labels.map((l, i) => [l, i + 1]),
    );
  });
  it('runtime statistics', () => {
    const r: RuntimeStats = {
      uptimeSec: 3 * 86400 + 2 * 3600 + 5 * 60 + 59,
      nlEventsReceived: 1n,
      nlEventsFiltered: 2n,
      nlEventsUnknownType: 3,
      nlCatchEventFailed: 4,
      nlDumpUnknownType: 5,
      nlOverrun: 6,
      nlKernelTableFlush: 7,
      nlKernelTableResync: 8,
      netlinkBufferSize: 9,
      childProcessFailed: 10,
      childProcessSegfault: 11,
      childProcessTermsig: 12,
      selectFailed: 13,
      waitFailed: 14,
      localReadFailed: 15,
      localUnknownRequest: 16,
    };
    const text = formatRuntimeStats(r);
    assert.match(text, /^daemon uptime: 3 days 2 h 5 min\n\n/);
    const values = [...text.matchAll(/^\t+[a-z() ]+:\t+ *(\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(
      values,
      Array.from({ length: 16 }, (_, i) => i + 1),
    );
  });
  it('uptime as run.c prints it', () => {
    const cases: [number, string][] = [
      [0, '0 min'],
      [59, '0 min'],
      [60, '1 min'],
      [3599, '59 min'],
      [3600, '1 h 0 min'],
      [86399, '23 h 59 min'],
      [86400, '1 day 0 min'],
      [86400 + 61, '1 day 1 min'],
      [2 * 86400 + 3600, '2 days 1 h 0 min'],
    ];
    for (const [sec, want] of cases) assert.equal(formatUptime(sec), want, String(sec));
  });
  it('queues, resend queue and processes', () => {
    assert.equal(
      formatQueueStats({ allocatedNodes: 1, queues: [{ name: 'txqueue', current: 2, max: 3, enospc: 4 }] }),
      `allocated queue nodes:\t\t${pad(1, 12)}\n\nqueue txqueue:\ncurrent elements:\t\t${pad(2, 12)}\nmaximum elements:\t\t${pad(3, 12)}\nnot enough space errors:\t${pad(4, 12)}\n\n`,
    );
    assert.equal(
      formatRsQueue([
        { kind: 'object', seq: 5 },
        { kind: 'control', seq: 0xffffffff, flags: 12 },
      ]),
      'resent queue (len=2)\nobject -> seq:5\ncontrol -> seq:4294967295 flags:12\n',
    );
    assert.equal(formatRsQueue([]), 'resent queue (len=0)\n');
    assert.equal(
      formatProcessList([
        { pid: 10, type: 'any' },
        { pid: 11, type: 'commit' },
      ]),
      'PID=10 type=any\nPID=11 type=commit\n',
    );
    assert.equal(formatProcessList([]), '');
  });
  it('counters wrap as C prints them', () => {
    assert.equal(formatTrafficStats({ bytes: -1n, packets: 2n ** 64n + 3n }), `traffic processed:\n18446744073709551615 Bytes      ${pad(3, 20)} Pckts\n\n`);
    assert.match(formatCacheStats({ ...CACHE, active: -1 }), /connections:\t  4294967295\n/);
  });
});

// ---------------------------------------------------------------------------------------------
// Which blocks each request prints in each mode
// ---------------------------------------------------------------------------------------------

describe('formatStatsView: what each mode answers', () => {
  const runtime = { ...ZERO_RUNTIME, uptimeSec: 120 };
  const statsMode: DaemonStats = { mode: 'stats', cache: zeroCacheStats('stats'), traffic: { bytes: 0n, packets: 0n }, runtime, processes: [{ pid: 4, type: 'flush' }] };
  const none: DaemonStats = { mode: 'none', runtime, processes: [] };
  const alarm = { ...zeroSync(RUNS['alarm-udp']!, ''), runtime };
  it('maps every stats code to a view', () => {
    assert.deepEqual([...STATS_VIEW_OF_CODE.keys()].sort((a, b) => a - b), [CTL.STATS, CTL.STATS_NETWORK, CTL.STATS_CACHE, CTL.STATS_RUNTIME, CTL.STATS_LINK, CTL.STATS_RSQUEUE, CTL.STATS_PROCESS, CTL.STATS_QUEUE, CTL.EXP_STATS].sort((a, b) => a - b));
  });
  it('runtime and process are answered in every mode', () => {
    for (const s of [statsMode, none, alarm]) {
      assert.match(formatStatsView('runtime', s), /^daemon uptime: 2 min\n/);
      assert.equal(formatStatsView('process', s), s.processes.map((p) => `PID=${p.pid} type=${p.type}\n`).join(''));
    }
  });
  it('stats mode prints its one cache for -s and -s cache, nothing for the rest', () => {
    assert.match(formatStatsView('ct', statsMode), /^cache stats:\n[^]*traffic processed:\n/);
    assert.match(formatStatsView('cache', statsMode), /^cache:stats\t/);
    for (const v of ['network', 'link', 'rsqueue', 'queue', 'expect'] as const) assert.equal(formatStatsView(v, statsMode), '', v);
  });
  it('without Sync or Stats only runtime and process answer', () => {
    for (const v of ['ct', 'network', 'cache', 'link', 'rsqueue', 'queue', 'expect'] as const) assert.equal(formatStatsView(v, none), '', v);
  });
  it('rsqueue only in FTFW, expect only with ExpectationSync', () => {
    assert.equal(formatStatsView('rsqueue', alarm), '');
    assert.equal(formatStatsView('expect', alarm), '');
    const ftfw = zeroSync(RUNS['ftfw-udp']!, '');
    assert.equal(formatStatsView('rsqueue', ftfw), 'resent queue (len=0)\n');
    assert.match(formatStatsView('expect', ftfw), /^cache internal:\n/);
  });
  it('-s link lists every channel, the current one ACTIVE', () => {
    const base = zeroSync(RUNS['ftfw-udp']!, '');
    const ch = base.link.channels[0]!;
    const s: DaemonStats = { ...base, link: { channels: [ch, { ...ch, ifname: 'eth1' }, { ...ch, ifname: 'eth2', status: 'DOWN' }], current: 1 } };
    assert.deepEqual(
      [...formatStatsView('link', s).matchAll(/^UDP traffic device=(\w+) status=([A-Z-]+) role=(\w+):$/gm)].map((m) => m.slice(1)),
      [
        ['sync0', 'RUNNING', 'BACKUP'],
        ['eth1', 'RUNNING', 'ACTIVE'],
        ['eth2', 'DOWN', 'BACKUP'],
      ],
    );
    // -s and -s network show the current channel only.
    assert.match(formatStatsView('ct', s), /UDP traffic \(active device=eth1\):/);
    assert.match(formatStatsView('network', s), /UDP traffic \(active device=eth1\):\n[^]*$/);
  });
});
