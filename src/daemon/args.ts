import { KEEPSTATE_VERSION } from '../cli/version.js';
import { CTL } from '../control/codes.js';

/**
 * keepstated's command line, parsed exactly as conntrackd 1.4.7's main() does
 * (conntrackd-protocol.md §4.3), so scripts written for conntrackd (keepalived notify scripts,
 * primary-backup.sh) behave the same:
 *
 * - Each argument is classified by its second character only: the leading '-' is not checked and
 *   flags do not combine (`-sB` is `-s`, `xs` is `-s`). An argument shorter than two characters
 *   is an unknown option.
 * - Optional sub-arguments come from the next argument when it does not start with '-' and are
 *   prefixes of a keyword, tried in conntrackd's order (`-s c` is cache, `-s r` runtime, `-i ""`
 *   ct). An unmatched one after -c/-i/-e/-F/-R is left for the next round (usually "Unknown
 *   option", but `-i ee` is `-e`); after -f/-s it is an error.
 * - `-x` turns a preceding -i/-e into its XML variant; anywhere else (or twice) it is "Invalid
 *   parameters".
 * - `-d` and any client option together are "Invalid parameters". Two client actions are not: the
 *   last one wins (`-s -i` dumps the internal cache; §4.3 says otherwise, the binary disagrees).
 * - `-C` without a file prints the usage and an error, then carries on with the default file.
 * - An unknown option prints the usage and the error and exits with status 0 (1.4.7; 1.4.9 exits 1).
 * - `-h` and `-v` act when reached: anything after them is not looked at.
 * - With a client action whose sub-argument was not recognised and nothing after it that sets one
 *   (`-F qC file`), conntrackd sends the request code -1: so does keepstated (the daemon counts it
 *   as unknown).
 *
 * keepstated adds `--json` (a client request's reply as JSON, see control/codes.ts) and
 * `--keepalived FILE` / `--keepalived=FILE` (a daemon option, stored for the daemon; conntrackd
 * would call both an unknown option).
 *
 * The parser has no side effects: messages conntrackd prints while parsing (the `multicast`
 * deprecation warning, a missing -C file) are returned as `notices`, in order, for the caller to
 * print (usage on stdout, then the message as a log line) before acting on the command.
 */

/** DEFAULT_CONFIG_FILE is conntrackd's DEFAULT_CONFIGFILE. */
export const DEFAULT_CONFIG_FILE = '/etc/conntrackd/conntrackd.conf';

/** CONNTRACKD_VERSION is the conntrackd release whose interface keepstated reproduces. */
export const CONNTRACKD_VERSION = '1.4.7';

/** PATH_MAX is the size of conntrackd's config_file buffer (the path is cut to PATH_MAX - 1 bytes). */
const PATH_MAX = 4096;

/**
 * ArgNotice is a message printed while parsing: when `usage` is set the usage text goes to stdout
 * first; the message itself is a log line at `level` (conntrackd's dlog: warning/ERROR on stderr).
 */
export interface ArgNotice {
  readonly level: 'warning' | 'error';
  readonly message: string;
  readonly usage: boolean;
}

/** DEFAULT_SYNC_TIMEOUT_SEC bounds the sync-aware demotion (--sync-timeout). */
export const DEFAULT_SYNC_TIMEOUT_SEC = 60;

/** DaemonCommand is what keepstated was asked to do. */
export type DaemonCommand =
  /** run the daemon; `detach` is -d (fork into the background), otherwise console mode. */
  | {
      readonly kind: 'daemon';
      readonly config: string;
      readonly detach: boolean;
      /** keepalived: --keepalived FILE, the VRRP instances the failover manager runs. */
      readonly keepalived: string | undefined;
      /** --sync-timeout SEC: how long an incomplete copy of the state keeps the node demoted (default 60). */
      readonly syncTimeoutSec: number;
      /** false with --no-warm-up: no run of the hot paths over made-up entries at start (warm-up.ts). */
      readonly warmUp: boolean;
      readonly notices: readonly ArgNotice[];
    }
  /** send one request to the running daemon; `code` is a CTL code, or -1 as conntrackd sends it in one corner case. */
  | { readonly kind: 'request'; readonly config: string; readonly code: number; readonly json: boolean; readonly notices: readonly ArgNotice[] }
  /** print formatVersion() and exit 0. */
  | { readonly kind: 'version'; readonly notices: readonly ArgNotice[] }
  /** print formatUsage() on stdout and exit 0. */
  | { readonly kind: 'help'; readonly notices: readonly ArgNotice[] }
  /** print the usage on stdout if `usageOnStdout`, log `message` as an error, exit with `status`. */
  | {
      readonly kind: 'error';
      readonly message: string;
      readonly status: 0 | 1;
      readonly usageOnStdout: boolean;
      readonly notices: readonly ArgNotice[];
    };

