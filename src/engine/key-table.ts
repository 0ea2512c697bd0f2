import { FNV_OFFSET, FNV_PRIME, OpenTable } from './open-table.js';

/** Keyed is a value that carries its own string key. */
export interface Keyed {
  readonly key: string;
}

/** hashKey is FNV-1a over the key's characters (latin1: one byte each, so hashBytes of its bytes), never 0. */
export function hashKey(key: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), FNV_PRIME);
  return h === 0 ? 1 : h;
}

/** KeyTable is an OpenTable of values keyed by their string `key` (the external caches, the expectation caches). */
export class KeyTable<V extends Keyed> extends OpenTable<V, string> {
  protected matches(v: V, key: string): boolean {
    return v.key === key;
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
    return this.valueAt(i);
  }

  /** set puts `v` under v.key, replacing the value there. */
  set(v: V): void {
    const reuse = v.key === this.lastKey;
    const h = reuse ? this.lastHash : hashKey(v.key);
    const i = reuse ? this.lastSlot : this.slotOf(v.key, h);
    this.lastKey = undefined;
    this.putAt(i, h, v);
  }

  /** delete removes the value under `key`; true when there was one. */
  delete(key: string): boolean {
    this.lastKey = undefined;
    const i = this.slotOf(key, hashKey(key));
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  override clear(): void {
    this.lastKey = undefined;
    super.clear();
  }
}
