import type { Expectation, Tuple } from '../ctnetlink/types.js';
import type { SyncOp } from '../sync/message.js';
import { ctKey, type CacheObject, type KernelEventOrigin, type ObjStatus } from './cache.js';
import { FtfwNode } from './ftfw.js';

/**
 * The expectation caches of a replicating node with ExpectationSync on (conntrackd 1.4.7's
 * cache-exp.c, internal_cache.c and external_cache.c, exp halves), pure. Expectations are few (one
 * per FTP/SIP/… control connection that announced a data connection), so they are kept as
 * decoded models, not bytes. Both caches key an expectation by its master tuple and its expected
 * tuple (expKey); the message-type rules are those of conntrack entries: NEW replaces, UPD updates
 * or creates, DEL removes (the internal cache marks it dead until FTFW no longer holds it).
 */

function tupleKey(t: Tuple | undefined): string {
  if (t === undefined) return '-';
  return `${t.src}>${t.dst}/${t.proto}/${t.srcPort ?? ''}>${t.dstPort ?? ''}`;
}

/**
 * expKey is an expectation's identity in both caches: family, master tuple, expected tuple. A
 * received expectation has no zone (the wire does not carry it), so the zone is left out.
 */
export function expKey(e: Expectation): string {
  return `${e.family}|${tupleKey(e.master)}|${tupleKey(e.tuple)}`;
}

/**
 * masterKeyOf is the internal conntrack cache's key (ctKey) of an expectation's master: the
 * master tuple is the master's original tuple, in the expectation's zone.
 */
export function masterKeyOf(e: Expectation): string {
  if (e.master === undefined) return '';
  return ctKey({ family: e.family, orig: e.master, ...(e.zone !== undefined ? { zone: e.zone } : {}) });
}

/**
 * helperAccepts is ExpectationSync's helper list (conntrackd's exp_filter_find): no list accepts
 * every expectation; with a list, the expectation's helper name must start with one of the listed
 * names, in any case (so `sip` takes `sip-5062`), and an expectation without a helper name is refused.
 */
export function helperAccepts(helpers: readonly string[] | undefined, e: Expectation): boolean {
  if (helpers === undefined) return true;
  const name = e.helper?.toLowerCase();
  if (name === undefined) return false;
  return helpers.some((h) => name.startsWith(h.toLowerCase()));
}

/**
 * ExpObject is one internal-cache expectation. Like CacheObject it is its own FTFW queue node, so
 * that it can wait in the same queues as conntrack entries (one sequence space); the message type
 * sent is derived from `status` at transmit time.
 */
export class ExpObject extends FtfwNode<SyncObject> {

  constructor(
    readonly key: string,
    public exp: Expectation,
    public status: ObjStatus,
    /** When it entered the cache, in whole seconds of the caller's clock (`-i expect`). */
    readonly sinceSec: number,
  ) {
    super();
  }

  /** Its place in FTFW's queues: the object itself. */
  get ftfwNode(): FtfwNode<SyncObject> {
    return this;
  }
}

/** SyncObject is what FTFW's queues carry with ExpectationSync: conntrack entries and expectations. */
export type SyncObject = CacheObject | ExpObject;

/** ExpSettings is what ExpectationSync asks for: `helpers` undefined = every helper. */
export interface ExpSettings {
  readonly helpers: readonly string[] | undefined;
}

/**
 * InternalExpCache mirrors the local kernel's expectation table, as conntrackd's exp event and
 * dump handlers do: an expectation passes when its helper is listed (helperAccepts) and its master
 * is in the internal conntrack cache (`hasMaster`); otherwise the event changes nothing and is
 * counted in stats.filtered. A DESTROY needs neither check: only a cached expectation is affected.
 */
export class InternalExpCache {
  private readonly objects = new Map<string, ExpObject>();
  readonly stats = { added: 0, updated: 0, deleted: 0, filtered: 0, refusedOverLimit: 0 };

  constructor(
    private readonly limit: number,
    private readonly settings: ExpSettings,
    private readonly hasMaster: (masterKey: string) => boolean,
  ) {}

  get size(): number {
    return this.objects.size;
  }
  /** liveSize is how many objects are not dead (`-s expect`'s active count). */
  get liveSize(): number {
    let n = 0;
    for (const o of this.objects.values()) if (o.status !== 'dead') n++;
    return n;
  }
  values(): IterableIterator<ExpObject> {
    return this.objects.values();
  }
  /** live lists the objects that are not dead (what `-i expect` shows). */
  *live(): IterableIterator<ExpObject> {
    for (const o of this.objects.values()) if (o.status !== 'dead') yield o;
  }
  find(e: Expectation): ExpObject | undefined {
    return this.objects.get(expKey(e));
  }

  /** accepts is the event and dump filter (see the class comment). */
  accepts(e: Expectation): boolean {
    return helperAccepts(this.settings.helpers, e) && e.master !== undefined && this.hasMaster(masterKeyOf(e));
  }

