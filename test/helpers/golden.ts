import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMessages, type NlMessage } from '../../src/netlink/message.js';
import { parseAnnotatedHex } from '../../src/wire/hex.js';

/**
 * Golden files (test/golden/*.hex) hold one netlink message each, captured from the real kernel and
 * conntrack(8) by scripts/capture-golden.sh, with a '#' provenance header. Tests run from compiled
 * output (dist/test/… or dist-x/test/…), so the directory is found by walking up to the repository root.
 */
function findGoldenDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'test', 'golden');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('test/golden not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const GOLDEN_DIR = findGoldenDir();

/** Golden is one captured message: its bytes, the decoded netlink header and the provenance header lines. */
export interface Golden {
  readonly name: string;
  readonly raw: Uint8Array;
  readonly msg: NlMessage;
  /** `# key: value` lines of the header (command, capture, kernel, conntrack, conntrack-output…). */
  readonly header: ReadonlyMap<string, string>;
}

/** loadGolden reads test/golden/<name>; the file must hold exactly one netlink message. */
export function loadGolden(name: string): Golden {
  const text = readFileSync(join(GOLDEN_DIR, name), 'utf8');
  const raw = parseAnnotatedHex(text);
  const msgs = decodeMessages(raw);
  if (msgs.length !== 1) throw new Error(`${name}: ${msgs.length} messages, want 1`);
  const header = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^# ([a-z-]+): (.*)$/.exec(line);
    if (m !== null && !header.has(m[1]!)) header.set(m[1]!, m[2]!);
  }
  return { name, raw, msg: msgs[0]!, header };
}

/**
 * goldenNames lists the netlink golden files whose name starts with `prefix`. The sync protocol's
 * captures (sync-*.hex: UDP payloads, not netlink messages) have their own loader (test/sync).
 */
export function goldenNames(prefix = ''): string[] {
  return readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith('.hex') && !f.startsWith('sync-') && f.startsWith(prefix))
    .sort();
}

/** hex turns a hex string into bytes (for expected values). */
export function hex(s: string): Uint8Array {
  return parseAnnotatedHex(s);
}

/**
 * zeroPadding returns a copy of an attribute stream (from `start`) with the NLA_ALIGN padding bytes
 * set to zero, recursing into NLA_F_NESTED attributes. conntrack 1.4.7 builds some requests with
 * libnfnetlink, which leaves padding uninitialised; the kernel never reads it, so golden request
 * comparisons normalise it.
 */
export function zeroPadding(bytes: Uint8Array, start = 0): Uint8Array {
  const out = Uint8Array.from(bytes);
  const walk = (s: number, e: number): void => {
    for (let o = s; o + 4 <= e; ) {
      const len = out[o]! | (out[o + 1]! << 8);
      const type = out[o + 2]! | (out[o + 3]! << 8);
      if (len < 4 || o + len > e) return;
      if ((type & 0x8000) !== 0) walk(o + 4, o + len);
      const next = o + ((len + 3) & ~3);
      out.fill(0, o + len, Math.min(next, e));
      o = next;
    }
  };
  walk(start, out.length);
  return out;
}
