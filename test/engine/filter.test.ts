// General { Filter }: the pure filter (conntrackd 1.4.7's user-space semantics plus keepstate's Mark),
// its two readers (kernel bytes on the fast path, decoded entries) and where the internal cache applies it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import type { FilterConfig } from '../../src/config/conntrackd/types.js';
import { TCP_STATES } from '../../src/config/conntrackd/keywords.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import { KernelCtView, scanKernelCt } from '../../src/ctnetlink/scan.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { InternalCache, payloadOf } from '../../src/engine/cache.js';
import { acceptsConntrack, compileFilter, CtFilterFields, fieldsOfView, filterAccepts } from '../../src/engine/filter.js';
import { addressBytes, parseIPv4 } from '../../src/wire/ip.js';
import { firewallEntry } from '../helpers/arbitraries.js';

const LOC = { file: 't', line: 1, col: 1 };

function filterOf(body: string): FilterConfig {
  const f = parseConntrackdConfig(`General {\n Filter {\n${body}\n }\n}\n`, 't').config.general.filter;
  assert.ok(f !== undefined);
  return f;
}
const compiled = (body: string): ReturnType<typeof compileFilter> => compileFilter(filterOf(body));

function tcp(src: string, dst: string, extra: Partial<Conntrack> = {}, replySrc = dst): Conntrack {
  const family = src.includes(':') ? 'ipv6' : 'ipv4';
  return {
    family,
    orig: { family, src, dst, proto: IPPROTO.TCP, srcPort: 40000, dstPort: 80 },
    reply: { family, src: replySrc, dst: src, proto: IPPROTO.TCP, srcPort: 80, dstPort: 40000 },
    status: IPS.CONFIRMED,
    timeout: 100,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
    ...extra,
  };
}
const withoutProtoinfo = (ct: Conntrack): Conntrack => {
  const { protoinfo: _, ...rest } = ct;
  return rest;
};
const udp = (src: string, dst: string, extra: Partial<Conntrack> = {}): Conntrack => {
  const ct = withoutProtoinfo(tcp(src, dst, extra));
  return { ...ct, orig: { ...ct.orig!, proto: IPPROTO.UDP }, reply: { ...ct.reply!, proto: IPPROTO.UDP } };
};

/** viaBytes tests an entry as the fast path sees it: encoded as a kernel event, scanned, read from the bytes. */
function viaBytes(f: NonNullable<ReturnType<typeof compileFilter>>, ct: Conntrack): boolean | 'slow' {
  const p = payloadOf('update', ct);
  const v = new KernelCtView();
  if (!scanKernelCt(p, 4, p.length, v)) return 'slow';
  return filterAccepts(f, fieldsOfView(v, p, new CtFilterFields()));
}

