import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecodeError } from '../../src/wire/decode-error.js';
import { parseAnnotatedHex, toHex } from '../../src/wire/hex.js';
import { Reader } from '../../src/wire/reader.js';
import { Writer } from '../../src/wire/writer.js';

describe('Reader and Writer', () => {
  it('read what the writer wrote, in both byte orders', () => {
    const w = new Writer(2);
    w.u8(1).u16be(0x0203).u16ne(0x0405).u32be(0x06070809).u32ne(0x0a0b0c0d).u64be(0x0102030405060708n).align4();
    const r = new Reader(w.finish());
    assert.deepEqual(
      [r.u8(), r.u16be(), r.u16ne(), r.u32be(), r.u32ne(), r.u64be(), r.remaining],
      [1, 0x0203, 0x0405, 0x06070809, 0x0a0b0c0d, 0x0102030405060708n, 3], // 21 bytes + 3 of padding
    );
  });

  it('turns every short read into DecodeError SHORT with the path', () => {
    const r = new Reader(new Uint8Array(3), 0, 3, ['msg']);
    const sub = r.sub(2, 'attr');
    assert.throws(
      () => sub.u32be(),
      (e: unknown) => e instanceof DecodeError && e.code === 'SHORT' && e.path.join('.') === 'msg.attr',
    );
    assert.throws(() => r.sub(2, 'x'), DecodeError);
  });

  it('parses annotated hex and refuses an odd digit count', () => {
    assert.deepEqual(parseAnnotatedHex('01 02 # comment 03\n0a'), new Uint8Array([1, 2, 10]));
    assert.throws(() => parseAnnotatedHex('012'), /odd number/);
    assert.equal(toHex(new Uint8Array([0, 255])), '00 ff');
  });
});
