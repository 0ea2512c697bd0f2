import { HOST_LITTLE_ENDIAN } from './byte-order.js';
import { latin1Of } from './latin1.js';

/**
 * Writer is a growing byte buffer for encoders. Lengths that are only known after the payload is
 * written are patched in place with `setU16ne`/`setU32ne` at an offset taken from `length` earlier.
 */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.len;
  }

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.grow(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
    return this;
  }
  u16be(v: number): this {
    this.grow(2);
    this.view.setUint16(this.len, v, false);
    this.len += 2;
    return this;
  }
  u16ne(v: number): this {
    this.grow(2);
    this.view.setUint16(this.len, v, HOST_LITTLE_ENDIAN);
    this.len += 2;
    return this;
  }
  u32be(v: number): this {
    this.grow(4);
    this.view.setUint32(this.len, v >>> 0, false);
    this.len += 4;
    return this;
  }
  u32ne(v: number): this {
    this.grow(4);
    this.view.setUint32(this.len, v >>> 0, HOST_LITTLE_ENDIAN);
    this.len += 4;
    return this;
  }
  u64be(v: bigint): this {
    this.grow(8);
    this.view.setBigUint64(this.len, v, false);
    this.len += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  zeros(n: number): this {
    this.grow(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
    return this;
  }
  /** align4 pads with zero bytes to the next multiple of 4 (NLA_ALIGN / NLMSG_ALIGN). */
  align4(): this {
    const pad = (4 - (this.len & 3)) & 3;
    return pad === 0 ? this : this.zeros(pad);
  }

  setU16ne(offset: number, v: number): void {
    this.view.setUint16(offset, v, HOST_LITTLE_ENDIAN);
  }
  setU32ne(offset: number, v: number): void {
    this.view.setUint32(offset, v >>> 0, HOST_LITTLE_ENDIAN);
  }

  /** written returns the bytes written so far without copying; valid until the next write or reset. */
  written(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** latin1 returns the bytes written so far as a latin1 string (wire/latin1.ts), copied natively. */
  latin1(): string {
    return latin1Of(this.buf, 0, this.len);
  }

  /** copyInto copies the bytes written so far into `dst` at `at` (no view is made: hot paths copy small messages). */
  copyInto(dst: Uint8Array, at: number): void {
    const b = this.buf;
    for (let i = 0; i < this.len; i++) dst[at + i] = b[i]!;
  }

  /** truncate drops what was written from offset `at` on (a `length` read earlier). */
  truncate(at: number): void {
    if (!Number.isInteger(at) || at < 0 || at > this.len) throw new RangeError(`truncate to ${at} of ${this.len} bytes`);
    this.len = at;
  }

  /**
   * room makes `n` more bytes fit and returns the buffer, for an encoder that writes them itself
   * from offset `length` on; it then calls advance with the offset it reached (at most length + n).
   */
  room(n: number): Uint8Array {
    this.grow(n);
    return this.buf;
  }
  advance(to: number): void {
    if (!Number.isInteger(to) || to < this.len || to > this.buf.length) throw new RangeError(`advance to ${to} from ${this.len} (room for ${this.buf.length})`);
    this.len = to;
  }

  /** reset empties the writer and keeps its buffer for reuse. */
  reset(): void {
    this.len = 0;
  }

  /** finish returns a copy of the bytes written so far, sized exactly. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
