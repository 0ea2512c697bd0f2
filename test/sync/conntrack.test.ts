import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Conntrack, Tuple } from '../../src/ctnetlink/types.js';
import { NTA } from '../../src/sync/consts.js';
import {
  conntrackToWire,
  CT_ATTRS,
  CT_EMIT_ORDER,
  decodeConntrackBody,
  encodeConntrackBody,
  syncViewOfConntrack,
  type CtWire,
  type SyncEncodeOptions,
} from '../../src/sync/conntrack.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { Writer } from '../../src/wire/writer.js';
import { roundTrip } from '../helpers/roundtrip.js';
import { be16, be32, bytes, nta } from './build.js';

const body = (ct: Conntrack, opts?: SyncEncodeOptions): Uint8Array => {
  const w = new Writer();
  encodeConntrackBody(w, ct, opts);
  return w.finish();
};
const decode = (b: Uint8Array): Conntrack => decodeConntrackBody(b, 0, b.length);

/** attrs lists [id, payload] of an encoded body (hand walk, independent of the decoder). */
function attrs(b: Uint8Array): [number, number[]][] {
  const out: [number, number[]][] = [];
  for (let o = 0; o + 4 <= b.length; ) {
    const len = (b[o]! << 8) | b[o + 1]!;
    out.push([(b[o + 2]! << 8) | b[o + 3]!, Array.from(b.subarray(o + 4, o + len))]);
    o += (len + 3) & ~3;
  }
  return out;
}
const ids = (b: Uint8Array): number[] => attrs(b).map(([id]) => id);
const attr = (b: Uint8Array, id: number): number[] | undefined => attrs(b).find(([i]) => i === id)?.[1];

const t4 = (src: string, dst: string, proto: number, srcPort?: number, dstPort?: number): Tuple =>
  srcPort === undefined ? { family: 'ipv4', src, dst, proto } : { family: 'ipv4', src, dst, proto, srcPort, dstPort: dstPort! };

describe('sync conntrack: the attribute table (network.h, parse.c)', () => {
  it('has one row per id 0..32, in id order', () => {
    assert.equal(CT_ATTRS.length, NTA.MAX);
    CT_ATTRS.forEach((s, i) => assert.equal(s.id, i, s.name));
    for (const [name, id] of Object.entries(NTA)) if (name !== 'MAX') assert.equal(CT_ATTRS[id]!.name, `NTA_${name}`);
  });

  it('has the payload sizes of §2.6 (variable ones with their maximum nta_len)', () => {
    const sizes = Object.fromEntries(CT_ATTRS.map((s) => [s.name, s.size ?? `≤${s.maxLen! - 4}`]));
    assert.deepStrictEqual(sizes, {
      NTA_IPV4: 8, NTA_IPV6: 32, NTA_L4PROTO: 1, NTA_PORT: 4, NTA_TCP_STATE: 1, NTA_STATUS: 4, NTA_TIMEOUT: 4, NTA_MARK: 4,
      NTA_MASTER_IPV4: 8, NTA_MASTER_IPV6: 32, NTA_MASTER_L4PROTO: 1, NTA_MASTER_PORT: 4, NTA_SNAT_IPV4: 4, NTA_DNAT_IPV4: 4,
      NTA_SPAT_PORT: 2, NTA_DPAT_PORT: 2, NTA_NAT_SEQ_ADJ: 24, NTA_SCTP_STATE: 1, NTA_SCTP_VTAG_ORIG: 4, NTA_SCTP_VTAG_REPL: 4,
      NTA_DCCP_STATE: 1, NTA_DCCP_ROLE: 1, NTA_ICMP_TYPE: 1, NTA_ICMP_CODE: 1, NTA_ICMP_ID: 2, NTA_TCP_WSCALE_ORIG: 1,
      NTA_TCP_WSCALE_REPL: 1, NTA_HELPER_NAME: '≤12', NTA_LABELS: '≤1024', NTA_SNAT_IPV6: 16, NTA_DNAT_IPV6: 16, NTA_SYNPROXY: 12, NTA_ZONE: 2,
    });
  });

  it('the emission order names every id once', () => {
    assert.deepStrictEqual([...CT_EMIT_ORDER].sort((a, b) => a - b), CT_ATTRS.map((s) => s.id));
  });
});

