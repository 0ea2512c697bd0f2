// The replication fast paths against the general codecs they shortcut: kernel attributes → sync
// body without the model (from-kernel.ts), compact internal-cache entries (ctnetlink/compact.ts),
// and received bodies kept as bytes (ct-body.ts). Each must give exactly what the model path gives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compactCt, ctIdentity, ctIdentityOf, decodeCompactCt, identityOfTuple } from '../../src/ctnetlink/compact.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import { decodeConntrack, encodeConntrack } from '../../src/ctnetlink/conntrack.js';
import { KernelCtView, scanKernelCt } from '../../src/ctnetlink/scan.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { decodeCtWire, encodeConntrackBody, wireToConntrack, type SyncEncodeOptions } from '../../src/sync/conntrack.js';
import { ctBodyOf, decodeCtBody, mergeCtBodies, scanCtBody, syncIdentityOf } from '../../src/sync/ct-body.js';
import { writeCtBodyFromKernel } from '../../src/sync/from-kernel.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { bytesOfLatin1 } from '../../src/wire/latin1.js';
import { Writer } from '../../src/wire/writer.js';
import { conntrack, firewallEntry as common } from '../helpers/arbitraries.js';
import { goldenNames, loadGolden } from '../helpers/golden.js';

const OPTS: readonly SyncEncodeOptions[] = [{}, { tcpWindowTracking: true }, { commitTimeout: true }];

function viaModel(payload: Uint8Array, opts: SyncEncodeOptions): Uint8Array {
  const w = new Writer();
  encodeConntrackBody(w, decodeConntrack(payload), opts);
  return w.finish();
}
function viaFastPath(payload: Uint8Array, opts: SyncEncodeOptions): Uint8Array {
  const w = new Writer();
  writeCtBodyFromKernel(w, payload, 4, payload.length, payload[0] === 10 ? 'ipv6' : 'ipv4', opts);
  return w.finish();
}

describe('kernel attributes → sync body (writeCtBodyFromKernel) equals the model path', () => {
  it('on the fast path: common entries, every encode option', () => {
    const v = new KernelCtView();
    fc.assert(
      fc.property(common, fc.constantFrom(...OPTS), (ct, opts) => {
        const p = encodeConntrack(ct, 'event');
        assert.ok(scanKernelCt(p, 4, p.length, v), 'a common entry takes the fast path');
        assert.deepStrictEqual(viaFastPath(p, opts), viaModel(p, opts));
      }),
      { numRuns: 2000 },
    );
  });

  it('on any entry (most leave the fast path)', () => {
    fc.assert(
      fc.property(conntrack(), fc.constantFrom(...OPTS), (ct, opts) => {
        if (ct.orig === undefined) return;
        const p = encodeConntrack(ct, 'event');
        assert.deepStrictEqual(viaFastPath(p, opts), viaModel(p, opts));
      }),
      { numRuns: 500 },
    );
  });

  it('on every conntrack message captured from the kernel', () => {
    let fast = 0;
    for (const name of goldenNames().filter((n) => /^(dump|event|get)-ct-/.test(n))) {
      const p = loadGolden(name).msg.payload;
      if (scanKernelCt(p, 4, p.length, new KernelCtView())) fast++;
      for (const opts of OPTS) assert.deepStrictEqual(viaFastPath(p, opts), viaModel(p, opts), name);
      // The identity our encoder gives a model entry is the one read from the kernel's bytes.
      assert.equal(ctIdentity(p, 4, p.length), ctIdentityOf(decodeConntrack(p)), name);
    }
    assert.ok(fast >= 5, `${fast} captures took the fast path`);
  });

  it('malformed attributes are refused as the decoder refuses them, never accepted', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        const p = new Uint8Array(4 + junk.length);
        p[0] = 2;
        p.set(junk, 4);
        let model: unknown;
        try {
          model = viaModel(p, {});
        } catch (e) {
          assert.ok(e instanceof DecodeError);
          assert.throws(() => viaFastPath(p, {}), DecodeError);
          return;
        }
        assert.deepStrictEqual(viaFastPath(p, {}), model);
      }),
      { numRuns: 3000 },
    );
  });
});

