import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { beginNested, decodeAttrs, endAttr, forEachAttr, putString, putU16be, putU32be } from '../../src/netlink/attrs.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { parseAnnotatedHex } from '../../src/wire/hex.js';
import { Reader } from '../../src/wire/reader.js';
import { Writer } from '../../src/wire/writer.js';

describe('netlink attributes', () => {
  it('writes nested attributes with patched lengths and padding', () => {
    const w = new Writer();
    const at = beginNested(w, 1);
    putU16be(w, 2, 0x1234);
    putString(w, 3, 'ftp');
    endAttr(w, at);
    putU32be(w, 4, 0xdeadbeef);
    assert.deepEqual(
      w.finish(),
      parseAnnotatedHex(`
        1400 0180          # len 20, type 1 | NLA_F_NESTED
          0600 0200 1234 0000   # u16 be + 2 pad
          0800 0300 66747000    # "ftp\\0"
        0800 0400 deadbeef`),
    );
  });

  it('walks attributes, masks the flag bits and keeps the full type in decodeAttrs', () => {
    const b = parseAnnotatedHex('0800 0180 0500 0100 | 0500 0200 ff 000000'.replace('|', ''));
    const seen: [number, number][] = [];
    forEachAttr(new Reader(b), (type, full) => seen.push([type, full]));
    assert.deepEqual(seen, [
      [1, 0x8001],
      [2, 2],
    ]);
    const raw = decodeAttrs(new Reader(b));
    assert.equal(raw[0]!.type, 0x8001);
    assert.deepEqual(Array.from(raw[1]!.data), [0xff]);
  });

  const bad: [string, string, DecodeError['code']][] = [
    ['nla_len below 4', '0200 0100', 'BAD_LENGTH'],
    ['nla_len past the end', '0c00 0100 00000000', 'BAD_LENGTH'],
    ['a truncated header', '0800 01', 'SHORT'],
  ];
  for (const [name, hex, code] of bad) {
    it(`rejects ${name} with DecodeError ${code}`, () => {
      assert.throws(
        () => decodeAttrs(new Reader(parseAnnotatedHex(hex))),
        (e: unknown) => e instanceof DecodeError && e.code === code,
      );
    });
  }
});
