/**
 * HOST_LITTLE_ENDIAN is decided once: netlink headers and attribute headers are in host order
 * (house-style R3), everything inside ctnetlink payloads is network order.
 */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
