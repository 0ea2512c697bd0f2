import { compactCt, ctIdentity, ctIdentityOf, decodeCompactCt, writeIdentityOfTuple } from '../ctnetlink/compact.js';
import { decodeConntrack, encodeConntrack } from '../ctnetlink/conntrack.js';
import { KernelCtView, scanKernelCt } from '../ctnetlink/scan.js';
import type { Conntrack } from '../ctnetlink/types.js';
import { CtFilterFields, fieldsOfConntrack, fieldsOfView, filterAccepts, type CtFilter } from './filter.js';
import { ctBodyOf, decodeCtBody, mergeCtBodyBytes, mergedBody, syncIdentityOf } from '../sync/ct-body.js';
import type { SyncOp } from '../sync/message.js';
import { FtfwNode } from './ftfw.js';
import { RecordArena, relocateHolders } from './record-arena.js';
import { OffsetTable, RecordTable } from './record-table.js';
import { natReplyTuple } from './commit.js';
import { bodyBytesFromView, bodyShowsEntry, inheritFromBody, MAX_FAST_BODY, writeCtBodyFromKernel } from '../sync/from-kernel.js';
import { decodeConntrackBody, type SyncEncodeOptions } from '../sync/conntrack.js';
import { DecodeError } from '../wire/decode-error.js';
import { writeLatin1 } from '../wire/latin1.js';
import { Writer } from '../wire/writer.js';
import type { Family } from '../wire/ip.js';

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

/**
 * ctKey is an entry's identity in the internal cache: the original tuple as the kernel writes it
 * (family, addresses, protocol, ports or ICMP id/type/code, directional zone) and the zone. '' for
 * an entry without an original tuple.
 */
export function ctKey(ct: Conntrack): string {
  return ct.orig === undefined ? '' : ctIdentityOf(ct);
}

/** ObjStatus is conntrackd's object life cycle in the internal cache. */
export type ObjStatus = 'new' | 'alive' | 'dead';

/**
 * CacheObject is one internal-cache entry, replaced in place on every change so that queued
 * references see the latest state. Its key and the message body conntrackd sends for it (what
 * transmit copies into a datagram, as in sync/ct-body.ts) are a record of the cache's RecordArena
 * (`at`), not strings of its own. Only when that body cannot show the entry as the kernel has it
 * does the object keep the kernel's attributes too (`kernel`: compactCt, volatile attributes
 * dropped) — an entry off scanKernelCt's fast path (helper, labels, master, sequence
 * adjustment…) or whose reply tuple the body does not determine (sync/from-kernel.ts
 * bodyShowsEntry). `ct` decodes it for what shows an entry (`-i`).
 */
export class CacheObject extends FtfwNode<CacheObject> {
  /** The offset of the entry's record in `arena` (RecordArena: moves when the arena compacts), -1 while it has none. */
  at = -1;

  constructor(
    readonly arena: RecordArena,
    public family: Family,
    /** compactCt of the entry's CTA_* attributes when the body cannot stand for them; undefined otherwise. */
    public kernel: string | undefined,
    public status: ObjStatus,
    /**
     * When the entry entered the cache, in whole seconds of the caller's clock (`-i` shows
     * "[active since Ns]"); seconds fit a small integer, where milliseconds would take a boxed
     * number per entry.
     */
    public sinceSec: number,
  ) {
    super();
  }

  /** Its place in FTFW's queues: the object is its own queue node (one object per entry, not two). */
  get ftfwNode(): FtfwNode<CacheObject> {
    return this;
  }

  /** key is the entry's identity (ctKey) as a latin1 string; '' without a record. */
  get key(): string {
    return this.at < 0 ? '' : this.arena.keyOf(this.at);
  }

  /** body is the conntrack message body of the entry (writeCtBodyFromKernel) as a latin1 string. */
  get body(): string {
    return this.at < 0 ? '' : this.arena.bodyOf(this.at);
  }

