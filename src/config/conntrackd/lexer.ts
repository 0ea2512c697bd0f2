import type { SourceLoc } from '../error.js';

/**
 * Lexer for conntrackd.conf, reproducing the token rules of conntrackd 1.4.7's flex scanner
 * (src/read_config_lex.l): at each position the longest match wins, and on a tie the rule listed first
 * (reserved word, boolean, integer, signed integer, IPv4, IPv6, path, mode name, string). Consequences
 * that look odd but are what conntrackd does, kept on purpose so that we accept and reject the same text:
 * - "dead", "fc" or "ab12" are IPv6 addresses, not strings (so `Interface dead` is a syntax error);
 * - a path runs to the next space, newline or double quote: tabs, '#', '{' and '}' are part of it;
 * - a comment runs to a line feed, and a comment with no line feed after it is not a comment at all
 *   (conntrackd then fails on the '#'): a file may not end in a comment without a final newline;
 * - only LF ends a line: with CR-only line ends a comment swallows the rest of the file;
 * - "PERSISTENT" needs its last letter upper case ("Persistent" is a string).
 * One deliberate difference: conntrackd's patterns for on/off/yes/no and the mode names are bracket
 * expressions that also contain '|' (so it reads "o|" as "on"); we do not accept '|'.
 */

/** RESERVED_WORDS are conntrackd's reserved words, each with the word it stands for (aliases map to their target). */
export const RESERVED_WORDS = {
  UNIX: 'UNIX',
  IPv4_address: 'IPv4_address',
  IPv6_address: 'IPv6_address',
  IPv4_Destination_Address: 'IPv4_Destination_Address',
  IPv6_Destination_Address: 'IPv6_Destination_Address',
  IPv4_interface: 'IPv4_interface',
  IPv6_interface: 'IPv6_interface',
  Interface: 'Interface',
  Multicast: 'Multicast',
  UDP: 'UDP',
  TCP: 'TCP',
  HashSize: 'HashSize',
  RefreshTime: 'RefreshTime',
  CacheTimeout: 'CacheTimeout',
  CommitTimeout: 'CommitTimeout',
  HashLimit: 'HashLimit',
  Path: 'Path',
  Backlog: 'Backlog',
  Group: 'Group',
  Port: 'Port',
  LogFile: 'LogFile',
  Syslog: 'Syslog',
  LockFile: 'LockFile',
  General: 'General',
  Sync: 'Sync',
  Stats: 'Stats',
  SocketBufferSize: 'NetlinkBufferSize', // old name
  SocketBufferSizeMaxGrown: 'NetlinkBufferSizeMaxGrowth', // old name
  SocketBufferSizeMaxGrowth: 'NetlinkBufferSizeMaxGrowth', // old name
  NetlinkBufferSize: 'NetlinkBufferSize',
  NetlinkBufferSizeMaxGrowth: 'NetlinkBufferSizeMaxGrowth',
  Mode: 'Mode',
  ResendQueueSize: 'ResendQueueSize',
  Checksum: 'Checksum',
  ACKWindowSize: 'ACKWindowSize',
  for: 'for',
  SYN_SENT: 'SYN_SENT',
  SYN_RECV: 'SYN_RECV',
  ESTABLISHED: 'ESTABLISHED',
  FIN_WAIT: 'FIN_WAIT',
  CLOSE_WAIT: 'CLOSE_WAIT',
  LAST_ACK: 'LAST_ACK',
  TIME_WAIT: 'TIME_WAIT',
  CLOSE: 'CLOSED', // alias
  CLOSED: 'CLOSED',
  LISTEN: 'LISTEN',
  SndSocketBuffer: 'SndSocketBuffer',
  RcvSocketBuffer: 'RcvSocketBuffer',
  Filter: 'Filter',
  Protocol: 'Protocol',
  Address: 'Address',
  State: 'State',
  Accept: 'Accept',
  Ignore: 'Ignore',
  PurgeTimeout: 'PurgeTimeout',
  From: 'From',
  Userspace: 'Userspace',
  Kernelspace: 'Kernelspace',
  EventIterationLimit: 'EventIterationLimit',
  Default: 'Default',
  PollSecs: 'PollSecs',
  NetlinkOverrunResync: 'NetlinkOverrunResync',
  Nice: 'Nice',
  Scheduler: 'Scheduler',
  Type: 'Type',
  Priority: 'Priority',
  NetlinkEventsReliable: 'NetlinkEventsReliable',
  DisableInternalCache: 'DisableInternalCache',
  DisableExternalCache: 'DisableExternalCache',
  Options: 'Options',
  TCPWindowTracking: 'TCPWindowTracking',
  ExpectationSync: 'ExpectationSync',
  ErrorQueueLength: 'ErrorQueueLength',
  Helper: 'Helper',
  QueueNum: 'QueueNum',
  QueueLen: 'QueueLen',
  Policy: 'Policy',
  ExpectMax: 'ExpectMax',
  ExpectTimeout: 'ExpectTimeout',
  Systemd: 'Systemd',
  StartupResync: 'StartupResync',
  Setup: 'Setup',
  Mark: 'Mark', // keepstate's addition: Filter Mark (not a conntrackd 1.4.7 word)
} as const;

