// The -L fast path must print exactly what the general path (decode, then formatConntrack) prints,
// or step aside. Checked on every captured kernel message, on arbitrary and realistic entries, and
// on mutated bytes.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AsciiOut, writeListLine, type ListLineFlags } from '../../src/cli/conntrack/fast-line.js';
import { formatConntrack, MSG } from '../../src/cli/conntrack/format.js';
import { IPPROTO, IPS } from '../../src/ctnetlink/consts.js';
import { decodeConntrack, encodeConntrack } from '../../src/ctnetlink/conntrack.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { conntrack as arbConntrack, ipv4 } from '../helpers/arbitraries.js';
import { GOLDEN_DIR, loadGolden } from '../helpers/golden.js';

const FLAG_SETS: ListLineFlags[] = [
  { layer3: false, id: false },
  { layer3: true, id: true },
];

/** general is the reference: the CLI's general path for one message, or undefined if the codec rejects it. */
function general(payload: Uint8Array, flags: ListLineFlags): string | undefined {
  let ct: Conntrack;
  try {
    ct = decodeConntrack(payload);
  } catch (e) {
    if (e instanceof DecodeError) return undefined;
    throw e;
  }
  return formatConntrack(ct, MSG.UNKNOWN, { ...flags, ktimestamp: false, time: false }, undefined, 1_700_000_000) + '\n';
}

/** fast runs the fast path; undefined when it steps aside (and then it must have written nothing). */
function fast(payload: Uint8Array, flags: ListLineFlags): string | undefined {
  const o = new AsciiOut();
  o.ascii('x'); // something before, which must stay untouched
  const ok = writeListLine(o, payload, 0, payload.length, flags);
  const text = Buffer.from(o.buf.subarray(0, o.len)).toString('latin1');
  if (!ok) {
    assert.equal(text, 'x', 'a refusal writes nothing');
    return undefined;
  }
  assert.equal(text[0], 'x');
  return text.slice(1);
}

/** check asserts the contract on one payload and reports whether the fast path took it. */
function check(payload: Uint8Array): boolean {
  let took = false;
  for (const flags of FLAG_SETS) {
    const f = fast(payload, flags);
    if (f === undefined) continue;
    took = true;
    assert.equal(f, general(payload, flags));
  }
  return took;
}

/** Realistic entries: IPv4, the attributes a dump of a busy firewall carries. */
const realistic: fc.Arbitrary<Conntrack> = fc
  .record({
    proto: fc.constantFrom(IPPROTO.TCP, IPPROTO.UDP, IPPROTO.ICMP, IPPROTO.GRE, IPPROTO.UDPLITE, IPPROTO.SCTP, 99),
    a: ipv4,
    b: ipv4,
    nat: ipv4,
    sport: fc.integer({ min: 0, max: 65535 }),
    dport: fc.integer({ min: 0, max: 65535 }),
    status: fc.integer({ min: 0, max: 0xffff }),
    timeout: fc.nat(),
    mark: fc.option(fc.nat({ max: 0xffffffff }), { nil: undefined }),
    zone: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    origZone: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    replyZone: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    state: fc.integer({ min: 0, max: 12 }),
    counters: fc.boolean(),
    big: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  })
  .map((r): Conntrack => {
    const icmp = r.proto === IPPROTO.ICMP;
    const l4 = icmp ? { icmpType: 8, icmpCode: 0, icmpId: r.sport } : r.proto === 99 ? {} : { srcPort: r.sport, dstPort: r.dport };
    const l4r = icmp ? { icmpType: 0, icmpCode: 0, icmpId: r.sport } : r.proto === 99 ? {} : { srcPort: r.dport, dstPort: r.sport };
    return {
      family: 'ipv4',
      orig: { family: 'ipv4', src: r.a, dst: r.b, proto: r.proto, ...l4, ...(r.origZone !== undefined ? { zone: r.origZone } : {}) },
      reply: { family: 'ipv4', src: r.b, dst: r.nat, proto: r.proto, ...l4r, ...(r.replyZone !== undefined ? { zone: r.replyZone } : {}) },
      status: r.status | IPS.CONFIRMED,
      timeout: r.timeout,
      ...(r.proto === IPPROTO.TCP ? { protoinfo: { tcp: { state: r.state, wscaleOrig: 7, wscaleReply: 7, flagsOrig: { flags: 3, mask: 0 }, flagsReply: { flags: 3, mask: 0 } } } } : {}),
      ...(r.counters ? { countersOrig: { packets: 12n, bytes: r.big }, countersReply: { packets: 0n, bytes: 1n << 40n } } : {}),
      ...(r.mark !== undefined ? { mark: r.mark } : {}),
      ...(r.zone !== undefined ? { zone: r.zone } : {}),
      use: 1,
      id: 4242,
      synproxy: { isn: 0, its: 0, tsoff: 0 },
    };
  });

