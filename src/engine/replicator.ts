import type { Conntrack, CtEvent, Expectation } from '../ctnetlink/types.js';
import { DatagramPacker, decodeDatagramLazy, type SyncRejectReason } from '../sync/datagram.js';
import { rawKeys, writeSyncMessage, type SyncCtRawMessage, type SyncLazyMessage, type SyncOp } from '../sync/message.js';
import { NET_T } from '../sync/consts.js';
import { latin1Of } from '../wire/latin1.js';
import { bodyOfPayload, CacheObject, ExternalCache, type ExternalEntry, TransientObject, InternalCache, OBJ_STATUSES, payloadOf, sendsEvent, type KernelEventOrigin, type KernelPayload } from './cache.js';
import { decodeConntrack } from '../ctnetlink/conntrack.js';
import { acceptsConntrack } from './filter.js';
import { objectSlots } from './object-slots.js';
import { ExpObject, ExternalExpCache, helperAccepts, InternalExpCache, type ExpSettings, type SyncObject } from './exp-cache.js';
import type { CtFilter } from './filter.js';
import { Ftfw, seqBefore, type RxHeader, type RxVerdict, type TxItem, type TxSink } from './ftfw.js';
import { Alarm } from './alarm.js';
import { Notrack } from './notrack.js';
import type { IdleSink, ReplicationProtocol } from './protocol.js';

/**
 * Replicator is one node's replication logic in FTFW, NOTRACK or ALARM mode (protocol.ts), pure: kernel events feed the internal
 * cache and are queued for the peer; received datagrams go through FTFW's sequence rules into the
 * external cache. I/O is two ports: `send` (datagrams for the current channel) and the caller,
 * who calls transmit() after a batch of events and onAliveTimer() one second after a transmit.
 */

export interface ReplicatorConfig {
  readonly ackWindow: number; // ACKWindowSize
  readonly resendQueueSize: number; // ResendQueueSize
  readonly hashLimit: number; // HashLimit, per cache
  readonly mtu: number; // of the dedicated link's interface
  readonly overhead: number; // IP + UDP header bytes per datagram
  readonly tcpWindowTracking: boolean; // Options { TCPWindowTracking }
  readonly commitTimeout: boolean; // CommitTimeout configured: timeouts are not sent
  readonly initialSeq: number; // time(NULL) at start, as conntrackd
  readonly filter?: CtFilter | undefined; // General { Filter } (compileFilter); applied to events, dumps and resyncs
  readonly expectations?: ExpSettings | undefined; // ExpectationSync on (undefined: off)
  readonly mode?: ReplicationMode | undefined; // Sync { Mode }; default FTFW (ackWindow and resendQueueSize are FTFW's)
  readonly refreshTimeSec?: number | undefined; // ALARM's RefreshTime (default 60)
  readonly cacheTimeoutSec?: number | undefined; // ALARM's CacheTimeout (default 180): external entries not refreshed for that long go
  readonly random?: (() => number) | undefined; // ALARM's timer draws (default Math.random)
  /** DisableInternalCache on (NOTRACK only): no internal cache, each kernel event goes to the peer once (internal_bypass.c). */
  readonly bypass?: boolean | undefined;
}

export type ReplicationMode = 'ftfw' | 'notrack' | 'alarm';

export interface ReplicatorPorts {
  /** send hands datagrams to the current dedicated link. */
  send(datagrams: readonly Uint8Array[]): void;
  /**
   * inject, when given, takes the conntrack data messages the protocol delivers instead of the
   * external cache (DisableExternalCache on: they go straight to the kernel, daemon/injector.ts).
   */
  inject?(op: SyncOp, key: string, body: string, nowMs: number): void;
  /** injectExp is inject for expectation messages (DisableExternalCache with expectations). */
  injectExp?(op: SyncOp, exp: Expectation, nowMs: number): void;
  /**
   * kernelDump, with DisableInternalCache on, is asked for a dump of the kernel table where a bulk
   * is due (`-B`, a peer's RESYNC); the caller hands it to sendKernelDump.
   */
  kernelDump?(): void;
  /**
   * peer, when given, is told what received messages say about the completeness of our copy
   * (completeness.ts): 'heard' once per datagram, 'gap' for a message after a sequence gap,
   * 'idle' once the peer has sent everything our last RESYNC and NACK asked for (see caughtUp).
   */
  peer?(signal: 'heard' | 'gap' | 'idle'): void;
  /** now, when given (ms), lets FTFW measure how long its messages wait for the peer's ACK (lag). */
  now?(): number;
}

/** ReplicationLag: how far the peer's acknowledged copy is behind ours (FTFW; empty in other modes). */
export interface ReplicationLag {
  /** How long the oldest message still awaiting its ACK has waited (ms); absent when none waits. */
  readonly oldestUnackedMs?: number;
  /** Send-to-ACK time of the last acknowledged message (ms). */
  readonly lastAckRttMs?: number;
}

