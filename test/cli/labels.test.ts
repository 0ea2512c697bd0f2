// connlabel.conf parsing as libnetfilter_conntrack does it, and the package version constant.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { labelBit, labelName, parseLabelMap } from '../../src/cli/conntrack/labels.js';
import { KEEPSTATE_VERSION } from '../../src/cli/version.js';

test('connlabel.conf: comments, C numbers, first definition wins, sane names only', () => {
  const m = parseLabelMap('# c\n0 zero\n0x2\ttwo  \n2 again\n3 bad;name\n 4 four\n1024 toolarge\n9 zero\nx nonum\n7\n')!;
  assert.equal(m.namecount, 5);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((b) => labelName(m, b)), ['zero', '', 'two', '', 'four', undefined]);
  assert.equal(labelBit(m, 'two'), 2);
  assert.equal(labelBit(m, 'again'), -1);
  assert.equal(labelBit(undefined, 'two'), -1);
  assert.equal(parseLabelMap('# nothing\n'), undefined);
});

test('KEEPSTATE_VERSION is package.json\'s version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(KEEPSTATE_VERSION, pkg.version);
});
