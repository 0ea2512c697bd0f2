// copyBytes: the same bytes as a byte-by-byte copy, at any offsets and lengths (4-byte steps and
// the tail), and nothing outside the destination range changes; ViewCache keeps one view per array.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { copyBytes, ViewCache, viewOf } from '../../src/wire/copy.js';

describe('copyBytes', () => {
  it('copies any range as a byte loop does, within views of subarrays too', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(40), fc.nat(), fc.nat(), fc.nat(), (bytes, pad, a, b, c) => {
        // Subarrays at odd offsets of larger buffers: a view's offsets must be the array's indices.
        const src = new Uint8Array(pad + bytes.length + 3).subarray(pad, pad + bytes.length);
        src.set(bytes);
        const dst = new Uint8Array(pad + 400).fill(0xee).subarray(pad + 1);
        const from = a % bytes.length;
        const n = b % (bytes.length - from + 1);
        const at = c % (dst.length - n + 1);
        const want = dst.slice();
        for (let i = 0; i < n; i++) want[at + i] = src[from + i]!;
        copyBytes(viewOf(dst), dst, at, viewOf(src), src, from, n);
        assert.deepEqual(dst, want);
      }),
      { numRuns: 500 },
    );
  });

  it('ViewCache makes a view for a new array only', () => {
    const c = new ViewCache();
    const x = new Uint8Array(8);
    const y = new Uint8Array(new ArrayBuffer(16), 4, 8);
    const vx = c.of(x);
    assert.equal(c.of(x), vx);
    const vy = c.of(y);
    assert.notEqual(vy, vx);
    assert.deepEqual([vy.byteOffset, vy.byteLength], [4, 8]);
  });
});
