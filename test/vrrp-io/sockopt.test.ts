import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  IPV6_OPT,
  IP_OPT,
  SOL_IPV6,
  decodeCmsgInt,
  decodeCmsgTimespec,
  decodeCmsgs,
  decodeIn6Pktinfo,
  decodeInPktinfo,
  decodeIpv4Header,
  decodeSockaddrIn,
  encodeCmsg,
  inet6Sockaddr,
  ipMreqn,
  ipv6Mreq,
} from '../../src/vrrp-io/sockopt.js';
import { inet4Sockaddr } from '../../src/native/socket.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { ipv4, ipv6 } from '../helpers/arbitraries.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const le32 = (n: number): string => Buffer.from(new Uint32Array([n]).buffer).toString('hex');

function decodesOrRefuses(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
}

describe('socket option structs', () => {
  it('ip_mreqn: group, local address (network order), ifindex (host order)', () => {
    assert.equal(hex(ipMreqn('224.0.0.18', 7)), 'e0000012' + '00000000' + le32(7));
    assert.equal(hex(ipMreqn('0.0.0.0', 3, '10.0.0.1')), '00000000' + '0a000001' + le32(3));
  });
  it('ipv6_mreq: group then ifindex', () => {
    assert.equal(hex(ipv6Mreq('ff02::12', 9)), 'ff020000000000000000000000000012' + le32(9));
  });
  it('sockaddr_in6 round-trips through decodeSockaddrIn, and sockaddr_in decodes', () => {
    assert.deepEqual(decodeSockaddrIn(inet6Sockaddr('fe80::1', 0, 4)), { address: 'fe80::1', port: 0, scopeId: 4 });
    assert.deepEqual(decodeSockaddrIn(inet4Sockaddr('10.1.2.3', 112)), { address: '10.1.2.3', port: 112 });
    assert.throws(() => decodeSockaddrIn(Uint8Array.of(17, 0, 0, 0)), (e) => e instanceof DecodeError && e.code === 'BAD_VALUE');
    fc.assert(fc.property(ipv6, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), (a, p, s) => {
      assert.deepEqual(decodeSockaddrIn(inet6Sockaddr(a, p, s)), { address: a, port: p, scopeId: s });
    }));
  });
});

describe('control messages', () => {
  const pkt4 = Uint8Array.from(Buffer.from(le32(5) + '0a000002' + 'e0000012', 'hex'));
  const pkt6 = Uint8Array.from(Buffer.from('ff020000000000000000000000000012' + le32(6), 'hex'));
  const hop = Uint8Array.from(Buffer.from(le32(255), 'hex'));

  it('IP_PKTINFO, IPV6_PKTINFO and IPV6_HOPLIMIT as the kernel lays them out (8-byte aligned)', () => {
    const ctrl = Uint8Array.from([...encodeCmsg(SOL_IPV6, IPV6_OPT.HOPLIMIT, hop), ...encodeCmsg(SOL_IPV6, IPV6_OPT.PKTINFO, pkt6)]);
    assert.equal(ctrl.length, 24 + 40, 'CMSG_SPACE(4) + CMSG_SPACE(20)');
    const cs = decodeCmsgs(ctrl);
    assert.deepEqual(cs.map((c) => [c.level, c.type, c.data.length]), [
      [SOL_IPV6, IPV6_OPT.HOPLIMIT, 4],
      [SOL_IPV6, IPV6_OPT.PKTINFO, 20],
    ]);
    assert.equal(decodeCmsgInt(cs[0]!.data), 255);
    assert.deepEqual(decodeIn6Pktinfo(cs[1]!.data), { dst: 'ff02::12', ifindex: 6 });
    const c4 = decodeCmsgs(encodeCmsg(0, IP_OPT.PKTINFO, pkt4));
    assert.deepEqual(decodeInPktinfo(c4[0]!.data), { ifindex: 5, specDst: '10.0.0.2', dst: '224.0.0.18' });
  });
  it('refuses a cmsg_len below the header or past the buffer, and structs of the wrong size', () => {
    const c = encodeCmsg(0, 8, pkt4);
    const bad = (len: number): Uint8Array => {
      const b = Uint8Array.from(c);
      new DataView(b.buffer).setBigUint64(0, BigInt(len), true);
      return b;
    };
    assert.throws(() => decodeCmsgs(bad(8)), (e) => e instanceof DecodeError && e.code === 'BAD_LENGTH');
    assert.throws(() => decodeCmsgs(bad(200)), (e) => e instanceof DecodeError && e.code === 'BAD_LENGTH');
    assert.throws(() => decodeInPktinfo(pkt4.subarray(0, 8)), (e) => e instanceof DecodeError && e.code === 'BAD_SIZE');
    assert.throws(() => decodeIn6Pktinfo(pkt6.subarray(0, 16)), (e) => e instanceof DecodeError && e.code === 'BAD_SIZE');
    assert.throws(() => decodeCmsgInt(hop.subarray(0, 1)), (e) => e instanceof DecodeError && e.code === 'BAD_SIZE');
  });
  it('SCM_TIMESTAMPNS: struct timespec (LP64) as µs since the epoch; a bad size or tv_nsec refused', () => {
    // 2026-11-22T16:40:34.003217456Z: tv_sec 1_795_365_634, tv_nsec 3_217_456 (little-endian, as on x86-64).
    const ts = Uint8Array.from(Buffer.from(le32(1_795_365_634) + '00000000' + le32(3_217_456) + '00000000', 'hex'));
    const cs = decodeCmsgs(encodeCmsg(1, 35, ts));
    assert.deepEqual(cs.map((c) => [c.level, c.type, c.data.length]), [[1, 35, 16]]);
    assert.equal(decodeCmsgTimespec(cs[0]!.data), 1_795_365_634_003_217);
    assert.equal(new Date(decodeCmsgTimespec(ts) / 1000).toISOString(), '2026-11-22T16:40:34.003Z');
    assert.throws(() => decodeCmsgTimespec(ts.subarray(0, 8)), (e) => e instanceof DecodeError && e.code === 'BAD_SIZE');
    const badNsec = Uint8Array.from(Buffer.from(le32(1) + '00000000' + le32(1_000_000_000) + '00000000', 'hex'));
    assert.throws(() => decodeCmsgTimespec(badNsec), (e) => e instanceof DecodeError && e.code === 'BAD_VALUE');
  });
  it('property: any bytes give control messages or a DecodeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 96 }), (b) => decodesOrRefuses(() => decodeCmsgs(b))), { numRuns: 2000 });
  });
});

