import { DecodeError } from '../wire/decode-error.js';
import { copyBytes, ViewCache, viewOf } from '../wire/copy.js';
import { writeLatin1 } from '../wire/latin1.js';
import { Writer } from '../wire/writer.js';
import type { SyncEncodeOptions } from './conntrack.js';
import { NET_F, NETHDR_ACK_SIZ, NETHDR_SIZ, SYNC_MAX_MESSAGE, SYNC_VERSION } from './consts.js';
import { isRangeForm, seqBefore, versionByte } from './header.js';
import { classifySync, decodeSyncBody, decodeSyncBodyLazy, resetRawKeys, writeSyncMessage, type SyncBodyDecoder, type SyncDecodeOptions, type SyncLazyMessage, type SyncMessage } from './message.js';
import { be32 } from './attrs.js';

/**
 * Datagrams: several messages back to back, never split (§2.9), and the receive walk of
 * sync-mode.c channel_handler_routine + do_channel_handler_step (§2.10).
 */

/**
 * SyncRejectReason says why a received message was refused; each maps to one of conntrackd's
 * `-s network` counters (SYNC_REJECT_INFO). SYNC_TRUNCATED and SYNC_BAD_SIZE stop the walk (the
 * rest of the datagram is dropped, as conntrackd does); the others skip one message.
 */
export type SyncRejectReason =
  | 'SYNC_TRUNCATED' // fewer bytes left than a header (8, or 16 for ACK/NACK/RESYNC)
  | 'SYNC_BAD_SIZE' // len 0, len past the datagram, or len shorter than its header
  | 'SYNC_BAD_VERSION' // version nibble ≠ 1
  | 'SYNC_BAD_HEADER' // flags/type the receiver's protocol refuses; ACK/NACK with `to` before `from` (FTFW)
  | 'SYNC_BAD_TYPE' // ALARM: a type > 5 without flags
  | 'SYNC_BAD_PAYLOAD' // the attribute walk failed (msg2ct / msg2exp returned -1)
  | 'SYNC_INCOMPLETE' // keepstate only: attributes fine but no addresses / L4 protocol (conntrackd would cache it)
  | 'SYNC_IGNORED'; // ALARM: a flagged message that is no control message, dropped silently

/** SYNC_REJECT_INFO: conntrackd's counter for each reason, and whether it adds to "Malformed messages". */
export const SYNC_REJECT_INFO: Readonly<Record<SyncRejectReason, { readonly counter: string | null; readonly malformed: boolean }>> = {
  SYNC_TRUNCATED: { counter: 'Truncated message', malformed: true },
  SYNC_BAD_SIZE: { counter: 'Bad message size', malformed: true },
  SYNC_BAD_VERSION: { counter: 'Wrong protocol version', malformed: true },
  SYNC_BAD_HEADER: { counter: 'Malformed header', malformed: true },
  SYNC_BAD_TYPE: { counter: 'Bad message type', malformed: true },
  SYNC_BAD_PAYLOAD: { counter: 'Malformed payload', malformed: true },
  SYNC_INCOMPLETE: { counter: null, malformed: false },
  SYNC_IGNORED: { counter: null, malformed: false },
};

/** SyncRejection is one refused message: where it was, what its header said, and why. */
export interface SyncRejection {
  readonly reason: SyncRejectReason;
  readonly offset: number; // of the message in the datagram
  readonly length: number; // bytes skipped (len), or dropped (the rest) when the walk stopped
  readonly type?: number;
  readonly flags?: number;
  readonly seq?: number;
  /** The body's DecodeError for SYNC_BAD_PAYLOAD / SYNC_INCOMPLETE. */
  readonly error?: DecodeError;
}

export interface DecodedDatagram<M = SyncMessage> {
  readonly messages: M[];
  readonly errors: SyncRejection[];
  /**
   * Bytes used. Equals the input length unless `stream` is set and the input ends inside a
   * message: then the caller keeps bytes [consumed, end) and prepends them to the next read.
   */
  readonly consumed: number;
}

