import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Family } from '../../src/wire/ip.js';
import { parseAnnotatedHex } from '../../src/wire/hex.js';
import { GOLDEN_DIR } from '../helpers/golden.js';

/**
 * VRRP golden files (test/golden/vrrp/*.hex) hold one advertisement each (the IP payload), sent by
 * keepalived 2.2.7 and captured with tcpdump by scripts/capture-vrrp-golden.mjs, with a '#'
 * provenance header that includes the IP source, destination and TTL of the packet.
 */
export interface VrrpGolden {
  readonly name: string;
  readonly raw: Uint8Array;
  readonly family: Family;
  readonly src: string;
  readonly dst: string;
  readonly ttl: number;
  readonly header: ReadonlyMap<string, string>;
}

export const VRRP_GOLDEN_DIR = join(GOLDEN_DIR, 'vrrp');

export function loadVrrpGolden(name: string): VrrpGolden {
  const text = readFileSync(join(VRRP_GOLDEN_DIR, name), 'utf8');
  const header = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^# ([a-z-]+): (.*)$/.exec(line);
    if (m !== null && !header.has(m[1]!)) header.set(m[1]!, m[2]!);
  }
  const need = (k: string): string => {
    const v = header.get(k);
    if (v === undefined) throw new Error(`${name}: no '# ${k}:' header line`);
    return v;
  };
  const family = need('family');
  if (family !== 'ipv4' && family !== 'ipv6') throw new Error(`${name}: family ${family}`);
  return { name, raw: parseAnnotatedHex(text), family, src: need('ip-src'), dst: need('ip-dst'), ttl: Number(need('ttl')), header };
}

export function vrrpGoldenNames(): string[] {
  return readdirSync(VRRP_GOLDEN_DIR)
    .filter((f) => f.endsWith('.hex'))
    .sort();
}
