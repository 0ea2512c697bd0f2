import type { Conntrack, Tuple } from '../ctnetlink/types.js';

/**
 * The two caches of a replicating node (conntrackd-protocol.md §1.3–§1.5), pure: no kernel, no
 * sockets, no clock reads (times are passed in, in milliseconds).
 *
 * - The internal cache mirrors the local kernel table: what this node sends to its peers. Its
 *   objects live NEW → ALIVE → DEAD; the message type sent for an object is derived from that
 *   status at transmit time, and a DEAD object is kept while the protocol still holds it (its DEL
 *   may have to be sent again).
 * - The external cache holds what peers sent: what this node would put into its kernel on
 *   takeover (commit).
 */

/** ctKey is an entry's identity: the original tuple (family, addresses, protocol, ports or ICMP id/type/code) and the zone. */
export function ctKey(ct: Conntrack): string {
  const t = ct.orig;
  if (t === undefined) return '';
  return `${tupleKey(t)}|z${ct.zone ?? 0}`;
}

function tupleKey(t: Tuple): string {
  return `${t.family}|${t.src}|${t.dst}|${t.proto}|${t.srcPort ?? ''}|${t.dstPort ?? ''}|${t.icmpId ?? ''}|${t.icmpType ?? ''}|${t.icmpCode ?? ''}|${t.zone ?? ''}`;
}

/** ObjStatus is conntrackd's object life cycle in the internal cache. */
export type ObjStatus = 'new' | 'alive' | 'dead';

/** CacheObject is one internal-cache entry. `ct` is replaced in place on every change, so queued references see the latest state. */
export interface CacheObject {
  readonly key: string;
  ct: Conntrack;
  status: ObjStatus;
  /** When the entry entered the cache (ms, from the caller's clock): `-i` shows "[active since Ns]". */
  readonly sinceMs: number;
}

/** KernelEventOrigin says who caused a kernel event: conntrackd suppresses its own (§1.4 step 4). */
export type KernelEventOrigin = 'other' | 'commit' | 'flush' | 'inject';

/** InternalResult says what the protocol should do with the object: send it (`enqueue`) or not. */
export interface InternalResult {
  readonly obj: CacheObject | undefined;
  readonly enqueue: boolean;
}


/**
 * InternalCache is the mirror of the local kernel table. `limit` is HashLimit: past it a new
 * entry is refused and counted (the caller logs it), never silently dropped.
 */
