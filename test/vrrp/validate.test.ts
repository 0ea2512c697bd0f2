import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeVrrp, encodeVrrp } from '../../src/vrrp/packet.js';
import { validateAdvert, type AdvertMeta, type LocalVrrpConfig } from '../../src/vrrp/validate.js';
import { loadVrrpGolden } from './golden-vrrp.js';

const v2 = loadVrrpGolden('vrrp-v2-ipv4-1vip.hex');
const v3 = loadVrrpGolden('vrrp-v3-ipv4.hex');
const v3u = loadVrrpGolden('vrrp-v3-ipv4-unicast.hex');
const v6 = loadVrrpGolden('vrrp-v3-ipv6.hex');

const metaOf = (g: typeof v2, ttl = 255): AdvertMeta => ({ family: g.family, src: g.src, dst: g.dst, ttl });
const localV2: LocalVrrpConfig = { version: 2, family: 'ipv4', vrid: 51, priority: 100, advertIntUs: 1_000_000, addresses: ['10.231.51.100'] };
const localV3: LocalVrrpConfig = { version: 3, family: 'ipv4', vrid: 53, priority: 100, advertIntUs: 100_000, addresses: ['10.231.51.104', '10.231.51.103'] };
const localV6: LocalVrrpConfig = { version: 3, family: 'ipv6', vrid: 54, priority: 100, advertIntUs: 1_000_000, addresses: ['fe80::54', 'fd31:51::100'] };

function reason(packet: Uint8Array, meta: AdvertMeta, local: LocalVrrpConfig): string {
  const v = validateAdvert(packet, meta, local);
  return v.ok ? 'ok' : v.reason;
}

function flip(b: Uint8Array, at: number, value: number): Uint8Array {
  const c = Uint8Array.from(b);
  c[at] = value;
  return c;
}

describe('validateAdvert accepts keepalived 2.2.7 adverts', () => {
  it('v2/IPv4', () => {
    const v = validateAdvert(v2.raw, metaOf(v2), localV2);
    assert.ok(v.ok);
    assert.equal(v.checksumForm, 'message-only');
    assert.deepEqual(v.warnings, []);
    assert.equal(v.advert.priority, 150);
  });
  it('v3/IPv4 with the pseudo-header checksum (address order free)', () => {
    const v = validateAdvert(v3.raw, metaOf(v3), localV3);
    assert.ok(v.ok);
    assert.equal(v.checksumForm, 'pseudo-header');
    assert.deepEqual(v.warnings, []);
  });
  it('v3/IPv4 with the RFC 9568 message-only checksum', () => {
    const msgOnly = encodeVrrp(decodeVrrp(v3.raw, 'ipv4'), { v3Ipv4Checksum: 'message-only' });
    const v = validateAdvert(msgOnly, metaOf(v3), localV3);
    assert.ok(v.ok);
    assert.equal(v.checksumForm, 'message-only');
  });
  it('v3/IPv4 unicast (pseudo-header with the unicast destination), TTL not checked', () => {
    const local: LocalVrrpConfig = { ...localV3, vrid: 55, advertIntUs: 1_000_000, addresses: ['10.231.51.105'], unicastPeers: ['10.231.51.1'], checkUnicastSrc: true };
    const v = validateAdvert(v3u.raw, metaOf(v3u, 64), local);
    assert.ok(v.ok);
    assert.equal(v.checksumForm, 'pseudo-header');
  });
  it('v3/IPv6', () => {
    const v = validateAdvert(v6.raw, metaOf(v6), localV6);
    assert.ok(v.ok);
    assert.equal(v.checksumForm, 'pseudo-header');
  });
});

