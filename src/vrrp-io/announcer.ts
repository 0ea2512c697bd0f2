import { AF, NativeSocket, SO, SOCK, SOL_SOCKET, ifNameToIndex, packetSockaddr } from '../native/socket.js';
import { encodeGarpFrame, encodeUnsolicitedNa } from './announce-codec.js';
import { ICMP6_FILTER, IPPROTO_ICMPV6, IPV6_OPT, SOL_IPV6, icmp6FilterBlockAll, inet6Sockaddr } from './sockopt.js';

/** ALL_NODES is the destination of unsolicited NAs (RFC 4861 §7.2.6). */
export const ALL_NODES = 'ff02::1';

/** ETH_BROADCAST is the link-layer destination of gratuitous ARPs. */
const ETH_BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const ETH_P_ARP = 0x0806;

/** AnnouncerOptions: the interface VIPs are announced on, and the namespace to open sockets in. */
export interface AnnouncerOptions {
  readonly ifname: string;
  readonly netns?: string;
}

/** AnnounceResult says how many of the requested announcements went out, and the first error. */
export interface AnnounceResult {
  readonly sent: number;
  readonly failed: number;
  readonly firstError?: unknown;
}

/**
 * Announcer sends gratuitous ARPs and unsolicited NAs for VIPs on one interface. It has no timer:
 * each call sends a burst of `count` back to back, and the failover runtime decides when bursts
 * are repeated (garp_master_delay, garp_master_repeat, garp_master_refresh). Sockets are opened
 * on first use: an AF_PACKET SOCK_RAW socket of protocol 0 (it receives nothing) for whole
 * Ethernet frames, so the source MAC can be the virtual MAC; a raw ICMPv6 socket with every
 * incoming type filtered out, hop limit 255 (RFC 4861 §7.1.2 has receivers drop anything less).
 */
export class Announcer {
  readonly ifindex: number;
  private arpSock: NativeSocket | undefined;
  private naSock: NativeSocket | undefined;

  constructor(private readonly opts: AnnouncerOptions) {
    this.ifindex = ifNameToIndex(opts.ifname, opts.netns !== undefined ? { netns: opts.netns } : {});
  }

  /** sendGarp sends `count` gratuitous ARPs announcing `ip` at `mac`. */
  sendGarp(ip: string, mac: string, count = 1): AnnounceResult {
    const frame = encodeGarpFrame({ mac, ip });
    const sock = (this.arpSock ??= this.open(AF.PACKET, SOCK.RAW, 0));
    const dest = packetSockaddr(this.ifindex, ETH_P_ARP, ETH_BROADCAST);
    return burst(count, () => sock.send(frame, dest));
  }

  /**
   * sendNa sends `count` unsolicited NAs (Override, Router unless opts.router is false) for `target`
   * at `mac`. The IPv6 source is the interface's link-local address, or opts.source: keepalived
   * sends from the VIP itself, which must then be assigned (and not tentative: add it nodad).
   */
  sendNa(target: string, mac: string, count = 1, opts: { router?: boolean; source?: string } = {}): AnnounceResult {
    const msg = encodeUnsolicitedNa({ target, mac, router: opts.router ?? true });
    const dest = inet6Sockaddr(ALL_NODES, 0, this.ifindex);
    if (opts.source === undefined) {
      const sock = (this.naSock ??= this.openNa());
      return burst(count, () => sock.send(msg, dest));
    }
    // A socket bound to the source, for this burst only (the addon's sendto carries no IPV6_PKTINFO).
    const sock = this.openNa();
    try {
      sock.bind(inet6Sockaddr(opts.source, 0, /^fe[89ab][0-9a-f]:/i.test(opts.source) ? this.ifindex : 0));
      return burst(count, () => sock.send(msg, dest));
    } catch (e) {
      return { sent: 0, failed: count, firstError: e };
    } finally {
      sock.close();
    }
  }

  close(): void {
    this.arpSock?.close();
    this.naSock?.close();
    this.arpSock = undefined;
    this.naSock = undefined;
  }

  private open(domain: number, type: number, proto: number): NativeSocket {
    return NativeSocket.open(domain, type, proto, this.opts.netns !== undefined ? { netns: this.opts.netns } : {});
  }

  private openNa(): NativeSocket {
    const s = this.open(AF.INET6, SOCK.RAW, IPPROTO_ICMPV6);
    try {
      s.setsockoptBuf(IPPROTO_ICMPV6, ICMP6_FILTER, icmp6FilterBlockAll());
      s.setsockoptBuf(SOL_SOCKET, SO.BINDTODEVICE, new TextEncoder().encode(this.opts.ifname));
      s.setsockoptInt(SOL_IPV6, IPV6_OPT.MULTICAST_IF, this.ifindex);
      s.setsockoptInt(SOL_IPV6, IPV6_OPT.MULTICAST_HOPS, 255);
      s.setsockoptInt(SOL_IPV6, IPV6_OPT.MULTICAST_LOOP, 0);
      return s;
    } catch (e) {
      s.close();
      throw e;
    }
  }
}

function burst(count: number, sendOne: () => void): AnnounceResult {
  let sent = 0;
  let failed = 0;
  let firstError: unknown;
  for (let i = 0; i < count; i++) {
    try {
      sendOne();
      sent++;
    } catch (e) {
      failed++;
      firstError ??= e;
    }
  }
  return firstError === undefined ? { sent, failed } : { sent, failed, firstError };
}
