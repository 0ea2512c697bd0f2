import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CTA, IPS } from '../../src/ctnetlink/consts.js';
import { decodeConntrack, encodeConntrack, type CtLayout } from '../../src/ctnetlink/conntrack.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { checkConntrackLine } from '../helpers/conntrack-output.js';
import { loadGolden, zeroPadding } from '../helpers/golden.js';
import { attr, be16, be32, be64, nest, payload, tuple4 } from '../helpers/nla-build.js';
import { bytesRoundTrip, roundTrip } from '../helpers/roundtrip.js';
import { CONNTRACKS } from './golden-expected.js';

const AF_INET = 2;
const N = 0x8000; // NLA_F_NESTED

describe('conntrack codec: golden captures from the kernel and conntrack(8)', () => {
  for (const [name, expected] of Object.entries(CONNTRACKS)) {
    const request = name.startsWith('req-');
    it(`${name}: decode(raw) = expected and encode(expected) = raw`, () => {
      const g = loadGolden(name);
      assert.deepStrictEqual(decodeConntrack(g.msg.payload), expected);
      // conntrack's requests carry uninitialised padding bytes (libnfnetlink); the kernel's do not.
      const raw = request ? zeroPadding(g.msg.payload, 4) : Uint8Array.from(g.msg.payload);
      assert.deepStrictEqual(encodeConntrack(expected, request ? 'request' : 'dump'), raw);
      bytesRoundTrip(raw, decodeConntrack, (ct) => encodeConntrack(ct, request ? 'request' : 'dump'));
      const line = g.header.get('conntrack-output');
      if (line !== undefined) checkConntrackLine(line, expected);
    });
  }

  it('every dump capture names its provenance (command, capture method, kernel, conntrack version)', () => {
    for (const name of Object.keys(CONNTRACKS)) {
      const h = loadGolden(name).header;
      for (const key of ['command', 'capture', 'kernel', 'conntrack']) assert.ok(h.get(key), `${name}: no ${key}`);
    }
  });
});

const base: Conntrack = {
  family: 'ipv4',
  orig: { family: 'ipv4', src: '192.0.2.1', dst: '198.51.100.1', proto: 6, srcPort: 40000, dstPort: 80 },
  reply: { family: 'ipv4', src: '198.51.100.1', dst: '203.0.113.5', proto: 6, srcPort: 80, dstPort: 40000 },
  status: IPS.CONFIRMED | IPS.ASSURED | IPS.SEEN_REPLY | IPS.SRC_NAT | IPS.SRC_NAT_DONE,
  timeout: 431999,
  mark: 7,
  id: 0xdeadbeef,
  use: 1,
};

const everything: Conntrack = {
  ...base,
  zone: 9,
  master: { family: 'ipv4', src: '192.0.2.1', dst: '198.51.100.1', proto: 6, srcPort: 40021, dstPort: 21, zone: 2 },
  protoinfo: {
    tcp: { state: 3, wscaleOrig: 7, wscaleReply: 8, flagsOrig: { flags: 0x23, mask: 0 }, flagsReply: { flags: 3, mask: 3 } },
  },
  helper: 'ftp',
  helperInfo: Uint8Array.of(1, 2, 3),
  natSrc: { minIp: '203.0.113.5', maxIp: '203.0.113.9', minPort: 1024, maxPort: 65535 },
  natDst: { minIp: '2001:db8::1' },
  countersOrig: { packets: 10n, bytes: 1000n },
  countersReply: { packets: 2n ** 40n, bytes: 2n ** 64n - 1n },
  seqAdjOrig: { correctionPos: 0xfffffffe, offsetBefore: 0, offsetAfter: 2 },
  seqAdjReply: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 },
  secmark: 5,
  secctx: 'system_u:object_r:unlabeled_t:s0',
  timestamp: { start: 1795259771414847054n, stop: 1795259772414847054n },
  labels: Uint8Array.from({ length: 16 }, (_, i) => i),
  labelsMask: Uint8Array.of(0xff, 0xff, 0xff, 0xff),
  synproxy: { isn: 1, its: 2, tsoff: 3 },
  markMask: 0xff,
  statusMask: IPS.ASSURED,
  timestampEvent: 1795259772414847999n,
};

