import { CTL } from '../../src/control/codes.js';
import type { ArgNotice, DaemonCommand } from '../../src/daemon/args.js';

/**
 * The command-line rows shared by test/daemon/args.test.ts (parseDaemonArgs against the expected
 * result) and test/kernel/control-conntrackd.test.ts (the same arguments through the real
 * conntrackd 1.4.7, whose exit status, messages and sent request code must agree). Each row's
 * argv follows `-C /tmp/x.conf`.
 */

export const C = ['-C', '/tmp/x.conf'];
export const req = (code: number, json = false, notices: ArgNotice[] = []): DaemonCommand => ({ kind: 'request', config: '/tmp/x.conf', code, json, notices });
export const invalid: DaemonCommand = { kind: 'error', message: 'Invalid parameters', status: 1, usageOnStdout: true, notices: [] };
export const unknown = (arg: string, notices: ArgNotice[] = []): DaemonCommand => ({ kind: 'error', message: `Unknown option: ${arg}`, status: 0, usageOnStdout: true, notices });
const MULTICAST: ArgNotice = { level: 'warning', message: "use `link' instead of `multicast' as parameter.", usage: false };

/** ROWS: [what, argv after -C /tmp/x.conf, expected]. */
export const ARG_ROWS: readonly (readonly [string, readonly string[], DaemonCommand])[] = [
  // one row per request code, with its canonical option
  ['-c', ['-c'], req(CTL.ALL_COMMIT)],
  ['-c ct', ['-c', 'ct'], req(CTL.CT_COMMIT)],
  ['-c expect', ['-c', 'expect'], req(CTL.EXP_COMMIT)],
  ['-f', ['-f'], req(CTL.ALL_FLUSH_CACHE)],
  ['-f internal', ['-f', 'internal'], req(CTL.CT_FLUSH_INT_CACHE)],
  ['-f external', ['-f', 'external'], req(CTL.CT_FLUSH_EXT_CACHE)],
  ['-F', ['-F'], req(CTL.ALL_FLUSH_MASTER)],
  ['-F ct', ['-F', 'ct'], req(CTL.CT_FLUSH_MASTER)],
  ['-F expect', ['-F', 'expect'], req(CTL.EXP_FLUSH_MASTER)],
  ['-i', ['-i'], req(CTL.CT_DUMP_INTERNAL)],
  ['-i ct', ['-i', 'ct'], req(CTL.CT_DUMP_INTERNAL)],
  ['-i expect', ['-i', 'expect'], req(CTL.EXP_DUMP_INTERNAL)],
  ['-e', ['-e'], req(CTL.CT_DUMP_EXTERNAL)],
  ['-e ct', ['-e', 'ct'], req(CTL.CT_DUMP_EXTERNAL)],
  ['-e expect', ['-e', 'expect'], req(CTL.EXP_DUMP_EXTERNAL)],
  ['-i -x', ['-i', '-x'], req(CTL.CT_DUMP_INT_XML)],
  ['-e -x', ['-e', '-x'], req(CTL.CT_DUMP_EXT_XML)],
  ['-i expect -x', ['-i', 'expect', '-x'], req(CTL.EXP_DUMP_INT_XML)],
  ['-e expect -x', ['-e', 'expect', '-x'], req(CTL.EXP_DUMP_EXT_XML)],
  ['-k', ['-k'], req(CTL.KILL)],
  ['-s', ['-s'], req(CTL.STATS)],
  ['-s ct', ['-s', 'ct'], req(CTL.STATS)],
  ['-s network', ['-s', 'network'], req(CTL.STATS_NETWORK)],
  ['-s cache', ['-s', 'cache'], req(CTL.STATS_CACHE)],
  ['-s runtime', ['-s', 'runtime'], req(CTL.STATS_RUNTIME)],
  ['-s link', ['-s', 'link'], req(CTL.STATS_LINK)],
  ['-s rsqueue', ['-s', 'rsqueue'], req(CTL.STATS_RSQUEUE)],
  ['-s process', ['-s', 'process'], req(CTL.STATS_PROCESS)],
  ['-s queue', ['-s', 'queue'], req(CTL.STATS_QUEUE)],
  ['-s expect', ['-s', 'expect'], req(CTL.EXP_STATS)],
  ['-s multicast: link, with a warning', ['-s', 'multicast'], req(CTL.STATS_LINK, false, [MULTICAST])],
  ['-R', ['-R'], req(CTL.ALL_RESYNC_MASTER)],
  ['-R ct', ['-R', 'ct'], req(CTL.CT_RESYNC_MASTER)],
  ['-R expect', ['-R', 'expect'], req(CTL.EXP_RESYNC_MASTER)],
  ['-n', ['-n'], req(CTL.REQUEST_DUMP)],
  ['-B', ['-B'], req(CTL.SEND_BULK)],
  ['-t', ['-t'], req(CTL.RESET_TIMERS)],
  // sub-arguments are prefixes, tried in conntrackd's order
  ['-s n', ['-s', 'n'], req(CTL.STATS_NETWORK)],
  ['-s c is cache (before ct)', ['-s', 'c'], req(CTL.STATS_CACHE)],
  ['-s r is runtime (before rsqueue)', ['-s', 'r'], req(CTL.STATS_RUNTIME)],
  ['-s m is the deprecated multicast', ['-s', 'm'], req(CTL.STATS_LINK, false, [MULTICAST])],
  ['-s l', ['-s', 'l'], req(CTL.STATS_LINK)],
  ['-s rs', ['-s', 'rs'], req(CTL.STATS_RSQUEUE)],
  ['-s p', ['-s', 'p'], req(CTL.STATS_PROCESS)],
  ['-s q', ['-s', 'q'], req(CTL.STATS_QUEUE)],
  ['-s ct', ['-s', 'ct'], req(CTL.STATS)],
  ['-s e', ['-s', 'e'], req(CTL.EXP_STATS)],
  ['-s "" matches the first keyword, network', ['-s', ''], req(CTL.STATS_NETWORK)],
  ['-i e', ['-i', 'e'], req(CTL.EXP_DUMP_INTERNAL)],
  ['-c c', ['-c', 'c'], req(CTL.CT_COMMIT)],
  ['-F exp', ['-F', 'exp'], req(CTL.EXP_FLUSH_MASTER)],
  ['-i "" is ct', ['-i', ''], req(CTL.CT_DUMP_INTERNAL)],
  ['-f i', ['-f', 'i'], req(CTL.CT_FLUSH_INT_CACHE)],
  ['-f ext', ['-f', 'ext'], req(CTL.CT_FLUSH_EXT_CACHE)],
  ['-f "" is internal', ['-f', ''], req(CTL.CT_FLUSH_INT_CACHE)],
  ['a sub-argument longer than the keyword is no prefix: -s networks', ['-s', 'networks'], { kind: 'error', message: "unknown parameter `networks' for option `-s'", status: 1, usageOnStdout: false, notices: [] }],
  // unmatched sub-arguments
  ['-s bogus', ['-s', 'bogus'], { kind: 'error', message: "unknown parameter `bogus' for option `-s'", status: 1, usageOnStdout: false, notices: [] }],
  ['-f bogus', ['-f', 'bogus'], { kind: 'error', message: "unknown parameter `bogus' for option `-f'", status: 1, usageOnStdout: false, notices: [] }],
  ['-c bogus: not consumed, then an unknown option (exit 0)', ['-c', 'bogus'], unknown('bogus')],
  ['-i ee: not consumed, then read as -e', ['-i', 'ee'], req(CTL.CT_DUMP_EXTERNAL)],
  ['-i cx: not consumed, then -x with no dump before it', ['-i', 'cx'], invalid],
  ['-F qC FILE: no action at all, conntrackd sends -1', ['-F', 'qC', '/tmp/x.conf'], req(-1)],
  // the second character decides
  ['-sB is -s', ['-sB'], req(CTL.STATS)],
  ['xs is -s (the dash is not checked)', ['xs'], req(CTL.STATS)],
  ['-stats is -s', ['-stats'], req(CTL.STATS)],
  ['--help is an unknown option', ['--help'], unknown('--help')],
  ['- is an unknown option', ['-'], unknown('-')],
  ['"" is an unknown option', [''], unknown('')],
  ['-Z', ['-Z'], unknown('-Z')],
  ['an unknown option stops parsing', ['-Z', '-d', '-s', 'bogus'], unknown('-Z')],
  ['notices before an unknown option are kept', ['-s', 'm', '-Z'], unknown('-Z', [MULTICAST])],
  // -x
  ['-x alone', ['-x'], invalid],
  ['-x before -i', ['-x', '-i'], invalid],
  ['-x twice', ['-i', '-x', '-x'], invalid],
  ['-x after -s', ['-s', '-x'], invalid],
  ['-x after -i then -s', ['-i', '-s', '-x'], invalid],
  ['-i -x -i: the last dump wins, plain again', ['-i', '-x', '-i'], req(CTL.CT_DUMP_INTERNAL)],
  // mixing
  ['-d with a client option', ['-d', '-s'], invalid],
  ['a client option with -d', ['-s', '-d'], invalid],
  ['-d -x', ['-d', '-x'], invalid],
  ['two client actions: the last wins', ['-s', '-i'], req(CTL.CT_DUMP_INTERNAL)],
  ['two client actions: the last wins (2)', ['-i', '-s', 'cache'], req(CTL.STATS_CACHE)],
  ['-k -n', ['-k', '-n'], req(CTL.REQUEST_DUMP)],
  // -h / -v act where they are
  ['-h', ['-h'], { kind: 'help', notices: [] }],
  ['-v', ['-v'], { kind: 'version', notices: [] }],
  ['-v ends parsing', ['-v', '-Z'], { kind: 'version', notices: [] }],
  ['-s -h: help', ['-s', '-h'], { kind: 'help', notices: [] }],
  ['-s m -v: the warning, then the version', ['-s', 'm', '-v'], { kind: 'version', notices: [MULTICAST] }],
  ['-Z -h: the unknown option comes first', ['-Z', '-h'], unknown('-Z')],
  ['-d -s -v: invalid before -v', ['-d', '-s', '-v'], invalid],
];

/** normalizeUsage maps keepstated's usage to conntrackd's: its own first line and its extra section are the only differences. */
export function normalizeUsage(text: string): string {
  return text.replace(/ \(keepstated [^)]*\)\n/, '\n').replace(/keepstated options:\n(?: {2}.*\n)+\n/, '').replace(/^Usage: keepstated /m, 'Usage: conntrackd ');
}

