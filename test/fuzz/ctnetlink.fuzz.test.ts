import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeConntrack, encodeConntrack, type CtLayout } from '../../src/ctnetlink/conntrack.js';
import { decodeCtEvent, decodeExpEvent, encodeCtEvent, encodeExpEvent } from '../../src/ctnetlink/event.js';
import { decodeExpectation, encodeExpectation } from '../../src/ctnetlink/expectation.js';
import { decodeNfgenmsg } from '../../src/ctnetlink/nfgenmsg.js';
import { decodeCpuStats, decodeExpCpuStats, decodeGlobalStats, encodeCpuStats, encodeExpCpuStats, encodeGlobalStats } from '../../src/ctnetlink/stats.js';
import { decodeTuple } from '../../src/ctnetlink/tuple.js';
import type { CtEventKind } from '../../src/ctnetlink/types.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { Reader } from '../../src/wire/reader.js';
import { conntrack, expectation } from '../helpers/arbitraries.js';
import { goldenNames, loadGolden } from '../helpers/golden.js';
import { attr, nest, payload, concat } from '../helpers/nla-build.js';
import { roundTrip } from '../helpers/roundtrip.js';

/** Every decoder under test, as a function of one byte string. */
const DECODERS: Record<string, (b: Uint8Array) => unknown> = {
  decodeConntrack,
  decodeExpectation,
  decodeCpuStats,
  decodeExpCpuStats,
  decodeGlobalStats,
  decodeNfgenmsg: (b) => decodeNfgenmsg(new Reader(b)),
  decodeTuple: (b) => decodeTuple(new Reader(b), 0, b.length, ['tuple']),
  decodeCtEvent: (b) => decodeCtEvent({ type: 0x0100 | (b[0] ?? 0) % 3, flags: (b[1] ?? 0) << 8, seq: 0, pid: 0, payload: b.subarray(2) }),
  decodeExpEvent: (b) => decodeExpEvent({ type: 0x0200 | (b[0] ?? 0) % 3, flags: (b[1] ?? 0) << 8, seq: 0, pid: 0, payload: b.subarray(2) }),
};

/** valueOrDecodeError runs `f` and fails the property if it throws anything but a DecodeError. */
function valueOrDecodeError<T>(f: () => T): T | DecodeError {
  try {
    return f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
}

/**
 * attrTree generates byte strings shaped like ctnetlink payloads — nfgenmsg, then attributes nested
 * up to a few levels, with small type numbers (so most are known to some decoder) and the payload
 * sizes decoders check for — to reach deeper than uniformly random bytes do.
 */
const sizes = [0, 1, 2, 3, 4, 5, 8, 12, 16, 20];
const leaf = fc.tuple(
  fc.integer({ min: 0, max: 30 }),
  fc.constantFrom(0, 0x4000),
  fc.oneof(...sizes.map((n) => fc.uint8Array({ minLength: n, maxLength: n }))),
).map(([type, flags, data]) => attr(type | flags, data));
const { node } = fc.letrec<{ node: Uint8Array }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc
      .tuple(fc.integer({ min: 0, max: 30 }), fc.boolean(), fc.array(tie('node'), { maxLength: 5 }))
      .map(([type, flagged, children]) => (flagged ? nest(type, ...children) : attr(type, concat(children)))),
  ),
}));
const attrTree = fc
  .tuple(fc.constantFrom(2, 10, 0, 7), fc.array(node, { maxLength: 8 }))
  .map(([family, nodes]) => payload(family, ...nodes));


/** mutatedGolden takes a real capture's payload and flips, truncates or extends it. */
const goldenPayloads = goldenNames().map((n) => loadGolden(n).msg.payload);
const mutatedGolden = fc
  .tuple(
    fc.constantFrom(...goldenPayloads),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.option(fc.nat(), { nil: undefined }),
  )
  .map(([p, flips, cut]) => {
    const b = Uint8Array.from(p);
    for (const [i, v] of flips) if (b.length > 0) b[i % b.length] = v;
    return cut === undefined || b.length === 0 ? b : b.subarray(0, cut % (b.length + 1));
  });