export interface DatagramDecodeOptions extends SyncDecodeOptions {
  /** TCP channel: a message cut at the end of the input is kept for the next read, not an error. */
  readonly stream?: boolean;
}

/**
 * decodeDatagram walks one received datagram (or TCP read) message by message as conntrackd does,
 * returning the messages it accepts and one typed rejection per refused message. It never throws
 * for any input: body decoders throw DecodeError only, and those are turned into rejections.
 * Sequence-number checks (FTFW's "packets before", lost-message counting) are the engine's.
 */
export function decodeDatagram(bytes: Uint8Array, opts: DatagramDecodeOptions = {}): DecodedDatagram {
  return walkDatagram(bytes, opts, decodeSyncBody);
}

/**
 * decodeDatagramLazy is decodeDatagram for a receiver's hot path: conntrack messages come back as
 * their validated body's place and identity bytes ('ct-raw', valid until the next call), refused
 * exactly as decodeDatagram refuses them; everything else is decoded as usual.
 */
export function decodeDatagramLazy(bytes: Uint8Array, opts: DatagramDecodeOptions = {}): DecodedDatagram<SyncLazyMessage> {
  resetRawKeys();
  return walkDatagram(bytes, opts, decodeSyncBodyLazy);
}

function walkDatagram<M>(
  bytes: Uint8Array,
  opts: DatagramDecodeOptions,
  body: SyncBodyDecoder<M>,
): DecodedDatagram<M> {
  const messages: M[] = [];
  const errors: SyncRejection[] = [];
  const mode = opts.mode ?? 'ftfw';
  const stream = opts.stream === true;
  const end = bytes.length;
  let off = 0;
  while (off < end) {
    const remain = end - off;
    if (remain < NETHDR_SIZ) {
      if (stream) break;
      errors.push({ reason: 'SYNC_TRUNCATED', offset: off, length: remain });
      off = end;
      break;
    }
    const type = bytes[off]! & 15;
    const flags = bytes[off + 1]!;
    const len = (bytes[off + 2]! << 8) | bytes[off + 3]!;
    const seq = ((bytes[off + 4]! << 24) | (bytes[off + 5]! << 16) | (bytes[off + 6]! << 8) | bytes[off + 7]!) >>> 0;
    // A stream waits for the rest of a message cut by the end of this read.
    if (stream && len !== 0 && (len > remain || (isRangeForm(type, flags) && remain < NETHDR_ACK_SIZ))) break;
    const badSize = sizeRejection(type, flags, len, remain);
    if (badSize !== undefined) {
      errors.push(rejection(badSize, off, remain, type, flags, seq));
      off = end;
      break;
    }
    let refused: SyncRejectReason | undefined;
    let error: DecodeError | undefined;
    const c = bytes[off]! >>> 4 !== SYNC_VERSION ? 'bad-version' : classifySync(type, flags, mode);
    if (c === 'bad-version' || c === 'bad-header' || c === 'bad-type' || c === 'ignored') refused = CLASS_REJECTION[c];
    // (A range form's 16 bytes are there: sizeRejection checked it.)
    else if (mode === 'ftfw' && (c === 'ack' || c === 'nack') && seqBefore(be32(bytes, off + 12), be32(bytes, off + 8))) refused = 'SYNC_BAD_HEADER';
    else {
      try {
        messages.push(body(bytes, off, type, flags, len, seq, c));
      } catch (e) {
        // Body decoders throw DecodeError only (the fuzz tests hold them to it); anything else
        // would be a keepstate bug, and one bad datagram must still not stop the daemon.
        error = e instanceof DecodeError ? e : new DecodeError('BAD_VALUE', ['sync'], off, `decoder bug: ${String(e)}`, { cause: e });
        refused = error.code === 'MISSING' ? 'SYNC_INCOMPLETE' : 'SYNC_BAD_PAYLOAD';
      }
    }
    if (refused !== undefined) errors.push(rejection(refused, off, len, type, flags, seq, error));
    off += len;
  }
  return { messages, errors, consumed: off };
}

