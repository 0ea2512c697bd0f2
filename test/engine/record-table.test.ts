// RecordTable, the internal cache's index over arena records: the same answers as a Map through any
// sequence of operations, and FNV-1a hashes of the key bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RecordArena, relocateHolders, type ArenaHolder } from '../../src/engine/record-arena.js';
import { hashBytes, OffsetTable, RecordTable } from '../../src/engine/record-table.js';
import { bytesOfLatin1 } from '../../src/wire/latin1.js';

interface Item extends ArenaHolder {
  v: number;
}

describe('RecordTable', () => {
  it('answers as a Map does through any sets, gets, removes and clears (colliding keys, compactions included)', () => {
    const key = fc.oneof(fc.uint8Array({ maxLength: 3, max: 2 }), fc.integer({ min: 0, max: 60 }).map((i) => bytesOfLatin1(String(i))));
    // Sets far more often than clears, on few keys: bodies replaced and moved make garbage enough to compact.
    const op = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('set' as const), key, v: fc.integer(), pad: fc.integer({ min: 0, max: 200 }) }), weight: 8 },
      { arbitrary: fc.record({ kind: fc.constant('get' as const), key }), weight: 3 },
      { arbitrary: fc.record({ kind: fc.constant('remove' as const), key }), weight: 3 },
      { arbitrary: fc.record({ kind: fc.constant('clear' as const) }), weight: 1 },
    );
    const seen = { compactions: 0, growths: 0 };
    fc.assert(
      fc.property(fc.array(op, { minLength: 100, maxLength: 600 }), (ops) => {
        const arena = new RecordArena(relocateHolders((): Iterable<Item> => t.values()), 0, false, 512); // many segments
        const t: RecordTable<Item> = new RecordTable<Item>(arena);
        const m = new Map<string, Item>();
        const probe = (k: Uint8Array): number => {
          t.probe.set(k);
          return k.length;
        };
        for (const o of ops) {
          if (o.kind === 'set') {
            const s = Buffer.from(o.key).toString('latin1');
            const old = t.get(probe(o.key));
            const body = new Uint8Array(o.pad).fill(o.v & 0xff);
            if (old !== undefined) {
              old.v = o.v;
              old.at = arena.setBody(old.at, body, body.length);
            } else {
              const item: Item = { at: -1, v: o.v };
              item.at = arena.create(t.probe, t.probeLength, body, body.length);
              t.insert(item);
              m.set(s, item);
            }
          } else if (o.kind === 'get') {
            assert.equal(t.get(probe(o.key)), m.get(Buffer.from(o.key).toString('latin1')));
          } else if (o.kind === 'remove') {
            const s = Buffer.from(o.key).toString('latin1');
            const it = m.get(s);
            if (it !== undefined) {
              assert.ok(t.remove(it));
              arena.free(it.at);
              it.at = -1;
              m.delete(s);
            }
          } else {
            t.clear();
            arena.clear();
            for (const it of m.values()) it.at = -1;
            m.clear();
          }
          assert.equal(t.size, m.size);
        }
        for (const [k, v] of m) {
          assert.equal(t.getKey(k), v);
          assert.equal(arena.keyOf(v.at), k);
        }
        assert.deepEqual(new Set(t.values()), new Set(m.values()));
        seen.compactions += arena.stats.compactions;
        seen.growths += arena.stats.growths;
      }),
      { numRuns: 300 },
    );
    assert.ok(seen.compactions > 0 && seen.growths > 0, `both exercised: ${JSON.stringify(seen)}`);
  });

  it('as an OffsetTable (the values are the records), answers as a Map of bodies does, its arena compacting and records moving', () => {
    const key = fc.integer({ min: 0, max: 200 }).map((i) => bytesOfLatin1(String(i)));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, fill: fc.nat(255), pad: fc.nat(120) }),
      fc.record({ kind: fc.constant('remove' as const), key }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    const seen = { compactions: 0, growths: 0 };
    fc.assert(
      fc.property(fc.array(op, { minLength: 100, maxLength: 500 }), (ops) => {
        const arena = new RecordArena((move) => t.relocate(move), 0, false, 512); // many segments
        const t: OffsetTable = new OffsetTable(arena);
        const m = new Map<string, string>();
        const probe = (k: Uint8Array): number => {
          t.probe.set(k);
          return k.length;
        };
        for (const o of ops) {
          const s = o.kind === 'clear' ? '' : Buffer.from(o.key).toString('latin1');
          if (o.kind === 'set') {
            const body = new Uint8Array(o.pad).fill(o.fill);
            const old = t.get(probe(o.key));
            if (old === undefined) t.insert(arena.create(t.probe, t.probeLength, body, body.length));
            else t.replaceFound(arena.setBody(old, body, body.length)); // even at the same offset: it may have moved there
            m.set(s, Buffer.from(body).toString('latin1'));
          } else if (o.kind === 'remove') {
            const at = t.get(probe(o.key));
            assert.equal(at !== undefined, m.has(s));
            if (at !== undefined) {
              assert.ok(t.remove(at));
              arena.free(at);
              m.delete(s);
            }
          } else {
            t.clear();
            arena.clear();
            m.clear();
          }
          assert.equal(t.size, m.size);
        }
        for (const [k, body] of m) {
          const at = t.getKey(k);
          assert.ok(at !== undefined && at >= 0);
          assert.equal(arena.keyOf(at), k);
          assert.equal(arena.bodyOf(at), body);
        }
        assert.equal([...t.values()].length, m.size);
        seen.compactions += arena.stats.compactions;
        seen.growths += arena.stats.growths;
      }),
      { numRuns: 300 },
    );
    assert.ok(seen.compactions > 0 && seen.growths > 0, `both exercised: ${JSON.stringify(seen)}`);
  });

  it('insert only right after a get that missed', () => {
    const t: RecordTable<Item> = new RecordTable<Item>(new RecordArena(relocateHolders((): Iterable<Item> => t.values())));
    const a = t.arena;
    const one: Item = { at: -1, v: 1 };
    assert.throws(() => t.insert(one));
    t.probe[0] = 7;
    assert.equal(t.get(1), undefined);
    one.at = a.create(t.probe, 1, new Uint8Array(0), 0);
    t.insert(one);
    assert.equal(t.get(1), one);
    assert.throws(() => t.insert({ at: -1, v: 2 }), 'a get that found the key');
    assert.equal(t.remove(one), true);
    assert.equal(t.remove(one), false);
  });

  it('replaceFound only right after a get that found the key, and the key then finds the new value', () => {
    const t: RecordTable<Item> = new RecordTable<Item>(new RecordArena(relocateHolders((): Iterable<Item> => t.values())));
    const a = t.arena;
    const one: Item = { at: -1, v: 1 };
    const two: Item = { at: -1, v: 2 };
    t.probe[0] = 7;
    assert.equal(t.get(1), undefined);
    assert.throws(() => t.replaceFound(two), 'a get that missed');
    one.at = a.create(t.probe, 1, new Uint8Array(0), 0);
    t.insert(one);
    assert.equal(t.get(1), one);
    two.at = a.create(t.probe, 1, new Uint8Array(0), 0);
    t.replaceFound(two);
    assert.throws(() => t.replaceFound(one), 'only once per get');
    assert.equal(t.get(1), two);
    assert.equal(t.size, 1);
    assert.equal(t.remove(one), false);
    assert.equal(t.remove(two), true);
  });

  it('hashes bytes with 32-bit FNV-1a wherever they lie, and never to 0', () => {
    // The published FNV-1a test vectors, then a BigInt reference for any bytes at any offset.
    const ascii = (t: string): Uint8Array => Uint8Array.from(t, (c) => c.charCodeAt(0));
    for (const [t, h] of [['', 0x811c9dc5], ['a', 0xe40c292c], ['foobar', 0xbf9cf968]] as const) assert.equal(hashBytes(ascii(t), 0, t.length) >>> 0, h);
    const reference = (b: Uint8Array): number => {
      let h = 0x811c9dc5n;
      for (const x of b) h = ((h ^ BigInt(x)) * 0x01000193n) & 0xffffffffn;
      return h === 0n ? 1 : Number(h);
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.nat({ max: 7 }), (b, at) => {
        const copy = new Uint8Array(at + b.length);
        copy.set(b, at);
        assert.equal(hashBytes(b, 0, b.length) >>> 0, reference(b));
        assert.equal(hashBytes(copy, at, b.length), hashBytes(b, 0, b.length));
        assert.notEqual(hashBytes(b, 0, b.length), 0);
      }),
    );
  });
});
