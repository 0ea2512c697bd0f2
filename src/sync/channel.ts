import dgram from 'node:dgram';
import { constants } from 'node:os';
import type { MulticastChannel, UdpChannel } from '../config/conntrackd/types.js';
import { NETLINK, NLM_F } from '../netlink/consts.js';
import { forEachAttr } from '../netlink/attrs.js';
import { NetlinkConn } from '../netlink/conn.js';
import { AF, ErrnoError, IP, MSG, NativeSocket, SO, SOCK, SOL_IP, SOL_SOCKET, ifNameToIndex, inet4Sockaddr, type Datagram } from '../native/socket.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '../wire/ip.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';

/**
 * Dedicated links for UDP and Multicast channels (conntrackd-protocol.md §2.1): each channel has a
 * send socket and a receive socket, both created in the channel's network namespace by the addon,
 * where every option is set (SO_*BUFFORCE, SO_NO_CHECK, SO_REUSEADDR, multicast interface, loop
 * and membership) before use.
 *
 * - Sending goes through node:dgram (the addon's fd is handed over with bind({fd})): libuv keeps a
 *   write queue, so a burst larger than the send buffer waits for room instead of failing with
 *   EAGAIN — conntrackd's blocking sendto loses nothing either.
 * - Receiving uses the addon's recvmmsg poller, not dgram: dgram formats the source address of a
 *   link-local IPv6 sender with if_indextoname() on the JS thread, i.e. in the process's own
 *   namespace, so for a channel in another namespace it emits ENXIO (uv_if_indextoiid) and drops
 *   the datagram (measured: IPv6 multicast to ff02:: always comes from a link-local address).
 *
 * Several channels can be open at once (redundant links, §2.12); choosing the current one is the
 * caller's business.
 */

// Socket options the addon's socket.ts does not list (asm-generic/socket.h, uapi/linux/in.h, in6.h).
const SO_EXTRA = {
  REUSEADDR: 2,
  NO_CHECK: 11, // int flag: IPv4 UDP datagrams go out with checksum 0
  MEMINFO: 55, // u32[SK_MEMINFO_VARS], read-only
} as const;
const IP_EXTRA = { MULTICAST_ALL: 49 } as const;
const SOL_IPV6 = 41; // IPPROTO_IPV6
const IPV6 = {
  MULTICAST_IF: 17, // int ifindex
  MULTICAST_LOOP: 19, // int flag
  JOIN_GROUP: 20, // struct ipv6_mreq (IPV6_ADD_MEMBERSHIP)
  V6ONLY: 26,
  MULTICAST_ALL: 29,
} as const;
const SK_MEMINFO_DROPS = 8; // index of the drop counter in SO_MEMINFO
const SK_MEMINFO_VARS = 9;

// rtnetlink (uapi/linux/rtnetlink.h, if_link.h): RTM_GETLINK for one interface answers RTM_NEWLINK.
const RTM_GETLINK = 18;
const IFLA_MTU = 4;
const IFINFOMSG_LEN = 16;

/**
 * CHANNEL_OVERHEAD is the IP + UDP header size subtracted from the MTU to size datagrams. conntrackd
 * uses 28 for both families, so its IPv6 datagrams can exceed the MTU by 20 bytes and go out
 * fragmented; keepstate counts the real IPv6 header (40 + 8). Peers accept any size up to 64 KiB.
 */
export const CHANNEL_OVERHEAD = { ipv4: 28, ipv6: 48 } as const;

/** LinkStats are a channel's counters, the figures of conntrackd's `-s network` traffic block. */
export interface LinkStats {
  bytesSent: number; // payload bytes the kernel accepted
  bytesRecv: number;
  packetsSent: number;
  packetsRecv: number;
  errorsSend: number; // sends that failed (each also reported to onError)
  errorsRecv: number; // receive errors and truncated datagrams
  /** Datagrams the kernel dropped because the receive buffer was full (SO_MEMINFO; keepstate only). */
  rcvQueueDrops: number;
}

/** SocketBuffers are the effective SO_SNDBUF / SO_RCVBUF in bytes (the kernel doubles what is asked). */
export interface SocketBuffers {
  readonly send: number;
  readonly recv: number;
}

