import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigError } from '../../src/config/error.js';
import { parseConntrackdConfig, unsupportedFeatures, type ConntrackdConfig, type MulticastChannel } from '../../src/config/conntrackd/index.js';
import { EXAMPLE_FILES, extractNewFile, loadExamples, seedSkipReason, type ExampleFile } from './seed-examples.js';

const skip = seedSkipReason();
const examples = skip === undefined ? loadExamples() : new Map<ExampleFile, string>();
const parse = (f: ExampleFile) => parseConntrackdConfig(examples.get(f)!, f);

/** The dedicated link every sync example uses. */
function assertExampleLink(c: ConntrackdConfig): void {
  assert.equal(c.sync?.channels.length, 1);
  const ch = c.sync.channels[0] as MulticastChannel;
  assert.equal(ch.kind, 'multicast');
  assert.equal(ch.family, 'ipv4');
  assert.equal(ch.group, '225.0.0.50');
  assert.equal(ch.port, 3780);
  assert.equal(ch.interfaceAddress, '192.168.100.100');
  assert.equal(ch.interface, 'eth2');
  assert.equal(ch.sndSocketBuffer, 1249280);
  assert.equal(ch.rcvSocketBuffer, 1249280);
  assert.equal(ch.checksum, true);
  assert.equal(ch.isDefault, false);
  assert.equal(c.sync.defaultChannel, 0);
}

/** The General section of the sync examples (the .orig ALARM file accepts only TCP). */
function assertSyncGeneral(c: ConntrackdConfig, protocols: readonly number[]): void {
  const g = c.general;
  assert.equal(g.hashSize, 32768);
  assert.equal(g.hashLimit, 131072);
  assert.equal(g.logFile, '/var/log/conntrackd.log'); // LogFile on
  assert.equal(g.syslogFacility, undefined);
  assert.equal(g.lockFile, '/var/lock/conntrack.lock');
  assert.equal(g.unixPath, '/var/run/conntrackd.ctl');
  assert.equal(g.netlinkBufferSize, 2097152);
  assert.equal(g.netlinkBufferSizeMaxGrowth, 8388608);
  assert.equal(g.netlinkOverrunResyncSec, 30);
  assert.deepEqual(g.scheduler, { policy: 'RR', priority: 99 });
  assert.equal(g.filter?.from, 'userspace');
  assert.equal(g.filter.protocol?.policy, 'accept');
  assert.deepEqual(g.filter.protocol.protocols, protocols);
  assert.equal(g.filter.address?.policy, 'ignore');
  assert.deepEqual(
    g.filter.address.ipv4.map((a) => `${a.address}/${a.prefixLength}`),
    ['127.0.0.1/32', '192.168.0.100/32', '192.168.1.100/32', '192.168.0.1/32', '192.168.1.1/32', '192.168.100.100/32'],
  );
  assert.deepEqual(g.filter.address.ipv6, []);
  assert.equal(g.filter.state, undefined);
}

const warningsOf = (f: ExampleFile): string[] => parse(f).warnings.map((w) => `${w.code} ${w.message.split(':')[0]}`);
const unsupportedOf = (f: ExampleFile): string[] => unsupportedFeatures(parse(f).config).map(formatConfigError);