/** ReplicatorStats: what `-s` shows beside the caches' and FTFW's own counters. */
export interface ReplicatorStats {
  messagesReceived: number;
  datagramsReceived: number;
  rejected: Partial<Record<SyncRejectReason, number>>;
  resyncRequests: number;
  bulkSends: number;
}

const NFGENMSG_LEN = 4;
const AF_INET6 = 10;

const OP_OF: Readonly<Record<CacheObject['status'], SyncOp>> = { new: 'new', alive: 'upd', dead: 'del' };
/** The message type of a conntrack object's next message, by its status. */
const CT_TYPE: Readonly<Record<CacheObject['status'], number>> = { new: NET_T.STATE_CT_NEW, alive: NET_T.STATE_CT_UPD, dead: NET_T.STATE_CT_DEL };
/** CT_TYPE by InternalCache.statusCodeOf: a cached entry's message type with no string lookup. */
const CT_TYPE_BY_CODE: readonly number[] = OBJ_STATUSES.map((s) => CT_TYPE[s]);

export class Replicator implements TxSink<SyncObject>, IdleSink<SyncObject> {
  readonly internal: InternalCache;
  readonly external: ExternalCache;
  /** The Mode's state machine: Ftfw, or Notrack (no ACK, no resend queue). */
  readonly protocol: ReplicationProtocol<SyncObject>;
  readonly mode: ReplicationMode;
  /** ALARM's refresh timers (the protocol itself in that mode; undefined otherwise). */
  readonly alarm: Alarm<SyncObject> | undefined;
  /**
   * The expectation caches (ExpectationSync, exp-cache.ts). Received EXP messages always go to
   * externalExp, as in conntrackd; the internal one is fed only when expectation sync is on.
   */
  readonly internalExp: InternalExpCache;
  readonly externalExp: ExternalExpCache;
  /** Dead expectations the protocol may still hold. */
  private readonly deadExp = new Set<ExpObject>();
  readonly stats: ReplicatorStats = { messagesReceived: 0, datagramsReceived: 0, rejected: {}, resyncRequests: 0, bulkSends: 0 };
  /** Dead objects the protocol may still hold (their DEL may have to be sent again). */
  private readonly dead = new Set<CacheObject>();
  /** The "internal bypass:" counters of `-s` (DisableInternalCache on): events sent, by kind. */
  readonly bypassStats = { new: 0, upd: 0, del: 0 };
  /** The same for expectations (`-s expect` with DisableInternalCache and ExpectationSync on). */
  readonly bypassExpStats = { new: 0, upd: 0, del: 0 };
  /** bypass: DisableInternalCache on; the internal cache stays empty. */
  readonly bypass: boolean;

  constructor(
    private readonly cfg: ReplicatorConfig,
    private readonly ports: ReplicatorPorts,
  ) {
    this.encodeOpts = { tcpWindowTracking: cfg.tcpWindowTracking, commitTimeout: cfg.commitTimeout };
    this.internal = new InternalCache(cfg.hashLimit, cfg.filter, this.encodeOpts);
    this.external = new ExternalCache(cfg.hashLimit);
    this.packer = new DatagramPacker(cfg.mtu, cfg.overhead, (d) => {
      this.outbox.push(d);
      if (this.outbox.length >= OUTBOX_DATAGRAMS) this.sendOutbox();
    });
    this.internalExp = new InternalExpCache(cfg.hashLimit, cfg.expectations ?? { helpers: undefined }, (k) => this.internal.get(k) !== undefined);
    this.externalExp = new ExternalExpCache(cfg.hashLimit);
    this.mode = cfg.mode ?? 'ftfw';
    this.bypass = cfg.bypass === true;
    if (this.bypass && this.mode !== 'notrack') throw new Error('DisableInternalCache needs Mode NOTRACK');
    this.alarm = this.mode === 'alarm' ? new Alarm<SyncObject>({ initialSeq: cfg.initialSeq, refreshTimeSec: cfg.refreshTimeSec ?? 60, random: cfg.random }) : undefined;
    this.protocol =
      this.alarm ??
      (this.mode === 'notrack'
        ? new Notrack<SyncObject>({ initialSeq: cfg.initialSeq })
        : new Ftfw<SyncObject>({ ackWindow: cfg.ackWindow, resendQueueSize: cfg.resendQueueSize, initialSeq: cfg.initialSeq }));
    this.protocol.owner = this;
  }

  /** ftfw is the protocol as FTFW's state machine (HELLO state, tests); throws in another mode. */
  get ftfw(): Ftfw<SyncObject> {
    if (!(this.protocol instanceof Ftfw)) throw new Error(`Mode ${this.mode.toUpperCase()} has no FTFW state`);
    return this.protocol;
  }

