/**
 * OpenTable is the caches' hash index: non-negative int32 values (record offsets) in an
 * open-addressing table (linear probing, backward-shift deletion) whose 32-bit hashes sit in one
 * Int32Array and values in another. A lookup that misses, the common case for a flood of new
 * entries, reads the hashes alone; a JS Map of 100 000 string keys follows a bucket, an entry and
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
  private hashes = new Int32Array(MIN_CAPACITY);
  /** slots[i]: the value of slot i, meaningful where hashes[i] is not 0. */
  private slots = new Int32Array(MIN_CAPACITY);
  private mask = MIN_CAPACITY - 1;
  private count = 0;

  /** matches tells whether `v` is the value stored under `key`. */
  protected abstract matches(v: number, key: K): boolean;

  get size(): number {
    return this.count;
  }

  /** slotOf is the slot holding `key`, or the empty slot where it would go (-1 - slot). */
  protected slotOf(key: K, h: number): number {
    const hashes = this.hashes;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = hashes[i]!;
      if (s === 0) return -1 - i;
      if (s === h && this.matches(this.slots[i]!, key)) return i;
    }
  }

  /** slotOfValue is the slot holding `v` itself (hashed `h`), or -1. */
  protected slotOfValue(v: number, h: number): number {
    const hashes = this.hashes;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = hashes[i]!;
      if (s === 0) return -1;
      if (s === h && this.slots[i] === v) return i;
    }
  }

  protected valueAt(i: number): number | undefined {
    return i >= 0 ? this.slots[i] : undefined;
  }

  /** putAt stores `v` at slot `i` of a slotOf answer (replacing a value, or filling the empty slot -1 - i). */
  protected putAt(i: number, h: number, v: number): void {
    if (i >= 0) {
      this.slots[i] = v;
      return;
    }
    const at = -1 - i;
    this.hashes[at] = h;
    this.slots[at] = v;
    if (++this.count * 2 > this.hashes.length) this.resize(this.hashes.length * 2);
  }

  /** removeAt empties slot `i` (a slotOf answer ≥ 0). */
  protected removeAt(i: number): void {
    // Backward shift: move later members of the probe run into the hole, so that no lookup stops early.
    const hashes = this.hashes;
    const slots = this.slots;
    const mask = this.mask;
    for (let j = (i + 1) & mask; hashes[j] !== 0; j = (j + 1) & mask) {
      const home = hashes[j]! & mask;
      // j's value may fill the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        hashes[i] = hashes[j]!;
        slots[i] = slots[j]!;
        i = j;
      }
    }
    hashes[i] = 0;
    this.count--;
    if (this.hashes.length > MIN_CAPACITY && this.count * 8 < this.hashes.length) this.resize(this.hashes.length / 2);
  }

  clear(): void {
    this.hashes = new Int32Array(MIN_CAPACITY);
    this.slots = new Int32Array(MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
    this.count = 0;
  }

  /** mapValues replaces each value with f(value), in place (keys and places unchanged). */
  protected mapValues(f: (v: number) => number): void {
    const hashes = this.hashes;
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) if (hashes[i] !== 0) slots[i] = f(slots[i]!);
  }

  *values(): IterableIterator<number> {
    const hashes = this.hashes;
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) if (hashes[i] !== 0) yield slots[i]!;
  }

  private resize(capacity: number): void {
    const oldHashes = this.hashes;
    const oldSlots = this.slots;
    this.hashes = new Int32Array(capacity);
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < oldHashes.length; i++) {
      const h = oldHashes[i]!;
      if (h === 0) continue;
      let j = h & this.mask;
      while (this.hashes[j] !== 0) j = (j + 1) & this.mask;
      this.hashes[j] = h;
      this.slots[j] = oldSlots[i]!;
    }
  }
}