  get ct(): Conntrack {
    return this.kernel !== undefined ? decodeCompactCt(this.family, this.kernel) : ctOfBody(this.body);
  }
}

/** An arena no record is ever put in: TransientObject's. */
const NO_ARENA = new RecordArena(() => undefined, 0);

/**
 * TransientObject carries one kernel payload's body to the transmit queue without a cache
 * (DisableInternalCache): a CacheObject with no record, whose body is a string of its own.
 */
export class TransientObject extends CacheObject {
  constructor(
    family: Family,
    private readonly text: string,
    status: ObjStatus,
  ) {
    super(NO_ARENA, family, undefined, status, 0);
  }

  override get body(): string {
    return this.text;
  }
}

/**
 * ctOfBody is the entry a body written from the kernel's attributes stands for, as the kernel
 * holds it: the body's entry with its NAT turned back into the reply tuple (natReplyTuple; the
 * cache keeps a body alone only when that gives the kernel's reply, bodyShowsEntry).
 */
function ctOfBody(body: string): Conntrack {
  const decoded = decodeCtBody(body);
  const { natSrc: _s, natDst: _d, ...ct } = decoded;
  const reply = natReplyTuple(decoded);
  return reply === undefined ? ct : { ...ct, reply };
}

/** KernelPayload is one ctnetlink conntrack message's payload: struct nfgenmsg, then the CTA_* attributes. */
export type KernelPayload = Uint8Array;

const NFGENMSG_LEN = 4;
const AF_INET6 = 10;
const view = new KernelCtView();
const filterFields = new CtFilterFields();
const bodyWriter = new Writer(512);
let kernelBytes = new Uint8Array(1024);
/** The body of the event being kept, before it goes into the arena (bodyBytesFromView, or bodyWriter's bytes). */
let bodyScratch = new Uint8Array(MAX_FAST_BODY);

/**
 * bodyOfPayload is the message body for the CTA_* attributes [start, end) of `p` (as a cache keeps
 * it, sync/ct-body.ts). Throws DecodeError for attributes the decoder refuses.
 */
export function bodyOfPayload(p: Uint8Array, start: number, end: number, family: Family, opts: SyncEncodeOptions): string {
  writeBodyOfPayload(p, start, end, family, opts);
  return bodyWriter.latin1();
}

/** writeBodyOfPayload writes bodyOfPayload's body into bodyWriter (from its start). */
function writeBodyOfPayload(p: Uint8Array, start: number, end: number, family: Family, opts: SyncEncodeOptions): void {
  bodyWriter.reset();
  writeCtBodyFromKernel(bodyWriter, p, start, end, family, opts);
}

/** writeBodyOfKernel writes into bodyScratch the body of an entry kept as compactCt attributes; returns its length. */
function writeBodyOfKernel(kernel: string, family: Family, opts: SyncEncodeOptions): number {
  if (kernelBytes.length < kernel.length) kernelBytes = new Uint8Array(2 * kernel.length);
  writeBodyOfPayload(kernelBytes, 0, writeLatin1(kernelBytes, kernel, 0), family, opts);
  const len = bodyWriter.length;
  if (bodyScratch.length < len) bodyScratch = new Uint8Array(2 * len);
  bodyWriter.copyInto(bodyScratch, 0);
  return len;
}

/** kernelAttrsOf is the compactCt attributes of an entry kept as a body alone (see ctOfBody). */
function kernelAttrsOf(body: string): string {
  const p = encodeConntrack(ctOfBody(body), 'event');
  return compactCt(p, NFGENMSG_LEN, p.length);
}

/** payloadOf encodes a model entry as the kernel would send it in an event (tests, slow paths). */
export function payloadOf(kind: 'new' | 'update' | 'destroy', ct: Conntrack): KernelPayload {
  return encodeConntrack(ct, kind === 'destroy' ? 'destroy' : 'event');
}

