import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BATCH_HDRLEN, decodeBatch, encodeBatch, type Datagram } from '../../src/native/batch.js';
import { DecodeError } from '../../src/wire/decode-error.js';

const u8 = (...b: number[]): Uint8Array => new Uint8Array(b);
const plain = (ds: readonly Datagram[]): unknown[] =>
  ds.map((d) => ({
    data: [...d.data],
    flags: d.flags,
    ...(d.name !== undefined ? { name: [...d.name] } : {}),
    ...(d.ctrl !== undefined ? { ctrl: [...d.ctrl] } : {}),
  }));

describe('batch layout', () => {
  const cases: readonly { name: string; ds: Datagram[] }[] = [
    { name: 'empty batch', ds: [] },
    { name: 'data only, unaligned', ds: [{ data: u8(1, 2, 3), flags: 0 }] },
    { name: 'empty datagram', ds: [{ data: u8(), flags: 0x20 }] },
    {
      name: 'name, ctrl and data, several',
      ds: [
        { data: u8(9, 9, 9, 9, 9), flags: 0, name: u8(16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), ctrl: u8(1, 2) },
        { data: u8(7), flags: 8, name: u8(2, 0, 1) },
        { data: u8(6, 6, 6, 6), flags: 0, ctrl: u8(5, 5, 5, 5, 5) },
      ],
    },
  ];
  for (const c of cases) {
    test(`round trip: ${c.name}`, () => {
      const bytes = encodeBatch(c.ds);
      assert.equal(bytes.length % 4, 0);
      const back = decodeBatch(bytes, c.ds.length);
      assert.deepEqual(plain(back), plain(c.ds));
      assert.deepEqual(encodeBatch(back), bytes);
    });
  }

  test('the header is host order with every part padded to 4', () => {
    const bytes = encodeBatch([{ data: u8(0xaa), flags: 0x20, name: u8(1, 2, 3), ctrl: u8(4) }]);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    assert.equal(v.getUint32(0, le), 1); // datalen
    assert.equal(v.getUint32(4, le), 0x20); // msg_flags
    assert.equal(v.getUint16(8, le), 3); // namelen
    assert.equal(v.getUint16(10, le), 1); // ctrllen
    assert.equal(v.getUint32(12, le), 0);
    assert.deepEqual([...bytes.subarray(BATCH_HDRLEN)], [1, 2, 3, 0, 4, 0, 0, 0, 0xaa, 0, 0, 0]);
  });

  test('data views share the batch buffer (no copy)', () => {
    const bytes = encodeBatch([{ data: u8(1, 2), flags: 0 }]);
    const [d] = decodeBatch(bytes, 1);
    assert.equal(d?.data.buffer, bytes.buffer);
  });

  const bad: readonly { name: string; bytes: Uint8Array; count: number; code: string }[] = [
    { name: 'count larger than the batch', bytes: encodeBatch([{ data: u8(1), flags: 0 }]), count: 2, code: 'SHORT' },
    { name: 'count smaller than the batch', bytes: encodeBatch([{ data: u8(1), flags: 0 }]), count: 0, code: 'TRAILING' },
    { name: 'truncated header', bytes: u8(1, 0, 0, 0, 0, 0), count: 1, code: 'SHORT' },
    { name: 'datalen past the end', bytes: encodeBatch([{ data: u8(1), flags: 0 }]).slice(0, 17), count: 1, code: 'SHORT' },
  ];
  for (const c of bad) {
    test(`malformed: ${c.name}`, () => {
      assert.throws(
        () => decodeBatch(c.bytes, c.count),
        (e: unknown) => e instanceof DecodeError && e.code === c.code,
      );
    });
  }
});
