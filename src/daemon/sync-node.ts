import { ConntrackClient } from '../ctnetlink/client.js';
import { ctEventKind, decodeExpEvent } from '../ctnetlink/event.js';
import { subscribeRaw, type EventStream, type RawEventBatch } from '../ctnetlink/events.js';
import { DecodeError } from '../wire/decode-error.js';
import { walkEventBatch } from './event-walk.js';
import { warmUp } from './warm-up.js';
import { Injector } from './injector.js';
import { SyncCompleteness, type CompletenessOptions } from '../engine/completeness.js';
import type { ConntrackdConfig, SyncConfig } from '../config/conntrackd/types.js';
import { fastJob, planCommitRequests, tryWriteCommitRecord, type CommitJob } from '../engine/commit-bytes.js';
import { Committer, type CommitFailure } from './committer.js';
import type { ExternalEntry, KernelEventOrigin } from '../engine/cache.js';
import { Replicator, type ReplicatorConfig, type ReplicatorPorts } from '../engine/replicator.js';
import type { RecordArena } from '../engine/record-arena.js';
import { expCommitRequest, type ExpSettings } from '../engine/exp-cache.js';
import type { Expectation } from '../ctnetlink/types.js';
import type { SyncOp } from '../sync/message.js';
import type { EventGroup } from '../ctnetlink/events.js';
import { NFNL_SUBSYS } from '../ctnetlink/consts.js';
import { nfSubsys } from '../ctnetlink/nfgenmsg.js';
import { compileFilter } from '../engine/filter.js';
import type { LinkStats } from '../sync/channel.js';
import { Links, type LinkView } from './links.js';
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
  /** Run the hot paths over made-up entries before opening the event socket (warm-up.ts); default on, keepstated --no-warm-up turns it off. */
  readonly warmUp?: boolean;
}

/**
 * portOf makes a replicator's port: `send` takes each datagram for the link, `node.completeness`
 * (when set) is told what received messages say of our copy. The daemon's port and the warm-up's
 * are made here, by the same closures: V8's code compiled during the warm-up expects this object's
 * hidden class and these closures' feedback cells, and a port made elsewhere would have it thrown
 * away at the first real datagram ("wrong map", "wrong feedback cell" in --trace-deopt).
 */
function portOf(
  send: (d: Uint8Array) => void,
  node: { readonly completeness: SyncCompleteness | undefined },
  kernelDump?: () => void,
  inject?: Pick<ReplicatorPorts, 'inject' | 'injectExp'>,
): ReplicatorPorts {
  return {
    send: (ds) => {
      for (const d of ds) send(d);
    },
    peer: (signal) => {
      const c = node.completeness;
      if (c === undefined) return;
      if (signal === 'heard') c.onHeard(Date.now());
      else if (signal === 'gap') c.onGap(Date.now());
      else c.onIdle();
    },
    now: Date.now,
    ...(kernelDump !== undefined ? { kernelDump } : {}),
    ...inject,
  };
}

/**
 * takeDatagram hands a datagram from the link to the replicator and says whether FTFW took a
 * message of it (not rejected, not an old sequence number, not a bad range): that makes the link
 * current (§2.12). NOTRACK delivers old sequence numbers too: only FTFW drops them.
 */
function takeDatagram(r: Replicator, d: Uint8Array): boolean {
  const seen = messagesTaken(r);
  r.onDatagram(d, Date.now());
  return messagesTaken(r) > seen;
}

/** messagesTaken counts the messages the replicator has received and its protocol kept. */
function messagesTaken(r: Replicator): number {
  return r.stats.messagesReceived - (r.mode === 'ftfw' ? r.protocol.stats.before : 0) - r.protocol.stats.badControl;
}

