import { AF, ErrnoError, NativeSocket, SOCK, unixSockaddr } from '../native/socket.js';
import { DecodeError } from '../wire/decode-error.js';
import { Writer } from '../wire/writer.js';
import type { Logger } from './log.js';

/**
 * systemd's readiness protocol, as conntrackd 1.4.7 uses it through libsystemd when General has
 * `Systemd on` (its default): with $NOTIFY_SOCKET set, the daemon sends "READY=1" once it is
 * initialised, "WATCHDOG=1" every half of $WATCHDOG_USEC, "STOPPING=1" when it shuts down, and
 * with -d the parent sends "MAINPID=<daemon pid>" before it exits. A message is one datagram of
 * newline-separated KEY=VALUE assignments to an AF_UNIX datagram socket: a filesystem path, or an
 * abstract name written with a leading '@'. As with sd_notify(3), nothing here ever stops the
 * daemon: without $NOTIFY_SOCKET nothing is sent, and a send that fails is reported once, in the log.
 * The codec is pure; SdNotifier is the I/O edge.
 */

/** NotifyState is one assignment of a notification ("READY=1", "MAINPID=42"). */
export type NotifyState = readonly [key: string, value: string];

const KEY = /^[A-Z0-9_]+$/;

/** encodeNotifyMessage builds the datagram sd_notify sends for `states`: "KEY=VALUE" lines joined by "\n", UTF-8. */
export function encodeNotifyMessage(states: readonly NotifyState[]): Uint8Array {
  if (states.length === 0) throw new RangeError('a notification needs at least one assignment');
  for (const [k, v] of states) {
    if (!KEY.test(k)) throw new RangeError(`notification key must be [A-Z0-9_]+, got ${JSON.stringify(k)}`);
    if (v.includes('\n')) throw new RangeError(`notification value for ${k} has a line feed`);
  }
  return Buffer.from(states.map(([k, v]) => `${k}=${v}`).join('\n'), 'utf8');
}

