import { appendFileSync } from 'node:fs';
import { ctime, formatConntrack, MSG, NO_FLAGS } from '../cli/conntrack/format.js';
import type { SyslogFacility } from '../config/conntrackd/types.js';
import type { Conntrack } from '../ctnetlink/types.js';
import { SyslogSender } from './syslog.js';

/**
 * Stats mode's flow log: one line per destroyed flow, as conntrackd 1.4.7's dlog_ct (log.c) writes
 * it to the Stats LogFile — ctime(3) of the moment the DESTROY event is handled, a tab, then
 * libnetfilter_conntrack's default text of the event's attributes (no message-type prefix, no
 * id, no timeout; counters only when the kernel has nf_conntrack_acct=1, delta-time only with
 * nf_conntrack_timestamp=1): e.g.
 *   "Sat Nov 21 14:17:10 2026\tudp      17 src=… packets=1 bytes=32 src=… delta-time=2\n".
 * With Stats Syslog set, the same text without the date goes to syslog at LOG_INFO.
 */

/** conntrackd builds the line in a 1024-byte buffer: longer text is cut to 1023 bytes, and then loses its newline. */
const LINE_MAX = 1023;

/** FlowLogLine is one destroyed flow as the LogFile gets it (`file`) and as syslog gets it (`syslog`). */
export interface FlowLogLine {
  readonly file: string;
  readonly syslog: string;
}

/**
 * formatFlowLogLine formats a destroyed flow at `nowSec` (time(NULL), local time zone).
 * `hasLogFile` says whether a Stats LogFile is open: conntrackd then also sends the line's final
 * newline to syslog (it builds both from one buffer).
 */
export function formatFlowLogLine(ct: Conntrack, nowSec: number, hasLogFile = true): FlowLogLine {
  const stamp = ctime(nowSec) + '\t';
  let text = formatConntrack(ct, MSG.UNKNOWN, NO_FLAGS, undefined, nowSec);
  // The buffer holds bytes; the text is ASCII except for a secctx, which is rare enough to measure as characters.
  if (stamp.length + text.length > LINE_MAX) text = text.slice(0, LINE_MAX - stamp.length);
  const nl = stamp.length + text.length < LINE_MAX ? '\n' : '';
  return { file: stamp + text + nl, syslog: hasLogFile ? text + nl : text };
}

/** FlowLogStats counts the flow log's output. */
export interface FlowLogStats {
  readonly lines: number;
  readonly fileErrors: number;
}

/**
 * FlowLog is the I/O edge that writes flow lines: to the Stats LogFile (appended line by line, so
 * a rotated file is simply recreated) and/or to syslog at LOG_INFO with General's facility, or
 * LOG_USER when General has no Syslog (conntrackd's openlog gets -1, which glibc ignores). It
 * never throws: a line that cannot be written is counted, and the first failure is reported.
 */
export class FlowLog {
  private readonly sender: SyslogSender | undefined;
  private lines = 0;
  private fileErrors = 0;

  constructor(
    private readonly path: string | undefined,
    syslog: { readonly enabled: boolean; readonly generalFacility: SyslogFacility | undefined; readonly socketPath?: string | undefined },
    private readonly onFirstFailure: (reason: string) => void,
  ) {
    this.sender = syslog.enabled
      ? new SyslogSender({ facility: syslog.generalFacility ?? 'user', ...(syslog.socketPath !== undefined ? { path: syslog.socketPath } : {}), onFirstFailure })
      : undefined;
  }

  get stats(): FlowLogStats {
    return { lines: this.lines, fileErrors: this.fileErrors };
  }

  /** write logs one destroyed flow at `now`. */
  write(ct: Conntrack, now: Date): void {
    const line = formatFlowLogLine(ct, Math.floor(now.getTime() / 1000), this.path !== undefined);
    this.lines++;
    if (this.path !== undefined) {
      try {
        appendFileSync(this.path, line.file);
      } catch (e) {
        if (++this.fileErrors === 1) this.onFirstFailure(`can't write the stats log \`${this.path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
    this.sender?.send('info', line.syslog);
  }

  close(): void {
    this.sender?.close();
  }
}
