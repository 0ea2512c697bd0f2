import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { parseIPv4 } from '../wire/ip.js';
import { Writer } from '../wire/writer.js';
import { decodeBatch, type Datagram } from './batch.js';
import { nativeBinding, NativeUnavailableError, type NativeBinding, type PollHandle, type PollStats } from './binding.js';

export type { Datagram } from './batch.js';
export type { PollStats } from './binding.js';

// Socket-level kernel constants, grouped by prefix as house-style R5 does (`SO.RCVBUFFORCE` is
// SO_RCVBUFFORCE) from include/linux/socket.h, asm-generic/socket.h, uapi/linux/in.h, if_ether.h, sched.h.

/** AF holds the AF_* address families (socket domains). */
export const AF = { UNSPEC: 0, UNIX: 1, INET: 2, INET6: 10, NETLINK: 16, PACKET: 17 } as const;

/** SOCK holds the SOCK_* socket types; the addon always adds SOCK_NONBLOCK|SOCK_CLOEXEC. */
export const SOCK = { STREAM: 1, DGRAM: 2, RAW: 3 } as const;

/** SOL_SOCKET, SOL_IP and SOL_PACKET are socket option levels; SOL_NETLINK lives in netlink/consts.ts. */
export const SOL_SOCKET = 1;
export const SOL_IP = 0;
export const SOL_PACKET = 263;

/** SO holds the SO_* options at level SOL_SOCKET. */
export const SO = {
  ERROR: 4, // int, read-only; reading clears it
  SNDBUF: 7, // bytes; the kernel doubles the value and caps it at net.core.wmem_max
  RCVBUF: 8, // bytes; the kernel doubles the value and caps it at net.core.rmem_max
  BINDTODEVICE: 25, // the interface name as bytes
  SNDBUFFORCE: 32, // SO_SNDBUF without the cap; needs CAP_NET_ADMIN
  RCVBUFFORCE: 33, // SO_RCVBUF without the cap; needs CAP_NET_ADMIN
  TIMESTAMPNS: 35, // int flag; each datagram then carries its arrival time, cmsg SCM_TIMESTAMPNS (same number)
} as const;

/** IP holds the IP_* options at level SOL_IP. */
export const IP = {
  TTL: 2,
  PKTINFO: 8, // int flag; each datagram then carries a struct in_pktinfo cmsg
  MULTICAST_IF: 32,
  MULTICAST_TTL: 33,
  MULTICAST_LOOP: 34,
  ADD_MEMBERSHIP: 35,
} as const;

/** ETH_P holds ETH_P_* link-layer protocols, host order (AF_PACKET socket() wants htons() of them). */
export const ETH_P = { ALL: 0x0003, IP: 0x0800, ARP: 0x0806 } as const;

/** MSG holds the MSG_* bits seen in Datagram.flags (msg_flags). */
export const MSG = {
  CTRUNC: 0x08, // ancillary data was cut (ctrlSize too small)
  TRUNC: 0x20, // the datagram was longer than the slot and was cut
} as const;

/** CLONE_NEWNET is the setns nstype of a network namespace. */
export const CLONE_NEWNET = 0x40000000;

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(constants.errno).map(([name, no]) => [no, name] as const),
);

/**
 * ErrnoError is a failed syscall: a positive `errno`, its symbolic `code` ('EAGAIN', 'ENOBUFS') and
 * the `syscall` that failed. Branch on `code`, never on the message.
 */
export class ErrnoError extends Error {
  override readonly name = 'ErrnoError';
  constructor(
    readonly errno: number,
    readonly code: string,
    readonly syscall: string,
    message?: string,
    options?: ErrorOptions,
  ) {
    super(message ?? `${syscall} failed: ${code}`, options);
  }

  /** fromErrno builds an ErrnoError from a positive errno number. */
  static fromErrno(errno: number, syscall: string): ErrnoError {
    return new ErrnoError(errno, ERRNO_NAMES.get(errno) ?? `E${errno}`, syscall);
  }
}

/**
 * toErrnoError turns an error thrown by the addon or by node:fs (negative errno there) into an
 * ErrnoError; anything else is returned unchanged.
 */
export function toErrnoError(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof ErrnoError) return e;
  const x = e as Error & { errno?: unknown; code?: unknown; syscall?: unknown };
  if (typeof x.errno !== 'number' || typeof x.code !== 'string') return e;
  return new ErrnoError(Math.abs(x.errno), x.code, typeof x.syscall === 'string' ? x.syscall : 'unknown', x.message, {
    cause: e,
  });
}

