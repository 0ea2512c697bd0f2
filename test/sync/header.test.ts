import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NET_F, NET_T } from '../../src/sync/consts.js';
import { decodeSyncHeader, encodeSyncHeader, isRangeForm, seqBefore, type SyncHeader } from '../../src/sync/header.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { Writer } from '../../src/wire/writer.js';

const enc = (h: SyncHeader): Uint8Array => {
  const w = new Writer(16);
  encodeSyncHeader(w, h);
  return w.finish();
};

describe('sync header: bit packing', () => {
  it('byte 0 is version << 4 | type, then flags, len and seq big-endian', () => {
    assert.deepStrictEqual(enc({ version: 1, type: 2, flags: 0x40, len: 0x1234, seq: 0xa1b2c3d4 }), Uint8Array.of(0x12, 0x40, 0x12, 0x34, 0xa1, 0xb2, 0xc3, 0xd4));
  });

  it('the 16-byte control form adds from and to, big-endian', () => {
    const h: SyncHeader = { version: 1, type: 10, flags: 0x08, len: 16, seq: 1, from: 0x01020304, to: 0xfffffffe };
    const b = enc(h);
    assert.deepStrictEqual(b, Uint8Array.of(0x1a, 0x08, 0, 16, 0, 0, 0, 1, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xfe));
    assert.deepStrictEqual(decodeSyncHeader(b), h);
  });

  it('decodes the 8-byte form at an offset, leaving from/to out', () => {
    const b = Uint8Array.of(0xee, 0x10, 0x20, 0x00, 0x08, 0, 0, 0, 9, 0xee);
    assert.deepStrictEqual(decodeSyncHeader(b, 1, 9), { version: 1, type: 0, flags: 0x20, len: 8, seq: 9 });
  });

  it('keeps the version nibble as sent (checking it is the receiver\'s job)', () => {
    assert.deepStrictEqual(decodeSyncHeader(Uint8Array.of(0xf5, 0, 0, 8, 0, 0, 0, 0)), { version: 15, type: 5, flags: 0, len: 8, seq: 0 });
  });

  it('too few bytes is DecodeError SHORT (8, and 16 for the control form)', () => {
    assert.throws(() => decodeSyncHeader(Uint8Array.of(0x1a, 0x10, 0, 8, 0, 0, 0)), (e: unknown) => e instanceof DecodeError && e.code === 'SHORT');
    assert.throws(() => decodeSyncHeader(Uint8Array.of(0x1a, 0x08, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0)), (e: unknown) => e instanceof DecodeError && e.code === 'SHORT');
  });

  it('a version or type over 4 bits cannot be encoded', () => {
    assert.throws(() => enc({ version: 16, type: 0, flags: 0, len: 8, seq: 0 }), RangeError);
    assert.throws(() => enc({ version: 1, type: 16, flags: 0, len: 8, seq: 0 }), RangeError);
  });

  it('the 16-byte form is CTL with ACK, NACK or RESYNC (HDR_NETWORK2HOST)', () => {
    const cases: [number, number, boolean][] = [
      [NET_T.CTL, NET_F.ACK, true],
      [NET_T.CTL, NET_F.NACK, true],
      [NET_T.CTL, NET_F.RESYNC | NET_F.HELLO, true],
      [NET_T.CTL, NET_F.ALIVE, false],
      [NET_T.CTL, 0, false],
      [NET_T.STATE_CT_NEW, NET_F.ACK, false],
    ];
    for (const [type, flags, want] of cases) assert.equal(isRangeForm(type, flags), want, `type ${type} flags ${flags}`);
  });

  it('serial-number order wraps at 2^32', () => {
    assert.equal(seqBefore(1, 2), true);
    assert.equal(seqBefore(2, 1), false);
    assert.equal(seqBefore(5, 5), false);
    assert.equal(seqBefore(0xffffffff, 0), true);
    assert.equal(seqBefore(0, 0xffffffff), false);
    assert.equal(seqBefore(0x7fffffff, 0), false);
    assert.equal(seqBefore(0x80000001, 0), true);
  });
});