describe('Filter semantics (conntrackd 1.4.7 src/filter.c)', () => {
  it('no Filter: everything passes', () => {
    assert.equal(compileFilter(undefined), undefined);
    assert.equal(acceptsConntrack(undefined, udp('10.0.0.1', '10.0.0.2')), true);
  });

  it('Protocol Accept passes only the listed protocols, Ignore all others', () => {
    const acc = compiled('Protocol Accept { TCP }');
    assert.equal(acceptsConntrack(acc, tcp('10.0.0.1', '10.0.0.2')), true);
    assert.equal(acceptsConntrack(acc, udp('10.0.0.1', '10.0.0.2')), false);
    const ign = compiled('Protocol Ignore { UDP ICMP }');
    assert.equal(acceptsConntrack(ign, tcp('10.0.0.1', '10.0.0.2')), true);
    assert.equal(acceptsConntrack(ign, udp('10.0.0.1', '10.0.0.2')), false);
  });

  it('Address checks the original source and the reply source (the real ends after NAT), hosts and networks alike', () => {
    const ign = compiled('Address Ignore { IPv4_address 127.0.0.1 IPv4_address 192.168.0.0/24 IPv6_address fd00::/64 }');
    assert.equal(acceptsConntrack(ign, tcp('127.0.0.1', '10.0.0.2')), false, 'orig source is a host');
    assert.equal(acceptsConntrack(ign, tcp('10.0.0.1', '192.168.0.77')), false, 'reply source (= orig dst without NAT) in the network');
    assert.equal(acceptsConntrack(ign, tcp('10.0.0.1', '203.0.113.5', {}, '192.168.0.9')), false, 'DNAT: the reply source counts');
    assert.equal(acceptsConntrack(ign, tcp('10.0.0.1', '192.168.0.9', {}, '203.0.113.5')), true, 'the original destination alone does not');
    assert.equal(acceptsConntrack(ign, tcp('10.0.0.1', '10.0.0.2')), true);
    assert.equal(acceptsConntrack(ign, tcp('fd00::5', '2001:db8::1')), false);
    assert.equal(acceptsConntrack(ign, tcp('fd00:0:0:1::5', '2001:db8::1')), true);
    const acc = compiled('Address Accept { IPv4_address 10.1.0.0/16 IPv4_address 10.9.9.9 }');
    assert.equal(acceptsConntrack(acc, tcp('10.1.2.3', '8.8.8.8')), true, 'a network alone is enough (conntrackd 1.4.7 wants a host too)');
    assert.equal(acceptsConntrack(acc, tcp('8.8.8.8', '10.9.9.9')), true, 'a host alone is enough');
    assert.equal(acceptsConntrack(acc, tcp('8.8.8.8', '10.9.9.8')), false);
    assert.equal(acceptsConntrack(acc, tcp('2001:db8::1', '2001:db8::2')), false, 'Accept with no IPv6 entry refuses IPv6');
  });

  it('State decides only for TCP entries whose message carries a state', () => {
    const acc = compiled('State Accept { ESTABLISHED CLOSED TIME_WAIT for TCP }');
    assert.equal(acceptsConntrack(acc, tcp('10.0.0.1', '10.0.0.2')), true);
    assert.equal(acceptsConntrack(acc, tcp('10.0.0.1', '10.0.0.2', { protoinfo: { tcp: { state: TCP_CONNTRACK.SYN_SENT } } })), false);
    assert.equal(acceptsConntrack(acc, tcp('10.0.0.1', '10.0.0.2', { protoinfo: { tcp: { state: TCP_CONNTRACK.CLOSE } } })), true, 'CLOSED is the kernel CLOSE');
    assert.equal(acceptsConntrack(acc, withoutProtoinfo(tcp('10.0.0.1', '10.0.0.2'))), true, 'no state in the message: not decided');
    assert.equal(acceptsConntrack(acc, udp('10.0.0.1', '10.0.0.2')), true, 'not TCP: not decided');
    const ign = compiled('State Ignore { SYN_SENT SYN_RECV for TCP }');
    assert.equal(acceptsConntrack(ign, tcp('10.0.0.1', '10.0.0.2', { protoinfo: { tcp: { state: TCP_CONNTRACK.SYN_RECV } } })), false);
    assert.equal(acceptsConntrack(ign, tcp('10.0.0.1', '10.0.0.2')), true);
  });

  it('Mark (keepstate): value/mask pairs, a missing mark is 0', () => {
    const acc = compiled('Mark Accept { 0x1/0x1 0x200 }');
    assert.equal(acceptsConntrack(acc, tcp('10.0.0.1', '10.0.0.2', { mark: 0x11 })), true);
    assert.equal(acceptsConntrack(acc, tcp('10.0.0.1', '10.0.0.2', { mark: 0x200 })), true);
    assert.equal(acceptsConntrack(acc, tcp('10.0.0.1', '10.0.0.2', { mark: 0x201 })), true);
    assert.equal(acceptsConntrack(acc, tcp('10.0.0.1', '10.0.0.2', { mark: 0x202 })), false);
    assert.equal(acceptsConntrack(acc, tcp('10.0.0.1', '10.0.0.2')), false);
    const ign = compiled('Mark Ignore { 0 }');
    assert.equal(acceptsConntrack(ign, tcp('10.0.0.1', '10.0.0.2')), false, 'no CTA_MARK: mark 0');
    assert.equal(acceptsConntrack(ign, tcp('10.0.0.1', '10.0.0.2', { mark: 0xffffffff })), true);
  });

  it('every configured part must pass', () => {
    const f = compiled('Protocol Accept { TCP }\nAddress Ignore { IPv4_address 10.0.0.9 }\nMark Ignore { 5/0xff }');
    assert.equal(acceptsConntrack(f, tcp('10.0.0.1', '10.0.0.2')), true);
    assert.equal(acceptsConntrack(f, udp('10.0.0.1', '10.0.0.2')), false);
    assert.equal(acceptsConntrack(f, tcp('10.0.0.9', '10.0.0.2')), false);
    assert.equal(acceptsConntrack(f, tcp('10.0.0.1', '10.0.0.2', { mark: 0x105 })), false);
  });
});

