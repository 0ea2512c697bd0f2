import { HOST_LITTLE_ENDIAN } from './byte-order.js';
import { DecodeError } from './decode-error.js';

/**
 * Reader is a bounds-checked cursor over a byte range [pos, end) of a buffer. It is the only place
 * that indexes raw bytes for decoders; every short read becomes a DecodeError('SHORT'), never a
 * RangeError. `ne` means host ("native") order, `be` network order.
 */
export class Reader {
  private readonly view: DataView;
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
    readonly end = buf.length,
    readonly path: readonly string[] = [],
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (end > buf.length || pos > end || pos < 0) {
      throw new DecodeError('BAD_LENGTH', path, pos, `range ${pos}..${end} outside a buffer of ${buf.length}`);
    }
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (this.end - this.pos < n) {
      throw new DecodeError('SHORT', this.path, this.pos, `need ${n} bytes, have ${this.end - this.pos}`);
    }
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u16be(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, false);
    this.pos += 2;
    return v;
  }
  u16ne(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, HOST_LITTLE_ENDIAN);
    this.pos += 2;
    return v;
  }
  u32be(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }
  u32ne(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, HOST_LITTLE_ENDIAN);
    this.pos += 4;
    return v;
  }
  i32ne(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, HOST_LITTLE_ENDIAN);
    this.pos += 4;
    return v;
  }
  u64be(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, false);
    this.pos += 8;
    return v;
  }

  /** bytes returns a view (no copy) of the next n bytes. */
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** sub returns a Reader over the next len bytes, named `name` in error paths, and skips them here. */
  sub(len: number, name: string): Reader {
    this.need(len);
    const r = new Reader(this.buf, this.pos, this.pos + len, [...this.path, name]);
    this.pos += len;
    return r;
  }

  /** fail throws a DecodeError at the current position with this reader's path. */
  fail(code: ConstructorParameters<typeof DecodeError>[0], detail: string, name?: string): never {
    throw new DecodeError(code, name === undefined ? this.path : [...this.path, name], this.pos, detail);
  }
}
