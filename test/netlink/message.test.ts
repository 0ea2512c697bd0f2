import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessages, encodeMessage } from '../../src/netlink/message.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { parseAnnotatedHex } from '../../src/wire/hex.js';

describe('netlink message framing', () => {
  it('encodes a header and pads the payload to 4 bytes', () => {
    const m = encodeMessage(0x0101, 0x0305, 7, 0, new Uint8Array([2, 0, 0, 0, 0xaa]));
    assert.deepEqual(
      m,
      parseAnnotatedHex(`
        15000000 # nlmsg_len = 21 (unpadded)
        0101     # nlmsg_type = (1 << 8) | 1
        0503     # flags REQUEST|ACK|DUMP
        07000000 # seq
        00000000 # pid
        02000000 aa000000 # payload + 3 pad bytes`),
    );
  });

  const two = parseAnnotatedHex(`
    14000000 0300 0200 01000000 99000000 00000000   # NLMSG_DONE, MULTI, seq 1, pid 0x99, int 0
    11000000 1000 0000 02000000 00000000 ff000000   # type 16, len 17: one data byte + padding`);

  it('splits a datagram into messages and honours padding', () => {
    const msgs = decodeMessages(two);
    assert.equal(msgs.length, 2);
    assert.deepEqual(
      msgs.map((m) => [m.type, m.flags, m.seq, m.pid, m.payload.length]),
      [
        [3, 2, 1, 0x99, 4],
        [16, 0, 2, 0, 1],
      ],
    );
    assert.equal(msgs[1]!.payload[0], 0xff);
  });

  it('round-trips encode → decode', () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const [m] = decodeMessages(encodeMessage(0x0200, 1, 42, 9, payload));
    assert.deepEqual({ ...m, payload: Array.from(m!.payload) }, { type: 0x200, flags: 1, seq: 42, pid: 9, payload: [1, 2, 3, 4, 5, 6] });
  });

  const bad: [string, string, DecodeError['code']][] = [
    ['length below the header', '0c000000 0300 0000 00000000 00000000', 'BAD_LENGTH'],
    ['length past the datagram', '40000000 0300 0000 00000000 00000000', 'BAD_LENGTH'],
    ['bytes that cannot hold a header', '14000000 0300 0200 01000000 99000000 00000000 0102', 'TRAILING'],
  ];
  for (const [name, hex, code] of bad) {
    it(`rejects ${name} with DecodeError ${code}`, () => {
      assert.throws(
        () => decodeMessages(parseAnnotatedHex(hex)),
        (e: unknown) => e instanceof DecodeError && e.code === code,
      );
    });
  }
});