  /** onKernelEvent is onKernelMessage for a decoded event (tests, tools). */
  onKernelEvent(ev: CtEvent, origin: KernelEventOrigin = 'other', nowMs = 0): void {
    const p = payloadOf(ev.kind, ev.ct);
    this.onKernelMessage(ev.kind, p, 0, p.length, origin, nowMs);
  }

  /**
   * onKernelMessage mirrors one local ctnetlink event (its payload, [start, end) of a receive
   * buffer) and queues it for the peer unless we caused it. Throws DecodeError for a malformed
   * message (nothing changes).
   */
  onKernelMessage(kind: 'new' | 'update' | 'destroy', b: Uint8Array, start: number, end: number, origin: KernelEventOrigin = 'other', nowMs = 0): void {
    if (this.bypass) {
      this.bypassEvent(kind, b, start, end, origin);
      return;
    }
    const obj = this.internal.onKernelBytes(kind, b, start, end, origin, nowMs);
    if (obj === undefined) return;
    if (this.alarm !== undefined) this.touch(obj, nowMs);
    // Only a DESTROY leaves an entry dead (onKernelBytes): other events skip the status read.
    if (kind === 'destroy' && obj.status === 'dead') this.dead.add(obj);
    if (sendsEvent(kind, origin)) this.protocol.enqueue(obj);
    else if (!this.protocol.holds(obj)) {
      this.releaseIfUnheld(obj);
      this.letGo(obj);
    }
  }

  /** onIdle is the protocol's IdleSink: a data object it no longer holds goes back to the cache. */
  onIdle(o: SyncObject): void {
    this.letGo(o);
  }

  /**
   * letGo hands a live entry the protocol no longer holds back to the internal cache (idle: it is
   * a record again, with no object of its own). Not in ALARM mode: its timers hold every entry.
   */
  private letGo(o: SyncObject): void {
    if (this.alarm === undefined && o instanceof CacheObject) this.internal.idle(o);
  }

  /**
   * bypassEvent is DisableInternalCache's event path: an event the Filter accepts and that we did
   * not cause is queued once, as a message of its own (NEW → CT_NEW, UPDATE → CT_UPD, DESTROY →
   * CT_DEL), and forgotten once sent. As conntrackd, the Filter sees every kind of event here.
   */
  private bypassEvent(kind: 'new' | 'update' | 'destroy', b: Uint8Array, start: number, end: number, origin: KernelEventOrigin): void {
    const p = start === 0 && end === b.length ? b : b.subarray(start, end);
    const ct = decodeConntrack(p); // throws DecodeError for a malformed event
    if (this.cfg.filter !== undefined && !acceptsConntrack(this.cfg.filter, ct)) {
      this.internal.stats.filtered++;
      return;
    }
    if (!sendsEvent(kind, origin) || origin === 'flush') return; // conntrackd: only events it did not cause
    const status = kind === 'new' ? 'new' : kind === 'update' ? 'alive' : 'dead';
    this.protocol.enqueue(this.transientObject(p, status));
    if (kind === 'new') this.bypassStats.new++;
    else if (kind === 'update') this.bypassStats.upd++;
    else this.bypassStats.del++;
  }

  /** transientObject carries one kernel payload to the transmit queue without a cache (its key is unused). */
  private transientObject(p: KernelPayload, status: CacheObject['status']): CacheObject {
    const family = p[0] === AF_INET6 ? 'ipv6' : 'ipv4';
    return new TransientObject(family, bodyOfPayload(p, NFGENMSG_LEN, p.length, family, this.encodeOpts), status);
  }

  /**
   * sendKernelDump is a bulk without internal cache (conntrackd's kernel_resync): every dumped
   * entry is queued as a CT_NEW, unfiltered, as conntrackd does.
   */
  sendKernelDump(dump: Iterable<KernelPayload>): number {
    let n = 0;
    for (const p of dump) {
      if (p.length < NFGENMSG_LEN) continue;
      this.protocol.enqueue(this.transientObject(p, 'new'));
      n++;
    }
    return n;
  }

  /**
   * populate update-or-creates the internal cache from a kernel dump without sending anything:
   * what conntrackd does at start-up and on `-R` (the peer gets it on RESYNC or `-B`).
   */
  populate(dump: Iterable<Conntrack | KernelPayload>, nowMs = 0): number {
    let n = 0;
    if (this.bypass) return 0; // no cache to fill
    for (const ct of dump) {
      const o = this.internal.onKernelEvent('update', ct, 'other', nowMs);
      if (o === undefined) continue;
      n++;
      if (this.alarm !== undefined) this.touch(o, nowMs);
      else if (!this.protocol.holds(o)) this.letGo(o);
    }
    return n;
  }