/** attrOffsets lists the offset of every attribute header in a message, nests included (NLA_F_NESTED). */
function attrOffsets(b: Uint8Array, start: number, end: number, out: number[] = []): number[] {
  for (let off = start; off + 4 <= end; ) {
    const len = b[off]! | (b[off + 1]! << 8);
    if (len < 4 || off + len > end) break;
    out.push(off);
    if ((b[off + 3]! & 0x80) !== 0) attrOffsets(b, off + 4, off + len, out);
    off += (len + 3) & ~3;
  }
  return out;
}

describe('the -L fast path', () => {
  it('agrees with the general path on every captured kernel message, and takes the common ones', () => {
    let taken = 0;
    const names = readdirSync(GOLDEN_DIR).filter((n) => /^(dump-ct|event-ct|get-ct)-.*\.hex$/.test(n));
    assert.ok(names.length >= 10);
    for (const n of names) if (check(loadGolden(n).msg.payload)) taken++;
    assert.ok(taken >= 5, `the fast path took ${taken} captured messages`);
  });

  it('agrees on arbitrary entries (any family, protocol and attribute)', () => {
    fc.assert(fc.property(arbConntrack(), (ct) => void check(encodeConntrack(ct, 'dump'))), { numRuns: 2000 });
  });

  it('takes, and agrees on, realistic IPv4 entries', () => {
    let taken = 0;
    fc.assert(
      fc.property(realistic, (ct) => {
        if (check(encodeConntrack(ct, 'dump'))) taken++;
      }),
      { numRuns: 2000 },
    );
    assert.ok(taken > 1000, `fast path took ${taken} of 2000`);
  });

  it('never prints a message the codec would reject or read differently (mutated bytes)', () => {
    fc.assert(
      fc.property(realistic, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (ct, flips) => {
        const b = encodeConntrack(ct, 'dump').slice();
        for (const [i, v] of flips) b[i % b.length] = v;
        check(b);
      }),
      { numRuns: 5000 },
    );
  });

  it('never prints an attribute whose size is wrong while the framing stays valid', () => {
    fc.assert(
      fc.property(realistic, fc.nat(), fc.nat(), (ct, pick, delta) => {
        const b = encodeConntrack(ct, 'dump').slice();
        const offs = attrOffsets(b, 4, b.length);
        const off = offs[pick % offs.length]!;
        const len = b[off]! | (b[off + 1]! << 8);
        const aligned = (len + 3) & ~3;
        // Lengths that round up to the same aligned size: the next attribute stays where it was.
        const candidates = [aligned - 3, aligned - 2, aligned - 1, aligned].filter((l) => l !== len && l >= 4);
        const bad = candidates[delta % candidates.length];
        if (bad === undefined) return;
        b[off] = bad & 0xff;
        b[off + 1] = bad >> 8;
        check(b);
      }),
      { numRuns: 5000 },
    );
  });
});
