import { AF, IP, MSG, NativeSocket, SO, SOCK, SOL_IP, SOL_SOCKET, ifNameToIndex, inet4Sockaddr, type Datagram, type ErrnoError } from '../native/socket.js';
import { DecodeError } from '../wire/decode-error.js';
import type { Family } from '../wire/ip.js';
import {
  IP_OPT,
  IPPROTO_VRRP,
  IPV6_OPT,
  SOL_IPV6,
  decodeCmsgInt,
  decodeCmsgTimespec,
  decodeCmsgs,
  decodeIn6Pktinfo,
  decodeInPktinfo,
  decodeIpv4Header,
  decodeSockaddrIn,
  inet6Sockaddr,
  ipMreqn,
  ipv6Mreq,
} from './sockopt.js';

/** VRRP_GROUP is the multicast destination of adverts (RFC 5798 §5.1.1.2, §5.1.2.2). */
export const VRRP_GROUP = { ipv4: '224.0.0.18', ipv6: 'ff02::12' } as const;

/** VRRP_TTL is the TTL / hop limit adverts are sent with and must arrive with (RFC 5798 §5.1.1.3). */
export const VRRP_TTL = 255;

/** VRRP_TOS is the IPv4 TOS (and IPv6 traffic class) byte keepalived sends adverts with: precedence 6. */
export const VRRP_TOS = 0xc0;

/** VrrpChannelOptions say where a channel sends and receives adverts. */
export interface VrrpChannelOptions {
  readonly family: Family;
  /** The interface adverts go out of and are accepted from (SO_BINDTODEVICE). */
  readonly ifname: string;
  /** A network namespace under /run/netns to open the socket in. */
  readonly netns?: string;
  /**
   * Unicast peers (keepalived's unicast_peer): each advert is sent to every one of them instead of
   * the group, and the group is not joined.
   */
  readonly unicastPeers?: readonly string[];
  /**
   * IPv4 source address of adverts (keepalived's unicast_src_ip, or an address other than the
   * interface's primary one). Multicast: selected through IP_MULTICAST_IF; the socket is never
   * bound to it, as a bound raw socket only receives datagrams addressed to that address
   * (native-layer.md §5 pitfall 4). Unicast: the socket is bound to it, which is what is wanted.
   */
  readonly sourceAddress?: string;
  /**
   * Accept only TTL / hop limit 255 (RFC 5798 §7.1). Default: on for multicast, off with unicast
   * peers, which may sit behind routers (failover-and-peers.md §2.8; keepalived's min_ttl/max_ttl).
   */
  readonly requireTtl255?: boolean;
}

/** ReceivedAdvert is one VRRP payload as it arrived, before the codec looks at it. */
export interface ReceivedAdvert {
  readonly payload: Uint8Array; // from the VRRP header on (a copy the caller owns)
  readonly src: string; // IP source address (IPv6: link-local in multicast mode)
  readonly dst: string; // IP destination: the group, or our address for unicast
  readonly ttl: number; // IPv4 TTL or IPv6 hop limit
  readonly ifindex: number; // the interface it arrived on (IP_PKTINFO / IPV6_PKTINFO)
  /**
   * When the kernel received it (SO_TIMESTAMPNS): CLOCK_REALTIME, µs since the epoch. A process
   * held up (CPU starvation, a long task) reads an advert late; this says when it really came.
   */
  readonly arrivedUs?: number;
}

/** DropReason is why a received datagram was not handed on. */
export type DropReason =
  | 'ttl' // TTL / hop limit other than 255
  | 'ip-header' // IPv4 header or source address that does not decode
  | 'truncated' // longer than the receive slot (MSG_TRUNC) or control data cut (MSG_CTRUNC)
  | 'no-pktinfo' // the kernel gave no ifindex / hop limit (cannot happen with the options set)
  | 'wrong-interface' // arrived on another interface than the channel's
  | 'not-vrrp'; // IPv4 protocol field not 112 (cannot happen on a proto-112 socket)

/** ChannelStats count what a channel did; drops by reason (house-style R10). */
export interface ChannelStats {
  sent: number;
  sendErrors: number;
  received: number;
  readonly dropped: Record<DropReason, number>;
}

/** ChannelHandlers get accepted adverts, each drop with its reason, and socket errors. */
export interface ChannelHandlers {
  onAdvert(a: ReceivedAdvert): void;
  /** onDrop gets the reason, a sentence for the log and the datagram as received (for a hex dump). */
  onDrop?(reason: DropReason, detail: string, data: Uint8Array): void;
  onError?(err: ErrnoError): void;
}

/** The largest VRRP packet: v3 IPv6 with 255 addresses is 8 + 16 × 255 bytes; plus an IPv4 header with options. */
const SLOT = 8192;
const CTRL = 128; // room for IP_PKTINFO, or IPV6_PKTINFO + IPV6_HOPLIMIT, and SCM_TIMESTAMPNS (16-byte cmsg headers): 96 at most

