import { appendFileSync } from 'node:fs';

/** LogLevel: conntrackd's levels; `error` is printed as ERROR, as conntrackd does (§4.6). */
export type LogLevel = 'notice' | 'info' | 'warning' | 'error' | 'debug';

/** Logger is the port every daemon part logs through. */
export interface Logger {
  log(level: LogLevel, message: string): void;
}

const WDAY = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** logLine formats a line as conntrackd does: "[Sat Nov 21 12:00:00 2026] (pid=42) [notice] message". */
export function logLine(level: LogLevel, message: string, now: Date, pid: number): string {
  const d = now;
  const stamp = `${WDAY[d.getDay()]} ${MON[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
  return `[${stamp}] (pid=${pid}) [${level === 'error' ? 'ERROR' : level}] ${message}\n`;
}

/**
 * fileLogger writes to a log file (LogFile), or to stderr when there is none. Write failures are
 * swallowed: logging must never stop replication. `reopen` is what SIGHUP calls after rotation
 * (appendFileSync opens the file on every line, so a rotated file is simply recreated).
 */
export function fileLogger(path: string | undefined, opts: { debug?: boolean } = {}): Logger {
  return {
    log(level, message) {
      if (level === 'debug' && opts.debug !== true) return;
      const line = logLine(level, message, new Date(), process.pid);
      try {
        if (path === undefined) process.stderr.write(line);
        else appendFileSync(path, line);
      } catch {
        // nowhere left to report to
      }
    },
  };
}

/** teeLogger hands every line to each of `loggers`, in order (LogFile and syslog, as conntrackd's dlog). */
export function teeLogger(...loggers: readonly Logger[]): Logger {
  return {
    log(level, message) {
      for (const l of loggers) l.log(level, message);
    },
  };
}