  /**
   * onKernelEvent applies one expectation event (NEW replaces, UPDATE updates or creates, DESTROY
   * marks dead) and returns the object it changed, if any. Events of our inject socket are ignored.
   */
  onKernelEvent(kind: 'new' | 'update' | 'destroy', e: Expectation, origin: KernelEventOrigin = 'other', nowMs = 0): ExpObject | undefined {
    if (origin === 'inject' || e.master === undefined || e.tuple === undefined) return undefined;
    const key = expKey(e);
    const existing = this.objects.get(key);
    if (kind === 'destroy') {
      if (existing === undefined || existing.status === 'dead') return existing;
      existing.status = 'dead';
      this.stats.deleted++;
      return existing;
    }
    if (!this.accepts(e)) {
      this.stats.filtered++;
      return undefined;
    }
    if (existing !== undefined) {
      existing.exp = e;
      existing.status = kind === 'new' ? 'new' : 'alive';
      this.stats.updated++;
      return existing;
    }
    if (this.objects.size >= this.limit) {
      this.stats.refusedOverLimit++;
      return undefined;
    }
    const obj = new ExpObject(key, e, kind === 'new' ? 'new' : 'alive', Math.floor(nowMs / 1000));
    this.objects.set(key, obj);
    this.stats.added++;
    return obj;
  }

  /** kill marks an object dead as its DESTROY event would. */
  kill(o: ExpObject): void {
    if (o.status === 'dead') return;
    o.status = 'dead';
    this.stats.deleted++;
  }

  /** release removes a dead object once the protocol no longer holds it. */
  release(o: ExpObject): void {
    if (o.status === 'dead' && this.objects.get(o.key) === o) this.objects.delete(o.key);
  }
}

/** ExternalExp is one expectation received from a peer and when it was last received (ms). */
export interface ExternalExp {
  readonly key: string;
  readonly exp: Expectation;
  readonly receivedAtMs: number;
  /** When it first entered the cache (ms): `-e expect` shows "[active since Ns]". */
  readonly sinceMs: number;
}

/**
 * ExternalExpCache holds the peers' expectations (external_cache.c's exp half): NEW replaces, UPD
 * updates or creates (the received expectation replaces the cached one whole, as
 * cache_update_force copies it), DEL removes. Past `limit` (HashLimit) a new one is refused.
 */
export class ExternalExpCache {
  private readonly entries = new Map<string, ExternalExp>();
  readonly stats = { added: 0, updated: 0, deleted: 0, deletedUnknown: 0, refusedOverLimit: 0 };

  constructor(private readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }
  values(): IterableIterator<ExternalExp> {
    return this.entries.values();
  }
  find(e: Expectation): ExternalExp | undefined {
    return this.entries.get(expKey(e));
  }

  /** apply applies one received EXP message; false when refused (over HashLimit) or unknown (DEL). */
  apply(op: SyncOp, e: Expectation, nowMs: number): boolean {
    const key = expKey(e);
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
    const sinceMs = op === 'upd' && existing !== undefined ? existing.sinceMs : nowMs;
    this.entries.set(key, { key, exp: e, receivedAtMs: nowMs, sinceMs });
    if (existing === undefined) this.stats.added++;
    else this.stats.updated++;
    return true;
  }

  /** expireOlderThan removes the expectations last received at or before `oldestMs` (ALARM's CacheTimeout); returns how many. */
  expireOlderThan(oldestMs: number): number {
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.receivedAtMs > oldestMs) continue;
      this.entries.delete(k);
      this.stats.deleted++;
      n++;
    }
    return n;
  }

  flush(): void {
    this.entries.clear();
  }
}

/** EXP_FALLBACK_TIMEOUT is what conntrackd gives an expectation whose estimated timeout is negative. */
const EXP_FALLBACK_TIMEOUT = 60;

/**
 * expCommitTimeout is the timeout (s) a committed expectation gets, as cache_exp_commit_step:
 * CommitTimeout when configured, else the received timeout minus the seconds since it was
 * received, or 60 when that is not positive (or when the peer sent none).
 */
export function expCommitTimeout(x: ExternalExp, nowMs: number, commitTimeoutSec?: number): number {
  if (commitTimeoutSec !== undefined && commitTimeoutSec > 0) return commitTimeoutSec;
  const elapsed = Math.max(0, Math.floor((nowMs - x.receivedAtMs) / 1000));
  const left = (x.exp.timeout ?? 0) - elapsed;
  return left > 0 ? left : EXP_FALLBACK_TIMEOUT;
}

/**
 * expCommitRequest is the expectation to create in the kernel for a received one: the received
 * fields, the estimated timeout; no id (the kernel assigns one).
 */
export function expCommitRequest(x: ExternalExp, nowMs: number, commitTimeoutSec?: number): Expectation {
  const { id: _id, ...rest } = x.exp;
  return { ...rest, timeout: expCommitTimeout(x, nowMs, commitTimeoutSec) };
}
