import { closeSync, openSync } from 'node:fs';
import type { ConntrackdConfig } from '../config/conntrackd/types.js';
import { ConntrackClient } from '../ctnetlink/client.js';
import { ctIdentity } from '../ctnetlink/compact.js';
import { decodeConntrack } from '../ctnetlink/conntrack.js';
import { ctEventKind } from '../ctnetlink/event.js';
import { subscribeRaw, type EventStream, type RawEventBatch } from '../ctnetlink/events.js';
import type { Conntrack } from '../ctnetlink/types.js';
import { acceptsConntrack, compileFilter, type CtFilter } from '../engine/filter.js';
import { StatsCache } from '../engine/stats-cache.js';
import { forEachDatagram } from '../native/batch.js';
import { forEachNlMessage } from '../netlink/message.js';
import { DecodeError } from '../wire/decode-error.js';
import { FlowLog } from './flow-log.js';
import type { Logger } from './log.js';

/**
 * StatsNode is conntrackd's Stats mode (stats-mode.c) as an I/O edge around the pure StatsCache:
 * it keeps the live flows of the kernel table (an initial dump, then NEW/UPDATE/DESTROY events)
 * and writes one line per destroyed flow it had seen alive to the Stats LogFile and/or syslog
 * (flow-log.ts). Nothing is replicated; there is no dedicated link.
 */

const NFGENMSG_LEN = 4;

export interface StatsNodeOptions {
  /** Network namespace to run in (tests); default: the process's own. */
  readonly netns?: string;
  /** Replaces /dev/log for the flow lines sent to syslog (KEEPSTATED_SYSLOG_SOCKET). */
  readonly syslogPath?: string | undefined;
  /** The clock (tests); default Date.now. */
  readonly nowMs?: () => number;
}

export class StatsNode {
  readonly cache: StatsCache;
  readonly flowLog: FlowLog;
  readonly counters = { eventsFiltered: 0, eventsReceived: 0, eventsMalformed: 0, overruns: 0, overrunResyncs: 0, kernelFlushes: 0, kernelResyncs: 0 };
  private readonly requests: ConntrackClient;
  private readonly events: EventStream<RawEventBatch>;
  private readonly now: () => number;
  /** General { Filter }: flows it rejects are neither cached nor logged (ct_filter_conntrack). */
  private readonly filter: CtFilter | undefined;
  private readonly startedMs: number;
  private overrunTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(
    private readonly cfg: ConntrackdConfig,
    private readonly log: Logger,
    opts: StatsNodeOptions,
  ) {
    this.now = opts.nowMs ?? Date.now;
    this.startedMs = this.now();
    const ns = opts.netns !== undefined ? { netns: opts.netns } : {};
    this.cache = new StatsCache(cfg.general.hashLimit);
    this.filter = compileFilter(cfg.general.filter);
    const stats = cfg.stats;
    this.flowLog = new FlowLog(
      stats?.logFile,
      { enabled: stats?.syslogFacility !== undefined, generalFacility: cfg.general.syslogFacility, socketPath: opts.syslogPath },
      (reason) => log.log('warning', reason),
    );
    this.requests = ConntrackClient.open(ns);
    // Subscribed before the dump (conntrackd subscribes after it and loses what changes meanwhile):
    // an entry both dumped and announced is update-or-created twice, which is harmless.
    this.events = subscribeRaw({ groups: ['new', 'update', 'destroy'], ...ns });
    const { netlinkBufferSize: size, netlinkBufferSizeMaxGrowth: max } = cfg.general;
    if (size !== undefined && max !== undefined && size <= max) this.events.setRcvbuf(size);
    if (cfg.general.netlinkEventsReliable) {
      this.events.reliable();
      log.log('notice', 'reliable ctnetlink event delivery is ENABLED');
    }
  }