/**
 * VrrpChannel is the advert socket of one interface and family: a raw socket of IP protocol 112
 * bound to the interface, joined to 224.0.0.18 / ff02::12 (unless unicast), sending with TTL /
 * hop limit 255, TOS 0xc0 and no multicast loopback. It moves payload bytes: the VRRP codec
 * (src/vrrp/) builds and validates them, checksum included.
 */
export class VrrpChannel {
  readonly stats: ChannelStats = {
    sent: 0,
    sendErrors: 0,
    received: 0,
    dropped: { ttl: 0, 'ip-header': 0, truncated: 0, 'no-pktinfo': 0, 'wrong-interface': 0, 'not-vrrp': 0 },
  };
  readonly family: Family;
  readonly ifindex: number;
  private readonly sock: NativeSocket;
  private readonly dests: readonly Uint8Array[];
  /** The destinations as text, in the order of `dests` (the group, or the unicast peers). */
  readonly targets: readonly string[];
  private readonly requireTtl255: boolean;

  private constructor(opts: VrrpChannelOptions, ifindex: number, sock: NativeSocket, dests: readonly Uint8Array[], targets: readonly string[]) {
    this.family = opts.family;
    this.ifindex = ifindex;
    this.sock = sock;
    this.dests = dests;
    this.targets = targets;
    this.requireTtl255 = opts.requireTtl255 ?? (opts.unicastPeers ?? []).length === 0;
  }