/** withoutVolatile is the model minus what compactCt drops. */
function withoutVolatile(ct: Conntrack): Conntrack {
  const { countersOrig: _a, countersReply: _b, use: _c, id: _d, timestamp: _e, timestampEvent: _f, ...rest } = ct;
  return rest;
}

describe('compact internal-cache entries', () => {
  it("an entry's identity from scanKernelCt's tuple (the cache's fast path) is ctIdentity's", () => {
    const view = new KernelCtView();
    let scanned = 0;
    fc.assert(
      fc.property(fc.oneof(common, conntrack()), (ct) => {
        const p = encodeConntrack(ct, 'event');
        if (!scanKernelCt(p, 4, p.length, view)) return;
        scanned++;
        assert.equal(identityOfTuple(p, view.orig, view.zone), ctIdentity(p, 4, p.length));
      }),
      { numRuns: 1000 },
    );
    assert.ok(scanned > 300, `only ${scanned} of 1000 entries took the fast path`);
  });

  it('keep everything but counters, timestamps, use and id', () => {
    fc.assert(
      fc.property(fc.oneof(common, conntrack()), (ct) => {
        const p = encodeConntrack(ct, 'event');
        assert.deepStrictEqual(decodeCompactCt(ct.family, compactCt(p, 4, p.length)), withoutVolatile(decodeConntrack(p)));
      }),
      { numRuns: 500 },
    );
  });

  it('an update keeps what it does not carry (field by field, as merging the models)', () => {
    // Left out: the fields that share one attribute with another field (unknown attributes, the
    // helper's info and unknown parts, the security context's), which are kept attribute by attribute.
    const oneFieldPerAttr = conntrack().map(({ unknown: _u, helperInfo: _i, helpUnknown: _h, secctxUnknown: _s, ...rest }) => rest);
    fc.assert(
      fc.property(oneFieldPerAttr, oneFieldPerAttr, (a, b) => {
        const pa = encodeConntrack(a, 'event');
        const pb = encodeConntrack({ ...b, family: a.family }, 'event');
        const got = decodeCompactCt(a.family, compactCt(pb, 4, pb.length, compactCt(pa, 4, pa.length)));
        assert.deepStrictEqual(got, withoutVolatile({ ...decodeConntrack(pa), ...decodeConntrack(pb) }));
      }),
      { numRuns: 300 },
    );
  });

  it('identity: equal exactly when the original tuples (and zones) are, short keys and raw ones alike', () => {
    const fields = (ct: Conntrack): string => {
      const o = ct.orig!;
      return JSON.stringify([o.family, o.src, o.dst, o.proto, o.srcPort, o.dstPort, o.icmpId, o.icmpType, o.icmpCode, o.zone, o.unknown, o.ipUnknown, o.protoUnknown, ct.zone ?? 0]);
    };
    fc.assert(
      fc.property(fc.oneof(common, conntrack()), fc.oneof(common, conntrack()), (a, b) => {
        if (a.orig === undefined || b.orig === undefined) return;
        assert.equal(ctIdentityOf(a) === ctIdentityOf(b), fields(a) === fields(b));
        assert.equal(ctIdentityOf(a), ctIdentityOf({ ...b, orig: a.orig, zone: a.zone ?? 0 }));
      }),
      { numRuns: 2000 },
    );
  });

  it('identity: the original tuple and the zone (0 = none); reply, counters and the rest do not count', () => {
    const ct: Conntrack = {
      family: 'ipv4',
      orig: { family: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', proto: IPPROTO.TCP, srcPort: 1, dstPort: 2 },
      reply: { family: 'ipv4', src: '10.0.0.2', dst: '10.0.0.1', proto: IPPROTO.TCP, srcPort: 2, dstPort: 1 },
      status: IPS.CONFIRMED,
      protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
    };
    assert.equal(ctIdentityOf(ct), ctIdentityOf({ ...ct, mark: 3, id: 9, reply: { ...ct.reply!, dstPort: 7 } }));
    assert.equal(ctIdentityOf(ct), ctIdentityOf({ ...ct, zone: 0 }));
    assert.notEqual(ctIdentityOf(ct), ctIdentityOf({ ...ct, zone: 1 }));
    assert.notEqual(ctIdentityOf(ct), ctIdentityOf({ ...ct, orig: { ...ct.orig!, srcPort: 3 } }));
    assert.notEqual(ctIdentityOf(ct), ctIdentityOf({ ...ct, orig: { ...ct.orig!, zone: 1 } }));
  });
});

describe('received bodies kept as bytes (ct-body.ts)', () => {
  it('scanCtBody refuses exactly what decodeConntrackBody refuses, with the same code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), (b) => {
        let want: string | undefined;
        try {
          wireToConntrack(decodeCtWire(b, 0, b.length, ['sync', 'ct']), ['sync', 'ct']);
        } catch (e) {
          assert.ok(e instanceof DecodeError);
          want = e.code;
        }
        let got: string | undefined;
        try {
          scanCtBody(b, 0, b.length);
        } catch (e) {
          assert.ok(e instanceof DecodeError);
          got = e.code;
        }
        assert.equal(got, want);
      }),
      { numRuns: 5000 },
    );
  });

  it('the body kept decodes to what the peer sent; identities are equal exactly when the wire identities are', () => {
    const wireId = (ct: Conntrack): string => {
      const o = decodeCtBody(ctBodyOf(ct)).orig!;
      return JSON.stringify([o.family, o.src, o.dst, o.proto, o.srcPort, o.dstPort, o.icmpType, o.icmpCode, o.icmpId, ct.zone ?? 0]);
    };
    fc.assert(
      fc.property(fc.oneof(common, conntrack()), fc.oneof(common, conntrack()), (a, b) => {
        if (a.orig === undefined || b.orig === undefined) return;
        const body = ctBodyOf(a);
        try {
          scanCtBody(bytesOfLatin1(body), 0, body.length);
          syncIdentityOf(b);
        } catch {
          return; // a receiver refuses it: never kept
        }
        const w = new Writer();
        encodeConntrackBody(w, a);
        assert.deepStrictEqual(decodeCtBody(body), wireToConntrack(decodeCtWire(w.finish(), 0, w.length, ['sync', 'ct']), ['sync', 'ct']));
        assert.equal(syncIdentityOf(a) === syncIdentityOf(b), wireId(a) === wireId(b));
        assert.equal(syncIdentityOf(a), syncIdentityOf({ ...a, mark: 1, timeout: 2 }));
      }),
      { numRuns: 500 },
    );
  });

  it('mergeCtBodies is the field-by-field merge of the two decoded bodies', () => {
    fc.assert(
      fc.property(conntrack(), conntrack(), (a, b) => {
        if (a.orig === undefined || b.orig === undefined) return;
        const [x, y] = [ctBodyOf(a), ctBodyOf(b)];
        try {
          scanCtBody(bytesOfLatin1(x), 0, x.length);
          scanCtBody(bytesOfLatin1(y), 0, y.length);
        } catch {
          return; // a receiver refuses it (e.g. a helper name over 11 characters): never merged
        }
        const wa = decodeCtWire(bytesOfLatin1(x), 0, x.length, ['a']);
        const wb = decodeCtWire(bytesOfLatin1(y), 0, y.length, ['b']);
        assert.deepStrictEqual(decodeCtBody(mergeCtBodies(x, y)), wireToConntrack({ ...wa, ...wb }, ['m']));
      }),
      { numRuns: 500 },
    );
  });
});
