import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack, Tuple } from '../../src/ctnetlink/types.js';

/** tcpEntry builds an ESTABLISHED TCP entry 10.9.a.b:sport → 10.8.0.1:80, replies mirrored. */
export function tcpEntry(i: number, extra: Partial<Conntrack> = {}): Conntrack {
  const src = `10.9.${(i >> 8) & 0xff}.${i & 0xff}`;
  const sport = 1024 + (i % 60000);
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '10.8.0.1', proto: IPPROTO.TCP, srcPort: sport, dstPort: 80 },
    reply: { family: 'ipv4', src: '10.8.0.1', dst: src, proto: IPPROTO.TCP, srcPort: 80, dstPort: sport },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 600,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
    ...extra,
  };
}


/**
 * MIXED_KINDS are the flow shapes mixedEntry cycles through (entry i is MIXED_KINDS[i % 11]):
 * NAT'd TCP both ways, UDP plain / SNAT'd without a port change / DNAT'd and unreplied, ICMP echo plain and masqueraded,
 * IPv6 TCP / SNAT'd UDP / ICMPv6 echo, and TCP with window scaling negotiated.
 */
export const MIXED_KINDS = [
  'tcp-snat',
  'tcp-dnat',
  'udp',
  'udp-snat-addr',
  'icmp',
  'icmp-snat',
  'tcp6',
  'udp6-snat',
  'icmp6',
  'tcp-wscale',
  'udp-dnat-unreplied',
] as const;
export type MixedKind = (typeof MIXED_KINDS)[number];

/** IP_CT_TCP_FLAG_WINDOW_SCALE / _SACK_PERM: the kernel keeps CTA_PROTOINFO_TCP_WSCALE_* only when both directions have WINDOW_SCALE. */
export const TCP_FLAG_WINDOW_SCALE = 0x01;
export const TCP_FLAG_SACK_PERM = 0x02;

/** The TCP states the TCP kinds cycle through, with the status each one has in a real table. */
const TCP_STATES: readonly { state: number; status: number }[] = [
  { state: TCP_CONNTRACK.ESTABLISHED, status: IPS.SEEN_REPLY | IPS.ASSURED },
  { state: TCP_CONNTRACK.SYN_SENT, status: 0 },
  { state: TCP_CONNTRACK.SYN_RECV, status: IPS.SEEN_REPLY },
  { state: TCP_CONNTRACK.ESTABLISHED, status: IPS.SEEN_REPLY | IPS.ASSURED },
  { state: TCP_CONNTRACK.FIN_WAIT, status: IPS.SEEN_REPLY | IPS.ASSURED },
  { state: TCP_CONNTRACK.CLOSE_WAIT, status: IPS.SEEN_REPLY | IPS.ASSURED },
  { state: TCP_CONNTRACK.LAST_ACK, status: IPS.SEEN_REPLY | IPS.ASSURED },
  { state: TCP_CONNTRACK.TIME_WAIT, status: IPS.SEEN_REPLY | IPS.ASSURED },
  { state: TCP_CONNTRACK.CLOSE, status: IPS.SEEN_REPLY | IPS.ASSURED },
];

/** mixedKind is the shape of entry i. */
export function mixedKind(i: number): MixedKind {
  return MIXED_KINDS[i % MIXED_KINDS.length]!;
}

/**
 * mixedEntry builds entry i (0 ≤ i < 10 000) of `side`'s (0 ≤ side < 8) mixed table, ready for a
 * ctnetlink create: the reply is the plain inverse and NAT is asked for with CTA_NAT_SRC / _DST, so
 * the kernel derives the NAT'd reply and sets IPS_SRC_NAT / IPS_DST_NAT as real NAT would.
 *
 * Sources are unique per (side, i): 10.(80+side).i/256.i%256 and fd00:(10+side)::(i+1). NAT
 * bindings never collide with the other side's, so one side's entries can be committed into the
 * other's kernel: each side SNATs to its own address (198.51.100.(1+side), 2001:db8:ff::(1+side)),
 * from its own port range (TCP 20000+10000·side+i, UDPv6 40000+10000·side+i), and DNATs to its own
 * 10.(90+side).0.0/16 servers.
 *
 * Independently of the shape: i%3 = 1 is marked (0x80000000+i, the top bit set), i%5 = 2 carries
 * labels (bits i%128 and 7i%128), i%7 = 3 is in zone 1+(i/100)%5 (CTA_ZONE), and i%250 = 11 is in
 * the ORIGINAL-direction zone 9 (CTA_TUPLE_ZONE) instead. 3, 5, 7 and the 11 shapes are coprime,
 * so every combination of shape, mark, labels and zone occurs. Timeouts are 1800+i%1000 s.
 */
