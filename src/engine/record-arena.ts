import { be32At, putBe32At, putU16At, u16At as u16 } from '../wire/byte-order.js';
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
 * A record at offset `at`: key length, body length, body capacity (u16 each), with `stamped` a
 * time in ms (48 bits: u16 high, u32 low), then the key, then the body (capacity bytes). The
 * fields are in host order (wire/byte-order.ts u16At): records never leave the process. A body
 * that grows past its record's capacity moves to a new record; the old one becomes garbage. Space
 * runs out → the arena compacts into a new buffer when at least a third of it is garbage, and
 * doubles otherwise. Compaction moves the records its owner's `relocate` hands it (every record
 * still in use must be among them) and the owner keeps the new offsets; offsets are therefore
 * valid only until the next create or setBody — or, while the arena is held (`hold`), until the
 * release: a held arena only grows, which keeps every offset.
 */

/** ArenaHolder owns at most one record: its offset, -1 for none. */
export interface ArenaHolder {
  at: number;
}

/**
 * Relocate is how an arena's owner has its records moved: it calls `move` with the offset of
 * every record it still holds (never -1) and keeps the offset returned (-1 for a record that was
 * freed meanwhile, as setBody frees one before making the longer one).
 */
export type Relocate = (move: (at: number) => number) => void;

/** relocateHolders is the Relocate of owners that keep each record's offset in an object (ArenaHolder). */
export function relocateHolders(holders: () => Iterable<ArenaHolder>): Relocate {
  return (move) => {
    for (const h of holders()) if (h.at >= 0) h.at = move(h.at);
  };
}

const HEADER = 6;
const STAMP_BYTES = 6;
const MAX_FIELD = 0xffff;
/** A freed record's key length: compaction leaves it behind whoever still names it. */
const FREED = 0xffff;
const MIN_BYTES = 64;
const TWO_32 = 4294967296;

export class RecordArena {
  /** The records; replaced when the arena grows or compacts (read it after a create or setBody, not before). */
  bytes: Uint8Array;
  private end = 0;
  private garbage = 0;
  /** Bytes before a record's key: the lengths, and the stamp when there is one. */
  private readonly header: number;
  /** hold() calls not yet released: while any, the arena grows and never compacts. */
  private holds = 0;
  /** Records freed while held: freed at the last release. */
  private freedWhileHeld: number[] = [];
  /** Compactions and growths so far (InternalCache.arenaStats; tests). */
  readonly stats = { compactions: 0, growths: 0 };
  private keyScratch = new Uint8Array(64);

  constructor(
    private readonly relocate: Relocate,
    initialBytes = 64 * 1024,
    /** Whether records carry a time (stampOf / setStamp): the external cache's receive time. */
    stamped = false,
  ) {
    this.bytes = new Uint8Array(Math.max(MIN_BYTES, initialBytes));
    this.header = stamped ? HEADER + STAMP_BYTES : HEADER;
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
    return at + this.header;
  }
  bodyLength(at: number): number {
    return u16(this.bytes, at + 2);
  }
  bodyStart(at: number): number {
    return at + this.header + u16(this.bytes, at);
  }

  /** stampOf is the time a stamped record carries (ms, exact up to 2^48). */
  stampOf(at: number): number {
    return u16(this.bytes, at + HEADER) * TWO_32 + be32At(this.bytes, at + HEADER + 2);
  }
  /** setStamp sets a stamped record's time (ms ≥ 0, below 2^48). */
  setStamp(at: number, ms: number): void {
    putU16At(this.bytes, at + HEADER, Math.floor(ms / TWO_32));
    putBe32At(this.bytes, at + HEADER + 2, ms >>> 0);
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
    const s = at + this.header;
    for (let i = 0; i < len; i++) if (b[s + i] !== key[i]) return false;
    return true;
  }

