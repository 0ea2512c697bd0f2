import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../../src/wire/ip.js';

describe('address text', () => {
  const v6: [string, string][] = [
    ['fd00:0:0:0:0:0:0:1', 'fd00::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:ffff:c000:0201', '::ffff:192.0.2.1'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
  ];
  for (const [input, canonical] of v6) {
    it(`formats ${input} as ${canonical}, like inet_ntop`, () => {
      const b = parseIPv6(input);
      assert.ok(b);
      assert.equal(formatIPv6(b), canonical);
      assert.deepEqual(parseIPv6(canonical), b);
    });
  }
  it('parses and formats IPv4, refusing malformed text', () => {
    assert.equal(formatIPv4(parseIPv4('10.0.255.1')!), '10.0.255.1');
    for (const bad of ['10.0.0', '10.0.0.256', '1.2.3.4.5', 'a.b.c.d', '01.2.3.']) assert.equal(parseIPv4(bad), undefined, bad);
    for (const bad of ['1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9']) assert.equal(parseIPv6(bad), undefined, bad);
  });
});
