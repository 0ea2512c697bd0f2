// KeyTable, the caches' index: the same answers as a Map through any sequence of operations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hashKey, KeyTable } from '../../src/engine/key-table.js';

interface Item {
  readonly key: string;
  readonly v: number;
}

describe('KeyTable', () => {
  it('answers as a Map does through any sets, gets, deletes and clears (keys that collide included)', () => {
    // Few distinct keys and short ones: long probe runs, wrap-around and deletions inside runs.
    const key = fc.oneof(fc.string({ maxLength: 3 }), fc.integer({ min: 0, max: 300 }).map(String));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, v: fc.integer() }),
      fc.record({ kind: fc.constant('get' as const), key }),
      fc.record({ kind: fc.constant('delete' as const), key }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const t = new KeyTable<Item>();
        const m = new Map<string, Item>();
        for (const o of ops) {
          if (o.kind === 'set') {
            const item = { key: o.key, v: o.v };
            t.set(item);
            m.set(o.key, item);
          } else if (o.kind === 'get') assert.equal(t.get(o.key), m.get(o.key));
          else if (o.kind === 'delete') assert.equal(t.delete(o.key), m.delete(o.key));
          else {
            t.clear();
            m.clear();
          }
          assert.equal(t.size, m.size);
        }
        for (const [k, v] of m) assert.equal(t.get(k), v);
        assert.deepEqual([...t.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)), [...m.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
      }),
      { numRuns: 500 },
    );
  });

  it('a get then a set of the same key (a miss, then the insert) lands where a plain set would', () => {
    const t = new KeyTable<Item>();
    for (let i = 0; i < 1000; i++) {
      const k = `k${i}`;
      assert.equal(t.get(k), undefined);
      t.set({ key: k, v: i });
    }
    for (let i = 0; i < 1000; i += 2) assert.ok(t.delete(`k${i}`));
    for (let i = 0; i < 1000; i++) assert.equal(t.get(`k${i}`)?.v, i % 2 === 0 ? undefined : i);
    assert.equal(t.size, 500);
  });

  it('hashes are never 0 (the empty-slot mark)', () => {
    fc.assert(fc.property(fc.string(), (s) => hashKey(s) !== 0));
  });
});
