import { HOST_LITTLE_ENDIAN } from '../wire/byte-order.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';

/**
 * Datagram is one received datagram as a view into the batch Buffer (no copy): keep a reference
 * only as long as you need it, or copy it. `flags` are the recvmsg msg_flags (MSG_TRUNC,
 * MSG_CTRUNC...). `name` (the source sockaddr) is present when the poller was started with
 * wantName, `ctrl` (raw cmsghdr bytes) when the kernel returned ancillary data.
 */
export interface Datagram {
  readonly data: Uint8Array;
  readonly flags: number;
  readonly name?: Uint8Array;
  readonly ctrl?: Uint8Array;
}

/** BATCH_HDRLEN is the per-datagram header the addon writes: u32 datalen, u32 msg_flags, u16 namelen, u16 ctrllen, u32 0. */
export const BATCH_HDRLEN = 16;

const pad4 = (n: number): number => (n + 3) & ~3;

/**
 * decodeBatch splits the addon's packed batch into `count` datagrams. All fields are host order;
 * name, ctrl and data each start on a 4-byte boundary. A batch that does not hold exactly `count`
 * datagrams is a DecodeError.
 */
export function decodeBatch(batch: Uint8Array, count: number): Datagram[] {
  const r = new Reader(batch, 0, batch.length, ['batch']);
  const out: Datagram[] = [];
  for (let i = 0; i < count; i++) {
    const dataLen = r.u32ne();
    const flags = r.u32ne();
    const nameLen = r.u16ne();
    const ctrlLen = r.u16ne();
    r.skip(4);
    const name = r.bytes(nameLen);
    r.skip(pad4(nameLen) - nameLen);
    const ctrl = r.bytes(ctrlLen);
    r.skip(pad4(ctrlLen) - ctrlLen);
    const data = r.bytes(dataLen);
    r.skip(pad4(dataLen) - dataLen);
    const d: { data: Uint8Array; flags: number; name?: Uint8Array; ctrl?: Uint8Array } = { data, flags };
    if (nameLen > 0) d.name = name;
    if (ctrlLen > 0) d.ctrl = ctrl;
    out.push(d);
  }
  if (r.remaining !== 0) r.fail('TRAILING', `${r.remaining} bytes after ${count} datagrams`);
  return out;
}

/** encodeBatch packs datagrams exactly as the addon does; tests and fakes use it to feed decodeBatch. */
export function encodeBatch(datagrams: readonly Datagram[]): Uint8Array {
  const w = new Writer(256);
  for (const d of datagrams) {
    const name = d.name ?? new Uint8Array(0);
    const ctrl = d.ctrl ?? new Uint8Array(0);
    w.u32ne(d.data.length).u32ne(d.flags).u16ne(name.length).u16ne(ctrl.length).u32ne(0);
    w.bytes(name).align4().bytes(ctrl).align4().bytes(d.data).align4();
  }
  return w.finish();
}

const hostU32 = (b: Uint8Array, o: number): number =>
  HOST_LITTLE_ENDIAN ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0 : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const hostU16 = (b: Uint8Array, o: number): number => (HOST_LITTLE_ENDIAN ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!);

/**
 * forEachDatagram walks the addon's packed batch like decodeBatch, without making an object per
 * datagram: `fn` gets where each datagram's data is in `batch` and its msg_flags. Stops (returns
 * false) at a record that does not fit the batch.
 */
export function forEachDatagram(batch: Uint8Array, count: number, fn: (start: number, end: number, flags: number) => void): boolean {
  let o = 0;
  for (let i = 0; i < count; i++) {
    if (batch.length - o < BATCH_HDRLEN) return false;
    const dataLen = hostU32(batch, o);
    const flags = hostU32(batch, o + 4);
    const nameLen = hostU16(batch, o + 8);
    const ctrlLen = hostU16(batch, o + 10);
    const start = o + BATCH_HDRLEN + pad4(nameLen) + pad4(ctrlLen);
    if (start + dataLen > batch.length) return false;
    fn(start, start + dataLen, flags);
    o = start + pad4(dataLen);
  }
  return true;
}
