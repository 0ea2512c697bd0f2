import type { InjectStats } from '../control/stats.js';
import { BodyEntry } from '../engine/cache.js';
import { fastJob, planCommitRequests, tryWriteCommitRequest, type CommitJob } from '../engine/commit-bytes.js';
import type { CommitOptions } from '../engine/commit.js';
import { mergeCtBodies } from '../sync/ct-body.js';
import type { SyncOp } from '../sync/message.js';
import type { CommitFailure, Committer } from './committer.js';
import type { Logger } from './log.js';

/**
 * Injector is DisableExternalCache: what the peer sends goes straight into this node's kernel
 * instead of an external cache (conntrackd's external_inject.c), through the commit thread and
 * the commit's byte writers. A NEW or UPD becomes a create; when the entry exists (EEXIST) it is
 * updated in place, looked up by the reply tuple, which finds it only if its NAT binding is the
 * one received; otherwise (ENOENT) it is deleted and created once more. (conntrackd tries an
 * update with the NAT attributes for UPD, which the kernel refuses for a confirmed entry, so it
 * deletes and creates every existing entry: under traffic a packet between the two makes a new
 * entry with another NAT port.) A DEL becomes a delete; ENOENT is no failure. On a master
 * (keepExisting) an existing entry is kept as it is.
 *
 * Messages are batched per turn of the event loop, and while a batch is in the kernel the next
 * one gathers: the messages for one entry coalesce, the last one deciding (a NEW then a DEL is a
 * delete, a DEL then a NEW a create), so the kernel ends as the sequence would leave it with one
 * request per entry. Deletes go first, then entries without a master, then related ones.
 */
type Pending = { op: SyncOp; body: string; atMs: number };

export class Injector {
  private pending = new Map<string, Pending>();
  private scheduled = false;
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  readonly stats = { addOk: 0, addFail: 0, updOk: 0, updFail: 0, delOk: 0, delFail: 0 } satisfies InjectStats;
  /**
   * keepExisting: this node is master (set by the takeover once it claims): an entry its kernel
   * already has is the live one, and a NEW or UPD for it is left alone instead of deleted and
   * created again — between the delete and the create a packet of that connection would make a
   * fresh entry with a new NAT port (a reset), and the create would then fail. What a peer still
   * sends a master is older than what its kernel has: its resend queue, or its table.
   */
  keepExisting = false;
  /** kept counts the NEWs and UPDs left alone under keepExisting. */
  kept = 0;
  /** Existing entries changed in place (same NAT binding), and deleted and created again (another binding). */
  updatedInPlace = 0;
  recreated = 0;

  constructor(
    private readonly committer: Committer,
    private readonly log: Logger,
    private readonly opts: { readonly tcpWindowTracking: boolean },
  ) {}

  /** apply takes one data message the protocol delivered (its identity and validated body). */
  apply(op: SyncOp, key: string, body: string, nowMs: number): void {
    if (this.closed) return;
    const prev = this.pending.get(key);
    const merged = op === 'upd' && prev !== undefined && prev.op !== 'del' ? mergeCtBodies(prev.body, body) : body;
    // A NEW followed by an UPD is still counted as a creation.
    this.pending.set(key, { op: op === 'upd' && prev?.op === 'new' ? 'new' : op, body: merged, atMs: nowMs });
    this.schedule();
  }

  /** pendingCount is how many entries wait for the next batch. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** idle resolves once nothing is pending or in the kernel (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.running && !this.scheduled && this.pending.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * written resolves once everything applied so far is in the kernel: the batch in flight and the
   * one gathering now. Unlike idle it does not wait for what arrives later — a master that goes on
   * forwarding (a takeover holding its claim) keeps the injector busy for as long as it runs.
   */
  written(): Promise<void> {
    if (this.closed || (!this.running && !this.scheduled && this.pending.size === 0)) return Promise.resolve();
    const target = this.batchesStarted + (this.pending.size > 0 ? 1 : 0);
    if (this.batchesDone >= target) return Promise.resolve();
    return new Promise((r) => this.batchWaiters.push({ target, resolve: r }));
  }
  private batchesStarted = 0;
  private batchesDone = 0;
  private batchWaiters: { target: number; resolve: () => void }[] = [];

  private batchDone(): void {
    this.batchesDone++;
    const due = this.batchWaiters.filter((w) => w.target <= this.batchesDone);
    if (due.length === 0) return;
    this.batchWaiters = this.batchWaiters.filter((w) => w.target > this.batchesDone);
    for (const w of due) w.resolve();
  }

