import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeArpFrame, decodeNa, encodeGarpFrame, encodeUnsolicitedNa, ARPOP, NA_LEN } from '../../src/vrrp-io/announce-codec.js';
import { formatMac } from '../../src/rtnetlink/link.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { ipv4, ipv6 } from '../helpers/arbitraries.js';
import { loadFrameGolden } from './golden-loader.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map(formatMac);

/** valueOrDecodeError runs a decoder; anything thrown other than DecodeError fails the property. */
function decodesOrRefuses(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
}

describe('gratuitous ARP', () => {
  it('is byte for byte the frame keepalived 2.2.7 sends', () => {
    const g = loadFrameGolden('keepalived-garp.hex');
    assert.equal(hex(encodeGarpFrame({ mac: '02:00:00:00:00:0a', ip: '10.231.45.100' })), hex(g));
    assert.deepEqual(decodeArpFrame(g), {
      ethDst: 'ff:ff:ff:ff:ff:ff',
      ethSrc: '02:00:00:00:00:0a',
      op: ARPOP.REQUEST,
      senderMac: '02:00:00:00:00:0a',
      senderIp: '10.231.45.100',
      targetMac: 'ff:ff:ff:ff:ff:ff',
      targetIp: '10.231.45.100',
    });
  });
  it('carries the virtual MAC as Ethernet source and sender; a zero target MAC on request (RFC 5227)', () => {
    const f = decodeArpFrame(encodeGarpFrame({ mac: '00:00:5e:00:01:33', ip: '192.0.2.1', targetMac: '00:00:00:00:00:00' }));
    assert.deepEqual([f.ethSrc, f.senderMac, f.targetMac, f.senderIp, f.targetIp], ['00:00:5e:00:01:33', '00:00:5e:00:01:33', '00:00:00:00:00:00', '192.0.2.1', '192.0.2.1']);
  });
  it('refuses bad input', () => {
    assert.throws(() => encodeGarpFrame({ mac: '00:00:5e:00:01', ip: '192.0.2.1' }), RangeError);
    assert.throws(() => encodeGarpFrame({ mac: '00:00:5e:00:01:33', ip: '192.0.2' }), RangeError);
    const g = loadFrameGolden('keepalived-garp.hex');
    const cases: [string, Uint8Array, DecodeError['code']][] = [
      ['short', g.subarray(0, 30), 'SHORT'],
      ['IPv4 ethertype', Uint8Array.from([...g.subarray(0, 12), 0x08, 0x00, ...g.subarray(14)]), 'BAD_VALUE'],
      ['hlen 8', Uint8Array.from([...g.subarray(0, 18), 8, ...g.subarray(19)]), 'BAD_VALUE'],
    ];
    for (const [name, b, code] of cases) assert.throws(() => decodeArpFrame(b), (e) => e instanceof DecodeError && e.code === code, name);
  });
  it('property: encode then decode gives the inputs back; any bytes decode or throw DecodeError', () => {
    fc.assert(
      fc.property(mac, ipv4, mac, (m, ip, t) => {
        const f = decodeArpFrame(encodeGarpFrame({ mac: m, ip, targetMac: t }));
        assert.deepEqual([f.ethSrc, f.senderMac, f.senderIp, f.targetIp, f.targetMac, f.op], [m, m, ip, ip, t, ARPOP.REQUEST]);
      }),
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 60 }), (b) => decodesOrRefuses(() => decodeArpFrame(b))), { numRuns: 2000 });
  });
});

describe('unsolicited Neighbor Advertisement', () => {
  const frame = loadFrameGolden('keepalived-na.hex');
  const icmp = frame.subarray(14 + 40); // after the Ethernet and IPv6 headers

  it('is keepalived 2.2.7\'s ICMPv6 message byte for byte, checksum aside (the kernel computes it)', () => {
    const ours = encodeUnsolicitedNa({ target: 'fd31:45::100', mac: '02:00:00:00:00:0a', router: false });
    assert.equal(ours.length, NA_LEN);
    const theirs = Uint8Array.from(icmp);
    theirs[2] = 0;
    theirs[3] = 0;
    assert.equal(hex(ours), hex(theirs));
    assert.deepEqual(decodeNa(icmp), { router: false, solicited: false, override: true, target: 'fd31:45::100', targetMac: '02:00:00:00:00:0a' });
  });
  it('sets Router by default (a VRRP router, RFC 5798 §6.4), never Solicited', () => {
    assert.deepEqual(decodeNa(encodeUnsolicitedNa({ target: '2001:db8::1', mac: '00:00:5e:00:02:07' })), {
      router: true,
      solicited: false,
      override: true,
      target: '2001:db8::1',
      targetMac: '00:00:5e:00:02:07',
    });
  });
  it('refuses bad input', () => {
    assert.throws(() => encodeUnsolicitedNa({ target: '10.0.0.1', mac: '00:00:5e:00:02:07' }), RangeError);
    const cases: [string, Uint8Array, DecodeError['code']][] = [
      ['short', icmp.subarray(0, 10), 'SHORT'],
      ['type 135', Uint8Array.from([135, ...icmp.subarray(1)]), 'BAD_VALUE'],
      ['option length 0', Uint8Array.from([...icmp.subarray(0, 25), 0, ...icmp.subarray(26)]), 'BAD_LENGTH'],
      ['option past the end', Uint8Array.from([...icmp.subarray(0, 25), 2, ...icmp.subarray(26)]), 'SHORT'],
    ];
    for (const [name, b, code] of cases) assert.throws(() => decodeNa(b), (e) => e instanceof DecodeError && e.code === code, name);
  });
  it('property: encode then decode gives the inputs back; any bytes decode or throw DecodeError', () => {
    fc.assert(
      fc.property(ipv6, mac, fc.boolean(), (target, m, router) => {
        assert.deepEqual(decodeNa(encodeUnsolicitedNa({ target, mac: m, router })), { router, solicited: false, override: true, target, targetMac: m });
      }),
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => decodesOrRefuses(() => decodeNa(b))), { numRuns: 2000 });
  });
});
