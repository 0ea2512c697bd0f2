/**
 * HOST_LITTLE_ENDIAN is decided once: netlink headers and attribute headers are in host order
 * (house-style R3), everything inside ctnetlink payloads is network order.
 */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** u16At / u32At read a host-order field (netlink headers); be16At / be32At a network-order one. */
export const u16At = HOST_LITTLE_ENDIAN ? (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) : (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const be16At = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const be32At = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/**
 * putU16At / putBe16At / putBe32At write a field into an array at offset `o` and return the
 * offset after it: for the encoders that write records byte by byte (hot paths, no Writer).
 */
export const putU16At = HOST_LITTLE_ENDIAN
  ? (b: Uint8Array, o: number, v: number): number => ((b[o] = v & 0xff), (b[o + 1] = v >>> 8), o + 2)
  : (b: Uint8Array, o: number, v: number): number => ((b[o] = v >>> 8), (b[o + 1] = v & 0xff), o + 2);
export const putBe16At = (b: Uint8Array, o: number, v: number): number => ((b[o] = v >>> 8), (b[o + 1] = v & 0xff), o + 2);
export const putBe32At = (b: Uint8Array, o: number, v: number): number => ((b[o] = v >>> 24), (b[o + 1] = (v >>> 16) & 0xff), (b[o + 2] = (v >>> 8) & 0xff), (b[o + 3] = v & 0xff), o + 4);
/** putU8Pad3At writes a byte and the 3 zero bytes that align what follows to 4 (netlink and conntrackd attributes). */
export const putU8Pad3At = (b: Uint8Array, o: number, v: number): number => ((b[o] = v), (b[o + 1] = b[o + 2] = b[o + 3] = 0), o + 4);
