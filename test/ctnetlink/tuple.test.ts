import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CTA_PROTO, IPPROTO } from '../../src/ctnetlink/consts.js';
import { decodeTuple, encodeTuple, encodeTupleBody, type AttrOrder } from '../../src/ctnetlink/tuple.js';
import type { Tuple } from '../../src/ctnetlink/types.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { parseAnnotatedHex } from '../../src/wire/hex.js';
import { Reader } from '../../src/wire/reader.js';
import { Writer } from '../../src/wire/writer.js';
import { roundTrip } from '../helpers/roundtrip.js';

function body(t: Tuple, order: AttrOrder): Uint8Array {
  const w = new Writer();
  encodeTupleBody(w, t, order);
  return w.finish();
}
const decode = (b: Uint8Array): Tuple => decodeTuple(new Reader(b), 0, b.length, ['tuple']);

/** protoTypes lists the attribute types inside CTA_TUPLE_PROTO of an encoded tuple body. */
function protoTypes(b: Uint8Array): number[] {
  let o = 0;
  while ((b[o + 2]! & 0x7f) !== 2) o += (b[o]! + 3) & ~3;
  const end = o + b[o]!;
  const out: number[] = [];
  for (o += 4; o < end; o += (b[o]! + 3) & ~3) out.push(b[o + 2]!);
  return out;
}

describe('tuple codec', () => {
  const icmp: Tuple = { family: 'ipv4', src: '192.0.2.8', dst: '198.51.100.8', proto: IPPROTO.ICMP, icmpId: 1234, icmpType: 8, icmpCode: 0 };
  const icmpv6: Tuple = { family: 'ipv6', src: '2001:db8::1', dst: '2001:db8::2', proto: IPPROTO.ICMPV6, icmpId: 99, icmpType: 128, icmpCode: 0 };

  it('puts ICMP id, type, code in kernel order and code, type, id in libnetfilter_conntrack order', () => {
    assert.deepStrictEqual(protoTypes(body(icmp, 'kernel')), [CTA_PROTO.NUM, CTA_PROTO.ICMP_ID, CTA_PROTO.ICMP_TYPE, CTA_PROTO.ICMP_CODE]);
    assert.deepStrictEqual(protoTypes(body(icmp, 'libnfct')), [CTA_PROTO.NUM, CTA_PROTO.ICMP_CODE, CTA_PROTO.ICMP_TYPE, CTA_PROTO.ICMP_ID]);
  });

  it('uses the CTA_PROTO_ICMPV6_* types for ICMPv6 and reads both families of types into the same fields', () => {
    assert.deepStrictEqual(protoTypes(body(icmpv6, 'kernel')), [CTA_PROTO.NUM, CTA_PROTO.ICMPV6_ID, CTA_PROTO.ICMPV6_TYPE, CTA_PROTO.ICMPV6_CODE]);
    roundTrip(icmpv6, (t) => body(t, 'kernel'), decode);
    roundTrip(icmp, (t) => body(t, 'libnfct'), decode);
  });

  it('carries GRE keys in CTA_PROTO_SRC_PORT / CTA_PROTO_DST_PORT', () => {
    const gre: Tuple = { family: 'ipv4', src: '192.0.2.10', dst: '198.51.100.10', proto: IPPROTO.GRE, srcPort: 0x1234, dstPort: 0x5678 };
    const w = new Writer();
    encodeTuple(w, 1, gre, 'kernel');
    assert.deepStrictEqual(
      w.finish(),
      parseAnnotatedHex(`
        3400 0180                       # CTA_TUPLE_ORIG, nested, 52
          1400 0180                     #   CTA_TUPLE_IP
            0800 0100 c000020a          #     CTA_IP_V4_SRC 192.0.2.10
            0800 0200 c633640a          #     CTA_IP_V4_DST 198.51.100.10
          1c00 0280                     #   CTA_TUPLE_PROTO
            0500 0100 2f 000000         #     CTA_PROTO_NUM 47
            0600 0200 1234 0000         #     CTA_PROTO_SRC_PORT = GRE key
            0600 0300 5678 0000         #     CTA_PROTO_DST_PORT = GRE key`),
    );
  });

  it('round-trips IPv6, zones, and a protocol number without ports', () => {
    roundTrip({ family: 'ipv6', src: '::ffff:192.0.2.1', dst: 'fe80::1', proto: IPPROTO.SCTP, srcPort: 1, dstPort: 65535, zone: 65535 }, (t) => body(t, 'kernel'), decode);
    roundTrip({ family: 'ipv4', src: '0.0.0.0', dst: '255.255.255.255', proto: 253 }, (t) => body(t, 'libnfct'), decode);
  });

  it('refuses to encode an address that is not canonical text of its family', () => {
    assert.throws(() => body({ family: 'ipv4', src: '1.2.3', dst: '1.2.3.4', proto: 6 }, 'kernel'), (e: unknown) => e instanceof DecodeError && e.code === 'BAD_VALUE');
    assert.throws(() => body({ family: 'ipv6', src: '1.2.3.4', dst: '::', proto: 6 }, 'kernel'), (e: unknown) => e instanceof DecodeError && e.code === 'BAD_VALUE');
    assert.throws(() => body({ family: 'ipv4', src: '1.2.3.256', dst: '1.2.3.4', proto: 6 }, 'kernel'), (e: unknown) => e instanceof DecodeError);
  });
});