/** KernelEventOrigin says who caused a kernel event: conntrackd suppresses its own (§1.4 step 4). */
export type KernelEventOrigin = 'other' | 'commit' | 'flush' | 'inject';

/**
 * sendsEvent tells whether a kernel event is sent to the peers: not the events our own commit,
 * flush or inject sockets caused (inject events do not even reach the cache).
 */
export function sendsEvent(kind: 'new' | 'update' | 'destroy', origin: KernelEventOrigin): boolean {
  if (origin === 'commit' || origin === 'inject') return false;
  return kind !== 'destroy' || origin !== 'flush';
}


/**
 * InternalCache is the mirror of the local kernel table. `limit` is HashLimit: past it a new
 * entry is refused and counted (the caller logs it), never silently dropped. `filter` is General
 * { Filter } (engine/filter.ts): a NEW or UPDATE event, or a dumped entry, it refuses is counted
 * in stats.filtered and changes nothing, as in conntrackd (an entry cached before it stopped
 * matching keeps its last accepted state); a DESTROY is never filtered, so that such an entry
 * still leaves the cache and the peers (conntrackd 1.4.7 filters it too, and the peers keep it).
 */
export class InternalCache {
  /** The objects' keys and bodies; compaction moves the records of every object in the table. */
  private readonly arena: RecordArena = new RecordArena(relocateHolders(() => this.objects.values()));
  private readonly objects = new RecordTable<CacheObject>(this.arena);
  readonly stats = { refusedOverLimit: 0, added: 0, updated: 0, deleted: 0, filtered: 0 };

  constructor(
    private readonly limit: number,
    private readonly filter?: CtFilter,
    /** What the bodies are written with (Options TCPWindowTracking, CommitTimeout): fixed for the cache's life. */
    private readonly encodeOpts: SyncEncodeOptions = {},
  ) {}

  private liveCount = 0;

  get size(): number {
    return this.objects.size;
  }
  /** liveSize is how many objects are not dead (what `-s` calls active), kept as they change. */
  get liveSize(): number {
    return this.liveCount;
  }
  get(key: string): CacheObject | undefined {
    return this.objects.getKey(key);
  }
  values(): IterableIterator<CacheObject> {
    return this.objects.values();
  }
  /** arenaStats: the records' bytes (in use and garbage) and how often the arena compacted or grew. */
  get arenaStats(): { usedBytes: number; garbageBytes: number; compactions: number; growths: number } {
    return { usedBytes: this.arena.usedBytes, garbageBytes: this.arena.garbageBytes, ...this.arena.stats };
  }

  /**
   * onKernelEvent applies one ctnetlink event (NEW replaces, UPDATE updates or creates, DESTROY
   * marks dead) and returns the object it changed, if any (whether to send it: sendsEvent).
   * Events of our inject socket are ignored, and so are DESTROYs of our commit (see onKernelBytes).
   * Throws DecodeError for a malformed message, changing nothing.
   */
  onKernelEvent(kind: 'new' | 'update' | 'destroy', entry: Conntrack | KernelPayload, origin: KernelEventOrigin = 'other', nowMs = 0): CacheObject | undefined {
    const p = entry instanceof Uint8Array ? entry : payloadOf(kind, entry);
    return this.onKernelBytes(kind, p, 0, p.length, origin, nowMs);
  }

