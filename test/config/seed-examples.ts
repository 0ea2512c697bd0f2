import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The example configurations of conntrack-tools (doc/sync/{ftfw,alarm,notrack}/conntrackd.conf,
 * doc/stats/conntrackd.conf and their .orig variants) are read at run time from a seed file, a git patch
 * kept in ../shared beside the repository (CI clones the repository with shared/ next to it); they are
 * not copied into this repository. The patch was saved from a web page, which joined its lines with
 * spaces: each added line reads " +text". Both that form and a normal patch are understood, and the
 * number of lines must match the hunk header.
 */

const SEED = '004_87f0dd90c5a0e8fd.txt';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** SEED_PATH is where the seed is expected: ../shared/seeds beside the repository root. */
export const SEED_PATH = join(repoRoot(), '..', 'shared', 'seeds', SEED);

/** EXAMPLE_FILES are the files of the patch that must parse unchanged. */
export const EXAMPLE_FILES = [
  'doc/sync/ftfw/conntrackd.conf',
  'doc/sync/ftfw/conntrackd.conf.orig',
  'doc/sync/alarm/conntrackd.conf',
  'doc/sync/alarm/conntrackd.conf.orig',
  'doc/sync/notrack/conntrackd.conf',
  'doc/stats/conntrackd.conf',
  'doc/stats/conntrackd.conf.orig',
] as const;
export type ExampleFile = (typeof EXAMPLE_FILES)[number];

/** seedSkipReason says why the example tests cannot run here, or undefined when they can. */
export function seedSkipReason(): string | undefined {
  return existsSync(SEED_PATH) ? undefined : `seed file ${SEED_PATH} is absent (it lives in ../shared beside the repository)`;
}

/** extractNewFile rebuilds the text of a file that the patch creates ("new file", hunk -0,0 +1,N). */
export function extractNewFile(patch: string, path: string): string {
  const start = patch.indexOf(`diff --git a/${path} b/${path}`);
  if (start < 0) throw new Error(`${path}: not in the patch`);
  const next = patch.indexOf('diff --git ', start + 1);
  const section = patch.slice(start, next < 0 ? patch.length : next);
  const hunk = /@@ -0,0 \+1(?:,(\d+))? @@/.exec(section);
  if (hunk === null) throw new Error(`${path}: no hunk creating the file`);
  const want = Number(hunk[1] ?? 1);
  const body = section.slice(hunk.index + hunk[0].length);
  let lines: string[];
  if (body.includes('\n+')) {
    // A normal patch: one added line per text line.
    lines = body
      .split('\n')
      .filter((l) => l.startsWith('+'))
      .map((l) => l.slice(1));
  } else {
    // Lines joined with spaces: " +line1 +line2 …" (the first '+' follows the hunk header's space).
    const joined = body.replace(/^ /, '').replace(/[ \n]+$/, '');
    if (!joined.startsWith('+')) throw new Error(`${path}: unexpected hunk body`);
    lines = joined.slice(1).split(' +');
  }
  if (lines.length !== want) throw new Error(`${path}: ${lines.length} lines rebuilt, the hunk header says ${want}`);
  return lines.join('\n') + '\n';
}

/** loadExamples reads the seed and rebuilds every example file. */
export function loadExamples(): ReadonlyMap<ExampleFile, string> {
  const patch = readFileSync(SEED_PATH, 'utf8');
  return new Map(EXAMPLE_FILES.map((f) => [f, extractNewFile(patch, f)]));
}