  /**
   * create makes a record holding key bytes [0, keyLen) of `key` and body bytes
   * [bodyAt, bodyAt + bodyLen) of `body`, and returns its offset (a stamped one's time is 0).
   */
  create(key: Uint8Array, keyLen: number, body: Uint8Array, bodyLen: number, bodyAt = 0): number {
    if (keyLen >= FREED || bodyLen > MAX_FIELD) throw new RangeError(`a record of a ${keyLen}-byte key and a ${bodyLen}-byte body does not fit the arena's 16-bit lengths`);
    const header = this.header;
    const at = this.allocate(header + keyLen + bodyLen);
    const b = this.bytes;
    putU16At(b, at, keyLen);
    putU16At(b, at + 2, bodyLen);
    putU16At(b, at + 4, bodyLen);
    for (let i = HEADER; i < header; i++) b[at + i] = 0;
    const k = at + header;
    for (let i = 0; i < keyLen; i++) b[k + i] = key[i]!;
    const s = k + keyLen;
    for (let i = 0; i < bodyLen; i++) b[s + i] = body[bodyAt + i]!;
    return at;
  }

  /**
   * setBody replaces the body of the record at `at` with bytes [bodyAt, bodyAt + len) of `body`,
   * not the arena's own (the key and the stamp stay), and returns the record's offset: `at`, or a
   * new one when the body no longer fits (the old record is then freed).
   */
  setBody(at: number, body: Uint8Array, len: number, bodyAt = 0): number {
    const b = this.bytes;
    if (u16(b, at + 4) < len) {
      // Too long for the record: the key and the stamp move with the body into a new one.
      const keyLen = u16(b, at);
      const header = this.header;
      if (this.keyScratch.length < header + keyLen) this.keyScratch = new Uint8Array(2 * (header + keyLen));
      const kept = this.keyScratch;
      for (let i = 0; i < header + keyLen; i++) kept[i] = b[at + i]!;
      this.free(at);
      const moved = this.create(kept.subarray(header), keyLen, body, len, bodyAt);
      const nb = this.bytes;
      for (let i = HEADER; i < header; i++) nb[moved + i] = kept[i]!;
      return moved;
    }
    putU16At(b, at + 2, len);
    const s = at + this.header + u16(b, at);
    for (let i = 0; i < len; i++) b[s + i] = body[bodyAt + i]!;
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
    const b = this.bytes;
    if (u16(b, at) === FREED) return;
    this.garbage += this.header + u16(b, at) + u16(b, at + 4);
    putU16At(b, at, FREED);
  }

  /** clear gives every record up (the owner must drop its offsets); not while held. */
  clear(): void {
    if (this.holds > 0) throw new Error('RecordArena.clear while held');
    this.end = 0;
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

  private allocate(size: number): number {
    if (this.end + size > this.bytes.length) this.makeRoom(size);
    const at = this.end;
    this.end += size;
    return at;
  }

  /** makeRoom compacts (a third or more is garbage, nothing held) or grows the arena so that `size` more bytes fit at its end. */
  private makeRoom(size: number): void {
    const compact = this.holds === 0 && 3 * this.garbage >= this.end;
    // Held, a growth copies the garbage too: room for all of it.
    const live = this.holds === 0 ? this.end - this.garbage : this.end;
    let capacity = this.bytes.length;
    while (capacity < 2 * (live + size)) capacity *= 2;
    const next = new Uint8Array(capacity);
    const b = this.bytes;
    if (compact) {
      let n = 0;
      const header = this.header;
      this.relocate((at) => {
        if (u16(b, at) === FREED) return -1;
        const len = header + u16(b, at) + u16(b, at + 4);
        next.set(b.subarray(at, at + len), n);
        n += len;
        return n - len;
      });
      this.end = n;
      this.garbage = 0;
      this.stats.compactions++;
    } else {
      next.set(b.subarray(0, this.end));
      this.stats.growths++;
    }
    this.bytes = next;
  }
}
