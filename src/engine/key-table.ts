/**
 * KeyTable is the caches' index: values carrying their own string key, in an open-addressing hash
 * table (linear probing, backward-shift deletion) whose 32-bit hashes sit in one Int32Array. A
 * lookup that misses, the common case for a flood of new entries, reads that array alone; a JS Map
 * of 100 000 string keys follows a bucket, an entry and the key string for each probe — measured
 * as the largest single item of a replicating node's profile in a 100 000-entry burst.
 *
 * Iteration is in slot order, not insertion order, and must not run across a delete (collect, then
 * delete), as the caches do.
 */
export interface Keyed {
  readonly key: string;
}

const MIN_CAPACITY = 16;

/** hashKey is FNV-1a over the key's characters (latin1: one byte each), never 0 (0 marks an empty slot). */
export function hashKey(key: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h === 0 ? 1 : h;
}

export class KeyTable<V extends Keyed> {
  private hashes = new Int32Array(MIN_CAPACITY);
  private slots: (V | undefined)[] = new Array<V | undefined>(MIN_CAPACITY).fill(undefined);
  private mask = MIN_CAPACITY - 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** slotOf is the slot holding `key`, or the empty slot where it would go (-1 - slot). */
  private slotOf(key: string, h: number): number {
    const hashes = this.hashes;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = hashes[i]!;
      if (s === 0) return -1 - i;
      if (s === h && this.slots[i]!.key === key) return i;
    }
  }

  /** The last get's key, hash and slotOf answer: a set of the same key string right after it (a cache's miss, then insert) probes no more. */
  private lastKey: string | undefined = undefined;
  private lastHash = 0;
  private lastSlot = 0;

  get(key: string): V | undefined {
    const h = hashKey(key);
    const i = this.slotOf(key, h);
    this.lastKey = key;
    this.lastHash = h;
    this.lastSlot = i;
    return i >= 0 ? this.slots[i] : undefined;
  }

  /** set puts `v` under v.key, replacing the value there. */
  set(v: V): void {
    const reuse = v.key === this.lastKey;
    const h = reuse ? this.lastHash : hashKey(v.key);
    const i = reuse ? this.lastSlot : this.slotOf(v.key, h);
    this.lastKey = undefined;
    if (i >= 0) {
      this.slots[i] = v;
      return;
    }
    const at = -1 - i;
    this.hashes[at] = h;
    this.slots[at] = v;
    if (++this.count * 2 > this.hashes.length) this.resize(this.hashes.length * 2);
  }

  /** delete removes the value under `key`; true when there was one. */
  delete(key: string): boolean {
    this.lastKey = undefined;
    let i = this.slotOf(key, hashKey(key));
    if (i < 0) return false;
    // Backward shift: move later members of the probe run into the hole, so that no lookup stops early.
    const hashes = this.hashes;
    const slots = this.slots;
    const mask = this.mask;
    for (let j = (i + 1) & mask; hashes[j] !== 0; j = (j + 1) & mask) {
      const home = hashes[j]! & mask;
      // j's value may fill the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        hashes[i] = hashes[j]!;
        slots[i] = slots[j];
        i = j;
      }
    }
    hashes[i] = 0;
    slots[i] = undefined;
    this.count--;
    if (this.hashes.length > MIN_CAPACITY && this.count * 8 < this.hashes.length) this.resize(this.hashes.length / 2);
    return true;
  }

  clear(): void {
    this.lastKey = undefined;
    this.hashes = new Int32Array(MIN_CAPACITY);
    this.slots = new Array<V | undefined>(MIN_CAPACITY).fill(undefined);
    this.mask = MIN_CAPACITY - 1;
    this.count = 0;
  }

  *values(): IterableIterator<V> {
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const v = slots[i];
      if (v !== undefined) yield v;
    }
  }

  private resize(capacity: number): void {
    const oldHashes = this.hashes;
    const oldSlots = this.slots;
    this.hashes = new Int32Array(capacity);
    this.slots = new Array<V | undefined>(capacity).fill(undefined);
    this.mask = capacity - 1;
    for (let i = 0; i < oldHashes.length; i++) {
      const h = oldHashes[i]!;
      if (h === 0) continue;
      let j = h & this.mask;
      while (this.hashes[j] !== 0) j = (j + 1) & this.mask;
      this.hashes[j] = h;
      this.slots[j] = oldSlots[i];
    }
  }
}
