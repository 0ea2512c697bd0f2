import type { Diagnostics, SourceLoc } from '../error.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6, type Family } from '../../wire/ip.js';
import type { ArgValue, Statement } from './ast.js';

/**
 * Value checks shared by the schema. Each reports its own error (with the position of the offending
 * value) and returns undefined, so the caller just skips the setting and carries on.
 */

/** arg returns argument `i` of a statement; the grammar guarantees it exists for the form that was parsed. */
export function arg(s: Statement, i = 0): ArgValue {
  const a = s.args[i];
  if (a === undefined) throw new Error(`internal: ${s.spelling} has no argument ${i}`);
  return a;
}

/** INT_MAX: conntrackd reads numbers with atoi(3) into an int; anything larger overflows. */
export const INT_MAX = 2147483647;

/** NumberRange bounds a numeric option; `zero` explains what conntrackd does with 0 when that is surprising. */
export interface NumberRange {
  readonly min: number;
  readonly max: number;
  readonly zero?: string;
}

/** numberArg checks the number argument `i` of `s` against `range`. */
export function numberArg(s: Statement, d: Diagnostics, range: NumberRange, i = 0): number | undefined {
  const a = arg(s, i);
  const v = BigInt(a.text);
  if (v >= BigInt(range.min) && v <= BigInt(range.max)) return Number(v);
  let why = '';
  if (v === 0n && range.zero !== undefined) why = ` (${range.zero})`;
  else if (v > BigInt(INT_MAX)) why = ' (conntrackd 1.4.7 would overflow it)';
  d.error(a.loc, 'CFG_BAD_VALUE', `${s.spelling} ${a.text}: must be between ${range.min} and ${range.max}${why}`);
  return undefined;
}

/** boolArg reads an on/off/yes/no argument. */
export function boolArg(s: Statement, i = 0): boolean {
  const a = arg(s, i);
  return a.kind === 'bool' && a.value;
}

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

/**
 * pathArg checks a path argument: conntrackd's scanner ends a path only at a space, a line feed or '"',
 * so a tab, a CR (CRLF files!) or a brace written right after a path silently becomes part of it.
 */
export function pathArg(s: Statement, d: Diagnostics, maxBytes: number, i = 0): string | undefined {
  const a = arg(s, i);
  const control = /[\x00-\x1f\x7f]/.exec(a.text);
  if (control !== null) {
    const c = control[0];
    const name = c === '\t' ? 'a tab' : c === '\r' ? 'a carriage return' : `the control character U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    d.error(
      a.loc,
      'CFG_BAD_VALUE',
      `${s.spelling}: the path contains ${name}; conntrackd ends a path only at a space, a line feed or '"', so it would become part of the file name`,
    );
    return undefined;
  }
  const brace = /[{}]/.exec(a.text);
  if (brace !== null) {
    d.error(a.loc, 'CFG_BAD_VALUE', `${s.spelling}: the path ${a.text} contains '${brace[0]}'; conntrackd reads a brace written against a path as part of it (put a space before the brace)`);
    return undefined;
  }
  if (utf8Length(a.text) > maxBytes) {
    d.error(a.loc, 'CFG_BAD_VALUE', `${s.spelling}: the path is longer than ${maxBytes} bytes`);
    return undefined;
  }
  return a.text;
}

/** IFNAMSIZ - 1: the longest Linux interface name. */
const IFNAME_MAX = 15;

/** interfaceArg checks an interface name (existence is the daemon's business, at start-up). */
export function interfaceArg(s: Statement, d: Diagnostics): string | undefined {
  const a = arg(s);
  if (a.text.length > IFNAME_MAX) {
    d.error(a.loc, 'CFG_BAD_VALUE', `${s.spelling} ${a.text}: an interface name has at most ${IFNAME_MAX} characters`);
    return undefined;
  }
  return a.text;
}

/** ParsedAddress is an address argument in canonical text with its prefix length, if one was written. */
export interface ParsedAddress {
  readonly family: Family;
  readonly address: string;
  readonly bytes: Uint8Array;
  readonly prefixLength: number | undefined;
  readonly loc: SourceLoc;
}

/**
 * addressArg parses the address argument of `s` as `family`. conntrackd reads IPv4 with inet_aton(3),
 * which takes a leading 0 for octal ("010" is 8): we refuse leading zeros instead of guessing.
 */
export function addressArg(s: Statement, d: Diagnostics, family: Family, allowPrefix: boolean): ParsedAddress | undefined {
  const a = arg(s);
  const bad = (why: string): undefined => {
    d.error(a.loc, 'CFG_BAD_VALUE', `${s.spelling} ${a.text}: ${why}`);
    return undefined;
  };
  const slash = a.text.indexOf('/');
  const text = slash < 0 ? a.text : a.text.slice(0, slash);
  let prefixLength: number | undefined;
  if (slash >= 0) {
    if (!allowPrefix) return bad('a prefix length is not allowed here');
    prefixLength = Number(a.text.slice(slash + 1));
    const max = family === 'ipv4' ? 32 : 128;
    if (!(prefixLength <= max)) return bad(`the prefix length must be between 0 and ${max}`);
  }
  if (family === 'ipv4') {
    if (text.includes(':')) return bad('not an IPv4 address (this keyword takes IPv4; use the IPv6 one)');
    const octets = text.split('.');
    if (octets.length === 4 && octets.some((o) => o.length > 1 && o.startsWith('0')))
      return bad('leading zeros are ambiguous: conntrackd (inet_aton) reads them as octal, so 010 is 8; write the address without them');
    const b = parseIPv4(text);
    if (b === undefined) return bad('not a valid IPv4 address');
    return { family, address: formatIPv4(b), bytes: b, prefixLength, loc: a.loc };
  }
  if (!text.includes(':')) return bad('not an IPv6 address (this keyword takes IPv6)');
  const b = parseIPv6(text);
  if (b === undefined) return bad('not a valid IPv6 address');
  return { family, address: formatIPv6(b), bytes: b, prefixLength, loc: a.loc };
}

/** maskAddress clears the host bits of an address for a prefix length. */
export function maskAddress(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - 8 * i));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** formatAddress formats 4 or 16 bytes. */
export const formatAddress = (b: Uint8Array): string => (b.length === 4 ? formatIPv4(b) : formatIPv6(b));
