import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IFF, MACVLAN_MODE, RTM } from '../../src/rtnetlink/consts.js';
import { decodeLink, encodeLink, formatMac, linkStateOf, parseMac, type Link } from '../../src/rtnetlink/link.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { unknownAttrs } from '../helpers/arbitraries.js';
import { roundTrip } from '../helpers/roundtrip.js';
import { loadRtnlGolden } from './golden-loader.js';

describe('decodeLink on kernel messages', () => {
  it('RTM_NEWLINK reply for a veth that is up', () => {
    const g = loadRtnlGolden('rtnl-newlink-veth.hex');
    assert.equal(g.type, RTM.NEWLINK);
    const l = decodeLink(g.payload);
    assert.equal(l.ifname, 'veth0');
    assert.equal(l.ifindex, 3);
    assert.equal(l.type, 1, 'ARPHRD_ETHER');
    assert.equal(l.address, '02:00:00:00:00:01');
    assert.equal(l.mtu, 1500);
    assert.equal(l.operState, 'up');
    assert.equal(l.carrier, true);
    assert.equal(l.linkInfo?.kind, 'veth');
    assert.equal(l.flags, IFF.UP | IFF.BROADCAST | IFF.RUNNING | IFF.MULTICAST | IFF.LOWER_UP);
    assert.deepEqual(linkStateOf(l), { ifindex: 3, ifname: 'veth0', adminUp: true, running: true, lowerUp: true, operState: 'up', usable: true });
    assert.ok((l.unknown?.length ?? 0) > 10, 'the other attributes are kept');
    roundTrip(l, encodeLink, decodeLink);
  });
  it('RTNLGRP_LINK event: the veth peer set down', () => {
    const g = loadRtnlGolden('rtnl-newlink-event-down.hex');
    assert.equal(g.seq, 0, 'a multicast notification');
    const l = decodeLink(g.payload);
    assert.equal(l.ifname, 'veth1');
    assert.equal(l.change, IFF.UP, 'IFF_UP is what changed');
    assert.deepEqual(linkStateOf(l), { ifindex: 2, ifname: 'veth1', adminUp: false, running: false, lowerUp: false, operState: 'down', usable: false });
  });
  it('the macvlan create request decodes to what newMacvlanRequest was given', () => {
    const l = decodeLink(loadRtnlGolden('rtnl-newlink-macvlan-req.hex').payload);
    assert.deepEqual(l, { family: 0, type: 0, ifindex: 0, flags: 0, change: 0, address: '00:00:5e:00:01:05', link: 3, ifname: 'vmac1', linkInfo: { kind: 'macvlan', macvlanMode: MACVLAN_MODE.PRIVATE } });
  });
});

describe('linkStateOf', () => {
  const base: Link = { family: 0, type: 1, ifindex: 7, flags: 0, change: 0, ifname: 'x' };
  it('operstate unknown (no carrier reporting) with UP|RUNNING is usable', () =>
    assert.equal(linkStateOf({ ...base, flags: IFF.UP | IFF.RUNNING, operState: 'unknown' }).usable, true));
  it('UP without RUNNING is not', () => assert.equal(linkStateOf({ ...base, flags: IFF.UP, operState: 'up' }).usable, false));
  it('lowerlayerdown is not', () => assert.equal(linkStateOf({ ...base, flags: IFF.UP | IFF.RUNNING, operState: 'lowerlayerdown' }).usable, false));
});

describe('decodeLink errors', () => {
  const hdr = '0000010003000000' + '4310010000000000';
  const cases: [string, string, DecodeError['code']][] = [
    ['short ifinfomsg', '00000100030000004310', 'SHORT'],
    ['IFLA_MTU of 2 bytes', hdr + '06000400dc050000', 'BAD_SIZE'],
    ['IFLA_OPERSTATE of 4 bytes', hdr + '0800100006000000', 'BAD_SIZE'],
    ['IFLA_LINKINFO with a bad nested length', hdr + '0c001200' + '20000100' + '76657468', 'BAD_LENGTH'],
    ['macvlan IFLA_MACVLAN_MODE of 2 bytes', hdr + '1c001200' + '0b000100' + '6d6163766c616e00' + '0a000200' + '06000100' + '0100' + '0000', 'BAD_SIZE'],
  ];
  for (const [name, hex, code] of cases) {
    it(name, () => assert.throws(() => decodeLink(Buffer.from(hex, 'hex')), (e) => e instanceof DecodeError && e.code === code));
  }
});

describe('MAC text', () => {
  it('formats and parses', () => {
    assert.equal(formatMac(Uint8Array.of(0, 0, 0x5e, 0, 1, 5)), '00:00:5e:00:01:05');
    assert.deepEqual([...parseMac('00:00:5E:00:02:ff')], [0, 0, 0x5e, 0, 2, 255]);
    assert.throws(() => parseMac('00:00:5e:00:01:gg'));
    assert.throws(() => parseMac(''));
  });
});

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const link: fc.Arbitrary<Link> = fc.record(
  {
    family: u8,
    type: u16,
    ifindex: u32,
    flags: u32,
    change: u32,
    ifname: fc.stringMatching(/^[a-z0-9.-]{1,15}$/),
    address: fc.uint8Array({ minLength: 1, maxLength: 8 }).map(formatMac),
    mtu: u32,
    link: u32,
    operState: fc.oneof(fc.constantFrom('unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up' as const), fc.integer({ min: 7, max: 255 }).map((other) => ({ other }))),
    carrier: fc.boolean(),
    extMask: u32,
    linkInfo: fc.oneof(
      fc.record({ kind: fc.constant('macvlan'), macvlanMode: u32 }, { noNullPrototype: true }),
      fc.record({ kind: fc.constant('veth') }, { noNullPrototype: true }),
    ),
    unknown: unknownAttrs(70),
  },
  { requiredKeys: ['family', 'type', 'ifindex', 'flags', 'change'], noNullPrototype: true },
);

describe('fuzz: link codec', () => {
  it('any bytes give a link or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), (b) => {
        try {
          decodeLink(b);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('every representable link round-trips', () => {
    fc.assert(fc.property(link, (l) => void roundTrip(l, encodeLink, decodeLink)));
  });
});
