import type { GeneralSettings } from '../config/conntrackd/types.js';
import { fileLogger, teeLogger, type Logger } from './log.js';
import { SyslogSender, syslogLogger, type SyslogStats } from './syslog.js';

/** DaemonLog is where the running daemon logs: LogFile (or stderr) and, with Syslog set, syslog. */
export interface DaemonLog {
  readonly log: Logger;
  readonly syslog: SyslogStats | undefined; // undefined: Syslog off
  /** close reports lines syslog lost (to the file log) and closes the syslog socket. */
  close(): void;
}

/**
 * openDaemonLog opens the daemon's log as conntrackd's init_log does: lines go to the LogFile and,
 * when General has Syslog on or a facility, to syslog too (every line, at its own severity). A
 * syslog that cannot be reached is reported once, in the file log, and never stops the daemon.
 * `syslogPath` replaces /dev/log (tests; systems whose syslog socket lives elsewhere).
 */
export function openDaemonLog(
  general: Pick<GeneralSettings, 'logFile' | 'syslogFacility'>,
  opts: { readonly syslogPath?: string | undefined; readonly debug?: boolean } = {},
): DaemonLog {
  const debug = opts.debug === true ? { debug: true } : {};
  const file = fileLogger(general.logFile, debug);
  if (general.syslogFacility === undefined) return { log: file, syslog: undefined, close: () => undefined };
  const sender = new SyslogSender({
    facility: general.syslogFacility,
    ...(opts.syslogPath !== undefined ? { path: opts.syslogPath } : {}),
    onFirstFailure: (reason) => file.log('warning', reason),
  });
  return {
    log: teeLogger(file, syslogLogger(sender, debug)),
    get syslog() {
      return sender.stats;
    },
    close() {
      const s = sender.stats;
      if (s.failed > 0)
        file.log('notice', `syslog: ${s.failed} of ${s.sent + s.failed} lines could not be sent to ${sender.path} (last error ${s.lastError ?? 'unknown'})`);
      sender.close();
    },
  };
}
