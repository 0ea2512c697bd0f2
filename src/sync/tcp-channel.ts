import net from 'node:net';
import { constants } from 'node:os';
import type { TcpChannel as TcpChannelConfig } from '../config/conntrackd/types.js';
import { AF, ErrnoError, NativeSocket, SO, SOCK, SOL_SOCKET, ifNameToIndex, inet4Sockaddr } from '../native/socket.js';
import { formatIPv4, parseIPv4, parseIPv6 } from '../wire/ip.js';
import { Writer } from '../wire/writer.js';
import { ChannelError, linkMtu, type ChannelOptions, type DatagramSource, type LinkStats, type SocketBuffers, type SyncChannel } from './channel.js';

/**
 * The TCP dedicated link (conntrackd-protocol.md §2.1), as conntrackd 1.4.7 runs it: every node is
 * at once a server and a client, and the two connections are one-way.
 *
 * - Server: listens on `IPvX_address`:`Port` (backlog 1, SO_REUSEADDR, SO_KEEPALIVE, RcvSocketBuffer
 *   forced) and only reads, from the last accepted connection: a new connection replaces the
 *   previous one, and when the peer closes the server waits for the next.
 * - Client: connects to `IPvX_Destination_Address`:`Port` and only writes. While it is not connected,
 *   or while its send buffer is full (a slow or vanished peer), messages wait in an error queue
 *   (ErrorQueueLength, 128 by default) that is written out once the connection is up or the buffer
 *   has drained; when the queue is full its oldest message is dropped (counted: errorQueueDrops,
 *   `-s queue`'s errorq "not enough space"), as conntrackd's channel_enqueue_errors does. A refused,
 *   reset or closed connection is retried one second later with a new socket.
 * - Send buffer: conntrackd's socket is non-blocking, so a full kernel send buffer is EAGAIN, a
 *   "Error send" and a message into the error queue. node:net would instead queue every write in
 *   user space without limit; here a write node:net reports as over its high-water mark
 *   (writableHighWaterMark, 16 KiB: the kernel took no more) makes the channel "blocked" until
 *   'drain': later messages count one send error each and go to the error queue. So at most the
 *   high-water mark plus one message waits in node:net and ErrorQueueLength messages in the queue,
 *   whatever the peer does. The first send error of a blocked period is reported to onError
 *   (conntrackd logs none; one line per period tells the administrator without a flood).
 * - Both sockets are created by the addon in the channel's namespace and bound there; the fds are
 *   then handed to node:net (net.Server.listen({fd}), new net.Socket({fd}).connect()), which owns
 *   and closes them. Accepted sockets belong to the listener's namespace.
 *
 * A stream has no datagram boundaries: the receiver cuts it at message boundaries (the 16-bit
 * length of each message header) and passes on whole messages only, keeping a cut message for the
 * next read, so the layer above sees the same "datagrams" as on UDP. Counters follow conntrackd:
 * one "packet" per write and per read.
 */

/** TCP_OVERHEAD is the IP + TCP header size subtracted from the MTU to pack messages (conntrackd: 40). */
export const TCP_OVERHEAD = { ipv4: 40, ipv6: 60 } as const;

/** RECONNECT_MS is the wait before a new connection attempt after one failed or ended. */
export const RECONNECT_MS = 1000;

const DEFAULT_ERROR_QUEUE = 128;
const SO_REUSEADDR = 2;
const SO_KEEPALIVE = 9;
const HEADER_LEN_OFFSET = 2; // the message length is the big-endian u16 at bytes 2..3 of its header
const MIN_MESSAGE = 8;

/** TcpChannelOptions add the Sync section's ErrorQueueLength to the common channel options. */
export interface TcpChannelOptions extends ChannelOptions {
  readonly errorQueueLength?: number;
}

/** TcpConnections is the state `-s` shows: server=… (accepted a peer) client=… (connected to it). */
export interface TcpConnections {
  readonly server: boolean;
  readonly client: boolean;
}

/** TcpSyncChannel is a SyncChannel that also reports its two connections. */
export interface TcpSyncChannel extends SyncChannel {
  readonly kind: 'tcp';
  connections(): TcpConnections;
  /** queued is how many messages wait for the client connection (conntrackd's error queue, `-s queue`). */
  readonly queued: number;
  /** errorQueueDrops is how many messages a full error queue dropped (its oldest, to make room). */
  readonly errorQueueDrops: number;
}

function where(cfg: TcpChannelConfig, netns: string | undefined): string {
  const base = `TCP channel on ${cfg.interface}`;
  return netns === undefined ? base : `${base} (network namespace ${netns})`;
}

