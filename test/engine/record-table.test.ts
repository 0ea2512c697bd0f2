// OffsetTable, the caches' index over arena records: the same answers as a Map through any
// sequence of operations, and FNV-1a hashes of the key bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RecordArena } from '../../src/engine/record-arena.js';
import { hashBytes, OffsetTable } from '../../src/engine/record-table.js';
import { bytesOfLatin1 } from '../../src/wire/latin1.js';

describe('OffsetTable', () => {
  it('answers as a Map of bodies does through any sets, removes and clears (colliding keys), its arena compacting and records moving', () => {
    const key = fc.oneof(fc.uint8Array({ maxLength: 3, max: 2 }), fc.integer({ min: 0, max: 200 }).map((i) => bytesOfLatin1(String(i))));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, fill: fc.nat(255), pad: fc.nat(120) }),
      fc.record({ kind: fc.constant('remove' as const), key }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    const seen = { compactions: 0, growths: 0 };
    fc.assert(
      fc.property(fc.array(op, { minLength: 100, maxLength: 500 }), (ops) => {
        const arena = new RecordArena((move) => t.relocate(move), 0, 0, 512); // many segments
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
    const t: OffsetTable = new OffsetTable(new RecordArena((move) => t.relocate(move)));
    const a = t.arena;
    assert.throws(() => t.insert(0));
    t.probe[0] = 7;
    assert.equal(t.get(1), undefined);
    const one = a.create(t.probe, 1, new Uint8Array(0), 0);
    t.insert(one);
    assert.equal(t.get(1), one);
    assert.throws(() => t.insert(one + 64), 'a get that found the key');
    assert.equal(t.remove(one), true);
    assert.equal(t.remove(one), false);
  });

  it('replaceFound only right after a get that found the key, and the key then finds the new record', () => {
    const t: OffsetTable = new OffsetTable(new RecordArena((move) => t.relocate(move)));
    const a = t.arena;
    t.probe[0] = 7;
    assert.equal(t.get(1), undefined);
    const one = a.create(t.probe, 1, new Uint8Array(0), 0);
    assert.throws(() => t.replaceFound(one), 'a get that missed');
    t.insert(one);
    assert.equal(t.get(1), one);
    const two = a.create(t.probe, 1, new Uint8Array(0), 0);
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