  /** onKernelBytes is onKernelEvent for a payload at [start, end) of a receive buffer (copied as needed). */
  onKernelBytes(kind: 'new' | 'update' | 'destroy', p: Uint8Array, start: number, end: number, origin: KernelEventOrigin = 'other', nowMs = 0): CacheObject | undefined {
    if (origin === 'inject' || end - start < NFGENMSG_LEN) return undefined;
    // Our commit deletes only to create the same entry again at once (update-or-recreate); its
    // DESTROY can be read after the commit's read-back has revived the entry, and must not kill it.
    if (kind === 'destroy' && origin === 'commit') return undefined;
    const attrs = start + NFGENMSG_LEN;
    // One walk on the fast path gives the identity too. Off it, the entry is decoded to refuse a
    // malformed one before it is kept: what is kept must encode later.
    const fast = scanKernelCt(p, attrs, end, view);
    const objects = this.objects;
    let existing: CacheObject | undefined;
    if (fast) existing = objects.get(writeIdentityOfTuple(objects.probe, p, view.orig, view.zone));
    else {
      const key = ctIdentity(p, attrs, end);
      if (key === '') return undefined;
      if (key.length > objects.probe.length) throw new DecodeError('BAD_LENGTH', ['conntrack', 'CTA_TUPLE_ORIG'], attrs, `an original tuple of ${key.length} bytes`);
      existing = objects.getKey(key);
    }
    if (kind === 'destroy') {
      if (existing === undefined || existing.status === 'dead') return existing;
      existing.status = 'dead';
      this.liveCount--;
      this.stats.deleted++;
      return existing;
    }
    if (!fast) {
      const ct = decodeConntrack(start === 0 && end === p.length ? p : p.subarray(start, end));
      if (this.filter !== undefined && !filterAccepts(this.filter, fieldsOfConntrack(ct, filterFields))) {
        this.stats.filtered++;
        return undefined;
      }
    } else if (this.filter !== undefined && !filterAccepts(this.filter, fieldsOfView(view, p, filterFields))) {
      this.stats.filtered++;
      return undefined;
    }
    const family: Family = p[start] === AF_INET6 ? 'ipv6' : 'ipv4';
    // As conntrackd's sync-mode.c: NEW replaces the entry (a NEW message), UPDATE of a live one
    // merges (an UPD); anything that makes an entry anew — an UPDATE or a dump of an unknown or dead
    // one — is NEW, so a bulk or refresh of it goes out as CT_NEW. A dead entry comes back to life
    // in place: FTFW's queue then holds one object per tuple, whose next message (a DEL not yet
    // sent or acknowledged) becomes that NEW — never a late DEL after it.
    if (existing !== undefined) {
      const revived = existing.status === 'dead';
      const replace = kind === 'new' || revived;
      this.keep(existing, family, p, attrs, end, fast, replace);
      if (revived) {
        this.liveCount++;
        existing.sinceSec = Math.floor(nowMs / 1000);
      }
      existing.status = replace ? 'new' : 'alive';
      this.stats.updated++;
      return existing;
    }
    if (existing === undefined && this.objects.size >= this.limit) {
      this.stats.refusedOverLimit++;
      return undefined;
    }
    const obj = new CacheObject(this.arena, family, undefined, 'new', Math.floor(nowMs / 1000));
    this.keep(obj, family, p, attrs, end, fast, true);
    objects.insert(obj);
    this.liveCount++;
    this.stats.added++;
    return obj;
  }

  /**
   * keep stores the event's attributes [start, end) of `p` in `obj` (`fast`: `view` holds their
   * scan): as a body alone when it can (see CacheObject), otherwise as the kernel's attributes
   * and the body written from them. Without `replace` the event updates what `obj` holds: the
   * attributes it lacks keep their values (an UPDATE carries only part of an entry). Counters,
   * use, id and timestamps are dropped: the wire does not carry them and no output shows them.
   * A new object (no record yet) gets its record here, under the key of the lookup that missed.
   */
  private keep(obj: CacheObject, family: Family, p: Uint8Array, start: number, end: number, fast: boolean, replace: boolean): void {
    const prevKernel = replace ? undefined : obj.kernel;
    const arena = this.arena;
    let n: number;
    if (fast && prevKernel === undefined && bodyShowsEntry(p, view)) {
      if (!replace && obj.at >= 0) inheritFromBody(view, arena.bytesAt(obj.at), arena.bodyStart(obj.at), arena.bodyStart(obj.at) + arena.bodyLength(obj.at));
      n = bodyBytesFromView(bodyScratch, p, view, this.encodeOpts);
      obj.kernel = undefined;
    } else {
      // An entry kept as a body alone until now is merged as the kernel would hold it.
      const prev = replace ? undefined : (prevKernel ?? kernelAttrsOf(obj.body));
      obj.kernel = compactCt(p, start, end, prev);
      n = writeBodyOfKernel(obj.kernel, family, this.encodeOpts);
    }
    obj.at = obj.at < 0 ? arena.create(this.objects.probe, this.objects.probeLength, bodyScratch, n) : arena.setBody(obj.at, bodyScratch, n);
    obj.family = family;
  }

