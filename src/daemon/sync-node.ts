import { ConntrackClient } from '../ctnetlink/client.js';
import { ctEventKind } from '../ctnetlink/event.js';
import { subscribeRaw, type EventStream, type RawEventBatch } from '../ctnetlink/events.js';
import { DecodeError } from '../wire/decode-error.js';
import { forEachDatagram } from '../native/batch.js';
import { forEachNlMessage } from '../netlink/message.js';
import type { ConntrackdConfig, SyncConfig } from '../config/conntrackd/types.js';
import { planCommitRequests, type CommitJob } from '../engine/commit-bytes.js';
import { Committer } from './committer.js';
import type { ExternalEntry, KernelEventOrigin } from '../engine/cache.js';
import { Replicator } from '../engine/replicator.js';
import { compileFilter } from '../engine/filter.js';
import { openChannel, type SyncChannel } from '../sync/channel.js';
import type { Logger } from './log.js';

/**
 * SyncNode is a running replication node in FTFW mode: the I/O edge around the pure Replicator.
 * It owns three ctnetlink sockets — requests (dumps, flushes), commit (its port id marks the
 * events our commits cause, which are not sent back), events — the dedicated link, and the two
 * timers (transmit on the next turn of the loop after new work; the one-second alive timer).
 */
export interface CommitResult {
  readonly committed: number;
  readonly failed: number;
  readonly ms: number;
}

export interface SyncNodeOptions {
  /** Network namespace to run in (tests and the lab); default: the process's own. */
  readonly netns?: string;
}

/**
 * eventBufferSetting is the event socket's buffer the configuration asks for: NetlinkBufferSize,
 * which conntrackd 1.4.7 applies only with a NetlinkBufferSizeMaxGrowth at least as large (the
 * parser warns otherwise). Without it keepstated keeps its own default, DEFAULT_EVENT_RCVBUF
 * (64 MiB asked, 128 MiB effective; conntrackd keeps the system's ~208 KiB, which lost events in
 * 2 of 3 bursts of 100 000).
 */
function eventBufferSetting(cfg: ConntrackdConfig): number | undefined {
  const { netlinkBufferSize: size, netlinkBufferSizeMaxGrowth: max } = cfg.general;
  return size !== undefined && max !== undefined && size <= max ? size : undefined;
}

/** Refusals by a full cache are logged at most this often (ms). */
const REFUSAL_LOG_MS = 10_000;

/** A burst's transmit passes are at least this far apart (ms); see scheduleTransmit. */
const TRANSMIT_COALESCE_MS = 1;
/** Messages that fill a datagram on a 1500-byte link (~90 bytes each): send at once. */
const TRANSMIT_FULL = 16;

export class SyncNode {
  readonly replicator: Replicator;
  private readonly requests: ConntrackClient;
  private readonly committer: Committer;
  private readonly events: EventStream<RawEventBatch>;
  private transmitScheduled = false;
  private aliveTimer: NodeJS.Timeout | undefined;
  private overrunTimer: NodeJS.Timeout | undefined;
  private lastTransmitMs = 0;
  private committing = false;
  private readonly startedMs = Date.now();
  private stopped = false;
  readonly counters = { overruns: 0, overrunResyncs: 0, eventsReceived: 0, eventsMalformed: 0, commitsRun: 0 };

  private constructor(
    private readonly cfg: ConntrackdConfig,
    private readonly sync: SyncConfig,
    private readonly channel: SyncChannel,
    private readonly log: Logger,
    opts: SyncNodeOptions,
    committer: Committer,
  ) {
    this.committer = committer;
    const ns = opts.netns !== undefined ? { netns: opts.netns } : {};
    this.requests = ConntrackClient.open(ns);
    this.replicator = new Replicator(
      {
        ackWindow: sync.ackWindowSize,
        resendQueueSize: sync.resendQueueSize,
        hashLimit: cfg.general.hashLimit,
        mtu: channel.mtu,
        overhead: channel.overhead,
        tcpWindowTracking: sync.tcpWindowTracking,
        commitTimeout: sync.commitTimeoutSec !== undefined,
        initialSeq: Math.floor(Date.now() / 1000) >>> 0, // time(NULL), as conntrackd
        filter: compileFilter(cfg.general.filter), // General { Filter }, both `From` kinds in user space
      },
      { send: (ds) => ds.forEach((d) => this.channel.send(d)) },
    );
    // Subscribe before the initial dump (conntrackd subscribes after it and loses what changes
    // meanwhile); events of entries the dump also returns are harmless update-or-creates.
    this.events = subscribeRaw({
      groups: ['new', 'update', 'destroy'],
      ...ns,
    });
    const size = eventBufferSetting(cfg);
    if (size !== undefined) this.events.setRcvbuf(size);
    if (cfg.general.netlinkEventsReliable) {
      this.events.reliable();
      log.log('notice', 'reliable ctnetlink event delivery is ENABLED');
    }
  }

