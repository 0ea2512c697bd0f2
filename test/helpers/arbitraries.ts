import fc from 'fast-check';
import type { RawAttr } from '../../src/netlink/attrs.js';
import { IPPROTO } from '../../src/ctnetlink/consts.js';
import type { Conntrack, Counters, Expectation, NatRange, ProtoInfo, Tuple } from '../../src/ctnetlink/types.js';
import { formatIPv4, formatIPv6, type Family } from '../../src/wire/ip.js';

/**
 * fast-check arbitraries for the ctnetlink model. Every generated value is one the codec can
 * represent exactly: canonical address text, strings without NUL, unknown attributes with type
 * numbers no decoder knows at that level, and non-empty `unknown` lists (an empty list encodes to
 * nothing and would come back absent).
 */

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

/** ipv4 / ipv6 generate canonical text; IPv6 words favour zeros so "::" and dotted tails occur. */
export const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => formatIPv4(b));
export const ipv6Bytes = fc
  .array(fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(0xffff) }, { weight: 3, arbitrary: u16 }), {
    minLength: 8,
    maxLength: 8,
  })
  .map((words) => Uint8Array.from(words.flatMap((w) => [w >> 8, w & 0xff])));
export const ipv6 = ipv6Bytes.map((b) => formatIPv6(b));
export const address = (family: Family): fc.Arbitrary<string> => (family === 'ipv4' ? ipv4 : ipv6);

/** unknownAttrs generates kept attributes whose type (flags masked) is at least `minType`. */
export function unknownAttrs(minType: number): fc.Arbitrary<RawAttr[]> {
  const raw: fc.Arbitrary<RawAttr> = fc.record(
    {
      type: fc.tuple(fc.integer({ min: minType, max: 0x3fff }), fc.constantFrom(0, 0x4000, 0x8000)).map(([t, f]) => t | f),
      data: fc.uint8Array({ maxLength: 12 }),
    },
    { noNullPrototype: true },
  );
  return fc.array(raw, { minLength: 1, maxLength: 3 });
}

const text = fc.string({ unit: 'grapheme', maxLength: 16 }).filter((s) => !s.includes('\0'));

export function tuple(family?: Family): fc.Arbitrary<Tuple> {
  const fam = family === undefined ? fc.constantFrom<Family>('ipv4', 'ipv6') : fc.constant(family);
  return fam.chain((f) =>
    fc.record(
      {
        family: fc.constant(f),
        src: address(f),
        dst: address(f),
        proto: u8,
        srcPort: u16,
        dstPort: u16,
        icmpId: u16,
        icmpType: u8,
        icmpCode: u8,
        zone: u16,
        unknown: unknownAttrs(4),
        ipUnknown: unknownAttrs(5),
        protoUnknown: unknownAttrs(10),
      },
      { requiredKeys: ['family', 'src', 'dst', 'proto'], noNullPrototype: true },
    ),
  );
}

const tcpFlags = fc.record({ flags: u8, mask: u8 }, { noNullPrototype: true });
export const protoInfo: fc.Arbitrary<ProtoInfo> = fc.record(
  {
    tcp: fc.record(
      { state: u8, wscaleOrig: u8, wscaleReply: u8, flagsOrig: tcpFlags, flagsReply: tcpFlags, unknown: unknownAttrs(6) },
      { requiredKeys: [], noNullPrototype: true },
    ),
    sctp: fc.record({ state: u8, vtagOrig: u32, vtagReply: u32, unknown: unknownAttrs(4) }, { requiredKeys: [], noNullPrototype: true }),
    dccp: fc.record({ state: u8, role: u8, handshakeSeq: u64, unknown: unknownAttrs(5) }, { requiredKeys: [], noNullPrototype: true }),
    unknown: unknownAttrs(4),
  },
  { requiredKeys: [], noNullPrototype: true },
);

const counters: fc.Arbitrary<Counters> = fc.record({ packets: u64, bytes: u64, unknown: unknownAttrs(6) }, { requiredKeys: ['packets', 'bytes'], noNullPrototype: true });

const natRange: fc.Arbitrary<NatRange> = fc.record(
  { minIp: fc.oneof(ipv4, ipv6), maxIp: fc.oneof(ipv4, ipv6), minPort: u16, maxPort: u16, unknown: unknownAttrs(6), protoUnknown: unknownAttrs(3) },
  { requiredKeys: [], noNullPrototype: true },
);

const labels = fc.integer({ min: 1, max: 4 }).chain((words) => fc.uint8Array({ minLength: 4 * words, maxLength: 4 * words }));

