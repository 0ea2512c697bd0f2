import { be32At, putBe32At, putU16At, u16At as u16 } from '../wire/byte-order.js';
import { latin1Of } from '../wire/latin1.js';
import { copyBytes, ViewCache, viewOf } from '../wire/copy.js';

/**
 * RecordArena keeps a cache's per-entry bytes — the entry's key, then its message body (the
 * internal cache's: what it sends; the external cache's: what it received) — in growing
 * Uint8Array segments instead of strings and objects per entry: an entry is its record, which the
 * collector neither copies nor marks (both caches' entries are records alone; bench/RESULTS.md).
 *
 * A record: key length, body length, body capacity (u16 each), then the owner's `metaBytes` (the
 * external cache's receive time, the internal cache's per-entry state: see their accessors), then
 * the key, then the body (capacity bytes). The fields are in host order (wire/byte-order.ts
 * u16At): records never leave the process. A body that grows past its
 * record's capacity moves to a new record; the old one becomes garbage.
 *
 * The bytes are segments of `segmentBytes` (1 MiB; the first starts small and doubles up to that),
 * and a record never straddles two: its offset `at` is segment × segmentBytes + the place in it,
 * and bytesAt(at) is the segment that keyStart/bodyStart index. Growing adds a segment, so nothing
 * is copied and no second buffer lives beside the first: a buffer that doubled held the old one
 * and a copy at once — at 1 000 000 entries a sender's peak RSS carried 64 MiB of arena twice.
 * Space runs out and at least a third of what the records took is garbage → the arena compacts
 * into new segments: it moves the records its owner's `relocate` hands it (every record still in
 * use must be among them), and the owner keeps the new offsets. Offsets are therefore valid only
 * until the next create or setBody — or, while the arena is held (`hold`), until the release: a
 * held arena only grows, which keeps every offset.
 */

/**
 * Relocate is how an arena's owner has its records moved: it calls `move` with the offset of
 * every record it still holds (never -1) and keeps the offset returned (-1 for a record that was
 * freed meanwhile, as setBody frees one before making the longer one).
 */
export type Relocate = (move: (at: number) => number) => void;

const HEADER = 6;
/** STAMP_BYTES: the meta bytes stampOf / setStamp use (a time in ms, 48 bits: u16 high, u32 low). */
export const STAMP_BYTES = 6;
const MAX_FIELD = 0xffff;
/** A freed record's key length: compaction leaves it behind whoever still names it. */
const FREED = 0xffff;
const MIN_BYTES = 64;
const TWO_32 = 4294967296;
/** SEGMENT_BYTES: the default segment, a power of two above the largest record (12 + 65 534 + 65 535 bytes). */
export const SEGMENT_BYTES = 1 << 20;
/** Offsets stay small integers (V8 Smis: below 2^31 on 64-bit): 2 GiB of records at most. */
const MAX_OFFSET = 2 ** 31;

export class RecordArena {
  /** The segments; the last one takes new records. */
  private segs: Uint8Array[];
  private seg: Uint8Array;
  /** DataViews of the segments (views[i] of segs[i]; segView of seg), for copyBytes. */
  private views: DataView[];
  private segView: DataView;
  /** The views of the last key and body sources given (usually the same scratch arrays, call after call). */
  private readonly keySources = new ViewCache();
  private readonly bodySources = new ViewCache();
  private segIndex = 0;
  /** Bytes taken in the last segment. */
  private fill = 0;
  /** Bytes the records took (in use and garbage), segments' unused tails not included. */
  private used = 0;
  private garbage = 0;
  private readonly segBits: number;
  private readonly segMask: number;
  /** Bytes before a record's key: the lengths, and the stamp when there is one. */
  private readonly header: number;
  /** hold() calls not yet released: while any, the arena grows and never compacts. */
  private holds = 0;
  /** Records freed while held: freed at the last release. */
  private freedWhileHeld: number[] = [];
  /** Compactions and growths (a first segment doubled, or a segment added) so far (InternalCache.arenaStats; tests). */
  readonly stats = { compactions: 0, growths: 0 };
  private keyScratch = new Uint8Array(64);

