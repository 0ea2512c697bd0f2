import { writeLatin1 } from '../wire/latin1.js';
import { FNV_OFFSET, FNV_PRIME, OpenTable } from './open-table.js';
import type { RecordArena } from './record-arena.js';

/** PROBE_BYTES is the longest key an OffsetTable looks up (a tuple nest's raw bytes stay far below it). */
const PROBE_BYTES = 512;

/** hashBytes is 32-bit FNV-1a over bytes [start, start + len) of `b`, never 0 (1 instead: 0 marks an empty slot). */
export function hashBytes(b: Uint8Array, start: number, len: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < start + len; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return h === 0 ? 1 : h;
}

/**
 * OffsetTable is a cache's index (both caches): an OpenTable of record offsets keyed by the key
 * bytes of their RecordArena record — no key string and no object per entry. A lookup writes the
 * key into `probe` and passes its length; a miss followed by `insert` (the cache's new entry)
 * probes once. Its arena's compaction moves the records through `relocate`.
 */
export class OffsetTable extends OpenTable<number> {
  /** Where a lookup's key bytes go before get(len). */
  readonly probe = new Uint8Array(PROBE_BYTES);
  /** The last get's hash and slot (valid until the table changes): insert's place after a miss. */
  private lastHash = 0;
  private lastSlot = 0;
  private lastValid = false;
  private lastLength = 0;

  constructor(readonly arena: RecordArena) {
    super();
  }

  protected matches(at: number, len: number): boolean {
    return this.arena.keyEquals(at, this.probe, len);
  }

  /** get is the offset of the record whose key is bytes [0, len) of `probe`. */
  get(len: number): number | undefined {
    const h = hashBytes(this.probe, 0, len);
    const i = this.slotOf(len, h);
    this.lastHash = h;
    this.lastSlot = i;
    this.lastValid = true;
    this.lastLength = len;
    return this.valueAt(i);
  }

  /** probeLength is the length of the last get's key (still in `probe` until the next lookup). */
  get probeLength(): number {
    return this.lastLength;
  }

  /** getKey is get for a key given as a latin1 string (slow paths: expectations' masters, tools). */
  getKey(key: string): number | undefined {
    if (key.length > PROBE_BYTES) return undefined;
    return this.get(writeLatin1(this.probe, key, 0));
  }

  /**
   * insert adds the record at `at`, which holds the key of the get that just missed (nothing may
   * have changed the table since).
   */
  insert(at: number): void {
    if (!this.lastValid || this.lastSlot >= 0) throw new Error('OffsetTable.insert must follow a get that missed');
    this.lastValid = false;
    this.putAt(this.lastSlot, this.lastHash, at);
  }

  /**
   * replaceFound puts the record at `at`, which holds the same key, in the place of the one the
   * last get found (nothing may have changed the table since).
   */
  replaceFound(at: number): void {
    if (!this.lastValid || this.lastSlot < 0) throw new Error('OffsetTable.replaceFound must follow a get that found the key');
    this.lastValid = false;
    this.putAt(this.lastSlot, this.lastHash, at);
  }

  /** remove takes the record at `at` out of the table; true when it was there. */
  remove(at: number): boolean {
    this.lastValid = false;
    if (at < 0) return false;
    const a = this.arena;
    const i = this.slotOfValue(at, hashBytes(a.bytesAt(at), a.keyStart(at), a.keyLength(at)));
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  override clear(): void {
    this.lastValid = false;
    super.clear();
  }

  /** relocate is the arena's Relocate for the offsets this table holds (see RecordArena). */
  relocate(move: (at: number) => number): void {
    this.mapValues(move);
  }
}
