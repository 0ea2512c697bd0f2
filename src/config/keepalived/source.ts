import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Diagnostics, SourceLoc } from '../error.js';
import { globPattern, type GlobResult } from './glob.js';
import { lexKeepalived, type Piece } from './lexer.js';

/**
 * Reading keepalived.conf with its includes, as keepalived 2.2.7 does (lib/parser.c): an `include`
 * line is replaced by the lines of every file its glob pattern matches, in glob order; a relative
 * pattern is relative to the directory of the file the `include` is in (keepalived chdir()s there);
 * includes nest; a block may open in one file and close in another (it is all one stream of lines).
 * Directories and executable files that a pattern matches are skipped by keepalived with an error: here
 * they are errors. A pattern without wildcards that matches nothing is an error here (keepalived only
 * logs it for plain `include`); a pattern with wildcards may match nothing (`includew` and `includea`
 * make that an error, as in keepalived).
 */

/** ConfigFs is the file-system port of the loader (tests pass their own; the default is node:fs). */
export interface ConfigFs {
  /** readText returns the file's text; it throws (any error) when the file cannot be read. */
  readText(path: string): string;
  /** kind tells what is at `path` (following links), or undefined when nothing is. */
  kind(path: string): 'file' | 'executable' | 'directory' | 'other' | undefined;
  /** glob matches an absolute pattern (GLOB_BRACE | GLOB_MARK semantics). */
  glob(pattern: string): GlobResult;
}

/** NODE_FS is ConfigFs over node:fs. */
export const NODE_FS: ConfigFs = {
  readText: (path) => readFileSync(path, 'utf8'),
  kind: (path) => {
    try {
      const st = statSync(path);
      if (st.isDirectory()) return 'directory';
      if (!st.isFile()) return 'other';
      return (st.mode & 0o111) !== 0 ? 'executable' : 'file';
    } catch {
      return undefined;
    }
  },
  glob: globPattern,
};

/** MAX_INCLUDE_DEPTH bounds nesting (keepalived has no bound and recurses until it runs out of files). */
const MAX_INCLUDE_DEPTH = 32;

/** MAX_BRACE_GROUPS bounds `{a,b}` groups in one pattern: each one multiplies the patterns to match. */
const MAX_BRACE_GROUPS = 8;

/** LoadedSource is every piece of the configuration in reading order, and the files that were read. */
export interface LoadedSource {
  readonly pieces: readonly Piece[];
  readonly files: readonly string[];
}

const reason = (e: unknown): string =>
  e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : e instanceof Error ? e.message : String(e);

/** loadKeepalivedSource reads `path` and everything it includes; problems go to `d`, it never throws. */
export function loadKeepalivedSource(path: string, d: Diagnostics, fs: ConfigFs = NODE_FS): LoadedSource {
  const pieces: Piece[] = [];
  const files: string[] = [];
  const open = new Set<string>(); // files being read (cycle detection)

  const readFile = (file: string, at: SourceLoc | undefined, depth: number): void => {
    const abs = resolve(file);
    if (open.has(abs)) {
      d.error(at ?? { file, line: 1, col: 1 }, 'CFG_BAD_VALUE', `include loop: ${file} includes itself (directly or through other files)`);
      return;
    }
    let text: string;
    try {
      text = fs.readText(abs);
    } catch (e) {
      d.error(at ?? { file, line: 1, col: 1 }, 'CFG_MISSING', `cannot read ${file}: ${reason(e)}`);
      return;
    }
    files.push(file);
    open.add(abs);
    for (const item of lexKeepalived(text, file, d)) {
      if (item.kind === 'line') {
        pieces.push(item);
        continue;
      }
      if (depth >= MAX_INCLUDE_DEPTH) {
        d.error(item.loc, 'CFG_BAD_VALUE', `includes nested more than ${MAX_INCLUDE_DEPTH} deep`);
        continue;
      }
      if (item.pattern === '') {
        d.error(item.loc, 'CFG_SYNTAX', `include${item.variant} needs a file name or pattern`);
        continue;
      }
      if ((item.pattern.match(/\{/g) ?? []).length > MAX_BRACE_GROUPS) {
        d.error(item.loc, 'CFG_BAD_VALUE', `include ${item.pattern}: more than ${MAX_BRACE_GROUPS} '{…}' groups`);
        continue;
      }
      const pattern = isAbsolute(item.pattern) ? item.pattern : resolve(dirname(abs), item.pattern);
      const g = fs.glob(pattern);
      if (g.paths.length === 0) {
        if (!g.wildcard) d.error(item.loc, 'CFG_MISSING', `include: no file ${item.pattern} (looked for ${pattern})`);
        else if (item.variant === 'w' || item.variant === 'a') d.error(item.loc, 'CFG_MISSING', `include${item.variant}: no file matches ${item.pattern}`);
        continue;
      }
      for (const m of g.paths) {
        const kind = m.endsWith('/') ? 'directory' : fs.kind(m);
        if (kind === 'directory' || kind === 'executable' || kind === 'other') {
          const what = kind === 'directory' ? 'a directory' : kind === 'executable' ? 'an executable file' : 'not a regular file';
          d.error(item.loc, 'CFG_BAD_VALUE', `include ${item.pattern}: ${m} is ${what} (keepalived skips it)`);
          continue;
        }
        readFile(m, item.loc, depth + 1);
      }
    }
    open.delete(abs);
  };

  readFile(path, undefined, 0);
  return { pieces, files };
}