  /** resyncInternal reloads the internal cache after lost events (netlink overrun): every difference is queued, vanished entries become DEL. */
  resyncInternal(dump: Iterable<Conntrack | KernelPayload>, nowMs = 0): { added: number; changed: number; gone: number } {
    if (this.bypass) return { added: 0, changed: 0, gone: 0 }; // conntrackd: nothing to resync without a cache
    const r = this.internal.resync(dump, nowMs);
    if (this.alarm !== undefined) for (const l of [r.added, r.changed, r.gone]) for (const o of l) this.touch(o, nowMs);
    for (const o of r.added) this.protocol.enqueue(o);
    for (const o of r.changed) this.protocol.enqueue(o);
    for (const o of r.gone) {
      this.dead.add(o);
      this.protocol.enqueue(o);
    }
    return { added: r.added.length, changed: r.changed.length, gone: r.gone.length };
  }

  /** flushInternal empties the internal cache (`-f internal`) without telling the peer, as a flush's DESTROY events would. */
  flushInternal(): void {
    for (const v of [...this.internal.values()]) {
      if (v.status === 'dead') continue;
      const o = this.internal.held(v);
      this.internal.kill(o);
      this.alarm?.disarm(o);
      this.dead.add(o);
      this.releaseIfUnheld(o);
    }
  }

  private answersHeld = false;
  private answerDeferred = false;

  /**
   * holdResyncAnswers: until releaseResyncAnswers, a RESYNC from the peer is answered then, not at
   * once. For a takeover: the internal cache is rebuilt from the kernel after the commit (or, with
   * DisableExternalCache, after the injector), and an answer from it meanwhile would be a fraction
   * of the table that tells the peer it has everything — the old master, back from FAULT a second
   * later, then preempted with a stale table (bench: the failback lost all 220 connections). FTFW
   * also holds its ACKs from the RESYNC on, so the peer's proof (caughtUp) follows the answer.
   */
  holdResyncAnswers(): void {
    this.answersHeld = true;
  }

  /** releaseResyncAnswers answers a RESYNC that came meanwhile — by a bulk, unless `bulkSent` (one was just queued) — then acknowledges it. */
  releaseResyncAnswers(bulkSent: boolean): void {
    if (!this.answersHeld) return;
    this.answersHeld = false;
    if (this.answerDeferred && !bulkSent) this.bulk();
    this.answerDeferred = false;
    if (this.protocol instanceof Ftfw) this.protocol.releaseAcks();
  }

  /**
   * bulk queues every internal-cache object for the peer (`-B`, or a peer's RESYNC request),
   * conntrack entries then expectations, and sends them BULK_CHUNK at a time as it goes: the peer
   * applies the first while the rest are queued (what is queued after the bulk still goes after it).
   */
  bulk(): void {
    if (this.alarm !== undefined) return; // ALARM has no bulk: its refresh timers resend everything
    this.stats.bulkSends++;
    if (this.bypass) {
      this.ports.kernelDump?.(); // no cache: the kernel table is sent (sendKernelDump)
      return;
    }
    let n = 0;
    this.internal.holdEach((o) => {
      this.protocol.enqueue(o);
      if (++n % BULK_CHUNK === 0) this.transmit();
    });
    for (const o of this.internalExp.values()) this.protocol.enqueue(o);
  }

  /**
   * onKernelExp mirrors one local expectation event (ExpectationSync) and queues it for the peer
   * unless we caused it; see InternalExpCache for what is filtered.
   */
  onKernelExp(kind: 'new' | 'update' | 'destroy', exp: Expectation, origin: KernelEventOrigin = 'other', nowMs = 0): void {
    if (this.bypass) {
      this.bypassExp(kind, exp, origin);
      return;
    }
    const obj = this.internalExp.onKernelEvent(kind, exp, origin, nowMs);
    if (obj === undefined) return;
    if (this.alarm !== undefined) this.touch(obj, nowMs);
    if (obj.status === 'dead') this.deadExp.add(obj);
    if (sendsEvent(kind, origin)) this.protocol.enqueue(obj);
    else this.releaseExpIfUnheld(obj);
  }

  /**
   * bypassExp is DisableInternalCache's expectation event path (internal_bypass.c's exp half): an
   * event bypassAcceptsExp passes and that we did not cause is queued once as EXP_NEW / EXP_UPD /
   * EXP_DEL and forgotten once sent. conntrackd 1.4.7 also asks the kernel whether the master
   * exists, but reads the answer inverted (spec §7 #9: nl_get_conntrack returns 1 when found and
   * internal_bypass_exp_master_find tests `== 0`), so it drops every expectation whose master
   * exists — in effect none is sent (seen in the lab: its master arrives, the expectation never,
   * "internal bypass" counts 0, and `-B` and `-i expect` show none either). We send them: the kernel
   * removes an expectation with its master, so a live expectation's master exists.
   */
  private bypassExp(kind: 'new' | 'update' | 'destroy', exp: Expectation, origin: KernelEventOrigin): void {
    if (!this.bypassAcceptsExp(exp)) {
      this.internalExp.stats.filtered++;
      return;
    }
    if (!sendsEvent(kind, origin) || origin === 'flush') return; // only events we did not cause
    this.protocol.enqueue(new ExpObject('', exp, kind === 'new' ? 'new' : kind === 'update' ? 'alive' : 'dead', 0));
    if (kind === 'new') this.bypassExpStats.new++;
    else if (kind === 'update') this.bypassExpStats.upd++;
    else this.bypassExpStats.del++;
  }

