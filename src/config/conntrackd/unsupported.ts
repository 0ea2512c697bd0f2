import { compareDiagnostics, type ConfigError, type SourceLoc } from '../error.js';
import type { ConntrackdConfig } from './types.js';

/**
 * What keepstate's daemon does not implement yet, as one table that shrinks as features land. Each row
 * names a keyword (as the user wrote it) and finds where a configuration asks for it. Settings that
 * merely restate the default (`DisableExternalCache off`, `ExpectationSync off`, …) ask for nothing and
 * are not listed. The contents of an unsupported block (Helper) are covered by the
 * block's row; options that are features of their own (DisableInternalCache, StartupResync, …) are
 * listed even inside an unsupported Mode block, so they stay listed when that mode lands.
 *
 * Supported today: General (UNIX, LockFile, LogFile, Syslog, HashSize, HashLimit, the Netlink* options,
 * EventIterationLimit, PollSecs, Scheduler, Filter, Systemd; Nice is accepted and ignored with a warning, as conntrackd
 * 1.4.7 does), Sync with Mode FTFW (ResendQueueSize, ACKWindowSize, CommitTimeout, PurgeTimeout, StartupResync,
 * DisableExternalCache), Mode NOTRACK (the same without the FTFW options; DisableInternalCache) or Mode ALARM
 * (RefreshTime, CacheTimeout, CommitTimeout, PurgeTimeout) over UDP, Multicast or TCP links (up to 4: redundant links), IPv4 and IPv6;
 * Sync Options (ExpectationSync; TCPWindowTracking: window scale factors sent, and committed TCP
 * entries without BE_LIBERAL); Stats (LogFile, Syslog: flow logging).
 */
interface Unsupported {
  readonly keyword: string;
  readonly find: (c: ConntrackdConfig) => readonly (SourceLoc | undefined)[];
}

/** NOT_YET_SUPPORTED is the table; the order is irrelevant (results are sorted by position). */
export const NOT_YET_SUPPORTED: readonly Unsupported[] = [
  { keyword: 'Helper', find: (c) => [c.helper?.loc] },
];

/**
 * unsupportedFeatures lists, in file order, every place where `config` asks for something keepstate's
 * daemon cannot do yet, as "not supported yet: <keyword>" errors. Pure: the caller decides whether to
 * refuse to start.
 */
export function unsupportedFeatures(config: ConntrackdConfig): ConfigError[] {
  const out: ConfigError[] = [];
  for (const row of NOT_YET_SUPPORTED)
    for (const loc of row.find(config))
      if (loc !== undefined) out.push({ ...loc, code: 'CFG_UNSUPPORTED', message: `not supported yet: ${row.keyword}` });
  return out.sort(compareDiagnostics);
}
