import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAck, errnoName, NetlinkError } from '../../src/netlink/errors.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { parseAnnotatedHex } from '../../src/wire/hex.js';
import { loadGolden } from '../helpers/golden.js';

describe('netlink ACKs and errors', () => {
  it('decodes a positive ACK', () => {
    const ack = decodeAck(parseAnnotatedHex('00000000  24000000 0001 0500 2a000000 10000000'), 0x100);
    assert.deepEqual(ack, { error: 0, seq: 42 });
  });

  it('decodes an error with extended-ack message and offset (NLM_F_CAPPED|NLM_F_ACK_TLVS)', () => {
    const ack = decodeAck(
      parseAnnotatedHex(`
        eaffffff                            # error = -22 (EINVAL)
        24000000 0001 0504 07000000 00000000 # the request's header only (capped)
        0c00 0100 6261642076616c00            # NLMSGERR_ATTR_MSG "bad val"
        0800 0200 14000000                    # NLMSGERR_ATTR_OFFS = 20`),
      0x300,
    );
    assert.deepEqual(ack, { error: 22, seq: 7, extAckMsg: 'bad val', extAckOffset: 20 });
  });

  it('skips an echoed request body when the ACK is not capped', () => {
    const ack = decodeAck(parseAnnotatedHex('efffffff 18000000 0001 0500 03000000 00000000 01020304 05060708'), 0);
    assert.deepEqual(ack, { error: 17, seq: 3 });
  });

  it('rejects a truncated nlmsgerr with DecodeError', () => {
    assert.throws(() => decodeAck(parseAnnotatedHex('00000000 2400'), 0), DecodeError);
  });

  it('names errnos and builds coded errors', () => {
    assert.equal(errnoName(2), 'ENOENT');
    assert.equal(errnoName(105), 'ENOBUFS');
    assert.equal(errnoName(4242), 'E4242');
    const e = new NetlinkError(17, 'create conntrack', 5, 'exists');
    assert.equal(e.code, 'EEXIST');
    assert.match(e.message, /create conntrack: EEXIST \(exists\)/);
  });
});

describe('a real extended ACK from the kernel (test/golden/ack-ext-policy.hex)', () => {
  it('decodes errno, seq, message and offset, and names the errno', () => {
    const { msg } = loadGolden('ack-ext-policy.hex');
    const ack = decodeAck(msg.payload, msg.flags);
    assert.deepEqual(ack, { error: 34, seq: 1234, extAckMsg: 'Attribute failed policy validation', extAckOffset: 20 });
    const e = new NetlinkError(ack.error, 'create conntrack', ack.seq, ack.extAckMsg, ack.extAckOffset);
    assert.equal(e.code, 'ERANGE');
    assert.equal(e.message, 'create conntrack: ERANGE (Attribute failed policy validation)');
  });
});