  /** open creates and configures the socket; it receives nothing until start(). */
  static open(opts: VrrpChannelOptions): VrrpChannel {
    const ns = opts.netns !== undefined ? { netns: opts.netns } : {};
    const domain = opts.family === 'ipv4' ? AF.INET : AF.INET6;
    const sock = NativeSocket.open(domain, SOCK.RAW, IPPROTO_VRRP, ns);
    try {
      const ifindex = ifNameToIndex(opts.ifname, opts.netns !== undefined ? { netns: opts.netns } : {});
      const peers = opts.unicastPeers ?? [];
      const targets = peers.length > 0 ? peers : [VRRP_GROUP[opts.family]];
      // Link-local destinations (the group ff02::12, fe80:: peers) need the interface as scope id.
      const dests = targets.map((a) => (opts.family === 'ipv4' ? inet4Sockaddr(a) : inet6Sockaddr(a, 0, isLinkScope6(a) ? ifindex : 0)));
      sock.setsockoptBuf(SOL_SOCKET, SO.BINDTODEVICE, new TextEncoder().encode(opts.ifname));
      sock.setsockoptInt(SOL_SOCKET, SO.TIMESTAMPNS, 1);
      const unicast = peers.length > 0;
      if (opts.family === 'ipv4') configure4(sock, opts, ifindex, unicast);
      else configure6(sock, opts, ifindex, unicast);
      return new VrrpChannel(opts, ifindex, sock, dests, targets);
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  /** start delivers adverts (and drops) to the handlers until close(). */
  start(h: ChannelHandlers): void {
    this.sock.startReceiving(
      { slots: 8, slotSize: SLOT, ctrlSize: CTRL, wantName: true, maxBytesPerCallback: 256 * 1024 },
      (ds) => {
        for (const d of ds) this.receive(d, h);
      },
      (err) => h.onError?.(err),
    );
  }

  /**
   * send sends one VRRP payload to the group, or to every unicast peer. Returns the number of
   * destinations it went to; a failed one (ENETUNREACH, EAGAIN…) is counted and thrown after the
   * others were tried.
   */
  send(payload: Uint8Array): number {
    return this.sendEach(() => payload);
  }

  /**
   * sendEach is send with a payload per destination, for VRRPv3 whose checksum covers the
   * destination address (RFC 5798 §5.2.8): `payloadFor` gets each target of `targets`.
   */
  sendEach(payloadFor: (target: string) => Uint8Array): number {
    let ok = 0;
    let first: unknown;
    for (const [i, d] of this.dests.entries()) {
      try {
        this.sock.send(payloadFor(this.targets[i]!), d);
        ok++;
        this.stats.sent++;
      } catch (e) {
        this.stats.sendErrors++;
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
    return ok;
  }

  ref(): this {
    this.sock.ref();
    return this;
  }
  unref(): this {
    this.sock.unref();
    return this;
  }

  close(): void {
    this.sock.close();
  }

  private drop(h: ChannelHandlers, reason: DropReason, detail: string, d: Datagram): void {
    this.stats.dropped[reason]++;
    h.onDrop?.(reason, detail, d.data);
  }

  private receive(d: Datagram, h: ChannelHandlers): void {
    if ((d.flags & (MSG.TRUNC | MSG.CTRUNC)) !== 0) {
      this.drop(h, 'truncated', `msg_flags 0x${d.flags.toString(16)}`, d);
      return;
    }
    let ifindex: number | undefined;
    let hops: number | undefined;
    let dst: string | undefined;
    let arrivedUs: number | undefined;
    try {
      for (const c of decodeCmsgs(d.ctrl ?? new Uint8Array(0))) {
        if (c.level === SOL_SOCKET && c.type === SO.TIMESTAMPNS) arrivedUs = decodeCmsgTimespec(c.data);
        else if (c.level === SOL_IP && c.type === IP_OPT.PKTINFO) ifindex = decodeInPktinfo(c.data).ifindex;
        else if (c.level === SOL_IPV6 && c.type === IPV6_OPT.PKTINFO) ({ ifindex, dst } = decodeIn6Pktinfo(c.data));
        else if (c.level === SOL_IPV6 && c.type === IPV6_OPT.HOPLIMIT) hops = decodeCmsgInt(c.data);
      }
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.drop(h, 'no-pktinfo', e.message, d);
      return;
    }
    if (ifindex === undefined) {
      this.drop(h, 'no-pktinfo', 'no IP_PKTINFO / IPV6_PKTINFO control message', d);
      return;
    }
    if (ifindex !== this.ifindex) {
      this.drop(h, 'wrong-interface', `ifindex ${ifindex}, want ${this.ifindex}`, d);
      return;
    }
    let src: string;
    let ttl: number;
    let payload: Uint8Array;
    try {
      if (this.family === 'ipv4') {
        const ip = decodeIpv4Header(d.data);
        if (ip.protocol !== IPPROTO_VRRP) {
          this.drop(h, 'not-vrrp', `IP protocol ${ip.protocol}`, d);
          return;
        }
        ({ src, ttl, dst } = ip);
        payload = d.data.slice(ip.headerLen, ip.totalLen);
      } else {
        if (hops === undefined || dst === undefined) {
          this.drop(h, 'no-pktinfo', 'no IPV6_HOPLIMIT control message', d);
          return;
        }
        src = decodeSockaddrIn(d.name ?? new Uint8Array(0)).address;
        ttl = hops;
        payload = d.data.slice();
      }
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.drop(h, 'ip-header', e.message, d);
      return;
    }
    if (this.requireTtl255 && ttl !== VRRP_TTL) {
      this.drop(h, 'ttl', `${this.family === 'ipv4' ? 'TTL' : 'hop limit'} ${ttl} from ${src}, must be 255`, d);
      return;
    }
    this.stats.received++;
    h.onAdvert({ payload, src, dst, ttl, ifindex, ...(arrivedUs !== undefined ? { arrivedUs } : {}) });
  }
}


function configure4(sock: NativeSocket, opts: VrrpChannelOptions, ifindex: number, unicast: boolean): void {
  sock.setsockoptInt(SOL_IP, IP_OPT.TOS, VRRP_TOS);
  sock.setsockoptInt(SOL_IP, IP.PKTINFO, 1);
  if (unicast) {
    sock.setsockoptInt(SOL_IP, IP_OPT.TTL, VRRP_TTL);
    if (opts.sourceAddress !== undefined) sock.bind(inet4Sockaddr(opts.sourceAddress));
    return;
  }
  sock.setsockoptInt(SOL_IP, IP.MULTICAST_TTL, VRRP_TTL);
  sock.setsockoptInt(SOL_IP, IP.MULTICAST_LOOP, 0);
  sock.setsockoptBuf(SOL_IP, IP.MULTICAST_IF, ipMreqn('0.0.0.0', ifindex, opts.sourceAddress ?? '0.0.0.0'));
  sock.setsockoptBuf(SOL_IP, IP.ADD_MEMBERSHIP, ipMreqn(VRRP_GROUP.ipv4, ifindex));
}

function configure6(sock: NativeSocket, opts: VrrpChannelOptions, ifindex: number, unicast: boolean): void {
  sock.setsockoptInt(SOL_IPV6, IPV6_OPT.TCLASS, VRRP_TOS);
  sock.setsockoptInt(SOL_IPV6, IPV6_OPT.RECVPKTINFO, 1);
  sock.setsockoptInt(SOL_IPV6, IPV6_OPT.RECVHOPLIMIT, 1);
  if (unicast) {
    sock.setsockoptInt(SOL_IPV6, IPV6_OPT.UNICAST_HOPS, VRRP_TTL);
    if (opts.sourceAddress !== undefined) sock.bind(inet6Sockaddr(opts.sourceAddress, 0, isLinkScope6(opts.sourceAddress) ? ifindex : 0));
    return;
  }
  sock.setsockoptInt(SOL_IPV6, IPV6_OPT.MULTICAST_HOPS, VRRP_TTL);
  sock.setsockoptInt(SOL_IPV6, IPV6_OPT.MULTICAST_LOOP, 0);
  sock.setsockoptInt(SOL_IPV6, IPV6_OPT.MULTICAST_IF, ifindex);
  sock.setsockoptBuf(SOL_IPV6, IPV6_OPT.JOIN_GROUP, ipv6Mreq(VRRP_GROUP.ipv6, ifindex));
}

/** isLinkScope6 tells link-local unicast (fe80::/10) and link-local multicast (ff02::/16) apart from the rest. */
function isLinkScope6(a: string): boolean {
  const x = a.toLowerCase();
  return /^fe[89ab][0-9a-f]:/.test(x) || x.startsWith('ff02:');
}
