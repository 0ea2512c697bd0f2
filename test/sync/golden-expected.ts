import type { Conntrack, Expectation, Tuple } from '../../src/ctnetlink/types.js';
import type { SyncEncodeOptions } from '../../src/sync/conntrack.js';
import type { SyncMessage } from '../../src/sync/message.js';

/**
 * What each sync golden capture decodes to, written by hand from the annotated captures (the
 * annotator in scripts/capture-sync-golden.sh is independent of the codec), and, for single
 * conntrack messages, the kernel entry the sender had (as keepstate's ctnetlink codec models it,
 * reply tuple included): mapping it with conntrackToWire must give the captured bytes.
 */
export interface SyncGoldenCase {
  readonly messages: readonly SyncMessage[];
  /** The sender's options (node B of the capture runs TCPWindowTracking on and CommitTimeout). */
  readonly opts?: SyncEncodeOptions;
  /** The sender's kernel entry for the (single) conntrack message, reply tuple and all. */
  readonly kernel?: Conntrack;
}

const NODE_B: SyncEncodeOptions = { tcpWindowTracking: true, commitTimeout: true };

const t4 = (src: string, dst: string, proto: number, srcPort?: number, dstPort?: number): Tuple =>
  srcPort === undefined ? { family: 'ipv4', src, dst, proto } : { family: 'ipv4', src, dst, proto, srcPort, dstPort: dstPort! };
const t6 = (src: string, dst: string, proto: number, srcPort: number, dstPort: number): Tuple => ({ family: 'ipv6', src, dst, proto, srcPort, dstPort });
const icmp = (family: 'ipv4' | 'ipv6', src: string, dst: string, proto: number, icmpType: number, icmpId: number): Tuple => ({
  family,
  src,
  dst,
  proto,
  icmpType,
  icmpCode: 0,
  icmpId,
});

const ctMsg = (op: 'new' | 'upd' | 'del', seq: number, ct: Conntrack, flags = 0): SyncMessage => ({ kind: 'ct', op, seq, flags, ct });
const v4 = (orig: Tuple, rest: Omit<Conntrack, 'family' | 'orig'>): Conntrack => ({ family: 'ipv4', orig, ...rest });
const v6 = (orig: Tuple, rest: Omit<Conntrack, 'family' | 'orig'>): Conntrack => ({ family: 'ipv6', orig, ...rest });

