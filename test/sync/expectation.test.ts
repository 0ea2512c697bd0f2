import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Expectation, Tuple } from '../../src/ctnetlink/types.js';
import { NTA_EXP } from '../../src/sync/consts.js';
import { decodeExpectationBody, encodeExpectationBody, EXP_ATTRS, EXP_EMIT_ORDER, syncViewOfExpectation } from '../../src/sync/expectation.js';
import type { SyncEncodeOptions } from '../../src/sync/conntrack.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { Writer } from '../../src/wire/writer.js';
import { roundTrip } from '../helpers/roundtrip.js';
import { bytes, EXP_BODY, nta } from './build.js';

const body = (e: Expectation, opts?: SyncEncodeOptions): Uint8Array => {
  const w = new Writer();
  encodeExpectationBody(w, e, opts);
  return w.finish();
};
const decode = (b: Uint8Array): Expectation => decodeExpectationBody(b, 0, b.length);
function ids(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let o = 0; o + 4 <= b.length; o += (((b[o]! << 8) | b[o + 1]!) + 3) & ~3) out.push((b[o + 2]! << 8) | b[o + 3]!);
  return out;
}

const t = (family: 'ipv4' | 'ipv6', src: string, dst: string, proto: number, srcPort?: number, dstPort?: number): Tuple =>
  srcPort === undefined ? { family, src, dst, proto } : { family, src, dst, proto, srcPort, dstPort: dstPort! };

const ftp: Expectation = {
  family: 'ipv4',
  master: t('ipv4', '10.0.0.1', '10.0.0.2', 6, 40021, 21),
  tuple: t('ipv4', '10.0.0.2', '10.0.0.100', 6, 0, 40064),
  mask: t('ipv4', '255.255.255.255', '255.255.255.255', 6, 0, 65535),
  timeout: 300,
  flags: 0,
  class: 0,
  nat: { dir: 1, tuple: t('ipv4', '0.0.0.0', '0.0.0.0', 6, 40064, 0) },
  helper: 'ftp',
  fn: 'nat-follow-master',
  id: 77, // not carried
  zone: 3, // not carried
};

describe('sync expectation: the attribute table', () => {
  it('has one row per id 0..20 with the sizes of §2.7', () => {
    assert.equal(EXP_ATTRS.length, NTA_EXP.MAX);
    EXP_ATTRS.forEach((s, i) => assert.equal(s.id, i, s.name));
    for (const [name, id] of Object.entries(NTA_EXP)) if (name !== 'MAX') assert.equal(EXP_ATTRS[id]!.name, `NTA_EXP_${name}`);
    const sizes = EXP_ATTRS.map((s) => s.size ?? -(s.maxLen ?? 0));
    assert.deepStrictEqual(sizes, [8, 32, 1, 4, 8, 32, 1, 4, 8, 32, 1, 4, 4, 4, 4, 8, 4, 1, 4, -16, -32]);
    assert.deepStrictEqual([...EXP_EMIT_ORDER].sort((a, b) => a - b), EXP_ATTRS.map((s) => s.id));
  });
});

describe('sync expectation: emission (build.c exp2msg)', () => {
  it('FTP through NAT: the captured order, NAT_L4PROTO before NAT_PORT', () => {
    assert.deepStrictEqual(ids(body(ftp)), [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15, 17, 16, 18, 19, 20]);
  });

  it('port groups follow the master protocol, whatever the expected protocol', () => {
    const { nat: _n, ...withoutNat } = ftp;
    const noNat: Expectation = { ...withoutNat, tuple: t('ipv4', '10.0.0.2', '10.0.0.1', 17, 5004, 5006) };
    assert.deepStrictEqual(ids(body(noNat)), [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13, 14, 19, 20]);
    const icmpMaster: Expectation = { ...noNat, master: t('ipv4', '10.0.0.1', '10.0.0.2', 1) };
    assert.deepStrictEqual(ids(body(icmpMaster)), [0, 2, 4, 6, 8, 10, 12, 13, 14, 19, 20]);
  });

  it('FLAGS always (0 when absent); TIMEOUT not with CommitTimeout; CLASS, helper and fn when present', () => {
    const bare: Expectation = { family: 'ipv4', master: ftp.master!, tuple: ftp.tuple!, mask: ftp.mask! };
    assert.deepStrictEqual(ids(body(bare)), [0, 2, 3, 4, 6, 7, 8, 10, 11, 13]);
    assert.ok(!ids(body(ftp, { commitTimeout: true })).includes(NTA_EXP.TIMEOUT));
  });

  it('IPv6: groups of 32 bytes, and the NAT tuple goes without its address', () => {
    const v6: Expectation = {
      family: 'ipv6',
      master: t('ipv6', 'fd00::1', 'fd00::2', 6, 40021, 21),
      tuple: t('ipv6', 'fd00::2', 'fd00::1', 6, 0, 40064),
      mask: t('ipv6', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 6, 0, 65535),
      flags: 0,
      nat: { dir: 0, tuple: t('ipv6', 'fd00::9', 'fd00::9', 6, 1, 2) },
    };
    const b = body(v6);
    assert.deepStrictEqual(ids(b), [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 17, 16, 18]);
    assert.equal(b.length, 36 + 8 + 8 + 36 + 8 + 8 + 36 + 8 + 8 + 8 + 8 + 8 + 8);
    // A receiver gets unspecified addresses for it; encoding that again gives the same bytes.
    const back = decode(b);
    assert.deepStrictEqual(back.nat, { dir: 0, tuple: t('ipv6', '::', '::', 6, 1, 2) });
    assert.deepStrictEqual(body(back), b);
  });
});

describe('sync expectation: decoding', () => {
  it('round trip of everything carried; id and zone are not', () => {
    const { id: _i, zone: _z, ...carried } = ftp;
    assert.deepStrictEqual(syncViewOfExpectation(ftp), carried);
    roundTrip(carried, (e) => body(e), decode);
  });

  it('the minimal body decodes', () => {
    assert.deepStrictEqual(decode(Uint8Array.from(EXP_BODY)), {
      family: 'ipv4',
      master: t('ipv4', '10.0.0.1', '10.0.0.2', 6, 40000, 21),
      tuple: t('ipv4', '10.0.0.2', '10.0.0.1', 6, 0, 50000),
      mask: t('ipv4', '255.255.255.255', '255.255.255.255', 6, 0, 0xffff),
      flags: 0,
    });
  });

  it('NAT_DIR alone gives a NAT without tuple', () => {
    assert.deepStrictEqual(decode(bytes(EXP_BODY, nta(NTA_EXP.NAT_DIR, [0, 0, 0, 1]))).nat, { dir: 1 });
  });

  it('missing groups are DecodeError MISSING', () => {
    const missing = (b: Uint8Array, name: string): void => {
      assert.throws(() => decode(b), (e: unknown) => e instanceof DecodeError && e.code === 'MISSING' && e.path.at(-1) === name);
    };
    missing(bytes(EXP_BODY.slice(12)), 'NTA_EXP_MASTER_IPV4');
    missing(bytes(EXP_BODY.slice(0, 12)), 'NTA_EXP_MASTER_L4PROTO');
    missing(bytes(EXP_BODY.slice(0, 28)), 'NTA_EXP_EXPECT_IPV4');
  });
});
