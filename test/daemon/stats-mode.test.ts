import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { formatStatsView } from '../../src/control/format.js';
import { ctIdentityOf } from '../../src/ctnetlink/compact.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { FlowLog, formatFlowLogLine } from '../../src/daemon/flow-log.js';
import { decodeSyslogMessage } from '../../src/daemon/syslog.js';
import { AF, NativeSocket, SOCK, unixSockaddr } from '../../src/native/socket.js';
import { statsSnapshot } from '../../src/daemon/stats-control.js';
import { StatsCache } from '../../src/engine/stats-cache.js';

/**
 * Stats mode against conntrackd 1.4.7's own output (test/fixtures/stats, captured in a namespace
 * with nf_conntrack_acct and nf_conntrack_timestamp on): the destroyed-flow line of the stats log,
 * and `-s` after the same history. test/kernel/stats-mode.test.ts runs both daemons on real flows.
 */

function fixture(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'test', 'fixtures', 'stats'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('test/fixtures/stats not found');
    dir = up;
  }
  const text = readFileSync(join(dir, 'test', 'fixtures', 'stats', name), 'utf8');
  return text.slice(text.indexOf('\n#---\n') + 6);
}

const NS = 1_000_000_000n;
const T0 = 1795097828n; // the flows' start (s); they stopped 2 s later
const CAPTURED = Date.UTC(2026, 10, 21, 14, 17, 10) / 1000; // "Sat Nov 21 14:17:10 2026"
const ts = { start: T0 * NS + 123_456_789n, stop: (T0 + 2n) * NS + 987_654_321n };
const lo = '127.0.0.1';

/** The three DESTROY events of the capture, as ctnetlink delivers them (acct and timestamps on, no timeout, mark 0 left out). */
const UDP_DNS: Conntrack = {
  family: 'ipv4',
  orig: { family: 'ipv4', src: lo, dst: lo, proto: IPPROTO.UDP, srcPort: 41553, dstPort: 5353 },
  reply: { family: 'ipv4', src: lo, dst: lo, proto: IPPROTO.UDP, srcPort: 5353, dstPort: 41553 },
  status: IPS.CONFIRMED | IPS.SEEN_REPLY,
  countersOrig: { packets: 1n, bytes: 32n },
  countersReply: { packets: 1n, bytes: 32n },
  timestamp: ts,
  id: 1234,
};
const TCP: Conntrack = {
  family: 'ipv4',
  orig: { family: 'ipv4', src: lo, dst: lo, proto: IPPROTO.TCP, srcPort: 41580, dstPort: 8080 },
  reply: { family: 'ipv4', src: lo, dst: lo, proto: IPPROTO.TCP, srcPort: 8080, dstPort: 41580 },
  status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
  protoinfo: { tcp: { state: TCP_CONNTRACK.TIME_WAIT } },
  countersOrig: { packets: 6n, bytes: 325n },
  countersReply: { packets: 4n, bytes: 221n },
  timestamp: ts,
};
const INSERTED: Conntrack = {
  family: 'ipv4',
  orig: { family: 'ipv4', src: '10.9.0.3', dst: '10.9.0.4', proto: IPPROTO.UDP, srcPort: 1000, dstPort: 2000 },
  reply: { family: 'ipv4', src: '10.9.0.4', dst: '10.9.0.3', proto: IPPROTO.UDP, srcPort: 2000, dstPort: 1000 },
  status: IPS.CONFIRMED,
  countersOrig: { packets: 0n, bytes: 0n },
  countersReply: { packets: 0n, bytes: 0n },
  mark: 7,
  zone: 3,
  timestamp: ts,
};
const DUMPED: Conntrack = {
  family: 'ipv4',
  orig: { family: 'ipv4', src: '10.9.0.1', dst: '10.9.0.2', proto: IPPROTO.UDP, srcPort: 1000, dstPort: 2000 },
  reply: { family: 'ipv4', src: '10.9.0.2', dst: '10.9.0.1', proto: IPPROTO.UDP, srcPort: 2000, dstPort: 1000 },
  status: IPS.CONFIRMED,
  timeout: 90,
  mark: 0,
  use: 1,
  countersOrig: { packets: 0n, bytes: 0n },
  countersReply: { packets: 0n, bytes: 0n },
  timestamp: { start: T0 * NS },
};
const key = ctIdentityOf;
const withTimeout = (ct: Conntrack, timeout: number): Conntrack => ({ ...ct, timeout });