  /** start brings a node up: link, sockets, the initial dump (nothing is sent), then the loops. */
  static async start(cfg: ConntrackdConfig, log: Logger, opts: SyncNodeOptions = {}): Promise<SyncNode> {
    const sync = cfg.sync;
    if (sync === undefined) throw new Error('no Sync section: nothing to replicate');
    const chCfg = sync.channels[sync.defaultChannel];
    if (chCfg === undefined || chCfg.kind === 'tcp') throw new Error('the default dedicated link must be UDP or Multicast');
    const channel = await openChannel(chCfg, opts.netns !== undefined ? { netns: opts.netns } : {});
    let committer: Committer;
    try {
      committer = await Committer.start(opts.netns);
    } catch (e) {
      await channel.close();
      throw e;
    }
    const node = new SyncNode(cfg, sync, channel, log, opts, committer);
    try {
      const n = node.replicator.populate(await node.dumpKernel(), Date.now());
      log.log('notice', `internal cache populated with ${n} entries from the kernel`);
    } catch (e) {
      await node.stop();
      throw e;
    }
    channel.onDatagram((d) => {
      node.replicator.onDatagram(d, Date.now());
      node.reportRefusals();
      node.scheduleTransmit();
    });
    channel.onError((e) => log.log('warning', `dedicated link: ${e.message}`));
    void node.eventLoop();
    node.armAlive();
    if (sync.startupResync) node.requestResync();
    return node;
  }

  /** commit puts the external cache into the kernel (`-c`): masters first, EEXIST → delete and create once more. */
  async commit(): Promise<CommitResult> {
    if (this.committing) {
      this.log.log('notice', 'commit already in progress, skipping');
      return { committed: 0, failed: 0, ms: 0 };
    }
    this.committing = true;
    const t0 = Date.now();
    try {
      this.log.log('notice', 'committing all external caches');
      const opts = {
        nowMs: t0,
        ...(this.sync.commitTimeoutSec !== undefined ? { commitTimeoutSec: this.sync.commitTimeoutSec } : {}),
        tcpWindowTracking: this.sync.tcpWindowTracking,
      };
      // Each request is written from the received bytes straight into the send buffer. While the
      // commit runs this node does not listen for NEW events: the kernel then does not build one
      // per committed entry (measured: a NEW listener makes 100 000 creates take ~0.3 s longer),
      // and a commit's own events are not sent anyway. The kernel table is read back afterwards
      // (resyncAfterCommit), so that nothing created meanwhile is missing from the internal cache.
      const jobs = planCommitRequests(this.replicator.external.values(), opts);
      let failed = 0;
      this.events.leave('new');
      try {
        for (const pass of [1, 2] as const) {
          // Masters first: a related entry's create needs its master in the kernel.
          const batch = jobs.filter((j) => j.pass === pass);
          const failures = await this.committer.run('create', batch.map((j) => j.write));
          const retry: CommitJob<ExternalEntry>[] = [];
          for (const f of failures) {
            if (f.code === 'EEXIST') retry.push(batch[f.i]!);
            else {
              failed++;
              this.log.log('error', `commit-create: ${f.message}`);
            }
          }
          if (retry.length === 0) continue;
          // Update-or-recreate: the entry exists (failback), delete it and create it again.
          await this.committer.run('delete', retry.map((j) => j.writeDelete));
          for (const f of await this.committer.run('create', retry.map((j) => j.write))) {
            failed++;
            this.log.log('error', `commit-create: ${f.message}`);
          }
        }
      } finally {
        if (!this.stopped) this.events.join('new'); // (a node stopped meanwhile has closed the socket)
      }
      const total = jobs.length;
      const ms = Date.now() - t0;
      this.counters.commitsRun++;
      this.log.log('notice', `Committed ${total - failed} new entries`);
      if (failed > 0) this.log.log('notice', `${failed} entries can't be committed`);
      this.log.log('notice', `commit has taken ${(ms / 1000).toFixed(6)} seconds`);
      return { committed: total - failed, failed, ms };
    } finally {
      this.committing = false;
      void this.resyncAfterCommit();
    }
  }