/**
 * sizeRejection says why a message's len cannot be walked (the walk stops there), or undefined:
 * 0, past the bytes, or shorter than its header; a range form (ACK/NACK/RESYNC) cut before its 16 bytes.
 */
function sizeRejection(type: number, flags: number, len: number, remain: number): SyncRejectReason | undefined {
  if (len === 0 || len > remain) return 'SYNC_BAD_SIZE';
  if (isRangeForm(type, flags)) return remain < NETHDR_ACK_SIZ ? 'SYNC_TRUNCATED' : len < NETHDR_ACK_SIZ ? 'SYNC_BAD_SIZE' : undefined;
  return len < NETHDR_SIZ ? 'SYNC_BAD_SIZE' : undefined;
}

/** What each header a receiver refuses (a wrong version, or classifySync's verdict) is counted as. */
const CLASS_REJECTION = { 'bad-version': 'SYNC_BAD_VERSION', 'bad-header': 'SYNC_BAD_HEADER', 'bad-type': 'SYNC_BAD_TYPE', ignored: 'SYNC_IGNORED' } as const satisfies Record<string, SyncRejectReason>;

/** rejection is one refused message: `length` bytes skipped, or dropped (the rest) when the walk stops. */
function rejection(reason: SyncRejectReason, offset: number, length: number, type: number, flags: number, seq: number, error?: DecodeError): SyncRejection {
  return error === undefined ? { reason, offset, length, type, flags, seq } : { reason, offset, length, type, flags, seq, error };
}

export interface DatagramEncodeOptions extends SyncEncodeOptions {
  /**
   * Per-packet overhead the channel assumes (channel_*.c `headersiz`): 28 for UDP and multicast
   * (also over IPv6), 40 for TCP. Default 28.
   */
  readonly overhead?: number;
}

/**
 * encodeDatagrams packs messages in order into datagrams the way conntrackd's channel buffer does
 * (channel.c channel_send): the buffer holds `mtu - overhead` bytes and a message is appended while
 * `used + len < size` (strictly), otherwise the buffer is sent first; messages are never split. So
 * no datagram exceeds `mtu - overhead - 1` bytes (1471 for MTU 1500 over UDP). conntrackd also
 * flushes at the end of each transmit pass: call this once per pass. Throws RangeError for a
 * message that could never fit (conntrackd would loop forever) or that exceeds 4096 bytes.
 */
export function encodeDatagrams(messages: readonly SyncMessage[], mtu: number, opts: DatagramEncodeOptions = {}): Uint8Array[] {
  return packDatagrams(messages, mtu, opts.overhead ?? 28, (w, m) => writeSyncMessage(w, m, opts));
}

/**
 * packDatagrams is encodeDatagrams for items that write themselves: `write` appends one message to
 * the (reset) writer and returns its length. Same packing rule and errors.
 */
export function packDatagrams<T>(items: readonly T[], mtu: number, overhead: number, write: (w: Writer, item: T) => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const p = new DatagramPacker(mtu, overhead, (d) => out.push(d));
  for (const m of items) {
    p.writer.reset();
    write(p.writer, m);
    p.commit();
  }
  p.flush();
  return out;
}

/**
 * Bytes of the chunks datagrams are packed into. A finished datagram is a view of its chunk, whose
 * bytes are never written again (the next datagram follows it, and a full chunk is left to the
 * collector): no buffer of its own per datagram — slice() cost the sender's profile ~5 % of its
 * JS thread in a 100 000-entry burst (perf: CreateTypedArray under flush).
 */
const CHUNK_BYTES = 64 * 1024;

/**
 * DatagramPacker packs messages into datagrams one at a time, as encodeDatagrams does: write a
 * message into `writer` (reset it first), then commit(); flush() at the end of a transmit pass.
 * Each finished datagram goes to `out` as an array nothing writes to afterwards.
 */