  constructor(
    private readonly relocate: Relocate,
    initialBytes = 64 * 1024,
    /**
     * Bytes of the owner's own in each record, between the lengths and the key, zero in a new
     * record and moved with it (metaAt; STAMP_BYTES for stampOf / setStamp).
     */
    readonly metaBytes = 0,
    /** A power of two; tests make it small to have many. */
    readonly segmentBytes = SEGMENT_BYTES,
  ) {
    if (!Number.isInteger(Math.log2(segmentBytes)) || segmentBytes < MIN_BYTES) throw new RangeError(`segmentBytes ${segmentBytes}: a power of two of at least ${MIN_BYTES}`);
    this.segBits = Math.log2(segmentBytes);
    this.segMask = segmentBytes - 1;
    this.seg = new Uint8Array(Math.min(segmentBytes, Math.max(MIN_BYTES, initialBytes)));
    this.segs = [this.seg];
    this.segView = viewOf(this.seg);
    this.views = [this.segView];
    if (!Number.isInteger(metaBytes) || metaBytes < 0 || metaBytes > 64) throw new RangeError(`metaBytes ${metaBytes}: 0 to 64`);
    this.header = HEADER + metaBytes;
  }

  /** usedBytes: what the records took, in use and garbage. */
  get usedBytes(): number {
    return this.used;
  }
  get garbageBytes(): number {
    return this.garbage;
  }
  /** segmentCount: the segments the arena has now. */
  get segmentCount(): number {
    return this.segs.length;
  }

  /** bytesAt is the segment that holds the record at `at`: keyStart and bodyStart index it. */
  bytesAt(at: number): Uint8Array {
    return this.segs[at >>> this.segBits]!;
  }
  /** viewAt is the DataView of bytesAt(at) (the arena keeps one per segment). */
  viewAt(at: number): DataView {
    return this.views[at >>> this.segBits]!;
  }

  keyLength(at: number): number {
    return u16(this.segs[at >>> this.segBits]!, at & this.segMask);
  }
  /** keyStart is where the key begins in bytesAt(at). */
  keyStart(at: number): number {
    return (at & this.segMask) + this.header;
  }
  bodyLength(at: number): number {
    return u16(this.segs[at >>> this.segBits]!, (at & this.segMask) + 2);
  }
  /** bodyStart is where the body begins in bytesAt(at). */
  bodyStart(at: number): number {
    const o = at & this.segMask;
    return o + this.header + u16(this.segs[at >>> this.segBits]!, o);
  }

  /** metaAt is where the record's meta bytes begin in bytesAt(at) (metaBytes of them). */
  metaAt(at: number): number {
    return (at & this.segMask) + HEADER;
  }

  /** stampOf is the time a record carries in its first STAMP_BYTES meta bytes (ms, exact up to 2^48). */
  stampOf(at: number): number {
    const b = this.segs[at >>> this.segBits]!;
    const o = (at & this.segMask) + HEADER;
    return u16(b, o) * TWO_32 + be32At(b, o + 2);
  }
  /** setStamp sets the time a record carries (ms ≥ 0, below 2^48; metaBytes ≥ STAMP_BYTES). */
  setStamp(at: number, ms: number): void {
    const b = this.segs[at >>> this.segBits]!;
    const o = (at & this.segMask) + HEADER;
    putU16At(b, o, Math.floor(ms / TWO_32));
    putBe32At(b, o + 2, ms >>> 0);
  }