/** ReservedSpelling is a reserved word as it may be written; ReservedWord is what it stands for. */
export type ReservedSpelling = keyof typeof RESERVED_WORDS;
export type ReservedWord = (typeof RESERVED_WORDS)[ReservedSpelling];

/** ModeName is a replication protocol name as conntrackd's scanner recognises it (case-insensitive). */
export type ModeName = 'FTFW' | 'ALARM' | 'NOTRACK';

/** Token is one lexeme with the position of its first character. */
export type Token =
  | { readonly kind: 'word'; readonly word: ReservedWord; readonly text: string; readonly loc: SourceLoc }
  | { readonly kind: 'bool'; readonly value: boolean; readonly text: string; readonly loc: SourceLoc }
  | { readonly kind: 'mode'; readonly mode: ModeName; readonly text: string; readonly loc: SourceLoc }
  | {
      readonly kind: 'number' | 'signed' | 'ip' | 'path' | 'string' | 'mark';
      readonly text: string;
      readonly loc: SourceLoc;
    }
  | { readonly kind: '{' | '}' | 'eof'; readonly text: string; readonly loc: SourceLoc }
  // Any other single character; `openComment` marks a '#' with no line feed after it (see above).
  | { readonly kind: 'char'; readonly text: string; readonly loc: SourceLoc; readonly openComment?: true };

export type TokenKind = Token['kind'];

const SPELLINGS = Object.keys(RESERVED_WORDS) as ReservedSpelling[];

