// Commit requests that give the kernel back what the sender's kernel had, where conntrackd's wire
// carries something the kernel would misread: the ICMP "ports" of NAT'd pings, and TCP window
// scale factors without the flags that make the kernel keep them. Both were found by
// test/kernel/interop-mixed.test.ts against the real conntrackd 1.4.7 and a real kernel.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IPPROTO, IPS } from '../../src/ctnetlink/consts.js';
import { encodeConntrackAttrs } from '../../src/ctnetlink/conntrack.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { commitEntry, TCP_FLAG_BE_LIBERAL, TCP_FLAG_WINDOW_SCALE } from '../../src/engine/commit.js';
import { decodeDatagram } from '../../src/sync/index.js';
import { Writer } from '../../src/wire/writer.js';
import { loadSyncGolden } from '../sync/golden-sync.js';

const at = (ct: Conntrack): { key: string; ct: Conntrack; receivedAtMs: number } => ({ key: 'k', ct, receivedAtMs: 0 });

/** hex of the request attributes (CtLayout 'request'), to check what reaches the kernel. */
function requestHex(ct: Conntrack): string {
  const w = new Writer(256);
  encodeConntrackAttrs(w, ct, 'request');
  return Buffer.from(w.finish()).toString('hex');
}

describe('commit of ICMP flows that went through NAT', () => {
  it('drops the spurious SPAT 0 / DPAT 0 of a real conntrackd capture, keeping the SNAT address', () => {
    const d = decodeDatagram(loadSyncGolden('sync-ct-icmp.hex').raw);
    const m = d.messages[0];
    assert.ok(m?.kind === 'ct');
    // The external cache holds what conntrackd sent, quirk included…
    assert.deepEqual([m.ct.natSrc, m.ct.natDst], [{ minIp: '10.0.1.100', minPort: 0 }, { minPort: 0 }]);
    // …and the kernel gets a binding that leaves the id alone (the kernel keeps it when free).
    const c = commitEntry(at(m.ct), { nowMs: 0 });
    assert.deepEqual([c.natSrc, c.natDst], [{ minIp: '10.0.1.100' }, {}]);
    assert.equal(c.reply?.icmpId, 10658);
    // CTA_NAT_SRC = { CTA_NAT_V4_MINIP 10.0.1.100 }, CTA_NAT_DST = {} (a null binding): no CTA_NAT_PROTO.
    const hex = requestHex(c);
    assert.ok(hex.includes('0c000680' + '08000100' + '0a000164'), 'CTA_NAT_SRC holds the address only');
    assert.ok(hex.includes('04000d80'), 'CTA_NAT_DST is an empty nest');
  });

  it('does the same for ICMPv6, and keeps ports of the protocols that have them (TCP, UDP, SCTP, DCCP)', () => {
    const ping6: Conntrack = {
      family: 'ipv6',
      orig: { family: 'ipv6', src: 'fd00::1', dst: '2001:db8::1', proto: IPPROTO.ICMPV6, icmpType: 128, icmpCode: 0, icmpId: 9 },
      natSrc: { minIp: '2001:db8:ff::1', minPort: 0 },
    };
    assert.deepEqual(commitEntry(at(ping6), { nowMs: 0 }).natSrc, { minIp: '2001:db8:ff::1' });
    for (const proto of [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.SCTP, IPPROTO.DCCP]) {
      const ct: Conntrack = {
        family: 'ipv4',
        orig: { family: 'ipv4', src: '10.0.0.1', dst: '203.0.113.9', proto, srcPort: 1000, dstPort: 443 },
        natSrc: { minIp: '198.51.100.1', minPort: 20000 },
        natDst: { minIp: '10.1.0.1', minPort: 8443 },
      };
      const c = commitEntry(at(ct), { nowMs: 0 });
      assert.deepEqual([c.natSrc, c.natDst], [ct.natSrc, ct.natDst], `proto ${proto}`);
    }
  });
});

describe('commit of TCP window scale factors', () => {
  const tcp = (wscaleOrig: number, wscaleReply: number): Conntrack => ({
    family: 'ipv4',
    orig: { family: 'ipv4', src: '10.0.0.1', dst: '203.0.113.9', proto: IPPROTO.TCP, srcPort: 1000, dstPort: 443 },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    protoinfo: { tcp: { state: 3, wscaleOrig, wscaleReply } },
  });

  it('flags both directions WINDOW_SCALE when a factor was received, so the kernel keeps them', () => {
    const f = { flags: TCP_FLAG_WINDOW_SCALE, mask: TCP_FLAG_WINDOW_SCALE };
    const tracked = commitEntry(at(tcp(7, 0)), { nowMs: 0, tcpWindowTracking: true }).protoinfo?.tcp;
    assert.deepEqual(tracked, { state: 3, wscaleOrig: 7, wscaleReply: 0, flagsOrig: f, flagsReply: f });
    const both = TCP_FLAG_WINDOW_SCALE | TCP_FLAG_BE_LIBERAL;
    const liberal = commitEntry(at(tcp(2, 9)), { nowMs: 0 }).protoinfo?.tcp;
    assert.deepEqual([liberal?.flagsOrig, liberal?.flagsReply], [{ flags: both, mask: both }, { flags: both, mask: both }]);
    // CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: struct nf_ct_tcp_flags { flags 0x01, mask 0x01 }.
    assert.ok(requestHex(commitEntry(at(tcp(7, 0)), { nowMs: 0, tcpWindowTracking: true })).includes('0600' + '0400' + '0101'));
  });

  it('adds nothing when no scaling was negotiated (both factors 0 or absent)', () => {
    assert.equal(commitEntry(at(tcp(0, 0)), { nowMs: 0, tcpWindowTracking: true }).protoinfo?.tcp?.flagsOrig, undefined);
    const plain = commitEntry(at(tcp(0, 0)), { nowMs: 0 }).protoinfo?.tcp;
    assert.deepEqual(plain?.flagsOrig, { flags: TCP_FLAG_BE_LIBERAL, mask: TCP_FLAG_BE_LIBERAL });
  });
});
