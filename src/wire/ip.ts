import { DecodeError } from './decode-error.js';

/**
 * Addresses travel as text in canonical form: dotted quad for IPv4, RFC 5952 compressed lowercase
 * for IPv6 — the form inet_ntop(3) prints, so output matches conntrack-tools byte for byte.
 */
export type Family = 'ipv4' | 'ipv6';

/** formatIPv4 formats 4 bytes at `at` as a dotted quad. */
export function formatIPv4(b: Uint8Array, at = 0): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** formatIPv6 formats 16 bytes at `at` like glibc's inet_ntop (longest zero run ≥ 2 words → "::", IPv4-mapped tail kept). */
export function formatIPv6(b: Uint8Array, at = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  // ::ffff:a.b.c.d and ::a.b.c.d (not ::1 / ::) keep the dotted tail, as inet_ntop does.
  const v4tail = bestStart === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff));
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      if (v4tail) return out + (bestLen === 5 ? 'ffff:' : '') + formatIPv4(b, at + 12);
      continue;
    }
    out += w[i]!.toString(16) + (i < 7 ? ':' : '');
  }
  return out;
}

/** parseIPv4 parses a dotted quad as inet_pton(3) does (four decimal octets, no leading zeros) or returns undefined. */
export function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined; // inet_pton(3): no leading zeros
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** parseIPv6 parses RFC 4291 text (with "::" and an optional dotted IPv4 tail) or returns undefined. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const words = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.includes('.')) {
        if (i !== parts.length - 1) return undefined;
        const v4 = parseIPv4(p);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        out.push(parseInt(p, 16));
      }
    }
    return out;
  };
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((v, i) => {
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** addressBytes converts canonical text back to bytes, or throws DecodeError('BAD_VALUE'). */
export function addressBytes(text: string, family: Family): Uint8Array {
  const b = family === 'ipv4' ? parseIPv4(text) : parseIPv6(text);
  if (b === undefined) throw new DecodeError('BAD_VALUE', [], 0, `not an ${family} address: ${text}`);
  return b;
}
