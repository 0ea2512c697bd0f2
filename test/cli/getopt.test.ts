// getopt_long as glibc runs it for conntrack's option table: permutation, abbreviations,
// ambiguity, attached and detached arguments, optional arguments, and the optind conntrack reads
// back to name the offending argument.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COLON, Getopt, Q, type LongOption } from '../../src/cli/conntrack/getopt.js';

const OPTSTRING = ':L::s:d:zh';
const LONGS: readonly LongOption[] = [
  { name: 'dump', hasArg: 2, val: 'L'.charCodeAt(0) },
  { name: 'orig-src', hasArg: 1, val: 's'.charCodeAt(0) },
  { name: 'src', hasArg: 1, val: 's'.charCodeAt(0) },
  { name: 'orig-dst', hasArg: 1, val: 'd'.charCodeAt(0) },
  { name: 'zero', hasArg: 0, val: 'z'.charCodeAt(0) },
  { name: 'protonum', hasArg: 1, val: 'p'.charCodeAt(0) },
];

type Step = [code: string | number, optarg: string | undefined, optind: number];

function run(argv: readonly string[], env: Record<string, string> = {}): { steps: Step[]; argv: string[] } {
  const g = new Getopt(argv, env);
  const steps: Step[] = [];
  for (let i = 0; i < 20; i++) {
    const c = g.next(OPTSTRING, LONGS);
    if (c === -1) break;
    steps.push([c === Q ? '?' : c === COLON ? ':' : String.fromCharCode(c), g.optarg, g.optind]);
  }
  return { steps, argv: g.argv };
}

const CASES: readonly { name: string; argv: string[]; steps: Step[]; env?: Record<string, string> }[] = [
  { name: 'short with separate argument', argv: ['p', '-s', '1.1.1.1'], steps: [['s', '1.1.1.1', 3]] },
  { name: 'short with attached argument', argv: ['p', '-s1.1.1.1'], steps: [['s', '1.1.1.1', 2]] },
  { name: 'cluster', argv: ['p', '-zh'], steps: [['z', undefined, 1], ['h', undefined, 2]] },
  { name: 'optional argument only when attached', argv: ['p', '-Lexpect', '-L', 'x'], steps: [['L', 'expect', 2], ['L', undefined, 3]] },
  { name: 'long exact', argv: ['p', '--src', '1.2.3.4'], steps: [['s', '1.2.3.4', 3]] },
  { name: 'long with =', argv: ['p', '--orig-src=1.2.3.4'], steps: [['s', '1.2.3.4', 2]] },
  { name: 'unique prefix', argv: ['p', '--p', 'tcp'], steps: [['p', 'tcp', 3]] },
  { name: 'ambiguous prefix', argv: ['p', '--orig', 'x'], steps: [['?', undefined, 2]] },
  { name: 'same-meaning prefixes are not ambiguous', argv: ['p', '--orig-s', 'x'], steps: [['s', 'x', 3]] },
  { name: 'unknown long', argv: ['p', '--nope'], steps: [['?', undefined, 2]] },
  { name: 'argument to a flag', argv: ['p', '--zero=1'], steps: [['?', undefined, 2]] },
  { name: 'missing argument (short)', argv: ['p', '-s'], steps: [[':', undefined, 2]] },
  { name: 'missing argument (long)', argv: ['p', '--src'], steps: [[':', undefined, 2]] },
  { name: 'unknown short mid-cluster keeps optind', argv: ['p', '-xz'], steps: [['?', undefined, 1], ['z', undefined, 2]] },
  { name: 'non-options are skipped (permutation)', argv: ['p', 'foo', '-z', 'bar', '-h'], steps: [['z', undefined, 3], ['h', undefined, 5]] },
  { name: '-- ends options', argv: ['p', '--', '-z'], steps: [] },
  { name: 'POSIXLY_CORRECT stops at the first non-option', argv: ['p', 'foo', '-z'], steps: [], env: { POSIXLY_CORRECT: '1' } },
];

for (const c of CASES) {
  test(`getopt: ${c.name}`, () => {
    assert.deepEqual(run(c.argv, c.env).steps, c.steps);
  });
}

test('getopt: skipped non-options end up after the options', () => {
  assert.deepEqual(run(['p', 'a', '-z', 'b', '-h']).argv, ['p', '-z', '-h', 'a', 'b']);
});