describe('conntrack codec: round trips', () => {
  const layouts: CtLayout[] = ['dump', 'event', 'destroy'];
  for (const layout of layouts) {
    it(`every field survives encode → decode in the '${layout}' layout`, () => {
      roundTrip(everything, (ct) => encodeConntrack(ct, layout), decodeConntrack);
    });
  }

  it("the 'request' layout leaves out what the kernel only reports, and CTA_TIMESTAMP_EVENT (NLA_REJECT)", () => {
    const { use: _u, countersOrig: _co, countersReply: _cr, timestamp: _t, secctx: _s, timestampEvent: _te, ...kept } = everything;
    roundTrip(everything, (ct) => encodeConntrack(ct, 'request'), decodeConntrack, kept);
  });

  it('an entry with nothing but its family is 4 bytes of nfgenmsg', () => {
    assert.deepStrictEqual(roundTrip({ family: 'ipv6' }, (ct) => encodeConntrack(ct), decodeConntrack), Uint8Array.of(10, 0, 0, 0));
  });

  it('the layouts put the same attributes in the kernel orders', () => {
    const order = (layout: CtLayout): number[] => {
      const b = encodeConntrack(everything, layout);
      const types: number[] = [];
      for (let o = 4; o < b.length; ) {
        const len = b[o]! | (b[o + 1]! << 8);
        types.push((b[o + 2]! | (b[o + 3]! << 8)) & 0x3fff);
        o += (len + 3) & ~3;
      }
      return types;
    };
    // ctnetlink_fill_info: tuples, zone, status, mark, secctx, id, use, master, timeout, protoinfo, extinfo
    assert.deepStrictEqual(order('dump').slice(0, 19), [
      CTA.TUPLE_ORIG, CTA.TUPLE_REPLY, CTA.ZONE, CTA.STATUS, CTA.MARK, CTA.SECCTX, CTA.ID, CTA.USE, CTA.TUPLE_MASTER,
      CTA.TIMEOUT, CTA.PROTOINFO, CTA.COUNTERS_ORIG, CTA.COUNTERS_REPLY, CTA.TIMESTAMP, CTA.HELP, CTA.LABELS,
      CTA.SEQ_ADJ_ORIG, CTA.SEQ_ADJ_REPLY, CTA.SYNPROXY,
    ]);
    assert.deepStrictEqual(order('destroy').slice(0, 12), [
      CTA.TUPLE_ORIG, CTA.TUPLE_REPLY, CTA.ZONE, CTA.ID, CTA.STATUS, CTA.TIMEOUT, CTA.COUNTERS_ORIG, CTA.COUNTERS_REPLY,
      CTA.TIMESTAMP, CTA.PROTOINFO, CTA.MARK, CTA.TIMESTAMP_EVENT,
    ]);
    assert.ok(!order('request').includes(CTA.TIMESTAMP_EVENT));
    for (const layout of ['dump', 'event', 'destroy'] as const) assert.equal(new Set(order(layout)).size, 26, layout);
  });
});