  /** close drops what is pending; a batch in the kernel finishes (or fails with the commit thread). */
  close(): void {
    this.closed = true;
    this.pending.clear();
    this.wakeIdle();
    if (!this.running) for (const w of this.batchWaiters.splice(0)) w.resolve();
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.size > 0 && !this.closed) {
        const batch = this.pending;
        this.pending = new Map();
        this.batchesStarted++;
        try {
          await this.runBatch(batch);
        } finally {
          this.batchDone();
        }
      }
    } catch (e) {
      if (!this.closed) this.log.log('error', `inject: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.running = false;
      this.wakeIdle();
      // Closed, or a batch failed and the loop ended: nobody waits for batches that will not come.
      if (this.pending.size === 0 || this.closed) for (const w of this.batchWaiters.splice(0)) w.resolve();
    }
  }

  private wakeIdle(): void {
    if (this.running || this.scheduled || (this.pending.size > 0 && !this.closed)) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  private async runBatch(batch: Map<string, Pending>): Promise<void> {
    const nowMs = Date.now();
    const opts: CommitOptions = { nowMs, tcpWindowTracking: this.opts.tcpWindowTracking };
    const dels: BodyEntry[] = [];
    const ups: BodyEntry[] = [];
    const upOps: SyncOp[] = [];
    for (const [key, p] of batch) {
      const e = new BodyEntry(key, p.body, p.atMs);
      if (p.op === 'del') dels.push(e);
      else {
        ups.push(e);
        upOps.push(p.op);
      }
    }
    // Deletes first: a create may reuse a deleted entry's tuple.
    if (dels.length > 0) {
      const jobs = this.plan(dels, opts);
      const failures = await this.committer.run('delete', jobs.map((j) => j.writeDelete));
      let failed = 0;
      let absent = 0;
      for (const f of failures) {
        if (f.code === 'ENOENT') absent++;
        else {
          failed++;
          this.log.log('error', `inject-del: ${f.message}`);
        }
      }
      this.stats.delOk += jobs.length - failed - absent;
      this.stats.delFail += failed + (dels.length - jobs.length);
    }
    if (ups.length === 0) return;
    // Bodies on the fast path are written as they are read and sent chunk by chunk (as the commit
    // does); the others go through the model afterwards, masters first.
    const fast = await this.committer.runEach('create', Array.from(ups.keys()), (w, i) => tryWriteCommitRequest(w, ups[i]!, opts));
    const rest = fast.declined.map((i) => ups[i]!);
    const opOf = new Map<BodyEntry, SyncOp>(fast.declined.map((i) => [ups[i]!, upOps[i]!]));
    const jobs = this.plan(rest, opts);
    if (jobs.length < rest.length) {
      const planned = new Set(jobs.map((j) => j.entry));
      for (const e of rest) if (!planned.has(e)) this.fail(opOf.get(e)!, 'malformed entry left out');
    }
    const pass1 = jobs.filter((j) => j.pass === 1);
    const pass2 = jobs.filter((j) => j.pass === 2);
    // Each pass: how many, the op and the job of request k (the job built only for a retry), its failures.
    const passes: { n: number; op: (k: number) => SyncOp; job: (k: number) => CommitJob<BodyEntry>; failures: () => Promise<readonly CommitFailure[]> }[] = [
      { n: fast.accepted.length, op: (k) => upOps[fast.accepted[k]!]!, job: (k) => fastJob(ups[fast.accepted[k]!]!, opts), failures: async () => fast.failures },
      ...[pass1, pass2].map((part) => ({
        n: part.length,
        op: (k: number) => opOf.get(part[k]!.entry)!,
        job: (k: number) => part[k]!,
        failures: () => this.committer.run('create', part.map((j) => j.write)),
      })),
    ];
    for (const pass of passes) {
      if (pass.n === 0) continue;
      const retry: number[] = [];
      const bad = new Set<number>();
      for (const f of await pass.failures()) {
        bad.add(f.i);
        if (f.code === 'EEXIST') retry.push(f.i);
        else this.fail(pass.op(f.i), f.message);
      }
      for (let k = 0; k < pass.n; k++) if (!bad.has(k)) this.ok(pass.op(k));
      if (retry.length === 0) continue;
      if (this.keepExisting) {
        this.kept += retry.length;
        continue;
      }
      // The entry exists: changed in place when its NAT binding is ours, else deleted and created again.
      const r = await this.committer.updateOrRecreate(retry.map((k) => pass.job(k)));
      for (const f of r.failures) this.fail(pass.op(retry[f.i]!), f.message);
      this.updatedInPlace += r.updated.length;
      this.recreated += r.recreated.length;
      for (const i of [...r.updated, ...r.recreated]) this.ok(pass.op(retry[i]!));
    }
  }

  /** plan is planCommitRequests, entry by entry when the batch holds one it cannot plan (it is left out). */
  private plan(entries: readonly BodyEntry[], opts: CommitOptions): CommitJob<BodyEntry>[] {
    try {
      return planCommitRequests(entries, opts);
    } catch {
      const out: CommitJob<BodyEntry>[] = [];
      for (const e of entries) {
        try {
          out.push(...planCommitRequests([e], opts));
        } catch (err) {
          this.log.log('error', `inject: entry left out: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return out.filter((j) => j.pass === 1).concat(out.filter((j) => j.pass === 2));
    }
  }

  private ok(op: SyncOp): void {
    if (op === 'new') this.stats.addOk++;
    else this.stats.updOk++;
  }

  private fail(op: SyncOp, message: string): void {
    if (op === 'new') {
      this.stats.addFail++;
      this.log.log('error', `inject-add: ${message}`);
    } else {
      this.stats.updFail++;
      this.log.log('error', `inject-upd: ${message}`);
    }
  }
}
