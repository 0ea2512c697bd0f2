import type { Diagnostics, SourceLoc } from '../error.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, type Family } from '../../wire/ip.js';
import { splitQuotedEscaped, type Word } from './lexer.js';
import type { Statement } from './parser.js';
import type { ScriptCommand } from './types.js';

/**
 * Keyword tables and value readers shared by the schema files. Each reader reports its own error (at
 * the offending word) and returns undefined, so the caller skips the setting and carries on. Numbers
 * follow keepalived's readers (lib/parser.c read_unsigned/read_int/read_decimal_unsigned): decimal
 * digits only; decimals have at most 6 fraction digits (TIMER_HZ_DIGITS) and are returned in millionths.
 */

/** Rule is what a keyword means in one block: handled, accepted and ignored, or refused as unsupported. */
export type Rule<B> =
  | {
      readonly kind: 'set';
      readonly block?: 'none' | 'required'; // default 'none'
      readonly args?: readonly [min: number, max: number]; // words after the keyword; default [1, 1]
      readonly run: (s: Statement, b: B, d: Diagnostics) => void;
    }
  | { readonly kind: 'ignore'; readonly why: string }
  | { readonly kind: 'unsupported'; readonly why: string };

/** Table maps keywords to their rules for one kind of block. */
export type Table<B> = Readonly<Record<string, Rule<B>>>;

/** KNOWN_ELSEWHERE maps a keyword to the blocks it belongs to, for "misplaced" hints (filled by the tables). */
const knownIn = new Map<string, string[]>();

/** registerTable records the keywords of a block title for misplaced-keyword hints. */
export function registerTable(title: string, table: Readonly<Record<string, unknown>>): void {
  for (const k of Object.keys(table)) {
    const list = knownIn.get(k) ?? [];
    if (!list.includes(title)) list.push(title);
    knownIn.set(k, list);
  }
}

/** runTable applies `table` to every statement of a block. */
export function runTable<B>(title: string, statements: readonly Statement[], table: Table<B>, b: B, d: Diagnostics): void {
  for (const s of statements) {
    const kw = s.keyword.text;
    const rule = Object.hasOwn(table, kw) ? table[kw] : undefined;
    if (rule === undefined) {
      const where = knownIn.get(kw)?.filter((t) => t !== title) ?? [];
      if (where.length > 0) d.error(s.keyword.loc, 'CFG_MISPLACED', `'${kw}' is not allowed in ${title} (it belongs in ${where.join(', ')})`);
      else d.error(s.keyword.loc, 'CFG_UNKNOWN_KEYWORD', `unknown keyword '${kw}' in ${title}`);
      continue;
    }
    if (rule.kind === 'ignore') continue;
    if (rule.kind === 'unsupported') {
      d.error(s.keyword.loc, 'CFG_UNSUPPORTED', `not supported: ${kw} (${rule.why})`);
      continue;
    }
    const block = rule.block ?? 'none';
    if (block === 'none' && s.block !== undefined) {
      d.error(s.block.loc, 'CFG_SYNTAX', `${kw} takes no '{ }' block`);
      continue;
    }
    if (block === 'required' && s.block === undefined) {
      d.error(s.keyword.loc, 'CFG_SYNTAX', `${kw} needs a '{ }' block`);
      continue;
    }
    const [min, max] = rule.args ?? [1, 1];
    if (s.args.length < min || s.args.length > max) {
      const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      const at = s.args.length > max ? s.args[max]!.loc : s.keyword.loc;
      d.error(at, 'CFG_SYNTAX', `${kw} expects ${want} value${max === 1 && min === 1 ? '' : 's'}; got ${s.args.length}`);
      continue;
    }
    rule.run(s, b, d);
  }
}

/** word returns argument `i`; runTable checked the count. */
export function word(s: Statement, i = 0): Word {
  const w = s.args[i];
  if (w === undefined) throw new Error(`internal: ${s.keyword.text} has no argument ${i}`);
  return w;
}