  /**
   * bypassAcceptsExp is the expectation filter without an internal cache, as conntrackd's exp event
   * and dump handlers: the helper list (ExpectationSync { … }) and the General Filter applied to the
   * master's original tuple (Protocol, Address; the master's TCP state is not in an expectation, so
   * State passes, and its mark neither, so the Mark part is not applied — the peer may then receive
   * an expectation whose master it was not sent, which its commit reports and skips).
   */
  bypassAcceptsExp(exp: Expectation): boolean {
    if (exp.master === undefined || exp.tuple === undefined) return false;
    if (!helperAccepts(this.cfg.expectations?.helpers, exp)) return false;
    const f = this.cfg.filter;
    if (f === undefined) return true;
    const master: Conntrack = { family: exp.family, orig: exp.master, ...(exp.zone !== undefined ? { zone: exp.zone } : {}) };
    return acceptsConntrack(f.mark === undefined ? f : { ...f, mark: undefined }, master);
  }

  /**
   * sendKernelExpDump is sendKernelDump for the expectation table (DisableInternalCache with
   * ExpectationSync: `-B`, a peer's RESYNC): every dumped expectation bypassAcceptsExp passes is
   * queued as EXP_NEW, after the conntrack entries (their masters). conntrackd 1.4.7's kernel_resync
   * dumps only the conntrack table, so its peer learns expectations from events alone; we send them,
   * as a bulk with an internal cache does.
   */
  sendKernelExpDump(dump: Iterable<Expectation>): number {
    let n = 0;
    for (const e of dump) {
      if (!this.bypassAcceptsExp(e)) continue;
      this.protocol.enqueue(new ExpObject('', e, 'new', 0));
      n++;
    }
    return n;
  }

  /** populateExp update-or-creates the internal expectation cache from a kernel dump, sending nothing (start-up, `-R`). */
  populateExp(dump: Iterable<Expectation>, nowMs = 0): number {
    let n = 0;
    if (this.bypass) return 0; // no cache to fill
    for (const e of dump) {
      const o = this.internalExp.onKernelEvent('update', e, 'other', nowMs);
      if (o === undefined) continue;
      n++;
      if (this.alarm !== undefined) this.touch(o, nowMs);
    }
    return n;
  }

  /**
   * resyncInternalExp is resyncInternal for the expectation table (polling mode with
   * ExpectationSync; call it after resyncInternal, so that new masters are cached): every dumped
   * expectation the cache accepts is update-or-created and queued (sent again every period, as
   * the conntrack entries are), cached ones no longer dumped become dead and their DEL is queued.
   * conntrackd 1.4.7's polling alarm also asks for the expectation dump, but its resync handle has
   * no expectation callback, so the answer is dropped and only the purge (DEL) part works (seen in
   * the lab: a new FTP expectation's master reaches the peer, the expectation never).
   */
  resyncInternalExp(dump: Iterable<Expectation>, nowMs = 0): { queued: number; gone: number } {
    if (this.bypass) return { queued: 0, gone: 0 };
    const seen = new Set<ExpObject>();
    for (const e of dump) {
      const o = this.internalExp.onKernelEvent('update', e, 'other', nowMs);
      if (o === undefined || o.status === 'dead') continue;
      seen.add(o);
      if (this.alarm !== undefined) this.touch(o, nowMs);
      this.protocol.enqueue(o);
    }
    let gone = 0;
    for (const o of [...this.internalExp.values()]) {
      if (seen.has(o) || o.status === 'dead') continue;
      this.internalExp.kill(o);
      this.alarm?.disarm(o);
      this.deadExp.add(o);
      this.protocol.enqueue(o);
      gone++;
    }
    return { queued: seen.size, gone };
  }

  /** flushInternalExp empties the internal expectation cache without telling the peer. */
  flushInternalExp(): void {
    for (const o of [...this.internalExp.values()]) {
      this.internalExp.kill(o);
      this.alarm?.disarm(o);
      this.deadExp.add(o);
      this.releaseExpIfUnheld(o);
    }
  }

  private releaseExpIfUnheld(o: ExpObject): void {
    if (o.status === 'dead' && !this.protocol.holds(o)) {
      this.internalExp.release(o);
      this.deadExp.delete(o);
    }
  }

  /** touch (re)arms a live object's ALARM refresh timer, or stops a dead one's (cache_alarm_update/destroy). */
  private touch(o: SyncObject, nowMs: number): void {
    if (o.status === 'dead') this.alarm!.disarm(o);
    else this.alarm!.arm(o, nowMs);
  }

