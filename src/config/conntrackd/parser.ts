import type { Diagnostics, SourceLoc } from '../error.js';
import type { ArgValue, Block, ConfigAst, Statement } from './ast.js';
import { CONTEXTS, TCP_STATES, type ArgSpec, type ContextName, type Form, contextsAccepting, keywordRule } from './keywords.js';
import { RESERVED_WORDS, type ReservedWord, type Token } from './lexer.js';

/**
 * Parser for conntrackd.conf: turns tokens into an AST following the grammar table in keywords.ts.
 * Unlike conntrackd (which stops at the first syntax error) it reports every error it finds: after an
 * error it skips to the next keyword of the current block, the end of the block, or over a whole
 * `{ … }` group, and goes on. It checks only the shape of the text; values are judged by schema.ts.
 */

const describeSpec = (a: ArgSpec): string => {
  if (a === 'bool') return 'on or off';
  if (a === 'number') return 'a number';
  if (a === 'signed') return 'a number with a sign (like -20 or +0)';
  if (a === 'path') return "a path starting with '/'";
  if (a === 'ip') return 'an IP address';
  if (a === 'string') return 'a name';
  if (a === 'mark') return 'a mark (0x1f, 0x1/0xff, 5/0xff)';
  if ('word' in a) return a.word.map((w) => `'${w}'`).join(' or ');
  return a.mode;
};

const describeForm = (f: Form): string =>
  [...f.args.map(describeSpec), ...(f.block === undefined ? [] : ["'{'"])].join(' then ') || 'nothing';

