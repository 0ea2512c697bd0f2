import type { Diagnostics, SourceLoc } from '../error.js';

/**
 * Lexer for keepalived.conf, reproducing how keepalived 2.2.7 reads a file (lib/parser.c: read_line,
 * decomment, alloc_strvec_r). keepalived has no token grammar: it works line by line.
 * - Trailing CR/LF are dropped, then leading spaces and tabs.
 * - `!` or `#` outside a double-quoted string starts a comment, anywhere in the line (so `r1!x` is `r1`);
 *   `\#` and `\!` outside quotes stand for the character itself.
 * - There is no line continuation: a `\` at the end of a line (after the comment is cut) is kept and
 *   glued to the last word once trailing blanks are removed (`51 \` becomes `51\`). keepalived only
 *   continues lines inside `$NAME=` definitions, which keepstate does not support.
 * - `include[rmwba] PATTERN` lines are found after the comment is cut (the pattern is the rest of the line).
 * - A line is cut before its first `{` or `}` that is not inside double quotes, and a brace at the start
 *   of a line stands alone, so `vrrp_instance A { state MASTER }` is the four lines
 *   `vrrp_instance A`, `{`, `state MASTER`, `}`.
 * - Each piece is split into words at blanks; a word starting with `"` runs to the next `"` (quotes
 *   removed), any other word ends at a blank or a `"`.
 * keepalived's parameter substitutions (`$NAME=…`, `~SEQ`, `~LST`) and `@id` conditional lines are
 * reported as unsupported instead of being expanded.
 */

/** Word is one word of a line, quotes removed; `quoted` when it was written as a "…" string. */
export interface Word {
  readonly text: string;
  readonly loc: SourceLoc;
  readonly quoted: boolean;
}

/** Piece is one logical line after brace splitting: its words, and its text for keywords that re-read it. */
export interface Piece {
  readonly kind: 'line';
  readonly words: readonly Word[];
  readonly raw: string; // the piece as keepalived's handlers see it (buf_extern), comments removed
  readonly loc: SourceLoc; // first character of the piece
}

/** IncludeDirective is an `include` line: the pattern, relative to the directory of the file it is in. */
export interface IncludeDirective {
  readonly kind: 'include';
  readonly variant: '' | 'r' | 'm' | 'w' | 'b' | 'a';
  readonly pattern: string;
  readonly loc: SourceLoc;
}

export type LexItem = Piece | IncludeDirective;

/** Chars is text as code points, each with its 1-based column in the source line. */
interface Chars {
  readonly c: string[];
  readonly col: number[];
}

const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';
const WHITE = new Set([' ', '\t', '\f', '\n', '\r', '\v']);
const isWhite = (c: string | undefined): boolean => c !== undefined && WHITE.has(c);

const slice = (s: Chars, from: number, to = s.c.length): Chars => ({ c: s.c.slice(from, to), col: s.col.slice(from, to) });

function trimEndBlanks(s: Chars): Chars {
  let end = s.c.length;
  while (end > 0 && isBlank(s.c[end - 1])) end--;
  return slice(s, 0, end);
}

/** decomment is keepalived's decomment(): strips leading blanks, the comment, escapes of `#`/`!`, trailing blanks. */
function decomment(line: Chars, file: string, lineNo: number, d: Diagnostics): Chars {
  let start = 0;
  while (isBlank(line.c[start])) start++;
  const c = line.c.slice(start);
  const col = line.col.slice(start);
  let quote = false;
  let skip: number | undefined;
  let cont: number | undefined; // column of a final backslash
  let i = 0;
  while (i < c.length) {
    const ch = c[i]!;
    if (ch === '"') {
      if (skip === undefined) quote = !quote;
      i++;
      continue;
    }
    if (ch === '\\') {
      if (i + 1 < c.length) {
        if (!quote && (c[i + 1] === '#' || c[i + 1] === '!')) {
          c.splice(i, 1);
          col.splice(i, 1);
          i++;
        } else i += 2;
        continue;
      }
      cont = col[i];
      c.length = i;
      col.length = i;
      break;
    }
    if (!quote && skip === undefined && (ch === '!' || ch === '#')) skip = i;
    i++;
  }
  if (quote) d.error({ file, line: lineNo, col: col[0] ?? 1 }, 'CFG_SYNTAX', 'unterminated quote: a \'"\' without its closing \'"\' on this line');
  let out: Chars = { c, col };
  if (skip !== undefined) out = slice(out, 0, skip);
  out = trimEndBlanks(out);
  if (cont !== undefined) out = { c: [...out.c, '\\'], col: [...out.col, cont] };
  return out;
}

