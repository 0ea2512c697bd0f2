import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Conntrack, Expectation } from '../../src/ctnetlink/types.js';
import { decodeConntrackBody, syncViewOfConntrack, type SyncEncodeOptions } from '../../src/sync/conntrack.js';
import { decodeDatagram, encodeDatagrams, SYNC_REJECT_INFO, type SyncRejection } from '../../src/sync/datagram.js';
import { decodeExpectationBody, syncViewOfExpectation } from '../../src/sync/expectation.js';
import { decodeSyncMessage, encodeSyncMessage, type SyncMessage, type SyncMode, type SyncOp } from '../../src/sync/message.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { conntrack, expectation } from '../helpers/arbitraries.js';
import { roundTrip } from '../helpers/roundtrip.js';
import { loadSyncGolden, syncGoldenNames } from '../sync/golden-sync.js';

function valueOrDecodeError<T>(f: () => T): T | DecodeError {
  try {
    return f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
}

const concat = (parts: readonly Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

/**
 * messageLike generates byte strings shaped like conntrackd datagrams — headers with mostly
 * version 1, any type, flag bytes biased to real combinations, a length that is mostly right —
 * followed by attributes with ids around both tables' ends and the sizes the parsers check.
 */
const sizes = [0, 1, 2, 3, 4, 5, 8, 12, 16, 20, 24, 32, 36];
const ntaArb = fc
  .tuple(fc.integer({ min: 0, max: 40 }), fc.oneof(...sizes.map((n) => fc.uint8Array({ minLength: n, maxLength: n }))), fc.integer({ min: -3, max: 3 }), fc.boolean())
  .map(([id, data, skew, lie]) => {
    const len = lie ? Math.max(0, 4 + data.length + skew) : 4 + data.length;
    const out = new Uint8Array((4 + data.length + 3) & ~3);
    out.set([len >> 8, len & 0xff, id >> 8, id & 0xff]);
    out.set(data, 4);
    return out;
  });
const headerFlags = fc.oneof(fc.constantFrom(0, 0x02, 0x04, 0x08, 0x10, 0x20, 0x22, 0x40, 0x48, 0x68, 0x0c, 0x01), fc.integer({ min: 0, max: 255 }));
const messageLike = fc
  .tuple(
    fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
    fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 5 }) }, { weight: 2, arbitrary: fc.constant(10) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
    headerFlags,
    fc.nat({ max: 0xffffffff }),
    fc.array(ntaArb, { maxLength: 8 }),
    fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined, freq: 4 }),
  )
  .map(([version, type, flags, seq, attrs, forcedLen]) => {
    const body = concat(attrs);
    const len = forcedLen ?? 8 + body.length;
    return concat([Uint8Array.of((version << 4) | type, flags, len >> 8, len & 0xff, seq >>> 24, (seq >>> 16) & 0xff, (seq >>> 8) & 0xff, seq & 0xff), body]);
  });
const datagramLike = fc.array(messageLike, { maxLength: 5 }).map(concat);

const goldens = syncGoldenNames().map((n) => loadSyncGolden(n).raw);
const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 });
const mutatedGolden = fc.tuple(fc.constantFrom(...goldens), flips, fc.option(fc.nat(), { nil: undefined })).map(([g, f, cut]) => {
  const b = Uint8Array.from(g);
  for (const [i, v] of f) b[i % b.length] = v;
  return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
});

const inputs = fc.oneof(fc.uint8Array({ maxLength: 512 }), datagramLike, mutatedGolden);
const modes = fc.constantFrom<SyncMode>('ftfw', 'notrack', 'alarm');

function checkRejection(e: SyncRejection, length: number): void {
  assert.ok(e.reason in SYNC_REJECT_INFO, e.reason);
  assert.ok(e.offset >= 0 && e.offset + e.length <= length, 'rejection inside the input');
  if (e.error !== undefined) {
    assert.ok(e.error instanceof DecodeError);
    assert.equal(e.error.cause, undefined, `a body decoder threw something else: ${String(e.error.cause)}`);
  }
}