describe('validateAdvert discards with a reason', () => {
  const cases: [string, Uint8Array, AdvertMeta, LocalVrrpConfig, string][] = [
    ['TTL 254 on multicast', v2.raw, metaOf(v2, 254), localV2, 'TTL'],
    ['empty', new Uint8Array(0), metaOf(v2), localV2, 'LENGTH'],
    ['v3 advert to a v2 instance', v3.raw, metaOf(v3), { ...localV2, vrid: 53 }, 'VERSION'],
    ['v2 advert to a v3 instance', v2.raw, metaOf(v2), { ...localV3, vrid: 51 }, 'VERSION'],
    ['IPv6 advert to an IPv4 instance', v6.raw, metaOf(v6), { ...localV3, vrid: 54 }, 'VERSION'],
    ['type 2', flip(v2.raw, 0, 0x22), metaOf(v2), localV2, 'TYPE'],
    ['count 2 with one address', flip(v2.raw, 3, 2), metaOf(v2), localV2, 'LENGTH'],
    ['trailing byte', Uint8Array.from([...v2.raw, 0]), metaOf(v2), localV2, 'LENGTH'],
    ['a flipped address bit (v2)', flip(v2.raw, 9, v2.raw[9]! ^ 1), metaOf(v2), localV2, 'CHECKSUM'],
    ['a flipped priority bit (v3/IPv4)', flip(v3.raw, 2, v3.raw[2]! ^ 1), metaOf(v3), localV3, 'CHECKSUM'],
    ['v3/IPv4 from another source (pseudo-header differs)', v3.raw, { ...metaOf(v3), src: '10.231.51.9' }, localV3, 'CHECKSUM'],
    ['v3/IPv6 checksummed as message only', encodeVrrp(decodeVrrp(v6.raw, 'ipv6'), { src: '::', dst: '::' }), metaOf(v6), localV6, 'CHECKSUM'],
    ['unknown VRID', v2.raw, metaOf(v2), { ...localV2, vrid: 50 }, 'VRID'],
    ['owner that drops adverts', v2.raw, metaOf(v2), { ...localV2, priority: 255, ownerDropsAdverts: true }, 'OWNER'],
    ['v2 auth type PASS expected', v2.raw, metaOf(v2), { ...localV2, authType: 1 }, 'AUTH_TYPE'],
    ['v2 interval 2 s configured', v2.raw, metaOf(v2), { ...localV2, advertIntUs: 2_000_000 }, 'ADVERT_INTERVAL'],
    ['v3 interval 0', encodeVrrp({ ...(decodeVrrp(v3.raw, 'ipv4') as { version: 3 } & ReturnType<typeof decodeVrrp>), maxAdvertIntCs: 0 } as ReturnType<typeof decodeVrrp>, v3), metaOf(v3), localV3, 'ADVERT_INTERVAL'],
    ['unicast from a stranger', v3u.raw, metaOf(v3u), { ...localV3, vrid: 55, advertIntUs: 1_000_000, addresses: ['10.231.51.105'], unicastPeers: ['10.231.51.7'], checkUnicastSrc: true }, 'UNICAST_SOURCE'],
  ];
  for (const [name, packet, meta, local, want] of cases) {
    it(name, () => assert.equal(reason(packet, meta, local), want));
  }
  it('the owner processes adverts by default (keepalived)', () => {
    assert.equal(reason(v2.raw, metaOf(v2), { ...localV2, priority: 255 }), 'ok');
  });
});

describe('validateAdvert warnings (kept, logged)', () => {
  it('v3 interval differing from the local one', () => {
    const v = validateAdvert(v3.raw, metaOf(v3), { ...localV3, advertIntUs: 1_000_000 });
    assert.ok(v.ok);
    assert.deepEqual(v.warnings, ['ADVERT_INTERVAL']);
  });
  it('address list differing from the local one', () => {
    const v = validateAdvert(v2.raw, metaOf(v2), { ...localV2, addresses: ['10.231.51.100', '10.231.51.200'] });
    assert.ok(v.ok);
    assert.deepEqual(v.warnings, ['ADDRESS_LIST']);
  });
});