describe('decodeIpv4Header', () => {
  // Shaped like keepalived's VRRPv2 advert on the raw socket (tos 0xc0, ttl 255, proto 112; checksum left 0), plus two bytes of padding.
  const pkt = Buffer.from('45c00028' + 'd4424000' + 'ff70' + '0000' + '0ae72901' + 'e0000012' + '2133c80100010000' + '0ae72964' + '0000000000000000' + 'aaaa', 'hex');
  it('reads the fields the channel needs and allows trailing padding', () => {
    assert.deepEqual(decodeIpv4Header(pkt), { headerLen: 20, totalLen: 40, tos: 0xc0, ttl: 255, protocol: 112, src: '10.231.41.1', dst: '224.0.0.18' });
  });
  const cases: [string, Uint8Array, DecodeError['code']][] = [
    ['IPv6 version nibble', Uint8Array.from([0x65, ...pkt.subarray(1)]), 'BAD_VALUE'],
    ['IHL 4', Uint8Array.from([0x44, ...pkt.subarray(1)]), 'BAD_VALUE'],
    ['total length past the datagram', Uint8Array.from([...pkt.subarray(0, 2), 0x01, 0x00, ...pkt.subarray(4)]), 'BAD_LENGTH'],
    ['total length below the header', Uint8Array.from([...pkt.subarray(0, 2), 0x00, 0x10, ...pkt.subarray(4)]), 'BAD_LENGTH'],
    ['IHL 15 in a short datagram', Uint8Array.from([0x4f, ...pkt.subarray(1, 40)]), 'BAD_LENGTH'],
    ['short', pkt.subarray(0, 12), 'SHORT'],
  ];
  for (const [name, b, code] of cases) it(name, () => assert.throws(() => decodeIpv4Header(b), (e) => e instanceof DecodeError && e.code === code));
  it('property: any bytes give a header or a DecodeError; src/dst read back', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => decodesOrRefuses(() => decodeIpv4Header(b))), { numRuns: 2000 });
    fc.assert(fc.property(ipv4, ipv4, (s, d) => {
      const b = Uint8Array.from(pkt);
      b.set(inet4Sockaddr(s).subarray(4, 8), 12);
      b.set(inet4Sockaddr(d).subarray(4, 8), 16);
      const h = decodeIpv4Header(b);
      assert.deepEqual([h.src, h.dst], [s, d]);
    }));
  });
});
