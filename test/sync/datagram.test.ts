import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DatagramPacker, decodeDatagram, encodeDatagrams, SYNC_REJECT_INFO, type SyncRejectReason } from '../../src/sync/datagram.js';
import { ctBodyOf } from '../../src/sync/ct-body.js';
import { bytesOfLatin1 } from '../../src/wire/latin1.js';
import { conntrack } from '../helpers/arbitraries.js';
import { encodeSyncMessage, type SyncMessage, type SyncMode } from '../../src/sync/message.js';
import type { DecodeCode } from '../../src/wire/decode-error.js';
import { be16, be32, bytes, CT_BODY, ctl, EXP_BODY, msg, nta } from './build.js';
import { SYNC_GOLDEN } from './golden-expected.js';

const ALIVE = ctl(0x10, 7);

interface Case {
  readonly name: string;
  readonly input: Uint8Array;
  readonly mode?: SyncMode;
  readonly stream?: boolean;
  /** kinds of the messages accepted, in order */
  readonly kinds: readonly string[];
  /** reasons (and body DecodeError codes) of the rejections, in order */
  readonly errors: readonly (SyncRejectReason | [SyncRejectReason, DecodeCode])[];
  readonly consumed?: number;
}

/**
 * One row per receive rule of §2.5 / §2.10 (sync-mode.c channel_handler_routine and
 * do_channel_handler_step, sync-ftfw.c / sync-notrack.c / sync-alarm.c recv, parse.c msg2ct and
 * msg2exp). A walk-stopping rule is shown with a valid message after it that is NOT decoded; a
 * skipping rule with one that is.
 */
