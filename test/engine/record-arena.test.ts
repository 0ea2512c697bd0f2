// RecordArena, the caches' key and body bytes: every holder reads back what it was last
// given through any creates, body changes (shorter, longer) and frees, across growths (a first
// segment doubled, segments added) and compactions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RecordArena, SEGMENT_BYTES, STAMP_BYTES, type Relocate } from '../../src/engine/record-arena.js';
import { bytesOfLatin1 } from '../../src/wire/latin1.js';

/** Holder owns at most one record: its offset (-1 for none), and what it last put there. */
interface Holder {
  at: number;
  key: string;
  body: string;
}

/** relocateHolders is the Relocate of holders that keep their record's offset themselves. */
function relocateHolders(holders: () => Iterable<{ at: number }>): Relocate {
  return (move) => {
    for (const h of holders()) if (h.at >= 0) h.at = move(h.at);
  };
}

const text = (max: number): fc.Arbitrary<string> => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b).toString('latin1'));

describe('RecordArena', () => {
  it('gives back each holder its key and last body through creates, setBody and frees (growth and compaction included)', () => {
    // More creates than frees: enough in use for several segments, enough replaced for compactions.
    const op = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('create' as const), key: text(40), body: text(300) }), weight: 3 },
      { arbitrary: fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), body: text(300) }), weight: 3 },
      { arbitrary: fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }), weight: 2 },
    );
    const seen = { compactions: 0, growths: 0, segments: 0 };
    fc.assert(
      // Segments of 512 bytes (records up to 346 here) have records end near a segment's end and move to the next.
      fc.property(fc.array(op, { minLength: 50, maxLength: 400 }), fc.constantFrom(512, SEGMENT_BYTES), (ops, segmentBytes) => {
        const live: Holder[] = [];
        const a = new RecordArena(relocateHolders(() => live), 0, 0, segmentBytes);
        for (const o of ops) {
          if (o.kind === 'create') {
            const h: Holder = { at: -1, key: o.key, body: o.body };
            h.at = a.create(bytesOfLatin1(o.key), o.key.length, bytesOfLatin1(o.body), o.body.length);
            live.push(h);
          } else if (live.length > 0) {
            const i = o.pick % live.length;
            const h = live[i]!;
            if (o.kind === 'set') {
              h.at = a.setBody(h.at, bytesOfLatin1(o.body), o.body.length);
              h.body = o.body;
            } else {
              a.free(h.at);
              h.at = -1;
              live.splice(i, 1);
            }
          }
          for (const h of live) {
            assert.equal(a.keyOf(h.at), h.key);
            assert.equal(a.bodyOf(h.at), h.body);
            assert.ok(a.keyEquals(h.at, bytesOfLatin1(h.key), h.key.length));
          }
          seen.segments = Math.max(seen.segments, a.segmentCount);
        }
        assert.ok(a.usedBytes - a.garbageBytes >= live.reduce((n, h) => n + 6 + h.key.length + h.body.length, 0));
        seen.compactions += a.stats.compactions;
        seen.growths += a.stats.growths;
      }),
      { numRuns: 200 },
    );
    assert.ok(seen.compactions > 0 && seen.growths > 0 && seen.segments > 1, `all exercised: ${JSON.stringify(seen)}`);
  });

  it('a body no longer than its record stays in place; a longer one moves the record and leaves garbage', () => {
    const live: Holder[] = [];
    const a = new RecordArena(relocateHolders(() => live));
    const h: Holder = { at: -1, key: 'k', body: 'abcdef' };
    h.at = a.create(bytesOfLatin1('k'), 1, bytesOfLatin1('abcdef'), 6);
    live.push(h);
    const at = h.at;
    h.at = a.setBody(h.at, bytesOfLatin1('xy'), 2);
    assert.equal(h.at, at);
    assert.equal(a.bodyOf(h.at), 'xy');
    h.at = a.setBody(h.at, bytesOfLatin1('abcdefg'), 7);
    assert.notEqual(h.at, at);
    assert.equal(a.keyOf(h.at), 'k');
    assert.equal(a.bodyOf(h.at), 'abcdefg');
    assert.equal(a.garbageBytes, 6 + 1 + 6);
  });

  it('refuses a record its 16-bit lengths cannot describe, or longer than a segment', () => {
    const a = new RecordArena(() => undefined);
    assert.throws(() => a.create(new Uint8Array(1), 1, new Uint8Array(70_000), 70_000), RangeError);
    // The largest record (12 + 65 534 + 65 535 bytes) fits the default segment.
    const s = new RecordArena(() => undefined, 0, STAMP_BYTES);
    const at = s.create(new Uint8Array(65_534).fill(7), 65_534, new Uint8Array(65_535).fill(9), 65_535);
    assert.deepEqual([s.keyLength(at), s.bodyLength(at), s.bytesAt(at)[s.bodyStart(at) + 65_534]], [65_534, 65_535, 9]);
    const small = new RecordArena(() => undefined, 0, 0, 256);
    assert.throws(() => small.create(new Uint8Array(1), 1, new Uint8Array(250), 250), RangeError);
    assert.throws(() => new RecordArena(() => undefined, 0, 0, 1000), RangeError, 'not a power of two');
  });

  it('grows by segments: no record moves and no segment is copied once the first is full size; clear keeps the first', () => {
    const live: Holder[] = [];
    const a = new RecordArena(relocateHolders(() => live), 64, 0, 4096);
    const first: Uint8Array[] = [];
    for (let i = 0; live.length < 1000; i++) {
      const h: Holder = { at: -1, key: `key${i}`, body: 'b'.repeat(i % 90) };
      h.at = a.create(bytesOfLatin1(h.key), h.key.length, bytesOfLatin1(h.body), h.body.length);
      live.push(h);
      if (a.segmentCount === 2 && first.length === 0) first.push(a.bytesAt(live[0]!.at));
    }
    const atsBefore = live.map((h) => h.at);
    assert.ok(a.segmentCount > 10, `${a.segmentCount} segments`);
    assert.equal(a.bytesAt(live[0]!.at), first[0], 'the first segment, once full size, is the same array');
    assert.equal(a.stats.compactions, 0);
    // The first segment doubled from 64 up to 4096 (at most 6 growths), then one growth per segment added.
    const doublings = a.stats.growths - (a.segmentCount - 1);
    assert.ok(doublings >= 1 && doublings <= 6, `${doublings} doublings`);
    for (const h of live) {
      assert.equal(a.keyOf(h.at), h.key);
      assert.equal(a.bodyOf(h.at), h.body);
      assert.ok((h.at % 4096) + 6 + h.key.length + h.body.length <= 4096, 'no record straddles two segments');
    }
    assert.deepEqual(live.map((h) => h.at), atsBefore);
    a.clear();
    assert.deepEqual([a.segmentCount, a.usedBytes, a.garbageBytes], [1, 0, 0]);
    live.length = 0;
    const h: Holder = { at: -1, key: 'again', body: 'x' };
    h.at = a.create(bytesOfLatin1(h.key), 5, bytesOfLatin1(h.body), 1);
    assert.deepEqual([h.at, a.keyOf(h.at), a.bodyOf(h.at)], [0, 'again', 'x']);
  });

  it('stamped, keeps the time of each record through moves and compactions; held, only grows, and every offset taken stays what it was', () => {
    const live: (Holder & { ms: number })[] = [];
    const a = new RecordArena(relocateHolders(() => live), 64, STAMP_BYTES, 1024); // 200 records of up to 246 bytes: several segments
    const body = (i: number, n: number): Uint8Array => new Uint8Array(n).fill(i & 0xff);
    for (let i = 0; i < 200; i++) {
      const h = { at: -1, key: `k${i}`, body: '', ms: 1_700_000_000_000 + i * 4_294_967_297 }; // steps of 2^32 + 1 ms: the high part changes too
      h.at = a.create(bytesOfLatin1(h.key), h.key.length, body(i, 8), 8);
      a.setStamp(h.at, h.ms);
      h.body = Buffer.from(body(i, 8)).toString('latin1');
      live.push(h);
    }
    // Longer bodies move records (the stamp goes along); frees make garbage for compactions.
    for (let round = 0; round < 3; round++) {
      for (const h of live) {
        h.at = a.setBody(h.at, body(round, 20 + round * 10), 20 + round * 10);
        h.body = Buffer.from(body(round, 20 + round * 10)).toString('latin1');
      }
    }
    assert.ok(a.stats.compactions > 0);
    for (const h of live) assert.deepEqual([a.keyOf(h.at), a.bodyOf(h.at), a.stampOf(h.at)], [h.key, h.body, h.ms]);
    // Held: offsets and bytes taken now stay, whatever is created, moved or freed meanwhile.
    const taken = live.map((h) => ({ at: h.at, key: h.key, body: h.body, ms: h.ms }));
    const release = a.hold();
    const compactions = a.stats.compactions;
    for (let round = 0; round < 4; round++) {
      for (const h of live) h.at = a.setBody(h.at, body(round + 9, 60 + round * 30), 60 + round * 30);
    }
    assert.equal(a.stats.compactions, compactions, 'no compaction while held');
    for (const t of taken) assert.deepEqual([a.keyOf(t.at), a.bodyOf(t.at), a.stampOf(t.at)], [t.key, t.body, t.ms]);
    release();
    release(); // once only
    for (let round = 0; round < 4 && a.stats.compactions === compactions; round++) for (const h of live) h.at = a.setBody(h.at, body(round, 200 + round * 20), 200 + round * 20);
    assert.ok(a.stats.compactions > compactions, 'released, it compacts again');
  });
});
