import type { Conntrack } from '../ctnetlink/types.js';

/**
 * The cache of conntrackd's Stats mode (stats-mode.c), pure: the live flows of the kernel table,
 * kept so that a flow's DESTROY event is logged only for a flow the daemon saw alive, with the
 * counters `-s` shows and the "traffic processed" totals of the logged flows. Times are passed in.
 *
 * conntrackd's rules, kept here:
 * - the initial dump (and `-R`) update-or-create entries without counters, timeout or use;
 * - NEW adds an entry unless one exists (an existing one is left as it is);
 * - UPDATE updates an existing entry (its attributes are laid over the cached ones, tuples kept)
 *   or adds one;
 * - DESTROY of a cached entry removes it and is logged; a DESTROY of an unknown entry is ignored
 *   (neither logged nor counted);
 * - the cached timeout is always dropped ("this may confuse users").
 */

/** StatsEntry is one cached flow: its last known attributes and when it entered the cache (whole seconds). */
export interface StatsEntry {
  readonly ct: Conntrack;
  readonly sinceSec: number;
}

/** StatsCacheCounters are struct cache's stats for the "stats" cache, as `-s` and `-s cache` print them. */
export interface StatsCacheCounters {
  addOk: number;
  addFail: number;
  addFailEnospc: number;
  updOk: number;
  delOk: number;
}

/** Traffic is "traffic processed": bytes and packets of the logged flows, both directions. */
export interface Traffic {
  bytes: bigint;
  packets: bigint;
}

const U32 = 0xffffffffn;

/** low32 is what conntrackd adds per counter: nfct_get_attr_u32 of a 64-bit attribute reads its low half (little-endian). */
function low32(v: bigint | undefined): bigint {
  return v === undefined ? 0n : v & U32;
}

/** withoutKeys returns `ct` without the named attributes (what nfct_attr_unset does). */
function withoutKeys(ct: Conntrack, keys: readonly (keyof Conntrack)[]): Conntrack {
  let out: Record<string, unknown> | undefined;
  for (const k of keys) {
    if (ct[k] === undefined) continue;
    out ??= { ...ct };
    delete out[k];
  }
  return (out as Conntrack | undefined) ?? ct;
}

const DUMP_DROPPED: readonly (keyof Conntrack)[] = ['countersOrig', 'countersReply', 'timeout', 'use'];
const EVENT_DROPPED: readonly (keyof Conntrack)[] = ['timeout'];

/** overlay is nfct_copy(old, new, NFCT_CP_META): the attributes `next` has replace the cached ones; the tuples stay. */
function overlay(prev: Conntrack, next: Conntrack): Conntrack {
  const out: Record<string, unknown> = { ...prev };
  for (const [k, v] of Object.entries(next)) if (v !== undefined && k !== 'orig' && k !== 'reply' && k !== 'family') out[k] = v;
  return out as unknown as Conntrack;
}

/**
 * StatsCache holds the live flows by identity (`key`: the caller's identity of the original tuple
 * and zone, as the sync caches use). `limit` is HashLimit: past it a new entry is refused and
 * counted as conntrackd's ENOSPC.
 */
export class StatsCache {
  private readonly entries = new Map<string, StatsEntry>();
  readonly counters: StatsCacheCounters = { addOk: 0, addFail: 0, addFailEnospc: 0, updOk: 0, delOk: 0 };
  readonly traffic: Traffic = { bytes: 0n, packets: 0n };

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  values(): IterableIterator<StatsEntry> {
    return this.entries.values();
  }

  get(key: string): StatsEntry | undefined {
    return this.entries.get(key);
  }

  private add(key: string, ct: Conntrack, nowSec: number): void {
    if (this.entries.size >= this.limit) {
      this.counters.addFail++;
      this.counters.addFailEnospc++;
      return;
    }
    this.entries.set(key, { ct, sinceSec: nowSec });
    this.counters.addOk++;
  }

  private updateForce(key: string, ct: Conntrack, nowSec: number): void {
    const prev = this.entries.get(key);
    if (prev === undefined) return this.add(key, ct, nowSec);
    this.entries.set(key, { ct: overlay(prev.ct, ct), sinceSec: prev.sinceSec });
    this.counters.updOk++;
  }

  /** populate is one entry of a kernel dump (start-up, `-R`). */
  populate(key: string, ct: Conntrack, nowSec: number): void {
    this.updateForce(key, withoutKeys(ct, DUMP_DROPPED), nowSec);
  }

  /** onNew is a NEW event. */
  onNew(key: string, ct: Conntrack, nowSec: number): void {
    if (!this.entries.has(key)) this.add(key, withoutKeys(ct, EVENT_DROPPED), nowSec);
  }

  /** onUpdate is an UPDATE event. */
  onUpdate(key: string, ct: Conntrack, nowSec: number): void {
    this.updateForce(key, withoutKeys(ct, EVENT_DROPPED), nowSec);
  }

  /**
   * onDestroy is a DESTROY event: when the flow was cached, it is removed, its counters are added
   * to `traffic`, and the flow to log is returned (the event's attributes without the timeout);
   * undefined when the flow was unknown.
   */
  onDestroy(key: string, ct: Conntrack): Conntrack | undefined {
    if (!this.entries.delete(key)) return undefined;
    this.counters.delOk++;
    this.traffic.bytes += low32(ct.countersOrig?.bytes) + low32(ct.countersReply?.bytes);
    this.traffic.packets += low32(ct.countersOrig?.packets) + low32(ct.countersReply?.packets);
    return withoutKeys(ct, EVENT_DROPPED);
  }

  /**
   * purge removes the entries whose keys are not in `alive` (the keys of a fresh kernel dump) and
   * returns them, to be logged as destroyed: conntrackd's stats_purge after a resync (counted as
   * deletions; their counters are unknown, so traffic is unchanged).
   */
  purge(alive: ReadonlySet<string>): Conntrack[] {
    const gone: Conntrack[] = [];
    for (const [key, e] of this.entries) {
      if (alive.has(key)) continue;
      this.entries.delete(key);
      this.counters.delOk++;
      gone.push(e.ct);
    }
    return gone;
  }

  /** flush empties the cache (`-f`); each entry counts as a deletion, as cache_flush does. */
  flush(): void {
    this.counters.delOk += this.entries.size;
    this.entries.clear();
  }
}