const CASES: readonly Case[] = [
  // --- the walk (stops)
  { name: 'a valid message, then fewer than 8 bytes: truncated, stop', input: bytes(ALIVE, [1, 2, 3, 4, 5]), kinds: ['alive'], errors: ['SYNC_TRUNCATED'] },
  { name: 'len 0: bad size, stop', input: bytes(msg(0, 0, 1, [], { len: 0 }), ALIVE), kinds: [], errors: ['SYNC_BAD_SIZE'] },
  { name: 'len past the datagram: bad size, stop', input: bytes(ALIVE, msg(1, 0, 2, CT_BODY, { len: 200 })), kinds: ['alive'], errors: ['SYNC_BAD_SIZE'] },
  { name: 'ACK with fewer than 16 bytes left: truncated, stop', input: bytes(msg(10, 0x08, 1, [0, 0, 0, 0], { len: 12 })), kinds: [], errors: ['SYNC_TRUNCATED'] },
  { name: 'NACK whose len < 16 (16 bytes available): bad size, stop', input: bytes(msg(10, 0x04, 1, [...be32(1), ...be32(2)], { len: 12 }), ALIVE), kinds: [], errors: ['SYNC_BAD_SIZE'] },
  { name: 'RESYNC whose len < 16: bad size, stop', input: bytes(msg(10, 0x02, 1, [...be32(0), ...be32(0)], { len: 8 }), ALIVE), kinds: [], errors: ['SYNC_BAD_SIZE'] },
  { name: 'data whose len < 8: bad size, stop', input: bytes(msg(0, 0, 1, [0, 0, 0, 0], { len: 4 }), ALIVE), kinds: [], errors: ['SYNC_BAD_SIZE'] },
  // --- header checks (skip one message)
  { name: 'version 2: wrong protocol version, skipped', input: bytes(msg(10, 0x10, 1, [], { version: 2 }), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_VERSION'] },
  { name: 'version 0 on a data message: skipped', input: bytes(msg(0, 0, 1, CT_BODY, { version: 0 }), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_VERSION'] },
  { name: 'FTFW: type 7 (unused): malformed header', input: bytes(msg(7, 0, 1), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_HEADER'] },
  { name: 'FTFW: CTL without a control bit: malformed header', input: bytes(msg(10, 0x20, 1), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_HEADER'] },
  { name: 'FTFW: data type with the ACK bit: malformed header', input: bytes(msg(1, 0x08, 1, CT_BODY), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_HEADER'] },
  { name: 'FTFW: data with the unused bit 0: malformed header', input: bytes(msg(1, 0x01, 1, CT_BODY), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_HEADER'] },
  { name: 'FTFW: data with HELLO|HELLO_BACK is data', input: bytes(msg(1, 0x60, 1, CT_BODY)), kinds: ['ct'], errors: [] },
  { name: 'FTFW: ACK whose `to` is before `from`: malformed header', input: bytes(ctl(0x08, 1, 10, 9), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_HEADER'] },
  { name: 'FTFW: NACK whose `to` is before `from`: malformed header', input: bytes(ctl(0x04, 1, 10, 9), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_HEADER'] },
  { name: 'FTFW: ACK range across the 2^32 wrap is fine (serial arithmetic)', input: bytes(ctl(0x08, 1, 0xfffffff0, 5)), kinds: ['ack'], errors: [] },
  { name: 'FTFW: ACK|NACK is an ACK (ACK is tested first)', input: bytes(ctl(0x0c, 1, 3, 4)), kinds: ['ack'], errors: [] },
  { name: 'FTFW: NACK|ALIVE is a NACK', input: bytes(ctl(0x14, 1, 3, 4)), kinds: ['nack'], errors: [] },
  { name: 'FTFW: RESYNC|ALIVE is a RESYNC', input: bytes(ctl(0x12, 1, 0, 0)), kinds: ['resync'], errors: [] },
  { name: 'FTFW: an ALIVE longer than 8 bytes is accepted (len only has a minimum)', input: bytes(msg(10, 0x10, 1, [9, 9, 9, 9], { len: 12 })), kinds: ['alive'], errors: [] },
  { name: 'NOTRACK: ACK is a malformed header', mode: 'notrack', input: bytes(ctl(0x08, 1, 1, 2), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_HEADER'] },
  { name: 'NOTRACK: NACK is a malformed header', mode: 'notrack', input: bytes(ctl(0x04, 1, 1, 2)), kinds: [], errors: ['SYNC_BAD_HEADER'] },
  { name: 'NOTRACK: RESYNC and ALIVE are accepted', mode: 'notrack', input: bytes(ctl(0x02, 1, 0, 0), ALIVE), kinds: ['resync', 'alive'], errors: [] },
  { name: 'NOTRACK: ACK with to before from is still just a malformed header', mode: 'notrack', input: bytes(ctl(0x08, 1, 9, 1)), kinds: [], errors: ['SYNC_BAD_HEADER'] },
  { name: 'ALARM: type 7 without flags: bad message type', mode: 'alarm', input: bytes(msg(7, 0, 1), ALIVE), kinds: ['alive'], errors: ['SYNC_BAD_TYPE'] },
  { name: 'ALARM: CTL without flags: bad message type', mode: 'alarm', input: bytes(msg(10, 0, 1)), kinds: [], errors: ['SYNC_BAD_TYPE'] },
  { name: 'ALARM: data with HELLO is silently ignored', mode: 'alarm', input: bytes(msg(1, 0x20, 1, CT_BODY)), kinds: [], errors: ['SYNC_IGNORED'] },
  { name: 'ALARM: type 7 with a flag is silently ignored', mode: 'alarm', input: bytes(msg(7, 0x40, 1)), kinds: [], errors: ['SYNC_IGNORED'] },
  { name: 'ALARM: control messages pass (no range check)', mode: 'alarm', input: bytes(ctl(0x08, 1, 9, 1), ALIVE), kinds: ['ack', 'alive'], errors: [] },
  { name: 'ALARM: data without flags is data', mode: 'alarm', input: bytes(msg(0, 0, 1, CT_BODY)), kinds: ['ct'], errors: [] },
  // --- the attribute walk (msg2ct / msg2exp): malformed payload, skip
  { name: 'nta_len past the body', input: bytes(msg(0, 0, 1, [...CT_BODY, ...be16(40), ...be16(7), 0, 0, 0, 0]), ALIVE), kinds: ['alive'], errors: [['SYNC_BAD_PAYLOAD', 'BAD_LENGTH']] },
  { name: 'nta_len < 4', input: bytes(msg(0, 0, 1, [...be16(3), ...be16(7), 0, 0, 0, 0, ...CT_BODY]), ALIVE), kinds: ['alive'], errors: [['SYNC_BAD_PAYLOAD', 'BAD_LENGTH']] },
  { name: 'ct attribute id 33 (NTA_MAX)', input: bytes(msg(0, 0, 1, [...CT_BODY, ...nta(33, [0, 0, 0, 0])]), ALIVE), kinds: ['alive'], errors: [['SYNC_BAD_PAYLOAD', 'BAD_VALUE']] },
  { name: 'ct: an attribute both too short and unknown is "too short" (ct checks the length first)', input: bytes(msg(0, 0, 1, [...be16(2), ...be16(40), 0, 0, 0, 0])), kinds: [], errors: [['SYNC_BAD_PAYLOAD', 'BAD_LENGTH']] },
  { name: 'exp: an attribute both too short and unknown is "unknown" (exp checks the id first)', input: bytes(msg(3, 0, 1, [...be16(2), ...be16(40), 0, 0, 0, 0])), kinds: [], errors: [['SYNC_BAD_PAYLOAD', 'BAD_VALUE']] },
  { name: 'exp attribute id 21 (NTA_EXP_MAX)', input: bytes(msg(3, 0, 1, [...EXP_BODY, ...nta(21, [1])])), kinds: [], errors: [['SYNC_BAD_PAYLOAD', 'BAD_VALUE']] },
  { name: 'fixed size: NTA_STATUS with 3 bytes', input: bytes(msg(1, 0, 1, [...CT_BODY, ...nta(5, [0, 0, 1])])), kinds: [], errors: [['SYNC_BAD_PAYLOAD', 'BAD_SIZE']] },
  { name: 'fixed size: NTA_PORT with 8 bytes', input: bytes(msg(1, 0, 1, [...CT_BODY, ...nta(3, [0, 1, 0, 2, 0, 3, 0, 4])])), kinds: [], errors: [['SYNC_BAD_PAYLOAD', 'BAD_SIZE']] },
  { name: 'fixed size: NTA_EXP_TIMEOUT with 2 bytes', input: bytes(msg(4, 0, 1, [...EXP_BODY, ...nta(12, [0, 1])])), kinds: [], errors: [['SYNC_BAD_PAYLOAD', 'BAD_SIZE']] },
  { name: 'helper name of 12 characters (nta_len 17 > 16)', input: bytes(msg(0, 0, 1, [...CT_BODY, ...nta(27, [...Buffer.from('abcdefghijkl'), 0])])), kinds: [], errors: [['SYNC_BAD_PAYLOAD', 'BAD_SIZE']] },
  { name: 'helper name of 11 characters is accepted', input: bytes(msg(0, 0, 1, [...CT_BODY, ...nta(27, [...Buffer.from('abcdefghijk'), 0])])), kinds: ['ct'], errors: [] },
  { name: 'exp FN of 28 characters (nta_len 33 > 32)', input: bytes(msg(3, 0, 1, [...EXP_BODY, ...nta(20, [...Buffer.from('x'.repeat(28)), 0])])), kinds: [], errors: [['SYNC_BAD_PAYLOAD', 'BAD_SIZE']] },
  { name: 'labels over 1024 bytes', input: bytes(msg(0, 0, 1, [...CT_BODY, ...nta(28, new Array<number>(1028).fill(0))])), kinds: [], errors: [['SYNC_BAD_PAYLOAD', 'BAD_SIZE']] },
  { name: 'ragged labels (6 bytes) are ignored, the message accepted', input: bytes(msg(0, 0, 1, [...CT_BODY, ...nta(28, [1, 2, 3, 4, 5, 6])])), kinds: ['ct'], errors: [] },
  { name: 'a lone 4-byte attribute header at the end is never read (the walk needs more than 4 bytes)', input: bytes(msg(0, 0, 1, [...CT_BODY, ...nta(40, [])])), kinds: ['ct'], errors: [] },
  { name: 'a trailing fragment of 4 bytes or fewer is ignored', input: bytes(msg(0, 0, 1, [...CT_BODY, 0xff, 0xff, 0xff, 0xff])), kinds: ['ct'], errors: [] },
  { name: 'a body length not a multiple of 4: the next message starts right after', input: bytes(msg(0, 0, 1, [...CT_BODY, ...nta(4, [3]).slice(0, 5)]), ALIVE), kinds: ['ct', 'alive'], errors: [] },
  { name: 'no address group: incomplete (keepstate), skipped', input: bytes(msg(0, 0, 1, [...nta(5, be32(8)), ...nta(2, [17])]), ALIVE), kinds: ['alive'], errors: [['SYNC_INCOMPLETE', 'MISSING']] },
  { name: 'no L4PROTO: incomplete', input: bytes(msg(0, 0, 1, [...nta(0, [1, 1, 1, 1, 2, 2, 2, 2])])), kinds: [], errors: [['SYNC_INCOMPLETE', 'MISSING']] },
  { name: 'master port without master addresses: incomplete', input: bytes(msg(0, 0, 1, [...CT_BODY, ...nta(11, [0, 1, 0, 2])])), kinds: [], errors: [['SYNC_INCOMPLETE', 'MISSING']] },
  { name: 'expectation without a mask group: incomplete', input: bytes(msg(3, 0, 1, EXP_BODY.slice(0, 60))), kinds: [], errors: [['SYNC_INCOMPLETE', 'MISSING']] },
  { name: 'a bad payload does not stop the walk', input: bytes(msg(0, 0, 1, nta(40, [1])), msg(0, 0, 2, CT_BODY), ALIVE), kinds: ['ct', 'alive'], errors: [['SYNC_BAD_PAYLOAD', 'BAD_VALUE']] },
  // --- streams (TCP channel)
  { name: 'stream: a message cut at the end is kept, not an error', stream: true, input: bytes(ALIVE, ctl(0x08, 2, 1, 1).slice(0, 10)), kinds: ['alive'], errors: [], consumed: 8 },
  { name: 'stream: a cut header is kept', stream: true, input: bytes(ALIVE, [0x1a, 0x10, 0]), kinds: ['alive'], errors: [], consumed: 8 },
  { name: 'stream: len 0 is still an error', stream: true, input: bytes(msg(0, 0, 1, [], { len: 0 })), kinds: [], errors: ['SYNC_BAD_SIZE'], consumed: 8 },
  { name: 'empty input', input: new Uint8Array(0), kinds: [], errors: [] },
];

describe('sync datagram: receive rules (§2.5, §2.10)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const d = decodeDatagram(c.input, { ...(c.mode !== undefined ? { mode: c.mode } : {}), ...(c.stream === true ? { stream: true } : {}) });
      assert.deepStrictEqual(
        d.messages.map((m) => m.kind),
        c.kinds,
      );
      assert.deepStrictEqual(
        d.errors.map((e) => (e.error !== undefined ? [e.reason, e.error.code] : e.reason)),
        c.errors,
      );
      assert.equal(d.consumed, c.consumed ?? c.input.length);
    });
  }

  it('a rejection says where the message was, how long, and its header', () => {
    const input = bytes(ALIVE, msg(7, 0x40, 0xdeadbeef, [1, 2, 3, 4]), ALIVE);
    const d = decodeDatagram(input);
    assert.deepStrictEqual(d.errors, [{ reason: 'SYNC_BAD_HEADER', offset: 8, length: 12, type: 7, flags: 0x40, seq: 0xdeadbeef }]);
  });

  it('a stopping rejection covers the rest of the datagram', () => {
    const d = decodeDatagram(bytes(ALIVE, msg(0, 0, 5, [], { len: 0 }), ALIVE));
    assert.deepStrictEqual(d.errors, [{ reason: 'SYNC_BAD_SIZE', offset: 8, length: 16, type: 0, flags: 0, seq: 5 }]);
  });

  it('every reason maps to a conntrackd counter, or is marked as keepstate-only', () => {
    assert.deepStrictEqual(
      Object.entries(SYNC_REJECT_INFO).filter(([, i]) => i.malformed).map(([, i]) => i.counter),
      ['Truncated message', 'Bad message size', 'Wrong protocol version', 'Malformed header', 'Bad message type', 'Malformed payload'],
    );
    assert.equal(SYNC_REJECT_INFO.SYNC_INCOMPLETE.malformed, false);
    assert.equal(SYNC_REJECT_INFO.SYNC_IGNORED.counter, null);
  });

  it('a payload rejection carries the DecodeError with the attribute name in its path', () => {
    const d = decodeDatagram(bytes(msg(0, 0, 1, [...CT_BODY, ...nta(5, [0, 0, 1])])));
    assert.deepStrictEqual(d.errors[0]?.error?.path, ['sync', 'ct', 'NTA_STATUS']);
    assert.equal(d.errors[0]?.error?.offset, 8 + CT_BODY.length);
  });

  it('duplicate attributes: the later one wins', () => {
    const d = decodeDatagram(bytes(msg(0, 0, 1, [...CT_BODY, ...nta(5, be32(0x19e)), ...nta(7, be32(1)), ...nta(7, be32(2))])));
    const m = d.messages[0];
    assert.ok(m?.kind === 'ct');
    assert.equal(m.ct.status, 0x19e);
    assert.equal(m.ct.mark, 2);
  });
});

describe('sync datagram: batching (§2.9)', () => {
  const ack = (seq: number): SyncMessage => ({ kind: 'ack', seq, flags: 0x08, from: seq, to: seq });

  it('appends while used + len < mtu - 28 (strictly), so a datagram never reaches mtu - 28', () => {
    // mtu 76 → a 48-byte buffer: two 16-byte ACKs fit (32 + 16 = 48 is not < 48), the third goes next.
    const out = encodeDatagrams([ack(1), ack(2), ack(3), ack(4), ack(5)], 76);
    assert.deepStrictEqual(out.map((d) => d.length), [32, 32, 16]);
    // mtu 77 → 49 bytes: three fit
    assert.deepStrictEqual(encodeDatagrams([ack(1), ack(2), ack(3), ack(4)], 77).map((d) => d.length), [48, 16]);
  });

  it('TCP channels assume 40 bytes of overhead', () => {
    assert.deepStrictEqual(encodeDatagrams([ack(1), ack(2), ack(3)], 88, { overhead: 40 }).map((d) => d.length), [32, 16]);
  });

  it('keeps the order and never splits a message', () => {
    const msgs = SYNC_GOLDEN['sync-dgram-bulk.hex']!.messages;
    const out = encodeDatagrams(msgs, 300);
    for (const d of out) assert.ok(d.length < 300 - 28);
    const back = out.flatMap((d) => {
      const r = decodeDatagram(d);
      assert.deepStrictEqual(r.errors, []);
      return r.messages;
    });
    assert.deepStrictEqual(back, msgs);
    assert.deepStrictEqual(Buffer.concat(out), Buffer.concat(msgs.map((m) => encodeSyncMessage(m))));
  });

  it('the 11-message burst conntrackd sent fits one 1500-MTU datagram, as captured', () => {
    const c = SYNC_GOLDEN['sync-dgram-bulk.hex']!;
    const out = encodeDatagrams(c.messages, 1500);
    assert.equal(out.length, 1);
    assert.ok(out[0]!.length <= 1471);
  });

  it('nothing to send gives no datagram', () => {
    assert.deepStrictEqual(encodeDatagrams([], 1500), []);
  });

  it('a message that can never fit the buffer is refused (conntrackd would loop forever)', () => {
    assert.throws(() => encodeDatagrams([ack(1)], 44), RangeError); // 16-byte buffer: 0 + 16 is not < 16
    assert.deepStrictEqual(encodeDatagrams([ack(1)], 45).map((d) => d.length), [16]);
  });
});

describe('DatagramPacker data messages', () => {
  it('a body given as bytes (a cache record) packs as the same body given as a string, and as the encoder writes it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(conntrack(), fc.nat(0xffffffff), fc.nat(5)), { minLength: 1, maxLength: 40 }), (items) => {
        const viaString: Uint8Array[] = [];
        const viaBytes: Uint8Array[] = [];
        const a = new DatagramPacker(1500, 28, (d) => viaString.push(d));
        const b = new DatagramPacker(1500, 28, (d) => viaBytes.push(d));
        const expected: SyncMessage[] = [];
        for (const [ct, seq, pad] of items) {
          if (ct.orig === undefined) continue;
          const body = ctBodyOf(ct);
          a.commitBody(0, 0, seq, body);
          const held = new Uint8Array(pad + body.length);
          held.set(bytesOfLatin1(body), pad);
          b.commitBytes(0, 0, seq, held, pad, body.length);
          expected.push({ kind: 'ct', op: 'new', seq, flags: 0, ct });
        }
        a.flush();
        b.flush();
        assert.deepEqual(viaBytes, viaString);
        assert.deepEqual(viaString, encodeDatagrams(expected, 1500));
      }),
      { numRuns: 100 },
    );
  });

  it('keeps every datagram it handed out as it was while it packs on, across many chunks (each commit kind)', () => {
    const cts = fc.sample(conntrack(), { numRuns: 3000, seed: 7 }).filter((ct) => ct.orig !== undefined);
    const got: Uint8Array[] = [];
    const p = new DatagramPacker(1500, 28, (d) => got.push(d));
    const expected: SyncMessage[] = [];
    cts.forEach((ct, i) => {
      const body = ctBodyOf(ct);
      if (i % 3 === 0) p.commitBody(0, 0, i, body);
      else if (i % 3 === 1) p.commitBytes(0, 0, i, bytesOfLatin1(body), 0, body.length);
      else {
        p.writer.reset();
        p.writer.bytes(encodeSyncMessage({ kind: 'ct', op: 'new', seq: i, flags: 0, ct }));
        p.commit();
      }
      expected.push({ kind: 'ct', op: 'new', seq: i, flags: 0, ct });
    });
    p.flush();
    const want = encodeDatagrams(expected, 1500);
    assert.ok(want.reduce((n, d) => n + d.length, 0) > 4 * 64 * 1024, 'more than four chunks');
    assert.deepEqual(got, want);
  });
});