/** STATS_VIEWS are `-s`'s sub-arguments in the order conntrackd tries them as prefixes. */
const STATS_VIEWS: readonly (readonly [string, number])[] = [
  ['network', CTL.STATS_NETWORK],
  ['cache', CTL.STATS_CACHE],
  ['runtime', CTL.STATS_RUNTIME],
  ['multicast', CTL.STATS_LINK], // deprecated: warns
  ['link', CTL.STATS_LINK],
  ['rsqueue', CTL.STATS_RSQUEUE],
  ['process', CTL.STATS_PROCESS],
  ['queue', CTL.STATS_QUEUE],
  ['ct', CTL.STATS],
  ['expect', CTL.EXP_STATS],
];

/** XML_OF is what `-x` turns a dump request into. */
const XML_OF: ReadonlyMap<number, number> = new Map([
  [CTL.CT_DUMP_INTERNAL, CTL.CT_DUMP_INT_XML],
  [CTL.CT_DUMP_EXTERNAL, CTL.CT_DUMP_EXT_XML],
  [CTL.EXP_DUMP_INTERNAL, CTL.EXP_DUMP_INT_XML],
  [CTL.EXP_DUMP_EXTERNAL, CTL.EXP_DUMP_EXT_XML],
]);

/** isPrefixOf is conntrackd's strncmp(arg, keyword, strlen(arg)) == 0. */
function isPrefixOf(arg: string, keyword: string): boolean {
  return keyword.startsWith(arg);
}

/** subArg is the next argument when conntrackd would look at it as a sub-argument. */
function subArg(argv: readonly string[], i: number): string | undefined {
  const next = argv[i + 1];
  return next !== undefined && !next.startsWith('-') ? next : undefined;
}

/**
 * parseDaemonArgs reads keepstated's arguments (without the program name) as conntrackd 1.4.7
 * reads its own. Pure: prints nothing, exits nothing.
 */