const everything: Conntrack = {
  family: 'ipv4',
  orig: t4('192.0.2.1', '198.51.100.1', 6, 40000, 21),
  reply: t4('198.51.100.1', '203.0.113.5', 6, 21, 50000),
  master: t4('192.0.2.1', '198.51.100.1', 6, 39999, 21),
  status: 0x1be,
  protoinfo: { tcp: { state: 3, wscaleOrig: 7, wscaleReply: 8, flagsOrig: { flags: 3, mask: 3 } } },
  timeout: 431999,
  mark: 0x2a,
  seqAdjOrig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 },
  seqAdjReply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 },
  helper: 'ftp',
  labels: Uint8Array.of(1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80),
  synproxy: { isn: 10, its: 20, tsoff: 30 },
  zone: 9,
  id: 1234,
  use: 1,
  countersOrig: { packets: 1n, bytes: 2n },
  secmark: 5,
};

describe('sync conntrack: emission (build.c ct2msg)', () => {
  it('puts the attributes in conntrackd 1.4.7 order', () => {
    assert.deepStrictEqual(ids(body(everything, { tcpWindowTracking: true })), [
      NTA.IPV4, NTA.STATUS, NTA.L4PROTO, NTA.PORT, NTA.TCP_STATE, NTA.TCP_WSCALE_ORIG, NTA.TCP_WSCALE_REPL, NTA.TIMEOUT, NTA.MARK,
      NTA.MASTER_IPV4, NTA.MASTER_L4PROTO, NTA.MASTER_PORT, NTA.SNAT_IPV4, NTA.SPAT_PORT, NTA.NAT_SEQ_ADJ, NTA.HELPER_NAME,
      NTA.LABELS, NTA.SYNPROXY, NTA.ZONE,
    ]);
  });

  it('pads every attribute with zeros and does not count the padding in nta_len', () => {
    const b = body({ family: 'ipv4', orig: t4('1.2.3.4', '5.6.7.8', 17, 1, 2), status: 0, helper: 'sip' });
    assert.deepStrictEqual(
      b,
      bytes(
        [0, 12, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8],
        [0, 8, 0, 5, 0, 0, 0, 0],
        [0, 5, 0, 2, 17, 0, 0, 0],
        [0, 8, 0, 3, 0, 1, 0, 2],
        [0, 8, 0, 27, 0x73, 0x69, 0x70, 0],
      ),
    );
    assert.equal(body({ family: 'ipv4', orig: t4('1.2.3.4', '5.6.7.8', 99), helper: 'nat-follow' }).length, 12 + 8 + 8 + 16);
  });

  it('byte-order quirks: SPAT/DPAT/ICMP id little-endian, SNAT/DNAT IPv4 and ports network order, zone and words big-endian', () => {
    const b = body({
      family: 'ipv4',
      orig: { family: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 0x1234 },
      natSrc: { minIp: '192.0.2.7', minPort: 0xabcd },
      natDst: { minIp: '192.0.2.8', minPort: 0x0102 },
      zone: 0x0304,
      timeout: 0x01020304,
    });
    assert.deepStrictEqual(attr(b, NTA.ICMP_ID), [0x34, 0x12]);
    assert.deepStrictEqual(attr(b, NTA.SPAT_PORT), [0xcd, 0xab]);
    assert.deepStrictEqual(attr(b, NTA.DPAT_PORT), [0x02, 0x01]);
    assert.deepStrictEqual(attr(b, NTA.SNAT_IPV4), [192, 0, 2, 7]);
    assert.deepStrictEqual(attr(b, NTA.DNAT_IPV4), [192, 0, 2, 8]);
    assert.deepStrictEqual(attr(b, NTA.ZONE), [3, 4]);
    assert.deepStrictEqual(attr(b, NTA.TIMEOUT), [1, 2, 3, 4]);
    assert.deepStrictEqual(attr(body({ family: 'ipv4', orig: t4('1.1.1.1', '2.2.2.2', 6, 0x1234, 0x5678) }), NTA.PORT), [0x12, 0x34, 0x56, 0x78]);
  });

  it('NAT_SEQ_ADJ is six big-endian words orig then reply; SYNPROXY is its, isn, tsoff', () => {
    const b = body(everything);
    assert.deepStrictEqual(attr(b, NTA.NAT_SEQ_ADJ), [...be32(1), ...be32(2), ...be32(3), ...be32(4), ...be32(5), ...be32(6)]);
    assert.deepStrictEqual(attr(b, NTA.SYNPROXY), [...be32(20), ...be32(10), ...be32(30)]);
  });

  it('labels: big-endian words, bit b of word i is label 32·i+b', () => {
    // model: label n is bit n&7 of byte n>>3 → labels 0, 33 and 127
    assert.deepStrictEqual(attr(body(everything), NTA.LABELS), [...be32(1), ...be32(2), ...be32(0), ...be32(0x80000000)]);
    const ragged = body({ family: 'ipv4', orig: t4('1.1.1.1', '2.2.2.2', 17, 1, 2), labels: Uint8Array.of(0, 0, 0, 0, 0x01) });
    assert.deepStrictEqual(attr(ragged, NTA.LABELS), [...be32(0), ...be32(1)]);
    assert.equal(attr(body({ ...everything, labels: new Uint8Array(16) }), NTA.LABELS), undefined);
  });

  it('the protocol decides the port and state attributes', () => {
    const pi = { tcp: { state: 3 }, sctp: { state: 4, vtagOrig: 1 }, dccp: { state: 2, role: 1 } };
    const rows: [number, number[]][] = [
      [6, [NTA.PORT, NTA.TCP_STATE]],
      [17, [NTA.PORT]],
      [132, [NTA.PORT, NTA.SCTP_STATE, NTA.SCTP_VTAG_ORIG, NTA.SCTP_VTAG_REPL]],
      [33, [NTA.PORT, NTA.DCCP_STATE, NTA.DCCP_ROLE]],
      [47, []], // GRE: no builder, keys are lost
      [136, []], // UDP-Lite too
    ];
    for (const [proto, want] of rows) {
      const b = body({ family: 'ipv4', orig: t4('1.1.1.1', '2.2.2.2', proto, 5, 6), protoinfo: pi });
      assert.deepStrictEqual(ids(b).slice(3), want, `proto ${proto}`);
    }
    const icmpNoType = body({ family: 'ipv4', orig: { family: 'ipv4', src: '1.1.1.1', dst: '2.2.2.2', proto: 1, icmpId: 4 } });
    assert.deepStrictEqual(ids(icmpNoType), [NTA.IPV4, NTA.STATUS, NTA.L4PROTO]);
  });

  it('options: TCPWindowTracking adds the window scales, CommitTimeout drops the timeout', () => {
    assert.ok(!ids(body(everything)).includes(NTA.TCP_WSCALE_ORIG));
    assert.deepStrictEqual(attr(body(everything, { tcpWindowTracking: true }), NTA.TCP_WSCALE_REPL), [8]);
    assert.ok(!ids(body(everything, { commitTimeout: true })).includes(NTA.TIMEOUT));
  });

  it('STATUS and L4PROTO are always sent; the address group only with an original tuple', () => {
    assert.deepStrictEqual(body({ family: 'ipv6' }), bytes(nta(NTA.STATUS, be32(0)), nta(NTA.L4PROTO, [0])));
  });

  it('master port group only when both master ports are known', () => {
    const b = body({ ...everything, master: t4('1.1.1.1', '2.2.2.2', 47) });
    assert.deepStrictEqual(attr(b, NTA.MASTER_L4PROTO), [47]);
    assert.equal(attr(b, NTA.MASTER_PORT), undefined);
  });
});

