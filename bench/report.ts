// Shared by the benchmarks: command-line options, median [min–max] formatting, percentiles, and
// rewriting one section of bench/RESULTS.md while keeping the others.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * checkArgs prints `usage` and exits on --help (or -h); every other argument must be one of the
 * `known` options followed by its value, else it throws with the usage.
 */
export function checkArgs(argv: readonly string[], known: readonly string[], usage: string): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    process.exit(0);
  }
  for (let i = 0; i < argv.length; i += 2) {
    const a = argv[i]!;
    if (!a.startsWith('--') || !known.includes(a.slice(2)) || argv[i + 1] === undefined) throw new Error(`bad option ${a}\n${usage}`);
  }
}

/** option reads `--name value` from argv, or the default. */
export function option(argv: readonly string[], name: string, dflt: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
}

/** numberOption is option() for a positive integer; anything else throws with the option's name. */
export function numberOption(argv: readonly string[], name: string, dflt: number): number {
  const v = Number(option(argv, name, String(dflt)));
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} wants a positive integer`);
  return v;
}

/** listOption reads `--name a,b,c`, refusing names outside `allowed`; the default is all of them. */
export function listOption<T extends string>(argv: readonly string[], name: string, allowed: readonly T[]): ReadonlySet<T> {
  const picked = option(argv, name, allowed.join(',')).split(',').filter((s) => s !== '');
  const bad = picked.filter((p) => !(allowed as readonly string[]).includes(p));
  if (bad.length > 0) throw new Error(`--${name}: unknown ${bad.join(', ')} (choose from ${allowed.join(',')})`);
  return new Set(picked as T[]);
}

/** median of the finite samples (NaN marks a failed sample and is left out); NaN when none. */
export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** percentile p (0–100) of the finite samples by nearest rank; NaN when none. */
export function percentile(xs: readonly number[], p: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  if (p === 50 && s.length % 2 === 0) return (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** range formats samples as "median [min–max]"; failed samples (NaN) are counted after it. */
export function range(xs: readonly number[], digits = 0): string {
  const ok = xs.filter(Number.isFinite);
  const failed = xs.length - ok.length;
  const tail = failed > 0 ? ` (${failed} of ${xs.length} failed)` : '';
  if (ok.length === 0) return `—${tail}`;
  if (ok.length === 1) return `${ok[0]!.toFixed(digits)}${tail}`;
  return `${median(ok).toFixed(digits)} [${Math.min(...ok).toFixed(digits)}–${Math.max(...ok).toFixed(digits)}]${tail}`;
}

/** ratio is median(ours) / median(theirs) with two decimals, or — when either has no sample. */
export function ratio(ours: readonly number[], theirs: readonly number[]): string {
  const r = median(ours) / median(theirs);
  return Number.isFinite(r) ? r.toFixed(2) : '—';
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