// IPS_* values seen below: 0x198 = CONFIRMED|SRC_NAT|SRC_NAT_DONE|DST_NAT_DONE; 0x19e adds SEEN_REPLY|ASSURED;
// 0x188 = CONFIRMED|SRC_NAT_DONE|DST_NAT_DONE (NAT hooks active, no mapping); 0x1af = EXPECTED|SEEN_REPLY|ASSURED|CONFIRMED|DST_NAT|...
const LABEL5 = Uint8Array.of(0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

const tcpSnatEst = v4(t4('10.0.1.1', '10.0.1.2', 6, 40080, 8080), {
  status: 0x19e,
  protoinfo: { tcp: { state: 3 } },
  timeout: 432000,
  natSrc: { minIp: '10.0.1.100', minPort: 40001 },
});
const ftpData = (state: number, timeout: number): Conntrack =>
  v4(t4('10.0.1.2', '10.0.1.100', 6, 20, 40064), {
    status: 0x1af,
    protoinfo: { tcp: { state } },
    timeout,
    master: t4('10.0.1.1', '10.0.1.2', 6, 40021, 21),
    natDst: { minIp: '10.0.1.1' },
  });
const icmpEcho = v4(icmp('ipv4', '10.0.1.1', '10.0.1.2', 1, 8, 10658), {
  status: 0x19a,
  timeout: 30,
  natSrc: { minIp: '10.0.1.100', minPort: 0 },
  natDst: { minPort: 0 },
});
const icmpv6Echo = v6(icmp('ipv6', 'fd01::100', 'fd01::2', 58, 128, 4660), {
  status: 0x18a,
  timeout: 30,
  natSrc: { minPort: 0 },
  natDst: { minPort: 0 },
});
const sctp = v4(t4('192.0.2.9', '198.51.100.9', 132, 5000, 6000), {
  status: 8,
  protoinfo: { sctp: { state: 4, vtagOrig: 0x44332211, vtagReply: 0x88776655 } },
  timeout: 60,
  mark: 0,
  synproxy: { its: 0, isn: 0, tsoff: 0 },
});
const tcpDnat = (state: number, timeout: number): Conntrack =>
  v4(t4('10.0.1.1', '10.0.1.200', 6, 40081, 80), {
    status: 0x1be,
    protoinfo: { tcp: { state } },
    timeout,
    natSrc: { minIp: '10.0.1.100', minPort: 40002 },
    natDst: { minIp: '10.0.1.2', minPort: 8080 },
  });
const tcp6 = (state: number, timeout: number): Conntrack =>
  v6(t6('fd01::1', 'fd01::2', 6, 40443, 8081), { status: 0x19e, protoinfo: { tcp: { state } }, timeout, natSrc: { minIp: 'fd01::100' } });
const zoned = (status: number): Conntrack =>
  v4(t4('10.0.1.1', '10.0.1.2', 17, 40077, 7777), { status, timeout: 30, mark: 42, labels: LABEL5, zone: 7 });
const ftpMaster = (status: number, state: number, timeout: number): Conntrack =>
  v4(t4('10.0.1.1', '10.0.1.2', 6, 40021, 21), { status, protoinfo: { tcp: { state } }, timeout, natSrc: { minIp: '10.0.1.100' }, helper: 'ftp' });
const udpInserted = (n: number): Conntrack =>
  v4(t4(`192.0.2.${n}`, `198.51.100.${n}`, 17, 1000 + n, 2000 + n), { status: 8, timeout: 60, mark: 0, synproxy: { its: 0, isn: 0, tsoff: 0 } });

const ftpExp = (op: 'new' | 'del', seq: number): SyncMessage => ({
  kind: 'exp',
  op,
  seq,
  flags: 0,
  exp: {
    family: 'ipv4',
    master: t4('10.0.1.1', '10.0.1.2', 6, 40021, 21),
    tuple: t4('10.0.1.2', '10.0.1.100', 6, 0, 40064),
    mask: t4('255.255.255.255', '255.255.255.255', 6, 0, 65535),
    timeout: 300,
    flags: 0,
    class: 0,
    nat: { dir: 1, tuple: t4('0.0.0.0', '0.0.0.0', 6, 40064, 0) },
    helper: 'ftp',
    fn: 'nat-follow-master',
  } satisfies Expectation,
});

export const SYNC_GOLDEN: Readonly<Record<string, SyncGoldenCase>> = {
  'sync-ctl-resync-hello.hex': { messages: [{ kind: 'resync', seq: 1795262829, flags: 0x22, from: 0, to: 0 }] },
  'sync-ctl-resync.hex': { messages: [{ kind: 'resync', seq: 1795262853, flags: 0x02, from: 0, to: 0 }] },
  'sync-ctl-alive.hex': { messages: [{ kind: 'alive', seq: 1795262847, flags: 0x10 }] },
  'sync-ctl-alive-hello.hex': { messages: [{ kind: 'alive', seq: 1795262828, flags: 0x30 }] },
  'sync-ctl-ack.hex': { messages: [{ kind: 'ack', seq: 1795262830, flags: 0x08, from: 1795262830, to: 1795262830 }] },
  'sync-ctl-ack-hello-back.hex': { messages: [{ kind: 'ack', seq: 1795262829, flags: 0x68, from: 1795262829, to: 1795262829 }] },
  'sync-ctl-nack.hex': { messages: [{ kind: 'nack', seq: 1795262850, flags: 0x04, from: 1795262872, to: 1795262872 }] },
  'sync-ct-new-tcp-snat.hex': {
    messages: [
      ctMsg('new', 1795262834, v4(t4('10.0.1.1', '10.0.1.2', 6, 40080, 8080), {
        status: 0x198,
        protoinfo: { tcp: { state: 1 } },
        timeout: 120,
        natSrc: { minIp: '10.0.1.100', minPort: 40001 },
      })),
    ],
    // The NEW event as ctnetlink reports it (SYN_SENT, reply tuple rewritten by SNAT to 10.0.1.100:40001).
    kernel: {
      family: 'ipv4',
      orig: t4('10.0.1.1', '10.0.1.2', 6, 40080, 8080),
      reply: t4('10.0.1.2', '10.0.1.100', 6, 8080, 40001),
      id: 0x1234abcd,
      status: 0x198,
      timeout: 120,
      protoinfo: { tcp: { state: 1, wscaleOrig: 7, wscaleReply: 0, flagsOrig: { flags: 3, mask: 0 }, flagsReply: { flags: 0, mask: 0 } } },
    },
  },
  'sync-ct-upd-tcp-snat.hex': { messages: [ctMsg('upd', 1795262836, tcpSnatEst)] },
  'sync-ct-dnat.hex': {
    messages: [ctMsg('upd', 1795262838, tcpDnat(3, 432000))],
    kernel: {
      family: 'ipv4',
      orig: t4('10.0.1.1', '10.0.1.200', 6, 40081, 80),
      reply: t4('10.0.1.2', '10.0.1.100', 6, 8080, 40002),
      status: 0x1be,
      timeout: 432000,
      protoinfo: { tcp: { state: 3, wscaleOrig: 7, wscaleReply: 7 } },
      countersOrig: { packets: 3n, bytes: 180n },
      use: 1,
    },
  },
  'sync-ct-new-udp.hex': {
    messages: [ctMsg('new', 1795262842, v4(t4('10.0.1.1', '10.0.1.2', 17, 40053, 5353), { status: 0x188, timeout: 30 }))],
    kernel: {
      family: 'ipv4',
      orig: t4('10.0.1.1', '10.0.1.2', 17, 40053, 5353),
      reply: t4('10.0.1.2', '10.0.1.1', 17, 5353, 40053),
      status: 0x188,
      timeout: 30,
    },
  },
  'sync-ct-del-udp.hex': {
    messages: [ctMsg('del', 1795262870, v4(t4('10.0.1.1', '10.0.1.2', 17, 40053, 5353), { status: 0x18a, timeout: 30 }))],
  },
  'sync-ct-icmp.hex': {
    messages: [ctMsg('upd', 1795262847, icmpEcho)],
    // The reply tuple has no ports: SPAT/DPAT come out as 0 although the ICMP id/type differ.
    kernel: {
      family: 'ipv4',
      orig: icmp('ipv4', '10.0.1.1', '10.0.1.2', 1, 8, 10658),
      reply: icmp('ipv4', '10.0.1.2', '10.0.1.100', 1, 0, 10658),
      status: 0x19a,
      timeout: 30,
    },
  },
  'sync-ct-ipv6-tcp.hex': {
    messages: [ctMsg('upd', 1795262851, tcp6(3, 432000))],
    kernel: {
      family: 'ipv6',
      orig: t6('fd01::1', 'fd01::2', 6, 40443, 8081),
      reply: t6('fd01::2', 'fd01::100', 6, 8081, 40443),
      status: 0x19e,
      timeout: 432000,
      protoinfo: { tcp: { state: 3 } },
    },
  },
  'sync-ct-icmpv6.hex': {
    messages: [ctMsg('upd', 1795262849, icmpv6Echo)],
    // No NAT mapping at all (nat6 hooks only set the NAT_DONE bits): still SPAT 0 and DPAT 0.
    kernel: {
      family: 'ipv6',
      orig: icmp('ipv6', 'fd01::100', 'fd01::2', 58, 128, 4660),
      reply: icmp('ipv6', 'fd01::2', 'fd01::100', 58, 129, 4660),
      status: 0x18a,
      timeout: 30,
    },
  },
  'sync-ct-zone-mark-label.hex': {
    messages: [ctMsg('new', 1795262852, zoned(0x188))],
    kernel: {
      family: 'ipv4',
      orig: t4('10.0.1.1', '10.0.1.2', 17, 40077, 7777),
      reply: t4('10.0.1.2', '10.0.1.1', 17, 7777, 40077),
      status: 0x188,
      timeout: 30,
      mark: 42,
      zone: 7,
      labels: LABEL5,
    },
  },
  'sync-ct-ftp-master.hex': { messages: [ctMsg('upd', 1795262859, ftpMaster(0x219e, 3, 432000))] },
  'sync-ct-ftp-related.hex': {
    messages: [ctMsg('upd', 1795262867, ftpData(4, 120))],
    kernel: {
      family: 'ipv4',
      orig: t4('10.0.1.2', '10.0.1.100', 6, 20, 40064),
      reply: t4('10.0.1.1', '10.0.1.2', 6, 40064, 20),
      master: t4('10.0.1.1', '10.0.1.2', 6, 40021, 21),
      status: 0x1af,
      timeout: 120,
      protoinfo: { tcp: { state: 4 } },
    },
  },
  'sync-ct-sctp.hex': {
    messages: [ctMsg('new', 1795262857, sctp)],
    kernel: {
      family: 'ipv4',
      orig: t4('192.0.2.9', '198.51.100.9', 132, 5000, 6000),
      reply: t4('198.51.100.9', '192.0.2.9', 132, 6000, 5000),
      status: 8,
      timeout: 60,
      mark: 0,
      protoinfo: { sctp: { state: 4, vtagOrig: 0x44332211, vtagReply: 0x88776655 } },
      synproxy: { isn: 0, its: 0, tsoff: 0 },
    },
  },
  'sync-ct-wscale-notimeout.hex': {
    opts: NODE_B,
    messages: [
      ctMsg('new', 1795262832, v4(t4('198.51.100.7', '203.0.113.7', 6, 41000, 443), {
        status: 0xe,
        protoinfo: { tcp: { state: 3, wscaleOrig: 0, wscaleReply: 0 } },
        mark: 0,
        synproxy: { its: 0, isn: 0, tsoff: 0 },
      })),
    ],
    kernel: {
      family: 'ipv4',
      orig: t4('198.51.100.7', '203.0.113.7', 6, 41000, 443),
      reply: t4('203.0.113.7', '198.51.100.7', 6, 443, 41000),
      status: 0xe,
      timeout: 300, // not sent: the sender has CommitTimeout
      mark: 0,
      protoinfo: { tcp: { state: 3, wscaleOrig: 0, wscaleReply: 0, flagsOrig: { flags: 0, mask: 0 }, flagsReply: { flags: 0, mask: 0 } } },
      synproxy: { isn: 0, its: 0, tsoff: 0 },
    },
  },
  'sync-exp-new-ftp.hex': { messages: [ftpExp('new', 1795262860)] },
  'sync-exp-del-ftp.hex': { messages: [ftpExp('del', 1795262862), ctMsg('upd', 1795262863, ftpData(3, 432000))] },
  'sync-dgram-bulk.hex': {
    messages: [
      ctMsg('upd', 1795262877, tcp6(7, 120)),
      ctMsg('upd', 1795262878, ftpData(7, 120)),
      ctMsg('new', 1795262879, udpInserted(21)),
      ctMsg('new', 1795262880, udpInserted(20)),
      ctMsg('upd', 1795262881, icmpEcho),
      ctMsg('upd', 1795262882, { ...tcpSnatEst, protoinfo: { tcp: { state: 7 } }, timeout: 120 }),
      ctMsg('new', 1795262883, sctp),
      ctMsg('upd', 1795262884, ftpMaster(0x21de, 7, 120)),
      ctMsg('upd', 1795262885, icmpv6Echo),
      ctMsg('upd', 1795262886, tcpDnat(7, 120)),
      ctMsg('upd', 1795262887, zoned(0x18a)),
    ],
  },
};