  /**
   * resyncAfterCommit adds what the kernel has and the internal cache lacks (the committed entries,
   * whose NEW events were not taken, and anything created during the commit), without sending:
   * what conntrackd's `-R` does, which primary-backup.sh runs after `-c`.
   */
  private async resyncAfterCommit(): Promise<void> {
    if (this.stopped) return;
    try {
      const dump = await this.dumpKernel();
      if (this.stopped) return;
      const n = this.replicator.populate(dump, Date.now());
      this.log.log('notice', `internal cache resynced with the kernel after the commit (${n} entries)`);
    } catch (e) {
      if (!this.stopped) this.log.log('error', `resync after the commit failed: ${String(e)}`);
    }
  }

  /**
   * flushCaches empties the caches (`-f`). While a commit runs, a flush that would empty the
   * external cache is refused, as conntrackd does (the internal cache alone is not checked).
   */
  flushCaches(which: 'internal' | 'external' | 'both'): boolean {
    if (this.committing && which !== 'internal') {
      this.log.log('error', 'ignoring flush command, commit still in progress');
      return false;
    }
    if (which !== 'internal') this.replicator.external.flush();
    if (which !== 'external') this.replicator.flushInternal();
    return true;
  }

  /** resyncWithKernel reloads the internal cache from a kernel dump without sending (`-R`). */
  async resyncWithKernel(): Promise<number> {
    return this.replicator.populate(await this.dumpKernel(), Date.now());
  }

  /** bulk sends the whole internal cache to the peer (`-B`). */
  bulk(): void {
    this.replicator.bulk();
    this.scheduleTransmit();
  }

  /** requestResync asks the peer for its whole table (`-n`). */
  requestResync(): void {
    this.replicator.requestResync();
    this.scheduleTransmit();
  }

  /** flushKernel empties the kernel's conntrack table (`-F`); the DESTROY events it causes are not sent. */
  async flushKernel(): Promise<void> {
    await this.requests.flush();
  }

  /** uptimeSec is how long the node has run. */
  get uptimeSec(): number {
    return Math.floor((Date.now() - this.startedMs) / 1000);
  }
  /** eventSocketBuffer is the event socket's receive buffer in bytes. */
  eventSocketBuffer(): number {
    return this.events.rcvbuf();
  }

  /** linkStats are the dedicated link's counters. */
  linkStats(): ReturnType<SyncChannel['stats']> & { device: string; kind: string } {
    return { ...this.channel.stats(), device: this.channel.device, kind: this.channel.kind };
  }

  /** stop closes everything (idempotent). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.aliveTimer);
    clearTimeout(this.overrunTimer);
    this.events.close();
    this.requests.close();
    await this.committer.close();
    await this.channel.close();
  }

  /** dumpKernel reads the kernel table as message payloads (copied: the receive buffers are reused). */
  private async dumpKernel(): Promise<Uint8Array[]> {
    const all: Uint8Array[] = [];
    for await (const b of this.requests.dumpPayloads()) for (const p of b) all.push(p);
    return all;
  }

  private origin(portId: number | undefined): KernelEventOrigin {
    if (portId === undefined || portId === 0) return 'other';
    if (this.committer.portIds.has(portId)) return 'commit';
    if (portId === this.requests.portId) return 'flush';
    return 'other';
  }

  private async eventLoop(): Promise<void> {
    for await (const b of this.events) {
      if (this.stopped) return;
      if (b.kind === 'overrun') {
        this.onOverrun();
        continue;
      }
      this.onEventBatch(b.batch, b.count, Date.now());
      this.reportRefusals();
      this.scheduleTransmit();
    }
  }