/** replicatorConfig is the replication engine's configuration from conntrackd.conf and the link it runs over. */
function replicatorConfig(cfg: ConntrackdConfig, sync: SyncConfig, channel: Links): ReplicatorConfig {
  return {
    ackWindow: sync.ackWindowSize,
    resendQueueSize: sync.resendQueueSize,
    hashLimit: cfg.general.hashLimit,
    mtu: channel.mtu,
    overhead: channel.overhead,
    tcpWindowTracking: sync.tcpWindowTracking,
    commitTimeout: sync.commitTimeoutSec !== undefined,
    initialSeq: Math.floor(Date.now() / 1000) >>> 0, // time(NULL), as conntrackd
    filter: compileFilter(cfg.general.filter), // General { Filter }, both `From` kinds in user space
    expectations: expectationSettings(sync),
    mode: sync.protocol,
    refreshTimeSec: sync.refreshTimeSec,
    cacheTimeoutSec: sync.cacheTimeoutSec,
    bypass: sync.disableInternalCache,
  };
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

/** Events a turn of the warm-up's event walk, in three batches of four (SyncNode.warmUp; the fourth goes at EventIterationLimit). */
const WARM_UP_TURN = 3;
/** A burst's transmit passes are at least this far apart (ms); see scheduleTransmit. */
const TRANSMIT_COALESCE_MS = 1;
/** A settled promise whose `then` queues a microtask (scheduleTransmit). */
const RESOLVED = Promise.resolve();
/** Messages that fill a datagram on a 1500-byte link (~90 bytes each): send at once. */
const TRANSMIT_FULL = 16;
/**
 * The event socket's hold-off (ms): in a flood, events are read once per millisecond in one batch
 * (a wakeup, a callback and an epoll round per ~10 events cost ~1 µs an entry on a 100 000 burst);
 * an isolated event is still read at once. The same bound as TRANSMIT_COALESCE_MS.
 */
const EVENT_HOLD_OFF_MS = 1;

export class SyncNode {
  readonly replicator: Replicator;
  private readonly requests: ConntrackClient;
  private readonly committer: Committer;
  /** The event socket; none in polling mode (PollSecs). */
  private readonly events: EventStream<RawEventBatch> | undefined;
  /** DisableExternalCache on: received entries go straight to the kernel. */
  readonly injector: Injector | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private transmitScheduled = false;
  private aliveTimer: NodeJS.Timeout | undefined;
  private overrunTimer: NodeJS.Timeout | undefined;
  /** Date.now() of the last pass that sent something; -Infinity (a double, as the times it gets: V8 keeps the field's representation) before any. */
  private lastTransmitMs = -Infinity;
  private committing = false;
  private readonly startedMs = Date.now();
  private stopped = false;
  readonly counters = { overruns: 0, overrunResyncs: 0, eventsReceived: 0, eventsMalformed: 0, commitsRun: 0, eventYields: 0, polls: 0 };

  private constructor(
    private readonly cfg: ConntrackdConfig,
    private readonly sync: SyncConfig,
    private readonly channel: Links,
    private readonly log: Logger,
    opts: SyncNodeOptions,
    committer: Committer,
  ) {
    this.committer = committer;
    const ns = opts.netns !== undefined ? { netns: opts.netns } : {};
    this.requests = ConntrackClient.open(ns);
    const rcfg = replicatorConfig(cfg, sync, channel);
    // Before the replicator and the event socket are made: the peer's datagrams wait in the link's
    // socket meanwhile, and the replicator's arrays are born with the element kinds the warm-up
    // taught their allocation sites (one made before keeps the old kind, and the code compiled
    // for the new one deoptimizes on it: "wrong map" at the first real event).
    if (opts.warmUp !== false) this.warmUp(rcfg);
    this.replicator = new Replicator(rcfg, this.injectPort(sync, committer, log));
    this.events = cfg.general.pollSecs === undefined ? this.openEvents(cfg, ns, log) : undefined;
    // DisableExternalCache: the events of our own injections are ignored (origin 'inject'); the
    // kernel drops them instead, so that a burst of injections cannot overrun the event socket.
    if (this.events !== undefined && this.injector !== undefined) {
      try {
        this.events.ignorePorts([...committer.portIds]);
      } catch (e) {
        log.log('warning', `event socket: the filter for our own injections was refused (${e instanceof Error ? e.message : String(e)}); they are read and dropped instead`);
      }
    }
  }

  /** openEvents subscribes to conntrack events (not in polling mode). */
  private openEvents(cfg: ConntrackdConfig, ns: { netns?: string }, log: Logger): EventStream<RawEventBatch> {
    // Subscribe before the initial dump (conntrackd subscribes after it and loses what changes
    // meanwhile); events of entries the dump also returns are harmless update-or-creates.
    const events = subscribeRaw({
      groups: ['new', 'update', 'destroy', ...(cfg.sync?.expectationSync.enabled === true ? EXP_GROUPS : [])],
      holdOffMs: EVENT_HOLD_OFF_MS,
      ...ns,
    });
    const size = eventBufferSetting(cfg);
    if (size !== undefined) events.setRcvbuf(size);
    if (cfg.general.netlinkEventsReliable) {
      events.reliable();
      log.log('notice', 'reliable ctnetlink event delivery is ENABLED');
    }
    return events;
  }

  /**
   * injectPort is the replicator's port: datagrams to the link and, with DisableExternalCache on,
   * delivered entries to the Injector (through the commit thread, whose events are then the
   * inject socket's: not cached, not sent back).
   */
  private injectPort(sync: SyncConfig, committer: Committer, log: Logger): ReplicatorPorts {
    const send = (d: Uint8Array): void => this.channel.send(d);
    // DisableInternalCache on: a bulk sends a dump of the kernel table.
    const kernelDump = sync.disableInternalCache ? () => this.sendKernelDump() : undefined;
    if (!sync.disableExternalCache) return portOf(send, this, kernelDump);
    const injector = new Injector(committer, log, { tcpWindowTracking: sync.tcpWindowTracking });
    (this as { injector: Injector | undefined }).injector = injector;
    return portOf(send, this, kernelDump, {
      inject: (op, key, body, nowMs) => injector.apply(op, key, body, nowMs),
      injectExp: (op, exp, nowMs) => void this.injectExpectation(injector, op, exp, nowMs),
    });
  }

  /**
   * injectExpectation puts a received expectation straight into the kernel (DisableExternalCache,
   * as conntrackd's external_inject): create (EEXIST → delete and create once more) or delete,
   * after the conntrack writes already queued — its master must exist first.
   */
  private async injectExpectation(injector: Injector, op: SyncOp, exp: Expectation, nowMs: number): Promise<void> {
    try {
      await injector.idle();
      if (this.stopped) return;
      const client = (this.expCommitClient ??= ConntrackClient.open(this.requests.opts));
      if (op === 'del') {
        const [r] = await client.deleteExpectations([exp]);
        if (r !== undefined && !r.ok && r.error.code !== 'ENOENT') this.log.log('error', `inject-exp-destroy: ${r.error.message}`);
        return;
      }
      const req = expCommitRequest({ key: '', exp, receivedAtMs: nowMs, sinceMs: nowMs }, nowMs, this.sync.commitTimeoutSec);
      let [r] = await client.createExpectations([req]);
      if (r !== undefined && !r.ok && r.error.code === 'EEXIST') {
        await client.deleteExpectations([req]);
        [r] = await client.createExpectations([req]);
      }
      if (r !== undefined && !r.ok) this.log.log('error', `inject-exp-create: ${r.error.message}`);
    } catch (e) {
      if (!this.stopped) this.log.log('error', `inject-exp: ${String(e)}`);
    }
  }

  /**
   * sendKernelDump queues the kernel table for the peer (DisableInternalCache: `-B`, a peer's
   * RESYNC), then, with ExpectationSync, the expectation table (after their masters).
   */
  private sendKernelDump(): void {
    void this.dumpBoth().then(
      ([dump, exps]) => {
        if (this.stopped) return;
        this.replicator.sendKernelDump(dump);
        if (exps !== undefined) this.replicator.sendKernelExpDump(exps);
        this.scheduleTransmit();
      },
      (e: unknown) => {
        if (!this.stopped) this.log.log('error', `can't dump kernel table: ${String(e)}`);
      },
    );
  }

  /** kernelTable is the kernel's conntrack table as message payloads (`-i` with DisableInternalCache on). */
  kernelTable(): Promise<Uint8Array[]> {
    return this.dumpKernel();
  }

  /**
   * kernelExpTable is the kernel's expectation table as the bypass filter passes it (`-i expect`
   * with DisableInternalCache and ExpectationSync on, as internal_bypass_exp_dump).
   */
  async kernelExpTable(): Promise<Expectation[]> {
    if (!this.expSync) return [];
    return (await this.dumpExpectations()).filter((e) => this.replicator.bypassAcceptsExp(e));
  }

  /** start brings a node up: link, sockets, the initial dump (nothing is sent), then the loops. */
  static async start(cfg: ConntrackdConfig, log: Logger, opts: SyncNodeOptions = {}): Promise<SyncNode> {
    const sync = cfg.sync;
    if (sync === undefined) throw new Error('no Sync section: nothing to replicate');
    const channel = await Links.open(sync, log, opts.netns !== undefined ? { netns: opts.netns } : {});
    let committer: Committer;
    try {
      committer = await Committer.start(opts.netns);
    } catch (e) {
      await channel.close();
      throw e;
    }
    const node = new SyncNode(cfg, sync, channel, log, opts, committer);
    channel.onUp(() => node.linkBack());
    try {
      const n = node.replicator.populate(await node.dumpKernel(), Date.now());
      log.log('notice', `internal cache populated with ${n} entries from the kernel`);
      if (node.expSync) log.log('notice', `internal expectation cache populated with ${await node.populateExpectations()} entries`);
    } catch (e) {
      await node.stop();
      throw e;
    }
    channel.onDatagram((d) => node.onLinkDatagram(d));
    channel.onError((e) => log.log('warning', `dedicated link: ${e.message}`));
    if (node.events !== undefined) node.events.listen((b) => node.onEvents(b));
    else {
      log.log('notice', 'running in polling mode');
      node.armPoll(cfg.general.pollSecs ?? 1);
    }
    node.armAlive();
    if (node.replicator.alarm !== undefined) node.armAlarmTick();
    if (sync.startupResync) node.requestResync();
    return node;
  }

  /**
   * commit writes the external cache into the kernel (`-c`). `since` (ms) commits only the entries
   * received from then on (the takeover's second pass: what the old master sent while the first
   * ran); `readBack: false` leaves the kernel read-back to a pass that follows.
   */
  async commit(what: 'all' | 'ct' = 'all', pass: { readonly since?: number; readonly readBack?: boolean } = {}): Promise<CommitResult> {
    // DisableExternalCache on: there is nothing to commit (conntrackd's external_inject commit does nothing).
    if (this.injector !== undefined) return { committed: 0, failed: 0, ms: 0 };
    if (this.committing) {
      this.log.log('notice', 'commit already in progress, skipping');
      return { committed: 0, failed: 0, ms: 0 };
    }
    this.committing = true;
    const t0 = Date.now();
    try {
      const since = pass.since;
      this.log.log('notice', since === undefined ? 'committing all external caches' : `committing what the external cache received in the last ${t0 - since} ms`);
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
      let failed = 0;
      let total = 0;
      /** Entries that were in the kernel already: changed in place, or deleted and created. */
      const existed = { updated: 0, recreated: 0 };
      this.events?.leave('new');
      // The entries as they are now, unchanged until the commit ends: what the peer sends
      // meanwhile goes to new records, and the pinned cache's arena neither moves nor reuses the
      // ones taken here, so a retry writes what was planned.
      const external = this.replicator.external;
      const unpin = external.pin();
      try {
        // Records on the fast path (no master tuple) are read by offset as they are written (the
        // pinned cache does not change meanwhile) and sent chunk by chunk, so the kernel starts at
        // once; an entry object is made only for the others, which go through the model
        // afterwards (masters first: a related entry's create needs its master in the kernel),
        // and for a retry.
        const arena = external.arena;
        const held = external.offsets();
        const records = since === undefined ? held : receivedSince(arena, held, since);
        const fast = await this.committer.runEach('create', records, (w, at) => tryWriteCommitRecord(w, arena, at, opts), external.size);
        const jobs = planCommitRequests(fast.declined.map((at) => external.entryAt(at)), opts);
        total = fast.accepted.length + jobs.length;
        // Each pass: how many, the job of request i (built only for a retry), its failures.
        const pass1 = jobs.filter((j) => j.pass === 1);
        const pass2 = jobs.filter((j) => j.pass === 2);
        const passes: { n: number; job: (i: number) => CommitJob<ExternalEntry>; failures: () => Promise<readonly CommitFailure[]> }[] = [
          { n: fast.accepted.length, job: (i) => fastJob(external.entryAt(fast.accepted[i]!), opts), failures: async () => fast.failures },
          ...[pass1, pass2].map((batch) => ({ n: batch.length, job: (i: number) => batch[i]!, failures: () => this.committer.run('create', batch.map((j) => j.write)) })),
        ];
        for (const pass of passes) {
          if (pass.n === 0) continue;
          const retry: CommitJob<ExternalEntry>[] = [];
          for (const f of await pass.failures()) {
            if (f.code === 'EEXIST') retry.push(pass.job(f.i));
            else {
              failed++;
              this.log.log('error', `commit-create: ${f.message}`);
            }
          }
          if (retry.length === 0) continue;
          // The entry exists (a failback, or traffic made it first): conntrackd deletes and creates it.
          const r = await this.committer.updateOrRecreate(retry);
          for (const f of r.failures) this.log.log('error', `commit: ${f.message}`);
          failed += r.failures.length;
          existed.updated += r.updated.length;
          existed.recreated += r.recreated.length;
        }
      } finally {
        unpin();
        if (!this.stopped) this.events?.join('new'); // (a node stopped meanwhile has closed the socket)
      }
      const ms = Date.now() - t0;
      this.counters.commitsRun++;
      this.log.log('notice', `Committed ${total - failed} new entries`);
      if (existed.updated + existed.recreated > 0) this.log.log('notice', `${existed.updated + existed.recreated} were in the kernel already: ${existed.updated} updated in place, ${existed.recreated} deleted and created again (another NAT binding)`);
      if (failed > 0) this.log.log('notice', `${failed} entries can't be committed`);
      this.log.log('notice', `commit has taken ${(ms / 1000).toFixed(6)} seconds`);
      if (this.expSync && what === 'all') await this.commitExpectations();
      return { committed: total - failed, failed, ms };
    } finally {
      this.committing = false;
      if (pass.readBack !== false) this.lastResync = this.resyncAfterCommit();
    }
  }

  /**
   * resyncAfterCommit adds what the kernel has and the internal cache lacks (the committed entries,
   * whose NEW events were not taken, and anything created during the commit), without sending:
   * what conntrackd's `-R` does, which primary-backup.sh runs after `-c`.
   */
  /** lastResync settles when the internal cache has been read back after the last commit. */
  lastResync: Promise<void> = Promise.resolve();

  private async resyncAfterCommit(): Promise<void> {
    if (this.stopped) return;
    try {
      const dump = await this.dumpKernel();
      if (this.stopped) return;
      const n = this.replicator.populate(dump, Date.now());
      this.log.log('notice', `internal cache resynced with the kernel after the commit (${n} entries)`);
      if (this.expSync && !this.stopped) await this.populateExpectations();
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
    if (which === 'both' && this.expSync) {
      // conntrackd's ALL_FLUSH_CACHE empties the expectation caches too.
      this.replicator.externalExp.flush();
      this.replicator.flushInternalExp();
    }
    return true;
  }

  /** resyncWithKernel reloads the internal cache from a kernel dump without sending (`-R`). */
  async resyncWithKernel(): Promise<number> {
    const n = this.replicator.populate(await this.dumpKernel(), Date.now());
    if (this.expSync) await this.populateExpectations();
    return n;
  }

  /** bulk sends the whole internal cache to the peer (`-B`). */
  bulk(): void {
    this.replicator.bulk();
    this.scheduleTransmit();
  }

  /** holdResyncAnswers: a takeover rebuilds the internal cache; a peer's RESYNC waits for it (Replicator.holdResyncAnswers). */
  holdResyncAnswers(): void {
    this.replicator.holdResyncAnswers();
  }

  /** releaseResyncAnswers answers what waited (a bulk unless `bulkSent`) and acknowledges it. */
  releaseResyncAnswers(bulkSent: boolean): void {
    this.replicator.releaseResyncAnswers(bulkSent);
    this.scheduleTransmit();
  }

  /**
   * trackCompleteness starts judging whether this node's copy of the peer's state is complete
   * (sync-aware election, engine/completeness.ts): incomplete from now until the peer has answered
   * the resync request sent here.
   */
  trackCompleteness(opts: CompletenessOptions): SyncCompleteness {
    const c = new SyncCompleteness(opts);
    this.completeness = c;
    this.resyncFromPeer();
    return c;
  }

  /** resyncFromPeer asks the peer for its table; the copy is incomplete until the answer is in. */
  resyncFromPeer(): void {
    this.waitsForMaster = false;
    this.completeness?.start(Date.now());
    this.resyncAskedMs = Date.now();
    this.requestResync();
  }
  private resyncAskedMs = -Infinity; // a double from the start, as lastTransmitMs

  /**
   * resyncOnceMasterKnown: the copy is incomplete from now, and the request for the table goes
   * out at masterKnown — this node's mastership has just ended, and whatever its peer would
   * answer before it is master (a backup's own few entries) is not the table that matters. An
   * answer still due to an earlier request no longer counts either.
   */
  resyncOnceMasterKnown(): void {
    this.completeness?.start(Date.now());
    this.replicator.cancelResyncWait();
    this.waitsForMaster = true;
  }

  /** masterKnown: VRRP hears a peer master; a request waiting for it goes now. */
  masterKnown(): void {
    if (this.waitsForMaster) this.resyncFromPeer();
  }

  /** waitsForMaster: a request for the table waits for masterKnown. */
  waitsForMaster = false;

  /**
   * tableRequest is where our request for the peer's table stands while the copy is incomplete
   * for want of it: waiting for a master to be heard, sent and not acknowledged (FTFW; in the
   * other modes nothing is acknowledged), or acknowledged (the answer is on the way).
   */
  tableRequest(nowMs = Date.now()): 'none' | 'waiting-for-master' | 'unacknowledged' | 'acknowledged' {
    if (this.waitsForMaster) return 'waiting-for-master';
    const v = this.completeness?.view(nowMs);
    if (v === undefined || v.complete || v.reason !== 'startup') return 'none';
    return this.replicator.mode === 'ftfw' && this.replicator.resyncAcknowledged ? 'acknowledged' : 'unacknowledged';
  }

  /**
   * linkBack: a dedicated link works again. A request for the peer's table that the peer has not
   * acknowledged went out while none did (ENETUNREACH: lost) — sent again now rather than when the
   * retry timer or the peer's NACK of our next message brings it back (the lab's failback, with
   * its sync link the last port to come up, waited ~2 s for it).
   */
  private linkBack(): void {
    if (this.tableRequest() !== 'unacknowledged') return;
    this.log.log('notice', 'dedicated link up again: asking the peer for its table again');
    this.resyncAskedMs = Date.now();
    this.requestResync();
  }

  /**
   * retryResync asks again when the peer has not acknowledged resyncFromPeer's request within
   * `afterMs` (FTFW; other modes: when no answer came): a request lost in the FTFW HELLO handshake
   * is never retransmitted (the peer resets its receive sequence on HELLO and sees no gap), so
   * without this the node would stay demoted until --sync-timeout. An acknowledged request is
   * being answered: its bulk may take as long as it takes. Returns whether it asked.
   */
  retryResync(nowMs: number, afterMs: number): boolean {
    if (this.tableRequest(nowMs) !== 'unacknowledged' || nowMs - this.resyncAskedMs < afterMs) return false;
    this.resyncAskedMs = nowMs;
    this.log.log('notice', `no answer to the resync request after ${afterMs} ms: asking the peer again`);
    this.requestResync();
    return true;
  }
  completeness: SyncCompleteness | undefined;

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
    return this.events?.rcvbuf() ?? 0;
  }

  /** linkStats are the current dedicated link's counters. */
  linkStats(): LinkStats & { device: string; kind: string } {
    return { ...this.channel.stats(), device: this.channel.device, kind: this.channel.kind };
  }

  /** linkTable is every dedicated link in configuration order and the index of the current one (`-s link`). */
  linkTable(): { links: LinkView[]; current: number } {
    return { links: this.channel.views(), current: this.channel.current };
  }

  /** errorQueued is the TCP links' error queue (`-s queue`'s errorq). */
  get errorQueued(): number {
    return this.channel.errorQueued;
  }
  /** errorQueueDrops is what full TCP error queues dropped (`-s queue`'s errorq enospc). */
  get errorQueueDrops(): number {
    return this.channel.errorQueueDrops;
  }

  /** stop closes everything (idempotent). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.aliveTimer);
    clearInterval(this.alarmTick);
    clearTimeout(this.overrunTimer);
    clearTimeout(this.pollTimer);
    this.events?.close();
    this.injector?.close();
    this.requests.close();
    this.expCommitClient?.close();
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
    if (this.committer.portIds.has(portId)) return this.injector !== undefined ? 'inject' : 'commit';
    if (portId === this.requests.portId) return 'flush';
    if (portId === this.expCommitClient?.portId) return 'commit';
    return 'other';
  }

  /**
   * onEvents takes one batch of the event socket (EventStream.listen, from the socket's callback),
   * and says false while EventIterationLimit holds the rest of it back: once that many events were
   * handled since the last yield, the rest of the batch, and the batches after it, wait for the
   * next turn of the loop (setImmediate), so that the link, the timers and the control socket are
   * served during a flood, as conntrackd's limit sends it back to its select loop. (The count is not
   * reset by idle periods: that costs one setImmediate per `limit` events at most, and keeps the
   * loop free of timers.)
   */
  private onEvents(b: RawEventBatch): boolean {
    if (this.stopped) return false;
    if (b.kind === 'overrun') {
      this.onOverrun();
      return true;
    }
    return this.walkEvents(b.batch, b.count, 0) === b.count;
  }
  /** onLinkDatagram takes a datagram of the link (Links.onDatagram): true when it carried messages the replicator kept. */
  private onLinkDatagram(d: Uint8Array): boolean {
    const taken = takeDatagram(this.replicator, d);
    this.reportRefusals();
    this.scheduleTransmit();
    return taken;
  }
  /** Events handled since the last yield (onEvents). */
  private eventsHandled = 0;
  /** The setImmediate of walkEvents' last yield (the warm-up cancels it: it goes on at once). */
  private walkResume: NodeJS.Immediate | undefined;

  /**
   * walkEvents feeds a batch from datagram `from` on and returns `count`, or, when it yielded
   * (onEvents), the datagram the next turn resumes from.
   */
  private walkEvents(batch: Uint8Array, count: number, from: number): number {
    const limit = this.cfg.general.eventIterationLimit;
    while (from < count) {
      if (this.eventsHandled >= limit) {
        this.counters.eventYields++;
        this.eventsHandled = 0;
        const at = from;
        this.walkResume = setImmediate(() => {
          if (!this.stopped && this.walkEvents(batch, count, at) === count) this.events!.release();
        });
        return at;
      }
      from = this.feedTurn(batch, count, from, Date.now());
      this.reportRefusals();
      this.scheduleTransmit();
    }
    return count;
  }

  /**
   * warmUp runs made-up entries through this node's own event and link paths with private
   * replicators (warm-up.ts), so that V8 compiles them before the first real burst. The event
   * counters it moves are put back; a failure leaves the node cold, with a warning.
   */
  private warmUp(rcfg: ReplicatorConfig): void {
    const saved = { ...this.counters };
    const limit = this.cfg.general.eventIterationLimit;
    const self = this as { replicator: Replicator };
    let batches = 0;
    try {
      const w = warmUp(rcfg, {
        // This node as the completeness holder: unset until start() returns (trackCompleteness).
        port: (send) => portOf(send, this),
        // Through the daemon's own turn — walkEvents with its yield (cancelled: the warm-up goes on
        // at once), then runTransmit — with the warm-up's replicator in the node's place, and
        // WARM_UP_TURN events a turn: V8 compiles a function once it has run enough of its own
        // code, and these per-turn functions run little of it per call. At the daemon's 100 events
        // a turn the warm-up called them ~200 times, too few: V8 compiled them in the first real
        // burst instead (--trace-opt: 14–17 functions, 28–40 ms, in a sender's first burst of 100 000).
        // Every fourth batch goes at the daemon's own pace, so that full datagrams and full turns
        // are seen too.
        events: (rep, batch, count) => {
          self.replicator = rep;
          const turn = batches++ % 4 === 3 ? limit : WARM_UP_TURN;
          for (let from = 0; ; ) {
            this.eventsHandled = Math.max(0, limit - turn);
            from = this.walkEvents(batch, count, from);
            this.cancelTurn();
            this.runTransmit();
            if (from === count) break;
          }
        },
        // Through the link's handler, as the daemon's: the warm-up's exchange transmits itself.
        datagram: (rep, d) => {
          self.replicator = rep;
          this.onLinkDatagram(d);
          this.cancelTurn();
        },
      });
      this.log.log('notice', `warm-up: ${w.entries} made-up entries through the event, sync and commit paths in ${w.ms.toFixed(0)} ms (${(w.cpuUs / 1000).toFixed(0)} ms CPU)`);
    } catch (e) {
      this.log.log('warning', `warm-up failed, starting cold: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.cancelTurn();
      Object.assign(this.counters, saved);
      this.eventsHandled = 0;
      // The alive timer starts from no transmit pass, as without a warm-up (a pass it scheduled as a
      // microtask still runs, on the node's replicator, where nothing is queued yet).
      this.lastTransmitHr = -Infinity;
      this.lastTransmitMs = -Infinity;
    }
  }

  /**
   * cancelTurn drops what a turn of the daemon scheduled for later — walkEvents' yield, a transmit
   * timeout — for the warm-up, which goes on at once (a transmit scheduled as a microtask still runs).
   */
  private cancelTurn(): void {
    clearImmediate(this.walkResume);
    this.walkResume = undefined;
    clearTimeout(this.transmitTimer);
    this.transmitTimer = undefined;
    this.transmitScheduled = false;
  }

  /**
   * feedTurn feeds what is left of this turn's EventIterationLimit budget from datagram `from` on,
   * counts it in eventsHandled and returns the next datagram (walkEvents' turn).
   */
  private feedTurn(batch: Uint8Array, count: number, from: number, now: number): number {
    const w = this.feedEvents(batch, count, from, this.cfg.general.eventIterationLimit - this.eventsHandled, now);
    this.eventsHandled += w.events;
    return w.next;
  }

  /**
   * feedEvents feeds conntrack events of one wakeup's batch, from datagram `from` on, to the node's
   * replicator (the warm-up's while it runs: the same code), straight from the receive buffer,
   * stopping once `budget` events were handled.
   */
  private feedEvents(batch: Uint8Array, count: number, from: number, budget: number, now: number): { next: number; events: number } {
    const rep = this.replicator;
    const onMessage = (type: number, flags: number, pid: number, start: number, end: number): void => {
      const kind = ctEventKind(type, flags);
      if (kind === undefined) {
        if (this.expSync) this.onExpEvent(type, flags, pid, batch.slice(start, end), now);
        return;
      }
      this.counters.eventsReceived++;
      try {
        rep.onKernelMessage(kind, batch, start, end, this.origin(pid), now);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        this.counters.eventsMalformed++;
        this.log.log('error', `malformed conntrack event dropped: ${e.message}`);
      }
    };
    const w = walkEventBatch(batch, count, from, budget, onMessage);
    this.counters.eventsMalformed += w.malformed;
    return w;
  }

  /**
   * armPoll runs polling mode (PollSecs): every `sec` seconds the kernel table is dumped and
   * reconciled with the internal cache, as conntrackd's polling alarm does: every dumped entry is
   * update-or-created and queued (so each is sent again every period), entries no longer in the
   * kernel become DEL. Short-lived flows between two polls are never seen. With ExpectationSync
   * the expectation table is polled the same way, after the conntrack table (the masters), as the
   * manual describes (conntrackd 1.4.7 drops that dump's answer: see Replicator.resyncInternalExp).
   */
  private armPoll(sec: number): void {
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      if (this.stopped) return;
      void this.dumpBoth()
        .then(
          ([dump, exps]) => {
            if (this.stopped) return;
            const now = Date.now();
            this.replicator.resyncInternal(dump, now);
            if (exps !== undefined) this.replicator.resyncInternalExp(exps, now);
            this.counters.polls++;
            this.reportRefusals();
            this.scheduleTransmit();
          },
          (e: unknown) => {
            if (!this.stopped) this.log.log('error', `polling the kernel table failed: ${String(e)}`);
          },
        )
        .finally(() => {
          if (!this.stopped) this.armPoll(sec);
        });
    }, sec * 1000);
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
    const events = this.events!; // overruns come from the event socket
    const now = events.rcvbuf();
    if (max !== undefined && now < max) {
      events.setRcvbuf(Math.min(2 * now, max));
      this.log.log('notice', `netlink event socket buffer size has been set to ${events.rcvbuf()} bytes`);
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

  // --- Expectation sync (ExpectationSync; engine/exp-cache.ts) -------------------------------

  /** expSync: ExpectationSync is on (expectation events, dumps and commits). */
  private get expSync(): boolean {
    return this.sync.expectationSync.enabled;
  }
  /** The socket expectation commits go through: the events they cause are ours ('commit'), not sent back. */
  private expCommitClient: ConntrackClient | undefined;

  /** flushKernelExpectations empties the kernel's expectation table (`-F expect`); the DESTROY events it causes are not sent. */
  async flushKernelExpectations(): Promise<void> {
    if (this.expSync) await this.requests.flushExpectations();
  }

  /** onExpEvent feeds one expectation event (an NFNLGRP_CONNTRACK_EXP_* message) to the replicator. */
  private onExpEvent(type: number, flags: number, pid: number, payload: Uint8Array, now: number): void {
    if (nfSubsys(type) !== NFNL_SUBSYS.CTNETLINK_EXP) return;
    this.counters.eventsReceived++;
    try {
      const ev = decodeExpEvent({ type, flags, seq: 0, pid, payload });
      this.replicator.onKernelExp(ev.kind, ev.exp, this.origin(pid), now);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.counters.eventsMalformed++;
      this.log.log('error', `malformed expectation event dropped: ${e.message}`);
    }
  }

  /** populateExpectations update-or-creates the internal expectation cache from a kernel dump (start-up, -R, after a commit). */
  private async populateExpectations(): Promise<number> {
    return this.replicator.populateExp(await this.dumpExpectations(), Date.now());
  }

  /** dumpBoth reads the conntrack table, then (ExpectationSync) the expectation table: one request at a time on the socket. */
  private async dumpBoth(): Promise<[Uint8Array[], Expectation[] | undefined]> {
    const dump = await this.dumpKernel();
    return [dump, this.expSync && !this.stopped ? await this.dumpExpectations() : undefined];
  }

  /** dumpExpectations reads the kernel's expectation table. */
  private async dumpExpectations(): Promise<Expectation[]> {
    const all: Expectation[] = [];
    for await (const b of this.requests.dumpExpectations()) all.push(...b);
    return all;
  }

  /**
   * commitExpectations creates the external expectations in the kernel after the conntrack
   * entries (their masters), as cache_exp_commit: the timeout is CommitTimeout or the received one
   * less the time since; EEXIST → delete and create once more.
   */
  async commitExpectations(): Promise<{ committed: number; failed: number }> {
    if (!this.expSync) return { committed: 0, failed: 0 };
    const t0 = Date.now();
    this.log.log('notice', 'committing expectation cache');
    const client = (this.expCommitClient ??= ConntrackClient.open(this.requests.opts));
    const reqs = [...this.replicator.externalExp.values()].map((x) => expCommitRequest(x, t0, this.sync.commitTimeoutSec));
    let failed = 0;
    const results = await client.createExpectations(reqs);
    const retry: Expectation[] = [];
    results.forEach((r, i) => {
      if (r.ok) return;
      if (r.error.code === 'EEXIST') retry.push(reqs[i]!);
      else {
        failed++;
        this.log.log('error', `commit-create: ${r.error.message}`);
      }
    });
    if (retry.length > 0) {
      const deleted = await client.deleteExpectations(retry);
      const again: Expectation[] = [];
      deleted.forEach((r, i) => {
        if (r.ok || r.error.code === 'ENOENT') again.push(retry[i]!);
        else {
          failed++;
          this.log.log('error', `commit-destroy: ${r.error.message}`);
        }
      });
      for (const r of await client.createExpectations(again)) {
        if (r.ok) continue;
        failed++;
        this.log.log('error', `commit-create: ${r.error.message}`);
      }
    }
    const committed = reqs.length - failed;
    this.log.log('notice', `Committed ${committed} new expectations`);
    if (failed > 0) this.log.log('notice', `${failed} expectations can't be committed`);
    this.log.log('notice', `commit has taken ${((Date.now() - t0) / 1000).toFixed(6)} seconds`);
    return { committed, failed };
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
    const since = performance.now() - this.lastTransmitHr;
    // A promise reaction, not queueMicrotask: node's queueMicrotask makes an AsyncResource and a
    // bound function per call, a tenth of an idle event's path in the idle-latency profile.
    if (since >= TRANSMIT_COALESCE_MS || this.replicator.protocol.queued >= TRANSMIT_FULL) void RESOLVED.then(this.runTransmit);
    else this.transmitTimer = setTimeout(this.runTransmit, TRANSMIT_COALESCE_MS - since);
  }
  /** scheduleTransmit's last timeout (the warm-up cancels it: it transmits at once). */
  private transmitTimer: NodeJS.Timeout | undefined;
  private readonly runTransmit = (): void => {
    this.transmitScheduled = false;
    if (this.stopped) return;
    // Only a pass that sent something counts: the alive timer fires one second after the last
    // one, and a peer's ALIVE or ACK (which wakes this with nothing to send) must not postpone
    // it — the ALIVE is how a peer learns that the tail of a burst was lost.
    if (this.replicator.transmit() > 0) {
      this.lastTransmitHr = performance.now();
      this.lastTransmitMs = Date.now();
    }
  };
  private lastTransmitHr = -Infinity;

  /** armAlarmTick runs ALARM's clock: refresh timers and external-cache expiry (Replicator.onAlarmTick). */
  private armAlarmTick(): void {
    this.alarmTick = setInterval(() => {
      if (this.stopped) return;
      if (this.replicator.onAlarmTick(Date.now()) > 0) this.scheduleTransmit();
    }, ALARM_TICK_MS);
  }
  private alarmTick: NodeJS.Timeout | undefined;

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

/** ALARM_TICK_MS is how often ALARM's timers are looked at (their slots are 200 ms, alarm.ts). */
const ALARM_TICK_MS = 200;

/** EXP_GROUPS are the expectation event groups conntrackd joins with ExpectationSync on. */
const EXP_GROUPS: readonly EventGroup[] = ['exp-new', 'exp-update', 'exp-destroy'];

/** expectationSettings maps ExpectationSync to the replicator's setting (undefined: off). */
function expectationSettings(sync: SyncConfig): ExpSettings | undefined {
  const x = sync.expectationSync;
  return x.enabled ? { helpers: x.helpers } : undefined;
}

/** receivedSince yields the external cache's records (offsets into `arena`) received at or after `sinceMs`. */
function* receivedSince(arena: RecordArena, records: Iterable<number>, sinceMs: number): Generator<number> {
  for (const at of records) if (arena.stampOf(at) >= sinceMs) yield at;
}