  /**
   * accepts tells whether the filter lets a kernel message's entry (payload at [start, end)) in.
   * Throws DecodeError for a malformed message.
   */
  accepts(p: Uint8Array, start: number, end: number): boolean {
    if (this.filter === undefined) return true;
    if (end - start >= NFGENMSG_LEN && scanKernelCt(p, start + NFGENMSG_LEN, end, view)) return filterAccepts(this.filter, fieldsOfView(view, p, filterFields));
    const ct = decodeConntrack(start === 0 && end === p.length ? p : p.subarray(start, end));
    return filterAccepts(this.filter, fieldsOfConntrack(ct, filterFields));
  }

  /**
   * resync replaces the cache with a dump of the kernel table: entries no longer there become
   * dead, and so do entries the filter now refuses (conntrackd's purge after a resync asks the
   * kernel for each entry through the filter).
   */
  resync(dump: Iterable<Conntrack | KernelPayload>, nowMs = 0): { added: CacheObject[]; changed: CacheObject[]; gone: CacheObject[] } {
    const seen = new Set<CacheObject>();
    const added: CacheObject[] = [];
    const changed: CacheObject[] = [];
    for (const entry of dump) {
      const p = entry instanceof Uint8Array ? entry : payloadOf('update', entry);
      const key = ctIdentity(p, NFGENMSG_LEN, p.length);
      if (key === '') continue;
      if (!this.accepts(p, 0, p.length)) {
        this.stats.filtered++;
        continue;
      }
      const before = this.objects.getKey(key);
      const obj = this.onKernelEvent('update', p, 'other', nowMs);
      if (obj === undefined) continue;
      seen.add(obj);
      (before === undefined ? added : changed).push(obj);
    }
    const gone: CacheObject[] = [];
    for (const obj of this.objects.values()) {
      if (seen.has(obj) || obj.status === 'dead') continue;
      obj.status = 'dead';
      this.liveCount--;
      gone.push(obj);
    }
    return { added, changed, gone };
  }

  /** kill marks an object dead as its DESTROY event would. */
  kill(obj: CacheObject): void {
    if (obj.status === 'dead') return;
    obj.status = 'dead';
    this.liveCount--;
    this.stats.deleted++;
  }

  /** release removes a dead object once the protocol no longer holds it, and frees its record. */
  release(obj: CacheObject): void {
    if (obj.status === 'dead' && this.objects.remove(obj)) {
      this.arena.free(obj.at);
      obj.at = -1;
    }
  }

  /** find looks an entry up by its model (tests, tools). */
  find(ct: Conntrack): CacheObject | undefined {
    return this.objects.getKey(ctKey(ct));
  }

  /** live lists the objects that are not dead (what `-i` shows and what a bulk send carries as NEW/UPD). */
  *live(): IterableIterator<CacheObject> {
    for (const o of this.objects.values()) if (o.status !== 'dead') yield o;
  }
}

/**
 * BodyEntry is one received entry as strings: its identity, message body (latin1, see
 * sync/ct-body.ts) and when it was received (ms). The injector (DisableExternalCache) commits
 * these; `ct` decodes the body.
 */
