import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A small glob(3) for keepalived's `include` (glob with GLOB_BRACE | GLOB_MARK): `{a,b}` alternatives
 * are expanded first and each alternative is matched in turn (its matches sorted, as glob sorts them);
 * within a path component `*`, `?` and `[…]` (with `!` or `^` negation) match, but never a leading `.`
 * unless the pattern has one. Directories are returned with a trailing `/` (GLOB_MARK). Node 20 has no
 * fs.glob; this is the part of glob(3) include files use.
 */

/** expandBraces expands `{a,b}` groups (nested allowed, left to right); unbalanced braces stay literal. */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  let close = -1;
  for (let i = open; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '{') depth++;
    else if (ch === '}') {
      depth--;
      if (depth === 0) {
        close = i;
        break;
      }
    } else if (ch === ',' && depth === 1) commas.push(i);
  }
  if (close < 0) return [pattern];
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = [open, ...commas, close];
  const out: string[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const alt = pattern.slice(bounds[k]! + 1, bounds[k + 1]);
    for (const e of expandBraces(head + alt + tail)) out.push(e);
  }
  return out;
}

const hasMagic = (s: string): boolean => /[*?[]/.test(s);

function componentRegExp(p: string): RegExp {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const ch = p[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const close = p.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = p.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = close;
    } else if (ch === '\\' && i + 1 < p.length) re += p[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function isDir(path: string): boolean | undefined {
  try {
    return statSync(path).isDirectory();
  } catch {
    return undefined;
  }
}

function matchOne(pattern: string): string[] {
  const absolute = pattern.startsWith('/');
  const parts = pattern.split('/').filter((p, i) => p !== '' || i === 0);
  let paths = [absolute ? '/' : ''];
  const comps = absolute ? parts.slice(1) : parts;
  for (let k = 0; k < comps.length; k++) {
    const comp = comps[k]!;
    const last = k === comps.length - 1;
    const next: string[] = [];
    for (const base of paths) {
      if (!hasMagic(comp)) {
        const p = base === '' ? comp : join(base, comp);
        if (last ? isDir(p) !== undefined : isDir(p) === true) next.push(p);
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base === '' ? '.' : base);
      } catch {
        continue;
      }
      const re = componentRegExp(comp);
      for (const n of names.sort()) {
        if (n.startsWith('.') && !comp.startsWith('.')) continue;
        if (!re.test(n)) continue;
        const p = base === '' ? n : join(base, n);
        if (last || isDir(p) === true) next.push(p);
      }
    }
    paths = next;
  }
  return paths.map((p) => (isDir(p) === true && !p.endsWith('/') ? `${p}/` : p));
}

/** GlobResult lists the matches, and whether the pattern had wildcards (no match is then not an error). */
export interface GlobResult {
  readonly paths: readonly string[];
  readonly wildcard: boolean;
}

/** globPattern matches an absolute pattern against the file system. */
export function globPattern(pattern: string): GlobResult {
  const alts = expandBraces(pattern);
  const paths: string[] = [];
  for (const a of alts) paths.push(...matchOne(a));
  return { paths, wildcard: alts.some(hasMagic) };
}