describe('sync conntrack: NAT from the reply tuple (libnetfilter_conntrack getobjopt)', () => {
  const orig = t4('10.0.0.1', '10.0.0.2', 6, 40000, 80);
  const nat = (reply: Tuple, status?: number, o: Tuple = orig): Partial<CtWire> => {
    const v = conntrackToWire(status === undefined ? { family: 'ipv4', orig: o, reply } : { family: 'ipv4', orig: o, reply, status });
    const out: Partial<CtWire> = {};
    if (v.snat !== undefined) out.snat = v.snat;
    if (v.dnat !== undefined) out.dnat = v.dnat;
    if (v.spat !== undefined) out.spat = v.spat;
    if (v.dpat !== undefined) out.dpat = v.dpat;
    return out;
  };
  const BOTH = 0x180; // SRC_NAT_DONE | DST_NAT_DONE
  it('no NAT: nothing', () => assert.deepStrictEqual(nat(t4('10.0.0.2', '10.0.0.1', 6, 80, 40000), BOTH), {}));
  it('SNAT with the same port', () => assert.deepStrictEqual(nat(t4('10.0.0.2', '192.0.2.1', 6, 80, 40000), BOTH), { snat: '192.0.2.1' }));
  it('SNAT with a new port', () => assert.deepStrictEqual(nat(t4('10.0.0.2', '192.0.2.1', 6, 80, 1024), BOTH), { snat: '192.0.2.1', spat: 1024 }));
  it('DNAT with a new port', () => assert.deepStrictEqual(nat(t4('10.0.0.9', '10.0.0.1', 6, 8080, 40000), BOTH), { dnat: '10.0.0.9', dpat: 8080 }));
  it('a status without SRC_NAT_DONE vetoes SNAT and SPAT', () => assert.deepStrictEqual(nat(t4('10.0.0.2', '192.0.2.1', 6, 80, 1024), 0x100), {}));
  it('a status without DST_NAT_DONE vetoes DNAT and DPAT', () => assert.deepStrictEqual(nat(t4('10.0.0.9', '10.0.0.1', 6, 8080, 40000), 0x80), {}));
  it('no status at all vetoes nothing', () => assert.deepStrictEqual(nat(t4('10.0.0.9', '10.0.0.1', 6, 8080, 40000)), { dnat: '10.0.0.9', dpat: 8080 }));
  it('ICMP: the port union (id / type·256+code) differs, the value sent is the reply port: 0', () => {
    const o: Tuple = { family: 'ipv4', src: '10.0.0.1', dst: '10.0.0.2', proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 };
    const r: Tuple = { family: 'ipv4', src: '10.0.0.2', dst: '10.0.0.1', proto: 1, icmpType: 0, icmpCode: 0, icmpId: 77 };
    assert.deepStrictEqual(nat(r, BOTH, o), { spat: 0, dpat: 0 });
    assert.deepStrictEqual(nat(r, 0, o), {});
    // id 0 equals the echo reply's type/code union (0): no SPAT
    assert.deepStrictEqual(nat({ ...r, icmpId: 0 }, BOTH, { ...o, icmpId: 0 }), { dpat: 0 });
  });
  it('addresses compare by value, not by spelling', () => {
    const o6: Tuple = { family: 'ipv6', src: 'fd00::1', dst: 'fd00::2', proto: 17, srcPort: 1, dstPort: 2 };
    const r6: Tuple = { family: 'ipv6', src: 'FD00:0::2', dst: 'fd00:0:0::1', proto: 17, srcPort: 2, dstPort: 1 };
    assert.deepStrictEqual(nat(r6, BOTH, o6), {});
  });
  it('natSrc / natDst, when present, are sent as they are and the reply tuple is not looked at', () => {
    const v = conntrackToWire({ family: 'ipv4', orig, reply: t4('9.9.9.9', '8.8.8.8', 6, 1, 2), status: BOTH, natSrc: { minIp: '192.0.2.1', maxIp: '192.0.2.9' } });
    assert.equal(v.snat, '192.0.2.1');
    assert.equal(v.dnat, undefined);
    assert.equal(v.spat, undefined);
  });
  it('IPv6 NAT addresses go in NTA_SNAT_IPV6 / NTA_DNAT_IPV6', () => {
    const b = body({ family: 'ipv6', orig: { family: 'ipv6', src: 'fd00::1', dst: 'fd00::2', proto: 17, srcPort: 1, dstPort: 2 }, natSrc: { minIp: 'fd00::100' }, natDst: { minIp: 'fd00::200' } });
    assert.deepStrictEqual(ids(b).slice(-2), [NTA.SNAT_IPV6, NTA.DNAT_IPV6]);
    assert.deepStrictEqual(attr(b, NTA.SNAT_IPV6), [0xfd, 0, ...new Array<number>(12).fill(0), 1, 0]);
  });
});

