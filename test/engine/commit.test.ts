// Commit planning: the reply tuple rebuilt from the original tuple and NAT, timeouts, window
// tracking and the master-first order of conntrackd-protocol.md §1.6.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commitEntry, commitTimeout, planCommit, replyTuple, TCP_FLAG_BE_LIBERAL } from '../../src/engine/commit.js';
import { IPPROTO, IPS } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';

const tcp = (extra: Partial<Conntrack> = {}): Conntrack => ({
  family: 'ipv4',
  orig: { family: 'ipv4', src: '192.168.1.10', dst: '203.0.113.5', proto: IPPROTO.TCP, srcPort: 40000, dstPort: 443 },
  status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
  timeout: 300,
  protoinfo: { tcp: { state: 3 } },
  ...extra,
});

describe('reply tuple for the create request', () => {
  it('is the inverse of the original tuple', () => {
    assert.deepEqual(replyTuple(tcp()), { family: 'ipv4', src: '203.0.113.5', dst: '192.168.1.10', proto: 6, srcPort: 443, dstPort: 40000 });
  });
  it('leaves NAT to the kernel: SNAT and DNAT do not change it (CTA_NAT_SRC/DST carry them)', () => {
    assert.deepEqual(replyTuple(tcp({ natSrc: { minIp: '198.51.100.1', minPort: 61234 }, natDst: { minIp: '10.0.0.80', minPort: 8443 } })), replyTuple(tcp()));
  });
  it('answers an ICMP echo request with an echo reply of the same id (v4 and v6)', () => {
    const ping: Conntrack = {
      family: 'ipv4',
      orig: { family: 'ipv4', src: '192.168.1.10', dst: '203.0.113.5', proto: IPPROTO.ICMP, icmpType: 8, icmpCode: 0, icmpId: 77 },
    };
    assert.deepEqual(replyTuple(ping), { family: 'ipv4', src: '203.0.113.5', dst: '192.168.1.10', proto: 1, icmpId: 77, icmpType: 0, icmpCode: 0 });
    const v6: Conntrack = { family: 'ipv6', orig: { family: 'ipv6', src: 'fd00::1', dst: 'fd00::2', proto: IPPROTO.ICMPV6, icmpType: 128, icmpCode: 0, icmpId: 1 } };
    assert.equal(replyTuple(v6)?.icmpType, 129);
  });
});

describe('commit entries', () => {
  it('ages the received timeout, or uses CommitTimeout; negative → 60 s, exactly 0 → as received', () => {
    const o = { nowMs: 100_000 };
    assert.equal(commitTimeout(300, 90_000, o), 290);
    assert.equal(commitTimeout(5, 0, o), 60);
    assert.equal(commitTimeout(100, 0, o), 100);
    assert.equal(commitTimeout(300, 90_000, { ...o, commitTimeoutSec: 180 }), 180);
    assert.equal(commitTimeout(undefined, 0, o), undefined);
  });

  it('clears IPS_EXPECTED, builds the reply tuple and makes TCP be-liberal unless window tracking is on', () => {
    const e = { key: 'k', receivedAtMs: 0, ct: tcp({ status: IPS.CONFIRMED | IPS.EXPECTED | IPS.SRC_NAT, natSrc: { minIp: '198.51.100.1', minPort: 5000 } }) };
    const c = commitEntry(e, { nowMs: 10_000 });
    assert.equal((c.status ?? 0) & IPS.EXPECTED, 0);
    assert.equal(c.reply?.dstPort, 40000, "the request's reply is the plain inverse");
    assert.equal(c.timeout, 290);
    assert.deepEqual(c.protoinfo?.tcp?.flagsOrig, { flags: TCP_FLAG_BE_LIBERAL, mask: TCP_FLAG_BE_LIBERAL });
    assert.equal(c.protoinfo?.tcp?.state, 3, 'the state is kept');
    assert.deepEqual(c.natSrc, { minIp: '198.51.100.1', minPort: 5000 }, 'the NAT binding goes to the kernel too');
    const tracked = commitEntry(e, { nowMs: 10_000, tcpWindowTracking: true });
    assert.equal(tracked.protoinfo?.tcp?.flagsOrig, undefined);
  });

  it('commits masters before RELATED entries', () => {
    const related = { key: 'r', receivedAtMs: 0, ct: tcp({ master: tcp().orig! }) };
    const master = { key: 'm', receivedAtMs: 0, ct: tcp() };
    const plan = planCommit([related, master], { nowMs: 0 });
    assert.deepEqual(
      plan.map((c) => c.master === undefined),
      [true, false],
    );
  });
});