  /** keyOf / bodyOf are the record's key and body as latin1 strings (slow paths: output, tests). */
  keyOf(at: number): string {
    const s = this.keyStart(at);
    return latin1Of(this.bytesAt(at), s, s + this.keyLength(at));
  }
  bodyOf(at: number): string {
    const s = this.bodyStart(at);
    return latin1Of(this.bytesAt(at), s, s + this.bodyLength(at));
  }

  /** keyEquals tells whether the record's key is bytes [0, len) of `key`. */
  keyEquals(at: number, key: Uint8Array, len: number): boolean {
    const b = this.segs[at >>> this.segBits]!;
    const o = at & this.segMask;
    if (u16(b, o) !== len) return false;
    const s = o + this.header;
    const v = this.views[at >>> this.segBits]!;
    const kv = this.keySources.of(key);
    let i = 0;
    for (; i + 4 <= len; i += 4) if (v.getInt32(s + i) !== kv.getInt32(i)) return false;
    for (; i < len; i++) if (b[s + i] !== key[i]) return false;
    return true;
  }

  /**
   * create makes a record holding key bytes [0, keyLen) of `key` and body bytes
   * [bodyAt, bodyAt + bodyLen) of `body`, and returns its offset (its meta bytes are 0).
   */
  create(key: Uint8Array, keyLen: number, body: Uint8Array, bodyLen: number, bodyAt = 0): number {
    const header = this.header;
    const size = header + keyLen + bodyLen;
    if (keyLen >= FREED || bodyLen > MAX_FIELD || size > this.segmentBytes) throw new RangeError(`a record of a ${keyLen}-byte key and a ${bodyLen}-byte body does not fit the arena's 16-bit lengths or its ${this.segmentBytes}-byte segments`);
    const at = this.allocate(size);
    const b = this.seg; // allocate places every record in the last segment
    const o = at & this.segMask;
    putU16At(b, o, keyLen);
    putU16At(b, o + 2, bodyLen);
    putU16At(b, o + 4, bodyLen);
    for (let i = HEADER; i < header; i++) b[o + i] = 0;
    const k = o + header;
    const v = this.segView;
    copyBytes(v, b, k, this.keySources.of(key), key, 0, keyLen);
    copyBytes(v, b, k + keyLen, this.bodySources.of(body), body, bodyAt, bodyLen);
    return at;
  }

  /**
   * setBody replaces the body of the record at `at` with bytes [bodyAt, bodyAt + len) of `body`,
   * not the arena's own (the key and the meta bytes stay), and returns the record's offset: `at`, or a
   * new one when the body no longer fits (the old record is then freed).
   */
  setBody(at: number, body: Uint8Array, len: number, bodyAt = 0): number {
    const b = this.segs[at >>> this.segBits]!;
    const o = at & this.segMask;
    if (u16(b, o + 4) < len) {
      // Too long for the record: the key and the meta bytes move with the body into a new one.
      const keyLen = u16(b, o);
      const header = this.header;
      if (this.keyScratch.length < header + keyLen) this.keyScratch = new Uint8Array(2 * (header + keyLen));
      const kept = this.keyScratch;
      for (let i = 0; i < header + keyLen; i++) kept[i] = b[o + i]!;
      this.free(at);
      const moved = this.create(kept.subarray(header), keyLen, body, len, bodyAt);
      const nb = this.seg;
      const no = moved & this.segMask;
      for (let i = HEADER; i < header; i++) nb[no + i] = kept[i]!;
      return moved;
    }
    putU16At(b, o + 2, len);
    copyBytes(this.views[at >>> this.segBits]!, b, o + this.header + u16(b, o), this.bodySources.of(body), body, bodyAt, len);
    return at;
  }

  /**
   * free gives the record at `at` up: it becomes garbage, left behind by the next compaction.
   * While the arena is held, the record stays readable until the release.
   */
  free(at: number): void {
    if (this.holds > 0) {
      this.freedWhileHeld.push(at);
      return;
    }
    const b = this.segs[at >>> this.segBits]!;
    const o = at & this.segMask;
    if (u16(b, o) === FREED) return;
    this.garbage += this.header + u16(b, o) + u16(b, o + 4);
    putU16At(b, o, FREED);
  }