/** conntrack generates entries of either family with any subset of fields. */
export function conntrack(): fc.Arbitrary<Conntrack> {
  return fc.constantFrom<Family>('ipv4', 'ipv6').chain((family) =>
    fc
      .tuple(
        fc.record(
          {
            orig: tuple(family),
            reply: tuple(family),
            master: tuple(family),
            status: u32,
            protoinfo: protoInfo,
            natSrc: natRange,
            natDst: natRange,
            timeout: u32,
            mark: u32,
            markMask: u32,
            countersOrig: counters,
            countersReply: counters,
            use: u32,
            id: u32,
            seqAdjOrig: fc.record({ correctionPos: u32, offsetBefore: u32, offsetAfter: u32, unknown: unknownAttrs(4) }, { requiredKeys: ['correctionPos', 'offsetBefore', 'offsetAfter'], noNullPrototype: true }),
            seqAdjReply: fc.record({ correctionPos: u32, offsetBefore: u32, offsetAfter: u32 }, { noNullPrototype: true }),
            secmark: u32,
            zone: u16,
            timestamp: fc.record({ start: u64, stop: u64, unknown: unknownAttrs(4) }, { requiredKeys: [], noNullPrototype: true }),
            labels,
            labelsMask: labels,
            synproxy: fc.record({ isn: u32, its: u32, tsoff: u32, unknown: unknownAttrs(4) }, { requiredKeys: [], noNullPrototype: true }),
            statusMask: u32,
            timestampEvent: u64,
            unknown: unknownAttrs(28),
          },
          { requiredKeys: [], noNullPrototype: true },
        ),
        fc.option(fc.record({ helper: text, helperInfo: fc.uint8Array({ maxLength: 8 }), helpUnknown: unknownAttrs(3) }, { requiredKeys: ['helper'], noNullPrototype: true }), { nil: undefined }),
        fc.option(fc.record({ secctx: text, secctxUnknown: unknownAttrs(2) }, { requiredKeys: ['secctx'], noNullPrototype: true }), { nil: undefined }),
      )
      .map(([fields, help, secctx]) => ({ family, ...fields, ...help, ...secctx })),
  );
}

export function expectation(): fc.Arbitrary<Expectation> {
  return fc.constantFrom<Family>('ipv4', 'ipv6').chain((family) =>
    fc
      .record(
        {
          master: tuple(family),
          tuple: tuple(family),
          mask: tuple(family),
          timeout: u32,
          id: u32,
          helper: text,
          zone: u16,
          flags: u32,
          class: u32,
          nat: fc.record({ dir: u32, tuple: tuple(family), unknown: unknownAttrs(3) }, { requiredKeys: [], noNullPrototype: true }),
          fn: text,
          unknown: unknownAttrs(12),
        },
        { requiredKeys: [], noNullPrototype: true },
      )
      .map((fields) => ({ family, ...fields })),
  );
}


/** A tuple the fast path takes: addresses, protocol, then ports or ICMP fields (as the kernel fills them). */
function plainTuple(family: 'ipv4' | 'ipv6', proto: number): fc.Arbitrary<Tuple> {
  const icmp = proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6;
  return fc
    .record({ src: address(family), dst: address(family), a: u16, b: u16, t: u8, c: u8 })
    .map(({ src, dst, a, b, t, c }) => (icmp ? { family, src, dst, proto, icmpId: a, icmpType: t, icmpCode: c } : { family, src, dst, proto, srcPort: a, dstPort: b }));
}

/** firewallEntry: the entries a firewall's table is made of — the replication fast paths' domain. */
export const firewallEntry: fc.Arbitrary<Conntrack> = fc
  .record({
    family: fc.constantFrom<'ipv4' | 'ipv6'>('ipv4', 'ipv6'),
    proto: fc.constantFrom<number>(IPPROTO.TCP, IPPROTO.UDP, IPPROTO.ICMP, IPPROTO.ICMPV6, IPPROTO.SCTP, IPPROTO.GRE, 136),
    nat: fc.boolean(),
  })
  .chain(({ family, proto, nat }) =>
    fc
      .record(
        {
          orig: plainTuple(family, proto),
          reply: plainTuple(family, proto),
          status: u32,
          timeout: u32,
          mark: u32,
          zone: u16,
          use: u32,
          id: u32,
          protoinfo: protoInfo.map((pi) => {
            // flags and unknown attributes inside are off the fast path: keep state, wscale, vtags, role.
            const out: { tcp?: object; sctp?: object; dccp?: object } = {};
            if (pi.tcp !== undefined) out.tcp = { ...(pi.tcp.state !== undefined ? { state: pi.tcp.state } : {}), ...(pi.tcp.wscaleOrig !== undefined ? { wscaleOrig: pi.tcp.wscaleOrig } : {}) };
            if (pi.sctp !== undefined) out.sctp = { ...(pi.sctp.state !== undefined ? { state: pi.sctp.state } : {}), ...(pi.sctp.vtagOrig !== undefined ? { vtagOrig: pi.sctp.vtagOrig } : {}) };
            return out;
          }),
          synproxy: fc.record({ isn: u32, its: u32, tsoff: u32 }, { requiredKeys: [], noNullPrototype: true }),
          countersOrig: fc.record({ packets: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), bytes: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }, { noNullPrototype: true }),
        },
        { requiredKeys: ['orig'], noNullPrototype: true },
      )
      .map((c) => {
        const ct = { family, ...c } as Conntrack;
        // NAT'd or not: with `nat` the reply is the inverse of orig with the SNAT side changed.
        if (!nat || ct.reply === undefined || ct.orig === undefined) return ct;
        const o = ct.orig;
        return { ...ct, reply: { ...o, src: o.dst, dst: ct.reply.dst, srcPort: o.dstPort, dstPort: ct.reply.dstPort } } as Conntrack;
      }),
  );