/** decodeNotifyMessage reads a datagram in encodeNotifyMessage's form (a trailing newline and empty lines allowed, as systemd allows them). */
export function decodeNotifyMessage(b: Uint8Array): NotifyState[] {
  const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  const out: NotifyState[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    if (line !== '') {
      const eq = line.indexOf('=');
      if (eq <= 0 || !KEY.test(line.slice(0, eq))) throw new DecodeError('BAD_VALUE', ['sd_notify'], offset, `not KEY=VALUE: ${JSON.stringify(line.slice(0, 60))}`);
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
    offset += Buffer.byteLength(line) + 1;
  }
  return out;
}

/**
 * notifySockaddr is the struct sockaddr_un for $NOTIFY_SOCKET: an absolute path (NUL-terminated),
 * or '@name' for the abstract name "\0name" (its length is exact, no NUL after it). Anything else
 * is a RangeError, as sd_notify refuses it (-EINVAL).
 */
export function notifySockaddr(socket: string): Uint8Array {
  if (socket.startsWith('/')) return unixSockaddr(socket);
  if (socket.startsWith('@') && socket.length > 1) {
    const name = Buffer.from(socket.slice(1), 'utf8');
    if (name.length > 107) throw new RangeError(`abstract socket name longer than 107 bytes: ${JSON.stringify(socket)}`);
    return new Writer(3 + name.length).u16ne(AF.UNIX).u8(0).bytes(name).finish();
  }
  throw new RangeError(`NOTIFY_SOCKET must be an absolute path or an @abstract name, got ${JSON.stringify(socket)}`);
}

/**
 * WatchdogSetting is what sd_watchdog_enabled(3) concludes from the environment: off, on with the
 * interval to ping at (half of WATCHDOG_USEC, as conntrackd and the man page do), or invalid.
 */
export type WatchdogSetting = { readonly kind: 'off' } | { readonly kind: 'on'; readonly pingEveryMs: number } | { readonly kind: 'invalid'; readonly reason: string };

/**
 * watchdogSetting reads WATCHDOG_USEC and WATCHDOG_PID as sd_watchdog_enabled does for process
 * `pid`: no WATCHDOG_USEC is off; a WATCHDOG_PID naming another process is off (the watchdog is
 * someone else's); a value that is not a positive integer is invalid. Pure.
 */
export function watchdogSetting(env: Readonly<Record<string, string | undefined>>, pid: number): WatchdogSetting {
  const usec = env.WATCHDOG_USEC;
  if (usec === undefined) return { kind: 'off' };
  if (!/^\d+$/.test(usec) || Number(usec) === 0) return { kind: 'invalid', reason: `WATCHDOG_USEC=${JSON.stringify(usec)} is not a positive number of microseconds` };
  const wpid = env.WATCHDOG_PID;
  if (wpid !== undefined) {
    if (!/^\d+$/.test(wpid) || Number(wpid) === 0) return { kind: 'invalid', reason: `WATCHDOG_PID=${JSON.stringify(wpid)} is not a process id` };
    if (Number(wpid) !== pid) return { kind: 'off' };
  }
  // The whole interval in µs may exceed what a timer takes (2^31-1 ms ≈ 24.8 days): cap it there.
  return { kind: 'on', pingEveryMs: Math.max(1, Math.min(2 ** 31 - 1, Math.floor(Number(usec) / 2000))) };
}

const reasonOf = (e: unknown): string => (e instanceof ErrnoError ? e.code : e instanceof Error ? e.message : String(e));

/**
 * SdNotifier sends notifications to $NOTIFY_SOCKET from one non-blocking, unconnected AF_UNIX
 * datagram socket, and pings the watchdog. It never throws: the first failure is logged as a
 * warning, later ones are counted (a service manager that is gone must not stop replication).
 */
export class SdNotifier {
  private socket: NativeSocket | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private sentCount = 0;
  private failedCount = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly dest: Uint8Array | RangeError,
    private readonly log: Logger,
  ) {}

  /**
   * fromEnv is the notifier for this process: undefined when `enabled` is false (`Systemd off`) or
   * $NOTIFY_SOCKET is unset or empty — then the daemon sends nothing, as conntrackd.
   */
  static fromEnv(env: Readonly<Record<string, string | undefined>>, enabled: boolean, log: Logger): SdNotifier | undefined {
    const path = env.NOTIFY_SOCKET;
    if (!enabled || path === undefined || path === '') return undefined;
    let dest: Uint8Array | RangeError;
    try {
      dest = notifySockaddr(path);
    } catch (e) {
      dest = e instanceof RangeError ? e : new RangeError(String(e));
    }
    return new SdNotifier(path, dest, log);
  }

  get stats(): { readonly sent: number; readonly failed: number } {
    return { sent: this.sentCount, failed: this.failedCount };
  }

  /** notify sends one message; returns whether it left. Never throws. */
  notify(...states: readonly NotifyState[]): boolean {
    if (this.closed) return false;
    try {
      if (this.dest instanceof RangeError) throw this.dest;
      this.socket ??= NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
      this.socket.send(encodeNotifyMessage(states), this.dest);
      this.sentCount++;
      return true;
    } catch (e) {
      this.failedCount++;
      if (this.failedCount === 1) this.log.log('warning', `systemd: can't notify ${this.path} (${reasonOf(e)}); further failures are not reported`);
      return false;
    }
  }

  /**
   * startWatchdog pings WATCHDOG=1 at the interval `setting` gives (conntrackd: half of
   * WATCHDOG_USEC); an invalid setting is logged as conntrackd logs it, and nothing is pinged.
   */
  startWatchdog(setting: WatchdogSetting): void {
    if (this.closed || this.watchdog !== undefined) return;
    if (setting.kind === 'invalid') this.log.log('warning', `failed to get watchdog details from systemd: ${setting.reason}`);
    if (setting.kind !== 'on') return;
    this.watchdog = setInterval(() => void this.notify(['WATCHDOG', '1']), setting.pingEveryMs);
    this.watchdog.unref(); // the daemon's own sockets keep it alive, not the watchdog
  }

  /**
   * stopping says STOPPING=1, after stopping the watchdog: no WATCHDOG=1 may follow it (a ping
   * during the cleanup would tell systemd the service is fine again).
   */
  stopping(): boolean {
    clearInterval(this.watchdog);
    return this.notify(['STOPPING', '1']);
  }

  /** close stops the watchdog and closes the socket; later notifications are dropped. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    try {
      this.socket?.close();
    } catch {
      // the fd is gone either way
    }
    this.socket = undefined;
  }
}
