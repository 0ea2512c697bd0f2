import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAnnotatedHex } from '../../src/wire/hex.js';
import { GOLDEN_DIR } from '../helpers/golden.js';

/**
 * Sync golden files (test/golden/sync-*.hex) hold one UDP payload each — one or more conntrackd
 * messages — captured from conntrackd 1.4.7 on the wire by scripts/capture-sync-golden.sh, with a
 * '#' provenance header (what, sender and its config, capture, kernel, conntrackd version).
 */
export interface SyncGolden {
  readonly name: string;
  readonly raw: Uint8Array;
  readonly header: ReadonlyMap<string, string>;
}

export function loadSyncGolden(name: string): SyncGolden {
  const text = readFileSync(join(GOLDEN_DIR, name), 'utf8');
  const header = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^# ([a-z-]+): (.*)$/.exec(line);
    if (m !== null && !header.has(m[1]!)) header.set(m[1]!, m[2]!);
  }
  return { name, raw: parseAnnotatedHex(text), header };
}

export function syncGoldenNames(): string[] {
  return readdirSync(GOLDEN_DIR)
    .filter((f) => f.startsWith('sync-') && f.endsWith('.hex'))
    .sort();
}