  /**
   * onAlarmTick runs ALARM's clock (sync-node calls it every few hundred ms): objects whose
   * refresh timer expired are queued (call transmit() afterwards), and external entries and
   * expectations not refreshed for CacheTimeout seconds are removed. Returns how many objects were queued.
   */
  onAlarmTick(nowMs: number): number {
    if (this.alarm === undefined) return 0;
    const n = this.alarm.onTimer(nowMs);
    if (nowMs - this.lastExpiryScanMs < 1000) return n; // a scan of the external cache per second
    this.lastExpiryScanMs = nowMs;
    const oldest = nowMs - (this.cfg.cacheTimeoutSec ?? 180) * 1000;
    let stale: ExternalEntry[] | undefined;
    for (const e of this.external.values()) if (e.receivedAtMs <= oldest) (stale ??= []).push(e);
    if (stale !== undefined) for (const e of stale) this.external.remove(e);
    this.externalExp.expireOlderThan(oldest); // expectations age out the same way
    return n;
  }

  private lastExpiryScanMs = -Infinity;

  /** requestResync asks the peer for its whole table (`-n`). */
  requestResync(): void {
    this.resyncCancelled = false;
    this.awaitResync = { seq: 'waiting', acked: false };
    this.protocol.requestResync();
  }

  /**
   * onDatagram applies one received datagram: rejected messages are counted by reason, the rest
   * go through FTFW; data messages it accepts update the external cache. `nowMs` stamps entries
   * for the commit's timeout ageing.
   */
  onDatagram(bytes: Uint8Array, nowMs: number): void {
    this.stats.datagramsReceived++;
    const d = decodeDatagramLazy(bytes, { mode: this.mode });
    for (const e of d.errors) this.stats.rejected[e.reason] = (this.stats.rejected[e.reason] ?? 0) + 1;
    const peer = this.ports.peer;
    peer?.('heard');
    for (const m of d.messages) {
      this.stats.messagesReceived++;
      const lost = this.protocol.stats.lost;
      const h = rxHeader(m);
      const verdict = this.protocol.onReceive(h);
      if (h.kind === 'ack' && verdict === 'control') this.ackedUpTo(h.to);
      if (peer !== undefined) {
        if (this.protocol.stats.lost !== lost) {
          this.awaitNack = { seq: 'waiting', acked: false }; // the NACK this gap queues
          peer('gap');
        } else if (this.caughtUp(h, verdict)) {
          peer('idle');
        }
      }
      if (verdict === 'deliver' && m.kind === 'ct-raw') this.deliverCt(m, nowMs);
      else if (verdict === 'deliver' && m.kind === 'exp') {
        if (this.ports.injectExp !== undefined) this.ports.injectExp(m.op, m.exp, nowMs);
        else this.externalExp.apply(m.op, m.exp, nowMs);
      }
      else if (verdict === 'resync') {
        this.stats.resyncRequests++;
        if (!this.answersHeld) this.bulk();
        else {
          this.answerDeferred = true;
          if (this.protocol instanceof Ftfw) this.protocol.holdAcksFrom(h.seq);
        }
      }
    }
    this.sweepDead();
    if (this.deadExp.size > 0) for (const o of this.deadExp) this.releaseExpIfUnheld(o);
  }

  /**
   * Our last RESYNC and our last NACK, each until the peer has answered it: what the completeness
   * of our copy waits for. Two marks, not one: a NACK answered (the retransmissions of a gap are
   * in) says nothing about a RESYNC the peer never received (lost while our link was down).
   */
  private awaitResync: Awaited | undefined;
  private awaitNack: Awaited | undefined;

  /**
   * caughtUp says whether message `h` proves the peer has sent us everything our last RESYNC and
   * NACK asked for, clearing what it answers. FTFW: the peer has acknowledged the request itself
   * (so it processed it and queued the bulk or the retransmissions), and then, in sequence, one of
   * our later messages — that ACK was queued after all the request queued, and the peer sends its
   * queue in order. Other modes have no ACKs: an ALIVE in sequence (sent only with an empty queue)
   * after the request.
   */
  private caughtUp(h: RxHeader, verdict: RxVerdict): boolean {
    if (this.awaitResync === undefined && this.awaitNack === undefined) return false;
    if (verdict === 'bad' || verdict === 'before') return false;
    if (this.mode !== 'ftfw') {
      if (h.kind !== 'alive' || this.awaitResync?.seq === 'waiting' || this.awaitNack?.seq === 'waiting') return false;
      this.awaitResync = this.awaitNack = undefined;
      return true;
    }
    // Only once the peer has answered our HELLO: until then its ACKs may be of a previous
    // incarnation of this node, whose sequence numbers can be ahead of ours (restart).
    if (h.kind !== 'ack') return false;
    if (this.ftfw.helloState !== 'done') {
      // It may still be this incarnation's answer, sent after a HELLO_BACK that was lost: once
      // the handshake is done, ask again rather than wait for resyncFromPeer's retry.
      const r = this.awaitResync;
      if (r !== undefined && r.seq !== 'waiting' && !seqBefore(r.seq, h.from) && !seqBefore(h.to, r.seq)) this.untrustedResyncAck = true;
      return false;
    }
    if (this.untrustedResyncAck) {
      this.untrustedResyncAck = false;
      if (this.awaitResync !== undefined && !this.awaitResync.acked) this.requestResync();
    }
    this.awaitResync = stillAwaited(this.awaitResync, h);
    this.awaitNack = stillAwaited(this.awaitNack, h);
    return this.awaitResync === undefined && this.awaitNack === undefined;
  }

