import { putU16At, u16At as u16 } from '../wire/byte-order.js';
import { latin1Of } from '../wire/latin1.js';

/**
 * RecordArena keeps a cache's per-entry bytes — the entry's key, then its message body (the
 * internal cache's: what it sends; the external cache's: what it received) — in one growing
 * Uint8Array instead of two strings per entry. For the internal cache: a burst of new entries
 * then allocates one JS object each (the CacheObject) where it allocated three, and the young
 * generation's collector copies a third of the objects (the key and body strings were two thirds
 * of what a 100 000-entry burst left in the young generation; the sender's JS heap fell from 153
 * to 27 B an entry, its RSS at 1 000 000 entries from 341 to 313 MiB — its CPU per entry did not
 * move beyond the benchmark's noise; bench/RESULTS.md).
 *
 * A record at offset `at`: key length, body length, body capacity (u16 each),
 * then the key, then the body (capacity bytes). The lengths are in host order (wire/byte-order.ts u16At):
 * records never leave the process. A body that grows past its record's capacity
 * moves to a new record; the old one becomes garbage. Space runs out → the arena compacts into a
 * new buffer when at least a third of it is garbage, and doubles otherwise. Compaction moves the
 * records of the holders `holders()` lists (every record still in use must have its holder there)
 * and updates their `at`; offsets are therefore valid only until the next create or setBody.
 */

/** ArenaHolder owns at most one record: its offset, -1 for none. */
export interface ArenaHolder {
  at: number;
}

const HEADER = 6;
const MAX_FIELD = 0xffff;
const MIN_BYTES = 64;


export class RecordArena {
  /** The records; replaced when the arena grows or compacts (read it after a create or setBody, not before). */
  bytes: Uint8Array;
  private end = 0;
  private garbage = 0;
  /** Compactions and growths so far (InternalCache.arenaStats; tests). */
  readonly stats = { compactions: 0, growths: 0 };
  private keyScratch = new Uint8Array(64);

  constructor(
    private readonly holders: () => Iterable<ArenaHolder>,
    initialBytes = 64 * 1024,
  ) {
    this.bytes = new Uint8Array(Math.max(MIN_BYTES, initialBytes));
  }

  /** usedBytes: records in use and garbage, up to the arena's end. */
  get usedBytes(): number {
    return this.end;
  }
  get garbageBytes(): number {
    return this.garbage;
  }

  keyLength(at: number): number {
    return u16(this.bytes, at);
  }
  keyStart(at: number): number {
    return at + HEADER;
  }
  bodyLength(at: number): number {
    return u16(this.bytes, at + 2);
  }
  bodyStart(at: number): number {
    return at + HEADER + u16(this.bytes, at);
  }

  /** keyOf / bodyOf are the record's key and body as latin1 strings (slow paths: output, tests). */
  keyOf(at: number): string {
    const s = this.keyStart(at);
    return latin1Of(this.bytes, s, s + this.keyLength(at));
  }
  bodyOf(at: number): string {
    const s = this.bodyStart(at);
    return latin1Of(this.bytes, s, s + this.bodyLength(at));
  }

  /** keyEquals tells whether the record's key is bytes [0, len) of `key`. */
  keyEquals(at: number, key: Uint8Array, len: number): boolean {
    const b = this.bytes;
    if (u16(b, at) !== len) return false;
    const s = at + HEADER;
    for (let i = 0; i < len; i++) if (b[s + i] !== key[i]) return false;
    return true;
  }

  /**
   * create gives `h` (which has no record) a record holding key bytes [0, keyLen) of `key` and
   * body bytes [bodyAt, bodyAt + bodyLen) of `body`.
   */
  create(h: ArenaHolder, key: Uint8Array, keyLen: number, body: Uint8Array, bodyLen: number, bodyAt = 0): void {
    if (keyLen > MAX_FIELD || bodyLen > MAX_FIELD) throw new RangeError(`a record of a ${keyLen}-byte key and a ${bodyLen}-byte body does not fit the arena's 16-bit lengths`);
    const at = this.allocate(HEADER + keyLen + bodyLen);
    const b = this.bytes;
    putU16At(b, at, keyLen);
    putU16At(b, at + 2, bodyLen);
    putU16At(b, at + 4, bodyLen);
    const k = at + HEADER;
    for (let i = 0; i < keyLen; i++) b[k + i] = key[i]!;
    const s = k + keyLen;
    for (let i = 0; i < bodyLen; i++) b[s + i] = body[bodyAt + i]!;
    h.at = at;
  }

  /** setBody replaces the body of `h`'s record with bytes [bodyAt, bodyAt + len) of `body`, not the arena's own (the key stays). */
  setBody(h: ArenaHolder, body: Uint8Array, len: number, bodyAt = 0): void {
    let at = h.at;
    const b = this.bytes;
    if (u16(b, at + 4) < len) {
      // Too long for the record: the key moves with the body into a new one.
      const keyLen = u16(b, at);
      if (this.keyScratch.length < keyLen) this.keyScratch = new Uint8Array(2 * keyLen);
      const key = this.keyScratch;
      for (let i = 0; i < keyLen; i++) key[i] = b[at + HEADER + i]!;
      this.free(h);
      this.create(h, key, keyLen, body, len, bodyAt);
      return;
    }
    putU16At(b, at + 2, len);
    at += HEADER + u16(b, at);
    for (let i = 0; i < len; i++) b[at + i] = body[bodyAt + i]!;
  }

  /** free gives `h`'s record up (it becomes garbage); `h` holds none afterwards. */
  free(h: ArenaHolder): void {
    if (h.at < 0) return;
    this.garbage += HEADER + u16(this.bytes, h.at) + u16(this.bytes, h.at + 4);
    h.at = -1;
  }

  /** clear gives every record up (the holders must drop theirs: `at` -1). */
  clear(): void {
    this.end = 0;
    this.garbage = 0;
  }

  private allocate(size: number): number {
    if (this.end + size > this.bytes.length) this.makeRoom(size);
    const at = this.end;
    this.end += size;
    return at;
  }

  /** makeRoom compacts (a third or more is garbage) or grows the arena so that `size` more bytes fit at its end. */
  private makeRoom(size: number): void {
    const live = this.end - this.garbage;
    let capacity = this.bytes.length;
    while (capacity < 2 * (live + size)) capacity *= 2;
    const next = new Uint8Array(capacity);
    if (3 * this.garbage >= this.end) {
      let n = 0;
      const b = this.bytes;
      for (const h of this.holders()) {
        const at = h.at;
        if (at < 0) continue;
        const len = HEADER + u16(b, at) + u16(b, at + 4);
        next.set(b.subarray(at, at + len), n);
        h.at = n;
        n += len;
      }
      this.end = n;
      this.garbage = 0;
      this.stats.compactions++;
    } else {
      next.set(this.bytes.subarray(0, this.end));
      this.stats.growths++;
    }
    this.bytes = next;
  }
}