/** sockaddrOf builds a struct sockaddr_in / sockaddr_in6 (port network order, scope id host order). */
function sockaddrOf(ip: Uint8Array, port: number, scopeId: number): Uint8Array {
  if (ip.length === 4) return inet4Sockaddr(formatIPv4(ip), port);
  return new Writer(28).u16ne(AF.INET6).u16be(port).u32be(0).bytes(ip).u32ne(scopeId).finish();
}

/**
 * messagePrefix is the length of the longest prefix of `buf` made of whole messages, or
 * `buf.length` when a header is malformed (length below 8): the stream cannot be cut any more,
 * and the decoder above reports the bad message.
 */
export function messagePrefix(buf: Uint8Array): number {
  let off = 0;
  while (buf.length - off >= HEADER_LEN_OFFSET + 2) {
    const len = (buf[off + HEADER_LEN_OFFSET]! << 8) | buf[off + HEADER_LEN_OFFSET + 1]!;
    if (len < MIN_MESSAGE) return buf.length;
    if (off + len > buf.length) break;
    off += len;
  }
  return off;
}

/**
 * openTcpChannel opens a TCP dedicated link: the listening socket is bound and listening and the
 * first connection attempt has started when it resolves. A missing interface or namespace, a bad
 * address or a failed bind is a ChannelError.
 */
