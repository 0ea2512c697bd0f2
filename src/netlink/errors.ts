import { constants } from 'node:os';
import { Reader } from '../wire/reader.js';
import { forEachAttr, readString } from './attrs.js';
import { NLMSG_HDRLEN, NLM_F, NLMSGERR_ATTR } from './consts.js';

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(constants.errno).map(([name, no]) => [no, name] as const),
);

/** errnoName maps a positive errno to its symbolic name ("EEXIST"), or "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/**
 * NetlinkError is a request the kernel refused (a NLMSG_ERROR with a negative error), with the
 * extended-ack message and attribute offset when the kernel gave them (NETLINK_EXT_ACK).
 */
export class NetlinkError extends Error {
  override readonly name = 'NetlinkError';
  readonly code: string;
  constructor(
    readonly errno: number,
    readonly op: string,
    readonly seq: number,
    readonly extAckMsg?: string,
    readonly extAckOffset?: number,
    readonly missingType?: number,
  ) {
    const code = errnoName(errno);
    super(`${op}: ${code}${extAckMsg !== undefined ? ` (${extAckMsg})` : ''}`);
    this.code = code;
  }
}

/** Ack is a decoded NLMSG_ERROR: error 0 is a positive ACK. */
export interface Ack {
  readonly error: number; // 0 or a positive errno (the kernel sends -errno)
  readonly seq: number; // seq of the request it answers, from the echoed header
  readonly extAckMsg?: string;
  readonly extAckOffset?: number;
  readonly missingType?: number;
}

/**
 * decodeAck decodes the payload of an NLMSG_ERROR message (struct nlmsgerr): a signed errno, the
 * request's nlmsghdr (only the header when NLM_F_CAPPED, else the whole request), then ext-ack TLVs
 * when NLM_F_ACK_TLVS is set in the ACK's own flags.
 */
export function decodeAck(payload: Uint8Array, ackFlags: number): Ack {
  const r = new Reader(payload, 0, payload.length, ['nlmsgerr']);
  const err = r.i32ne();
  const reqLen = r.u32ne();
  r.skip(4); // type + flags
  const seq = r.u32ne();
  r.skip(4); // pid
  if ((ackFlags & NLM_F.CAPPED) === 0 && err !== 0) {
    // the whole request is echoed: skip its body
    const body = Math.max(0, reqLen - NLMSG_HDRLEN);
    r.skip(Math.min(body, r.remaining));
    r.pos = Math.min(r.end, (r.pos + 3) & ~3);
  }
  const ack: { error: number; seq: number; extAckMsg?: string; extAckOffset?: number; missingType?: number } = {
    error: err === 0 ? 0 : -err,
    seq,
  };
  if ((ackFlags & NLM_F.ACK_TLVS) !== 0) {
    forEachAttr(r, (type, _full, p) => {
      if (type === NLMSGERR_ATTR.MSG) ack.extAckMsg = readString(p);
      else if (type === NLMSGERR_ATTR.OFFS && p.remaining >= 4) ack.extAckOffset = p.u32ne();
      else if (type === NLMSGERR_ATTR.MISS_TYPE && p.remaining >= 4) ack.missingType = p.u32ne();
    });
  }
  return ack;
}