describe('conntrack-tools example configurations (seed 004), parsed unchanged', { skip }, () => {
  it('rebuilds every example file from the patch with the line count of its hunk header', () => {
    for (const f of EXAMPLE_FILES) assert.ok(examples.get(f)!.length > 1000, f);
    assert.match(examples.get('doc/sync/ftfw/conntrackd.conf')!, /^Sync \{$/m);
  });

  it('doc/sync/ftfw/conntrackd.conf: FTFW over one IPv4 multicast link, FTFW defaults', () => {
    const c = parse('doc/sync/ftfw/conntrackd.conf').config;
    assert.equal(c.mode, 'sync');
    assert.equal(c.sync?.protocol, 'ftfw');
    assert.equal(c.sync.resendQueueSize, 131072);
    assert.equal(c.sync.ackWindowSize, 300);
    assert.equal(c.sync.commitTimeoutSec, undefined);
    assert.equal(c.sync.purgeTimeoutSec, 60);
    assert.equal(c.sync.disableExternalCache, false);
    assert.deepEqual(c.sync.expectationSync, { enabled: false });
    assertExampleLink(c);
    assertSyncGeneral(c, [6, 33, 132]); // TCP, DCCP, SCTP
    assert.deepEqual(c.sync.at.protocol, { file: 'doc/sync/ftfw/conntrackd.conf', line: 5, col: 2 });
  });

  it('doc/sync/ftfw/conntrackd.conf.orig: same settings', () => {
    const c = parse('doc/sync/ftfw/conntrackd.conf.orig').config;
    assert.equal(c.sync?.protocol, 'ftfw');
    assertExampleLink(c);
    assertSyncGeneral(c, [6, 33, 132]);
  });

  it('doc/sync/alarm/conntrackd.conf: ALARM with RefreshTime 15, CacheTimeout 180', () => {
    for (const f of ['doc/sync/alarm/conntrackd.conf', 'doc/sync/alarm/conntrackd.conf.orig'] as const) {
      const c = parse(f).config;
      assert.equal(c.sync?.protocol, 'alarm', f);
      assert.equal(c.sync.refreshTimeSec, 15, f);
      assert.equal(c.sync.cacheTimeoutSec, 180, f);
      assert.equal(c.sync.purgeTimeoutSec, 60, f);
      assertExampleLink(c);
      assertSyncGeneral(c, f.endsWith('.orig') ? [6] : [6, 33, 132]);
    }
  });

  it('doc/sync/notrack/conntrackd.conf: NOTRACK, caches enabled', () => {
    const c = parse('doc/sync/notrack/conntrackd.conf').config;
    assert.equal(c.sync?.protocol, 'notrack');
    assert.equal(c.sync.disableInternalCache, false);
    assert.equal(c.sync.disableExternalCache, false);
    assert.equal(c.sync.startupResync, false);
    assertExampleLink(c);
    assertSyncGeneral(c, [6, 33, 132]);
  });

  it('doc/stats/conntrackd.conf(.orig): stats mode with its own log file and a TCP-only filter', () => {
    for (const f of ['doc/stats/conntrackd.conf', 'doc/stats/conntrackd.conf.orig'] as const) {
      const c = parse(f).config;
      assert.equal(c.mode, 'stats', f);
      assert.equal(c.sync, undefined);
      assert.equal(c.stats?.logFile, '/var/log/conntrackd-stats.log', f);
      assert.equal(c.general.logFile, undefined);
      assert.equal(c.general.hashSize, 8192);
      assert.equal(c.general.hashLimit, 65535);
      assert.equal(c.general.netlinkBufferSize, 262142);
      assert.equal(c.general.netlinkBufferSizeMaxGrowth, 655355);
      assert.equal(c.general.filter?.from, 'userspace'); // `Filter {` without From
      assert.deepEqual(c.general.filter.protocol?.protocols, [6]);
      assert.deepEqual(c.general.filter.address?.ipv4.map((a) => a.address), ['127.0.0.1']);
    }
  });

  it('reports the deprecated Nice and UNIX Backlog of every example as warnings, nothing else', () => {
    for (const f of EXAMPLE_FILES) assert.deepEqual(warningsOf(f), ['CFG_DEPRECATED Nice', 'CFG_DEPRECATED Backlog'], f);
  });

  it('unsupportedFeatures lists exactly the not-yet-built keywords of each example', () => {
    const expected: Record<ExampleFile, string[]> = {
      'doc/sync/ftfw/conntrackd.conf': [],
      'doc/sync/ftfw/conntrackd.conf.orig': [],
      'doc/sync/alarm/conntrackd.conf': [],
      'doc/sync/alarm/conntrackd.conf.orig': [],
      'doc/sync/notrack/conntrackd.conf': [],
      'doc/stats/conntrackd.conf': [],
      'doc/stats/conntrackd.conf.orig': [],
    };
    for (const f of EXAMPLE_FILES) assert.deepEqual(unsupportedOf(f), expected[f], f);
  });

  it('the example lines named by unsupportedFeatures hold those keywords', () => {
    const lines = examples.get('doc/sync/alarm/conntrackd.conf')!.split('\n');
    assert.equal(lines[4]!.slice(1, 11), 'Mode ALARM');
    assert.equal(lines[325]!.slice(1, 7), 'Filter');
  });
});

describe('seed patch reconstruction', () => {
  it('rebuilds a file from a normal patch and from one whose lines were joined with spaces', () => {
    const normal = 'diff --git a/x.conf b/x.conf\nnew file mode 100644\n--- /dev/null\n+++ b/x.conf\n@@ -0,0 +1,3 @@\n+General {\n+ HashSize 5 # a + b\n+}\ndiff --git a/y b/y\n';
    assert.equal(extractNewFile(normal, 'x.conf'), 'General {\n HashSize 5 # a + b\n}\n');
    const joined = 'diff --git a/x.conf b/x.conf new file mode 100644 --- /dev/null +++ b/x.conf @@ -0,0 +1,4 @@ +General { + HashSize 5 + +} diff --git a/y b/y';
    assert.equal(extractNewFile(joined, 'x.conf'), 'General {\n HashSize 5\n\n}\n');
  });

  it('refuses a reconstruction whose line count disagrees with the hunk header', () => {
    const joined = 'diff --git a/x.conf b/x.conf @@ -0,0 +1,5 @@ +General { +}';
    assert.throws(() => extractNewFile(joined, 'x.conf'), /2 lines rebuilt, the hunk header says 5/);
    assert.throws(() => extractNewFile(joined, 'y.conf'), /not in the patch/);
  });
});
