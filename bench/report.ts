// Shared by the benchmarks: command-line options, median [min–max] formatting, and rewriting one
// section of bench/RESULTS.md while keeping the others.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** option reads `--name value` from argv, or the default. */
export function option(argv: readonly string[], name: string, dflt: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** range formats samples as "median [min–max]". */
export function range(xs: readonly number[], digits = 0): string {
  return `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`;
}

/**
 * writeSection replaces the `## ` section of `file` whose heading starts with `marker` by
 * `section` (or appends it), keeping the title and every other section as they are.
 */
export function writeSection(file: string, marker: string, section: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const parts = text.split(/\n(?=## )/);
  const i = parts.findIndex((p) => p.startsWith(marker));
  const body = section.trimEnd();
  if (i >= 0) parts[i] = body;
  else parts.push(body);
  writeFileSync(file, parts.map((p) => p.trimEnd()).join('\n\n') + '\n');
}
