// Every case of conntrack-tools' doc/cli/test.sh (the command lines its `case` branches run, with
// its SRC=1.1.1.1 DST=2.2.2.2 SPORT=2005 DPORT=21), run in sequence by conntrack 1.4.7 in one fresh
// namespace and by `keepstate conntrack` in another. After each step the two must agree: exit
// status, stderr (modulo the program's name and version) and stdout (modulo the ticking timeout).
// The sequence visits each case at least once, in an order that exercises both its success and its
// failure paths (creating an entry that exists, deleting one that does not, an expectation without
// a helper, and test.sh's get-expect/delete-expect, which 1.4.7 rejects for missing reply ports).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rootSkipReason } from '../../lab/netns.js';
import { assertSame, Pair, type RunResult } from '../cli/lab.js';

const skip = rootSkipReason();

const SRC = '1.1.1.1';
const DST = '2.2.2.2';
const SPORT = '2005';
const DPORT = '21';

/** CASES holds the conntrack arguments of each test.sh case ("output" is handled apart). */
const CASES: Readonly<Record<string, readonly string[]>> = {
  dump: ['-L'],
  flush: ['-F'],
  new: [
    '-I', '--orig-src', SRC, '--orig-dst', DST, '--reply-src', DST, '--reply-dst', SRC, '-p', 'tcp',
    '--orig-port-src', SPORT, '--orig-port-dst', DPORT, '--reply-port-src', DPORT, '--reply-port-dst', SPORT,
    '--state', 'LISTEN', '-u', 'SEEN_REPLY', '-t', '50',
  ],
  'new-simple': ['-I', '-s', SRC, '-d', DST, '-p', 'tcp', '--sport', SPORT, '--dport', DPORT, '--state', 'LISTEN', '-u', 'SEEN_REPLY', '-t', '50'],
  'new-nat': ['-I', '-s', SRC, '-d', DST, '-p', 'tcp', '--sport', SPORT, '--dport', DPORT, '--state', 'LISTEN', '-u', 'SEEN_REPLY', '-t', '50', '--dst-nat', '8.8.8.8'],
  get: ['-G', '-s', SRC, '-d', DST, '-p', 'tcp', '--sport', SPORT, '--dport', DPORT],
  change: ['-U', '-s', SRC, '-d', DST, '-p', 'tcp', '--sport', SPORT, '--dport', DPORT, '--state', 'TIME_WAIT', '-u', 'ASSURED,SEEN_REPLY', '-t', '500'],
  delete: ['-D', '-s', SRC, '-d', DST, '-p', 'tcp', '--sport', SPORT, '--dport', DPORT],
  'dump-expect': ['-L', 'expect'],
  'flush-expect': ['-F', 'expect'],
  'create-expect': [
    '-I', 'expect', '--orig-src', SRC, '--orig-dst', DST, '--tuple-src', '4.4.4.4', '--tuple-dst', '5.5.5.5',
    '--mask-src', '255.255.255.0', '--mask-dst', '255.255.255.255', '-p', 'tcp', '--orig-port-src', SPORT, '--orig-port-dst', DPORT,
    '-t', '200', '--tuple-port-src', '10240', '--tuple-port-dst', '10241', '--mask-port-src', '10', '--mask-port-dst', '300',
  ],
  'get-expect': ['-G', 'expect', '--orig-src', '4.4.4.4', '--orig-dst', '5.5.5.5', '--p', 'tcp', '--orig-port-src', '10240', '--orig-port-dst', '10241'],
  'delete-expect': ['-D', 'expect', '--orig-src', '4.4.4.4', '--orig-dst', '5.5.5.5', '-p', 'tcp', '--orig-port-src', '10240', '--orig-port-dst', '10241'],
};

const SEQUENCE: readonly string[] = [
  'flush',
  'dump',
  'new',
  'dump',
  'get',
  'change',
  'get',
  'new-simple', // exists: EEXIST
  'delete',
  'dump',
  'new-simple',
  'new-nat', // exists: EEXIST
  'flush',
  'new-nat',
  'dump',
  'output',
  'dump-expect',
  'flush-expect',
  'flush',
  'new',
  'create-expect',
  'dump-expect',
  'get-expect',
  'delete-expect',
  'delete',
  'delete', // nothing left: exit 1
  'get', // ENOENT
  'change', // nothing to change: exit 1
  'flush',
];

/**
 * output is test.sh's "output" case: it counts lines of /proc/net/ip_conntrack (absent on current
 * kernels), of `$CONNTRACK -L` and of ip_conntrack_count, and prints a sentence; the part that
 * depends on the tool is the listing, whose line count and stderr must agree.
 */
function outputCase(run: (args: readonly string[]) => RunResult): RunResult {
  const r = run(['-L']);
  const lines = r.stdout === '' ? 0 : r.stdout.trimEnd().split('\n').length;
  return { status: r.status, stdout: `netl is ${lines}\n`, stderr: r.stderr };
}

describe('doc/cli/test.sh: keepstate conntrack behaves like conntrack 1.4.7', { skip, timeout: 120_000 }, () => {
  let pair: Pair;
  before(() => {
    pair = new Pair('clish');
  });
  after(() => pair?.close());

  test('every case is in the sequence', () => {
    for (const name of [...Object.keys(CASES), 'output']) assert.ok(SEQUENCE.includes(name), name);
  });

  SEQUENCE.forEach((name, i) => {
    test(`${i + 1}. ${name}`, () => {
      if (name === 'output') {
        const ct = outputCase((a) => pair.ct.conntrack(a));
        const ks = outputCase((a) => pair.ks.keepstate(a));
        assertSame(['(test.sh output)'], ct, ks);
        return;
      }
      const args = CASES[name]!;
      const { ct, ks } = pair.step(args);
      assertSame(args, ct, ks);
    });
  });
});