/** describeToken names a token in an error message, with a hint where conntrackd's scanner surprises. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the file';
    case '{':
    case '}':
      return `'${t.text}'`;
    case 'char': {
      if (t.openComment === true) return "a '#' comment with no line break after it (conntrackd 1.4.7 only ends a comment at a line feed)";
      const cp = t.text.codePointAt(0)!;
      if (cp < 0x20 || cp === 0x7f || cp > 0x7e) {
        const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
        return `the character ${hex} (conntrackd 1.4.7 takes a NUL or non-ASCII byte for the end of the file)`;
      }
      if (t.text === '"') return "'\"' (the syntax has no quoted strings)";
      if (t.text === ';' || t.text === '=') return `'${t.text}' (the syntax has no ';' or '=')`;
      return `'${t.text}'`;
    }
    case 'ip':
      return /^[0-9a-fA-F]+$/.test(t.text) && /[a-fA-F]/.test(t.text)
        ? `'${t.text}' (conntrackd's scanner reads it as an IPv6 address, not a name)`
        : `the address ${t.text}`;
    case 'number':
      return `the number ${t.text}`;
    case 'signed':
      return `the signed number ${t.text}`;
    case 'path':
      return `the path ${t.text}`;
    case 'mark':
      return `the mark ${t.text}`;
    case 'bool':
      return `'${t.text}'`;
    case 'mode':
      return `the mode name '${t.text}'`;
    case 'word':
    case 'string':
      return `'${t.text}'`;
  }
}

function matches(spec: ArgSpec, t: Token): boolean {
  if (typeof spec === 'string') return t.kind === spec;
  if ('word' in spec) return t.kind === 'word' && spec.word.includes(t.word);
  return t.kind === 'mode' && t.mode === spec.mode;
}

const caseInsensitiveKeyword = (text: string): ReservedWord | undefined => {
  const lower = text.toLowerCase();
  for (const [spelling, word] of Object.entries(RESERVED_WORDS)) if (spelling.toLowerCase() === lower) return word;
  return undefined;
};

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: readonly Token[],
    private readonly diag: Diagnostics,
  ) {}

  private peek(k = 0): Token {
    return this.tokens[Math.min(this.pos + k, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  /** statements parses the body of a keyword block (or the file when `open` is undefined) up to its '}'. */
  statements(ctx: ContextName, open: SourceLoc | undefined): { statements: Statement[]; broken: boolean } {
    const out: Statement[] = [];
    let broken = false;
    const title = CONTEXTS[ctx].title;
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') {
        if (open !== undefined) {
          this.diag.error(t.loc, 'CFG_SYNTAX', `missing '}' to close ${title}, opened at ${open.line}:${open.col}`);
          broken = true;
        }
        return { statements: out, broken };
      }
      if (t.kind === '}') {
        this.next();
        if (open !== undefined) return { statements: out, broken };
        this.diag.error(t.loc, 'CFG_SYNTAX', "unexpected '}': no block is open here");
        broken = true;
        continue;
      }
      const rule = t.kind === 'word' ? keywordRule(ctx, t.word) : undefined;
      if (t.kind !== 'word' || rule === undefined) {
        this.unexpectedInBlock(ctx, t);
        broken = true;
        if (this.next().kind === '{') this.skipGroup();
        else this.skipStatement(ctx);
        continue;
      }
      const s = this.statement(t, rule.forms);
      if (s === undefined) {
        broken = true;
        this.skipStatement(ctx);
      } else {
        out.push(s);
        if (s.block?.broken === true) broken = true;
      }
    }
  }

  private unexpectedInBlock(ctx: ContextName, t: Token): void {
    const title = CONTEXTS[ctx].title;
    if (t.kind === 'word') {
      const where = contextsAccepting(t.word).map((c) => CONTEXTS[c].title);
      const msg =
        where.length > 0
          ? `'${t.text}' is not allowed in ${title} (it belongs in ${where.join(', ')})`
          : `'${t.text}' cannot start a statement in ${title}`;
      this.diag.error(t.loc, where.length > 0 ? 'CFG_MISPLACED' : 'CFG_SYNTAX', msg);
      return;
    }
    if (t.kind === 'string' || t.kind === 'mode' || t.kind === 'bool') {
      const near = caseInsensitiveKeyword(t.text);
      const hint =
        near !== undefined && keywordRule(ctx, near) !== undefined ? ` (keywords are case-sensitive: '${near}')` : '';
      this.diag.error(t.loc, 'CFG_UNKNOWN_KEYWORD', `unknown keyword '${t.text}' in ${title}${hint}`);
      return;
    }
    this.diag.error(t.loc, 'CFG_SYNTAX', `expected a keyword or '}' in ${title}; got ${describeToken(t)}`);
  }

  /** statement reads a keyword's arguments and block by the first form that fits. */
  private statement(kw: Token & { kind: 'word' }, forms: readonly Form[]): Statement | undefined {
    let bestLen = -1;
    let chosen: Form | undefined;
    for (const f of forms) {
      let n = 0;
      while (n < f.args.length && matches(f.args[n]!, this.peek(1 + n))) n++;
      const full = n === f.args.length && (f.block === undefined || this.peek(1 + n).kind === '{');
      if (full) {
        chosen = f;
        break;
      }
      bestLen = Math.max(bestLen, n);
    }
    if (chosen === undefined) {
      const bad = this.peek(1 + bestLen);
      const expected = forms.map(describeForm).join(', or ');
      let hint = '';
      if (forms.some((f) => f.args.includes('number')) && bad.kind === 'signed') hint = ' (no sign allowed)';
      this.diag.error(
        bad.loc,
        'CFG_SYNTAX',
        `${kw.text} expects ${expected}; got ${describeToken(bad)}${hint}`,
      );
      this.next(); // the keyword
      for (let i = 0; i < bestLen; i++) this.next();
      return undefined;
    }
    this.next();
    const args: ArgValue[] = [];
    for (let i = 0; i < chosen.args.length; i++) args.push(this.next() as ArgValue);
    if (chosen.block === undefined) return { keyword: kw.word, spelling: kw.text, loc: kw.loc, args };
    const open = this.next();
    return { keyword: kw.word, spelling: kw.text, loc: kw.loc, args, block: this.block(chosen.block, open.loc) };
  }

  private block(ctx: ContextName, open: SourceLoc): Block {
    const spec = CONTEXTS[ctx];
    if (spec.kind === 'statements') {
      const { statements, broken } = this.statements(ctx, open);
      return { context: ctx, loc: open, statements, items: [], broken };
    }
    const items: ArgValue[] = [];
    let broken = false;
    let pending: ArgValue[] = []; // TCP states not yet followed by `for TCP`
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') {
        this.diag.error(t.loc, 'CFG_SYNTAX', `missing '}' to close ${spec.title}, opened at ${open.line}:${open.col}`);
        return { context: ctx, loc: open, statements: [], items, broken: true };
      }
      if (t.kind === '}') {
        this.next();
        if (pending.length > 0) {
          this.diag.error(t.loc, 'CFG_SYNTAX', "expected 'for TCP' after the TCP states; got '}'");
          broken = true;
        }
        return { context: ctx, loc: open, statements: [], items, broken };
      }
      this.next();
      if (spec.kind === 'items') {
        if (spec.items.some((s) => matches(s, t))) items.push(t as ArgValue);
        else {
          this.diag.error(t.loc, 'CFG_SYNTAX', `${spec.title} expects ${spec.itemDoc}; got ${describeToken(t)}`);
          broken = true;
          if (t.kind === '{') this.skipGroup();
        }
        continue;
      }
      // Filter State: STATE* for TCP, repeated.
      if (t.kind === 'word' && isTcpState(t.word)) pending.push(t);
      else if (t.kind === 'word' && t.word === 'for') {
        const p = this.peek();
        if (p.kind === 'word' && p.word === 'TCP') {
          this.next();
          items.push(...pending);
          pending = [];
        } else {
          this.diag.error(p.loc, 'CFG_SYNTAX', `'for' must be followed by 'TCP'; got ${describeToken(p)}`);
          broken = true;
          pending = [];
          if (p.kind !== '}' && p.kind !== 'eof') this.next();
        }
      } else {
        this.diag.error(t.loc, 'CFG_SYNTAX', `Filter State expects TCP state names followed by 'for TCP'; got ${describeToken(t)}`);
        broken = true;
        if (t.kind === '{') this.skipGroup();
      }
    }
  }

  /** skipStatement skips to the next keyword of `ctx`, a '}' of this block, or past one `{ … }` group. */
  private skipStatement(ctx: ContextName): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof' || t.kind === '}') return;
      if (t.kind === 'word' && keywordRule(ctx, t.word) !== undefined) return;
      this.next();
      if (t.kind === '{') {
        this.skipGroup();
        return;
      }
    }
  }

  /** skipGroup skips to the '}' that closes a '{' just consumed. */
  private skipGroup(): void {
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t.kind === 'eof') return;
      if (t.kind === '{') depth++;
      else if (t.kind === '}') depth--;
    }
  }
}

const STATE_WORDS: ReadonlySet<string> = new Set(TCP_STATES);
const isTcpState = (w: ReservedWord): boolean => STATE_WORDS.has(w);

/** parseConntrackdAst parses tokens from lexConntrackd into an AST, reporting syntax errors to `diag`. */
export function parseConntrackdAst(tokens: readonly Token[], file: string, diag: Diagnostics): ConfigAst {
  const p = new Parser(tokens, diag);
  return { file, sections: p.statements('top', undefined).statements };
}
