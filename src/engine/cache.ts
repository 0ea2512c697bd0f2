import { compactCt, ctIdentity, ctIdentityOf, decodeCompactCt, writeIdentityOfTuple } from '../ctnetlink/compact.js';
import { decodeConntrack, encodeConntrack } from '../ctnetlink/conntrack.js';
import { KernelCtView, scanKernelCt } from '../ctnetlink/scan.js';
import type { Conntrack } from '../ctnetlink/types.js';
import { CtFilterFields, fieldsOfConntrack, fieldsOfView, filterAccepts, type CtFilter } from './filter.js';
import { ctBodyOf, decodeCtBody, mergeCtBodyBytes, mergedBody, syncIdentityOf } from '../sync/ct-body.js';
import type { SyncOp } from '../sync/message.js';
import { FtfwNode } from './ftfw.js';
import { RecordArena, STAMP_BYTES } from './record-arena.js';
import { OffsetTable } from './record-table.js';
import { objectSlots } from './object-slots.js';
import { be32At, putBe32At } from '../wire/byte-order.js';
import { natReplyTuple } from './commit.js';
import { bodyBytesFromView, bodyShowsEntry, inheritFromBody, MAX_FAST_BODY, writeCtBodyFromKernel } from '../sync/from-kernel.js';
import { decodeConntrackBody, type SyncEncodeOptions } from '../sync/conntrack.js';
import { DecodeError } from '../wire/decode-error.js';
import { writeLatin1 } from '../wire/latin1.js';
import { copyBytes, ViewCache, viewOf } from '../wire/copy.js';
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
 * CacheObject is a handle on one internal-cache entry: its record in the cache's RecordArena
 * (`at`), which holds the entry's key, the message body conntrackd sends for it (what transmit
 * copies into a datagram, as in sync/ct-body.ts) and its state (status, family, since when). It
 * is also the entry's place in FTFW's queues (FtfwNode).
 *
 * The cache keeps records, not handles: an entry has a handle of its own — the same object every
 * time — only while something holds it (the protocol's queues, the DEAD entries waiting for
 * their DEL to be acknowledged, ALARM's timers); InternalCache.idle lets it go. So a cache of a
 * million entries is a million records in a few large buffers, not a million objects for the
 * collector to mark on each full collection (measured: two marking passes over every entry in a
 * 100 000-entry burst, ~20 % of a sender's thread). A handle from get / values / live that the
 * cache did not hold is a view: valid until the cache next changes; a held handle given up (idle)
 * is kept for reuse and may later stand for another entry, so whoever lets it go drops it.
 *
 * Only when the body cannot show the entry as the kernel has it does the cache keep the kernel's
 * attributes too (`kernel`: compactCt, volatile attributes dropped) — an entry off scanKernelCt's
 * fast path (helper, labels, master, sequence adjustment…) or whose reply tuple the body does not
 * determine (sync/from-kernel.ts bodyShowsEntry). `ct` decodes it for what shows an entry (`-i`).
 */
export class CacheObject extends FtfwNode<CacheObject> {
  constructor(
    private readonly cache: InternalCache | undefined,
    /** The offset of the entry's record in the cache's arena (kept up to date while the cache holds the handle), -1 for none. */
    public at: number,
  ) {
    super();
  }

  /** Its place in FTFW's queues: the handle is its own queue node. */
  get ftfwNode(): FtfwNode<CacheObject> {
    return this;
  }

  get status(): ObjStatus {
    return this.cache!.statusOf(this.at);
  }
  get family(): Family {
    return this.cache!.familyOf(this.at);
  }
  /** compactCt of the entry's CTA_* attributes when the body cannot stand for them; undefined otherwise. */
  get kernel(): string | undefined {
    return this.cache!.kernelOf(this.at);
  }
  /** When the entry entered the cache (or came back from DEAD), in whole seconds of the caller's clock (`-i` shows "[active since Ns]"). */
  get sinceSec(): number {
    return this.cache!.sinceSecOf(this.at);
  }

  /** key is the entry's identity (ctKey) as a latin1 string; '' without a record. */
  get key(): string {
    return this.at < 0 ? '' : this.cache!.arena.keyOf(this.at);
  }

  /** body is the conntrack message body of the entry (writeCtBodyFromKernel) as a latin1 string. */
  get body(): string {
    return this.at < 0 ? '' : this.cache!.arena.bodyOf(this.at);
  }

  get ct(): Conntrack {
    const kernel = this.kernel;
    return kernel !== undefined ? decodeCompactCt(this.family, kernel) : ctOfBody(this.body);
  }
}

/**
 * TransientObject carries one kernel payload's body to the transmit queue without a cache
 * (DisableInternalCache): a CacheObject with no record, whose state is its own.
 */
export class TransientObject extends CacheObject {
  constructor(
    private readonly fam: Family,
    private readonly text: string,
    private readonly state: ObjStatus,
  ) {
    super(undefined, -1);
  }

  override get status(): ObjStatus {
    return this.state;
  }
  override get family(): Family {
    return this.fam;
  }
  override get kernel(): string | undefined {
    return undefined;
  }
  override get sinceSec(): number {
    return 0;
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
 * The internal cache's meta bytes in each record (RecordArena metaBytes): its state, so that an
 * entry needs no object of its own. Status and flags are a byte each; since and the handle's slot
 * are u32 (written big-endian: records never leave the process).
 */
const META_STATUS = 0;
const META_FLAGS = 1;
const META_SINCE = 2;
/** The slot in InternalCache.handles of the handle the cache holds for the entry, plus one (0: none). */
const META_HANDLE = 6;
const META_BYTES = 10;
const FLAG_IPV6 = 1;
/** The entry's compactCt attributes are in InternalCache.kernels (under its key). */
const FLAG_KERNEL = 2;
const ST_NEW = 0;
const ST_ALIVE = 1;
const ST_DEAD = 2;
/** OBJ_STATUSES: the statuses by their code in a record (ST_*, InternalCache.statusCodeOf). */
export const OBJ_STATUSES: readonly ObjStatus[] = ['new', 'alive', 'dead'];
/** SPARE_HANDLES bounds InternalCache's spare handles: an ACK window's worth and more (ACKWindowSize defaults to 300). */
const SPARE_HANDLES = 4096;

/**
 * InternalCache is the mirror of the local kernel table. `limit` is HashLimit: past it a new
 * entry is refused and counted (the caller logs it), never silently dropped. `filter` is General
 * { Filter } (engine/filter.ts): a NEW or UPDATE event, or a dumped entry, it refuses is counted
 * in stats.filtered and changes nothing, as in conntrackd (an entry cached before it stopped
 * matching keeps its last accepted state); a DESTROY is never filtered, so that such an entry
 * still leaves the cache and the peers (conntrackd 1.4.7 filters it too, and the peers keep it).
 *
 * An entry is a record (see CacheObject): the index holds its offset. The handles the cache
 * holds are in `handles`, each record naming its own (META_HANDLE), so that an event for a queued
 * entry finds the object that is queued; idle() gives one up.
 */
export class InternalCache {
  /** The entries' keys, state and bodies; compaction moves them, and the handles held follow. */
  readonly arena: RecordArena = new RecordArena((move) => this.relocate(move), 64 * 1024, META_BYTES);
  private readonly entries = new OffsetTable(this.arena);
  /** The handles the cache holds, by slot (META_HANDLE − 1); free slots are undefined and listed in freeSlots. */
  private readonly handles = objectSlots<CacheObject>();
  private readonly freeSlots: number[] = [];
  /**
   * Handles given up by idle(), kept for the next entries that need one (SPARE_HANDLES at most): in
   * a burst every new entry is held from its event until the peer's ACK, and a handle made per
   * entry went through V8's generic construct path (~0.15 µs an entry, perf of a sender's burst).
   * Born with object elements, as `handles` (objectSlots).
   */
  private readonly spare = objectSlots<CacheObject>() as CacheObject[];
  /** compactCt attributes of the entries kept that way (FLAG_KERNEL), by key: the slow path's few. */
  private readonly kernels = new Map<string, string>();
  readonly stats = { refusedOverLimit: 0, added: 0, updated: 0, deleted: 0, filtered: 0 };

  constructor(
    private readonly limit: number,
    private readonly filter?: CtFilter,
    /** What the bodies are written with (Options TCPWindowTracking, CommitTimeout): fixed for the cache's life. */
    private readonly encodeOpts: SyncEncodeOptions = {},
  ) {}

  private liveCount = 0;

  get size(): number {
    return this.entries.size;
  }
  /** liveSize is how many objects are not dead (what `-s` calls active), kept as they change. */
  get liveSize(): number {
    return this.liveCount;
  }
  /** heldHandles is how many entries have a handle the cache holds (queued, dead or armed; tests). */
  get heldHandles(): number {
    return this.handles.length - this.freeSlots.length;
  }
  get(key: string): CacheObject | undefined {
    const at = this.entries.getKey(key);
    return at === undefined ? undefined : this.view(at);
  }
  *values(): IterableIterator<CacheObject> {
    for (const at of this.entries.values()) yield this.view(at);
  }
  /** arenaStats: the records' bytes (in use and garbage) and how often the arena compacted or grew. */
  get arenaStats(): { usedBytes: number; garbageBytes: number; compactions: number; growths: number } {
    return { usedBytes: this.arena.usedBytes, garbageBytes: this.arena.garbageBytes, ...this.arena.stats };
  }

  // The entry state in a record's meta bytes (see META_*).
  statusOf(at: number): ObjStatus {
    return OBJ_STATUSES[this.arena.bytesAt(at)[this.arena.metaAt(at) + META_STATUS]!]!;
  }
  familyOf(at: number): Family {
    return (this.arena.bytesAt(at)[this.arena.metaAt(at) + META_FLAGS]! & FLAG_IPV6) !== 0 ? 'ipv6' : 'ipv4';
  }
  sinceSecOf(at: number): number {
    return be32At(this.arena.bytesAt(at), this.arena.metaAt(at) + META_SINCE);
  }
  kernelOf(at: number): string | undefined {
    if ((this.arena.bytesAt(at)[this.arena.metaAt(at) + META_FLAGS]! & FLAG_KERNEL) === 0) return undefined;
    return this.kernels.get(this.arena.keyOf(at));
  }
  /** statusCodeOf is statusOf as its index in OBJ_STATUSES (0 new, 1 alive, 2 dead): no string on a per-message path. */
  statusCodeOf(at: number): number {
    return this.arena.bytesAt(at)[this.arena.metaAt(at) + META_STATUS]!;
  }
  private setStatus(at: number, st: number): void {
    this.arena.bytesAt(at)[this.arena.metaAt(at) + META_STATUS] = st;
  }
  private setSince(at: number, nowMs: number): void {
    putBe32At(this.arena.bytesAt(at), this.arena.metaAt(at) + META_SINCE, Math.floor(nowMs / 1000) >>> 0);
  }
  private slotOf(at: number): number {
    return be32At(this.arena.bytesAt(at), this.arena.metaAt(at) + META_HANDLE) - 1;
  }

  /** handle is the entry's held handle, made and held now if it had none. */
  private handle(at: number): CacheObject {
    const slot = this.slotOf(at);
    if (slot >= 0) return this.handles[slot]!;
    const spare = this.spare.pop();
    const h = spare ?? new CacheObject(this, at);
    h.at = at;
    let s = this.freeSlots.pop();
    if (s === undefined) {
      s = this.handles.length;
      this.handles.push(h);
    } else this.handles[s] = h;
    putBe32At(this.arena.bytesAt(at), this.arena.metaAt(at) + META_HANDLE, s + 1);
    return h;
  }

  /** view is the entry's held handle, or a handle not held (valid until the cache next changes). */
  private view(at: number): CacheObject {
    const slot = this.slotOf(at);
    return slot >= 0 ? this.handles[slot]! : new CacheObject(this, at);
  }

  /** held is the handle the cache holds for `obj`'s entry (made held now if none is): what may be queued, armed or kept dead. */
  held(obj: CacheObject): CacheObject {
    return obj.at < 0 ? obj : this.handle(obj.at);
  }

  /** holdEach calls `f` with the held handle of every entry, dead ones included (a bulk queues them all). */
  holdEach(f: (obj: CacheObject) => void): void {
    for (const at of this.entries.values()) f(this.handle(at));
  }

  /**
   * idle gives up the cache's hold on a live entry's handle: nothing queues, arms or keeps it now.
   * The entry stays; its next change gets a new handle. A DEAD entry's handle stays until release.
   */
  idle(obj: CacheObject): void {
    const at = obj.at;
    if (at < 0 || this.statusCodeOf(at) === ST_DEAD) return;
    const slot = this.slotOf(at);
    if (slot < 0 || this.handles[slot] !== obj) return;
    this.unhold(at, slot);
    // Given up while live: nothing queues, arms or keeps it, so it may stand for another entry.
    if (this.spare.length < SPARE_HANDLES) this.spare.push(obj);
  }

  private unhold(at: number, slot: number): void {
    putBe32At(this.arena.bytesAt(at), this.arena.metaAt(at) + META_HANDLE, 0);
    if (this.freeSlots.length + 1 === this.handles.length) {
      // The last one: start again from empty arrays (a bulk of a million entries held them all at once).
      this.handles.length = 0;
      this.freeSlots.length = 0;
      return;
    }
    this.handles[slot] = undefined;
    this.freeSlots.push(slot);
  }

  /** relocate is the arena's Relocate: the index's offsets move, and so do the held handles'. */
  private relocate(move: (at: number) => number): void {
    this.entries.relocate((at) => {
      const to = move(at);
      if (to >= 0) {
        const slot = this.slotOf(to);
        if (slot >= 0) this.handles[slot]!.at = to;
      }
      return to;
    });
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

  /**
   * onKernelBytes is onKernelEvent for a payload at [start, end) of a receive buffer (copied as
   * needed). The object returned is the entry's held handle: the caller queues it, or lets it go
   * (idle, or release when DEAD).
   */
  onKernelBytes(kind: 'new' | 'update' | 'destroy', p: Uint8Array, start: number, end: number, origin: KernelEventOrigin = 'other', nowMs = 0): CacheObject | undefined {
    if (origin === 'inject' || end - start < NFGENMSG_LEN) return undefined;
    // Our commit deletes only to create the same entry again at once (update-or-recreate); its
    // DESTROY can be read after the commit's read-back has revived the entry, and must not kill it.
    if (kind === 'destroy' && origin === 'commit') return undefined;
    const attrs = start + NFGENMSG_LEN;
    // One walk on the fast path gives the identity too. Off it, the entry is decoded to refuse a
    // malformed one before it is kept: what is kept must encode later.
    const fast = scanKernelCt(p, attrs, end, view);
    const entries = this.entries;
    let existing: number | undefined;
    let key: string | undefined;
    if (fast) existing = entries.get(writeIdentityOfTuple(entries.probe, p, view.orig, view.zone));
    else {
      key = ctIdentity(p, attrs, end);
      if (key === '') return undefined;
      if (key.length > entries.probe.length) throw new DecodeError('BAD_LENGTH', ['conntrack', 'CTA_TUPLE_ORIG'], attrs, `an original tuple of ${key.length} bytes`);
      existing = entries.getKey(key);
    }
    if (kind === 'destroy') {
      if (existing === undefined) return undefined;
      if (this.statusCodeOf(existing) !== ST_DEAD) {
        this.setStatus(existing, ST_DEAD);
        this.liveCount--;
        this.stats.deleted++;
      }
      return this.handle(existing);
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
    const ipv6 = p[start] === AF_INET6;
    // As conntrackd's sync-mode.c: NEW replaces the entry (a NEW message), UPDATE of a live one
    // merges (an UPD); anything that makes an entry anew — an UPDATE or a dump of an unknown or dead
    // one — is NEW, so a bulk or refresh of it goes out as CT_NEW. A dead entry comes back to life
    // in place: FTFW's queue then holds one object per tuple, whose next message (a DEL not yet
    // sent or acknowledged) becomes that NEW — never a late DEL after it.
    if (existing !== undefined) {
      const revived = this.statusCodeOf(existing) === ST_DEAD;
      const replace = kind === 'new' || revived;
      const at = this.keep(existing, ipv6, p, attrs, end, fast, replace);
      if (revived) {
        this.liveCount++;
        this.setSince(at, nowMs);
      }
      this.setStatus(at, replace ? ST_NEW : ST_ALIVE);
      this.stats.updated++;
      return this.handle(at);
    }
    if (entries.size >= this.limit) {
      this.stats.refusedOverLimit++;
      return undefined;
    }
    const at = this.keep(-1, ipv6, p, attrs, end, fast, true);
    entries.insert(at);
    this.setStatus(at, ST_NEW);
    this.setSince(at, nowMs);
    this.liveCount++;
    this.stats.added++;
    return this.handle(at);
  }

  /**
   * keep stores the event's attributes [start, end) of `p` in the record at `at` (`fast`: `view`
   * holds their scan), or in a new record (`at` −1: under the key of the lookup that just missed),
   * and returns the record's offset (a body that no longer fits moves it; the index and the held
   * handle follow): as a body alone when it can (see CacheObject), otherwise as the kernel's
   * attributes and the body written from them. Without `replace` the event updates what the entry
   * holds: the attributes it lacks keep their values (an UPDATE carries only part of an entry).
   * Counters, use, id and timestamps are dropped: the wire does not carry them and no output shows them.
   */
  private keep(at: number, ipv6: boolean, p: Uint8Array, start: number, end: number, fast: boolean, replace: boolean): number {
    const arena = this.arena;
    const family: Family = ipv6 ? 'ipv6' : 'ipv4';
    const prevKernel = replace || at < 0 ? undefined : this.kernelOf(at);
    let n: number;
    let kernel: string | undefined;
    if (fast && prevKernel === undefined && bodyShowsEntry(p, view)) {
      if (!replace && at >= 0) inheritFromBody(view, arena.bytesAt(at), arena.bodyStart(at), arena.bodyStart(at) + arena.bodyLength(at));
      n = bodyBytesFromView(bodyScratch, p, view, this.encodeOpts);
    } else {
      // An entry kept as a body alone until now is merged as the kernel would hold it.
      const prev = replace || at < 0 ? undefined : (prevKernel ?? kernelAttrsOf(arena.bodyOf(at)));
      kernel = compactCt(p, start, end, prev);
      n = writeBodyOfKernel(kernel, family, this.encodeOpts);
    }
    let to: number;
    if (at < 0) to = arena.create(this.entries.probe, this.entries.probeLength, bodyScratch, n);
    else {
      to = arena.setBody(at, bodyScratch, n);
      // Always: a record that moved may land where the old one was (a compaction in between).
      this.entries.replaceFound(to);
      if (to !== at) {
        const slot = this.slotOf(to);
        if (slot >= 0) this.handles[slot]!.at = to;
      }
    }
    const b = arena.bytesAt(to);
    const m = arena.metaAt(to) + META_FLAGS;
    const hadKernel = (b[m]! & FLAG_KERNEL) !== 0;
    b[m] = (ipv6 ? FLAG_IPV6 : 0) | (kernel !== undefined ? FLAG_KERNEL : 0);
    if (kernel !== undefined) this.kernels.set(arena.keyOf(to), kernel);
    else if (hadKernel) this.kernels.delete(arena.keyOf(to));
    return to;
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
   * kernel for each entry through the filter). The objects returned are held handles.
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
      const before = this.entries.getKey(key);
      const obj = this.onKernelEvent('update', p, 'other', nowMs);
      if (obj === undefined) continue;
      seen.add(obj);
      (before === undefined ? added : changed).push(obj);
    }
    const gone: CacheObject[] = [];
    for (const at of [...this.entries.values()]) {
      if (this.statusCodeOf(at) === ST_DEAD) continue;
      const obj = this.handle(at);
      if (seen.has(obj)) continue;
      this.setStatus(at, ST_DEAD);
      this.liveCount--;
      gone.push(obj);
    }
    return { added, changed, gone };
  }

  /** kill marks an entry dead as its DESTROY event would (its handle: `held`). */
  kill(obj: CacheObject): void {
    if (obj.at < 0 || this.statusCodeOf(obj.at) === ST_DEAD) return;
    this.setStatus(obj.at, ST_DEAD);
    this.liveCount--;
    this.stats.deleted++;
  }

  /** release removes a dead entry once the protocol no longer holds it, and frees its record. */
  release(obj: CacheObject): void {
    const at = obj.at;
    if (at < 0 || this.statusCodeOf(at) !== ST_DEAD || !this.entries.remove(at)) return;
    const slot = this.slotOf(at);
    if (slot >= 0) {
      this.handles[slot]!.at = -1;
      this.unhold(at, slot);
    }
    if ((this.arena.bytesAt(at)[this.arena.metaAt(at) + META_FLAGS]! & FLAG_KERNEL) !== 0) this.kernels.delete(this.arena.keyOf(at));
    this.arena.free(at);
    obj.at = -1;
  }

  /** find looks an entry up by its model (tests, tools). */
  find(ct: Conntrack): CacheObject | undefined {
    return this.get(ctKey(ct));
  }

  /** live lists the objects that are not dead (what `-i` shows and what a bulk send carries as NEW/UPD). */
  *live(): IterableIterator<CacheObject> {
    for (const at of this.entries.values()) if (this.statusCodeOf(at) !== ST_DEAD) yield this.view(at);
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
  readonly arena: RecordArena = new RecordArena((move) => this.entries.relocate(move), 64 * 1024, STAMP_BYTES);
  private readonly entries = new OffsetTable(this.arena);
  private readonly probeView = viewOf(this.entries.probe);
  /** The view of the identities' buffer applyBytes was last given (decodeDatagramLazy's, the same call after call). */
  private readonly keySources = new ViewCache();
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
  /** offsets are the entries' records (arena offsets), for a pass that reads the records themselves (a commit). */
  offsets(): IterableIterator<number> {
    return this.entries.values();
  }
  /** entryAt shows the entry whose record is at `at` (an offset `offsets` gave, valid as ExternalEntry says). */
  entryAt(at: number): ExternalEntry {
    return new ExternalEntry(this, at);
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
    copyBytes(this.probeView, probe, 0, this.keySources.of(keys), keys, keyAt, keyLen);
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
