import type { Diagnostics, SourceLoc } from '../error.js';
import type { Piece, Word } from './lexer.js';

/**
 * Parser for keepalived.conf: turns the stream of pieces (lexer.ts, includes already expanded) into a
 * tree of statements. A statement is a line `keyword args…`; a `{` line right after it opens its block,
 * which ends at the matching `}` line. Whether a keyword may or must have a block is the schema's
 * business (keepalived decides it per keyword too); the tree only records what was written. Every
 * stray or missing brace is reported and parsing goes on.
 */

/** Statement is one configuration line and, if a block followed it, the block. */
export interface Statement {
  readonly keyword: Word;
  readonly args: readonly Word[];
  readonly raw: string; // the line as keepalived's handlers re-read it (scripts)
  readonly loc: SourceLoc;
  readonly block?: Block;
}

/** Block is the body of `{ … }`. */
export interface Block {
  readonly loc: SourceLoc; // the `{`
  readonly statements: readonly Statement[];
  readonly unclosed?: true; // the file ended inside it (checks that need the whole block are skipped)
}

const isBrace = (p: Piece, b: '{' | '}'): boolean => p.words.length === 1 && !p.words[0]!.quoted && p.words[0]!.text === b;

/** parseKeepalivedTree builds the statement tree of a whole configuration. */
export function parseKeepalivedTree(pieces: readonly Piece[], d: Diagnostics): Statement[] {
  let pos = 0;
  let unclosed = false;
  const body = (open: SourceLoc | undefined): Statement[] => {
    const out: { s: Statement; block?: Block }[] = [];
    let lastWasStatement = false;
    while (pos < pieces.length) {
      const p = pieces[pos++]!;
      if (isBrace(p, '}')) {
        if (open !== undefined) return out.map((x) => (x.block === undefined ? x.s : { ...x.s, block: x.block }));
        d.error(p.loc, 'CFG_SYNTAX', "extra '}': no block is open here");
        lastWasStatement = false;
        continue;
      }
      if (isBrace(p, '{')) {
        const prev = out[out.length - 1];
        unclosed = false;
        const statements = body(p.loc);
        const block: Block = unclosed ? { loc: p.loc, statements, unclosed } : { loc: p.loc, statements };
        if (lastWasStatement && prev !== undefined && prev.block === undefined) prev.block = block;
        else d.error(p.loc, 'CFG_SYNTAX', "unexpected '{': a block must follow a keyword line");
        lastWasStatement = false;
        continue;
      }
      const [keyword, ...args] = p.words;
      out.push({ s: { keyword: keyword!, args, raw: p.raw, loc: p.loc } });
      lastWasStatement = true;
    }
    if (open !== undefined) {
      const last = pieces[pieces.length - 1];
      const at = last === undefined ? open : { ...last.loc };
      d.error(at, 'CFG_SYNTAX', `missing '}' to close the block opened at ${open.file}:${open.line}:${open.col}`);
      unclosed = true;
    }
    return out.map((x) => (x.block === undefined ? x.s : { ...x.s, block: x.block }));
  };
  return body(undefined);
}
