/**
 * OpenTable is the caches' hash index: non-negative int32 values (record offsets) in an
 * open-addressing table (linear probing, backward-shift deletion) whose 32-bit hashes and values
 * sit side by side in one Int32Array. A lookup that misses, the common case for a flood of new
 * entries, compares hashes alone; a JS Map of 100 000 string keys follows a bucket, an entry and
 * the key string for each probe — measured as the largest single item of a replicating node's
 * profile in a 100 000-entry burst. Typed arrays also keep the index out of the collector's way: a
 * JS array of 2^19 slots is 4 MiB that every full collection walks.
 *
 * What a key is and how a value is compared with one is the subclass's (`matches`): OffsetTable
 * keys record offsets by the bytes of their RecordArena record (both caches). Hashes are computed by the caller and are
 * never 0 (0 marks an empty slot).
 *
 * Iteration is in slot order, not insertion order, and must not run across a delete (collect, then
 * delete), as the caches do.
 */

const MIN_CAPACITY = 16;

/** FNV-1a's 32-bit offset basis and prime: one step per key byte (record-table.ts hashBytes). */
export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;

export abstract class OpenTable<K> {
  /**
   * Slot i is cells[2i] (its hash, 0 when empty) and cells[2i + 1] (its value): a lookup's hash
   * and the value it returns, or an insert's two writes, share a cache line. As two arrays, a new
   * entry in a large table took a cache miss in each (perf of a sender's burst).
   */
  private cells = new Int32Array(2 * MIN_CAPACITY);
  private mask = MIN_CAPACITY - 1;
  private count = 0;

  /** matches tells whether `v` is the value stored under `key`. */
  protected abstract matches(v: number, key: K): boolean;

  get size(): number {
    return this.count;
  }

  /** slotOf is the slot holding `key`, or the empty slot where it would go (-1 - slot). */
  protected slotOf(key: K, h: number): number {
    const cells = this.cells;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = cells[2 * i]!;
      if (s === 0) return -1 - i;
      if (s === h && this.matches(cells[2 * i + 1]!, key)) return i;
    }
  }

  /** slotOfValue is the slot holding `v` itself (hashed `h`), or -1. */
  protected slotOfValue(v: number, h: number): number {
    const cells = this.cells;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = cells[2 * i]!;
      if (s === 0) return -1;
      if (s === h && cells[2 * i + 1] === v) return i;
    }
  }

  protected valueAt(i: number): number | undefined {
    return i >= 0 ? this.cells[2 * i + 1] : undefined;
  }

  /** putAt stores `v` at slot `i` of a slotOf answer (replacing a value, or filling the empty slot -1 - i). */
  protected putAt(i: number, h: number, v: number): void {
    if (i >= 0) {
      this.cells[2 * i + 1] = v;
      return;
    }
    const at = -1 - i;
    this.cells[2 * at] = h;
    this.cells[2 * at + 1] = v;
    if (++this.count * 2 > this.mask + 1) this.resize(2 * (this.mask + 1));
  }

  /** removeAt empties slot `i` (a slotOf answer ≥ 0). */
  protected removeAt(i: number): void {
    const cells = this.cells;
    const mask = this.mask;
    for (let j = (i + 1) & mask; cells[2 * j] !== 0; j = (j + 1) & mask) {
      const home = cells[2 * j]! & mask;
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        cells[2 * i] = cells[2 * j]!;
        cells[2 * i + 1] = cells[2 * j + 1]!;
        i = j;
      }
    }
    cells[2 * i] = 0;
    this.count--;
    if (this.mask + 1 > MIN_CAPACITY && this.count * 8 < this.mask + 1) this.resize((this.mask + 1) / 2);
  }

  clear(): void {
    this.cells = new Int32Array(2 * MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
    this.count = 0;
  }

  /** mapValues replaces each value with f(value), in place (keys and places unchanged). */
  protected mapValues(f: (v: number) => number): void {
    const cells = this.cells;
    for (let i = 0; i < cells.length; i += 2) if (cells[i] !== 0) cells[i + 1] = f(cells[i + 1]!);
  }

  *values(): IterableIterator<number> {
    const cells = this.cells;
    for (let i = 0; i < cells.length; i += 2) if (cells[i] !== 0) yield cells[i + 1]!;
  }

  private resize(capacity: number): void {
    const old = this.cells;
    const cells = new Int32Array(2 * capacity);
    const mask = capacity - 1;
    for (let i = 0; i < old.length; i += 2) {
      const h = old[i]!;
      if (h === 0) continue;
      let j = h & mask;
      while (cells[2 * j] !== 0) j = (j + 1) & mask;
      cells[2 * j] = h;
      cells[2 * j + 1] = old[i + 1]!;
    }
    this.cells = cells;
    this.mask = mask;
  }
}