  /**
   * start opens the flow log (a Stats LogFile that cannot be opened stops the start, as in
   * conntrackd), subscribes to events, loads the cache from a kernel dump, then handles events.
   */
  static async start(cfg: ConntrackdConfig, log: Logger, opts: StatsNodeOptions = {}): Promise<StatsNode> {
    const path = cfg.stats?.logFile;
    if (path !== undefined) {
      try {
        closeSync(openSync(path, 'a'));
      } catch (e) {
        throw new Error(`can't open logfile \`${path}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
    const node = new StatsNode(cfg, log, opts);
    try {
      await node.resyncWithKernel();
    } catch (e) {
      await node.stop();
      throw e;
    }
    node.events.listen((b) => node.onEvents(b));
    return node;
  }

  get uptimeSec(): number {
    return Math.floor((this.now() - this.startedMs) / 1000);
  }

  eventSocketBuffer(): number {
    return this.events.rcvbuf();
  }

  /** resyncWithKernel update-or-creates every kernel entry (start-up and `-R`); returns the identities it read. */
  async resyncWithKernel(): Promise<Set<string>> {
    const seen = new Set<string>();
    const nowSec = Math.floor(this.now() / 1000);
    for await (const batch of this.requests.dumpPayloads()) {
      for (const p of batch) {
        const key = ctIdentity(p, NFGENMSG_LEN, p.length);
        if (key === '') continue;
        seen.add(key);
        const ct = decodeConntrack(p);
        if (acceptsConntrack(this.filter, ct)) this.cache.populate(key, ct, nowSec);
      }
    }
    return seen;
  }

  /** flushCache empties the stats cache (`-f internal`). */
  flushCache(): void {
    this.cache.flush();
  }

  /** flushKernel empties the kernel's conntrack table (`-F`); the DESTROY events that follow are logged. */
  async flushKernel(): Promise<void> {
    this.counters.kernelFlushes++;
    await this.requests.flush();
  }

  /** stop closes everything (idempotent). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.overrunTimer);
    this.events.close();
    this.requests.close();
    this.flowLog.close();
    return Promise.resolve();
  }

  /** onEvents takes one batch of the event socket (EventStream.listen: a callback, no promise per wakeup). */
  private onEvents(b: RawEventBatch): boolean {
    if (this.stopped) return false;
    if (b.kind === 'overrun') this.onOverrun();
    else this.onEventBatch(b.batch, b.count);
    return true;
  }

  private onEventBatch(batch: Uint8Array, count: number): void {
    const nowMs = this.now();
    const nowSec = Math.floor(nowMs / 1000);
    const onMessage = (type: number, flags: number, _pid: number, start: number, end: number): void => {
      const kind = ctEventKind(type, flags);
      if (kind === undefined) return;
      this.counters.eventsReceived++;
      try {
        const key = ctIdentity(batch, start + NFGENMSG_LEN, end);
        if (key === '') return;
        const ct = decodeConntrack(batch.subarray(start, end));
        if (!acceptsConntrack(this.filter, ct)) {
          this.counters.eventsFiltered++;
          return;
        }
        if (kind === 'new') this.cache.onNew(key, ct, nowSec);
        else if (kind === 'update') this.cache.onUpdate(key, ct, nowSec);
        else {
          const gone = this.cache.onDestroy(key, ct);
          if (gone !== undefined) this.flowLog.write(gone, new Date(nowMs));
        }
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        this.counters.eventsMalformed++;
        this.log.log('error', `malformed conntrack event dropped: ${e.message}`);
      }
    };
    const ok = forEachDatagram(batch, count, (start, end) => {
      if (!forEachNlMessage(batch, start, end, onMessage)) this.counters.eventsMalformed++;
    });
    if (!ok) this.counters.eventsMalformed++;
  }

  /**
   * onOverrun: events were lost. As conntrackd: the buffer grows up to NetlinkBufferSizeMaxGrowth,
   * and NetlinkOverrunResync seconds later the cache is reloaded from a dump; cached flows the
   * kernel no longer has are then logged as destroyed (purge: their last cached attributes, no
   * counters) and removed.
   */
  private onOverrun(): void {
    this.counters.overruns++;
    this.log.log('warning', 'netlink event socket overrun: events were lost');
    const max = this.cfg.general.netlinkBufferSizeMaxGrowth;
    const now = this.events.rcvbuf();
    if (max !== undefined && now < max) {
      this.events.setRcvbuf(Math.min(2 * now, max));
      this.log.log('notice', `netlink event socket buffer size has been set to ${this.events.rcvbuf()} bytes`);
    }
    const sec = this.cfg.general.netlinkOverrunResyncSec;
    if (sec === undefined) return;
    clearTimeout(this.overrunTimer);
    this.overrunTimer = setTimeout(() => {
      this.overrunTimer = undefined;
      void this.resyncWithKernel().then(
        (seen) => {
          if (this.stopped) return;
          this.counters.overrunResyncs++;
          this.purge(seen);
        },
        (e: unknown) => this.log.log('error', `resync after overrun failed: ${String(e)}`),
      );
    }, sec * 1000);
  }

  /** purge logs and removes the cached flows whose keys are not in `seen` (stats_purge). */
  private purge(seen: Set<string>): void {
    const gone: Conntrack[] = this.cache.purge(seen);
    const now = new Date(this.now());
    for (const ct of gone) this.flowLog.write(ct, now);
  }
}