function sys<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toErrnoError(e);
  }
}

/** htons converts a 16-bit value to network order, as AF_PACKET protocol numbers require. */
export function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

/** netlinkSockaddr is a struct sockaddr_nl: nl_pid 0 lets the kernel pick the port id; groups is the legacy bitmask. */
export function netlinkSockaddr(pid = 0, groups = 0): Uint8Array {
  return new Writer(12).u16ne(AF.NETLINK).u16ne(0).u32ne(pid).u32ne(groups).finish();
}

/** inet4Sockaddr is a struct sockaddr_in for a dotted-quad address and a port (host order in, network order out). */
export function inet4Sockaddr(addr: string, port = 0): Uint8Array {
  const ip = parseIPv4(addr);
  if (ip === undefined) throw new RangeError(`not an IPv4 address: ${addr}`);
  return new Writer(16).u16ne(AF.INET).u16be(port).bytes(ip).zeros(8).finish();
}

/** UNIX_PATH_MAX is the size of sockaddr_un.sun_path (108), the path's terminating NUL included. */
export const UNIX_PATH_MAX = 108;

/**
 * unixSockaddr is a struct sockaddr_un for a filesystem path (no abstract names): the family, the
 * path's UTF-8 bytes and a NUL. Throws RangeError for an empty path, a NUL inside, or more than 107 bytes.
 */
export function unixSockaddr(path: string): Uint8Array {
  const p = Buffer.from(path, 'utf8');
  if (p.length === 0 || p.includes(0) || p.length >= UNIX_PATH_MAX)
    throw new RangeError(`not a usable AF_UNIX socket path (1..${UNIX_PATH_MAX - 1} bytes, no NUL): ${JSON.stringify(path)}`);
  return new Writer(2 + p.length + 1).u16ne(AF.UNIX).bytes(p).u8(0).finish();
}

/**
 * packetSockaddr is a struct sockaddr_ll for AF_PACKET bind/send: `protocol` is the host-order
 * ETH_P_* value (converted here), `addr` the link-layer destination (up to 8 bytes) for sends.
 */
export function packetSockaddr(ifindex: number, protocol: number, addr: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (addr.length > 8) throw new RangeError('sockaddr_ll holds at most 8 address bytes');
  const w = new Writer(20).u16ne(AF.PACKET).u16be(protocol);
  w.u32ne(ifindex >>> 0).u16ne(0).u8(0).u8(addr.length); // sll_hatype, sll_pkttype are filled in by the kernel
  return w.bytes(addr).zeros(8 - addr.length).finish();
}

const NETNS_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * inNetns runs `fn` with the JS thread inside the network namespace /run/netns/<name> and always
 * switches back (via the fd of /proc/thread-self/ns/net taken before), even when fn throws. Sockets
 * created inside stay in that namespace for their whole life. Needs CAP_SYS_ADMIN.
 */
export function inNetns<T>(name: string, fn: () => T): T {
  if (!NETNS_NAME.test(name) || name === '.' || name === '..') throw new RangeError(`bad netns name: ${name}`);
  const b = nativeBinding();
  const target = sys(() => openSync(`/run/netns/${name}`, 'r'));
  let original: number | undefined;
  try {
    original = sys(() => openSync('/proc/thread-self/ns/net', 'r'));
    sys(() => b.setns(target, CLONE_NEWNET));
    try {
      return fn();
    } finally {
      const back = original;
      sys(() => b.setns(back, CLONE_NEWNET));
    }
  } finally {
    closeSync(target);
    if (original !== undefined) closeSync(original);
  }
}

/** ifNameToIndex returns the ifindex of an interface, in the current namespace or in opts.netns. */
export function ifNameToIndex(name: string, opts: { netns?: string } = {}): number {
  const b = nativeBinding();
  const get = (): number => sys(() => b.ifNameToIndex(name));
  return opts.netns === undefined ? get() : inNetns(opts.netns, get);
}

