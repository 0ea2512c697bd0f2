import { readFileSync } from 'node:fs';
import { strtoul } from './cstr.js';

/** CONNLABEL_CONF is where libnetfilter_conntrack reads label names (bit number, then name). */
export const CONNLABEL_CONF = '/etc/xtables/connlabel.conf';

/** LabelMap is struct nfct_labelmap: names by bit (`namecount` = highest bit + 1) and bits by name. */
export interface LabelMap {
  readonly namecount: number;
  readonly bitToName: readonly (string | undefined)[];
  readonly nameToBit: ReadonlyMap<string, number>;
}

/** labelName is nfct_labelmap_get_name: '' for an unnamed bit below namecount, undefined above. */
export function labelName(m: LabelMap, bit: number): string | undefined {
  if (bit < m.namecount) return m.bitToName[bit] ?? '';
  return undefined;
}

/** labelBit is nfct_labelmap_get_bit: -1 when the name is unknown or there is no map. */
export function labelBit(m: LabelMap | undefined, name: string): number {
  return m?.nameToBit.get(name) ?? -1;
}

const MAX_BITS = 1024;
const POSIX_SPACE = /^[ \f\r\t\v]+|[ \f\r\t\v]+$/g;

/**
 * parseLabelMap is nfct_labelmap_new's parser: `#` comments, a number (C notation, below 1024)
 * then a name of letters, digits, spaces and '-'; the first line for a bit or a name wins.
 * Returns undefined when no label was found (the library then returns NULL with errno 0).
 */
export function parseLabelMap(text: string): LabelMap | undefined {
  const byName = new Map<string, number>();
  const seen = new Set<number>();
  let maxbit = 0;
  // fgets() reads at most 1023 bytes per call: longer lines continue as new "lines".
  const lines: string[] = [];
  for (const raw of text.split(/(?<=\n)/)) {
    for (let i = 0; i < raw.length; i += 1023) lines.push(raw.slice(i, i + 1023));
  }
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    const r = strtoul(line, 0);
    if (r.end === 0 && r.value === 0n) continue;
    if (r.value >= BigInt(MAX_BITS)) continue;
    const bit = Number(r.value);
    if (seen.has(bit)) continue;
    let rest = line.slice(r.end);
    const nl = rest.indexOf('\n');
    if (nl >= 0) rest = rest.slice(0, nl);
    const name = rest.replace(POSIX_SPACE, '');
    if (name === '') continue;
    if (!/^[a-zA-Z0-9 -]*$/.test(name) || byName.has(name)) continue;
    byName.set(name, bit);
    if (bit > maxbit) maxbit = bit;
    seen.add(bit);
  }
  if (byName.size === 0) return undefined;
  const bitToName: (string | undefined)[] = new Array<string | undefined>(maxbit + 1).fill(undefined);
  for (const [name, bit] of byName) bitToName[bit] = name;
  return { namecount: maxbit + 1, bitToName, nameToBit: byName };
}

/** LabelLoad is the map, or the errno the library would leave behind (0 for "file without labels"). */
export type LabelLoad = { readonly map: LabelMap } | { readonly map: undefined; readonly errno: number };

const ERRNO_OF: Readonly<Record<string, number>> = { ENOENT: 2, EACCES: 13, EISDIR: 0, ENOTDIR: 20, ELOOP: 40, EPERM: 1 };

/** loadLabelMap reads CONNLABEL_CONF (or `path`). */
export function loadLabelMap(path = CONNLABEL_CONF): LabelLoad {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    return { map: undefined, errno: ERRNO_OF[code] ?? 5 };
  }
  const map = parseLabelMap(text);
  return map === undefined ? { map: undefined, errno: 0 } : { map };
}
