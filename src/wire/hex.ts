/**
 * parseAnnotatedHex reads golden data written as hex with comments (house-style R6): anything after
 * `#` on a line is a comment, whitespace is ignored, and an odd number of digits is an error so a
 * miscounted byte cannot pass silently.
 */
export function parseAnnotatedHex(text: string): Uint8Array {
  const digits = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join('')
    .replace(/\s+/g, '');
  if (!/^[0-9a-fA-F]*$/.test(digits)) throw new Error('annotated hex: non-hex character outside a comment');
  if (digits.length % 2 !== 0) throw new Error(`annotated hex: odd number of digits (${digits.length})`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** toHex formats bytes as lowercase hex, `perLine` bytes per line. */
export function toHex(bytes: Uint8Array, perLine = 16): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += perLine) {
    lines.push(Array.from(bytes.subarray(i, i + perLine), (b) => b.toString(16).padStart(2, '0')).join(' '));
  }
  return lines.join('\n');
}
