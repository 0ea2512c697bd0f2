/**
 * C library conversions as glibc performs them, so that `keepstate conntrack` reads numbers and
 * addresses exactly as conntrack(8) does: `-t 1e3` is 1, `-m 0x10/0xf0` is hex, `-s 10.1` is
 * 10.0.0.1 (inet_aton), `--sport 70000` wraps to 4464 (htons of an int). Results are plain numbers
 * already truncated to the width the C code stores them in; 64-bit intermediates use bigint.
 */

const ULONG_MAX = (1n << 64n) - 1n;
const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/** isCSpace is isspace(3) in the C locale. */
function isCSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function digitValue(c: string | undefined): number {
  if (c === undefined) return 99;
  const k = c.charCodeAt(0);
  if (k >= 48 && k <= 57) return k - 48;
  if (k >= 97 && k <= 122) return k - 87;
  if (k >= 65 && k <= 90) return k - 55;
  return 99;
}

/** StrtoResult is a converted value and the index of the first unconverted character (C's endptr). */
export interface StrtoResult {
  readonly value: bigint;
  readonly end: number;
  readonly overflow: boolean;
}

/** scan is the common part of strtol/strtoul: magnitude, sign and end, before range handling. */
function scan(s: string, base: number): { neg: boolean; mag: bigint; end: number; any: boolean; big: boolean } {
  let i = 0;
  while (isCSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  if ((base === 0 || base === 16) && s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X') && digitValue(s[i + 2]) < 16) {
    i += 2;
    base = 16;
  } else if (base === 0) {
    base = s[i] === '0' ? 8 : 10;
  }
  const b = BigInt(base);
  let mag = 0n;
  let any = false;
  let big = false;
  for (;;) {
    const d = digitValue(s[i]);
    if (d >= base) break;
    any = true;
    if (!big) {
      mag = mag * b + BigInt(d);
      if (mag > ULONG_MAX) big = true;
    }
    i++;
  }
  return { neg, mag, end: any ? i : 0, any, big };
}

/** strtoul is strtoul(3) on an LP64 system: wraps negatives, saturates at ULONG_MAX on overflow. */
export function strtoul(s: string, base = 0): StrtoResult {
  const r = scan(s, base);
  if (!r.any) return { value: 0n, end: 0, overflow: false };
  if (r.big) return { value: ULONG_MAX, end: r.end, overflow: true };
  return { value: r.neg ? (ULONG_MAX + 1n - r.mag) & ULONG_MAX : r.mag, end: r.end, overflow: false };
}

/** strtol is strtol(3) on an LP64 system: saturates at LONG_MIN/LONG_MAX. */
export function strtol(s: string, base = 0): StrtoResult {
  const r = scan(s, base);
  if (!r.any) return { value: 0n, end: 0, overflow: false };
  const v = r.neg ? -r.mag : r.mag;
  if (r.big || v > LONG_MAX) return { value: r.neg ? LONG_MIN : LONG_MAX, end: r.end, overflow: true };
  if (v < LONG_MIN) return { value: LONG_MIN, end: r.end, overflow: true };
  return { value: v, end: r.end, overflow: false };
}

/** atol is atol(3): strtol in base 10, the end ignored. */
export function atol(s: string): bigint {
  return strtol(s, 10).value;
}

/** atoi is atoi(3): strtol in base 10 truncated to a 32-bit int, as glibc does. */
export function atoi(s: string): number {
  return Number(BigInt.asIntN(32, strtol(s, 10).value));
}

/** u16 keeps the low 16 bits (a C assignment to uint16_t). */
export function u16(v: bigint | number): number {
  return Number(BigInt.asUintN(16, BigInt(v)));
}

/** u32 keeps the low 32 bits (a C assignment to uint32_t). */
export function u32(v: bigint | number): number {
  return Number(BigInt.asUintN(32, BigInt(v)));
}

/** u8 keeps the low 8 bits (a C assignment to uint8_t). */
export function u8(v: bigint | number): number {
  return Number(BigInt.asUintN(8, BigInt(v)));
}

/**
 * inetAton is glibc's inet_aton(3): one to four parts in C notation (0x hex, leading-0 octal,
 * decimal), the last part filling the remaining bytes ("10.1" is 10.0.0.1), and trailing text
 * accepted after a whitespace character. Returns the four address bytes or undefined.
 */
export function inetAton(s: string): Uint8Array | undefined {
  const max = [0xffffffff, 0xffffff, 0xffff, 0xff];
  const parts: number[] = [];
  let i = 0;
  let val = 0;
  for (;;) {
    const c = s[i];
    if (c === undefined || c < '0' || c > '9') return undefined;
    const r = strtoul(s.slice(i), 0);
    if (r.overflow || r.value > 0xffffffffn) return undefined;
    val = Number(r.value);
    i += r.end;
    if (s[i] === '.') {
      if (parts.length > 2 || val > 0xff) return undefined;
      parts.push(val);
      i++;
    } else break;
  }
  if (val > max[parts.length]!) return undefined;
  const t = s[i];
  if (t !== undefined && !isCSpace(t)) return undefined;
  const out = new Uint8Array(4);
  parts.forEach((p, k) => (out[k] = p));
  for (let k = 3; k >= parts.length; k--) {
    out[k] = val & 0xff;
    val = Math.floor(val / 256);
  }
  return out;
}

/** inetPton4 is glibc's strict inet_pton(AF_INET): four decimal octets, no leading zeros. */
export function inetPton4(s: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let octets = 0;
  let sawDigit = false;
  let cur = 0;
  for (const ch of s) {
    if (ch >= '0' && ch <= '9') {
      const n = out[cur]! * 10 + (ch.charCodeAt(0) - 48);
      if (sawDigit && out[cur] === 0) return undefined;
      if (n > 255) return undefined;
      out[cur] = n;
      if (!sawDigit) {
        if (++octets > 4) return undefined;
        sawDigit = true;
      }
    } else if (ch === '.' && sawDigit) {
      if (octets === 4) return undefined;
      cur++;
      sawDigit = false;
    } else return undefined;
  }
  if (octets < 4) return undefined;
  return out;
}

/** inetPton6 is glibc's inet_pton(AF_INET6), including its rules for "::" and a dotted IPv4 tail. */
export function inetPton6(s: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  let tp = 0;
  let colonp = -1;
  let i = 0;
  if (s.length === 0) return undefined;
  if (s[0] === ':') {
    i++;
    if (s[i] !== ':') return undefined;
  }
  let curtok = i;
  let digits = 0;
  let val = 0;
  while (i < s.length) {
    const ch = s[i++]!;
    const d = digitValue(ch);
    if (d < 16) {
      if (digits === 4) return undefined;
      val = (val << 4) | d;
      if (val > 0xffff) return undefined;
      digits++;
      continue;
    }
    if (ch === ':') {
      curtok = i;
      if (digits === 0) {
        if (colonp >= 0) return undefined;
        colonp = tp;
        continue;
      } else if (i === s.length) return undefined;
      if (tp + 2 > 16) return undefined;
      out[tp++] = (val >> 8) & 0xff;
      out[tp++] = val & 0xff;
      digits = 0;
      val = 0;
      continue;
    }
    if (ch === '.' && tp + 4 <= 16) {
      const v4 = inetPton4(s.slice(curtok));
      if (v4 !== undefined) {
        out.set(v4, tp);
        tp += 4;
        digits = 0;
        break;
      }
    }
    return undefined;
  }
  if (digits > 0) {
    if (tp + 2 > 16) return undefined;
    out[tp++] = (val >> 8) & 0xff;
    out[tp++] = val & 0xff;
  }
  if (colonp >= 0) {
    if (tp === 16) return undefined;
    const n = tp - colonp;
    const moved = out.slice(colonp, tp);
    out.fill(0, colonp, 16);
    out.set(moved, 16 - n);
    tp = 16;
  }
  if (tp !== 16) return undefined;
  return out;
}

/** strncasecmpPrefix is `strncasecmp(word, ref, n) == 0`: the first n characters of word equal ref's, ignoring ASCII case, and ref is not shorter than n. */
export function strncasecmpEq(word: string, ref: string, n: number): boolean {
  for (let i = 0; i < n; i++) {
    const a = word[i];
    const b = ref[i];
    if (a === undefined || b === undefined) return a === b;
    if (a.toLowerCase() !== b.toLowerCase()) return false;
  }
  return true;
}

/** strncmpEq is `strncmp(a, b, n) == 0`, C strings ending at the JS string end. */
export function strncmpEq(a: string, b: string, n: number): boolean {
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== y) return false;
    if (x === undefined) return true;
  }
  return true;
}
