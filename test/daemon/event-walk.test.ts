// EventIterationLimit's walk through one receive batch of the event socket: it stops after the
// datagram that uses up the budget and resumes where it stopped, handing out every message once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { walkEventBatch } from '../../src/daemon/event-walk.js';
import { encodeBatch } from '../../src/native/batch.js';
import { Writer } from '../../src/wire/writer.js';

/** nlmsg is a netlink message of `type` whose 4-byte payload is `tag` (host order header, as the kernel writes it). */
function nlmsg(type: number, tag: number): Uint8Array {
  const w = new Writer(20);
  w.u32ne(20).u16ne(type).u16ne(0).u32ne(0).u32ne(0).u32be(tag);
  return w.finish();
}

/** batch holds `n` datagrams; datagram i carries `per` messages tagged 100·i + j. */
function batch(n: number, per = 1): Uint8Array {
  return encodeBatch(
    Array.from({ length: n }, (_, i) => {
      const parts = Array.from({ length: per }, (_, j) => nlmsg(0x100, 100 * i + j));
      const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      parts.reduce((o, p) => (data.set(p, o), o + p.length), 0);
      return { data, flags: 0 };
    }),
  );
}

function tags(b: Uint8Array, count: number, from: number, budget: number): { next: number; events: number; seen: number[] } {
  const seen: number[] = [];
  const w = walkEventBatch(b, count, from, budget, (_t, _f, _p, start) => void seen.push(new DataView(b.buffer, b.byteOffset).getUint32(start)));
  assert.equal(w.malformed, 0);
  return { next: w.next, events: w.events, seen };
}

describe('walkEventBatch (EventIterationLimit)', () => {
  it('stops once the budget is used up and resumes from there', () => {
    const b = batch(7);
    assert.deepEqual(tags(b, 7, 0, 3), { next: 3, events: 3, seen: [0, 100, 200] });
    assert.deepEqual(tags(b, 7, 3, 3), { next: 6, events: 3, seen: [300, 400, 500] });
    assert.deepEqual(tags(b, 7, 6, 3), { next: 7, events: 1, seen: [600] });
  });

  it('walks the whole batch within the budget, and ends a batch whose last datagram uses it up', () => {
    const b = batch(4);
    assert.deepEqual(tags(b, 4, 0, 100), { next: 4, events: 4, seen: [0, 100, 200, 300] });
    assert.deepEqual(tags(b, 4, 0, 4).next, 4);
  });

  it('never splits a datagram: all its messages go out before the stop', () => {
    const b = batch(3, 2);
    assert.deepEqual(tags(b, 3, 0, 1), { next: 1, events: 2, seen: [0, 1] });
    assert.deepEqual(tags(b, 3, 1, 1), { next: 2, events: 2, seen: [100, 101] });
  });

  it('counts a record that does not fit as malformed and stops', () => {
    const b = batch(2);
    const w = walkEventBatch(b.subarray(0, b.length - 8), 2, 0, 10, () => undefined);
    assert.deepEqual([w.next, w.events, w.malformed], [2, 1, 1]);
  });
});