export class InternalCache {
  private readonly objects = new Map<string, CacheObject>();
  readonly stats = { refusedOverLimit: 0, added: 0, updated: 0, deleted: 0 };

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.objects.size;
  }
  get(key: string): CacheObject | undefined {
    return this.objects.get(key);
  }
  values(): IterableIterator<CacheObject> {
    return this.objects.values();
  }

  /**
   * onKernelEvent applies one ctnetlink event (NEW replaces, UPDATE updates or creates, DESTROY
   * marks dead) and says whether to send it: events our own commit, flush or inject sockets
   * caused are not sent back (inject events are ignored entirely).
   */
  onKernelEvent(kind: 'new' | 'update' | 'destroy', ct: Conntrack, origin: KernelEventOrigin = 'other', nowMs = 0): InternalResult {
    if (origin === 'inject') return { obj: undefined, enqueue: false };
    const key = ctKey(ct);
    if (key === '') return { obj: undefined, enqueue: false };
    const existing = this.objects.get(key);
    if (kind === 'destroy') {
      if (existing === undefined) return { obj: undefined, enqueue: false };
      existing.status = 'dead';
      this.stats.deleted++;
      return { obj: existing, enqueue: origin !== 'flush' && origin !== 'commit' };
    }
    // Counters, use, id and timestamps are kept as the kernel sent them (copying the entry to drop
    // them cost ~0.5 µs an event): the wire encoder does not send them and no output shows them.
    const state = ct;
    if (existing !== undefined && !(kind === 'new' && existing.status === 'dead')) {
      existing.ct = kind === 'new' ? state : { ...existing.ct, ...state };
      existing.status = kind === 'new' ? 'new' : 'alive';
      this.stats.updated++;
      return { obj: existing, enqueue: origin !== 'commit' };
    }
    if (existing === undefined && this.objects.size >= this.limit) {
      this.stats.refusedOverLimit++;
      return { obj: undefined, enqueue: false };
    }
    const obj: CacheObject = { key, ct: state, status: kind === 'new' ? 'new' : 'alive', sinceMs: nowMs };
    this.objects.set(key, obj);
    this.stats.added++;
    return { obj, enqueue: origin !== 'commit' };
  }

  /** resync replaces the cache with a dump of the kernel table: entries no longer there become dead. */
  resync(dump: Iterable<Conntrack>, nowMs = 0): { added: CacheObject[]; changed: CacheObject[]; gone: CacheObject[] } {
    const seen = new Set<string>();
    const added: CacheObject[] = [];
    const changed: CacheObject[] = [];
    for (const ct of dump) {
      const key = ctKey(ct);
      if (key === '') continue;
      seen.add(key);
      const before = this.objects.get(key);
      const r = this.onKernelEvent('update', ct, 'other', nowMs);
      if (r.obj === undefined) continue;
      (before === undefined ? added : changed).push(r.obj);
    }
    const gone: CacheObject[] = [];
    for (const obj of this.objects.values()) {
      if (seen.has(obj.key) || obj.status === 'dead') continue;
      obj.status = 'dead';
      gone.push(obj);
    }
    return { added, changed, gone };
  }

  /** release removes a dead object once the protocol no longer holds it. */
  release(obj: CacheObject): void {
    if (obj.status === 'dead' && this.objects.get(obj.key) === obj) this.objects.delete(obj.key);
  }

  /** live lists the objects that are not dead (what `-i` shows and what a bulk send carries as NEW/UPD). */
  *live(): IterableIterator<CacheObject> {
    for (const o of this.objects.values()) if (o.status !== 'dead') yield o;
  }
}

/** ExternalEntry is one entry received from a peer, with when it was last received (ms). */
export interface ExternalEntry {
  readonly key: string;
  readonly ct: Conntrack;
  readonly receivedAtMs: number;
}

/**
 * ExternalCache holds the peers' entries, applying the message-type rules of §1.5: NEW replaces,
 * UPD updates or creates (a sender coalesces NEW into UPD, so an unknown tuple in an UPD is a
 * create), DEL removes. Past `limit` (HashLimit) a new entry is refused and counted.
 */
export class ExternalCache {
  private readonly entries = new Map<string, ExternalEntry>();
  readonly stats = { refusedOverLimit: 0, deletedUnknown: 0, added: 0, updated: 0, deleted: 0 };

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }
  get(key: string): ExternalEntry | undefined {
    return this.entries.get(key);
  }
  values(): IterableIterator<ExternalEntry> {
    return this.entries.values();
  }

  /** apply applies one received data message; returns false when the entry was refused (over HashLimit) or unknown (DEL). */
  apply(op: 'new' | 'upd' | 'del', ct: Conntrack, nowMs: number): boolean {
    const key = ctKey(ct);
    if (key === '') return false;
    const existing = this.entries.get(key);
    if (op === 'del') {
      if (existing === undefined) {
        this.stats.deletedUnknown++;
        return false;
      }
      this.entries.delete(key);
      this.stats.deleted++;
      return true;
    }
    if (existing === undefined && this.entries.size >= this.limit) {
      this.stats.refusedOverLimit++;
      return false;
    }
    const merged = op === 'upd' && existing !== undefined ? { ...existing.ct, ...ct } : ct;
    this.entries.set(key, { key, ct: merged, receivedAtMs: nowMs });
    if (existing === undefined) this.stats.added++;
    else this.stats.updated++;
    return true;
  }

  /** flush empties the cache (`-f external`). */
  flush(): void {
    this.entries.clear();
  }
}
