import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Fixtures of test/fixtures/control: what the real conntrackd 1.4.7 printed, captured by
 * test/fixtures/control/capture.sh. Each file is a '#' provenance header ending with the line
 * "#---", then the client's stdout byte for byte. Tests run from compiled output, so the
 * directory is found by walking up to the repository root.
 */
function findDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'test', 'fixtures', 'control');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('test/fixtures/control not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const FIXTURE_DIR = findDir();

/** Fixture is one capture: its output and header fields. */
export interface Fixture {
  readonly name: string;
  /** body: what conntrackd wrote on stdout. */
  readonly body: string;
  /** status: conntrackd's exit status. */
  readonly status: number;
  /** stderr: conntrackd's stderr with the time and pid of its log lines replaced by <time> and <pid>, lines joined by spaces. */
  readonly stderr: string;
  readonly header: ReadonlyMap<string, string>;
}

const SEPARATOR = '\n#---\n';

/** loadFixture reads test/fixtures/control/<name>. */
export function loadFixture(name: string): Fixture {
  const text = readFileSync(join(FIXTURE_DIR, name), 'utf8');
  const at = text.indexOf(SEPARATOR);
  if (at < 0) throw new Error(`${name}: no "#---" line`);
  const header = new Map<string, string>();
  for (const line of text.slice(0, at).split('\n')) {
    const m = /^# ([a-z ]+): (.*)$/.exec(line);
    if (m !== null) header.set(m[1]!, m[2]!);
  }
  const status = Number(header.get('exit status'));
  if (!Number.isInteger(status)) throw new Error(`${name}: no exit status in the header`);
  return { name, body: text.slice(at + SEPARATOR.length), status, stderr: (header.get('stderr') ?? '').trim(), header };
}

/** fixtureNames lists the fixtures whose names match. */
export function fixtureNames(re: RegExp): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((n) => n.endsWith('.txt') && re.test(n))
    .sort();
}

/** Scanner reads the decimal numbers of a text in order (words such as "sync0" are skipped). */
export class Scanner {
  private readonly nums: bigint[];
  private at = 0;
  constructor(text: string) {
    this.nums = [...text.matchAll(/(?<![\w.])\d+(?![\w.])/g)].map((m) => BigInt(m[0]));
  }
  /** b is the next number as a 64-bit counter. */
  b(): bigint {
    const v = this.nums[this.at++];
    if (v === undefined) throw new Error('Scanner: no more numbers');
    return v;
  }
  /** u is the next number as a 32-bit counter. */
  u(): number {
    return Number(this.b());
  }
  /** done asserts every number was read. */
  done(): void {
    if (this.at !== this.nums.length) throw new Error(`Scanner: ${this.nums.length - this.at} numbers left`);
  }
}