  /**
   * cancelResyncWait: no answer to a RESYNC sent so far counts, nor to one still queued or resent
   * from the resend queue — until requestResync asks anew ('waiting' keeps caughtUp from saying
   * idle on the NACK mark alone).
   */
  cancelResyncWait(): void {
    this.resyncCancelled = true;
    this.awaitResync = { seq: 'waiting', acked: false };
    this.untrustedResyncAck = false;
  }
  private resyncCancelled = false;

  /** An ACK of our RESYNC arrived before our HELLO was answered, when it could not be trusted. */
  private untrustedResyncAck = false;

  /** resyncAcknowledged: FTFW's peer has acknowledged our last RESYNC (it is answering), or nothing is awaited. */
  get resyncAcknowledged(): boolean {
    return this.awaitResync === undefined || this.awaitResync.acked;
  }

  /** deliverCt puts one delivered conntrack message into the external cache, or hands it to the inject port. */
  private deliverCt(m: SyncCtRawMessage, nowMs: number): void {
    const keys = rawKeys();
    if (this.ports.inject !== undefined) this.ports.inject(m.op, latin1Of(keys, m.keyAt, m.keyAt + m.keyLen), latin1Of(m.bytes, m.start, m.end), nowMs);
    else this.external.applyBytes(m.op, m.bytes, m.start, m.end, keys, m.keyAt, m.keyLen, nowMs);
  }

  /** transmit sends what is queued, in as few datagrams as the MTU allows; returns how many messages went out. */
  transmit(): number {
    this.passDataSeq = undefined;
    const n = this.protocol.transmitEach(this);
    if (this.passDataSeq !== undefined) this.sentPass(this.passDataSeq);
    this.packer.flush();
    this.sendOutbox();
    // Without ACKs, what was sent is no longer held: DEAD objects can go now.
    if (this.mode !== 'ftfw' && n > 0) this.sweepAllDead();
    return n;
  }

  /**
   * Transmit passes that sent data, oldest first, from lagHead on: the last data seq of each and
   * when it went (ports.now). At most LAG_PASSES: past that a pass joins the newest one, which
   * keeps its older time (the lag shown can only be too long, never too short).
   */
  /** sendOutbox hands the datagrams packed so far to the link. */
  private sendOutbox(): void {
    if (this.outbox.length === 0) return;
    const ds = this.outbox;
    this.outbox = [];
    this.ports.send(ds);
  }

  private readonly lagLog = objectSlots<{ seq: number; atMs: number }>() as { seq: number; atMs: number }[];
  private lagHead = 0;
  private lastAckRttMs: number | undefined;
  private passDataSeq: number | undefined;

  private sentPass(seq: number): void {
    const now = this.ports.now;
    if (now === undefined || this.mode !== 'ftfw') return;
    if (this.lagLog.length - this.lagHead >= LAG_PASSES) this.lagLog[this.lagLog.length - 1]!.seq = seq;
    else this.lagLog.push({ seq, atMs: now() });
  }

  /** ackedUpTo: the peer's ACK reaches `to`; every pass up to it is acknowledged. */
  private ackedUpTo(to: number): void {
    const now = this.ports.now;
    if (now === undefined) return;
    let sentMs: number | undefined;
    while (this.lagHead < this.lagLog.length && !seqBefore(to, this.lagLog[this.lagHead]!.seq)) sentMs = this.lagLog[this.lagHead++]!.atMs;
    if (sentMs !== undefined) this.lastAckRttMs = now() - sentMs;
    if (this.lagHead > LAG_PASSES) {
      this.lagLog.splice(0, this.lagHead);
      this.lagHead = 0;
    }
  }

  /** lag: how long what we sent waits for the peer's ACK (FTFW with ports.now). */
  lag(nowMs: number): ReplicationLag {
    // Nothing awaits an ACK (or a HELLO emptied the resend queue): the log has nothing to say.
    if (this.protocol.awaitingAck === 0) {
      this.lagLog.length = 0;
      this.lagHead = 0;
    }
    const oldest = this.lagLog[this.lagHead];
    return { ...(oldest !== undefined ? { oldestUnackedMs: nowMs - oldest.atMs } : {}), ...(this.lastAckRttMs !== undefined ? { lastAckRttMs: this.lastAckRttMs } : {}) };
  }

