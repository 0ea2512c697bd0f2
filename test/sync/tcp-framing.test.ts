// The TCP link's receive side cuts the byte stream at message boundaries (messagePrefix): whole
// messages go up, a cut one waits for the next read, a malformed header passes everything up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDatagram } from '../../src/sync/datagram.js';
import { messagePrefix } from '../../src/sync/tcp-channel.js';

/** msg is a message of `len` bytes: a version-1 header with that length, then filler. */
function msg(len: number, fill: number): Uint8Array {
  const b = new Uint8Array(len).fill(fill);
  b[0] = 0x10; // version 1
  b[2] = len >> 8;
  b[3] = len & 0xff;
  return b;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

describe('messagePrefix', () => {
  it('keeps whole messages and stops before a cut one', () => {
    const s = cat(msg(8, 1), msg(20, 2), msg(12, 3));
    assert.equal(messagePrefix(s), 40);
    assert.equal(messagePrefix(s.subarray(0, 39)), 28);
    assert.equal(messagePrefix(s.subarray(0, 30)), 28, 'a header cut after its length field');
    assert.equal(messagePrefix(s.subarray(0, 3)), 0, 'less than a length field');
    assert.equal(messagePrefix(new Uint8Array(0)), 0);
  });

  it('passes everything on at a header whose length is below 8 (the decoder reports it)', () => {
    const s = cat(msg(8, 1), new Uint8Array([0x10, 0, 0, 4, 0, 0]));
    assert.equal(messagePrefix(s), s.length);
  });

  it('a stream cut at any offset gives the same messages once the rest arrives', () => {
    const whole = cat(msg(8, 0), msg(16, 0), msg(8, 0));
    for (let cut = 0; cut <= whole.length; cut++) {
      const first = whole.subarray(0, cut);
      const n = messagePrefix(first);
      const rest = cat(first.subarray(n), whole.subarray(cut));
      assert.equal(n + messagePrefix(rest), whole.length);
      assert.equal(decodeDatagram(whole.subarray(0, n), { stream: true }).consumed, n);
    }
  });
});