export function mixedEntry(i: number, side: number): Conntrack {
  const kind = mixedKind(i);
  const v4 = `10.${80 + side}.${(i >> 8) & 0xff}.${i & 0xff}`;
  const v6 = `fd00:${(0x10 + side).toString(16)}::${(i + 1).toString(16)}`;
  const sport = 1024 + i;
  const tcp = TCP_STATES[Math.floor(i / MIXED_KINDS.length) % TCP_STATES.length]!;
  const established = { state: TCP_CONNTRACK.ESTABLISHED, status: IPS.SEEN_REPLY | IPS.ASSURED };
  const replied = IPS.SEEN_REPLY | IPS.ASSURED;
  let ct: Mutable<Conntrack>;
  const flow = (family: 'ipv4' | 'ipv6', src: string, dst: string, proto: number, p: Partial<Tuple>): Mutable<Conntrack> => {
    const orig: Tuple = { family, src, dst, proto, ...p };
    return { family, orig, reply: inverse(orig) };
  };
  switch (kind) {
    case 'tcp-snat':
      ct = flow('ipv4', v4, '203.0.113.9', IPPROTO.TCP, { srcPort: sport, dstPort: 443 });
      ct.natSrc = { minIp: `198.51.100.${1 + side}`, minPort: 20000 + 10000 * side + i };
      ct.status = tcp.status;
      ct.protoinfo = { tcp: { state: tcp.state } };
      break;
    case 'tcp-dnat':
      ct = flow('ipv4', v4, '198.51.100.80', IPPROTO.TCP, { srcPort: sport, dstPort: 80 });
      ct.natDst = { minIp: `10.${90 + side}.0.${1 + (i % 200)}`, minPort: 8080 };
      ct.status = tcp.status;
      ct.protoinfo = { tcp: { state: tcp.state } };
      break;
    case 'udp':
      ct = flow('ipv4', v4, '192.0.2.53', IPPROTO.UDP, { srcPort: sport, dstPort: 53 });
      ct.status = replied;
      break;
    case 'udp-snat-addr':
      // SNAT without a port: the kernel keeps the source port, so no SPAT goes on the wire.
      ct = flow('ipv4', v4, '192.0.2.123', IPPROTO.UDP, { srcPort: sport, dstPort: 123 });
      ct.natSrc = { minIp: `198.51.100.${1 + side}` };
      ct.status = replied;
      break;
    case 'icmp':
      ct = flow('ipv4', v4, '203.0.113.9', IPPROTO.ICMP, { icmpType: 8, icmpCode: 0, icmpId: (0x1234 + i) & 0xffff });
      ct.status = replied;
      break;
    case 'icmp-snat':
      // A masqueraded ping: SNAT without an id change (the kernel keeps the id when it is free).
      ct = flow('ipv4', v4, '203.0.113.7', IPPROTO.ICMP, { icmpType: 8, icmpCode: 0, icmpId: (0x2000 + i) & 0xffff });
      ct.natSrc = { minIp: `198.51.100.${1 + side}` };
      ct.status = replied;
      break;
    case 'tcp6':
      ct = flow('ipv6', v6, '2001:db8::443', IPPROTO.TCP, { srcPort: sport, dstPort: 443 });
      ct.status = tcp.status;
      ct.protoinfo = { tcp: { state: tcp.state } };
      break;
    case 'udp6-snat':
      ct = flow('ipv6', v6, '2001:db8::53', IPPROTO.UDP, { srcPort: sport, dstPort: 53 });
      ct.natSrc = { minIp: `2001:db8:ff::${1 + side}`, minPort: 40000 + 10000 * side + i };
      ct.status = replied;
      break;
    case 'icmp6':
      ct = flow('ipv6', v6, '2001:db8::1', IPPROTO.ICMPV6, { icmpType: 128, icmpCode: 0, icmpId: (0x4321 + i) & 0xffff });
      ct.status = replied;
      break;
    case 'tcp-wscale': {
      const f = { flags: TCP_FLAG_WINDOW_SCALE | TCP_FLAG_SACK_PERM, mask: TCP_FLAG_WINDOW_SCALE | TCP_FLAG_SACK_PERM };
      ct = flow('ipv4', v4, '203.0.113.80', IPPROTO.TCP, { srcPort: sport, dstPort: 8443 });
      ct.status = established.status;
      ct.protoinfo = { tcp: { state: established.state, wscaleOrig: i % 15, wscaleReply: (i + 7) % 15, flagsOrig: f, flagsReply: f } };
      break;
    }
    case 'udp-dnat-unreplied':
      ct = flow('ipv4', v4, '198.51.100.53', IPPROTO.UDP, { srcPort: sport, dstPort: 5353 });
      ct.natDst = { minIp: `10.${90 + side}.1.${1 + (i % 200)}`, minPort: 53 };
      ct.status = 0;
      break;
  }
  ct.timeout = 1800 + (i % 1000);
  if (i % 3 === 1) ct.mark = (0x80000000 + i) >>> 0;
  if (i % 5 === 2) {
    const labels = new Uint8Array(16);
    for (const bit of [i % 128, (7 * i) % 128]) labels[bit >> 3]! |= 1 << (bit & 7);
    ct.labels = labels;
  }
  if (i % 250 === 11) {
    ct.orig = { ...ct.orig!, zone: 9 };
  } else if (i % 7 === 3) {
    ct.zone = 1 + (Math.floor(i / 100) % 5);
  }
  return ct;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** inverse is the plain reply of an original tuple (ICMP echo answered by echo reply), no NAT, no zone. */
function inverse(o: Tuple): Tuple {
  if (o.proto === IPPROTO.ICMP || o.proto === IPPROTO.ICMPV6) {
    const type = o.proto === IPPROTO.ICMP ? (o.icmpType === 8 ? 0 : o.icmpType) : o.icmpType === 128 ? 129 : o.icmpType;
    return { family: o.family, src: o.dst, dst: o.src, proto: o.proto, icmpType: type ?? 0, icmpCode: o.icmpCode ?? 0, icmpId: o.icmpId ?? 0 };
  }
  return { family: o.family, src: o.dst, dst: o.src, proto: o.proto, srcPort: o.dstPort ?? 0, dstPort: o.srcPort ?? 0 };
}
