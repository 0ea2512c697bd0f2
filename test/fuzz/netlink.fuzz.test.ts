import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { concat } from '../helpers/nla-build.js';
import { NLM_F, NLMSGERR_ATTR } from '../../src/netlink/consts.js';
import { decodeAck } from '../../src/netlink/errors.js';
import { decodeMessages, encodeMessage } from '../../src/netlink/message.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { Writer } from '../../src/wire/writer.js';

function valueOrDecodeError<T>(f: () => T): T | DecodeError {
  try {
    return f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const message = fc.record({ type: u16, flags: u16, seq: u32, pid: u32, payload: fc.uint8Array({ maxLength: 64 }) }, { noNullPrototype: true });


describe('fuzz: decodeMessages', () => {
  it('any bytes give messages or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        valueOrDecodeError(() => decodeMessages(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('a datagram of encoded messages decodes to the same messages, payloads as views', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 6 }), (msgs) => {
        const buf = concat(msgs.map((m) => encodeMessage(m.type, m.flags, m.seq, m.pid, m.payload)));
        const got = decodeMessages(buf);
        assert.deepStrictEqual(
          got.map((m) => ({ ...m, payload: Uint8Array.from(m.payload) })),
          msgs,
        );
        for (const m of got) assert.equal(m.payload.buffer, buf.buffer);
      }),
    );
  });

  it('a truncated datagram of messages is a DecodeError, never a shorter list', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), fc.nat(), (msgs, cut) => {
        const buf = concat(msgs.map((m) => encodeMessage(m.type, m.flags, m.seq, m.pid, m.payload)));
        const at = 1 + (cut % (buf.length - 1));
        const r = valueOrDecodeError(() => decodeMessages(buf.subarray(0, at)));
        if (!(r instanceof DecodeError)) {
          // only a cut at the end of a message (its alignment padding may be cut off) decodes,
          // and then to exactly the messages before the cut
          assert.ok(r.length <= msgs.length);
          assert.deepStrictEqual(
            r.map((m) => ({ ...m, payload: Uint8Array.from(m.payload) })),
            msgs.slice(0, r.length),
          );
          const whole = concat(msgs.slice(0, r.length).map((m) => encodeMessage(m.type, m.flags, m.seq, m.pid, m.payload)));
          assert.ok(at <= whole.length && at > whole.length - 4, `cut at ${at}, messages end at ${whole.length}`);
        }
      }),
    );
  });
});

/** nlmsgerr builds an NLMSG_ERROR payload: -errno, the echoed request header (+ body on error unless capped), then ext-ack TLVs. */
function nlmsgerr(errno: number, req: { type: number; flags: number; seq: number; pid: number; body: Uint8Array }, capped: boolean, tlv?: { msg?: string; offs?: number }): Uint8Array {
  const w = new Writer();
  w.u32ne(-errno >>> 0);
  w.u32ne(16 + req.body.length).u16ne(req.type).u16ne(req.flags).u32ne(req.seq).u32ne(req.pid);
  if (!capped && errno !== 0) w.bytes(req.body).align4();
  if (tlv?.msg !== undefined) {
    const s = new TextEncoder().encode(`${tlv.msg}\0`);
    w.u16ne(4 + s.length).u16ne(NLMSGERR_ATTR.MSG).bytes(s).align4();
  }
  if (tlv?.offs !== undefined) w.u16ne(8).u16ne(NLMSGERR_ATTR.OFFS).u32ne(tlv.offs);
  return w.finish();
}

describe('fuzz: decodeAck', () => {
  it('any bytes and flags give an Ack or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), u16, (b, flags) => {
        valueOrDecodeError(() => decodeAck(b, flags));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes errno, the echoed seq and the extended ack of any NLMSG_ERROR the kernel can send', () => {
    const text = fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4095 }),
        fc.record({ type: u16, flags: u16, seq: u32, pid: u32, body: fc.uint8Array({ maxLength: 40 }) }),
        fc.boolean(),
        fc.option(fc.record({ msg: text, offs: u32 }, { requiredKeys: [] }), { nil: undefined }),
        (errno, req, capped, tlv) => {
          const flags = (capped ? NLM_F.CAPPED : 0) | (tlv !== undefined ? NLM_F.ACK_TLVS : 0);
          const ack = decodeAck(nlmsgerr(errno, req, capped, tlv), flags);
          assert.equal(ack.error, errno);
          assert.equal(ack.seq, req.seq);
          assert.equal(ack.extAckMsg, tlv?.msg);
          assert.equal(ack.extAckOffset, tlv?.offs);
        },
      ),
    );
  });
});