const bad = (d: Diagnostics, w: Word, kw: string, why: string): undefined => {
  d.error(w.loc, 'CFG_BAD_VALUE', `${kw} ${w.text}: ${why}`);
  return undefined;
};

const hint = (text: string): string => (text.endsWith('\\') ? " (keepalived 2.2.7 has no line continuation: the '\\' is part of the value)" : '');

/** unsignedArg reads a decimal integer in [min, max]. */
export function unsignedArg(s: Statement, d: Diagnostics, min: number, max: number, i = 0): number | undefined {
  const w = word(s, i);
  if (!/^[0-9]+$/.test(w.text)) return bad(d, w, s.keyword.text, `not a number${hint(w.text)}`);
  const v = Number(w.text);
  if (v < min || v > max) return bad(d, w, s.keyword.text, `must be between ${min} and ${max}`);
  return v;
}

/** intArg reads a signed decimal integer in [min, max]. */
export function intArg(s: Statement, d: Diagnostics, min: number, max: number, i = 0): number | undefined {
  const w = word(s, i);
  if (!/^[-+]?[0-9]+$/.test(w.text)) return bad(d, w, s.keyword.text, `not a number${hint(w.text)}`);
  const v = Number(w.text);
  if (v < min || v > max) return bad(d, w, s.keyword.text, `must be between ${min} and ${max}`);
  return v;
}

/** MICRO is keepalived's TIMER_HZ: timers are microseconds. */
export const MICRO = 1_000_000;

/** decimalArg reads seconds with up to 6 decimals into microseconds, in [minUs, maxUs]. */
export function decimalArg(s: Statement, d: Diagnostics, minUs: number, maxUs: number, i = 0): number | undefined {
  const w = word(s, i);
  const m = /^([0-9]+)(?:\.([0-9]*))?$/.exec(w.text) ?? /^()\.([0-9]+)$/.exec(w.text);
  if (m === null) return bad(d, w, s.keyword.text, `not a number of seconds${hint(w.text)}`);
  const frac = m[2] ?? '';
  if (frac.length > 6) return bad(d, w, s.keyword.text, 'at most 6 decimals (microseconds)');
  const us = Number(m[1] === '' ? 0 : m[1]) * MICRO + Number(frac.padEnd(6, '0'));
  if (us < minUs || us > maxUs) return bad(d, w, s.keyword.text, `must be between ${minUs / MICRO} and ${maxUs / MICRO} seconds`);
  return us;
}

/** optionalBool reads keepalived's optional `true|on|yes|false|off|no` argument (absent = true). */
export function optionalBool(s: Statement, d: Diagnostics): boolean | undefined {
  const w = s.args[0];
  if (w === undefined) return true;
  if (w.text === 'true' || w.text === 'on' || w.text === 'yes') return true;
  if (w.text === 'false' || w.text === 'off' || w.text === 'no') return false;
  return bad(d, w, s.keyword.text, 'expected true, on, yes, false, off or no');
}

/** ParsedIp is an address (canonical text) with its family and the prefix length written, if any. */
export interface ParsedIp {
  readonly family: Family;
  readonly address: string;
  readonly bytes: Uint8Array;
  readonly prefixLength?: number;
}

/** parseIp parses `addr[/len]` (IPv4 dotted quad without leading zeros, or IPv6); undefined if invalid. */
export function parseIp(text: string, allowPrefix: boolean): ParsedIp | { error: string } {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  let prefixLength: number | undefined;
  const family: Family = addr.includes(':') ? 'ipv6' : 'ipv4';
  if (slash >= 0) {
    if (!allowPrefix) return { error: 'no prefix length allowed here' };
    const p = text.slice(slash + 1);
    const max = family === 'ipv4' ? 32 : 128;
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) return { error: `the prefix length must be between 0 and ${max}` };
    prefixLength = Number(p);
  }
  if (family === 'ipv4') {
    if (addr.split('.').some((o) => o.length > 1 && o.startsWith('0'))) return { error: 'leading zeros are not allowed in an IPv4 address' };
    const b = parseIPv4(addr);
    if (b === undefined) return { error: 'not a valid IP address' };
    return prefixLength === undefined ? { family, address: formatIPv4(b), bytes: b } : { family, address: formatIPv4(b), bytes: b, prefixLength };
  }
  const b = parseIPv6(addr);
  if (b === undefined) return { error: 'not a valid IP address' };
  return prefixLength === undefined ? { family, address: formatIPv6(b), bytes: b } : { family, address: formatIPv6(b), bytes: b, prefixLength };
}

