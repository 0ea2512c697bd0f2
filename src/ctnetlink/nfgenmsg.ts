import { DecodeError } from '../wire/decode-error.js';
import type { Family } from '../wire/ip.js';
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { AF, NFNETLINK_V0 } from './consts.js';

/**
 * Nfgenmsg is struct nfgenmsg, the 4-byte header at the start of every nfnetlink payload:
 * nfgen_family (u8, AF_*), version (u8, NFNETLINK_V0) and res_id (u16, network order; the CPU
 * number in per-CPU statistics, 0 elsewhere).
 */
export interface Nfgenmsg {
  readonly family: number;
  readonly version: number;
  readonly resId: number;
}

/** NFGENMSG_LEN is sizeof(struct nfgenmsg). */
export const NFGENMSG_LEN = 4;

/** encodeNfgenmsg writes the header (res_id in network order). */
export function encodeNfgenmsg(w: Writer, h: Nfgenmsg): void {
  w.u8(h.family).u8(h.version).u16be(h.resId);
}

/** decodeNfgenmsg reads the header at r.pos. */
export function decodeNfgenmsg(r: Reader): Nfgenmsg {
  const family = r.u8();
  const version = r.u8();
  const resId = r.u16be();
  return { family, version, resId };
}

/** nfMsgType builds nlmsg_type: the nfnetlink subsystem in the high byte, its message type in the low byte. */
export function nfMsgType(subsys: number, type: number): number {
  return ((subsys & 0xff) << 8) | (type & 0xff);
}

/** nfSubsys is the subsystem (NFNL_SUBSYS_*) of an nlmsg_type. */
export function nfSubsys(nlmsgType: number): number {
  return (nlmsgType >> 8) & 0xff;
}

/** nfMsg is the per-subsystem message type (IPCTNL_MSG_*) of an nlmsg_type. */
export function nfMsg(nlmsgType: number): number {
  return nlmsgType & 0xff;
}

/** afOf maps a family to nfgen_family; undefined means AF_UNSPEC ("all families" in dumps and flushes). */
export function afOf(family: Family | undefined): number {
  return family === undefined ? AF.UNSPEC : family === 'ipv4' ? AF.INET : AF.INET6;
}

/** familyOf maps nfgen_family to a family, or throws DecodeError('BAD_VALUE') for anything but AF_INET/AF_INET6. */
export function familyOf(af: number, path: readonly string[], off: number): Family {
  if (af === AF.INET) return 'ipv4';
  if (af === AF.INET6) return 'ipv6';
  throw new DecodeError('BAD_VALUE', path, off, `nfgen_family ${af} is neither AF_INET nor AF_INET6`);
}

/** nfgenmsgFor is the header ctnetlink puts on an object of `family` (version 0, res_id 0). */
export function nfgenmsgFor(family: Family | undefined, resId = 0): Nfgenmsg {
  return { family: afOf(family), version: NFNETLINK_V0, resId };
}