describe('sync conntrack: decoding and the view a peer gets', () => {
  it('round trip of everything the wire carries', () => {
    const view = syncViewOfConntrack(everything, { tcpWindowTracking: true });
    roundTrip(view, (ct) => body(ct, { tcpWindowTracking: true }), decode);
  });

  it('the view keeps what is carried, in the request form (natSrc, no reply), and drops the rest', () => {
    assert.deepStrictEqual(syncViewOfConntrack(everything), {
      family: 'ipv4',
      orig: t4('192.0.2.1', '198.51.100.1', 6, 40000, 21),
      master: t4('192.0.2.1', '198.51.100.1', 6, 39999, 21),
      status: 0x1be,
      protoinfo: { tcp: { state: 3 } },
      timeout: 431999,
      mark: 0x2a,
      natSrc: { minIp: '203.0.113.5', minPort: 50000 },
      seqAdjOrig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 },
      seqAdjReply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 },
      helper: 'ftp',
      labels: everything.labels!,
      synproxy: { its: 20, isn: 10, tsoff: 30 },
      zone: 9,
    });
  });

  it('decodes DCCP and SCTP state, IPv6 master, helper at the 11-character limit', () => {
    const b = bytes(
      nta(NTA.IPV6, [...new Array<number>(15).fill(0), 1, ...new Array<number>(15).fill(0), 2]),
      nta(NTA.L4PROTO, [33]),
      nta(NTA.PORT, [...be16(1), ...be16(2)]),
      nta(NTA.DCCP_STATE, [3]),
      nta(NTA.DCCP_ROLE, [1]),
      nta(NTA.MASTER_IPV6, [...new Array<number>(15).fill(0), 3, ...new Array<number>(15).fill(0), 4]),
      nta(NTA.MASTER_L4PROTO, [6]),
      nta(NTA.HELPER_NAME, [...Buffer.from('12345678901'), 0]),
    );
    assert.deepStrictEqual(decode(b), {
      family: 'ipv6',
      orig: { family: 'ipv6', src: '::1', dst: '::2', proto: 33, srcPort: 1, dstPort: 2 },
      protoinfo: { dccp: { state: 3, role: 1 } },
      master: { family: 'ipv6', src: '::3', dst: '::4', proto: 6 },
      helper: '12345678901',
    });
  });

  it('a helper name without NUL ends at the payload; an empty one is ""', () => {
    const base = [...nta(NTA.IPV4, [1, 1, 1, 1, 2, 2, 2, 2]), ...nta(NTA.L4PROTO, [17])];
    assert.equal(decode(bytes(base, nta(NTA.HELPER_NAME, [0x61, 0x62]))).helper, 'ab');
    assert.equal(decode(bytes(base, nta(NTA.HELPER_NAME, [0]))).helper, '');
  });

  it('incomplete entries are DecodeError MISSING with the attribute named', () => {
    const check = (b: Uint8Array, name: string): void => {
      assert.throws(
        () => decode(b),
        (e: unknown) => e instanceof DecodeError && e.code === 'MISSING' && e.path.at(-1) === name,
      );
    };
    check(bytes(nta(NTA.L4PROTO, [6])), 'NTA_IPV4');
    check(bytes(nta(NTA.IPV4, [1, 1, 1, 1, 2, 2, 2, 2])), 'NTA_L4PROTO');
    check(bytes(nta(NTA.IPV4, [1, 1, 1, 1, 2, 2, 2, 2]), nta(NTA.L4PROTO, [6]), nta(NTA.MASTER_L4PROTO, [6])), 'NTA_MASTER_IPV4');
    check(bytes(nta(NTA.IPV4, [1, 1, 1, 1, 2, 2, 2, 2]), nta(NTA.L4PROTO, [6]), nta(NTA.MASTER_IPV4, [1, 1, 1, 1, 2, 2, 2, 2])), 'NTA_MASTER_L4PROTO');
  });

  it('a malformed address in the model is a DecodeError from the encoder, as in ctnetlink', () => {
    assert.throws(() => body({ family: 'ipv4', orig: t4('1.2.3', '1.2.3.4', 6) }), DecodeError);
    assert.throws(() => body({ family: 'ipv4', orig: t4('01.2.3.4', '1.2.3.4', 6) }), DecodeError);
  });
});