const BOOL_TRUE = /[oO][nN]|[yY][eE][sS]/y;
const BOOL_FALSE = /[oO][fF][fF]|[nN][oO]/y;
const INTEGER = /[0-9]+/y;
const SIGNED = /[-+][0-9]+/y;
const IPV4 = /[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(?:\/[0-9]+)?/y;
const PATH = /\/[^"\n ]*/y;
const CIDR_TAIL = /\/[0-9]+/y;
const MODES: readonly (readonly [RegExp, ModeName])[] = [
  [/[Aa][Ll][Aa][Rr][Mm]/y, 'ALARM'],
  [/[Pp][Ee][Rr][Ss][Ii][Ss][Tt][Ee][Nn]T/y, 'ALARM'], // old name; the scanner wants a capital final T
  [/[Ff][Tt][Ff][Ww]/y, 'FTFW'],
  [/[Nn][Aa][Cc][Kk]/y, 'FTFW'], // old name
  [/[Nn][Oo][Tt][Rr][Aa][Cc][Kk]/y, 'NOTRACK'],
];
const STRING = /[a-zA-Z][a-zA-Z0-9._-]*/y;
// keepstate's addition, for Filter Mark: a hexadecimal mark, optionally /mask (hex or decimal), or a
// decimal mark with a hexadecimal mask. conntrackd's scanner splits such text into tokens that no
// statement of 1.4.7 accepts ("0" then "x1f"), so this rule changes no file that conntrackd accepts.
const MARK = /0[xX][0-9a-fA-F]+(?:\/(?:0[xX][0-9a-fA-F]+|[0-9]+))?|[0-9]+\/0[xX][0-9a-fA-F]+/y;

function stickyLength(re: RegExp, text: string, pos: number): number {
  re.lastIndex = pos;
  const m = re.exec(text);
  return m === null ? 0 : m[0].length;
}

const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

/**
 * ipv6Length returns the length of the longest match of the scanner's IPv6 pattern at `pos` (0 if none):
 *   part  = hex{1,4} ":"?
 *   form1 = part{0,7} "::" part{0,7}      form2 = (hex{1,4} ":"){0,7} hex{1,4}
 * followed by an optional "/digits". Both forms are run as small automata in parallel (a backtracking
 * regular expression would be exponential on long hex runs), remembering the last accepting position.
 */
export function ipv6Length(text: string, pos: number): number {
  // form2 state: groups closed by ':' (k) and hex digits in the current group (h); -1 = dead.
  let k2 = 0;
  let h2 = 0;
  let alive2 = true;
  // form1 states, encoded as strings: L<p>,<h> (left side; p parts started, h hex in the open part, 0 = none open),
  // D (first ':' of "::" seen), R<p>,<h> (right side).
  let states = new Set<string>(['L0,0']);
  let best = 0;
  for (let i = pos; i < text.length && (alive2 || states.size > 0); i++) {
    const c = text.charCodeAt(i);
    const hex = isHex(c);
    const colon = c === 58;
    if (!hex && !colon) break;
    if (alive2) {
      if (hex && h2 < 4) h2++;
      else if (colon && h2 >= 1 && k2 < 7) {
        k2++;
        h2 = 0;
      } else alive2 = false;
    }
    const next = new Set<string>();
    for (const s of states) {
      if (s === 'D') {
        if (colon) next.add('R0,0');
        continue;
      }
      const side = s[0]!;
      const [p, h] = s.slice(1).split(',').map(Number) as [number, number];
      if (hex) {
        if (h >= 1 && h < 4) next.add(`${side}${p},${h + 1}`);
        if (p < 7) next.add(`${side}${p + 1},1`);
      } else {
        if (h >= 1) next.add(`${side}${p},0`);
        if (side === 'L') next.add('D');
      }
    }
    states = next;
    let accept = alive2 && h2 >= 1;
    for (const s of states) if (s[0] === 'R') accept = true;
    if (accept) best = i - pos + 1;
  }
  if (best === 0) return 0;
  return best + stickyLength(CIDR_TAIL, text, pos + best);
}

function reservedLength(text: string, pos: number): [number, ReservedSpelling | undefined] {
  let len = 0;
  let which: ReservedSpelling | undefined;
  for (const s of SPELLINGS) if (s.length > len && text.startsWith(s, pos)) [len, which] = [s.length, s];
  return [len, which];
}

/** lexConntrackd splits a conntrackd.conf text into tokens (ending with one 'eof' token); it never fails. */
export function lexConntrackd(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;
  let col = 1;
  const advance = (n: number): void => {
    for (let end = pos + n; pos < end; pos++) {
      const c = text.charCodeAt(pos);
      if (c === 10) {
        line++;
        col = 1;
      } else if (c < 0xdc00 || c > 0xdfff) col++; // a low surrogate belongs to the code point before it
    }
  };
  while (pos < text.length) {
    const c = text[pos]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      advance(1);
      continue;
    }
    const loc: SourceLoc = { file, line, col };
    if (c === '#') {
      const nl = text.indexOf('\n', pos);
      if (nl >= 0) {
        advance(nl - pos);
        continue;
      }
      tokens.push({ kind: 'char', text: '#', loc, openComment: true });
      advance(text.length - pos);
      break;
    }
    // Longest match; on equal length the earlier rule wins (the order of the scanner's rules).
    const [kwLen, spelling] = reservedLength(text, pos);
    const candidates: [number, number][] = [
      [kwLen, 0],
      [stickyLength(BOOL_TRUE, text, pos), 1],
      [stickyLength(BOOL_FALSE, text, pos), 2],
      [stickyLength(INTEGER, text, pos), 3],
      [stickyLength(SIGNED, text, pos), 4],
      [stickyLength(IPV4, text, pos), 5],
      [ipv6Length(text, pos), 6],
      [stickyLength(PATH, text, pos), 7],
      ...MODES.map(([re], i): [number, number] => [stickyLength(re, text, pos), 8 + i]),
      [stickyLength(STRING, text, pos), 13],
      [stickyLength(MARK, text, pos), 14],
    ];
    let [len, rule] = [0, -1];
    for (const [l, r] of candidates) if (l > len) [len, rule] = [l, r];
    if (len === 0) {
      const cp = String.fromCodePoint(text.codePointAt(pos)!);
      tokens.push(cp === '{' || cp === '}' ? { kind: cp, text: cp, loc } : { kind: 'char', text: cp, loc });
      advance(cp.length);
      continue;
    }
    const t = text.slice(pos, pos + len);
    if (rule === 0) tokens.push({ kind: 'word', word: RESERVED_WORDS[spelling!], text: t, loc });
    else if (rule === 1 || rule === 2) tokens.push({ kind: 'bool', value: rule === 1, text: t, loc });
    else if (rule === 3) tokens.push({ kind: 'number', text: t, loc });
    else if (rule === 4) tokens.push({ kind: 'signed', text: t, loc });
    else if (rule === 5 || rule === 6) tokens.push({ kind: 'ip', text: t, loc });
    else if (rule === 7) tokens.push({ kind: 'path', text: t, loc });
    else if (rule >= 8 && rule <= 12) tokens.push({ kind: 'mode', mode: MODES[rule - 8]![1], text: t, loc });
    else if (rule === 14) tokens.push({ kind: 'mark', text: t, loc });
    else tokens.push({ kind: 'string', text: t, loc });
    advance(len);
  }
  tokens.push({ kind: 'eof', text: '', loc: { file, line, col } });
  return tokens;
}