  /** onAliveTimer runs one second after the last transmit: a pending ACK or an ALIVE goes out. */
  onAliveTimer(): void {
    this.protocol.onAliveTimer();
    this.transmit();
  }

  private readonly encodeOpts: { readonly tcpWindowTracking: boolean; readonly commitTimeout: boolean };

  private outbox: Uint8Array[] = [];
  private readonly packer: DatagramPacker;

  /** emit (TxSink, called by transmit's pass) writes one FTFW message into the packer; a data message's type comes from its object's status now, its body from the kernel's attributes. */
  emit(kind: TxItem<SyncObject>['kind'], obj: SyncObject | undefined, seq: number, flags: number, from: number, to: number): void {
    const w = this.packer.writer;
    w.reset();
    if (obj !== undefined) this.passDataSeq = seq;
    if (obj instanceof ExpObject) {
      writeSyncMessage(w, { kind: 'exp', op: OP_OF[obj.status], seq, flags, exp: obj.exp }, this.encodeOpts);
    } else if (obj !== undefined) {
      // A cached entry's body is copied from its arena record; a transient one's is a string.
      const at = obj.at;
      const a = this.internal.arena;
      if (at >= 0) this.packer.commitBytes(CT_TYPE_BY_CODE[this.internal.statusCodeOf(at)]!, flags, seq, a.bytesAt(at), a.bodyStart(at), a.bodyLength(at));
      else this.packer.commitBody(CT_TYPE[obj.status], flags, seq, obj.body);
      return;
    } else if (kind === 'ack' || kind === 'nack') {
      if (kind === 'nack') this.awaitNack = { seq, acked: false };
      writeSyncMessage(w, { kind, seq, flags, from, to });
    } else if (kind === 'resync') {
      if (!this.resyncCancelled) this.awaitResync = { seq, acked: false };
      writeSyncMessage(w, { kind, seq, flags, from: 0, to: 0 });
    } else {
      writeSyncMessage(w, { kind: 'alive', seq, flags });
    }
    this.packer.commit();
  }

  private releaseIfUnheld(o: CacheObject): void {
    if (o.status === 'dead' && !this.protocol.holds(o)) {
      this.internal.release(o);
      this.dead.delete(o);
    }
  }

  private sweepDead(): void {
    for (const o of this.dead) {
      if (o.status !== 'dead') this.dead.delete(o); // brought back to life by a later event
      else this.releaseIfUnheld(o);
    }
  }

  private sweepAllDead(): void {
    if (this.dead.size > 0) this.sweepDead();
    if (this.deadExp.size > 0) for (const o of this.deadExp) this.releaseExpIfUnheld(o);
  }
}

/** The header of every data message received, reused: the protocols read it and keep nothing of it (no object per message). */
const dataHeader: { kind: 'data'; seq: number; flags: number } = { kind: 'data', seq: 0, flags: 0 };

function rxHeader(m: SyncLazyMessage): RxHeader {
  switch (m.kind) {
    case 'ct-raw':
    case 'exp':
      dataHeader.seq = m.seq;
      dataHeader.flags = m.flags;
      return dataHeader;
    case 'ack':
    case 'nack':
      return { kind: m.kind, seq: m.seq, flags: m.flags, from: m.from, to: m.to };
    case 'resync':
    case 'alive':
      return { kind: m.kind, seq: m.seq, flags: m.flags };
  }
}

/** How many transmit passes the lag log keeps apart. */
const LAG_PASSES = 1024;

/**
 * OUTBOX_DATAGRAMS: a long transmit pass hands its datagrams to the link this many at a time rather
 * than all at its end, so that the peer applies them while the rest is still being written.
 */
const OUTBOX_DATAGRAMS = 64;

/**
 * BULK_CHUNK: entries a bulk queues before it transmits them (about OUTBOX_DATAGRAMS datagrams of
 * conntrack messages): measured on `-n` of 100 000, queueing them all first (~100 ms, every handle
 * made and kept) held the peer idle until the first datagram.
 */
const BULK_CHUNK = 1024;

/** A request of ours awaiting its answer: seq is 'waiting' while it is queued, not yet sent. */
interface Awaited {
  seq: number | 'waiting';
  /** The peer's ACK range has held the request itself. */
  acked: boolean;
}

/**
 * stillAwaited applies the peer's ACK `h` to request `a`: an ACK whose range holds the request
 * says the peer processed it (a gap before it would have cut the range short); an ACK of something
 * later then came out of its queue after everything the request queued — answered (undefined).
 */
function stillAwaited(a: Awaited | undefined, h: { readonly from: number; readonly to: number }): Awaited | undefined {
  if (a === undefined || a.seq === 'waiting') return a;
  if (!a.acked && !seqBefore(a.seq, h.from) && !seqBefore(h.to, a.seq)) a.acked = true;
  return a.acked && seqBefore(a.seq, h.to) ? undefined : a;
}
