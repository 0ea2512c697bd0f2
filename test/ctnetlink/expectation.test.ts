import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CTA_EXPECT, IPPROTO, NF_CT_EXPECT } from '../../src/ctnetlink/consts.js';
import { decodeExpectation, encodeExpectation } from '../../src/ctnetlink/expectation.js';
import type { Expectation } from '../../src/ctnetlink/types.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { checkExpectationLine } from '../helpers/conntrack-output.js';
import { loadGolden, zeroPadding } from '../helpers/golden.js';
import { attr, be16, be32, nest, payload, tuple4 } from '../helpers/nla-build.js';
import { bytesRoundTrip, roundTrip } from '../helpers/roundtrip.js';
import { EXPECTATIONS } from './golden-expected.js';

describe('expectation codec: golden captures', () => {
  for (const [name, expected] of Object.entries(EXPECTATIONS)) {
    const request = name.startsWith('req-');
    it(`${name}: decode(raw) = expected and encode(expected) = raw`, () => {
      const g = loadGolden(name);
      assert.deepStrictEqual(decodeExpectation(g.msg.payload), expected);
      const raw = request ? zeroPadding(g.msg.payload, 4) : Uint8Array.from(g.msg.payload);
      assert.deepStrictEqual(encodeExpectation(expected, request ? 'request' : 'kernel'), raw);
      bytesRoundTrip(raw, decodeExpectation, (e) => encodeExpectation(e, request ? 'request' : 'kernel'));
      const line = g.header.get('conntrack-output');
      if (line !== undefined) checkExpectationLine(line, expected);
    });
  }

  it('the FTP helper expectation carries NAT and the expectfn, as captured through SNAT', () => {
    const e = EXPECTATIONS['dump-exp-ftp.hex']!;
    assert.equal(e.fn, 'nat-follow-master');
    assert.equal(e.nat?.tuple?.srcPort, e.tuple?.dstPort);
  });
});

const full: Expectation = {
  family: 'ipv6',
  master: { family: 'ipv6', src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO.TCP, srcPort: 40021, dstPort: 21 },
  tuple: { family: 'ipv6', src: '2001:db8::2', dst: '2001:db8::1', proto: IPPROTO.TCP, srcPort: 0, dstPort: 40100 },
  mask: { family: 'ipv6', src: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', dst: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', proto: IPPROTO.TCP, srcPort: 0, dstPort: 0xffff },
  timeout: 300,
  id: 0x12345678,
  helper: 'ftp',
  zone: 4,
  flags: NF_CT_EXPECT.PERMANENT | NF_CT_EXPECT.USERSPACE,
  class: 1,
  nat: { dir: 1, tuple: { family: 'ipv6', src: '2001:db8::9', dst: '::', proto: IPPROTO.TCP, srcPort: 40100, dstPort: 0 } },
  fn: 'nat-follow-master',
  unknown: [{ type: 0x8000 | 60, data: Uint8Array.of(1, 2, 3) }],
};

describe('expectation codec: round trips and layouts', () => {
  it('every field survives both layouts', () => {
    roundTrip(full, (e) => encodeExpectation(e, 'kernel'), decodeExpectation);
    roundTrip(full, (e) => encodeExpectation(e, 'request'), decodeExpectation);
  });

  it("orders attributes as ctnetlink_exp_dump_expect ('kernel') and nfexp_nlmsg_build ('request')", () => {
    const order = (b: Uint8Array): number[] => {
      const out: number[] = [];
      for (let o = 4; o < b.length; o += ((b[o]! | (b[o + 1]! << 8)) + 3) & ~3) out.push(b[o + 2]!);
      return out;
    };
    const E = CTA_EXPECT;
    assert.deepStrictEqual(order(encodeExpectation(full, 'kernel')), [E.TUPLE, E.MASK, E.MASTER, E.NAT, E.TIMEOUT, E.ID, E.FLAGS, E.CLASS, E.HELP_NAME, E.FN, E.ZONE, 60]);
    assert.deepStrictEqual(order(encodeExpectation(full, 'request')), [E.TUPLE, E.MASTER, E.MASK, E.TIMEOUT, E.FLAGS, E.ZONE, E.HELP_NAME, E.ID, E.CLASS, E.NAT, E.FN, 60]);
  });

  it('keeps unknown attributes inside CTA_EXPECT_NAT', () => {
    const b = payload(2, nest(CTA_EXPECT.NAT, attr(1, be32(0)), attr(9, [7])));
    const e = decodeExpectation(b);
    assert.deepStrictEqual(e.nat, { dir: 0, unknown: [{ type: 9, data: Uint8Array.of(7) }] });
    roundTrip(e, (x) => encodeExpectation(x), decodeExpectation);
  });
});

describe('expectation codec: malformed input', () => {
  const cases: [string, Uint8Array, DecodeError['code'], string][] = [
    ['a payload shorter than nfgenmsg', Uint8Array.of(2), 'SHORT', 'expectation'],
    ['nfgen_family AF_UNSPEC', payload(0), 'BAD_VALUE', 'expectation'],
    ['CTA_EXPECT_TIMEOUT of 2 bytes', payload(2, attr(CTA_EXPECT.TIMEOUT, be16(1))), 'BAD_SIZE', 'expectation.timeout'],
    ['CTA_EXPECT_ZONE of 4 bytes', payload(2, attr(CTA_EXPECT.ZONE, be32(1))), 'BAD_SIZE', 'expectation.zone'],
    ['CTA_EXPECT_FLAGS of 1 byte', payload(2, attr(CTA_EXPECT.FLAGS, [1])), 'BAD_SIZE', 'expectation.flags'],
    ['a mask tuple without CTA_PROTO_NUM', payload(2, nest(CTA_EXPECT.MASK, tuple4('1.1.1.1', '2.2.2.2', 6)[0]!)), 'MISSING', 'expectation.mask.proto.num'],
    ['a NAT direction of 2 bytes', payload(2, nest(CTA_EXPECT.NAT, attr(1, [0, 1]))), 'BAD_SIZE', 'expectation.nat.dir'],
    ['a NAT tuple with a short address', payload(2, nest(CTA_EXPECT.NAT, nest(2, nest(1, attr(1, [1]))))), 'BAD_SIZE', 'expectation.nat.tuple.ip.src'],
  ];
  for (const [name, bytes, code, path] of cases) {
    it(`${name} → ${code} at ${path}`, () => {
      assert.throws(() => decodeExpectation(bytes), (e: unknown) => e instanceof DecodeError && e.code === code && e.path.join('.') === path);
    });
  }
});
