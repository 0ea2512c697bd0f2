import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';

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