export class BodyEntry {
  constructor(
    readonly key: string,
    readonly body: string,
    readonly receivedAtMs: number,
  ) {}

  get ct(): Conntrack {
    return decodeCtBody(this.body);
  }
  get bodyLength(): number {
    return this.body.length;
  }
  get bodyOffset(): number {
    return 0;
  }
  /** bodyArray copies the body into `scratch` (bodyLength bytes of room) and returns it. */
  bodyArray(scratch: Uint8Array): Uint8Array {
    writeLatin1(scratch, this.body, 0);
    return scratch;
  }
}

/**
 * ExternalEntry shows one entry of the external cache: the record at `at` of the cache's
 * RecordArena, which holds the entry's identity, the message body received for it and when it
 * was last received. The cache keeps records, not these: each lookup makes one, valid until the
 * cache next changes — or, for what was taken while the cache is pinned, until the unpin.
 */
export class ExternalEntry {
  constructor(
    private readonly cache: ExternalCache,
    readonly at: number,
  ) {}

  /** When the entry was last received (ms, the clock applyBytes was given). */
  get receivedAtMs(): number {
    return this.cache.arena.stampOf(this.at);
  }
  /** key is the entry's identity (scanCtBody) as a latin1 string. */
  get key(): string {
    return this.cache.arena.keyOf(this.at);
  }
  /** body is the message body as a latin1 string (slow paths: output, tests). */
  get body(): string {
    return this.cache.arena.bodyOf(this.at);
  }
  get bodyLength(): number {
    return this.cache.arena.bodyLength(this.at);
  }
  get bodyOffset(): number {
    return this.cache.arena.bodyStart(this.at);
  }
  /** bodyArray is the arena segment that holds the body at bodyOffset (valid as the entry is). */
  bodyArray(_scratch: Uint8Array): Uint8Array {
    return this.cache.arena.bytesAt(this.at);
  }
  get ct(): Conntrack {
    const a = this.cache.arena;
    const s = a.bodyStart(this.at);
    return decodeConntrackBody(a.bytesAt(this.at), s, s + a.bodyLength(this.at));
  }
}

/**
 * ExternalCache holds the peers' entries, applying the message-type rules of §1.5: NEW replaces,
 * UPD updates or creates (a sender coalesces NEW into UPD, so an unknown tuple in an UPD is a
 * create), DEL removes. Past `limit` (HashLimit) a new entry is refused and counted. An entry is
 * one record of a RecordArena — identity, body, receive time — and the index holds its offset:
 * no JS object per entry, so a receiver's collector has nothing of the cache's to copy or mark
 * (ExternalEntry shows an entry on demand).
 *
 * An entry changes in place, except while the cache is pinned (`pin`, during a commit): then a
 * change gives the tuple a new record, the old one stays as it was, and the arena does not
 * compact until the last unpin — what the commit holds stays what it planned (a retry writes the
 * same request).
 */
export class ExternalCache {
  /** The entries' records (stamped with their receive time); compaction moves the records the index holds. */
  readonly arena: RecordArena = new RecordArena((move) => this.entries.relocate(move), 64 * 1024, true);
  private readonly entries = new OffsetTable(this.arena);
  readonly stats = { refusedOverLimit: 0, deletedUnknown: 0, added: 0, updated: 0, deleted: 0 };
  constructor(private readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }
  get(key: string): ExternalEntry | undefined {
    const at = this.entries.getKey(key);
    return at === undefined ? undefined : new ExternalEntry(this, at);
  }
  /** find looks an entry up by its model (tests, tools). */
  find(ct: Conntrack): ExternalEntry | undefined {
    return this.get(syncIdentityOf(ct));
  }
  *values(): IterableIterator<ExternalEntry> {
    for (const at of this.entries.values()) yield new ExternalEntry(this, at);
  }

  /**
   * pin keeps every entry as it is now for whoever holds them (a commit), until the returned
   * function is called: changes meanwhile go to new records (see the class comment).
   */
  pin(): () => void {
    return this.arena.hold(); // a held arena neither moves records nor reuses them; frees at the last release
  }

