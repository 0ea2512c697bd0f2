import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifySync, decodeSyncMessage, encodeSyncMessage, type SyncMessage } from '../../src/sync/message.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { roundTrip } from '../helpers/roundtrip.js';
import { bytes, ctl, CT_BODY, msg } from './build.js';

describe('sync message: classification by protocol', () => {
  const rows: [string, number, number, string, string, string][] = [
    // name, type, flags, ftfw, notrack, alarm
    ['CT_NEW', 0, 0, 'data', 'data', 'data'],
    ['EXP_DEL with HELLO_BACK', 5, 0x40, 'data', 'data', 'ignored'],
    ['type 6', 6, 0, 'bad-header', 'bad-header', 'bad-type'],
    ['ACK', 10, 0x08, 'ack', 'bad-header', 'ack'],
    ['NACK', 10, 0x04, 'nack', 'bad-header', 'nack'],
    ['RESYNC|HELLO', 10, 0x22, 'resync', 'resync', 'resync'],
    ['ALIVE', 10, 0x10, 'alive', 'alive', 'alive'],
    ['CTL, no bit', 10, 0, 'bad-header', 'bad-header', 'bad-type'],
    ['CTL, HELLO only', 10, 0x20, 'bad-header', 'bad-header', 'ignored'],
    ['CT_UPD with NACK', 1, 0x04, 'bad-header', 'bad-header', 'ignored'],
  ];
  for (const [name, type, flags, ftfw, notrack, alarm] of rows) {
    it(name, () => {
      assert.equal(classifySync(type, flags, 'ftfw'), ftfw);
      assert.equal(classifySync(type, flags, 'notrack'), notrack);
      assert.equal(classifySync(type, flags, 'alarm'), alarm);
    });
  }
});

describe('sync message: control messages', () => {
  const cases: [string, SyncMessage, number[]][] = [
    ['ACK', { kind: 'ack', seq: 0x6b016964, flags: 0x08, from: 0x6b016963, to: 0x6b016963 }, ctl(0x08, 0x6b016964, 0x6b016963)],
    ['NACK', { kind: 'nack', seq: 5, flags: 0x04, from: 7, to: 9 }, ctl(0x04, 5, 7, 9)],
    ['RESYNC|HELLO', { kind: 'resync', seq: 1, flags: 0x22, from: 0, to: 0 }, ctl(0x22, 1, 0, 0)],
    ['ALIVE|HELLO|HELLO_BACK', { kind: 'alive', seq: 0xffffffff, flags: 0x70 }, ctl(0x70, 0xffffffff)],
  ];
  for (const [name, m, raw] of cases) {
    it(`${name}: bytes and round trip`, () => {
      assert.deepStrictEqual(roundTrip(m, (v) => encodeSyncMessage(v), (b) => decodeSyncMessage(b)), Uint8Array.from(raw));
    });
  }

  it("the encoder ORs in the kind's own bit", () => {
    assert.deepStrictEqual(encodeSyncMessage({ kind: 'ack', seq: 1, flags: 0, from: 1, to: 1 }), bytes(ctl(0x08, 1, 1, 1)));
    assert.deepStrictEqual(encodeSyncMessage({ kind: 'alive', seq: 1, flags: 0x20 }), bytes(ctl(0x30, 1)));
  });

  it('refuses flags that a receiver would read as another kind', () => {
    assert.throws(() => encodeSyncMessage({ kind: 'nack', seq: 1, flags: 0x08, from: 1, to: 1 }), RangeError); // ACK wins
    assert.throws(() => encodeSyncMessage({ kind: 'alive', seq: 1, flags: 0x02 }), RangeError); // RESYNC wins
    assert.throws(() => encodeSyncMessage({ kind: 'ct', op: 'new', seq: 1, flags: 0x10, ct: { family: 'ipv4' } }), RangeError);
  });
});

describe('sync message: decodeSyncMessage errors', () => {
  const code = (input: Uint8Array, want: string, mode?: 'notrack') => {
    assert.throws(
      () => decodeSyncMessage(input, mode === undefined ? {} : { mode }),
      (e: unknown) => e instanceof DecodeError && e.code === want,
    );
  };
  it('fewer than 8 bytes: SHORT', () => code(Uint8Array.of(0x1a, 0x10, 0, 8), 'SHORT'));
  it('len shorter than the header: BAD_LENGTH', () => code(bytes(msg(0, 0, 1, [], { len: 6 })), 'BAD_LENGTH'));
  it('ACK with len 8 (16 bytes given): BAD_LENGTH', () => code(bytes(msg(10, 8, 1, [0, 0, 0, 0, 0, 0, 0, 0], { len: 8 })), 'BAD_LENGTH'));
  it('len past the bytes: SHORT', () => code(bytes(msg(10, 0x10, 1, [], { len: 12 })), 'SHORT'));
  it('bytes after the message: TRAILING', () => code(bytes(ctl(0x10, 1), [0]), 'TRAILING'));
  it('version 2: BAD_VALUE', () => code(bytes(msg(10, 0x10, 1, [], { version: 2 })), 'BAD_VALUE'));
  it('a refused header: BAD_VALUE', () => code(bytes(msg(10, 0, 1)), 'BAD_VALUE'));
  it('an ACK range ending before it starts: BAD_VALUE', () => code(bytes(ctl(0x08, 1, 5, 4)), 'BAD_VALUE'));
  it('NOTRACK refuses ACK', () => code(bytes(ctl(0x08, 1, 5, 5)), 'BAD_VALUE', 'notrack'));
  it('a payload error keeps its own code', () => code(bytes(msg(0, 0, 1, [...CT_BODY, 0, 9, 0, 5, 1, 2, 3, 4, 5])), 'BAD_SIZE'));
});