describe('conntrack codec: unknown attributes are kept at every level and re-emitted', () => {
  const U = (t: number): Uint8Array => attr(t, [0xab, 0xcd]);
  const bytes = payload(
    AF_INET,
    nest(CTA.TUPLE_ORIG, nest(1, attr(1, [10, 0, 0, 1]), attr(2, [10, 0, 0, 2]), U(9)), nest(2, attr(1, [17]), attr(2, be16(53)), U(30)), U(10)),
    nest(CTA.PROTOINFO, nest(1, attr(1, [3]), U(20)), U(9)),
    nest(CTA.COUNTERS_ORIG, attr(1, be64(1n)), attr(2, be64(2n)), U(5)),
    nest(CTA.HELP, attr(1, [0x66, 0x74, 0x70, 0]), U(7)),
    nest(CTA.NAT_SRC, attr(1, [1, 2, 3, 4]), nest(3, attr(1, be16(1)), U(8)), U(9)),
    nest(CTA.SEQ_ADJ_ORIG, attr(1, be32(1)), attr(2, be32(2)), attr(3, be32(3)), U(4)),
    nest(CTA.SECCTX, attr(1, [0x78, 0]), U(2)),
    nest(CTA.TIMESTAMP, attr(1, be64(5n)), U(3)),
    nest(CTA.SYNPROXY, attr(1, be32(1)), U(4)),
    attr(99 | N, [1, 2, 3, 4, 5]),
    attr(CTA.FILTER | N, attr(1, be32(3))),
  );

  it('decodes every unknown attribute with its full type (flags included) and data', () => {
    const ct = decodeConntrack(bytes);
    const raw = (t: number): { type: number; data: Uint8Array } => ({ type: t, data: Uint8Array.of(0xab, 0xcd) });
    assert.deepStrictEqual(ct.orig?.ipUnknown, [raw(9)]);
    assert.deepStrictEqual(ct.orig?.protoUnknown, [raw(30)]);
    assert.deepStrictEqual(ct.orig?.unknown, [raw(10)]);
    assert.deepStrictEqual(ct.protoinfo?.tcp?.unknown, [raw(20)]);
    assert.deepStrictEqual(ct.protoinfo?.unknown, [raw(9)]);
    assert.deepStrictEqual(ct.countersOrig?.unknown, [raw(5)]);
    assert.deepStrictEqual(ct.helpUnknown, [raw(7)]);
    assert.deepStrictEqual(ct.natSrc?.protoUnknown, [raw(8)]);
    assert.deepStrictEqual(ct.natSrc?.unknown, [raw(9)]);
    assert.deepStrictEqual(ct.seqAdjOrig?.unknown, [raw(4)]);
    assert.deepStrictEqual(ct.secctxUnknown, [raw(2)]);
    assert.deepStrictEqual(ct.timestamp?.unknown, [raw(3)]);
    assert.deepStrictEqual(ct.synproxy?.unknown, [raw(4)]);
    assert.deepStrictEqual(ct.unknown?.map((a) => a.type), [99 | N, CTA.FILTER | N]);
  });

  it('re-encodes them so the value round-trips, unknown attributes last at each level', () => {
    const ct = decodeConntrack(bytes);
    for (const layout of ['dump', 'event', 'destroy'] as const) roundTrip(ct, (c) => encodeConntrack(c, layout), decodeConntrack);
    const { countersOrig: _c, secctx: _s, secctxUnknown: _su, timestamp: _t, ...requestable } = ct;
    roundTrip(requestable, (c) => encodeConntrack(c, 'request'), decodeConntrack);
  });
});