/** ipArg reads an address argument; `family` restricts it when given. */
export function ipArg(s: Statement, d: Diagnostics, i = 0): ParsedIp | undefined {
  const w = word(s, i);
  const r = parseIp(w.text, false);
  if ('error' in r) return bad(d, w, s.keyword.text, r.error);
  return r;
}

/** IFNAMSIZ - 1: the longest Linux interface name. */
export const IFNAME_MAX = 15;

/** ifnameArg checks an interface name (its existence is checked by the daemon at start-up). */
export function ifnameArg(s: Statement, d: Diagnostics, w: Word = word(s)): string | undefined {
  if (w.text.length > IFNAME_MAX) return bad(d, w, s.keyword.text, `an interface name has at most ${IFNAME_MAX} characters`);
  if (w.text === '' || w.text === '.' || w.text === '..' || /[/:\s]/.test(w.text)) return bad(d, w, s.keyword.text, 'not a valid interface name');
  return w.text;
}

/**
 * scriptArg reads a command as keepalived's notify/script keywords do (lib/notify.c): the line is
 * re-read with quote and escape rules; its second word is the command, which is split again into argv;
 * the optional third and fourth words are the user and group (when `withUser`).
 */
export function scriptArg(s: Statement, d: Diagnostics, withUser: boolean): ScriptCommand | undefined {
  const line = splitQuotedEscaped(s.raw);
  if ('error' in line) {
    d.error(s.keyword.loc, 'CFG_BAD_VALUE', `${s.keyword.text}: ${line.error}`);
    return undefined;
  }
  const cmdText = line.words[1];
  if (cmdText === undefined || cmdText === '') {
    d.error(s.keyword.loc, 'CFG_MISSING', `${s.keyword.text} needs a command`);
    return undefined;
  }
  const argv = splitQuotedEscaped(cmdText);
  if ('error' in argv) {
    d.error(word(s).loc, 'CFG_BAD_VALUE', `${s.keyword.text}: ${argv.error}`);
    return undefined;
  }
  if (argv.words.length === 0) {
    d.error(word(s).loc, 'CFG_MISSING', `${s.keyword.text} needs a command`);
    return undefined;
  }
  const extra = line.words.slice(2);
  if (!withUser && extra.length > 0) {
    d.error(s.args[1]?.loc ?? s.keyword.loc, 'CFG_SYNTAX', `${s.keyword.text}: unexpected words after the command (quote the whole command)`);
    return undefined;
  }
  if (extra.length > 2) {
    d.error(s.args[3]?.loc ?? s.keyword.loc, 'CFG_SYNTAX', `${s.keyword.text}: expected the command, then optionally a user and a group; got more words (quote the whole command)`);
    return undefined;
  }
  const [user, group] = extra;
  return { argv: argv.words, loc: s.keyword.loc, ...(user === undefined ? {} : { user }), ...(group === undefined ? {} : { group }) };
}

/** setOnce records that a setting was given, warning when it was given before (the last one counts). */
export function setOnce(seen: Map<string, SourceLoc>, s: Statement, d: Diagnostics, key = s.keyword.text): void {
  const prev = seen.get(key);
  if (prev !== undefined) d.warn(s.keyword.loc, 'CFG_DUPLICATE', `${s.keyword.text} given again (first at line ${prev.line}); the last one counts`);
  seen.set(key, s.keyword.loc);
}