export async function openTcpChannel(cfg: TcpChannelConfig, opts: TcpChannelOptions = {}): Promise<TcpSyncChannel> {
  const netns = opts.netns;
  const ns = netns !== undefined ? { netns } : {};
  let ifindex: number;
  try {
    ifindex = ifNameToIndex(cfg.interface, ns);
  } catch (e) {
    if (e instanceof ErrnoError && e.code === 'ENOENT' && e.syscall === 'open' && netns !== undefined) {
      throw new ChannelError('CHANNEL_NO_NETNS', `${where(cfg, netns)}: network namespace ${netns} does not exist`, { cause: e });
    }
    if (e instanceof ErrnoError && (e.code === 'ENODEV' || e.code === 'ENXIO')) {
      throw new ChannelError('CHANNEL_NO_INTERFACE', `${where(cfg, netns)}: interface ${cfg.interface} does not exist`, { cause: e });
    }
    throw e;
  }
  if (!Number.isInteger(cfg.port) || cfg.port < 1 || cfg.port > 65535) {
    throw new ChannelError('CHANNEL_BAD_CONFIG', `${where(cfg, netns)}: port ${cfg.port} is outside 1..65535`);
  }
  const v6 = cfg.family === 'ipv6';
  const parse = (text: string, what: string): Uint8Array => {
    const b = v6 ? parseIPv6(text) : parseIPv4(text);
    if (b === undefined) throw new ChannelError('CHANNEL_BAD_CONFIG', `${where(cfg, netns)}: ${what} ${text} is not an ${cfg.family} address`);
    return b;
  };
  const local = cfg.localAddress !== undefined ? parse(cfg.localAddress, 'local address') : new Uint8Array(v6 ? 16 : 4);
  parse(cfg.peerAddress, 'destination address');
  let mtu: number;
  try {
    mtu = await linkMtu(ifindex, netns);
  } catch (e) {
    throw new ChannelError('CHANNEL_SOCKET', `${where(cfg, netns)}: reading the MTU of ${cfg.interface}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }

  // The listening socket.
  let step = 'socket';
  let listener: NativeSocket | undefined;
  let rcvbuf: number;
  try {
    listener = NativeSocket.open(v6 ? AF.INET6 : AF.INET, SOCK.STREAM, 0, ns);
    step = 'SO_REUSEADDR';
    listener.setsockoptInt(SOL_SOCKET, SO_REUSEADDR, 1);
    step = 'SO_KEEPALIVE';
    listener.setsockoptInt(SOL_SOCKET, SO_KEEPALIVE, 1);
    if (cfg.rcvSocketBuffer !== undefined) {
      step = `SO_RCVBUFFORCE ${cfg.rcvSocketBuffer}`;
      listener.setsockoptInt(SOL_SOCKET, SO.RCVBUFFORCE, cfg.rcvSocketBuffer);
    }
    rcvbuf = listener.getsockoptInt(SOL_SOCKET, SO.RCVBUF);
    step = `bind ${cfg.localAddress ?? (v6 ? '::' : '0.0.0.0')}:${cfg.port}`;
    listener.bind(sockaddrOf(local, cfg.port, v6 ? ifindex : 0));
  } catch (e) {
    listener?.close();
    if (e instanceof ErrnoError) {
      const hint = e.code === 'EPERM' && step.includes('FORCE') ? ' (needs CAP_NET_ADMIN)' : '';
      throw new ChannelError('CHANNEL_SOCKET', `${where(cfg, netns)}: ${step}: ${e.code}${hint}`, { cause: e });
    }
    throw e;
  }
  const server = net.createServer({ pauseOnConnect: false });
  const fd = listener.fd;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd, backlog: 1 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    server.close();
    listener.close();
    throw new ChannelError('CHANNEL_SOCKET', `${where(cfg, netns)}: listen: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // node:net owns the listening fd from here on.
  const ch = new TcpChannelImpl(cfg, ifindex, mtu, netns, server, rcvbuf, opts.errorQueueLength ?? DEFAULT_ERROR_QUEUE);
  ch.connect();
  return ch;
}

class TcpChannelImpl implements TcpSyncChannel {
  readonly kind = 'tcp' as const;
  readonly family: 'ipv4' | 'ipv6';
  readonly device: string;
  readonly overhead: number;
  private readonly counters: LinkStats = { bytesSent: 0, bytesRecv: 0, packetsSent: 0, packetsRecv: 0, errorsSend: 0, errorsRecv: 0, rcvQueueDrops: 0 };
  private datagramFn: ((datagram: Uint8Array, from: DatagramSource) => void) | undefined;
  private errorFn: ((err: Error) => void) | undefined;
  private closing: Promise<void> | undefined;
  private refed = true;
  /** The connection this node writes to (client side) and whether it is established. */
  private client: net.Socket | undefined;
  private clientUp = false;
  private sndbuf = 0;
  /** The client's send buffer is full (a write went over node:net's high-water mark) until 'drain'. */
  private blocked = false;
  private drops = 0;
  private retry: NodeJS.Timeout | undefined;
  /** Messages waiting for the client connection (conntrackd's error queue). */
  private readonly pending: Uint8Array[] = [];
  /** The accepted connection this node reads from, and the cut message carried to its next read. */
  private peer: net.Socket | undefined;
  private rest: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly cfg: TcpChannelConfig,
    readonly ifindex: number,
    readonly mtu: number,
    readonly netns: string | undefined,
    private readonly server: net.Server,
    private readonly rcvbuf: number,
    private readonly queueMax: number,
  ) {
    this.family = cfg.family;
    this.device = cfg.interface;
    this.overhead = TCP_OVERHEAD[cfg.family];
    server.on('connection', (s) => this.accept(s));
    server.on('error', (e) => this.report(e));
  }

  /** connect starts one connection attempt with a new socket made in the channel's namespace. */
  connect(): void {
    this.retry = undefined;
    if (this.closing !== undefined) return;
    let native: NativeSocket | undefined;
    try {
      native = NativeSocket.open(this.family === 'ipv6' ? AF.INET6 : AF.INET, SOCK.STREAM, 0, this.netns !== undefined ? { netns: this.netns } : {});
      if (this.cfg.sndSocketBuffer !== undefined) native.setsockoptInt(SOL_SOCKET, SO.SNDBUFFORCE, this.cfg.sndSocketBuffer);
      this.sndbuf = native.getsockoptInt(SOL_SOCKET, SO.SNDBUF);
    } catch (e) {
      native?.close();
      this.counters.errorsSend++;
      this.report(e instanceof Error ? e : new Error(String(e)));
      this.scheduleConnect();
      return;
    }
    const s = new net.Socket({ fd: native.fd, readable: true, writable: true }); // owns the fd from here on
    this.client = s;
    this.clientUp = false;
    if (!this.refed) s.unref();
    s.setNoDelay(true);
    s.on('error', () => {
      // refused, reset, unreachable: normal while the peer is away; 'close' follows and retries
    });
    s.on('data', () => {
      // the peer's server never writes; nothing to read
    });
    s.on('close', () => {
      if (this.client !== s) return;
      this.client = undefined;
      this.clientUp = false;
      this.blocked = false;
      this.blockReported = false;
      this.scheduleConnect();
    });
    s.on('drain', () => {
      if (this.client !== s) return;
      this.blocked = false;
      this.blockReported = false;
      this.flushPending(s);
    });
    s.connect({ port: this.cfg.port, host: this.cfg.peerAddress }, () => {
      if (this.client !== s) return;
      this.clientUp = true;
      this.blocked = false;
      this.flushPending(s);
    });
  }

  /** flushPending writes the error queue out in order until it is empty or the socket is blocked again. */
  private flushPending(s: net.Socket): void {
    let n = 0;
    while (n < this.pending.length && !this.blocked) this.write(s, this.pending[n++]!);
    this.pending.splice(0, n);
  }

  /** enqueue puts a message into the error queue; a full queue drops its oldest message. */
  private enqueue(d: Uint8Array): void {
    if (this.queueMax <= 0) {
      this.drops++;
      return;
    }
    if (this.pending.length >= this.queueMax) {
      this.pending.shift();
      this.drops++;
    }
    this.pending.push(d);
  }

  private scheduleConnect(): void {
    if (this.closing !== undefined || this.retry !== undefined) return;
    this.retry = setTimeout(() => this.connect(), RECONNECT_MS);
    this.retry.unref(); // the listening socket keeps a ref'd channel alive
  }

  private write(s: net.Socket, d: Uint8Array): void {
    const len = d.length;
    const below = s.write(d, (err) => {
      if (err === null || err === undefined) {
        this.counters.packetsSent++;
        this.counters.bytesSent += len;
      } else if (this.closing === undefined) {
        this.counters.errorsSend++;
      }
    });
    if (!below) this.blocked = true;
  }

  private accept(s: net.Socket): void {
    if (this.closing !== undefined) {
      s.destroy();
      return;
    }
    // conntrackd keeps one peer: a new connection replaces the previous one.
    this.peer?.destroy();
    this.peer = s;
    this.rest = new Uint8Array(0);
    if (!this.refed) s.unref();
    if (this.datagramFn === undefined) s.pause(); // bytes wait in the kernel until onDatagram
    const from: DatagramSource = { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
    s.on('data', (chunk: Buffer) => {
      if (this.peer === s) this.onData(chunk, from);
    });
    s.on('error', () => {
      if (this.peer === s) this.counters.errorsRecv++;
    });
    s.on('close', () => {
      if (this.peer !== s) return;
      this.peer = undefined;
      this.rest = new Uint8Array(0);
    });
  }

  private onData(chunk: Uint8Array, from: DatagramSource): void {
    this.counters.packetsRecv++;
    this.counters.bytesRecv += chunk.length;
    let buf = chunk;
    if (this.rest.length > 0) {
      buf = new Uint8Array(this.rest.length + chunk.length);
      buf.set(this.rest, 0);
      buf.set(chunk, this.rest.length);
    }
    const whole = messagePrefix(buf);
    this.rest = whole < buf.length ? buf.slice(whole) : new Uint8Array(0);
    if (whole > 0 && this.datagramFn !== undefined) this.datagramFn(buf.subarray(0, whole), from);
  }

  send(datagram: Uint8Array): void {
    if (this.closing !== undefined) {
      this.counters.errorsSend++;
      this.report(new ErrnoError(constants.errno.EBADF, 'EBADF', 'send', `send on the closed TCP channel on ${this.device}`));
      return;
    }
    const s = this.client;
    if (s !== undefined && this.clientUp && !this.blocked && this.pending.length === 0) {
      this.write(s, datagram);
      return;
    }
    if (s !== undefined && this.clientUp && this.blocked) {
      // conntrackd: EAGAIN on a full send buffer is a send error, and the message waits.
      this.counters.errorsSend++;
      if (!this.blockReported) {
        this.blockReported = true;
        this.reportBlocked();
      }
    }
    this.enqueue(datagram);
  }

  /** The current blocked period was reported (one report per period: reset by 'drain' or a new connection). */
  private blockReported = false;
  private reportBlocked(): void {
    this.report(new ErrnoError(constants.errno.EAGAIN, 'EAGAIN', 'send', `TCP channel on ${this.device}: the peer does not take what is sent (send buffer full): messages wait in the error queue (${this.queueMax} at most, oldest dropped)`));
  }

  onDatagram(fn: (datagram: Uint8Array, from: DatagramSource) => void): void {
    this.datagramFn = fn;
    if (this.peer?.isPaused() === true) this.peer.resume();
  }

  onError(fn: (err: Error) => void): void {
    this.errorFn = fn;
  }

  stats(): LinkStats {
    return { ...this.counters };
  }

  connections(): TcpConnections {
    return { server: this.peer !== undefined, client: this.clientUp };
  }

  /** queued is how many messages wait for the client connection. */
  get queued(): number {
    return this.pending.length;
  }

  get errorQueueDrops(): number {
    return this.drops;
  }

  socketBuffers(): SocketBuffers {
    return { send: this.sndbuf, recv: this.rcvbuf };
  }

  ref(): void {
    this.refed = true;
    this.server.ref();
    this.client?.ref();
    this.peer?.ref();
  }

  unref(): void {
    this.refed = false;
    this.server.unref();
    this.client?.unref();
    this.peer?.unref();
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    this.pending.length = 0;
    this.closing = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.client?.destroy();
      this.peer?.destroy();
    });
    return this.closing;
  }

  private report(err: Error): void {
    this.errorFn?.(err);
  }
}