describe('Stats mode: the destroyed-flow line (dlog_ct)', () => {
  before(() => {
    process.env.TZ = 'UTC'; // ctime(3) is local time; the capture ran in UTC
  });

  it('is conntrackd’s line for each destroyed flow of the capture, byte for byte', () => {
    const golden = fixture('destroyed-flows.txt').split(/(?<=\n)/);
    assert.equal(golden.length, 3);
    const got = [UDP_DNS, TCP, INSERTED].map((ct) => formatFlowLogLine(ct, CAPTURED).file);
    assert.deepEqual(got, golden);
  });

  it('sends syslog the flow without the date, ending with the newline only when a LogFile is open too', () => {
    const line = formatFlowLogLine(UDP_DNS, CAPTURED, true);
    assert.equal(line.syslog, line.file.slice(line.file.indexOf('\t') + 1));
    assert.equal(formatFlowLogLine(UDP_DNS, CAPTURED, false).syslog, line.syslog.slice(0, -1));
  });

  it('logs the DESTROY event’s attributes without the timeout; a flow with no stop time has delta-time now − start', () => {
    const line = formatFlowLogLine(DUMPED, Number(T0) + 26).file;
    assert.match(line, /\tudp      17 90 src=10\.9\.0\.1 /, 'the caller drops the timeout, the formatter does not');
    const cache = new StatsCache(10);
    cache.populate(key(DUMPED), DUMPED, Number(T0));
    const gone = cache.onDestroy(key(DUMPED), withTimeout(DUMPED, 30));
    assert.ok(gone !== undefined);
    assert.match(formatFlowLogLine(gone, Number(T0) + 26).file, /\tudp      17 src=10\.9\.0\.1 .* mark=0 delta-time=26 use=1\n$/);
  });

  it('cuts a line past conntrackd’s 1024-byte buffer at 1023 bytes, without its newline', () => {
    const long: Conntrack = { ...UDP_DNS, helper: 'x'.repeat(2000) };
    const line = formatFlowLogLine(long, CAPTURED).file;
    assert.equal(line.length, 1023);
    assert.ok(!line.endsWith('\n'));
  });
});

