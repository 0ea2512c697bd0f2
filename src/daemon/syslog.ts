import type { SyslogFacility } from '../config/conntrackd/types.js';
import { AF, ErrnoError, NativeSocket, SOCK, unixSockaddr } from '../native/socket.js';
import { DecodeError } from '../wire/decode-error.js';
import type { LogLevel, Logger } from './log.js';

/**
 * Syslog the way conntrackd 1.4.7 does it: with `Syslog on|<facility>` in General, every line it
 * logs once its log is open also goes to syslog(3), which glibc sends as one datagram per line to
 * the AF_UNIX socket /dev/log (openlog with LOG_PID, no LOG_CONS: lines nobody receives are lost).
 * Node has no AF_UNIX datagram socket, so keepstate sends the same datagrams through its addon.
 * The codec is pure; SyslogSender is the I/O edge and never throws: a missing /dev/log or a full
 * receiver is counted and reported once (logging must never stop replication).
 *
 * For the later Stats mode: conntrackd logs destroyed flows to syslog at LOG_INFO only when Stats
 * has Syslog set, with General's facility — or LOG_USER when General's Syslog is off (openlog gets
 * -1, which glibc ignores).
 */

/** LOG_FACILITY holds the facility codes of <syslog.h> (LOG_DAEMON is 3 << 3, LOG_LOCAL0 16 << 3 ...), unshifted. */
export const LOG_FACILITY = {
  daemon: 3,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const satisfies Record<SyslogFacility, number>;

/** LOG_USER is <syslog.h>'s LOG_USER (1 << 3), unshifted: the facility glibc uses when openlog was given none. */
export const LOG_USER = 1;

/** LOG_SEVERITY maps keepstate's levels to <syslog.h> severities (LOG_ERR 3 ... LOG_DEBUG 7), as conntrackd's dlog passes them. */
export const LOG_SEVERITY = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const satisfies Record<LogLevel, number>;

/** SYSLOG_PATH is where glibc's syslog(3) sends (_PATH_LOG). */
export const SYSLOG_PATH = '/dev/log';

/** SYSLOG_IDENT is keepstated's openlog ident (conntrackd's is its package name, "conntrack-tools"). */
export const SYSLOG_IDENT = 'keepstated';

/** SyslogMessage is one syslog(3) line before encoding. */
export interface SyslogMessage {
  readonly facility: number; // unshifted facility code, 0..23 (LOG_FACILITY)
  readonly severity: number; // 0..7 (LOG_SEVERITY)
  readonly time: Date; // written in local time, to the second
  readonly ident: string;
  readonly pid: number; // LOG_PID
  readonly message: string;
}

/** SyslogRecord is a decoded datagram; the timestamp stays text (it has no year). */
export interface SyslogRecord {
  readonly facility: number;
  readonly severity: number;
  readonly timestamp: string; // "Nov  1 09:05:07"
  readonly ident: string;
  readonly pid: number;
  readonly message: string;
}

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const two = (n: number): string => String(n).padStart(2, '0');

/** formatSyslogTimestamp is strftime's "%h %e %T" in the C locale, local time: "Nov  1 09:05:07". */
export function formatSyslogTimestamp(d: Date): string {
  return `${MON[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * encodeSyslogMessage builds the datagram glibc 2.36's syslog(3) sends to /dev/log for a process
 * that called openlog(ident, LOG_PID, facility): "<PRI>Mmm dd hh:mm:ss ident[pid]: message", PRI =
 * facility * 8 + severity, UTF-8, with no trailing newline or NUL (those are only added for stream
 * sockets and the console). The message is sent as it is, line feeds included.
 */
export function encodeSyslogMessage(m: SyslogMessage): Uint8Array {
  if (!Number.isInteger(m.facility) || m.facility < 0 || m.facility > 23) throw new RangeError(`syslog facility must be 0..23, got ${m.facility}`);
  if (!Number.isInteger(m.severity) || m.severity < 0 || m.severity > 7) throw new RangeError(`syslog severity must be 0..7, got ${m.severity}`);
  const pri = m.facility * 8 + m.severity;
  return Buffer.from(`<${pri}>${formatSyslogTimestamp(m.time)} ${m.ident}[${m.pid}]: ${m.message}`, 'utf8');
}

// The ident is whatever precedes the last "[digits]: " of the header; glibc writes it unescaped.
const RECORD = /^<(\d{1,3})>([A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) ([^\s[]*)\[(\d+)\]: /;

/** decodeSyslogMessage reads a datagram in encodeSyslogMessage's form; anything else is a DecodeError. */
export function decodeSyslogMessage(b: Uint8Array): SyslogRecord {
  const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  const m = RECORD.exec(text);
  if (m === null) throw new DecodeError('BAD_VALUE', ['syslog'], 0, `not "<PRI>Mmm dd hh:mm:ss ident[pid]: ": ${JSON.stringify(text.slice(0, 60))}`);
  const [head, pri, timestamp, ident, pid] = m as unknown as [string, string, string, string, string];
  const p = Number(pri);
  if (p > 191) throw new DecodeError('BAD_VALUE', ['syslog', 'pri'], 1, `PRI ${p} is above 191`);
  return { facility: p >> 3, severity: p & 7, timestamp, ident, pid: Number(pid), message: text.slice(head.length) };
}

/** SyslogStats counts what a SyslogSender did. */
export interface SyslogStats {
  readonly sent: number;
  readonly failed: number; // lines lost: no socket, no receiver, receiver full (EAGAIN), too long
  readonly lastError: string | undefined; // code of the last failure ('ENOENT', 'EAGAIN', ...)
}

/** SyslogSenderOptions configure a SyslogSender. */
export interface SyslogSenderOptions {
  /** facility: a configurable one, or 'user' (LOG_USER, glibc's default: Stats mode's flow lines when General has no Syslog). */
  readonly facility: SyslogFacility | 'user';
  readonly path?: string; // default SYSLOG_PATH
  readonly ident?: string; // default SYSLOG_IDENT
  readonly pid?: number; // default process.pid
  readonly now?: () => Date;
  // Called once, at the first line that could not be sent, with a sentence saying why.
  readonly onFirstFailure?: (reason: string) => void;
}

function sockaddrOrError(path: string): Uint8Array | RangeError {
  try {
    return unixSockaddr(path);
  } catch (e) {
    return e instanceof RangeError ? e : new RangeError(String(e));
  }
}

const reasonOf = (e: unknown): string => (e instanceof ErrnoError ? e.code : e instanceof Error ? e.message : String(e));

/**
 * SyslogSender sends log lines as syslog datagrams from one non-blocking, unconnected AF_UNIX
 * socket, addressing each to the path — so a syslog daemon that starts (or restarts) later simply
 * starts receiving, as with glibc, which reconnects for every line while /dev/log is unreachable.
 * Unlike glibc, it never blocks: a receiver whose queue is full loses the line (counted).
 */
export class SyslogSender {
  private socket: NativeSocket | undefined;
  private readonly dest: Uint8Array | RangeError; // an impossible path fails every send, never the constructor
  private readonly facility: number;
  private readonly ident: string;
  private readonly pid: number;
  private readonly now: () => Date;
  private sent = 0;
  private failed = 0;
  private lastError: string | undefined;
  private closed = false;

  constructor(private readonly opts: SyslogSenderOptions) {
    this.dest = sockaddrOrError(opts.path ?? SYSLOG_PATH);
    this.facility = opts.facility === 'user' ? LOG_USER : LOG_FACILITY[opts.facility];
    this.ident = opts.ident ?? SYSLOG_IDENT;
    this.pid = opts.pid ?? process.pid;
    this.now = opts.now ?? ((): Date => new Date());
  }

  /** path is where the datagrams go. */
  get path(): string {
    return this.opts.path ?? SYSLOG_PATH;
  }

  get stats(): SyslogStats {
    return { sent: this.sent, failed: this.failed, lastError: this.lastError };
  }

  /** send logs one line at `level`; returns whether the datagram left. Never throws. */
  send(level: LogLevel, message: string): boolean {
    if (this.closed) return false;
    const data = encodeSyslogMessage({ facility: this.facility, severity: LOG_SEVERITY[level], time: this.now(), ident: this.ident, pid: this.pid, message });
    try {
      if (this.dest instanceof RangeError) throw this.dest;
      this.socket ??= NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
      this.socket.send(data, this.dest);
      this.sent++;
      return true;
    } catch (e) {
      this.failed++;
      this.lastError = reasonOf(e);
      if (this.failed === 1)
        this.opts.onFirstFailure?.(
          `syslog: can't send to ${this.path} (${this.lastError}${this.lastError === 'ENOENT' || this.lastError === 'ECONNREFUSED' ? ': no syslog daemon listening' : ''}); lines that cannot be sent to syslog are lost and counted, without further warnings`,
        );
      return false;
    }
  }

  /** close closes the socket; later sends are dropped without counting. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.socket?.close();
    } catch {
      // the fd is gone either way
    }
    this.socket = undefined;
  }
}

/** syslogLogger is a Logger over a SyslogSender; debug lines only with opts.debug, as fileLogger. */
export function syslogLogger(sender: SyslogSender, opts: { debug?: boolean } = {}): Logger {
  return {
    log(level, message) {
      if (level === 'debug' && opts.debug !== true) return;
      sender.send(level, message);
    },
  };
}
