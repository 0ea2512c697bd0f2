import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeVrrp, encodeVrrp, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { validateAdvert } from '../../src/vrrp/validate.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import type { Family } from '../../src/wire/ip.js';
import { ipv4, ipv6 } from '../helpers/arbitraries.js';

const family = fc.constantFrom<Family>('ipv4', 'ipv6');

/** A byte string that often looks like an advert: a plausible first byte and count, then anything. */
const advertish = fc.tuple(fc.constantFrom(0x21, 0x31, 0x22, 0x11, 0x41, 0x30), fc.uint8Array({ maxLength: 80 })).map(([b0, rest]) => Uint8Array.from([b0, ...rest]));
const bytes = fc.oneof(fc.uint8Array({ maxLength: 80 }), advertish);

function valueOrDecodeError<T>(f: () => T): T | DecodeError {
  try {
    return f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
}

const advert: fc.Arbitrary<VrrpAdvert> = fc.oneof(
  fc.record({
    version: fc.constant(2 as const),
    family: fc.constant('ipv4' as const),
    vrid: fc.integer({ min: 0, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    authType: fc.integer({ min: 0, max: 255 }),
    advertIntSec: fc.integer({ min: 0, max: 255 }),
    addresses: fc.array(ipv4, { maxLength: 6 }),
    authData: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  }, { noNullPrototype: true }),
  family.chain((f) =>
    fc.record({
      version: fc.constant(3 as const),
      family: fc.constant(f),
      vrid: fc.integer({ min: 0, max: 255 }),
      priority: fc.integer({ min: 0, max: 255 }),
      maxAdvertIntCs: fc.integer({ min: 0, max: 4095 }),
      addresses: fc.array(f === 'ipv4' ? ipv4 : ipv6, { maxLength: 6 }),
    }, { noNullPrototype: true }),
  ),
);

describe('VRRP codec properties', () => {
  it('decodeVrrp(arbitrary bytes) returns an advert or throws DecodeError, and what it returns re-encodes stably', () => {
    fc.assert(
      fc.property(bytes, family, (b, f) => {
        const r = valueOrDecodeError(() => decodeVrrp(b, f));
        if (r instanceof DecodeError) return;
        const again = decodeVrrp(encodeVrrp(r, { src: f === 'ipv4' ? '10.0.0.1' : 'fe80::1', dst: f === 'ipv4' ? '224.0.0.18' : 'ff02::12' }), f);
        assert.deepStrictEqual(again, r);
      }),
      { numRuns: 3000 },
    );
  });

  it('validateAdvert(arbitrary bytes) never throws', () => {
    fc.assert(
      fc.property(bytes, family, fc.constantFrom<2 | 3>(2, 3), fc.integer({ min: 0, max: 255 }), (b, f, version, ttl) => {
        validateAdvert(b, { family: f, src: f === 'ipv4' ? '10.0.0.1' : 'fe80::1', dst: f === 'ipv4' ? '224.0.0.18' : 'ff02::12', ttl }, { version, family: f, vrid: b[1] ?? 0, priority: 100, advertIntUs: 1_000_000, addresses: [] });
      }),
      { numRuns: 3000 },
    );
  });

  it('encode → decode gives the advert back, and every sent form validates', () => {
    fc.assert(
      fc.property(advert, fc.constantFrom<'pseudo-header' | 'message-only'>('pseudo-header', 'message-only'), (a, form) => {
        const ctx = a.family === 'ipv4' ? { src: '192.0.2.1', dst: '224.0.0.18' } : { src: 'fe80::1', dst: 'ff02::12' };
        const b = encodeVrrp(a, { ...ctx, v3Ipv4Checksum: form });
        assert.deepStrictEqual(decodeVrrp(b, a.family), a);
        const v = validateAdvert(b, { family: a.family, ...ctx, ttl: 255 }, { version: a.version, family: a.family, vrid: a.vrid, priority: 100, advertIntUs: a.version === 2 ? a.advertIntSec * 1e6 : a.maxAdvertIntCs * 1e4, addresses: a.addresses, authType: a.version === 2 ? a.authType : 0 });
        assert.ok(v.ok || v.reason === 'ADVERT_INTERVAL', JSON.stringify(v));
      }),
      { numRuns: 1000 },
    );
  });
});
