import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conntrackToWire, encodeConntrackBody } from '../../src/sync/conntrack.js';
import { decodeDatagram, encodeDatagrams } from '../../src/sync/datagram.js';
import { decodeSyncMessage, encodeSyncMessage, type SyncCtMessage } from '../../src/sync/message.js';
import { Writer } from '../../src/wire/writer.js';
import { bytesRoundTrip, roundTrip } from '../helpers/roundtrip.js';
import { SYNC_GOLDEN } from './golden-expected.js';
import { loadSyncGolden, syncGoldenNames } from './golden-sync.js';

/** Message boundaries inside a datagram, read straight from the len fields. */
function split(raw: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < raw.length; ) {
    const len = (raw[o + 2]! << 8) | raw[o + 3]!;
    out.push(raw.subarray(o, o + len));
    o += len;
  }
  return out;
}

describe('sync codec: golden captures from conntrackd 1.4.7', () => {
  it('every sync golden file has an expected value, and every expected value a file', () => {
    assert.deepStrictEqual(syncGoldenNames(), Object.keys(SYNC_GOLDEN).sort());
  });

  for (const [name, c] of Object.entries(SYNC_GOLDEN)) {
    it(`${name}: decode(raw) = expected and encode(expected) = raw, padding included`, () => {
      const g = loadSyncGolden(name);
      const d = decodeDatagram(g.raw);
      assert.deepStrictEqual(d.errors, []);
      assert.equal(d.consumed, g.raw.length);
      assert.deepStrictEqual(d.messages, c.messages);
      assert.deepStrictEqual(encodeDatagrams(c.messages, 1500, c.opts), [Uint8Array.from(g.raw)]);
      // Message by message, with the single-message codec and the house round-trip helpers.
      const parts = split(g.raw);
      assert.equal(parts.length, c.messages.length);
      parts.forEach((bytes, i) => {
        const m = c.messages[i]!;
        assert.deepStrictEqual(decodeSyncMessage(bytes), m);
        bytesRoundTrip(bytes, (b) => decodeSyncMessage(b), (v) => encodeSyncMessage(v, c.opts));
        roundTrip(m, (v) => encodeSyncMessage(v, c.opts), (b) => decodeSyncMessage(b));
      });
    });
  }

  it('every capture names its provenance (what, sender, capture, kernel, conntrackd)', () => {
    for (const name of syncGoldenNames()) {
      const h = loadSyncGolden(name).header;
      for (const key of ['what', 'sender', 'capture', 'kernel', 'conntrackd']) assert.ok(h.get(key), `${name}: no ${key}`);
      assert.match(h.get('conntrackd')!, /1\.4\.7/, name);
    }
  });

  it('the option a capture is checked with matches its sender (node B: TCPWindowTracking on, CommitTimeout)', () => {
    for (const [name, c] of Object.entries(SYNC_GOLDEN)) {
      const nodeB = /^node B/.test(loadSyncGolden(name).header.get('sender')!);
      const sendsCt = c.messages.some((m) => m.kind === 'ct');
      if (sendsCt) assert.equal(c.opts?.tcpWindowTracking === true, nodeB, name);
    }
  });
});

describe('sync codec: the kernel entry a sender had maps to the bytes it sent', () => {
  for (const [name, c] of Object.entries(SYNC_GOLDEN)) {
    if (c.kernel === undefined) continue;
    it(`${name}: encode({ct: kernel entry}) = captured message`, () => {
      const g = loadSyncGolden(name);
      const m = c.messages[0] as SyncCtMessage;
      const msg: SyncCtMessage = { ...m, ct: c.kernel! };
      assert.deepStrictEqual(encodeSyncMessage(msg, c.opts), Uint8Array.from(g.raw));
      // and the body alone, through the wire view
      const w = new Writer();
      encodeConntrackBody(w, c.kernel!, c.opts);
      assert.deepStrictEqual(w.finish(), Uint8Array.from(g.raw.subarray(8)));
      assert.ok(conntrackToWire(c.kernel!, c.opts).l4proto !== undefined);
    });
  }
});
