import type { SourceLoc } from '../error.js';
import type { ContextName } from './keywords.js';
import type { ReservedWord, Token } from './lexer.js';

/** ArgValue is a token used as a value: anything but braces, stray characters and the end of file. */
export type ArgValue = Exclude<Token, { kind: '{' | '}' | 'eof' | 'char' }>;

/** Statement is `Keyword args… [{ … }]` as written; `keyword` is the canonical word, `spelling` the text. */
export interface Statement {
  readonly keyword: ReservedWord;
  readonly spelling: string;
  readonly loc: SourceLoc;
  readonly args: readonly ArgValue[];
  readonly block?: Block;
}

/**
 * Block is the body of `{ … }`: statements for keyword blocks, items for list blocks (Filter Protocol,
 * ExpectationSync, and the states of Filter State). `broken` is set when a syntax error was found inside,
 * so that later checks do not pile "missing …" errors on top of it.
 */
export interface Block {
  readonly context: ContextName;
  readonly loc: SourceLoc;
  readonly statements: readonly Statement[];
  readonly items: readonly ArgValue[];
  readonly broken: boolean;
}

/** ConfigAst is a parsed file: its top-level sections in file order. */
export interface ConfigAst {
  readonly file: string;
  readonly sections: readonly Statement[];
}
