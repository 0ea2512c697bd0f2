/**
 * Hand-built netlink attributes for table tests, independent of the encoders under test:
 * `attr(type, bytes)` pads to 4, `nest(type, ...children)` sets NLA_F_NESTED, `payload(family, ...)`
 * puts struct nfgenmsg in front. Lengths and types are host order (little-endian here, as on every
 * machine these tests run on), values are whatever bytes the test gives.
 */
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function u16ne(v: number): number[] {
  return LE ? [v & 0xff, v >> 8] : [v >> 8, v & 0xff];
}

/** concat joins byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** attr builds one attribute with the given full type (flags included) and payload bytes, padded to 4. */
export function attr(type: number, data: readonly number[] | Uint8Array = []): Uint8Array {
  const d = Uint8Array.from(data);
  const len = 4 + d.length;
  const out = new Uint8Array((len + 3) & ~3);
  out.set([...u16ne(len), ...u16ne(type)]);
  out.set(d, 4);
  return out;
}

/** nest builds an attribute with NLA_F_NESTED whose payload is the given attributes. */
export function nest(type: number, ...children: Uint8Array[]): Uint8Array {
  return attr(type | 0x8000, concat(children));
}

/** payload puts struct nfgenmsg (family, version 0, res_id) in front of attributes. */
export function payload(family: number, ...attrs: Uint8Array[]): Uint8Array {
  return concat([Uint8Array.of(family, 0, 0, 0), ...attrs]);
}

export const be16 = (v: number): number[] => [v >> 8, v & 0xff];
export const be32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
export const be64 = (v: bigint): number[] => Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(56 - 8 * i)) & 0xffn));
export const ip4 = (s: string): number[] => s.split('.').map(Number);

/** tuple4 builds the body of an IPv4 tuple nest: CTA_TUPLE_IP and CTA_TUPLE_PROTO with optional ports. */
export function tuple4(src: string, dst: string, proto: number, sport?: number, dport?: number): Uint8Array[] {
  const p = [attr(1, [proto])];
  if (sport !== undefined) p.push(attr(2, be16(sport)));
  if (dport !== undefined) p.push(attr(3, be16(dport)));
  return [nest(1, attr(1, ip4(src)), attr(2, ip4(dst))), nest(2, ...p)];
}
