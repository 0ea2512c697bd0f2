import { KEEPSTATE_VERSION } from '../version.js';

/**
 * Exit statuses, command bits and the error path of conntrack 1.4.7, with keepstate's identity in
 * the messages: conntrack prints `conntrack v1.4.7 (conntrack-tools): <message>`; keepstate prints
 * `conntrack v1.4.7 (keepstate <version>): <message>`, keeping the prefix scripts match on while
 * saying which program answered. The try-help line names `keepstate conntrack`, the command a user
 * must actually type.
 */

/** PROGNAME and CT_VERSION are the command keepstate clones and the conntrack-tools version it follows. */
export const PROGNAME = 'conntrack';
export const CT_VERSION = '1.4.7';
/** INVOCATION is how users run keepstate's clone (argv[0] in usage and getopt messages). */
export const INVOCATION = 'keepstate conntrack';
/** PREFIX starts every status line on stderr. */
export const PREFIX = `${PROGNAME} v${CT_VERSION} (keepstate ${KEEPSTATE_VERSION}): `;

/** EXIT is enum exittype. */
export const EXIT = { OTHER_PROBLEM: 1, PARAMETER_PROBLEM: 2, VERSION_PROBLEM: 3 } as const;

/** CMD_BIT is enum ct_command's bit numbers (the command is 1 << bit). */
export const CMD_BIT = {
  CT_LIST: 0,
  CT_CREATE: 1,
  CT_UPDATE: 2,
  CT_DELETE: 3,
  CT_GET: 4,
  CT_FLUSH: 5,
  CT_EVENT: 6,
  CT_VERSION: 7,
  CT_HELP: 8,
  EXP_LIST: 9,
  EXP_CREATE: 10,
  EXP_DELETE: 11,
  EXP_GET: 12,
  EXP_FLUSH: 13,
  EXP_EVENT: 14,
  CT_COUNT: 15,
  EXP_COUNT: 16,
  CT_STATS: 17,
  EXP_STATS: 18,
  CT_ADD: 19,
} as const;
export const NUMBER_OF_CMD = 20;

/** CMD is enum ct_command's values. */
export const CMD = Object.fromEntries(Object.entries(CMD_BIT).map(([k, v]) => [k, 1 << v])) as { readonly [K in keyof typeof CMD_BIT]: number };

/** CliExit ends the command: `stderr` is printed as is and the process exits with `status`. */
export class CliExit extends Error {
  override readonly name = 'CliExit';
  constructor(
    readonly status: number,
    readonly stderr: string,
  ) {
    super(stderr.trimEnd());
  }
}

/** tryHelp is exit_tryhelp's line. */
export const TRY_HELP = `Try \`${INVOCATION} -h' or '${INVOCATION} --help' for more information.\n`;

/** exitError is exit_error(): the prefixed message, the try-help line for parameter problems, and the exit. */
export function exitError(status: number, msg: string): never {
  throw new CliExit(status, PREFIX + msg + '\n' + (status === EXIT.PARAMETER_PROBLEM ? TRY_HELP : ''));
}

/** ENOTSUPP is the kernel-internal errno 524 some ctnetlink paths return. */
const ENOTSUPP = 524;

/** errno numbers err2str distinguishes. */
const E = { EPERM: 1, ENOENT: 2, ENOMEM: 12, EEXIST: 17, EINVAL: 22, ETIME: 62, EAFNOSUPPORT: 97 } as const;

const ERR_TABLE: readonly { act: number; err: number; msg: string }[] = [
  { act: CMD.CT_LIST, err: ENOTSUPP, msg: 'function not implemented' },
  { act: 0xffff, err: E.EINVAL, msg: 'invalid parameters' },
  { act: CMD.CT_CREATE, err: E.EEXIST, msg: 'Such conntrack exists, try -U to update' },
  { act: CMD.CT_CREATE | CMD.CT_GET | CMD.CT_DELETE | CMD.CT_ADD, err: E.ENOENT, msg: "such conntrack doesn't exist" },
  { act: CMD.CT_CREATE | CMD.CT_GET | CMD.CT_ADD, err: E.ENOMEM, msg: 'not enough memory' },
  { act: CMD.CT_GET, err: E.EAFNOSUPPORT, msg: 'protocol not supported' },
  { act: CMD.CT_CREATE | CMD.CT_ADD, err: E.ETIME, msg: 'conntrack has expired' },
  { act: CMD.EXP_CREATE, err: E.ENOENT, msg: 'master conntrack not found' },
  { act: CMD.EXP_CREATE, err: E.EINVAL, msg: 'invalid parameters' },
  { act: 0xffffffff, err: E.EPERM, msg: 'sorry, you must be root or get CAP_NET_ADMIN capability to do this' },
];

/** err2str translates an errno for a command like conntrack does, falling back to strerror(3). */
export function err2str(errno: number, command: number): string {
  for (const row of ERR_TABLE) if ((row.act & command) !== 0 && row.err === errno) return row.msg;
  return strerror(errno);
}

const STRERROR: Readonly<Record<number, string>> = {
  0: 'Success',
  1: 'Operation not permitted',
  2: 'No such file or directory',
  3: 'No such process',
  4: 'Interrupted system call',
  5: 'Input/output error',
  6: 'No such device or address',
  7: 'Argument list too long',
  9: 'Bad file descriptor',
  11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  14: 'Bad address',
  16: 'Device or resource busy',
  17: 'File exists',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  24: 'Too many open files',
  28: 'No space left on device',
  34: 'Numerical result out of range',
  38: 'Function not implemented',
  61: 'No data available',
  62: 'Timer expired',
  71: 'Protocol error',
  90: 'Message too long',
  93: 'Protocol not supported',
  95: 'Operation not supported',
  97: 'Address family not supported by protocol',
  105: 'No buffer space available',
  110: 'Connection timed out',
  111: 'Connection refused',
};

/** strerror is glibc's strerror(3) text for the errnos netlink and file access produce. */
export function strerror(errno: number): string {
  return STRERROR[errno] ?? `Unknown error ${errno}`;
}
