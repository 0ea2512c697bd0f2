// The C conversions conntrack's arguments go through, as glibc does them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atoi, atol, inetAton, inetPton4, inetPton6, strncasecmpEq, strtol, strtoul, u16 } from '../../src/cli/conntrack/cstr.js';
import { formatIPv6 } from '../../src/wire/ip.js';

test('strtoul: bases, signs, end and overflow', () => {
  const rows: [string, number, bigint, number][] = [
    ['42', 0, 42n, 2],
    ['0x2a', 0, 42n, 4],
    ['052', 0, 42n, 3],
    ['0x', 0, 0n, 1],
    ['  7z', 0, 7n, 3],
    ['-1', 0, 18446744073709551615n, 2],
    ['', 0, 0n, 0],
    ['z', 0, 0n, 0],
    ['99999999999999999999999', 10, 18446744073709551615n, 23],
  ];
  for (const [s, base, value, end] of rows) assert.deepEqual([strtoul(s, base).value, strtoul(s, base).end], [value, end], s);
});

test('strtol, atol and atoi', () => {
  assert.equal(strtol('-12abc', 10).value, -12n);
  assert.equal(strtol('9223372036854775808', 10).value, 9223372036854775807n);
  assert.equal(atol('1e3'), 1n);
  assert.equal(atoi('4294967297'), 1);
  assert.equal(u16(atoi('70000')), 4464);
  assert.equal(atoi('abc'), 0);
});

test('inet_aton accepts the short and C-number forms', () => {
  const rows: [string, string | undefined][] = [
    ['1.2.3.4', '1.2.3.4'],
    ['1.2.3', '1.2.0.3'],
    ['10.1', '10.0.0.1'],
    ['16909060', '1.2.3.4'],
    ['0x7f.1', '127.0.0.1'],
    ['010.0.0.1', '8.0.0.1'],
    ['1.2.3.4 trailing', '1.2.3.4'],
    ['1.2.3.4x', undefined],
    ['300.1.1.1', undefined],
    ['1.2.3.4.5', undefined],
    ['', undefined],
    ['.1', undefined],
  ];
  for (const [s, want] of rows) {
    const b = inetAton(s);
    assert.equal(b === undefined ? undefined : [...b].join('.'), want, s);
  }
});

test('inet_pton is strict', () => {
  assert.equal(inetPton4('1.2.3.04'), undefined);
  assert.deepEqual([...inetPton4('1.2.3.4')!], [1, 2, 3, 4]);
  const rows: [string, string | undefined][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['1::2::3', undefined],
    ['12345::', undefined],
    [':1', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1:', undefined],
    ['', undefined],
  ];
  for (const [s, want] of rows) {
    const b = inetPton6(s);
    assert.equal(b === undefined ? undefined : formatIPv6(b), want, s);
  }
});

test('strncasecmp prefix semantics', () => {
  assert.ok(strncasecmpEq('as', 'ASSURED', 2));
  assert.ok(!strncasecmpEq('assuredx', 'ASSURED', 8));
  assert.ok(strncasecmpEq('', 'x', 0));
});
