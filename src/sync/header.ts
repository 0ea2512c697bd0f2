import { DecodeError } from '../wire/decode-error.js';
import type { Writer } from '../wire/writer.js';
import { be16, be32 } from './attrs.js';
import { NET_F, NET_T, NETHDR_ACK_SIZ, NETHDR_SIZ, SYNC_VERSION } from './consts.js';

/**
 * The message header (struct nethdr / struct nethdr_ack in network.h), all fields big-endian:
 *
 *   byte 0     version << 4 | type   (C bit-fields, laid out per host endianness so that the wire
 *                                    byte is the same on both: version in the high nibble)
 *   byte 1     flags (NET_F_*)
 *   bytes 2-3  len: the whole message in bytes, header included
 *   bytes 4-7  seq
 *   bytes 8-11 from   } only ACK, NACK and RESYNC (the 16-byte control form)
 *   bytes 12-15 to    }
 */

/** SyncHeader is a decoded header; `from`/`to` are present for the 16-byte form only. */
export interface SyncHeader {
  readonly version: number; // 4 bits
  readonly type: number; // 4 bits, NET_T_*
  readonly flags: number; // NET_F_* byte
  readonly len: number; // u16
  readonly seq: number; // u32
  readonly from?: number; // u32
  readonly to?: number; // u32
}

/** isRangeForm tells whether a header is the 16-byte form: IS_ACK || IS_NACK || IS_RESYNC (type CTL and one of those bits). */
export function isRangeForm(type: number, flags: number): boolean {
  return type === NET_T.CTL && (flags & (NET_F.ACK | NET_F.NACK | NET_F.RESYNC)) !== 0;
}

/** encodeSyncHeader writes a header: 16 bytes when `from`/`to` are given, 8 otherwise. */
export function encodeSyncHeader(w: Writer, h: SyncHeader): void {
  if ((h.version & ~15) !== 0 || (h.type & ~15) !== 0) throw new RangeError(`version ${h.version} / type ${h.type} do not fit 4 bits`);
  w.u8((h.version << 4) | h.type).u8(h.flags & 0xff).u16be(h.len).u32be(h.seq);
  if (h.from !== undefined || h.to !== undefined) w.u32be(h.from ?? 0).u32be(h.to ?? 0);
}

/**
 * decodeSyncHeader reads the header at `off` in [off, end): the 16-byte form when the type and
 * flags say so (as HDR_NETWORK2HOST does), else 8 bytes. Throws DecodeError('SHORT') if the bytes
 * cannot hold it; `len` is returned as sent, unchecked.
 */
export function decodeSyncHeader(b: Uint8Array, off = 0, end = b.length): SyncHeader {
  if (end - off < NETHDR_SIZ) throw new DecodeError('SHORT', ['sync', 'header'], off, `${end - off} bytes cannot hold a ${NETHDR_SIZ}-byte header`);
  const version = b[off]! >>> 4;
  const type = b[off]! & 15;
  const flags = b[off + 1]!;
  const len = be16(b, off + 2);
  const seq = be32(b, off + 4);
  if (!isRangeForm(type, flags)) return { version, type, flags, len, seq };
  if (end - off < NETHDR_ACK_SIZ) {
    throw new DecodeError('SHORT', ['sync', 'header'], off, `${end - off} bytes cannot hold a ${NETHDR_ACK_SIZ}-byte control header`);
  }
  return { version, type, flags, len, seq, from: be32(b, off + 8), to: be32(b, off + 12) };
}

/** versionByte is the first header byte for a type (protocol version 1). */
export function versionByte(type: number): number {
  return (SYNC_VERSION << 4) | type;
}

/** before is serial-number comparison of 32-bit sequence numbers: (int32)(a - b) < 0. */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