describe('conntrack codec: malformed input is a DecodeError with a path', () => {
  const orig = (...inner: Uint8Array[]): Uint8Array => nest(CTA.TUPLE_ORIG, ...inner);
  const cases: [string, Uint8Array, DecodeError['code'], string[]][] = [
    ['an empty payload', new Uint8Array(0), 'SHORT', ['conntrack']],
    ['a payload shorter than nfgenmsg', Uint8Array.of(2, 0), 'SHORT', ['conntrack']],
    ['nfgen_family AF_UNSPEC', payload(0), 'BAD_VALUE', ['conntrack']],
    ['nfgen_family AF_BRIDGE', payload(7), 'BAD_VALUE', ['conntrack']],
    ['a truncated attribute header', Uint8Array.of(2, 0, 0, 0, 8, 0), 'SHORT', ['conntrack']],
    ['nla_len below 4', Uint8Array.of(2, 0, 0, 0, 3, 0, 3, 0), 'BAD_LENGTH', ['conntrack']],
    ['nla_len past the end', Uint8Array.of(2, 0, 0, 0, 12, 0, 3, 0, 0, 0, 0, 0), 'BAD_LENGTH', ['conntrack']],
    ['CTA_STATUS of 2 bytes', payload(AF_INET, attr(CTA.STATUS, [0, 1])), 'BAD_SIZE', ['conntrack', 'status']],
    ['CTA_MARK of 8 bytes', payload(AF_INET, attr(CTA.MARK, be64(1n))), 'BAD_SIZE', ['conntrack', 'mark']],
    ['CTA_ZONE of 4 bytes', payload(AF_INET, attr(CTA.ZONE, be32(1))), 'BAD_SIZE', ['conntrack', 'zone']],
    ['CTA_TIMESTAMP_EVENT of 4 bytes', payload(AF_INET, attr(CTA.TIMESTAMP_EVENT, be32(1))), 'BAD_SIZE', ['conntrack', 'timestampEvent']],
    ['CTA_LABELS of 5 bytes', payload(AF_INET, attr(CTA.LABELS, [1, 2, 3, 4, 5])), 'BAD_SIZE', ['conntrack', 'labels']],
    ['CTA_LABELS of 20 bytes', payload(AF_INET, attr(CTA.LABELS, new Uint8Array(20))), 'BAD_SIZE', ['conntrack', 'labels']],
    ['an IPv4 address of 3 bytes', payload(AF_INET, orig(nest(1, attr(1, [1, 2, 3])))), 'BAD_SIZE', ['conntrack', 'orig', 'ip', 'src']],
    ['an IPv6 address of 4 bytes', payload(AF_INET, orig(nest(1, attr(4, [1, 2, 3, 4])))), 'BAD_SIZE', ['conntrack', 'orig', 'ip', 'dst']],
    [
      'IPv4 and IPv6 addresses in one tuple',
      payload(AF_INET, orig(nest(1, attr(1, [1, 2, 3, 4]), attr(4, new Uint8Array(16))))),
      'BAD_VALUE',
      ['conntrack', 'orig', 'ip'],
    ],
    ['a tuple without addresses', payload(AF_INET, orig(nest(2, attr(1, [6])))), 'MISSING', ['conntrack', 'orig', 'ip']],
    ['a tuple without CTA_PROTO_NUM', payload(AF_INET, nest(CTA.TUPLE_REPLY, nest(1, attr(1, [1, 2, 3, 4]), attr(2, [1, 2, 3, 5])))), 'MISSING', ['conntrack', 'reply', 'proto', 'num']],
    ['a port of 1 byte', payload(AF_INET, orig(...tuple4('1.2.3.4', '5.6.7.8', 6), nest(2, attr(1, [6]), attr(2, [80])))), 'BAD_SIZE', ['conntrack', 'orig', 'proto', 'srcPort']],
    ['CTA_TUPLE_ZONE of 1 byte', payload(AF_INET, nest(CTA.TUPLE_MASTER, ...tuple4('1.2.3.4', '5.6.7.8', 6), attr(3, [1]))), 'BAD_SIZE', ['conntrack', 'master', 'zone']],
    ['a nested length past its parent', payload(AF_INET, nest(CTA.TUPLE_ORIG, Uint8Array.of(12, 0, 1, 0x80, 0, 0, 0, 0))), 'BAD_LENGTH', ['conntrack', 'orig']],
    ['TCP flags of 3 bytes', payload(AF_INET, nest(CTA.PROTOINFO, nest(1, attr(4, [1, 2, 3])))), 'BAD_SIZE', ['conntrack', 'protoinfo', 'tcp', 'flagsOrig']],
    ['an SCTP vtag of 2 bytes', payload(AF_INET, nest(CTA.PROTOINFO, nest(3, attr(2, [1, 2])))), 'BAD_SIZE', ['conntrack', 'protoinfo', 'sctp', 'vtagOrig']],
    ['a DCCP handshake seq of 4 bytes', payload(AF_INET, nest(CTA.PROTOINFO, nest(2, attr(3, be32(1))))), 'BAD_SIZE', ['conntrack', 'protoinfo', 'dccp', 'handshakeSeq']],
    ['counters without bytes', payload(AF_INET, nest(CTA.COUNTERS_ORIG, attr(1, be64(1n)))), 'MISSING', ['conntrack', 'countersOrig', 'bytes']],
    ['a 64-bit counter of 4 bytes', payload(AF_INET, nest(CTA.COUNTERS_REPLY, attr(1, be32(1)))), 'BAD_SIZE', ['conntrack', 'countersReply', 'packets']],
    ['a sequence adjustment without offset_after', payload(AF_INET, nest(CTA.SEQ_ADJ_REPLY, attr(1, be32(1)), attr(2, be32(2)))), 'MISSING', ['conntrack', 'seqAdjReply', 'offsetAfter']],
    ['CTA_HELP without a name', payload(AF_INET, nest(CTA.HELP, attr(2, [1]))), 'MISSING', ['conntrack', 'help', 'name']],
    ['CTA_SECCTX without a name', payload(AF_INET, nest(CTA.SECCTX)), 'MISSING', ['conntrack', 'secctx', 'name']],
    ['a NAT address of 2 bytes', payload(AF_INET, nest(CTA.NAT_DST, attr(1, [1, 2]))), 'BAD_SIZE', ['conntrack', 'natDst', 'minIp']],
    ['a NAT port of 4 bytes', payload(AF_INET, nest(CTA.NAT_SRC, nest(3, attr(2, be32(1))))), 'BAD_SIZE', ['conntrack', 'natSrc', 'proto', 'maxPort']],
    ['a timestamp of 2 bytes', payload(AF_INET, nest(CTA.TIMESTAMP, attr(2, [1, 2]))), 'BAD_SIZE', ['conntrack', 'timestamp', 'stop']],
    ['a synproxy ISN of 1 byte', payload(AF_INET, nest(CTA.SYNPROXY, attr(1, [1]))), 'BAD_SIZE', ['conntrack', 'synproxy', 'isn']],
    ['a trailing partial attribute in a nest', payload(AF_INET, nest(CTA.SYNPROXY, attr(1, be32(1)), Uint8Array.of(1, 2))), 'SHORT', ['conntrack', 'synproxy']],
  ];
  for (const [name, bytes, code, path] of cases) {
    it(`${name} → ${code} at ${path.join('.')}`, () => {
      assert.throws(
        () => decodeConntrack(bytes),
        (e: unknown) => e instanceof DecodeError && e.code === code && e.path.join('.') === path.join('.'),
      );
    });
  }
});

