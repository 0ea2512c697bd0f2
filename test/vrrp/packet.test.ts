import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checksumValid, vrrpChecksum } from '../../src/vrrp/checksum.js';
import { advertFor, decodeVrrp, encodeVrrp, vrrpLength, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { hex } from '../helpers/golden.js';
import { bytesRoundTrip, roundTrip } from '../helpers/roundtrip.js';
import { loadVrrpGolden, vrrpGoldenNames } from './golden-vrrp.js';

const zero8 = new Uint8Array(8);

/** What each capture must decode to (keepalived's configuration is in the file's header). */
const EXPECTED: Record<string, VrrpAdvert> = {
  'vrrp-v2-ipv4-1vip.hex': { version: 2, family: 'ipv4', vrid: 51, priority: 150, authType: 0, advertIntSec: 1, addresses: ['10.231.51.100'], authData: zero8 },
  'vrrp-v2-ipv4-1vip-prio0.hex': { version: 2, family: 'ipv4', vrid: 51, priority: 0, authType: 0, advertIntSec: 1, addresses: ['10.231.51.100'], authData: zero8 },
  'vrrp-v2-ipv4-3vip.hex': { version: 2, family: 'ipv4', vrid: 52, priority: 200, authType: 0, advertIntSec: 2, addresses: ['10.231.51.101', '10.231.51.102', '192.168.77.1'], authData: zero8 },
  'vrrp-v2-ipv4-3vip-prio0.hex': { version: 2, family: 'ipv4', vrid: 52, priority: 0, authType: 0, advertIntSec: 2, addresses: ['10.231.51.101', '10.231.51.102', '192.168.77.1'], authData: zero8 },
  'vrrp-v3-ipv4.hex': { version: 3, family: 'ipv4', vrid: 53, priority: 150, maxAdvertIntCs: 10, addresses: ['10.231.51.103', '10.231.51.104'] },
  'vrrp-v3-ipv4-prio0.hex': { version: 3, family: 'ipv4', vrid: 53, priority: 0, maxAdvertIntCs: 10, addresses: ['10.231.51.103', '10.231.51.104'] },
  'vrrp-v3-ipv6.hex': { version: 3, family: 'ipv6', vrid: 54, priority: 100, maxAdvertIntCs: 100, addresses: ['fe80::54', 'fd31:51::100'] },
  'vrrp-v3-ipv6-prio0.hex': { version: 3, family: 'ipv6', vrid: 54, priority: 0, maxAdvertIntCs: 100, addresses: ['fe80::54', 'fd31:51::100'] },
  'vrrp-v3-ipv4-unicast.hex': { version: 3, family: 'ipv4', vrid: 55, priority: 120, maxAdvertIntCs: 100, addresses: ['10.231.51.105'] },
  'vrrp-v3-ipv4-unicast-prio0.hex': { version: 3, family: 'ipv4', vrid: 55, priority: 0, maxAdvertIntCs: 100, addresses: ['10.231.51.105'] },
};

describe('VRRP goldens (keepalived 2.2.7 on the wire)', () => {
  it('every golden file has an expectation and vice versa', () => {
    assert.deepEqual(vrrpGoldenNames(), Object.keys(EXPECTED).sort());
  });
  for (const name of Object.keys(EXPECTED)) {
    it(`${name}: decodes, and re-encoding gives the captured bytes`, () => {
      const g = loadVrrpGolden(name);
      assert.equal(g.ttl, 255, 'keepalived sends TTL/hop limit 255');
      assert.equal(g.raw.length, Number(/^(\d+)/.exec(g.header.get('length') ?? '')?.[1]));
      const ctx = { src: g.src, dst: g.dst };
      const advert = bytesRoundTrip(g.raw, (b) => decodeVrrp(b, g.family), (a) => encodeVrrp(a, ctx));
      assert.deepStrictEqual(advert, EXPECTED[name]);
      assert.equal(g.raw.length, vrrpLength(advert.version, advert.family, advert.addresses.length));
    });
  }

  it('keepalived 2.2.7 checksums v3/IPv4 with the IPv4 pseudo-header (multicast and unicast), not RFC 9568 message-only', () => {
    for (const name of ['vrrp-v3-ipv4.hex', 'vrrp-v3-ipv4-prio0.hex', 'vrrp-v3-ipv4-unicast.hex', 'vrrp-v3-ipv4-unicast-prio0.hex']) {
      const g = loadVrrpGolden(name);
      assert.ok(checksumValid(g.raw, 'ipv4', 'pseudo-header', g), `${name}: pseudo-header form`);
      assert.ok(!checksumValid(g.raw, 'ipv4', 'message-only', g), `${name}: not message-only`);
      // encodeVrrp's RFC 9568 option gives a different, message-only checksum for the same content.
      const msgOnly = encodeVrrp(decodeVrrp(g.raw, 'ipv4'), { v3Ipv4Checksum: 'message-only' });
      assert.ok(checksumValid(msgOnly, 'ipv4', 'message-only'));
      assert.notDeepEqual(msgOnly, g.raw);
    }
  });

  it('v3/IPv6 checksum (filled by the kernel, IPV6_CHECKSUM) covers the RFC 8200 pseudo-header', () => {
    const g = loadVrrpGolden('vrrp-v3-ipv6.hex');
    assert.ok(checksumValid(g.raw, 'ipv6', 'pseudo-header', g));
    assert.ok(!checksumValid(g.raw, 'ipv6', 'message-only'));
  });

  it('v2 checksum covers the message only (header, addresses, authentication data)', () => {
    const g = loadVrrpGolden('vrrp-v2-ipv4-3vip.hex');
    assert.ok(checksumValid(g.raw, 'ipv4', 'message-only'));
    assert.equal(vrrpChecksum(g.raw, 'ipv4', 'message-only'), (g.raw[6]! << 8) | g.raw[7]!);
  });
});

describe('the lab measurement of failover-and-peers.md §0', () => {
  // keepalived 2.2.7, v3, VRID 51, prio 150, 10 cs, VIP 10.0.9.1 — its source and destination are not
  // recorded there, so only the message-only sum (0x2eb7) is checkable; 0x441d needs the pseudo-header.
  it('message-only checksum of 31 33 96 01 00 0a .. 0a 09 00 01 is 0x2eb7', () => {
    const b = hex('31 33 96 01 00 0a 441d 0a 09 00 01');
    assert.equal(vrrpChecksum(b, 'ipv4', 'message-only'), 0x2eb7);
  });
});

describe('round trips', () => {
  const cases: [string, VrrpAdvert, { src: string; dst: string }][] = [
    ['v2 password auth', { version: 2, family: 'ipv4', vrid: 1, priority: 255, authType: 1, advertIntSec: 255, addresses: ['192.0.2.1'], authData: Uint8Array.from([0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0, 0]) }, { src: '192.0.2.2', dst: '224.0.0.18' }],
    ['v2 no addresses', { version: 2, family: 'ipv4', vrid: 255, priority: 1, authType: 0, advertIntSec: 1, addresses: [], authData: zero8 }, { src: '192.0.2.2', dst: '224.0.0.18' }],
    ['v3 IPv4 max interval', { version: 3, family: 'ipv4', vrid: 7, priority: 254, maxAdvertIntCs: 4095, addresses: ['10.0.0.1', '10.0.0.2'] }, { src: '10.0.0.3', dst: '224.0.0.18' }],
    ['v3 IPv6', { version: 3, family: 'ipv6', vrid: 9, priority: 100, maxAdvertIntCs: 1, addresses: ['fe80::1', '2001:db8::1'] }, { src: 'fe80::2', dst: 'ff02::12' }],
  ];
  for (const [name, advert, ctx] of cases) {
    it(name, () => {
      const fam = advert.family;
      const bytes = roundTrip(advert, (a) => encodeVrrp(a, ctx), (b) => decodeVrrp(b, fam));
      assert.ok(checksumValid(bytes, fam, advert.version === 2 ? 'message-only' : 'pseudo-header', ctx));
    });
  }
  it('v3 reserved bits are ignored on receipt and sent as zero', () => {
    const g = loadVrrpGolden('vrrp-v3-ipv4.hex');
    const b = Uint8Array.from(g.raw);
    b[4] = b[4]! | 0xf0;
    const a = decodeVrrp(b, 'ipv4');
    assert.equal(a.version === 3 && a.maxAdvertIntCs, 10);
    assert.deepEqual(encodeVrrp(a, g), g.raw);
  });
});

describe('decode errors', () => {
  const v2 = loadVrrpGolden('vrrp-v2-ipv4-1vip.hex').raw;
  const v3 = loadVrrpGolden('vrrp-v3-ipv6.hex').raw;
  const cases: [string, Uint8Array, 'ipv4' | 'ipv6', string, string][] = [
    ['empty', new Uint8Array(0), 'ipv4', 'SHORT', 'vrrp'],
    ['version 1', Uint8Array.from([0x11, ...v2.subarray(1)]), 'ipv4', 'BAD_VALUE', 'vrrp.version'],
    ['version 4', Uint8Array.from([0x41, ...v2.subarray(1)]), 'ipv4', 'BAD_VALUE', 'vrrp.version'],
    ['type 2', Uint8Array.from([0x22, ...v2.subarray(1)]), 'ipv4', 'BAD_VALUE', 'vrrp.type'],
    ['v2 over IPv6', v2, 'ipv6', 'BAD_VALUE', 'vrrp.version'],
    ['v2 without auth data', v2.subarray(0, 12), 'ipv4', 'SHORT', 'vrrp'],
    ['v2 with a trailing byte', Uint8Array.from([...v2, 0]), 'ipv4', 'TRAILING', 'vrrp'],
    ['v2 count larger than the addresses', Uint8Array.from([v2[0]!, v2[1]!, v2[2]!, 2, ...v2.subarray(4)]), 'ipv4', 'SHORT', 'vrrp'],
    ['v3 IPv6 decoded as IPv4 (16-byte addresses counted as 4)', v3, 'ipv4', 'TRAILING', 'vrrp'],
    ['header cut short', v3.subarray(0, 3), 'ipv6', 'SHORT', 'vrrp'],
  ];
  for (const [name, bytes, fam, code, path] of cases) {
    it(name, () => {
      assert.throws(
        () => decodeVrrp(bytes, fam),
        (e: unknown) => e instanceof DecodeError && e.code === code && e.path.join('.') === path,
      );
    });
  }
});

describe('encode errors', () => {
  it('rejects fields that do not fit the wire', () => {
    const base = { version: 3, family: 'ipv4', vrid: 1, priority: 100, maxAdvertIntCs: 100, addresses: ['10.0.0.1'] } as const;
    assert.throws(() => encodeVrrp({ ...base, vrid: 256 }, { v3Ipv4Checksum: 'message-only' }), RangeError);
    assert.throws(() => encodeVrrp({ ...base, maxAdvertIntCs: 4096 }, { v3Ipv4Checksum: 'message-only' }), RangeError);
    assert.throws(() => encodeVrrp({ ...base, addresses: ['fe80::1'] }, { v3Ipv4Checksum: 'message-only' }), RangeError);
    assert.throws(() => encodeVrrp(base), TypeError, 'the pseudo-header form needs addresses');
    assert.throws(() => encodeVrrp({ version: 2, family: 'ipv4', vrid: 1, priority: 100, authType: 0, advertIntSec: 1, addresses: [], authData: new Uint8Array(4) }), RangeError);
  });
});

describe('advertFor', () => {
  it('rebuilds the captured v2 advert from the instance configuration', () => {
    const g = loadVrrpGolden('vrrp-v2-ipv4-3vip.hex');
    const a = advertFor({ version: 2, family: 'ipv4', vrid: 52, advertIntUs: 2_000_000, addresses: ['10.231.51.101', '10.231.51.102', '192.168.77.1'] }, 200);
    assert.deepEqual(encodeVrrp(a), g.raw);
  });
  it('rebuilds the captured v3/IPv6 priority-0 advert', () => {
    const g = loadVrrpGolden('vrrp-v3-ipv6-prio0.hex');
    const a = advertFor({ version: 3, family: 'ipv6', vrid: 54, advertIntUs: 1_000_000, addresses: ['fe80::54', 'fd31:51::100'] }, 0);
    assert.deepEqual(encodeVrrp(a, g), g.raw);
  });
  it('clamps intervals to the wire fields (v2 whole seconds 1..255, v3 centiseconds 1..4095)', () => {
    const v2 = advertFor({ version: 2, family: 'ipv4', vrid: 1, advertIntUs: 300_000_000, addresses: [] }, 100);
    assert.equal(v2.version === 2 && v2.advertIntSec, 255);
    const v3 = advertFor({ version: 3, family: 'ipv4', vrid: 1, advertIntUs: 1_000, addresses: [] }, 100);
    assert.equal(v3.version === 3 && v3.maxAdvertIntCs, 1);
  });
});