  /** onEventBatch feeds one wakeup's conntrack events to the replicator, straight from the receive buffer. */
  private onEventBatch(batch: Uint8Array, count: number, now: number): void {
    const onMessage = (type: number, flags: number, pid: number, start: number, end: number): void => {
      const kind = ctEventKind(type, flags);
      if (kind === undefined) return;
      this.counters.eventsReceived++;
      try {
        this.replicator.onKernelMessage(kind, batch, start, end, this.origin(pid), now);
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
   * reportRefusals logs entries a full cache (HashLimit) refused: the first at once, then at most
   * one line per REFUSAL_LOG_MS with the totals (a flood of refusals is one line, not thousands).
   */
  private reportRefusals(): void {
    const i = this.replicator.internal.stats.refusedOverLimit;
    const e = this.replicator.external.stats.refusedOverLimit;
    if (i === this.refusalsLogged.internal && e === this.refusalsLogged.external) return;
    const now = Date.now();
    if (now - this.refusalsLogged.atMs < REFUSAL_LOG_MS) return;
    const limit = this.cfg.general.hashLimit;
    if (i !== this.refusalsLogged.internal) this.log.log('warning', `internal cache is full (HashLimit ${limit}): ${i} entries refused so far`);
    if (e !== this.refusalsLogged.external) this.log.log('warning', `external cache is full (HashLimit ${limit}): ${e} entries refused so far`);
    this.refusalsLogged = { internal: i, external: e, atMs: now };
  }
  private refusalsLogged = { internal: 0, external: 0, atMs: -Infinity };

  /**
   * onOverrun: events were lost. As conntrackd: the event buffer doubles, up to
   * NetlinkBufferSizeMaxGrowth; after NetlinkOverrunResync seconds the cache is resynced from a
   * dump and the differences are sent.
   */
  private onOverrun(): void {
    this.counters.overruns++;
    this.log.log('warning', 'netlink event socket overrun: events were lost');
    const max = this.cfg.general.netlinkBufferSizeMaxGrowth;
    const now = this.events.rcvbuf();
    if (max !== undefined && now < max) {
      this.events.setRcvbuf(Math.min(2 * now, max));
      this.log.log('notice', `netlink event socket buffer size has been set to ${this.events.rcvbuf()} bytes`);
    } else if (max !== undefined) {
      this.log.log('warning', `netlink event socket buffer is at its maximum (${now} bytes, NetlinkBufferSizeMaxGrowth)`);
    }
    const sec = this.cfg.general.netlinkOverrunResyncSec;
    if (sec === undefined) return;
    // As conntrackd's add_alarm: a later overrun moves the pending resync to `sec` after it.
    clearTimeout(this.overrunTimer);
    this.overrunTimer = setTimeout(() => {
      this.overrunTimer = undefined;
      void this.dumpKernel().then(
        (dump) => {
          const r = this.replicator.resyncInternal(dump, Date.now());
          this.counters.overrunResyncs++;
          this.log.log('notice', `resync after overrun: ${r.added} added, ${r.changed} changed, ${r.gone} gone`);
          this.scheduleTransmit();
        },
        (e: unknown) => this.log.log('error', `resync after overrun failed: ${String(e)}`),
      );
    }, sec * 1000);
  }

  /**
   * scheduleTransmit sends what is queued on the next turn of the loop — or, while events keep
   * coming (the last pass was under TRANSMIT_COALESCE_MS ago) and less than a datagram's worth
   * waits, at most TRANSMIT_COALESCE_MS after the last pass: a burst then leaves in full
   * datagrams (each costs a sendmsg and the peer a wakeup) instead of one per event wakeup, and an
   * isolated event still leaves at once — as a microtask, right after the callback that queued it
   * (setImmediate cost ~40 µs more at p50 in the idle-latency benchmark).
   */
  private scheduleTransmit(): void {
    if (this.transmitScheduled || this.stopped) return;
    this.transmitScheduled = true;
    const run = (): void => {
      this.transmitScheduled = false;
      if (this.stopped) return;
      if (this.replicator.transmit() > 0) this.lastTransmitHr = performance.now();
      this.lastTransmitMs = Date.now();
    };
    const since = performance.now() - this.lastTransmitHr;
    if (since >= TRANSMIT_COALESCE_MS || this.replicator.ftfw.queued >= TRANSMIT_FULL) queueMicrotask(run);
    else setTimeout(run, TRANSMIT_COALESCE_MS - since);
  }
  private lastTransmitHr = -Infinity;

  /** armAlive runs the alive timer: one second after the last transmit pass (§3.1.4). */
  private armAlive(): void {
    const due = Math.max(0, this.lastTransmitMs + 1000 - Date.now());
    this.aliveTimer = setTimeout(() => {
      if (this.stopped) return;
      if (Date.now() - this.lastTransmitMs >= 1000) {
        this.replicator.onAliveTimer();
        this.lastTransmitMs = Date.now();
      }
      this.armAlive();
    }, due);
  }
}