  /** clear gives every record up (the owner must drop its offsets) and the segments but the first; not while held. */
  clear(): void {
    if (this.holds > 0) throw new Error('RecordArena.clear while held');
    this.seg = this.segs[0]!;
    this.segs = [this.seg];
    this.segView = this.views[0]!;
    this.views = [this.segView];
    this.segIndex = 0;
    this.fill = 0;
    this.used = 0;
    this.garbage = 0;
  }

  /** held: a hold() is not released yet. */
  get held(): boolean {
    return this.holds > 0;
  }

  /**
   * hold keeps every record where it is until the returned function is called (once; holds
   * nest): the arena grows instead of compacting, so that offsets taken before stay valid, and
   * records freed meanwhile stay readable until the last release frees them. A setBody that fits
   * still writes in place: an owner that must keep a body as it was makes a new record instead.
   */
  hold(): () => void {
    this.holds++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.holds > 0) return;
      const freed = this.freedWhileHeld;
      this.freedWhileHeld = [];
      for (const at of freed) this.free(at);
    };
  }

  /** allocate takes `size` bytes in the last segment (compacting first when a third of what records took is garbage). */
  private allocate(size: number): number {
    if (this.fill + size > this.seg.length && this.holds === 0 && this.garbage > 0 && 3 * this.garbage >= this.used) this.compact(size);
    return this.reserve(size);
  }

  /** reserve takes `size` bytes at the end: in the last segment, the first one doubled, or a new segment. */
  private reserve(size: number): number {
    if (this.fill + size > this.seg.length) {
      if (this.segs.length === 1 && this.seg.length < this.segmentBytes && this.fill + size <= this.segmentBytes) {
        // Room for the records in use twice over (garbage goes at the next compaction), and at least for all.
        let capacity = this.seg.length;
        while ((capacity < this.fill + size || capacity < 2 * (this.used - this.garbage + size)) && capacity < this.segmentBytes) capacity *= 2;
        const next = new Uint8Array(capacity);
        next.set(this.seg.subarray(0, this.fill));
        this.seg = next;
        this.segs[0] = next;
        this.segView = viewOf(next);
        this.views[0] = this.segView;
      } else {
        if ((this.segIndex + 2) * this.segmentBytes > MAX_OFFSET) throw new RangeError(`the arena would pass ${MAX_OFFSET} bytes`);
        this.seg = new Uint8Array(this.segmentBytes);
        this.segs.push(this.seg);
        this.segView = viewOf(this.seg);
        this.views.push(this.segView);
        this.segIndex++;
        this.fill = 0;
      }
      this.stats.growths++;
    }
    const at = this.segIndex * this.segmentBytes + this.fill;
    this.fill += size;
    this.used += size;
    return at;
  }

  /** compact moves the records in use into new segments, the first sized for them and `size` more. */
  private compact(size: number): void {
    const old = this.segs;
    const bits = this.segBits;
    const mask = this.segMask;
    const header = this.header;
    let first = MIN_BYTES;
    while (first < 2 * (this.used - this.garbage + size) && first < this.segmentBytes) first *= 2;
    this.seg = new Uint8Array(first);
    this.segs = [this.seg];
    this.segView = viewOf(this.seg);
    this.views = [this.segView];
    this.segIndex = 0;
    this.fill = 0;
    this.used = 0;
    this.garbage = 0;
    this.relocate((at) => {
      const b = old[at >>> bits]!;
      const o = at & mask;
      if (u16(b, o) === FREED) return -1;
      const len = header + u16(b, o) + u16(b, o + 4);
      const to = this.reserve(len);
      this.seg.set(b.subarray(o, o + len), to & mask);
      return to;
    });
    this.stats.compactions++;
  }
}