/** DatagramSource is where a received datagram came from. */
export interface DatagramSource {
  readonly address: string; // canonical text, no scope
  readonly port: number;
}

/**
 * SyncChannel is one open dedicated link. `send` never throws: failures are counted in
 * `errorsSend` and reported to the onError handler. The `datagram` passed to send must not change
 * afterwards (dgram may queue it); encodeDatagrams returns fresh arrays.
 */
export interface SyncChannel {
  readonly kind: 'multicast' | 'udp' | 'tcp'; // tcp: src/sync/tcp-channel.ts
  readonly family: 'ipv4' | 'ipv6';
  readonly device: string; // Interface
  readonly ifindex: number; // in the channel's namespace
  readonly mtu: number; // Interface's MTU, read in the channel's namespace at open
  readonly overhead: number; // CHANNEL_OVERHEAD[family]; the payload limit is mtu - overhead
  readonly netns: string | undefined;
  send(datagram: Uint8Array): void;
  /**
   * onDatagram sets the receive handler (a later call replaces it) and starts receiving: datagrams
   * that arrive before wait in the kernel. `datagram` is a view of a buffer owned by nobody else
   * (it stays valid; it pins the batch it came in, so copy what is kept for long).
   */
  onDatagram(fn: (datagram: Uint8Array, from: DatagramSource) => void): void;
  /** onError sets the error handler (a later call replaces it); errors before it are only counted. */
  onError(fn: (err: Error) => void): void;
  stats(): LinkStats;
  /** socketBuffers reads the effective buffer sizes back from the kernel. */
  socketBuffers(): SocketBuffers;
  /** connections (TCP channels only): whether the server side has a peer and the client side is connected. */
  connections?(): { readonly server: boolean; readonly client: boolean };
  /** ref/unref: an open channel keeps the event loop alive unless unref'd. */
  ref(): void;
  unref(): void;
  /** close closes both sockets (their ports are free once it resolves). Idempotent. */
  close(): Promise<void>;
}

/** ChannelErrorCode says why a channel could not be opened. */
export type ChannelErrorCode =
  | 'CHANNEL_NO_INTERFACE' // Interface does not exist (in the channel's namespace)
  | 'CHANNEL_NO_NETNS' // the named network namespace does not exist
  | 'CHANNEL_BAD_CONFIG' // an address not of the channel's family, a group that is not multicast, a bad port
  | 'CHANNEL_SOCKET'; // a socket call failed (cause: the ErrnoError)