const INCLUDE_VARIANTS = 'rmwba';

function includeOf(s: Chars, file: string, lineNo: number): IncludeDirective | undefined {
  const text = s.c.join('');
  if (!text.startsWith('include') || s.c.length <= 7) return undefined;
  let at: number;
  let variant: IncludeDirective['variant'];
  if (isWhite(s.c[7])) [at, variant] = [8, ''];
  else if (INCLUDE_VARIANTS.includes(s.c[7]!) && isWhite(s.c[8])) [at, variant] = [9, s.c[7] as IncludeDirective['variant']];
  else return undefined;
  while (isBlank(s.c[at])) at++;
  return { kind: 'include', variant, pattern: s.c.slice(at).join(''), loc: { file, line: lineNo, col: s.col[0]! } };
}

/** braceCut returns where keepalived cuts a line: index of the first unquoted brace, or undefined. */
function braceCut(s: Chars): number | undefined {
  if (s.c[0] === '{' || s.c[0] === '}') return 0;
  for (let i = 0; i < s.c.length; i++) {
    const ch = s.c[i];
    if (ch === '{' || ch === '}') return i;
    if (ch === '"') {
      const close = s.c.indexOf('"', i + 1);
      if (close < 0) return undefined;
      i = close;
    }
  }
  return undefined;
}

/** splitWords is keepalived's alloc_strvec_r(): blanks separate words, a leading `"` quotes up to the next `"`. */
function splitWords(s: Chars, file: string, lineNo: number, d: Diagnostics): Word[] {
  const words: Word[] = [];
  let i = 0;
  for (;;) {
    while (isWhite(s.c[i])) i++;
    if (i >= s.c.length) return words;
    const loc = { file, line: lineNo, col: s.col[i]! };
    if (s.c[i] === '"') {
      const close = s.c.indexOf('"', i + 1);
      if (close < 0) {
        d.error(loc, 'CFG_SYNTAX', 'unmatched quote: the quoted string is not closed on this line');
        return words;
      }
      words.push({ text: s.c.slice(i + 1, close).join(''), loc, quoted: true });
      i = close + 1;
      continue;
    }
    const start = i;
    while (i < s.c.length && !isWhite(s.c[i]) && s.c[i] !== '"') i++;
    words.push({ text: s.c.slice(start, i).join(''), loc, quoted: false });
  }
}

const DEFINITION = /^\$[A-Za-z_][A-Za-z0-9_]*(?:\{[^}]*\})?\s*=/;

/** unsupportedLine reports keepalived's text-substitution features, which keepstate does not expand. */
function unsupportedLine(s: Chars, file: string, lineNo: number, d: Diagnostics): boolean {
  const text = s.c.join('');
  const loc = { file, line: lineNo, col: s.col[0]! };
  let what: string | undefined;
  if (text.startsWith('@')) what = "'@' conditional configuration lines";
  else if (DEFINITION.test(text)) what = "'$NAME=' parameter definitions";
  else if (text.startsWith('~SEQ') || text.startsWith('~LST')) what = `'${text.slice(0, 4)}' sequence expansion`;
  else if (text.startsWith('~')) what = "lines starting with '~'";
  if (what === undefined) return false;
  d.error(loc, 'CFG_UNSUPPORTED', `not supported: ${what} (keepalived's text substitution); write the lines out in full`);
  return true;
}