export function parseDaemonArgs(argv: readonly string[]): DaemonCommand {
  const notices: ArgNotice[] = [];
  // Set inside setMode(): the cast keeps TypeScript from narrowing it to its initial value.
  let mode = 'notset' as 'notset' | 'daemon' | 'request';
  let action = -1;
  let config = '';
  let json = false;
  let keepalived: string | undefined;
  let syncTimeoutSec: number | undefined;
  let warmUp = true;

  const invalid = (): DaemonCommand => ({ kind: 'error', message: 'Invalid parameters', status: 1, usageOnStdout: true, notices });
  /** setMode is set_operation_mode(): false when it conflicts (the caller returns invalid()). */
  const setMode = (want: 'daemon' | 'request'): boolean => {
    if (mode === 'notset') mode = want;
    return mode === want;
  };
  /** byTable is set_action_by_table(): ct / expect sub-argument or the default; an unmatched sub-argument is left in place and the action unchanged. */
  const byTable = (i: number, ct: number, exp: number, dfl: number): number => {
    const sub = subArg(argv, i);
    if (sub === undefined) {
      action = dfl;
      return i;
    }
    if (isPrefixOf(sub, 'ct')) {
      action = ct;
      return i + 1;
    }
    if (isPrefixOf(sub, 'expect')) {
      action = exp;
      return i + 1;
    }
    return i;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // keepstated's own long options, looked at before conntrackd's second-character rule.
    if (arg === '--json') {
      json = true;
      continue;
    }
    if (arg === '--no-warm-up') {
      warmUp = false;
      continue;
    }
    if (arg === '--keepalived' || arg.startsWith('--keepalived=')) {
      const file = arg === '--keepalived' ? argv[++i] : arg.slice('--keepalived='.length);
      if (file === undefined || file === '') return { kind: 'error', message: 'option --keepalived needs a file', status: 1, usageOnStdout: false, notices };
      keepalived = file;
      continue;
    }
    if (arg === '--sync-timeout' || arg.startsWith('--sync-timeout=')) {
      const v = arg === '--sync-timeout' ? argv[++i] : arg.slice('--sync-timeout='.length);
      if (v === undefined || !/^\d+$/.test(v) || Number(v) > 86_400) return { kind: 'error', message: `option --sync-timeout needs a number of seconds (0..86400), got ${v ?? 'nothing'}`, status: 1, usageOnStdout: false, notices };
      syncTimeoutSec = Number(v);
      continue;
    }
    switch (arg.length >= 2 ? arg[1] : '') {
      case 'd':
        if (!setMode('daemon')) return invalid();
        break;
      case 'c':
        if (!setMode('request')) return invalid();
        i = byTable(i, CTL.CT_COMMIT, CTL.EXP_COMMIT, CTL.ALL_COMMIT);
        break;
      case 'i':
        if (!setMode('request')) return invalid();
        i = byTable(i, CTL.CT_DUMP_INTERNAL, CTL.EXP_DUMP_INTERNAL, CTL.CT_DUMP_INTERNAL);
        break;
      case 'e':
        if (!setMode('request')) return invalid();
        i = byTable(i, CTL.CT_DUMP_EXTERNAL, CTL.EXP_DUMP_EXTERNAL, CTL.CT_DUMP_EXTERNAL);
        break;
      case 'C': {
        const file = argv[i + 1];
        if (file === undefined) {
          // conntrackd prints the usage and the error, then goes on with the default file.
          notices.push({ level: 'error', message: 'Missing config filename', usage: true });
          i++;
          break;
        }
        i++;
        if (Buffer.byteLength(file) > PATH_MAX) notices.push({ level: 'warning', message: `Path to config file to long. Cutting it down to ${PATH_MAX} characters`, usage: false });
        config = truncateBytes(file, PATH_MAX - 1);
        break;
      }
      case 'F':
        if (!setMode('request')) return invalid();
        i = byTable(i, CTL.CT_FLUSH_MASTER, CTL.EXP_FLUSH_MASTER, CTL.ALL_FLUSH_MASTER);
        break;
      case 'f': {
        if (!setMode('request')) return invalid();
        const sub = subArg(argv, i);
        if (sub === undefined) action = CTL.ALL_FLUSH_CACHE;
        else if (isPrefixOf(sub, 'internal')) {
          action = CTL.CT_FLUSH_INT_CACHE;
          i++;
        } else if (isPrefixOf(sub, 'external')) {
          action = CTL.CT_FLUSH_EXT_CACHE;
          i++;
        } else return { kind: 'error', message: `unknown parameter \`${sub}' for option \`-f'`, status: 1, usageOnStdout: false, notices };
        break;
      }
      case 'R':
        if (!setMode('request')) return invalid();
        i = byTable(i, CTL.CT_RESYNC_MASTER, CTL.EXP_RESYNC_MASTER, CTL.ALL_RESYNC_MASTER);
        break;
      case 'B':
        if (!setMode('request')) return invalid();
        action = CTL.SEND_BULK;
        break;
      case 't':
        if (!setMode('request')) return invalid();
        action = CTL.RESET_TIMERS;
        break;
      case 'k':
        if (!setMode('request')) return invalid();
        action = CTL.KILL;
        break;
      case 's': {
        if (!setMode('request')) return invalid();
        const sub = subArg(argv, i);
        if (sub === undefined) {
          action = CTL.STATS;
          break;
        }
        const view = STATS_VIEWS.find(([kw]) => isPrefixOf(sub, kw));
        if (view === undefined) return { kind: 'error', message: `unknown parameter \`${sub}' for option \`-s'`, status: 1, usageOnStdout: false, notices };
        if (view[0] === 'multicast') notices.push({ level: 'warning', message: "use `link' instead of `multicast' as parameter.", usage: false });
        action = view[1];
        i++;
        break;
      }
      case 'n':
        if (!setMode('request')) return invalid();
        action = CTL.REQUEST_DUMP;
        break;
      case 'x': {
        const xml = XML_OF.get(action);
        if (xml === undefined) return invalid();
        action = xml;
        break;
      }
      case 'v':
        return { kind: 'version', notices };
      case 'h':
        return { kind: 'help', notices };
      default:
        return { kind: 'error', message: `Unknown option: ${arg}`, status: 0, usageOnStdout: true, notices };
    }
  }

  const file = config === '' ? DEFAULT_CONFIG_FILE : config;
  if (mode === 'request') {
    if (keepalived !== undefined || syncTimeoutSec !== undefined || !warmUp) return invalid();
    return { kind: 'request', config: file, code: action, json, notices };
  }
  if (json) return { kind: 'error', message: '--json needs a client request', status: 1, usageOnStdout: false, notices };
  if (syncTimeoutSec !== undefined && keepalived === undefined) return { kind: 'error', message: '--sync-timeout needs --keepalived', status: 1, usageOnStdout: false, notices };
  return { kind: 'daemon', config: file, detach: mode === 'daemon', keepalived, syncTimeoutSec: syncTimeoutSec ?? DEFAULT_SYNC_TIMEOUT_SEC, warmUp, notices };
}

