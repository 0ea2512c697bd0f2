import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeAck } from '../../src/netlink/errors.js';
import { decodeAddress, encodeAddress, type IfAddress } from '../../src/rtnetlink/address.js';
import { IFA_F, RTM } from '../../src/rtnetlink/consts.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { ipv4, ipv6, unknownAttrs } from '../helpers/arbitraries.js';
import { roundTrip } from '../helpers/roundtrip.js';
import { loadRtnlGolden } from './golden-loader.js';

const FOREVER = 0xffffffff;

describe('decodeAddress on kernel dump replies (ip -j addr show)', () => {
  it('IPv4 with label, broadcast and IFA_FLAGS', () => {
    const g = loadRtnlGolden('rtnl-newaddr-v4-dump.hex');
    assert.equal(g.type, RTM.NEWADDR);
    const a = decodeAddress(g.payload);
    assert.deepEqual({ ...a, cacheInfo: undefined }, {
      family: 'ipv4',
      prefixLen: 24,
      flags: IFA_F.PERMANENT,
      scope: 0,
      ifindex: 3,
      address: '192.0.2.10',
      local: '192.0.2.10',
      broadcast: '192.0.2.255',
      label: 'veth0:vip',
      extFlags: IFA_F.PERMANENT,
      cacheInfo: undefined,
    });
    assert.equal(a.cacheInfo?.validSec, FOREVER);
    assert.equal(a.cacheInfo?.preferredSec, FOREVER);
    roundTrip(a, encodeAddress, decodeAddress);
  });
  it('IPv6 nodad: IFA_ADDRESS only, flags NODAD|PERMANENT', () => {
    const a = decodeAddress(loadRtnlGolden('rtnl-newaddr-v6-dump.hex').payload);
    assert.equal(a.family, 'ipv6');
    assert.equal(a.address, '2001:db8::10');
    assert.equal(a.local, undefined);
    assert.equal(a.prefixLen, 64);
    assert.equal(a.flags, IFA_F.NODAD | IFA_F.PERMANENT);
    assert.equal(a.extFlags, IFA_F.NODAD | IFA_F.PERMANENT);
    assert.equal(a.unknown, undefined);
    roundTrip(a, encodeAddress, decodeAddress);
  });
});

describe('kernel ACKs for idempotent VIP changes', () => {
  it('a second ip addr add is EEXIST with the ext-ack message', () => {
    const g = loadRtnlGolden('rtnl-ack-eexist.hex');
    const ack = decodeAck(g.payload, g.flags);
    assert.equal(ack.error, 17);
    assert.equal(ack.extAckMsg, 'ipv4: Address already assigned');
  });
  it('a second ip addr del is EADDRNOTAVAIL', () => {
    const g = loadRtnlGolden('rtnl-ack-eaddrnotavail.hex');
    const ack = decodeAck(g.payload, g.flags);
    assert.equal(ack.error, 99);
    assert.equal(ack.extAckMsg, 'ipv4: Address not found');
  });
});

describe('decodeAddress errors', () => {
  const cases: [string, string, DecodeError['code']][] = [
    ['empty', '', 'SHORT'],
    ['short header', '02180000030000', 'SHORT'],
    ['family AF_PACKET', '111800000300000000', 'BAD_VALUE'],
    ['IPv4 IFA_ADDRESS of 16 bytes', '0218000003000000' + '14000100' + '00'.repeat(16), 'BAD_SIZE'],
    ['IPv6 IFA_LOCAL of 4 bytes', '0a40000003000000' + '08000200' + 'c000020a', 'BAD_SIZE'],
    ['IFA_FLAGS of 2 bytes', '0218000003000000' + '06000800' + '80000000', 'BAD_SIZE'],
    ['IFA_CACHEINFO of 8 bytes', '0218000003000000' + '0c000600' + '00'.repeat(8), 'BAD_SIZE'],
    ['nla_len past the end', '0218000003000000' + '10000100' + 'c000020a', 'BAD_LENGTH'],
    ['nla_len below 4', '0218000003000000' + '02000100', 'BAD_LENGTH'],
  ];
  for (const [name, hex, code] of cases) {
    it(name, () => assert.throws(() => decodeAddress(Buffer.from(hex, 'hex')), (e) => e instanceof DecodeError && e.code === code));
  }
});

const u8 = fc.integer({ min: 0, max: 255 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const label = fc.stringMatching(/^[a-z0-9:.]{1,15}$/);
const ifAddress: fc.Arbitrary<IfAddress> = fc.constantFrom<'ipv4' | 'ipv6'>('ipv4', 'ipv6').chain((family) => {
  const addr = family === 'ipv4' ? ipv4 : ipv6;
  return fc.record(
    {
      family: fc.constant(family),
      prefixLen: fc.integer({ min: 0, max: family === 'ipv4' ? 32 : 128 }),
      flags: u8,
      scope: u8,
      ifindex: u32,
      address: addr,
      local: addr,
      broadcast: addr,
      label,
      extFlags: u32,
      cacheInfo: fc.record({ preferredSec: u32, validSec: u32, createdCs: u32, updatedCs: u32 }, { noNullPrototype: true }),
      unknown: unknownAttrs(12),
    },
    { requiredKeys: ['family', 'prefixLen', 'flags', 'scope', 'ifindex'], noNullPrototype: true },
  );
});

describe('fuzz: address codec', () => {
  it('any bytes give an address or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
        try {
          decodeAddress(b);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('every representable address round-trips', () => {
    fc.assert(fc.property(ifAddress, (a) => void roundTrip(a, encodeAddress, decodeAddress)));
  });
});