export class DatagramPacker {
  readonly writer = new Writer(SYNC_MAX_MESSAGE);
  private readonly size: number;
  /** The chunk being filled: the datagram being packed is [base, base + used). */
  private chunk: Uint8Array;
  private chunkView: DataView;
  /** The view of the last body source (a cache's arena segment) commitBytes copied from. */
  private readonly sources = new ViewCache();
  private base = 0;
  private used = 0;

  constructor(
    private readonly mtu: number,
    overhead: number,
    private readonly out: (datagram: Uint8Array) => void,
  ) {
    this.size = mtu - overhead;
    this.chunk = new Uint8Array(Math.max(CHUNK_BYTES, this.size, 0));
    this.chunkView = viewOf(this.chunk);
  }

  /** commit appends the message in `writer` (throws RangeError if it can never fit). */
  commit(): void {
    const len = this.writer.length;
    if (len >= this.size) throw new RangeError(`a ${len}-byte message cannot fit a ${this.size}-byte channel buffer (MTU ${this.mtu})`);
    if (this.used + len >= this.size) this.flush();
    this.writer.copyInto(this.chunk, this.base + this.used);
    this.used += len;
  }

  /**
   * commitBody appends a data message made of a header (type, flags, seq) and `body`, a message
   * body kept as a latin1 string (sync/ct-body.ts), straight into the datagram: the body is copied
   * once, natively. Same packing rule and errors as commit.
   */
  commitBody(type: number, flags: number, seq: number, body: string): void {
    const at = this.dataHeader(type, flags, seq, body.length); // first: it may start a new chunk
    writeLatin1(this.chunk, body, at);
    this.used += NETHDR_SIZ + body.length;
  }

  /** commitBytes is commitBody for a body held as bytes [start, start + len) of `src` (a cache's record). */
  commitBytes(type: number, flags: number, seq: number, src: Uint8Array, start: number, len: number): void {
    const at = this.dataHeader(type, flags, seq, len); // first: it may start a new chunk
    copyBytes(this.chunkView, this.chunk, at, this.sources.of(src), src, start, len);
    this.used += NETHDR_SIZ + len;
  }

  /**
   * dataHeader makes room for a data message with a body of `bodyLen` bytes (sending the datagram
   * first if it would not fit), writes its header and returns where its body goes.
   */
  private dataHeader(type: number, flags: number, seq: number, bodyLen: number): number {
    if ((flags & ~(NET_F.HELLO | NET_F.HELLO_BACK)) !== 0) throw new RangeError(`flags 0x${flags.toString(16)} would not be data`);
    const len = NETHDR_SIZ + bodyLen;
    if (len > SYNC_MAX_MESSAGE) throw new RangeError(`message of ${len} bytes exceeds conntrackd's ${SYNC_MAX_MESSAGE}`);
    if (len >= this.size) throw new RangeError(`a ${len}-byte message cannot fit a ${this.size}-byte channel buffer (MTU ${this.mtu})`);
    if (this.used + len >= this.size) this.flush();
    const b = this.chunk;
    const at = this.base + this.used;
    b[at] = versionByte(type);
    b[at + 1] = flags;
    b[at + 2] = len >>> 8;
    b[at + 3] = len & 0xff;
    b[at + 4] = seq >>> 24;
    b[at + 5] = (seq >>> 16) & 0xff;
    b[at + 6] = (seq >>> 8) & 0xff;
    b[at + 7] = seq & 0xff;
    return at + NETHDR_SIZ;
  }

  /** flush sends the datagram being filled, if any. */
  flush(): void {
    if (this.used === 0) return;
    const end = this.base + this.used;
    this.out(this.chunk.subarray(this.base, end));
    this.used = 0;
    this.base = end;
    if (this.chunk.length - end < this.size) {
      this.chunk = new Uint8Array(this.chunk.length);
      this.chunkView = viewOf(this.chunk);
      this.base = 0;
    }
  }
}

