import { writeLatin1 } from '../wire/latin1.js';
import { FNV_OFFSET, FNV_PRIME, OpenTable } from './open-table.js';
import type { ArenaHolder, RecordArena } from './record-arena.js';

/** PROBE_BYTES is the longest key a RecordTable looks up (a tuple nest's raw bytes stay far below it). */
const PROBE_BYTES = 512;

/** hashBytes is 32-bit FNV-1a over bytes [start, start + len) of `b`, never 0 (1 instead: 0 marks an empty slot). */
export function hashBytes(b: Uint8Array, start: number, len: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < start + len; i++) h = Math.imul(h ^ b[i]!, FNV_PRIME);
  return h === 0 ? 1 : h;
}

/**
 * ArenaKeyedTable is an OpenTable of values keyed by the key bytes of their RecordArena record
 * (`atOf`): a cache's index, with no key string per entry. A lookup writes the key into `probe`
 * and passes its length; a miss followed by `insert` (the cache's new entry) probes once.
 */
abstract class ArenaKeyedTable<V> extends OpenTable<V, number> {
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

  /** atOf is the offset of the record that holds `v`'s key. */
  protected abstract atOf(v: V): number;

  protected matches(v: V, len: number): boolean {
    return this.arena.keyEquals(this.atOf(v), this.probe, len);
  }

  /** get is the holder whose key is bytes [0, len) of `probe`. */
  get(len: number): V | undefined {
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
  getKey(key: string): V | undefined {
    if (key.length > PROBE_BYTES) return undefined;
    return this.get(writeLatin1(this.probe, key, 0));
  }

  /**
   * insert adds `v`, whose record holds the key of the get that just missed (nothing may have
   * changed the table since).
   */
  insert(v: V): void {
    if (!this.lastValid || this.lastSlot >= 0) throw new Error('RecordTable.insert must follow a get that missed');
    this.lastValid = false;
    this.putAt(this.lastSlot, this.lastHash, v);
  }

  /**
   * replaceFound puts `v`, whose record holds the same key, in the place of the value the last get
   * found (nothing may have changed the table since).
   */
  replaceFound(v: V): void {
    if (!this.lastValid || this.lastSlot < 0) throw new Error('RecordTable.replaceFound must follow a get that found the key');
    this.lastValid = false;
    this.putAt(this.lastSlot, this.lastHash, v);
  }

  /** remove takes `v` itself out of the table; true when it was there. */
  remove(v: V): boolean {
    this.lastValid = false;
    const at = this.atOf(v);
    if (at < 0) return false;
    const a = this.arena;
    const i = this.slotOfValue(v, hashBytes(a.bytesAt(at), a.keyStart(at), a.keyLength(at)));
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  override clear(): void {
    this.lastValid = false;
    super.clear();
  }
}

/** RecordTable holds objects that keep their record's offset themselves (ArenaHolder): the internal cache's CacheObjects. */
export class RecordTable<V extends ArenaHolder> extends ArenaKeyedTable<V> {
  protected atOf(v: V): number {
    return v.at;
  }
}

/**
 * OffsetTable holds record offsets alone — no object per entry — for a cache whose entry is its
 * record (the external cache). Its arena's compaction moves the records through `relocate`.
 */
export class OffsetTable extends ArenaKeyedTable<number> {
  protected atOf(at: number): number {
    return at;
  }

  /** relocate is the arena's Relocate for the offsets this table holds (see RecordArena). */
  relocate(move: (at: number) => number): void {
    this.mapValues(move);
  }
}
