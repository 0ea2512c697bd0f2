// RecordArena, the internal cache's key and body bytes: every holder reads back what it was last
// given through any creates, body changes (shorter, longer) and frees, across growths and compactions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RecordArena, type ArenaHolder } from '../../src/engine/record-arena.js';
import { bytesOfLatin1 } from '../../src/wire/latin1.js';

interface Holder extends ArenaHolder {
  key: string;
  body: string;
}

const text = (max: number): fc.Arbitrary<string> => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b).toString('latin1'));

describe('RecordArena', () => {
  it('gives back each holder its key and last body through creates, setBody and frees (growth and compaction included)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), key: text(40), body: text(300) }),
      fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), body: text(300) }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    const seen = { compactions: 0, growths: 0 };
    fc.assert(
      fc.property(fc.array(op, { minLength: 50, maxLength: 400 }), (ops) => {
        const live: Holder[] = [];
        const a = new RecordArena(() => live, 0);
        for (const o of ops) {
          if (o.kind === 'create') {
            const h: Holder = { at: -1, key: o.key, body: o.body };
            a.create(h, bytesOfLatin1(o.key), o.key.length, bytesOfLatin1(o.body), o.body.length);
            live.push(h);
          } else if (live.length > 0) {
            const i = o.pick % live.length;
            const h = live[i]!;
            if (o.kind === 'set') {
              a.setBody(h, bytesOfLatin1(o.body), o.body.length);
              h.body = o.body;
            } else {
              a.free(h);
              assert.equal(h.at, -1);
              live.splice(i, 1);
            }
          }
          for (const h of live) {
            assert.equal(a.keyOf(h.at), h.key);
            assert.equal(a.bodyOf(h.at), h.body);
            assert.ok(a.keyEquals(h.at, bytesOfLatin1(h.key), h.key.length));
          }
        }
        assert.ok(a.usedBytes - a.garbageBytes >= live.reduce((n, h) => n + 6 + h.key.length + h.body.length, 0));
        seen.compactions += a.stats.compactions;
        seen.growths += a.stats.growths;
      }),
      { numRuns: 200 },
    );
    assert.ok(seen.compactions > 0 && seen.growths > 0, `both exercised: ${JSON.stringify(seen)}`);
  });

  it('a body no longer than its record stays in place; a longer one moves the record and leaves garbage', () => {
    const live: Holder[] = [];
    const a = new RecordArena(() => live);
    const h: Holder = { at: -1, key: 'k', body: 'abcdef' };
    a.create(h, bytesOfLatin1('k'), 1, bytesOfLatin1('abcdef'), 6);
    live.push(h);
    const at = h.at;
    a.setBody(h, bytesOfLatin1('xy'), 2);
    assert.equal(h.at, at);
    assert.equal(a.bodyOf(h.at), 'xy');
    a.setBody(h, bytesOfLatin1('abcdefg'), 7);
    assert.notEqual(h.at, at);
    assert.equal(a.keyOf(h.at), 'k');
    assert.equal(a.bodyOf(h.at), 'abcdefg');
    assert.equal(a.garbageBytes, 6 + 1 + 6);
  });

  it('refuses a record its 16-bit lengths cannot describe', () => {
    const a = new RecordArena(() => []);
    assert.throws(() => a.create({ at: -1 }, new Uint8Array(1), 1, new Uint8Array(70_000), 70_000), RangeError);
  });
});
