// Classic BPF for SO_ATTACH_FILTER: the layout of struct sock_filter and the port-drop program.
// The kernel's verdict on it is tested in test/kernel/ctnetlink-events.test.ts (ignorePorts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dropFromPortsProgram, encodeSockFilter } from '../../src/netlink/sock-filter.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('socket filters', () => {
  it('lay out struct sock_filter in host order (code u16, jt u8, jf u8, k u32)', () => {
    // ld [12]; jeq #pid jt 1; ret #-1; ret #0 — for port 0x12345678 on a little-endian host the
    // constant is the byte-swapped 0x78563412, which stored little-endian reads 12 34 56 78.
    assert.equal(
      hex(encodeSockFilter(dropFromPortsProgram([0x12345678], true), true)),
      '200000000c000000' + '1500010012345678' + '06000000ffffffff' + '0600000000000000',
    );
    assert.equal(
      hex(encodeSockFilter(dropFromPortsProgram([0x12345678], false), false)),
      '002000000000000c' + '0015010012345678' + '00060000ffffffff' + '0006000000000000',
    );
  });

  it('jump from every port comparison to the final drop, and fall through to the accept', () => {
    const p = dropFromPortsProgram([7, 8, 9], true);
    assert.equal(p.length, 6);
    p.slice(1, 4).forEach((x, i) => assert.equal(1 + i + 1 + x.jt, 5, `comparison ${i} reaches the drop`));
    assert.deepEqual([p[4]!.k, p[5]!.k], [0xffff_ffff, 0]);
    assert.throws(() => dropFromPortsProgram([]), RangeError);
  });
});
