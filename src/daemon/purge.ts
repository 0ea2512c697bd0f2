import type { Logger } from './log.js';

/**
 * KernelPurge is what conntrackd 1.4.7 does to the kernel's conntrack table on request: `-F` flushes
 * it at once; `-t` (RESET_TIMERS, "reset the kernel timeout" in the usage text, but no timeout is
 * changed) arms a one-shot alarm of PurgeTimeout seconds after which the table is flushed and the
 * internal cache emptied. primary-backup.sh sends `-t` when a node becomes backup or faulty: after
 * the delay, the entries it still holds from its time as primary (the new primary owns them now)
 * are gone.
 *
 * conntrackd's rules, kept here:
 * - `-t` while the alarm is armed does nothing (the first delay stands, nothing is logged);
 * - flushing the caches (`-f`, `-f internal`) disarms it; `-f external`, `-c`, `-R`, `-B`, `-n`
 *   do not (a node becoming primary runs `-c` then `-f`, so its commit is not purged later);
 * - shutting down disarms it;
 * - both kinds of flush count in `-s runtime`'s "flush kernel table"; with ExpectationSync on, `-F`
 *   also flushes the expectation table (`nowExpectations`), which counts once more.
 *
 * conntrackd's flush is "selective": it dumps the table and deletes the entries its userspace
 * Filter accepts, so entries the Filter excludes survive. keepstated refuses a Filter at start, so
 * every entry is deleted and `flushKernel` may empty the table in one request. The flush runs
 * through the node's flush socket, whose DESTROY events are not replicated.
 */
export interface PurgeTarget {
  /** flushKernel empties the kernel's conntrack table. */
  flushKernel(): Promise<void>;
  /** flushInternalCache forgets the internal cache without telling the peer. */
  flushInternalCache(): void;
  /** flushKernelExpectations empties the kernel's expectation table (ExpectationSync on; else nothing to do). */
  flushKernelExpectations?(): Promise<void>;
}

export class KernelPurge {
  private timer: NodeJS.Timeout | undefined;
  /** flushes counts kernel flushes started (scheduled or not): `-s runtime`'s "flush kernel table". */
  flushes = 0;

  constructor(
    private readonly purgeTimeoutSec: number,
    private readonly target: PurgeTarget,
    private readonly log: Logger,
  ) {}

  /** pending says whether a `-t` flush is armed. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /** schedule is `-t`: arm the flush in PurgeTimeout seconds unless it is armed already. */
  schedule(): void {
    if (this.timer !== undefined) return;
    this.log.log('notice', `flushing conntrack table in ${this.purgeTimeoutSec} secs`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.log.log('notice', 'flushing kernel conntrack table (scheduled)');
      this.flushKernel();
      this.target.flushInternalCache();
    }, this.purgeTimeoutSec * 1000);
  }

  /** cancel disarms a scheduled flush (cache flushes, shutdown); nothing happens if none is armed. */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * now is `-F`: flush the kernel table at once. conntrackd answers before its forked flush ends;
   * keepstated answers once the table is empty (a script's next command sees it so).
   */
  async now(): Promise<void> {
    this.log.log('notice', 'flushing kernel conntrack table');
    this.flushes++;
    await this.target.flushKernel();
  }

  /**
   * nowExpectations is `-F expect`, and the second half of a plain `-F` with ExpectationSync on:
   * conntrackd flushes the kernel's expectation table too, and counts it as one more kernel flush.
   */
  async nowExpectations(): Promise<void> {
    if (this.target.flushKernelExpectations === undefined) return;
    this.log.log('notice', 'flushing kernel expect table');
    this.flushes++;
    await this.target.flushKernelExpectations();
  }

  private flushKernel(): void {
    this.flushes++;
    this.target.flushKernel().catch((e: unknown) => this.log.log('error', `scheduled flush of the kernel conntrack table failed: ${e instanceof Error ? e.message : String(e)}`));
  }
}
