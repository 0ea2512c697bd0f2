/**
 * SyncCompleteness says whether this node's copy of the replicated state can be trusted for a
 * takeover — the input of sync-aware election (DESIGN.md decision 5; pfsync's demotion counter does
 * the same for CARP). It is incomplete:
 *
 *   startup  from a resync request (at start, and when the node leaves MASTER or FAULT) until the
 *            peer has sent everything it had (the Replicator's 'idle': see its caughtUp);
 *   gap      from a sequence gap (the NACK went out) until the peer has resent what was lost;
 *   link     while the peer has been silent for longer than `linkDownMs` (it sends an ALIVE every
 *            second when idle): the state held stops at the moment the link went away.
 * A settled master is complete: its own table is the reference. Settled means master for at least
 * `masterSettleMs` (a few advert intervals): a node that wins an election with a demoted priority
 * because it has not heard the master yet (back from FAULT, links just up) loses the split brain
 * that follows, and that moment of mastership must not restore its priority (the bench saw it
 * preempt the real master with a stale table right after).
 *
 * After `timeoutMs` of uninterrupted incompleteness the node stops holding back (a standby that
 * cannot get complete must still be electable by priority). Pure: the caller passes the time.
 */

export type IncompleteReason = 'startup' | 'gap' | 'link';

/** CompletenessView is the state at one instant, for the election and for `keepstate status`. */
export interface CompletenessView {
  readonly complete: boolean;
  /** Why not, when not complete (also kept once timed out). */
  readonly reason?: IncompleteReason;
  readonly detail?: string;
  /** Since when (ms) the state has been incomplete. */
  readonly sinceMs?: number;
  /** How long the demotion may still last (ms); 0 once timed out. */
  readonly remainingMs?: number;
  /** True when complete because this node is a settled master (its own table is the reference). */
  readonly asMaster?: boolean;
  /** True when incomplete but no longer demoted: the timeout expired. */
  readonly timedOut: boolean;
  /** When the peer was last heard (ms), if ever. */
  readonly lastHeardMs?: number;
}

export interface CompletenessOptions {
  readonly timeoutMs: number;
  readonly linkDownMs: number;
  /** How long a mastership must have lasted before it makes the table the reference (ms; default 0). */
  readonly masterSettleMs?: number;
}

const DETAIL: Readonly<Record<IncompleteReason, string>> = {
  startup: 'start-up bulk sync not finished',
  gap: 'unrecovered FTFW gap',
  link: 'sync link down',
};

export class SyncCompleteness {
  private pending: 'startup' | 'gap' | undefined;
  private pendingSince = 0;
  private lastHeard: number | undefined;
  private incompleteSince: number | undefined;

  constructor(private readonly opts: CompletenessOptions) {}

  /** start marks the state incomplete until the peer's answer to our resync request is in. */
  start(nowMs: number): void {
    this.pending = 'startup';
    this.pendingSince = nowMs;
  }

  /** onHeard: a datagram from the peer arrived. */
  onHeard(nowMs: number): void {
    this.lastHeard = nowMs;
  }

  /** onGap: a message arrived after a sequence gap (a NACK went out). */
  onGap(nowMs: number): void {
    if (this.pending === undefined) {
      this.pending = 'gap';
      this.pendingSince = nowMs;
    }
  }

  /** onIdle: an ALIVE arrived in sequence — the peer has nothing left to send us. */
  onIdle(): void {
    this.pending = undefined;
  }

  /**
   * view is the state now; `masterSinceMs` is when this node became master of an instance (none:
   * it is not master). A settled master's own table is the reference: it is complete, and its
   * mastership ends any incomplete spell (the timeout of the next one runs from its own start, not
   * from before the mastership). An unsettled master is judged like a backup.
   */
  view(nowMs: number, masterSinceMs?: number): CompletenessView {
    const heardMs = this.lastHeard !== undefined ? { lastHeardMs: this.lastHeard } : {};
    if (masterSinceMs !== undefined && nowMs - masterSinceMs >= (this.opts.masterSettleMs ?? 0)) {
      this.incompleteSince = undefined;
      return { complete: true, asMaster: true, timedOut: false, ...heardMs };
    }
    let reason: IncompleteReason | undefined = this.pending;
    let since = this.pendingSince;
    const silentSince = this.lastHeard ?? this.pendingSince;
    if (reason === undefined && nowMs - silentSince > this.opts.linkDownMs) {
      reason = 'link';
      since = silentSince;
    }
    if (reason === undefined) {
      this.incompleteSince = undefined;
      return { complete: true, timedOut: false, ...heardMs };
    }
    // The timeout runs from the start of an uninterrupted incomplete spell, whatever its reasons.
    this.incompleteSince ??= since;
    const remainingMs = Math.max(0, this.incompleteSince + this.opts.timeoutMs - nowMs);
    return { complete: false, reason, detail: DETAIL[reason], sinceMs: this.incompleteSince, remainingMs, timedOut: remainingMs === 0, ...heardMs };
  }
}

/** demotionReason is the text the failover manager shows, or undefined when no demotion applies. */
export function demotionReason(v: CompletenessView): string | undefined {
  if (v.complete || v.timedOut) return undefined;
  return `sync incomplete: ${v.detail ?? v.reason ?? ''}`;
}