/** ChannelError is a failure to open a dedicated link; its message names the interface and what failed. */
export class ChannelError extends Error {
  override readonly name = 'ChannelError';
  constructor(
    readonly code: ChannelErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** ChannelOptions: `netns` names a namespace under /run/netns where both sockets are created. */
export interface ChannelOptions {
  readonly netns?: string;
}

type Cfg = MulticastChannel | UdpChannel;

function where(cfg: Cfg, netns: string | undefined): string {
  const base = `${cfg.kind === 'multicast' ? 'Multicast' : 'UDP'} channel on ${cfg.interface}`;
  return netns === undefined ? base : `${base} (network namespace ${netns})`;
}

function addr(text: string, family: 'ipv4' | 'ipv6', what: string, cfg: Cfg, netns: string | undefined): Uint8Array {
  const b = family === 'ipv4' ? parseIPv4(text) : parseIPv6(text);
  if (b === undefined) throw new ChannelError('CHANNEL_BAD_CONFIG', `${where(cfg, netns)}: ${what} ${text} is not an ${family} address`);
  return b;
}

/** inet6Sockaddr builds a struct sockaddr_in6 (port network order, scope id host order). */
function inet6Sockaddr(ip: Uint8Array, port: number, scopeId = 0): Uint8Array {
  return new Writer(28).u16ne(AF.INET6).u16be(port).u32be(0).bytes(ip).u32ne(scopeId).finish();
}

/**
 * SockaddrSource is a received datagram's source, read from its struct sockaddr_in / sockaddr_in6
 * when asked: nothing on the sync path reads it, and formatting an address per datagram was a
 * tenth of what V8 compiled for the receive path in a daemon's first burst.
 */
class SockaddrSource implements DatagramSource {
  constructor(private readonly name: Uint8Array | undefined) {}

  get port(): number {
    const n = this.name;
    return n === undefined || n.length < 8 ? 0 : (n[2]! << 8) | n[3]!;
  }

  get address(): string {
    const n = this.name;
    if (n === undefined || n.length < 8) return '';
    const family = n[0]! | (n[1]! << 8); // sa_family is host order (little-endian here)
    return family === AF.INET6 && n.length >= 24 ? formatIPv6(n, 8) : formatIPv4(n, 4);
  }
}

/** needsScope: link-local unicast (fe80::/10) and link/interface-local multicast need an interface. */
function needsScope(ip: Uint8Array): boolean {
  if (ip[0] === 0xfe && (ip[1]! & 0xc0) === 0x80) return true;
  return ip[0] === 0xff && ((ip[1]! & 0x0f) === 1 || (ip[1]! & 0x0f) === 2);
}

function isMulticast(ip: Uint8Array, family: 'ipv4' | 'ipv6'): boolean {
  return family === 'ipv4' ? (ip[0]! & 0xf0) === 0xe0 : ip[0] === 0xff;
}

/** linkMtu asks rtnetlink (in the channel's namespace) for the interface's MTU, as SIOCGIFMTU would. */
export async function linkMtu(ifindex: number, netns: string | undefined): Promise<number> {
  const nl = NetlinkConn.open(NETLINK.ROUTE, netns !== undefined ? { netns } : {});
  try {
    const body = new Writer(IFINFOMSG_LEN).u8(AF.UNSPEC).u8(0).u16ne(0).u32ne(ifindex).u32ne(0).u32ne(0).finish();
    const replies = await nl.request({ type: RTM_GETLINK, flags: NLM_F.REQUEST, body }, 'RTM_GETLINK');
    for (const m of replies) {
      if (m.payload.length < IFINFOMSG_LEN) continue;
      let mtu: number | undefined;
      forEachAttr(new Reader(m.payload, IFINFOMSG_LEN, m.payload.length, ['ifinfomsg']), (type, _full, p) => {
        if (type === IFLA_MTU && p.remaining >= 4) mtu = p.u32ne();
      });
      if (mtu !== undefined) return mtu;
    }
    throw new Error('the RTM_GETLINK reply carries no IFLA_MTU');
  } finally {
    nl.close();
  }
}

/** Resolved is a channel configuration turned into socket addresses. */
interface Resolved {
  readonly family: 'ipv4' | 'ipv6';
  readonly domain: number;
  readonly bindAddr: Uint8Array; // receive socket's sockaddr
  readonly bindText: string; // the same, for messages
  readonly dest: string; // send destination (text for dgram)
  readonly destAddr: Uint8Array; // the same as a sockaddr, for the direct sendmsg path
  readonly port: number;
  readonly group: Uint8Array | undefined; // multicast only
  readonly ifAddr: Uint8Array | undefined; // IPv4_interface (multicast, IPv4)
  readonly peerNeedsDevice: boolean; // IPv6 unicast peer that is link-local: bind the send socket to Interface
}

function resolve(cfg: Cfg, ifindex: number, netns: string | undefined): Resolved {
  const family = cfg.family;
  const v6 = family === 'ipv6';
  const domain = v6 ? AF.INET6 : AF.INET;
  const any = new Uint8Array(v6 ? 16 : 4);
  const sockaddr = (ip: Uint8Array, port: number, scope: number): Uint8Array => (v6 ? inet6Sockaddr(ip, port, scope) : inet4Sockaddr(formatIPv4(ip), port));
  if (!Number.isInteger(cfg.port) || cfg.port < 1 || cfg.port > 65535) {
    throw new ChannelError('CHANNEL_BAD_CONFIG', `${where(cfg, netns)}: port ${cfg.port} is outside 1..65535`);
  }
  if (cfg.kind === 'multicast') {
    const group = addr(cfg.group, family, 'group', cfg, netns);
    if (!isMulticast(group, family)) throw new ChannelError('CHANNEL_BAD_CONFIG', `${where(cfg, netns)}: ${cfg.group} is not a multicast group`);
    const ifAddr = !v6 && cfg.interfaceAddress !== undefined ? addr(cfg.interfaceAddress, 'ipv4', 'IPv4_interface', cfg, netns) : undefined;
    // conntrackd 1.4.7 binds the receive socket to the wildcard address and the Group port.
    return {
      family,
      domain,
      bindAddr: sockaddr(any, cfg.port, 0),
      bindText: v6 ? `[::]:${cfg.port}` : `0.0.0.0:${cfg.port}`,
      dest: cfg.group,
      destAddr: sockaddr(group, cfg.port, v6 ? ifindex : 0), // link-scope groups need the interface
      port: cfg.port,
      group,
      ifAddr,
      peerNeedsDevice: false,
    };
  }
  const local = cfg.localAddress !== undefined ? addr(cfg.localAddress, family, 'local address', cfg, netns) : any;
  const peer = addr(cfg.peerAddress, family, 'destination address', cfg, netns);
  // conntrackd sets the receive socket's scope id to Interface (it matters for a link-local address).
  return {
    family,
    domain,
    bindAddr: sockaddr(local, cfg.port, v6 ? ifindex : 0),
    bindText: v6 ? `[${formatIPv6(local)}%${cfg.interface}]:${cfg.port}` : `${formatIPv4(local)}:${cfg.port}`,
    dest: cfg.peerAddress,
    destAddr: sockaddr(peer, cfg.port, v6 && needsScope(peer) ? ifindex : 0),
    port: cfg.port,
    group: undefined,
    ifAddr: undefined,
    peerNeedsDevice: v6 && needsScope(peer),
  };
}

/**
 * DEFAULT_SYNC_RCVBUF is the receive buffer of a dedicated link without RcvSocketBuffer: 16 MiB
 * (conntrackd keeps the system default, ~208 KiB). A peer's bulk send or resync arrives as fast as
 * it can write; with ~100 datagrams of room, a pause of a few milliseconds on the receiver (a
 * garbage collection) dropped most of a 100 000-entry resync, and FTFW's NACKs then resent it
 * again and again (measured: 32 252 datagrams sent for 100 000 entries, 1.5 s instead of 0.1 s).
 * The memory is only used while the queue is full.
 */
export const DEFAULT_SYNC_RCVBUF = 16 << 20;

/** setBuffer applies SndSocketBuffer/RcvSocketBuffer with the FORCE option, as conntrackd (needs CAP_NET_ADMIN). */
function setBuffer(s: NativeSocket, name: number, bytes: number, what: string): void {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 0x3fffffff) throw new RangeError(`${what} ${bytes} is outside 1..${0x3fffffff}`);
  s.setsockoptInt(SOL_SOCKET, name, bytes);
}

function openSockets(cfg: Cfg, r: Resolved, ifindex: number, netns: string | undefined): { tx: NativeSocket; rx: NativeSocket } {
  const opened: NativeSocket[] = [];
  const open = (): NativeSocket => {
    const s = NativeSocket.open(r.domain, SOCK.DGRAM, 0, netns !== undefined ? { netns } : {});
    opened.push(s);
    return s;
  };
  let step = 'socket';
  try {
    const v6 = r.family === 'ipv6';
    // Receive socket.
    const rx = open();
    step = 'SO_REUSEADDR';
    rx.setsockoptInt(SOL_SOCKET, SO_EXTRA.REUSEADDR, 1);
    if (v6) {
      step = 'IPV6_V6ONLY'; // so a [::]:port socket never takes the IPv4 traffic of another channel
      rx.setsockoptInt(SOL_IPV6, IPV6.V6ONLY, 1);
    }
    const rcvbuf = cfg.rcvSocketBuffer ?? DEFAULT_SYNC_RCVBUF;
    step = `SO_RCVBUFFORCE ${rcvbuf}`;
    setBuffer(rx, SO.RCVBUFFORCE, rcvbuf, 'RcvSocketBuffer');
    step = `bind ${r.bindText}`;
    rx.bind(r.bindAddr);
    if (r.group !== undefined) {
      // Only this socket's own group: with the 1.4.7 wildcard bind the kernel would otherwise also
      // deliver other groups joined on the host to the same port (e.g. a second link's group).
      step = v6 ? 'IPV6_MULTICAST_ALL' : 'IP_MULTICAST_ALL';
      if (v6) rx.setsockoptInt(SOL_IPV6, IPV6.MULTICAST_ALL, 0);
      else rx.setsockoptInt(SOL_IP, IP_EXTRA.MULTICAST_ALL, 0);
      step = v6 ? 'IPV6_JOIN_GROUP' : 'IP_ADD_MEMBERSHIP';
      if (v6) rx.setsockoptBuf(SOL_IPV6, IPV6.JOIN_GROUP, new Writer(20).bytes(r.group).u32ne(ifindex).finish());
      else rx.setsockoptBuf(SOL_IP, IP.ADD_MEMBERSHIP, mreqn(r.group, r.ifAddr, ifindex));
    }
    // Send socket: left unbound (the kernel picks an ephemeral port at the first send).
    step = 'socket';
    const tx = open();
    if (!cfg.checksum && !v6) {
      // IPv6 has no such option that a peer would accept: UDP over IPv6 always carries a checksum.
      step = 'SO_NO_CHECK';
      tx.setsockoptInt(SOL_SOCKET, SO_EXTRA.NO_CHECK, 1);
    }
    if (cfg.sndSocketBuffer !== undefined) {
      step = `SO_SNDBUFFORCE ${cfg.sndSocketBuffer}`;
      setBuffer(tx, SO.SNDBUFFORCE, cfg.sndSocketBuffer, 'SndSocketBuffer');
    }
    if (r.group !== undefined) {
      step = v6 ? 'IPV6_MULTICAST_LOOP' : 'IP_MULTICAST_LOOP'; // a node must not hear itself
      if (v6) tx.setsockoptInt(SOL_IPV6, IPV6.MULTICAST_LOOP, 0);
      else tx.setsockoptInt(SOL_IP, IP.MULTICAST_LOOP, 0);
      step = v6 ? 'IPV6_MULTICAST_IF' : 'IP_MULTICAST_IF';
      if (v6) tx.setsockoptInt(SOL_IPV6, IPV6.MULTICAST_IF, ifindex);
      else tx.setsockoptBuf(SOL_IP, IP.MULTICAST_IF, mreqn(new Uint8Array(4), r.ifAddr, ifindex));
    }
    if (r.peerNeedsDevice) {
      step = 'SO_BINDTODEVICE';
      tx.setsockoptBuf(SOL_SOCKET, SO.BINDTODEVICE, new TextEncoder().encode(cfg.interface));
    }
    return { tx, rx };
  } catch (e) {
    for (const s of opened) s.close();
    if (e instanceof ErrnoError) {
      const hint = e.code === 'EPERM' && step.includes('FORCE') ? ' (needs CAP_NET_ADMIN)' : '';
      throw new ChannelError('CHANNEL_SOCKET', `${where(cfg, netns)}: ${step}: ${e.code}${hint}`, { cause: e });
    }
    if (e instanceof RangeError) throw new ChannelError('CHANNEL_BAD_CONFIG', `${where(cfg, netns)}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * mreqn builds a struct ip_mreqn. The device is always Interface's ifindex: conntrackd passes only
 * IPv4_interface, and with it unset the kernel would pick a device by route (none in a bare
 * namespace). IPv4_interface, when set, is kept as the multicast source address.
 */
function mreqn(group: Uint8Array, ifAddr: Uint8Array | undefined, ifindex: number): Uint8Array {
  return new Writer(12)
    .bytes(group)
    .bytes(ifAddr ?? new Uint8Array(4))
    .u32ne(ifindex)
    .finish();
}

/**
 * openChannel opens a UDP or Multicast dedicated link described by a parsed channel block, with
 * both sockets in `opts.netns` when given. It reads Interface's index and MTU there; a missing
 * interface or namespace is a ChannelError naming it. IPv4 and IPv6 both work.
 */
export async function openChannel(cfg: Cfg, opts: ChannelOptions = {}): Promise<SyncChannel> {
  const netns = opts.netns;
  if (cfg.kind !== 'multicast' && cfg.kind !== 'udp') {
    throw new ChannelError('CHANNEL_BAD_CONFIG', `${where(cfg, netns)}: only UDP and Multicast channels are handled here`);
  }
  let ifindex: number;
  try {
    ifindex = ifNameToIndex(cfg.interface, netns !== undefined ? { netns } : {});
  } catch (e) {
    if (e instanceof ErrnoError && e.code === 'ENOENT' && e.syscall === 'open' && netns !== undefined) {
      throw new ChannelError('CHANNEL_NO_NETNS', `${where(cfg, netns)}: network namespace ${netns} does not exist`, { cause: e });
    }
    if (e instanceof ErrnoError && (e.code === 'ENODEV' || e.code === 'ENXIO')) {
      throw new ChannelError('CHANNEL_NO_INTERFACE', `${where(cfg, netns)}: interface ${cfg.interface} does not exist`, { cause: e });
    }
    if (e instanceof ErrnoError) throw new ChannelError('CHANNEL_SOCKET', `${where(cfg, netns)}: if_nametoindex: ${e.code}`, { cause: e });
    throw e;
  }
  const r = resolve(cfg, ifindex, netns);
  let mtu: number;
  try {
    mtu = await linkMtu(ifindex, netns);
  } catch (e) {
    throw new ChannelError('CHANNEL_SOCKET', `${where(cfg, netns)}: reading the MTU of ${cfg.interface}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const { tx, rx } = openSockets(cfg, r, ifindex, netns);
  let out: dgram.Socket;
  try {
    out = dgram.createSocket({ type: r.family === 'ipv6' ? 'udp6' : 'udp4' });
    out.bind({ fd: tx.fd }); // dgram owns (and closes) the fd from here on; tx only sends on it directly
  } catch (e) {
    tx.close();
    rx.close();
    throw new ChannelError('CHANNEL_SOCKET', `${where(cfg, netns)}: handing the send socket to dgram: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return new DgramChannel(cfg, r, ifindex, mtu, netns, out, tx, rx);
}

/** DgramChannel is the SyncChannel of openChannel: sends through dgram, receives through the addon's poller. */
class DgramChannel implements SyncChannel {
  readonly kind: 'multicast' | 'udp';
  readonly family: 'ipv4' | 'ipv6';
  readonly device: string;
  readonly overhead: number;
  private readonly counters: LinkStats = {
    bytesSent: 0,
    bytesRecv: 0,
    packetsSent: 0,
    packetsRecv: 0,
    errorsSend: 0,
    errorsRecv: 0,
    rcvQueueDrops: 0,
  };
  private datagramFn: ((datagram: Uint8Array, from: DatagramSource) => void) | undefined;
  private errorFn: ((err: Error) => void) | undefined;
  private closing: Promise<void> | undefined;
  private readonly dest: string;
  private readonly destAddr: Uint8Array;
  private readonly port: number;
  /** Datagrams handed to dgram's queue and not yet sent: while any are, later ones queue too (order). */
  private queued = 0;

  constructor(
    cfg: Cfg,
    r: Resolved,
    readonly ifindex: number,
    readonly mtu: number,
    readonly netns: string | undefined,
    private readonly out: dgram.Socket,
    private readonly tx: NativeSocket,
    private readonly rx: NativeSocket,
  ) {
    this.kind = cfg.kind;
    this.family = r.family;
    this.device = cfg.interface;
    this.overhead = CHANNEL_OVERHEAD[r.family];
    this.dest = r.dest;
    this.destAddr = r.destAddr;
    this.port = r.port;
    // Nothing is expected on the send socket (dgram reads it anyway); an error there is reported, never thrown.
    out.on('error', (e) => this.report(e));
  }

  send(datagram: Uint8Array): void {
    if (this.closing !== undefined) {
      this.counters.errorsSend++;
      this.report(new ErrnoError(constants.errno.EBADF, 'EBADF', 'send', `send on the closed ${this.kind} channel on ${this.device}`));
      return;
    }
    const len = datagram.length;
    // Fast path: one synchronous sendmsg (MSG_DONTWAIT) on the send socket — libuv's send request
    // costs ~30 µs a datagram, which showed up as a tenth of the sender's CPU in a 100k burst.
    // A full socket buffer (EAGAIN) falls back to dgram's queue, which libuv drains when writable.
    if (this.queued === 0) {
      try {
        this.tx.send(datagram, this.destAddr);
        this.counters.packetsSent++;
        this.counters.bytesSent += len;
        return;
      } catch (e) {
        if (!(e instanceof ErrnoError) || e.code !== 'EAGAIN') {
          this.counters.errorsSend++;
          this.report(e instanceof Error ? e : new Error(String(e)));
          return;
        }
      }
    }
    this.queued++;
    try {
      this.out.send(datagram, this.port, this.dest, (err) => {
        this.queued--;
        if (err === null || err === undefined) {
          this.counters.packetsSent++;
          this.counters.bytesSent += len;
          return;
        }
        if (this.closing !== undefined) return; // sends cancelled by close
        this.counters.errorsSend++;
        this.report(err);
      });
    } catch (e) {
      this.counters.errorsSend++;
      this.report(e instanceof Error ? e : new Error(String(e)));
    }
  }

  onDatagram(fn: (datagram: Uint8Array, from: DatagramSource) => void): void {
    this.datagramFn = fn;
    if (this.closing === undefined && !this.rx.receiving) {
      this.rx.startReceiving(
        // Hold-off: in a flood of datagrams, one wakeup per millisecond reads what came (each
        // wakeup costs a callback, its microtasks and an ACK pass); a lone datagram is read at once.
        { slots: 64, slotSize: 65536, wantName: true, holdOffMs: 1 },
        (ds) => this.deliver(ds),
        (e) => {
          this.counters.errorsRecv++;
          this.report(e);
        },
      ); // NativeSocket applies an earlier unref() to the receiver it starts
    }
  }

  onError(fn: (err: Error) => void): void {
    this.errorFn = fn;
  }

  stats(): LinkStats {
    if (this.closing === undefined) this.readDrops();
    return { ...this.counters };
  }

  /** readDrops copies the receive socket's kernel drop counter (SO_MEMINFO, host-order u32s). */
  private readDrops(): void {
    try {
      const info = this.rx.getsockoptBuf(SOL_SOCKET, SO_EXTRA.MEMINFO, 4 * SK_MEMINFO_VARS);
      if (info.length >= 4 * (SK_MEMINFO_DROPS + 1)) {
        this.counters.rcvQueueDrops = new Reader(info, 4 * SK_MEMINFO_DROPS, info.length, ['meminfo']).u32ne();
      }
    } catch {
      // keep the last value read
    }
  }

  socketBuffers(): SocketBuffers {
    return { send: this.out.getSendBufferSize(), recv: this.rx.getsockoptInt(SOL_SOCKET, SO.RCVBUF) };
  }

  ref(): void {
    this.out.ref();
    this.rx.ref();
  }

  unref(): void {
    this.out.unref();
    this.rx.unref();
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.readDrops(); // the last drop count
    this.rx.close();
    this.closing = new Promise<void>((resolve) => this.out.close(() => resolve()));
    return this.closing;
  }

  private deliver(ds: readonly Datagram[]): void {
    const fn = this.datagramFn;
    for (const d of ds) {
      if (this.closing !== undefined) return;
      if ((d.flags & MSG.TRUNC) !== 0) {
        // MSG_TRUNC cannot happen with 64 KiB slots; count it rather than pass a cut datagram on
        this.counters.errorsRecv++;
        continue;
      }
      this.counters.packetsRecv++;
      this.counters.bytesRecv += d.data.length;
      if (fn !== undefined) fn(d.data, new SockaddrSource(d.name));
    }
  }

  private report(err: Error): void {
    const fn = this.errorFn;
    if (fn !== undefined) fn(err);
  }
}