describe('conntrack codec: accepted variations', () => {
  it('reads the pre-2.6.32 32-bit counters into the 64-bit fields', () => {
    const ct = decodeConntrack(payload(AF_INET, nest(CTA.COUNTERS_ORIG, attr(3, be32(7)), attr(4, be32(700)))));
    assert.deepStrictEqual(ct.countersOrig, { packets: 7n, bytes: 700n });
  });

  it('reads nests sent without NLA_F_NESTED (old userspace) the same way', () => {
    const withFlag = payload(AF_INET, nest(CTA.TUPLE_ORIG, ...tuple4('10.0.0.1', '10.0.0.2', 17, 1, 2)));
    const without = Uint8Array.from(withFlag);
    without[7] = 0x00; // CTA_TUPLE_ORIG type high byte: drop NLA_F_NESTED
    assert.deepStrictEqual(decodeConntrack(without), decodeConntrack(withFlag));
  });

  it('ignores nfgenmsg version and res_id, and the last of two identical attributes wins', () => {
    const bytes = payload(AF_INET, attr(CTA.MARK, be32(1)), attr(CTA.MARK, be32(2)));
    bytes[1] = 1;
    bytes[3] = 9;
    assert.deepStrictEqual(decodeConntrack(bytes), { family: 'ipv4', mark: 2 });
  });

  it('keeps a helper name up to its NUL and decodes UTF-8 security contexts', () => {
    const ct = decodeConntrack(
      payload(AF_INET, nest(CTA.HELP, attr(1, [0x73, 0x69, 0x70, 0, 0x78])), nest(CTA.SECCTX, attr(1, [0xc3, 0xa9, 0x74, 0xc3, 0xa9, 0]))),
    );
    assert.equal(ct.helper, 'sip');
    assert.equal(ct.secctx, 'été');
  });

  it('returns plain Uint8Array copies, not views of the input', () => {
    const buf = Buffer.from(payload(AF_INET, attr(CTA.LABELS, [1, 0, 0, 0])));
    const ct = decodeConntrack(buf);
    buf.fill(0);
    assert.equal(Object.getPrototypeOf(ct.labels), Uint8Array.prototype);
    assert.deepStrictEqual(ct.labels, Uint8Array.of(1, 0, 0, 0));
  });
});
