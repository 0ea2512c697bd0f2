// The internal and external caches: identity, life cycle, origin suppression and the message-type
// rules of conntrackd-protocol.md §1.3–§1.5.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bodyOfPayload, ctKey, ExternalCache, InternalCache, payloadOf, sendsEvent, type CacheObject } from '../../src/engine/cache.js';
import { compactCt, decodeCompactCt } from '../../src/ctnetlink/compact.js';
import { ctCacheDumpJson, formatCtCacheLine } from '../../src/control/format.js';
import { bytesOfLatin1 } from '../../src/wire/latin1.js';
import { conntrack, firewallEntry, ipv4, ipv6 } from '../helpers/arbitraries.js';
import { ctBodyOf, decodeCtBody, mergeCtBodies, syncIdentityOf } from '../../src/sync/ct-body.js';
import { replyTuple } from '../../src/engine/commit.js';
import { IPPROTO, IPS } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';

function entry(i: number, extra: Partial<Conntrack> = {}): Conntrack {
  const src = `10.0.0.${i}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '192.0.2.1', proto: IPPROTO.TCP, srcPort: 1000 + i, dstPort: 80 },
    reply: { family: 'ipv4', src: '192.0.2.1', dst: '198.51.100.9', proto: IPPROTO.TCP, srcPort: 80, dstPort: 40000 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY,
    timeout: 100,
    ...extra,
  };
}

describe('cache identity', () => {
  it('is the original tuple and the zone; reply tuple, id and counters are not part of it', () => {
    const a = entry(1);
    assert.equal(ctKey(a), ctKey({ ...a, id: 5, reply: entry(2).reply!, countersOrig: { packets: 1n, bytes: 2n } }));
    assert.notEqual(ctKey(a), ctKey({ ...a, zone: 3 }));
    assert.notEqual(ctKey(a), ctKey(entry(2)));
    assert.notEqual(ctKey(a), ctKey({ ...a, orig: { ...a.orig!, zone: 1 } }), 'a directional zone is part of the tuple');
    assert.equal(ctKey({ family: 'ipv4' }), '', 'no original tuple, no identity');
  });
});

describe('internal cache', () => {
  it('lives NEW → ALIVE → DEAD, and sends what others caused', () => {
    const c = new InternalCache(10);
    const n = c.onKernelEvent('new', entry(1, { countersOrig: { packets: 1n, bytes: 60n }, use: 1, id: 7 }));
    assert.equal(sendsEvent('new', 'other'), true);
    assert.equal(n?.status, 'new');
    assert.deepEqual([n?.ct.countersOrig, n?.ct.use, n?.ct.id], [undefined, undefined, undefined], 'volatile attributes are not kept');
    const u = c.onKernelEvent('update', entry(1, { timeout: 50 }));
    assert.equal(u, n, 'the same object, updated in place for queued references');
    assert.equal(u?.status, 'alive');
    assert.equal(u?.ct.timeout, 50);
    const d = c.onKernelEvent('destroy', entry(1));
    assert.equal(d?.status, 'dead');
    assert.equal(sendsEvent('destroy', 'other'), true);
    assert.equal([...c.live()].length, 0);
    c.release(d!);
    assert.equal(c.size, 0);
  });

  it("keeps every entry's key and body through a churn that grows and compacts its record arena", () => {
    // NEW rounds without a mark, UPDATE rounds with one (a longer body: its record moves), and
    // destroys whose objects are released (garbage): thousands of entries, so the arena grows and compacts.
    const c = new InternalCache(1 << 20);
    const ct = (k: number, round: number): Conntrack => {
      const src = `10.${k >> 8}.${k & 0xff}.1`;
      return {
        ...entry(1, { timeout: 100 + round }),
        orig: { family: 'ipv4', src, dst: '192.0.2.1', proto: IPPROTO.TCP, srcPort: 1000 + (k % 50000), dstPort: 80 },
        reply: { family: 'ipv4', src: '192.0.2.1', dst: src, proto: IPPROTO.TCP, srcPort: 80, dstPort: 1000 + (k % 50000) },
        ...(round % 2 === 1 ? { mark: 0x10000 + k } : {}),
      };
    };
    // Two entries in three are let go after each event (idle: as once FTFW has their ACK); the
    // others keep their handle, which must follow its record through every move.
    const model = new Map<number, Conntrack>();
    const handles = new Map<number, CacheObject>();
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 3000; i++) {
        const k = (i * 7 + round * 13) % 4000;
        const held = model.get(k);
        if ((i + round) % 5 === 0 && held !== undefined) {
          c.release(c.onKernelEvent('destroy', held)!);
          model.delete(k);
          handles.delete(k);
        } else {
          const e = ct(k, round);
          const h = c.onKernelEvent(round % 2 === 1 ? 'update' : 'new', e)!;
          if (handles.has(k)) assert.equal(h, handles.get(k), 'an entry the cache holds keeps its handle');
          if (k % 3 === 0) handles.set(k, h);
          else c.idle(h);
          model.set(k, e);
        }
      }
    }
    assert.equal(c.size, model.size);
    assert.equal(c.heldHandles, handles.size, 'the cache holds only the handles not let go');
    for (const [k, e] of model) {
      const obj = c.find(e);
      const p = payloadOf('new', e);
      assert.equal(obj?.body, bodyOfPayload(p, 4, p.length, 'ipv4', {}));
      assert.equal(obj.key, ctKey(e));
      const h = handles.get(k);
      if (h !== undefined) {
        assert.equal(obj, h, 'a lookup gives the handle held');
        assert.equal(h.body, obj.body);
      } else assert.equal(c.held(obj), c.get(ctKey(e)), 'an idle entry gets one handle, held, once asked for it');
    }
    const s = c.arenaStats;
    assert.ok(s.compactions > 0 && s.growths > 0, `the arena grew and compacted: ${JSON.stringify(s)}`);
  });

  it('reuses a handle given up for the next entry that needs one, and the entry it stood for gets another', () => {
    const c = new InternalCache(10);
    const a = c.onKernelEvent('new', entry(1))!;
    c.idle(a);
    assert.equal(c.heldHandles, 0);
    const b = c.onKernelEvent('new', entry(2))!;
    assert.equal(b, a, 'the spare handle, not a new object');
    assert.equal(b.key, ctKey(entry(2)));
    const again = c.onKernelEvent('update', entry(1, { timeout: 7 }))!;
    assert.notEqual(again, b, 'entry 1 has a handle of its own while entry 2 holds the spare');
    assert.deepEqual([again.key, again.ct.timeout, b.key, b.status], [ctKey(entry(1)), 7, ctKey(entry(2)), 'new']);
    assert.equal(c.heldHandles, 2);
  });

  it('does not send back what its own commit or flush caused, and ignores injected entries', () => {
    const c = new InternalCache(10);
    assert.notEqual(c.onKernelEvent('new', entry(1), 'commit'), undefined);
    assert.equal(sendsEvent('new', 'commit'), false);
    assert.equal(c.size, 1, 'committed entries are cached (their later DEL is sent)');
    assert.equal(c.onKernelEvent('destroy', entry(1), 'flush')?.status, 'dead');
    assert.deepEqual([sendsEvent('destroy', 'flush'), sendsEvent('update', 'flush'), sendsEvent('destroy', 'commit')], [false, true, false]);
    assert.equal(c.onKernelEvent('new', entry(2), 'inject'), undefined);
    assert.equal(c.find(entry(2)), undefined);
    assert.equal(c.onKernelEvent('update', entry(3))?.status, 'new', 'an UPDATE for an unknown entry creates it, as NEW (conntrackd: cache_update_force)');
  });

  it('a DESTROY our commit caused (delete before re-create) does not kill the entry, whenever it is read', () => {
    const c = new InternalCache(10);
    c.onKernelEvent('new', entry(1));
    // The commit deletes and creates the entry again; its read-back revives it; the DESTROY of the
    // delete may be read only after that.
    assert.equal(c.onKernelEvent('destroy', entry(1), 'commit'), undefined);
    assert.equal(c.find(entry(1))?.status, 'new');
    assert.equal(c.liveSize, 1);
    assert.equal(c.onKernelEvent('destroy', entry(1))?.status, 'dead', 'a DESTROY from anyone else still does');
  });

  it('refuses new entries past HashLimit and counts them, still updating known ones', () => {
    const c = new InternalCache(2);
    c.onKernelEvent('new', entry(1));
    c.onKernelEvent('new', entry(2));
    assert.equal(c.onKernelEvent('new', entry(3)), undefined);
    assert.equal(c.stats.refusedOverLimit, 1);
    assert.equal(c.onKernelEvent('update', entry(2, { mark: 4 }))?.ct.mark, 4);
  });

  it('an event for the tuple of a dead object brings it back in place, NEW, with its fresh state only', () => {
    for (const kind of ['new', 'update'] as const) {
      const c = new InternalCache(10);
      const old = c.onKernelEvent('new', entry(1, { mark: 7 }))!;
      c.onKernelEvent('destroy', entry(1));
      const back = c.onKernelEvent(kind, entry(1))!;
      assert.equal(back, old, 'one object per tuple: a queued DEL of it becomes this NEW');
      assert.deepEqual([back.status, back.ct.mark, c.liveSize], ['new', undefined, 1], kind);
      c.release(back); // not dead: nothing to release
      assert.equal(c.find(entry(1)), back);
    }
  });

  it('resyncs from a dump: new and changed entries come back, missing ones turn dead', () => {
    const c = new InternalCache(10);
    c.onKernelEvent('new', entry(1));
    c.onKernelEvent('new', entry(2));
    const r = c.resync([entry(2, { timeout: 9 }), entry(3)]);
    assert.deepEqual(
      r.added.map((o) => o.ct.orig?.src),
      ['10.0.0.3'],
    );
    assert.deepEqual(
      r.changed.map((o) => o.ct.timeout),
      [9],
    );
    assert.deepEqual(
      r.gone.map((o) => [o.ct.orig?.src, o.status]),
      [['10.0.0.1', 'dead']],
    );
  });
});

describe('external cache', () => {
  it('NEW replaces, UPD updates or creates, DEL removes', () => {
    const c = new ExternalCache(10);
    assert.equal(c.apply('upd', entry(1, { mark: 1 }), 1000), true, 'UPD of an unknown tuple creates it');
    assert.equal(c.find(entry(1))?.ct.mark, 1);
    c.apply('upd', entry(1, { timeout: 7 }), 2000);
    assert.deepEqual([c.find(entry(1))?.ct.mark, c.find(entry(1))?.ct.timeout, c.find(entry(1))?.receivedAtMs], [1, 7, 2000]);
    const { mark: _m, ...unmarked } = entry(1);
    c.apply('new', unmarked, 3000);
    assert.equal(c.find(entry(1))?.ct.mark, undefined, 'NEW replaces the whole entry');
    assert.equal(c.apply('del', entry(1), 4000), true);
    assert.equal(c.size, 0);
    assert.equal(c.apply('del', entry(1), 5000), false);
    assert.equal(c.stats.deletedUnknown, 1);
  });

  /** A churn of NEW, UPD and DEL messages over `keys` tuples: bodies of varied length, so records move, grow and are freed. */
  function churn(apply: (op: 'new' | 'upd' | 'del', ct: Conntrack, nowMs: number) => void, rounds: number, keys: number, salt = 0): void {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < 2500; i++) {
        const k = (i * 7 + round * 13 + salt) % keys;
        const op = (i + round) % 7 === 0 ? 'del' : (i + round) % 3 === 0 ? 'new' : 'upd';
        const src = `10.${k >> 8}.${k & 0xff}.1`;
        const ct: Conntrack = {
          ...entry(1, { timeout: 100 + round }),
          orig: { family: 'ipv4', src, dst: '192.0.2.1', proto: IPPROTO.TCP, srcPort: 1000 + k, dstPort: 80 },
          reply: { family: 'ipv4', src: '192.0.2.1', dst: src, proto: IPPROTO.TCP, srcPort: 80, dstPort: 1000 + k },
          ...((i + round) % 2 === 1 ? { mark: 0x10000 + k } : {}),
          ...((i + round) % 4 === 1 ? { labels: Uint8Array.from({ length: 16 }, (_, j) => (j === k % 16 ? k & 0xff : 0)) } : {}),
        };
        apply(op, ct, round * 1000 + i);
      }
    }
  }

  it('holds what a string model holds (NEW replaces, UPD merges, DEL removes) through a churn that grows and compacts its arena', () => {
    const c = new ExternalCache(1 << 20);
    const model = new Map<string, { body: string; at: number }>();
    churn(
      (op, ct, nowMs) => {
        const key = syncIdentityOf(ct);
        const body = ctBodyOf(ct);
        const held = model.get(key);
        assert.equal(c.applyBody(op, key, body, nowMs), op !== 'del' || held !== undefined);
        if (op === 'del') model.delete(key);
        else model.set(key, { body: op === 'upd' && held !== undefined ? mergeCtBodies(held.body, body) : body, at: nowMs });
      },
      24,
      3000,
    );
    assert.equal(c.size, model.size);
    for (const [key, m] of model) {
      const e = c.get(key);
      assert.equal(e?.body, m.body);
      assert.equal(e.key, key);
      assert.equal(e.receivedAtMs, m.at);
      assert.deepEqual(e.ct, decodeCtBody(m.body));
    }
    assert.deepEqual(new Set([...c.values()].map((e) => e.key)), new Set(model.keys()));
    const s = c.arena.stats;
    assert.ok(s.compactions > 0 && s.growths > 0, `the arena grew and compacted: ${JSON.stringify(s)}`);
  });

  it('pinned, keeps every entry it had unchanged for their holder (no compaction moves them), while changes go to new records, and frees those at the unpin', () => {
    const c = new ExternalCache(1 << 20);
    const kept = new Map<string, { body: string; ms: number }>();
    churn((op, ct, nowMs) => void c.apply(op, ct, nowMs), 3, 2000);
    const held = [...c.values()];
    for (const e of held) kept.set(e.key, { body: e.body, ms: e.receivedAtMs });
    const unpin = c.pin();
    // Changes while pinned: enough for growths and, unpinned, compactions.
    const { compactions, growths } = c.arena.stats;
    churn((op, ct, nowMs) => void c.apply(op, ct, nowMs), 6, 3000, 5);
    c.flush();
    churn((op, ct, nowMs) => void c.apply(op, ct, nowMs), 6, 3000, 11);
    assert.equal(c.arena.stats.compactions, compactions, 'no compaction while pinned');
    assert.ok(c.arena.stats.growths > growths, 'the arena grew instead');
    for (const e of held) {
      assert.deepEqual({ body: e.body, ms: e.receivedAtMs }, kept.get(e.key), 'a held entry still reads what it had at the pin');
      assert.notEqual(c.get(e.key)?.at, e.at, 'the cache has moved on to a new record');
    }
    const garbage = c.arena.garbageBytes;
    unpin();
    unpin(); // a second call does nothing
    assert.ok(c.arena.garbageBytes > garbage, 'the records replaced or removed meanwhile were freed at the unpin');
    // Unpinned, a change is made in place again.
    const [first] = c.values();
    assert.ok(first !== undefined);
    c.applyBody('upd', first.key, first.body, 99_999);
    assert.equal(c.get(first.key)?.at, first.at);
    assert.equal(first.receivedAtMs, 99_999);
  });

  it('refuses new entries past HashLimit and counts them', () => {
    const c = new ExternalCache(1);
    c.apply('new', entry(1), 0);
    assert.equal(c.apply('new', entry(2), 0), false);
    assert.equal(c.stats.refusedOverLimit, 1);
    assert.equal(c.apply('upd', entry(1, { mark: 3 }), 0), true, 'known entries still update');
  });
});

describe('internal cache: the live count', () => {
  it('equals the objects that are not dead, through any sequence of events, flushes and releases', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom('new', 'update', 'destroy', 'kill', 'release'), i: fc.integer({ min: 0, max: 5 }) }), { maxLength: 60 }),
        (ops) => {
          const c = new InternalCache(4);
          const seen: ReturnType<InternalCache['get']>[] = [];
          for (const { op, i } of ops) {
            if (op === 'kill' || op === 'release') {
              const o = seen[i % Math.max(seen.length, 1)];
              if (o !== undefined && op === 'kill') c.kill(o);
              else if (o !== undefined) c.release(o);
              continue;
            }
            const o = c.onKernelEvent(op, entry(i));
            if (o !== undefined) seen.push(o);
          }
          assert.equal(c.liveSize, [...c.live()].length);
        },
      ),
      { numRuns: 500 },
    );
  });
});

/**
 * The internal cache keeps an entry as the body it sends, and the kernel's attributes only when
 * the body cannot show the entry. Reference: the kernel's attributes themselves (compactCt,
 * merged as an UPDATE merges them) — what is sent and what `-i` shows must be the same.
 */
describe('internal cache: the kept body stands for the kernel entry', () => {
  const shown = (ct: Conntrack): string[] => [
    formatCtCacheLine({ ct, activeSinceSec: 3 }, 'plain', 0),
    formatCtCacheLine({ ct, activeSinceSec: 3 }, 'xml', 0),
    JSON.stringify(ctCacheDumpJson('internal', [{ ct, activeSinceSec: 3 }])),
  ];
  /** An UPDATE of `ct`: same identity, random other fields, maybe without protoinfo, mark or synproxy (the kernel sends those only when set or changed). */
  const updateOf = (ct: Conntrack): fc.Arbitrary<Conntrack> =>
    fc.tuple(firewallEntry, fc.boolean(), fc.boolean(), fc.boolean()).map(([u, dropInfo, dropMark, dropSyn]) => {
      const { protoinfo: _p, mark: _m, synproxy: _s, zone: _z, ...rest } = { ...u, family: ct.family };
      const next: Conntrack = { ...rest, ...(ct.orig !== undefined ? { orig: ct.orig } : {}), ...(ct.zone !== undefined ? { zone: ct.zone } : {}) };
      return {
        ...next,
        ...(!dropInfo && u.protoinfo !== undefined ? { protoinfo: u.protoinfo } : {}),
        ...(!dropMark && u.mark !== undefined ? { mark: u.mark } : {}),
        ...(!dropSyn && u.synproxy !== undefined ? { synproxy: u.synproxy } : {}),
        reply: u.reply !== undefined && u.reply.family === ct.family ? u.reply : ct.reply,
      } as Conntrack;
    });
  const opts = [{}, { tcpWindowTracking: true }, { commitTimeout: true }];
  /** A firewall entry as the kernel holds it: the reply is the original's inverse with its NAT, the protocol state the protocol's own. */
  const kernelEntry: fc.Arbitrary<Conntrack> = fc
    .tuple(firewallEntry, fc.boolean(), fc.boolean(), ipv4, ipv6, fc.integer({ min: 0, max: 0xffff }))
    .map(([ct, snat, dnat, a4, a6, port]) => {
      const reply = replyTuple(ct);
      if (reply === undefined) return ct;
      const ports = reply.srcPort !== undefined;
      const addr = ct.family === 'ipv4' ? a4 : a6;
      let status = (ct.status ?? 0) & ~(IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE);
      let r = reply;
      if (snat) {
        r = { ...r, dst: addr, ...(ports ? { dstPort: port } : {}) };
        status |= IPS.SRC_NAT | IPS.SRC_NAT_DONE;
      }
      if (dnat) {
        r = { ...r, src: addr, ...(ports ? { srcPort: port } : {}) };
        status |= IPS.DST_NAT | IPS.DST_NAT_DONE;
      }
      const p = ct.orig?.proto;
      const { protoinfo: pi, ...rest } = ct;
      const own = p === IPPROTO.TCP ? pi?.tcp && { tcp: pi.tcp } : p === IPPROTO.SCTP ? pi?.sctp && { sctp: pi.sctp } : undefined;
      return { ...rest, reply: r, status, ...(own !== undefined ? { protoinfo: own } : {}) } as Conntrack;
    });

  it('for any entry and any UPDATEs of it: the body sent and the entry shown are those of the kernel attributes', () => {
    const forms = { body: 0, kernel: 0 };
    fc.assert(
      fc.property(
        fc.oneof(kernelEntry, kernelEntry, firewallEntry, conntrack()).chain((ct) => fc.tuple(fc.constant(ct), fc.array(updateOf(ct), { maxLength: 3 }), fc.constantFrom(...opts))),
        ([first, updates, o]) => {
          const c = new InternalCache(10, undefined, o);
          let obj = c.onKernelEvent('new', first);
          if (obj === undefined) return; // no identity (no original tuple)
          let ref = payloadOf('new', first);
          let kernel = compactCt(ref, 4, ref.length);
          const check = (): void => {
            forms[obj!.kernel === undefined ? 'body' : 'kernel']++;
            const k = bytesOfLatin1(kernel);
            assert.equal(obj!.body, bodyOfPayload(k, 0, k.length, first.family, o), 'the body sent');
            assert.deepEqual(shown(obj!.ct), shown(decodeCompactCt(first.family, kernel)), 'what -i shows');
          };
          check();
          for (const u of updates) {
            obj = c.onKernelEvent('update', u);
            assert.ok(obj !== undefined);
            ref = payloadOf('update', u);
            kernel = compactCt(ref, 4, ref.length, kernel);
            check();
          }
        },
      ),
      { numRuns: 2000 },
    );
    assert.ok(forms.body > 100 && forms.kernel > 100, `both forms were exercised: ${JSON.stringify(forms)}`);
  });

  it('a plain or NAT-ed TCP, UDP or ICMP entry is kept as its body alone; an ICMP id a NAT changed keeps the kernel attributes', () => {
    const c = new InternalCache(10);
    const tcp = c.onKernelEvent('new', entry(1, { status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.SRC_NAT | IPS.SRC_NAT_DONE }))!;
    assert.equal(tcp.kernel, undefined);
    const icmp = (replyId: number): Conntrack => ({
      family: 'ipv4',
      orig: { family: 'ipv4', src: '10.0.0.1', dst: '192.0.2.1', proto: IPPROTO.ICMP, icmpId: 7, icmpType: 8, icmpCode: 0 },
      reply: { family: 'ipv4', src: '192.0.2.1', dst: '198.51.100.9', proto: IPPROTO.ICMP, icmpId: replyId, icmpType: 0, icmpCode: 0 },
      status: IPS.CONFIRMED | IPS.SRC_NAT | IPS.SRC_NAT_DONE,
    });
    assert.equal(c.onKernelEvent('new', icmp(7))!.kernel, undefined);
    const remapped = c.onKernelEvent('new', icmp(8))!;
    assert.notEqual(remapped.kernel, undefined);
    assert.equal(remapped.ct.reply?.icmpId, 8);
  });
});