  /** apply is applyBody for a model entry (tests, tools): the body is what a peer would send for it. */
  apply(op: SyncOp, ct: Conntrack, nowMs: number): boolean {
    if (ct.orig === undefined) return false;
    return this.applyBody(op, syncIdentityOf(ct), ctBodyOf(ct), nowMs);
  }

  /** applyBody is applyBytes for an identity and a validated body given as latin1 strings (tests, tools). */
  applyBody(op: SyncOp, key: string, body: string, nowMs: number): boolean {
    if (stringBody.length < body.length) stringBody = new Uint8Array(2 * body.length);
    if (stringKey.length < key.length) stringKey = new Uint8Array(2 * key.length);
    writeLatin1(stringBody, body, 0);
    writeLatin1(stringKey, key, 0);
    return this.applyBytes(op, stringBody, 0, body.length, stringKey, 0, key.length, nowMs);
  }

  /**
   * applyBytes applies one received data message: its validated body at [start, end) of `b` and
   * its identity at [keyAt, keyAt + keyLen) of `keys` (see decodeDatagramLazy), received at
   * `nowMs`. Returns false when the entry was refused (over HashLimit) or unknown (DEL).
   */
  applyBytes(op: SyncOp, b: Uint8Array, start: number, end: number, keys: Uint8Array, keyAt: number, keyLen: number, nowMs: number): boolean {
    const t = this.entries;
    const probe = t.probe;
    if (keyLen > probe.length) throw new RangeError(`an identity of ${keyLen} bytes`);
    for (let i = 0; i < keyLen; i++) probe[i] = keys[keyAt + i]!;
    const existing = t.get(keyLen);
    const a = this.arena;
    if (op === 'del') {
      if (existing === undefined) {
        this.stats.deletedUnknown++;
        return false;
      }
      t.remove(existing);
      this.forget(existing);
      return true;
    }
    if (existing === undefined) {
      if (t.size >= this.limit) {
        this.stats.refusedOverLimit++;
        return false;
      }
      const at = a.create(probe, keyLen, b, end - start, start);
      a.setStamp(at, nowMs);
      t.insert(at);
      this.stats.added++;
      return true;
    }
    let body = b;
    let bodyAt = start;
    let len = end - start;
    if (op === 'upd') {
      const ps = a.bodyStart(existing);
      len = mergeCtBodyBytes(a.bytesAt(existing), ps, ps + a.bodyLength(existing), b, start, end);
      body = mergedBody();
      bodyAt = 0;
    }
    let at: number;
    if (!a.held) at = a.setBody(existing, body, len, bodyAt);
    else {
      // Pinned: the tuple gets a new record; the old one stays for the commit (the held arena frees it at the unpin).
      at = a.create(probe, keyLen, body, len, bodyAt);
      a.free(existing);
    }
    a.setStamp(at, nowMs);
    // Always: a record that moved may land where the old one was (a compaction in between).
    t.replaceFound(at);
    this.stats.updated++;
    return true;
  }

  /** remove takes an entry out (CacheTimeout's expiry; a DEL does the same). */
  remove(e: ExternalEntry): void {
    if (this.entries.remove(e.at)) this.forget(e.at);
  }

  /** forget frees the record of an entry just taken out of the index (pinned: at the last unpin). */
  private forget(at: number): void {
    this.arena.free(at);
    this.stats.deleted++;
  }

  /** flush empties the cache (`-f external`); pinned, the records stay until the unpin. */
  flush(): void {
    if (this.arena.held) for (const at of this.entries.values()) this.arena.free(at);
    else this.arena.clear();
    this.entries.clear();
  }
}

/** applyBody's scratch for a body and an identity given as strings. */
let stringBody = new Uint8Array(512);
let stringKey = new Uint8Array(64);
