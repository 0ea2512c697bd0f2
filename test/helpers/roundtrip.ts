import assert from 'node:assert/strict';

/**
 * roundTrip is house-style R6(b) for a codec pair: encode → decode gives the value back (or
 * `expected`, for encoders that legitimately drop fields); encoding the decoded value again gives
 * identical bytes; and decoding works on the same bytes placed at a non-zero offset inside a larger
 * buffer with junk on both sides (a view, as message payloads are). Returns the encoded bytes.
 */
export function roundTrip<T>(
  value: T,
  encode: (v: T) => Uint8Array,
  decode: (b: Uint8Array) => T,
  expected: T = value,
): Uint8Array {
  const bytes = encode(value);
  const decoded = decode(bytes);
  assert.deepStrictEqual(decoded, expected, 'decode(encode(value))');
  assert.deepStrictEqual(encode(decoded), bytes, 'encode(decode(bytes)) must give identical bytes');
  for (const [before, after] of [
    [1, 0],
    [3, 5],
    [16, 7],
  ] as const) {
    const big = new Uint8Array(before + bytes.length + after).fill(0xa5);
    big.set(bytes, before);
    assert.deepStrictEqual(decode(big.subarray(before, before + bytes.length)), expected, `decode at offset ${before}`);
  }
  return bytes;
}

/**
 * bytesRoundTrip checks the other direction for captured bytes: decode them, and re-encoding the
 * result must reproduce them exactly. Returns the decoded value.
 */
export function bytesRoundTrip<T>(bytes: Uint8Array, decode: (b: Uint8Array) => T, encode: (v: T) => Uint8Array): T {
  const value = decode(bytes);
  assert.deepStrictEqual(encode(value), Uint8Array.from(bytes), 'encode(decode(bytes)) must reproduce the bytes');
  return value;
}