describe('Stats mode: the stats cache (stats-mode.c)', () => {
  it('after the capture’s history, `-s` is conntrackd’s text byte for byte', () => {
    const c = new StatsCache(262144);
    // Start-up dump: the flow made before the daemon (created 1).
    c.populate(key(DUMPED), DUMPED, 0);
    // conntrack -I: NEW (created 2); the TCP flow: NEW then 4 UPDATEs; the UDP flow: NEW then 2 UPDATEs.
    c.onNew(key(INSERTED), withTimeout(INSERTED, 100), 0);
    c.onNew(key(TCP), { ...TCP, protoinfo: { tcp: { state: TCP_CONNTRACK.SYN_SENT } } }, 0);
    for (const s of [TCP_CONNTRACK.SYN_RECV, TCP_CONNTRACK.ESTABLISHED, TCP_CONNTRACK.FIN_WAIT, TCP_CONNTRACK.TIME_WAIT]) c.onUpdate(key(TCP), { ...TCP, protoinfo: { tcp: { state: s } } }, 0);
    c.onNew(key(UDP_DNS), UDP_DNS, 0);
    c.onUpdate(key(UDP_DNS), UDP_DNS, 0);
    c.onUpdate(key(UDP_DNS), UDP_DNS, 0);
    for (const ct of [UDP_DNS, TCP, INSERTED]) assert.ok(c.onDestroy(key(ct), ct) !== undefined);
    const s = statsSnapshot({ cache: c, counters: { eventsFiltered: 0, eventsReceived: 0, eventsMalformed: 0, overruns: 0, overrunResyncs: 0, kernelFlushes: 0, kernelResyncs: 0 }, uptimeSec: 0, eventSocketBuffer: () => 212992 });
    assert.equal(formatStatsView('ct', s), fixture('stats-s.txt'));
  });

  it('NEW of a known flow changes nothing; UPDATE of an unknown one creates it; DESTROY of an unknown one is neither logged nor counted', () => {
    const c = new StatsCache(10);
    c.onNew(key(TCP), TCP, 5);
    c.onNew(key(TCP), { ...TCP, mark: 9 }, 6);
    assert.equal(c.get(key(TCP))?.ct.mark, undefined);
    assert.equal(c.get(key(TCP))?.sinceSec, 5);
    c.onUpdate(key(UDP_DNS), UDP_DNS, 7);
    assert.deepEqual(c.counters, { addOk: 2, addFail: 0, addFailEnospc: 0, updOk: 0, delOk: 0 });
    assert.equal(c.onDestroy(key(INSERTED), INSERTED), undefined);
    assert.equal(c.counters.delOk, 0);
    assert.deepEqual(c.traffic, { bytes: 0n, packets: 0n });
  });

  it('an UPDATE lays its attributes over the cached ones; the cache never keeps a timeout, and a dumped entry no counters or use', () => {
    const c = new StatsCache(10);
    c.populate(key(DUMPED), DUMPED, 1);
    const e = c.get(key(DUMPED))!.ct;
    assert.equal(e.timeout, undefined);
    assert.equal(e.countersOrig, undefined);
    assert.equal(e.use, undefined);
    assert.equal(e.mark, 0);
    c.onUpdate(key(DUMPED), { family: 'ipv4', orig: DUMPED.orig!, reply: DUMPED.reply!, status: IPS.CONFIRMED | IPS.SEEN_REPLY, timeout: 30 }, 2);
    const u = c.get(key(DUMPED))!.ct;
    assert.equal(u.status, IPS.CONFIRMED | IPS.SEEN_REPLY);
    assert.equal(u.mark, 0, 'kept');
    assert.equal(u.timeout, undefined);
    assert.equal(c.get(key(DUMPED))!.sinceSec, 1);
  });

  it('adds the low 32 bits of each counter to the traffic, as nfct_get_attr_u32 does', () => {
    const c = new StatsCache(10);
    const big: Conntrack = { ...UDP_DNS, countersOrig: { packets: (1n << 32n) + 3n, bytes: (5n << 32n) + 100n }, countersReply: { packets: 2n, bytes: 50n } };
    c.onNew(key(big), big, 0);
    c.onDestroy(key(big), big);
    assert.deepEqual(c.traffic, { bytes: 150n, packets: 5n });
  });

  it('refuses entries past HashLimit (ENOSPC), flushes counting deletions, purges what a dump no longer has', () => {
    const c = new StatsCache(2);
    for (const ct of [UDP_DNS, TCP, INSERTED]) c.onNew(key(ct), ct, 0);
    assert.equal(c.size, 2);
    assert.deepEqual(c.counters, { addOk: 2, addFail: 1, addFailEnospc: 1, updOk: 0, delOk: 0 });
    const gone = c.purge(new Set([key(TCP)]));
    assert.deepEqual(gone.map((g) => g.orig?.dstPort), [5353]);
    assert.equal(c.counters.delOk, 1);
    c.flush();
    assert.equal(c.size, 0);
    assert.equal(c.counters.delOk, 2);
  });
});

describe('Stats mode: FlowLog (LogFile and syslog)', () => {
  it('appends the line to the LogFile and sends the flow to syslog at LOG_INFO, with General’s facility or LOG_USER', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-flowlog-'));
    const sock = NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
    try {
      const path = join(dir, 'log.sock');
      sock.bind(unixSockaddr(path));
      const failures: string[] = [];
      const user = new FlowLog(join(dir, 'stats.log'), { enabled: true, generalFacility: undefined, socketPath: path }, (r) => failures.push(r));
      const daemon = new FlowLog(undefined, { enabled: true, generalFacility: 'local3', socketPath: path }, (r) => failures.push(r));
      const now = new Date(CAPTURED * 1000);
      user.write(UDP_DNS, now);
      daemon.write(TCP, now);
      user.close();
      daemon.close();
      const expected = formatFlowLogLine(UDP_DNS, CAPTURED);
      assert.equal(readFileSync(join(dir, 'stats.log'), 'utf8'), expected.file);
      const first = decodeSyslogMessage(sock.recvSync(4096)!);
      assert.deepEqual([first.facility, first.severity, first.message], [1, 6, expected.syslog]);
      const second = decodeSyslogMessage(sock.recvSync(4096)!);
      assert.deepEqual([second.facility, second.severity, second.message], [19, 6, formatFlowLogLine(TCP, CAPTURED, false).syslog]);
      assert.deepEqual(failures, []);
    } finally {
      sock.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts a LogFile it cannot write and reports the first failure only', () => {
    const failures: string[] = [];
    const log = new FlowLog('/nonexistent-dir/stats.log', { enabled: false, generalFacility: undefined }, (r) => failures.push(r));
    log.write(UDP_DNS, new Date());
    log.write(TCP, new Date());
    assert.deepEqual(log.stats, { lines: 2, fileErrors: 2 });
    assert.equal(failures.length, 1);
    assert.match(failures[0]!, /can't write the stats log `\/nonexistent-dir\/stats.log': ENOENT/);
  });
});