describe('Filter Mark syntax', () => {
  it('reads decimal and 0x values with optional masks', () => {
    const f = filterOf('Mark Accept { 7 0x10/0xf0 5/0xff 0xffffffff 0x3/7 }');
    assert.deepEqual(
      f.mark?.marks.map((m) => [m.value, m.mask]),
      [
        [7, 0xffffffff],
        [0x10, 0xf0],
        [5, 0xff],
        [0xffffffff, 0xffffffff],
        [3, 7],
      ],
    );
    assert.equal(f.mark?.policy, 'accept');
  });
  it('refuses values beyond 32 bits, bits outside the mask, other tokens; conflicting policies', () => {
    const bad = (body: string): string[] => {
      try {
        parseConntrackdConfig(`General { Filter { ${body} } }\n`, 't');
        return [];
      } catch (e) {
        return (e as { errors: { code: string }[] }).errors.map((x) => x.code);
      }
    };
    assert.deepEqual(bad('Mark Accept { 0x100000000 }'), ['CFG_BAD_VALUE']);
    assert.deepEqual(bad('Mark Accept { 0x3/0x1 }'), ['CFG_BAD_VALUE']);
    assert.deepEqual(bad('Mark Accept { eth0 }'), ['CFG_SYNTAX']);
    assert.deepEqual(bad('Mark Accept { 1 } Mark Ignore { 2 }'), ['CFG_CONFLICT']);
    assert.deepEqual(bad('Mark Accept { 1 } Mark Accept { 2 }'), []);
  });
  it('Filter is no longer refused as unsupported', async () => {
    const { unsupportedFeatures } = await import('../../src/config/conntrackd/unsupported.js');
    const cfg = parseConntrackdConfig('General { Filter From Kernelspace { Protocol Accept { TCP } } }\n', 't').config;
    assert.deepEqual(unsupportedFeatures(cfg), []);
  });
});

// A reference model written independently of filter.ts: addresses compared as bit strings.
const bits = (text: string, family: 'ipv4' | 'ipv6'): string => [...addressBytes(text, family)].map((b) => b.toString(2).padStart(8, '0')).join('');
function reference(f: FilterConfig, ct: Conntrack): boolean {
  const orig = ct.orig!;
  if (f.protocol !== undefined && f.protocol.protocols.includes(orig.proto) !== (f.protocol.policy === 'accept')) return false;
  if (f.address !== undefined) {
    const list = orig.family === 'ipv4' ? f.address.ipv4 : f.address.ipv6;
    const ends = [orig.src, ...(ct.reply !== undefined ? [ct.reply.src] : [])].map((a) => bits(a, orig.family));
    const hit = ends.some((e) => list.some((m) => e.slice(0, m.prefixLength) === bits(m.address, orig.family).slice(0, m.prefixLength)));
    if (hit !== (f.address.policy === 'accept')) return false;
  }
  const state = ct.protoinfo?.tcp?.state;
  if (f.state !== undefined && orig.proto === IPPROTO.TCP && state !== undefined) {
    const names: readonly string[] = f.state.tcpStates;
    const name = state === 8 ? 'CLOSED' : state === 9 ? 'LISTEN' : TCP_STATES.find((s) => (TCP_CONNTRACK as Record<string, number>)[s] === state);
    if ((name !== undefined && names.includes(name)) !== (f.state.policy === 'accept')) return false;
  }
  if (f.mark !== undefined) {
    const mark = ct.mark ?? 0;
    const hit = f.mark.marks.some((m) => Number((BigInt(mark) & BigInt(m.mask)) === BigInt(m.value)));
    if (hit !== (f.mark.policy === 'accept')) return false;
  }
  return true;
}

const policy = fc.constantFrom<'accept' | 'ignore'>('accept', 'ignore');
/** filterFor builds a FilterConfig around an entry: its own addresses, protocol and mark (masked) appear often. */
function filterFor(ct: Conntrack): fc.Arbitrary<FilterConfig> {
  const orig = ct.orig!;
  const fam = orig.family;
  const max = fam === 'ipv4' ? 32 : 128;
  const own = [orig.src, ...(ct.reply ? [ct.reply.src] : [])];
  const prefix = (a: string, n: number): string => {
    const b = addressBytes(a, fam);
    const out = new Uint8Array(b.length);
    for (let i = 0; i < n; i++) if ((b[i >> 3]! >> (7 - (i & 7))) & 1) out[i >> 3]! |= 1 << (7 - (i & 7));
    return fam === 'ipv4' ? [...out].join('.') : addressBytesToText(out);
  };
  const addr = fc.tuple(fc.constantFrom(...own, fam === 'ipv4' ? '10.0.0.0' : 'fd00::'), fc.integer({ min: 0, max })).map(([a, n]) => ({ address: prefix(a, n), prefixLength: n, loc: LOC }));
  const mark = fc.tuple(fc.oneof(fc.constant(ct.mark ?? 0), fc.nat({ max: 0xffffffff })), fc.oneof(fc.constant(0xffffffff), fc.nat({ max: 0xffffffff }))).map(([v, m]) => ({ value: (v & m) >>> 0, mask: m, loc: LOC }));
  return fc.record(
    {
      protocol: fc.record({ policy, protocols: fc.array(fc.constantFrom(orig.proto, 6, 17, 1, 58, 132), { maxLength: 3 }), loc: fc.constant(LOC) }),
      address: fc.record({ policy, ipv4: fam === 'ipv4' ? fc.array(addr, { maxLength: 3 }) : fc.constant([]), ipv6: fam === 'ipv6' ? fc.array(addr, { maxLength: 3 }) : fc.constant([]), loc: fc.constant(LOC) }),
      state: fc.record({ policy, tcpStates: fc.subarray([...TCP_STATES]), loc: fc.constant(LOC) }),
      mark: fc.record({ policy, marks: fc.array(mark, { maxLength: 3 }), loc: fc.constant(LOC) }),
    },
    { requiredKeys: [] },
  ).map((parts) => ({ loc: LOC, from: 'userspace' as const, ...parts }) as FilterConfig);
}
function addressBytesToText(b: Uint8Array): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return words.join(':');
}

