import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeNfgenmsg, encodeNfgenmsg, familyOf, nfMsg, nfMsgType, nfSubsys } from '../../src/ctnetlink/nfgenmsg.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { Reader } from '../../src/wire/reader.js';
import { Writer } from '../../src/wire/writer.js';
import { roundTrip } from '../helpers/roundtrip.js';

describe('nfgenmsg', () => {
  it('encodes family and version as bytes and res_id in network order', () => {
    const enc = (h: { family: number; version: number; resId: number }): Uint8Array => {
      const w = new Writer();
      encodeNfgenmsg(w, h);
      return w.finish();
    };
    const bytes = roundTrip({ family: 10, version: 1, resId: 0x0102 }, enc, (b) => decodeNfgenmsg(new Reader(b)));
    assert.deepStrictEqual(bytes, Uint8Array.of(10, 1, 1, 2));
  });

  it('splits nlmsg_type into subsystem (high byte) and message (low byte)', () => {
    assert.equal(nfMsgType(2, 3), 0x0203);
    assert.equal(nfSubsys(0x0203), 2);
    assert.equal(nfMsg(0x0203), 3);
  });

  it('maps AF_INET / AF_INET6 and refuses other families', () => {
    assert.equal(familyOf(2, [], 0), 'ipv4');
    assert.equal(familyOf(10, [], 0), 'ipv6');
    assert.throws(() => familyOf(1, ['x'], 0), (e: unknown) => e instanceof DecodeError && e.code === 'BAD_VALUE');
  });

  it('a short header is DecodeError SHORT', () => {
    assert.throws(() => decodeNfgenmsg(new Reader(Uint8Array.of(2, 0, 0))), (e: unknown) => e instanceof DecodeError && e.code === 'SHORT');
  });
});