function truncateBytes(s: string, max: number): string {
  const b = Buffer.from(s);
  return b.length <= max ? s : b.subarray(0, max).toString();
}

/**
 * formatUsage is keepstated's usage text: conntrackd 1.4.7's, word for word (with `progname`,
 * conntrackd's argv[0]), its first line naming keepstated, plus keepstated's own options.
 */
export function formatUsage(progname: string): string {
  return (
    `Connection tracking userspace daemon v${CONNTRACKD_VERSION} (keepstated ${KEEPSTATE_VERSION})\n` +
    `Usage: ${progname} [commands] [options]\n\n` +
    'General commands:\n' +
    '  -d, run in daemon mode\n' +
    '  -C [configfile], configuration file path\n' +
    '  -v, display conntrackd version\n' +
    '  -h, display this help information\n\n' +
    'Client mode commands:\n' +
    '  -c [ct|expect], commit external cache to conntrack table\n' +
    '  -f [internal|external], flush internal and external cache\n' +
    '  -F [ct|expect], flush kernel conntrack table\n' +
    '  -i [ct|expect], display content of the internal cache\n' +
    '  -e [ct|expect], display the content of the external cache\n' +
    '  -k, kill conntrack daemon\n' +
    '  -s  [network|cache|runtime|link|rsqueue|queue|ct|expect], dump statistics\n' +
    '  -R [ct|expect], resync with kernel conntrack table\n' +
    '  -n, request resync with other node (only FT-FW and NOTRACK modes)\n' +
    '  -B, force a bulk send to other replica firewalls\n' +
    '  -x, dump cache in XML format (requires -i or -e)\n' +
    '  -t, reset the kernel timeout (see PurgeTimeout clause)\n\n' +
    'keepstated options:\n' +
    '  (exit status: 0 on success, 1 on failure with the reason printed; SIGTERM and SIGINT\n' +
    '  stop the daemon cleanly, SIGHUP reopens LogFile; README "keepstated exit codes")\n' +
    '  --json, print the reply of a client command as JSON\n' +
    '  --keepalived FILE, run the VRRP instances of this keepalived.conf (failover manager)\n' +
    '  --sync-timeout SEC, with --keepalived: advertise priority 1 while the replicated state is\n' +
    '      incomplete (start-up bulk, FTFW gap, sync link down), for at most SEC seconds (default 60)\n' +
    '  --no-warm-up, start cold: by default the daemon first runs 20000 made-up entries through its\n' +
    '      event, sync and commit code in memory (~0.7 s, ~1.2 s of CPU; nothing is sent), so that its first\n' +
    '      burst and its first commit run compiled code\n\n'
  );
}

/**
 * formatVersion is `-v`: conntrackd's first line ("Connection tracking userspace daemon v1.4.7",
 * what scripts match) saying which program answered, and a line saying what keepstated is instead
 * of conntrackd's copyright line.
 */
export function formatVersion(): string {
  return (
    `Connection tracking userspace daemon v${CONNTRACKD_VERSION} (keepstated ${KEEPSTATE_VERSION}). Licensed under GPLv2.\n` +
    `keepstated is keepstate's conntrackd-compatible daemon, not conntrack-tools' conntrackd.\n`
  );
}