describe('fuzz: decodeDatagram takes any bytes, never throws, and accounts for every byte', () => {
  it('datagrams, every protocol, stream or not', () => {
    fc.assert(
      fc.property(inputs, modes, fc.boolean(), (b, mode, stream) => {
        const d = decodeDatagram(b, { mode, stream });
        for (const e of d.errors) checkRejection(e, b.length);
        assert.ok(d.consumed <= b.length);
        if (!stream) assert.equal(d.consumed, b.length);
        const offsets = d.errors.map((e) => e.offset);
        assert.deepStrictEqual([...offsets].sort((x, y) => x - y), offsets, 'rejections in order');
      }),
      { numRuns: 3000 },
    );
  });

  it('whatever decodes re-encodes to bytes that decode to the same again (decode ∘ encode ∘ decode)', () => {
    fc.assert(
      fc.property(inputs, modes, (b, mode) => {
        for (const m of decodeDatagram(b, { mode }).messages) {
          const opts: SyncEncodeOptions = m.kind === 'ct' ? { tcpWindowTracking: m.ct.protoinfo?.tcp?.wscaleOrig !== undefined } : {};
          const once = encodeSyncMessage(m, opts);
          const again = decodeDatagram(once, { mode });
          assert.deepStrictEqual(again.errors, []);
          assert.equal(again.messages.length, 1);
          assert.deepStrictEqual(encodeSyncMessage(again.messages[0]!, opts), once);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fuzz: the message decoders give a value or a DecodeError, nothing else', () => {
  const decoders: Record<string, (b: Uint8Array) => unknown> = {
    decodeSyncMessage: (b) => decodeSyncMessage(b),
    'decodeSyncMessage (notrack)': (b) => decodeSyncMessage(b, { mode: 'notrack' }),
    decodeConntrackBody: (b) => decodeConntrackBody(b, 0, b.length),
    decodeExpectationBody: (b) => decodeExpectationBody(b, 0, b.length),
  };
  const bodies = fc.oneof(inputs, messageLike, fc.array(ntaArb, { maxLength: 10 }).map(concat));
  for (const [name, decode] of Object.entries(decoders)) {
    it(name, () => {
      fc.assert(
        fc.property(bodies, (b) => {
          valueOrDecodeError(() => decode(b));
        }),
        { numRuns: 2000 },
      );
    });
  }
});

const op = fc.constantFrom<SyncOp>('new', 'upd', 'del');
const seq = fc.nat({ max: 0xffffffff });
const hello = fc.constantFrom(0, 0x20, 0x40, 0x60);
const encodeOpts = fc.record({ tcpWindowTracking: fc.boolean(), commitTimeout: fc.boolean() }, { requiredKeys: [] });
const utf8Len = (s: string): number => new TextEncoder().encode(s).length;

describe('fuzz: generated values (what the wire carries) survive encode → decode → encode', () => {
  it('arbitrary Conntrack: decode gives the documented view, re-encoding gives the same bytes', () => {
    fc.assert(
      fc.property(conntrack(), op, seq, hello, encodeOpts, (ct: Conntrack, o, s, flags, opts) => {
        const m: SyncMessage = { kind: 'ct', op: o, seq: s, flags, ct };
        const b = encodeSyncMessage(m, opts);
        const d = decodeDatagram(b);
        // The attribute walk comes before the mapping, so a payload error wins over a missing tuple.
        if (ct.helper !== undefined && utf8Len(ct.helper) > 11) {
          // conntrackd sends it, conntrackd refuses it (§7.7): the same here
          assert.deepStrictEqual(d.errors.map((e) => [e.reason, e.error?.path.at(-1)]), [['SYNC_BAD_PAYLOAD', 'NTA_HELPER_NAME']]);
          return;
        }
        if (ct.orig === undefined) {
          assert.deepStrictEqual(d.errors.map((e) => e.reason), ['SYNC_INCOMPLETE']);
          return;
        }
        assert.deepStrictEqual(d.errors, []);
        const back = d.messages[0]!;
        assert.deepStrictEqual(back, { ...m, ct: syncViewOfConntrack(ct, opts) });
        assert.deepStrictEqual(encodeSyncMessage(back, opts), b);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary Expectation', () => {
    fc.assert(
      fc.property(expectation(), op, seq, hello, encodeOpts, (exp: Expectation, o, s, flags, opts) => {
        const m: SyncMessage = { kind: 'exp', op: o, seq: s, flags, exp };
        const b = encodeSyncMessage(m, opts);
        const d = decodeDatagram(b);
        if ((exp.helper !== undefined && utf8Len(exp.helper) > 11) || (exp.fn !== undefined && utf8Len(exp.fn) > 27)) {
          assert.deepStrictEqual(d.errors.map((e) => e.reason), ['SYNC_BAD_PAYLOAD']);
          return;
        }
        if (exp.master === undefined || exp.tuple === undefined || exp.mask === undefined) {
          assert.deepStrictEqual(d.errors.map((e) => e.reason), ['SYNC_INCOMPLETE']);
          return;
        }
        assert.deepStrictEqual(d.errors, []);
        const back = d.messages[0]!;
        assert.deepStrictEqual(back, { ...m, exp: syncViewOfExpectation(exp, opts) });
        assert.deepStrictEqual(encodeSyncMessage(back, opts), b);
      }),
      { numRuns: 500 },
    );
  });

  it('control messages (the round-trip helper: value, identical bytes, decode at an offset)', () => {
    const ctl = fc.oneof(
      fc.tuple(fc.constantFrom('ack' as const, 'nack' as const), seq, seq, fc.nat({ max: 0x7fffffff }), hello).map(([kind, s, from, n, f]): SyncMessage => ({
        kind,
        seq: s,
        flags: f | (kind === 'ack' ? 0x08 : 0x04),
        from,
        to: (from + n) >>> 0,
      })),
      fc.tuple(seq, seq, seq, hello).map(([s, from, to, f]): SyncMessage => ({ kind: 'resync', seq: s, flags: f | 0x02, from, to })),
      fc.tuple(seq, hello).map(([s, f]): SyncMessage => ({ kind: 'alive', seq: s, flags: f | 0x10 })),
    );
    fc.assert(
      fc.property(ctl, (m) => {
        roundTrip(m, (v) => encodeSyncMessage(v), (b) => decodeSyncMessage(b));
      }),
      { numRuns: 500 },
    );
  });
});

describe('fuzz: batching never exceeds the MTU and keeps the order', () => {
  const message: fc.Arbitrary<SyncMessage> = fc.oneof(
    fc.tuple(seq, seq).map(([s, from]): SyncMessage => ({ kind: 'ack', seq: s, flags: 0x08, from, to: from })),
    fc.tuple(seq, hello).map(([s, f]): SyncMessage => ({ kind: 'alive', seq: s, flags: f | 0x10 })),
    fc.tuple(conntrack(), op, seq).map(([ct, o, s]): SyncMessage => ({ kind: 'ct', op: o, seq: s, flags: 0, ct })),
    fc.tuple(expectation(), op, seq).map(([exp, o, s]): SyncMessage => ({ kind: 'exp', op: o, seq: s, flags: 0, exp })),
  );
  it('every datagram < mtu - overhead, messages whole and in order, each flush forced by the next message', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 40 }), fc.integer({ min: 68, max: 9000 }), fc.constantFrom(28, 40), (msgs, mtu, overhead) => {
        const size = mtu - overhead;
        const each = msgs.map((m) => encodeSyncMessage(m));
        if (each.some((b) => b.length >= size)) {
          assert.throws(() => encodeDatagrams(msgs, mtu, { overhead }), RangeError);
          return;
        }
        const out = encodeDatagrams(msgs, mtu, { overhead });
        for (const d of out) assert.ok(d.length > 0 && d.length < size, `${d.length} vs ${size}`);
        assert.deepStrictEqual(concat(out), concat(each));
        // Greedy: a datagram was sent only because the next message did not fit.
        let k = 0;
        for (let i = 0; i < out.length; i++) {
          let used = 0;
          while (used < out[i]!.length) used += each[k++]!.length;
          assert.equal(used, out[i]!.length, 'messages are never split');
          if (i + 1 < out.length) assert.ok(used + each[k]!.length >= size);
        }
        assert.equal(k, each.length);
      }),
      { numRuns: 300 },
    );
  });
});