describe('Filter properties', () => {
  it('the fast path (kernel bytes), the decoded entry and an independent model agree', () => {
    let fast = 0;
    fc.assert(
      fc.property(firewallEntry.chain((ct) => fc.tuple(fc.constant(ct), filterFor(ct))), ([ct, cfg]) => {
        const f = compileFilter(cfg)!;
        const slow = acceptsConntrack(f, ct);
        assert.equal(slow, reference(cfg, ct));
        const b = viaBytes(f, ct);
        if (b !== 'slow') {
          fast++;
          assert.equal(b, slow);
        }
      }),
      { numRuns: 400 },
    );
    assert.ok(fast > 100, `the fast path was taken ${fast} times`);
  });

  it('the internal cache keeps exactly the entries the filter accepts, and a DESTROY is never filtered', () => {
    fc.assert(
      fc.property(firewallEntry.chain((ct) => fc.tuple(fc.constant(ct), filterFor(ct))), ([ct, cfg]) => {
        const f = compileFilter(cfg)!;
        const c = new InternalCache(10, f);
        const obj = c.onKernelEvent('new', ct);
        assert.equal(obj !== undefined, acceptsConntrack(f, ct));
        assert.equal(c.stats.filtered, obj === undefined ? 1 : 0);
        // Cached without the filter (say, before a reload), the destroy still removes it.
        const plain = new InternalCache(10, f);
        const unfiltered = new InternalCache(10);
        const o2 = unfiltered.onKernelEvent('new', ct)!;
        assert.equal(plain.onKernelEvent('destroy', ct), undefined, 'an unknown entry stays unknown');
        assert.equal(unfiltered.onKernelEvent('destroy', ct)?.status, 'dead');
        assert.equal(o2.status, 'dead');
      }),
      { numRuns: 200 },
    );
  });
});

describe('where the filter applies', () => {
  const f = compiled('Address Ignore { IPv4_address 192.168.1.0/24 }\nMark Ignore { 0x1/0x1 }');
  const a = tcp('10.0.0.1', '10.0.0.2');
  const b = tcp('192.168.1.5', '10.0.0.2');

  it('an update that stops matching is ignored: the entry keeps its last accepted state, until its DESTROY', () => {
    const c = new InternalCache(10, f);
    const o = c.onKernelEvent('new', a)!;
    assert.equal(c.onKernelEvent('update', { ...a, mark: 1, timeout: 7 }), undefined);
    assert.equal(o.ct.timeout, 100, 'unchanged, as conntrackd');
    assert.equal(c.stats.filtered, 1);
    assert.equal(c.onKernelEvent('destroy', { ...a, mark: 1 }), o);
    assert.equal(o.status, 'dead');
  });

  it('a resync drops what the filter now refuses (conntrackd purges it) and skips what it never accepted', () => {
    const c = new InternalCache(10, f);
    const o = c.onKernelEvent('new', a)!;
    const r = c.resync([{ ...a, mark: 3 }, b]);
    assert.deepEqual([r.added.length, r.changed.length, r.gone.length], [0, 0, 1]);
    assert.equal(r.gone[0], o);
    assert.equal(c.stats.filtered, 2);
  });

  it('the accepts() pre-check reads malformed-free slow-path messages too', () => {
    const c = new InternalCache(10, f);
    const withHelper = { ...b, helper: 'ftp' }; // a helper takes the message off the fast path
    const p = payloadOf('update', withHelper);
    assert.equal(scanKernelCt(p, 4, p.length, new KernelCtView()), false);
    assert.equal(c.accepts(p, 0, p.length), false);
    assert.equal(c.onKernelEvent('new', withHelper), undefined);
    assert.ok(parseIPv4('192.168.1.5'));
  });
});
