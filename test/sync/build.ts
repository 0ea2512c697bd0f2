/**
 * Hand-built conntrackd messages for table tests, independent of the encoder under test: `nta`
 * pads an attribute to 4 (nta_len counts no padding), `msg` puts a header in front with the real
 * length unless one is forced, `ctl` builds a control message. All fields big-endian.
 */
export function be16(v: number): number[] {
  return [(v >>> 8) & 0xff, v & 0xff];
}
export function be32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** nta builds one attribute; `len` overrides nta_len (the bytes written stay `data`). */
export function nta(id: number, data: readonly number[], len = 4 + data.length): number[] {
  const out = [...be16(len), ...be16(id), ...data];
  while (out.length % 4 !== 0) out.push(0);
  return out;
}

/** msg builds one message: version 1 unless given, `len` overrides the length field. */
export function msg(type: number, flags: number, seq: number, body: readonly number[] = [], opts: { len?: number; version?: number } = {}): number[] {
  const len = opts.len ?? 8 + body.length;
  return [((opts.version ?? 1) << 4) | type, flags, ...be16(len), ...be32(seq), ...body];
}

/** ctl builds a control message; ACK/NACK/RESYNC get from/to. */
export function ctl(flags: number, seq: number, from?: number, to?: number): number[] {
  return from === undefined ? msg(10, flags, seq) : msg(10, flags, seq, [...be32(from), ...be32(to ?? from)]);
}

export function bytes(...parts: readonly (readonly number[])[]): Uint8Array {
  return Uint8Array.from(parts.flat());
}

/** A minimal valid conntrack body: IPv4 192.0.2.1 -> 198.51.100.1, STATUS, L4PROTO UDP, PORT 1000 -> 53. */
export const CT_BODY: readonly number[] = [
  ...nta(0, [192, 0, 2, 1, 198, 51, 100, 1]),
  ...nta(5, be32(8)),
  ...nta(2, [17]),
  ...nta(3, [...be16(1000), ...be16(53)]),
];

/** A minimal valid expectation body: master, expected and mask groups with TCP ports, FLAGS. */
export const EXP_BODY: readonly number[] = [
  ...nta(0, [10, 0, 0, 1, 10, 0, 0, 2]),
  ...nta(2, [6]),
  ...nta(3, [...be16(40000), ...be16(21)]),
  ...nta(4, [10, 0, 0, 2, 10, 0, 0, 1]),
  ...nta(6, [6]),
  ...nta(7, [...be16(0), ...be16(50000)]),
  ...nta(8, [255, 255, 255, 255, 255, 255, 255, 255]),
  ...nta(10, [6]),
  ...nta(11, [...be16(0), ...be16(0xffff)]),
  ...nta(13, be32(0)),
];