/** lexKeepalived splits one file's text into pieces and include directives, in order; it never throws. */
export function lexKeepalived(text: string, file: string, d: Diagnostics): LexItem[] {
  const out: LexItem[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const cps = [...lines[n]!];
    while (cps.length > 0 && (cps[cps.length - 1] === '\r' || cps[cps.length - 1] === '\n')) cps.pop();
    if (cps.length === 0) continue;
    let rest = decomment({ c: cps, col: cps.map((_, i) => i + 1) }, file, lineNo, d);
    if (rest.c.length === 0) continue;
    const inc = includeOf(rest, file, lineNo);
    if (inc !== undefined) {
      out.push(inc);
      continue;
    }
    // keepalived runs the residue after a brace through the same checks (substitutions, include), then cuts again.
    for (let first = true; rest.c.length > 0; first = false) {
      if (unsupportedLine(rest, file, lineNo, d)) break;
      if (!first) {
        const residueInclude = includeOf(rest, file, lineNo);
        if (residueInclude !== undefined) {
          out.push(residueInclude);
          break;
        }
      }
      const cut = braceCut(rest);
      let piece = rest;
      if (cut === 0) {
        let after = 1;
        while (isBlank(rest.c[after])) after++;
        piece = slice(rest, 0, 1);
        rest = slice(rest, after);
      } else if (cut !== undefined) {
        piece = trimEndBlanks(slice(rest, 0, cut));
        rest = slice(rest, cut);
      } else rest = slice(rest, rest.c.length);
      const words = splitWords(piece, file, lineNo, d);
      if (words.length > 0) out.push({ kind: 'line', words, raw: piece.c.join(''), loc: { file, line: lineNo, col: piece.col[0]! } });
    }
  }
  return out;
}

/**
 * splitQuotedEscaped is keepalived's alloc_strvec_quoted_escaped(), used for script command lines: words
 * are separated by blanks; '…' and "…" quote (and may sit inside a word); backslash escapes work inside
 * and outside quotes (\n, \t, \xHH…, \cX, octal \NNN, anything else stands for itself). Returns the
 * words, or a reason when keepalived refuses the text.
 */
export function splitQuotedEscaped(src: string): { words: string[] } | { error: string } {
  const s = [...src];
  const words: string[] = [];
  let i = 0;
  let quote: '"' | "'" | undefined;
  const isHex = (ch: string | undefined): boolean => ch !== undefined && /^[0-9a-fA-F]$/.test(ch);
  while (i < s.length) {
    while (isWhite(s[i])) i++;
    if (i >= s.length) break;
    let word = '';
    while (i < s.length) {
      const ch = s[i]!;
      if (ch === '\\') {
        i++;
        if (i >= s.length) return { error: 'a backslash at the end of the command has nothing to escape' };
        const e = s[i]!;
        if (e === 'x' && isHex(s[i + 1])) {
          let v = 0;
          i++;
          while (isHex(s[i])) v = ((v << 4) | parseInt(s[i++]!, 16)) & 0xff;
          word += String.fromCharCode(v);
        } else if (e === 'c' && i + 1 < s.length) {
          word += String.fromCharCode(s[i + 1]!.charCodeAt(0) & 0x1f);
          i += 2;
        } else if (e >= '0' && e <= '7') {
          let v = 0;
          for (let k = 0; k < 3 && s[i] !== undefined && s[i]! >= '0' && s[i]! <= '7'; k++) v = (v << 3) + Number(s[i++]);
          word += String.fromCharCode(v & 0xff);
        } else {
          const map: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
          word += map[e] ?? e;
          i++;
        }
        continue;
      }
      if (quote !== undefined) {
        if (ch === quote) quote = undefined;
        else word += ch;
        i++;
        continue;
      }
      if (ch === '"' || ch === "'") {
        quote = ch;
        i++;
        continue;
      }
      if (isWhite(ch)) break;
      word += ch;
      i++;
    }
    if (quote !== undefined) return { error: `missing terminating ${quote}` };
    words.push(word);
  }
  return { words };
}
