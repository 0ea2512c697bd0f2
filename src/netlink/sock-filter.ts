import { HOST_LITTLE_ENDIAN } from '../wire/byte-order.js';

/**
 * Classic BPF socket filters (include/uapi/linux/filter.h), as SO_ATTACH_FILTER takes them: an
 * array of struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } in host byte order.
 */

/** BPF opcode parts (include/uapi/linux/bpf_common.h). */
const BPF = { LD: 0x00, JMP: 0x05, RET: 0x06, W: 0x00, ABS: 0x20, JEQ: 0x10, K: 0x00 } as const;
/** NLMSG_PID_OFFSET: nlmsghdr's nlmsg_pid (after len u32, type u16, flags u16, seq u32). */
const NLMSG_PID_OFFSET = 12;
const ACCEPT = 0xffff_ffff; // keep the whole message
const DROP = 0;

export interface SockFilterInsn {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

/** encodeSockFilter lays out a program as struct sock_filter[] for the host (`littleEndian`: its byte order). */
export function encodeSockFilter(insns: readonly SockFilterInsn[], littleEndian = HOST_LITTLE_ENDIAN): Uint8Array {
  const out = new Uint8Array(8 * insns.length);
  const dv = new DataView(out.buffer);
  insns.forEach((x, i) => {
    dv.setUint16(8 * i, x.code, littleEndian);
    dv.setUint8(8 * i + 2, x.jt);
    dv.setUint8(8 * i + 3, x.jf);
    dv.setUint32(8 * i + 4, x.k >>> 0, littleEndian);
  });
  return out;
}

/**
 * dropFromPortsProgram drops the netlink messages whose nlmsg_pid is one of `portIds` and keeps
 * the others. Multicast events carry the port id of the socket whose request caused them, so this
 * keeps a socket from receiving the events of its own process's requests — the kernel drops them
 * before they take room in its receive buffer. A socket filter sees one skb, and ctnetlink sends
 * each event in an skb of its own. nlmsg_pid is in host order; BPF's word load reads big-endian,
 * so on a little-endian host the constant is byte-swapped.
 */
export function dropFromPortsProgram(portIds: readonly number[], littleEndian = HOST_LITTLE_ENDIAN): SockFilterInsn[] {
  if (portIds.length === 0 || portIds.length > 250) throw new RangeError(`dropFromPortsProgram: 1 to 250 port ids, got ${portIds.length}`);
  const n = portIds.length;
  const asLoaded = (p: number): number => (littleEndian ? ((p & 0xff) << 24) | ((p & 0xff00) << 8) | ((p >>> 8) & 0xff00) | (p >>> 24) : p) >>> 0;
  return [
    { code: BPF.LD | BPF.W | BPF.ABS, jt: 0, jf: 0, k: NLMSG_PID_OFFSET },
    // Instruction 1 + i jumps to the DROP at n + 2 when equal: jt counts the instructions skipped.
    ...portIds.map((p, i) => ({ code: BPF.JMP | BPF.JEQ | BPF.K, jt: n - i, jf: 0, k: asLoaded(p) })),
    { code: BPF.RET | BPF.K, jt: 0, jf: 0, k: ACCEPT },
    { code: BPF.RET | BPF.K, jt: 0, jf: 0, k: DROP },
  ];
}