/** ReceiveOptions tune the poller; see NativeSocket.startReceiving for the defaults. */
export interface ReceiveOptions {
  readonly slots?: number; // datagrams per recvmmsg call
  readonly slotSize?: number; // bytes per datagram; longer ones arrive cut, with MSG_TRUNC in flags
  readonly ctrlSize?: number; // bytes of ancillary data per datagram (0: none)
  readonly wantName?: boolean; // return the source sockaddr as Datagram.name
  readonly maxBytesPerCallback?: number; // byte budget per wakeup, so a flood cannot starve timers
  /**
   * Hold-off in ms (0..1000, default 0: none): after a wakeup that read something and emptied the
   * socket, the socket is left alone that long, so that a flood is read in one batch per period
   * instead of a wakeup per few datagrams; the first datagram after a quiet spell is still read at
   * once, and a reader whose byte budget ran out first (it is behind) reads on without a rest.
   */
  readonly holdOffMs?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
// Netlink dumps arrive in skbs of up to 32 KiB of data: a smaller slot would cut messages.
const NETLINK_MIN_SLOT = 32 * KiB;

function checkInt(what: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${what} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

/**
 * NativeSocket owns one non-blocking, close-on-exec socket made by the addon, and at most one
 * receiver (a uv_poll that drains it with recvmmsg). A running receiver keeps the event loop alive
 * until unref() or stopReceiving(); close() stops it and closes the fd.
 */
export class NativeSocket {
  private poller: PollHandle | undefined;
  private lastPoller: PollHandle | undefined;
  private refed = true;
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly domain: number,
    private readonly b: NativeBinding,
  ) {}

  /**
   * open creates a socket (SOCK_NONBLOCK|SOCK_CLOEXEC are always added); with opts.netns it is
   * created inside /run/netns/<netns> and the thread switches back before open returns.
   */
  static open(domain: number, type: number, protocol: number, opts: { netns?: string } = {}): NativeSocket {
    const b = nativeBinding();
    const make = (): number => sys(() => b.socket(domain, type, protocol));
    const fd = opts.netns === undefined ? make() : inNetns(opts.netns, make);
    return new NativeSocket(fd, domain, b);
  }

  /** receiving is true while a receiver is running (it stops itself after an unrecoverable error). */
  get receiving(): boolean {
    return this.poller !== undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private live(syscall: string): number {
    if (this.closed) throw new ErrnoError(constants.errno.EBADF, 'EBADF', syscall, `${syscall}: the socket is closed`);
    return this.fd;
  }

  bind(sockaddr: Uint8Array): void {
    const fd = this.live('bind');
    sys(() => this.b.bind(fd, sockaddr));
  }

  getsockname(): Uint8Array {
    const fd = this.live('getsockname');
    return sys(() => this.b.getsockname(fd));
  }

  setsockoptInt(level: number, name: number, value: number): void {
    const fd = this.live('setsockopt');
    checkInt('option value', value, -0x80000000, 0x7fffffff);
    sys(() => this.b.setsockopt(fd, level, name, value));
  }

  setsockoptBuf(level: number, name: number, value: Uint8Array): void {
    const fd = this.live('setsockopt');
    sys(() => this.b.setsockopt(fd, level, name, value));
  }

  /** attachFilter is SO_ATTACH_FILTER: `program` is struct sock_filter[] in host order (netlink/sock-filter.ts). */
  attachFilter(program: Uint8Array): void {
    const fd = this.live('attachFilter');
    const fn = this.b.attachFilter;
    if (fn === undefined) throw new NativeUnavailableError("keepstate's native addon predates attachFilter: run `npm install` (scripts/build-native.mjs) to rebuild it.");
    sys(() => fn(fd, program));
  }

  getsockoptInt(level: number, name: number): number {
    const fd = this.live('getsockopt');
    return sys(() => this.b.getsockopt(fd, level, name));
  }

  /** getsockoptBuf reads an option of up to `len` bytes; the result is as long as the kernel wrote. */
  getsockoptBuf(level: number, name: number, len: number): Uint8Array {
    const fd = this.live('getsockopt');
    checkInt('option length', len, 0, 65532);
    return sys(() => this.b.getsockopt(fd, level, name, len));
  }

  /**
   * send writes one datagram gathered from `data` (one sendmsg; several buffers become an iovec)
   * to `dest`, or to the connected/default peer. It never blocks: a full send buffer throws
   * ErrnoError EAGAIN. Returns the bytes sent.
   */
  send(data: Uint8Array | readonly Uint8Array[], dest?: Uint8Array, flags = 0): number {
    const fd = this.live('sendmsg');
    try {
      return this.b.sendto(fd, data, dest ?? null, flags);
    } catch (e) {
      throw toErrnoError(e);
    }
  }

  /** recvSync reads one queued datagram of up to `size` bytes (cut beyond), or returns null when none is queued. */
  recvSync(size: number): Uint8Array | null {
    const fd = this.live('recv');
    checkInt('recv size', size, 1, 16 * MiB);
    return sys(() => this.b.recv(fd, size));
  }

  /**
   * startReceiving polls the socket and calls onBatch once per wakeup with every datagram read
   * (views into one Buffer). Defaults: netlink 64 slots of 64 KiB, other sockets 16 slots of
   * 64 KiB; no ancillary data, no names, 4 MiB per callback. Errors arrive at onError: ENOBUFS
   * (receive queue overrun; resync) and other socket errors leave the receiver running; an error a
   * retry cannot clear (EBADF, EINVAL, ENOTCONN; EIO for an EPOLLERR that SO_ERROR does not
   * explain, e.g. a non-empty error queue) stops it, and `receiving` turns false.
   */
  startReceiving(
    opts: ReceiveOptions,
    onBatch: (datagrams: Datagram[]) => void,
    onError: (err: ErrnoError) => void,
    onRawBatch?: (batch: Uint8Array, count: number) => void,
  ): void {
    const fd = this.live('pollStart');
    if (this.poller !== undefined) throw new Error('startReceiving: this socket already has a receiver');
    const netlink = this.domain === AF.NETLINK;
    const slots = checkInt('slots', opts.slots ?? (netlink ? 64 : 16), 1, 1024);
    const slotSize = checkInt('slotSize', opts.slotSize ?? 64 * KiB, netlink ? NETLINK_MIN_SLOT : 1, 16 * MiB);
    const ctrlSize = checkInt('ctrlSize', opts.ctrlSize ?? 0, 0, 65532);
    const maxBytes = checkInt('maxBytesPerCallback', opts.maxBytesPerCallback ?? 4 * MiB, 1, Number.MAX_SAFE_INTEGER);
    const holdMs = checkInt('holdOffMs', opts.holdOffMs ?? 0, 0, 1000);
    const handle = sys(() =>
      this.b.pollStart(fd, slots, slotSize, ctrlSize, opts.wantName === true, maxBytes, (errno, batch, count) => {
        if (errno === 0 && batch !== null) {
          if (onRawBatch !== undefined) onRawBatch(batch, count);
          else onBatch(decodeBatch(batch, count));
          return;
        }
        if (count < 0 && this.poller === handle) this.poller = undefined; // stopped itself
        onError(ErrnoError.fromErrno(errno, 'recvmmsg'));
      }, holdMs),
    );
    this.poller = handle;
    this.lastPoller = handle;
    if (!this.refed) this.b.pollRef(handle, false);
  }

  /**
   * startReceivingBatches is startReceiving for consumers that walk the addon's packed batch
   * themselves (forEachDatagram), so that a flood of small datagrams costs no object each.
   */
  startReceivingBatches(opts: ReceiveOptions, onBatch: (batch: Uint8Array, count: number) => void, onError: (err: ErrnoError) => void): void {
    this.startReceiving(opts, () => undefined, onError, onBatch);
  }

  /** stopReceiving stops the receiver (safe inside onBatch/onError); no callback runs afterwards. */
  stopReceiving(): void {
    const h = this.poller;
    if (h === undefined) return;
    this.poller = undefined;
    this.b.pollStop(h);
  }

  /** ref makes a running (or later started) receiver keep the event loop alive; the default. */
  ref(): this {
    this.refed = true;
    if (this.poller !== undefined) this.b.pollRef(this.poller, true);
    return this;
  }

  /** unref lets the process exit even though the receiver is running. */
  unref(): this {
    this.refed = false;
    if (this.poller !== undefined) this.b.pollRef(this.poller, false);
    return this;
  }

  /** stats returns the counters of the current or most recent receiver (zeros if none was started). */
  stats(): PollStats {
    if (this.lastPoller === undefined) return { wakeups: 0, recvmmsgCalls: 0, datagrams: 0, bytes: 0, enobufs: 0 };
    return this.b.pollStats(this.lastPoller);
  }

  /** close stops the receiver, then closes the fd. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.stopReceiving();
    this.closed = true;
    sys(() => this.b.close(this.fd));
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