/** mutatedEncoded encodes a generated entry or expectation and flips a few bytes of it. */
const flip = (b: Uint8Array, flips: readonly [number, number][]): Uint8Array => {
  for (const [i, v] of flips) b[i % b.length] = v;
  return b;
};
const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 });
const mutatedEncoded = fc.oneof(
  fc.tuple(conntrack(), fc.constantFrom<CtLayout>('dump', 'event', 'destroy', 'request'), flips).map(([ct, l, f]) => flip(encodeConntrack(ct, l), f)),
  fc.tuple(expectation(), flips).map(([e, f]) => flip(encodeExpectation(e), f)),
);

const inputs = fc.oneof(fc.uint8Array({ maxLength: 256 }), attrTree, mutatedGolden, mutatedEncoded);

describe('fuzz: any bytes to any ctnetlink decoder give a value or a DecodeError', () => {
  for (const [name, decode] of Object.entries(DECODERS)) {
    it(name, () => {
      fc.assert(
        fc.property(inputs, (b) => {
          valueOrDecodeError(() => decode(b));
        }),
        { numRuns: 1500 },
      );
    });
  }
});

function stable<T>(decode: (b: Uint8Array) => T, encode: (v: T) => Uint8Array, b: Uint8Array): void {
  const d = valueOrDecodeError(() => decode(b));
  if (!(d instanceof DecodeError)) assert.deepStrictEqual(decode(encode(d)), d);
}

describe('fuzz: decode ∘ encode ∘ decode is stable on whatever decodes', () => {
  const layouts: CtLayout[] = ['dump', 'event', 'destroy'];
  it('conntrack entries (kernel layouts give the same value back, the request layout is idempotent)', () => {
    fc.assert(
      fc.property(inputs, (b) => {
        const ct = valueOrDecodeError(() => decodeConntrack(b));
        if (ct instanceof DecodeError) return;
        for (const layout of layouts) assert.deepStrictEqual(decodeConntrack(encodeConntrack(ct, layout)), ct, layout);
        const once = decodeConntrack(encodeConntrack(ct, 'request'));
        assert.deepStrictEqual(decodeConntrack(encodeConntrack(once, 'request')), once, 'request');
      }),
      { numRuns: 1500 },
    );
  });

  it('expectations', () => {
    fc.assert(
      fc.property(inputs, (b) => {
        const e = valueOrDecodeError(() => decodeExpectation(b));
        if (e instanceof DecodeError) return;
        assert.deepStrictEqual(decodeExpectation(encodeExpectation(e, 'kernel')), e);
        assert.deepStrictEqual(decodeExpectation(encodeExpectation(e, 'request')), e);
      }),
      { numRuns: 1500 },
    );
  });

  it('statistics', () => {
    fc.assert(
      fc.property(inputs, (b) => {
        stable(decodeCpuStats, encodeCpuStats, b);
        stable(decodeExpCpuStats, encodeExpCpuStats, b);
        stable(decodeGlobalStats, encodeGlobalStats, b);
      }),
      { numRuns: 500 },
    );
  });
});

describe('fuzz: generated values round-trip exactly', () => {
  for (const layout of ['dump', 'event', 'destroy'] as const) {
    it(`arbitrary conntrack entries, '${layout}' layout (round trip, identical re-encoding, offset decode)`, () => {
      fc.assert(
        fc.property(conntrack(), (ct) => {
          roundTrip(ct, (c) => encodeConntrack(c, layout), decodeConntrack);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('arbitrary expectations, both layouts', () => {
    fc.assert(
      fc.property(expectation(), (e) => {
        roundTrip(e, (x) => encodeExpectation(x, 'kernel'), decodeExpectation);
        roundTrip(e, (x) => encodeExpectation(x, 'request'), decodeExpectation);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary events', () => {
    const kind = fc.constantFrom<CtEventKind>('new', 'update', 'destroy');
    fc.assert(
      fc.property(kind, conntrack(), kind, expectation(), fc.nat({ max: 0xffffffff }), (k1, ct, k2, exp, portId) => {
        const ce = encodeCtEvent({ kind: k1, ct, portId });
        assert.deepStrictEqual(decodeCtEvent({ ...ce, seq: 0 }), { kind: k1, ct, portId });
        const ee = encodeExpEvent({ kind: k2, exp, portId });
        assert.deepStrictEqual(decodeExpEvent({ ...ee, seq: 0 }), { kind: k2, exp, portId });
      }),
      { numRuns: 200 },
    );
  });
});
