/**
 * HOST_LITTLE_ENDIAN is decided once: netlink headers and attribute headers are in host order
 * (house-style R3), everything inside ctnetlink payloads is network order.
 */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** u16At / u32At read a host-order field (netlink headers); be16At / be32At a network-order one. */
export const u16At = HOST_LITTLE_ENDIAN ? (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8) : (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const be16At = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const be32At = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
