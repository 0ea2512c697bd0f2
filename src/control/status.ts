/**
 * `keepstate status`: what the daemon reports (KS_CTL.STATUS, always JSON on the wire) and its text
 * rendering. The failover part is the failover manager's InstanceStatus (src/failover/manager.ts),
 * described here by the fields the text uses, so that this module stays below the daemon.
 */

/** SyncStatus is the sync engine's part: completeness (sync-aware election), queues, caches. */
export interface SyncStatus {
  readonly mode: string;
  readonly complete: boolean;
  readonly reason?: string;
  readonly detail?: string;
  readonly sinceMs?: number;
  readonly remainingMs?: number;
  readonly timedOut: boolean;
  readonly lastHeardMs?: number;
  readonly queued: number;
  readonly awaitingAck: number;
  /** lag: FTFW's wait for the peer's ACKs (engine/replicator.ts ReplicationLag). */
  readonly lag?: { readonly oldestUnackedMs?: number; readonly lastAckRttMs?: number };
  readonly internal: number;
  readonly external: number;
}

/** TimelineView is one step of an instance's timeline (failover/router.ts TimelineEntry). */
export interface TimelineView {
  readonly atMs: number;
  readonly entry: { readonly step: string; readonly from?: string; readonly to?: string; readonly reason?: string; readonly what?: string; readonly message?: string; readonly atUs: number };
}

export interface InstanceView {
  readonly name: string;
  readonly interface: string;
  readonly family: string;
  readonly version: number;
  readonly vrid: number;
  readonly role: string;
  readonly priority: { readonly configured: number; readonly effective: number; readonly why?: string };
  readonly master?: { readonly address: string; readonly priority: number };
  /** peers: every other router heard on the VRID, most recent first (failover/manager.ts PeerSeen). */
  readonly peers?: readonly { readonly address: string; readonly priority: number; readonly advertIntUs: number; readonly adverts: number; readonly lastHeardMs: number; readonly maxGapMs?: number }[];
  readonly syncGroup?: string;
  readonly timeline: readonly TimelineView[];
  readonly adverts: { readonly sent: number; readonly maxSendGapMs?: number; readonly received: number; readonly discarded: Readonly<Record<string, number>> };
  readonly splitBrain?: { readonly count: number; readonly active?: boolean; readonly lastPeer?: string; readonly lastAtMs?: number };
}

export interface StatusReport {
  readonly pid: number;
  readonly uptimeSec: number;
  readonly nowMs: number;
  readonly sync: SyncStatus;
  /** Absent when keepstated runs without --keepalived. */
  readonly instances?: readonly InstanceView[];
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const ms = (n: number): string => (n < 10_000 ? `${Math.round(n)} ms` : secs(n));

function syncLines(s: SyncStatus, nowMs: number): string[] {
  const heard = s.lastHeardMs !== undefined ? `peer last heard ${secs(nowMs - s.lastHeardMs)} ago` : 'peer never heard';
  const state = s.complete
    ? `complete (${heard})`
    : `INCOMPLETE: ${s.detail ?? s.reason ?? '?'} for ${secs(nowMs - (s.sinceMs ?? nowMs))}; ${s.timedOut ? 'timeout expired, priority no longer demoted' : `priority demoted for at most ${secs(s.remainingMs ?? 0)} more`} (${heard})`;
  const lines = [`sync (${s.mode}): ${state}`, `  queues: ${s.queued} to send, ${s.awaitingAck} awaiting ACK; caches: internal ${s.internal}, external ${s.external}`];
  const lag = s.lag;
  if (lag !== undefined && (lag.oldestUnackedMs !== undefined || lag.lastAckRttMs !== undefined)) {
    const parts = [
      lag.oldestUnackedMs !== undefined ? `oldest message unacknowledged for ${ms(lag.oldestUnackedMs)}` : 'every message acknowledged',
      ...(lag.lastAckRttMs !== undefined ? [`last ACK ${ms(lag.lastAckRttMs)} after sending`] : []),
    ];
    lines.push(`  replication lag: ${parts.join(', ')}`);
  }
  return lines;
}

function transitionLines(i: InstanceView): string[] {
  const out: string[] = [];
  let base: TimelineView | undefined;
  let steps: string[] = [];
  const flush = (): void => {
    if (base === undefined) return;
    const e = base.entry;
    out.push(`    ${new Date(base.atMs).toISOString()}  ${(e.from ?? '?').toUpperCase()} → ${(e.to ?? '?').toUpperCase()} (${e.reason ?? '?'})${steps.length > 0 ? `: ${steps.join(', ')}` : ''}`);
  };
  for (const t of i.timeline) {
    if (t.entry.step === 'transition') {
      flush();
      base = t;
      steps = [];
    } else if (base !== undefined) {
      const ms = ((t.entry.atUs - base.entry.atUs) / 1000).toFixed(1);
      steps.push(t.entry.step === 'failed' ? `${t.entry.what ?? '?'} FAILED (${t.entry.message ?? ''}) +${ms} ms` : `${t.entry.step} +${ms} ms`);
    }
  }
  flush();
  return out;
}

function instanceLines(i: InstanceView, nowMs: number): string[] {
  const prio = i.priority.effective === i.priority.configured ? `priority ${i.priority.effective}` : `priority ${i.priority.effective} (configured ${i.priority.configured}${i.priority.why !== undefined ? `; ${i.priority.why}` : ''})`;
  const lines = [`${i.name}: ${i.role.toUpperCase()}, ${prio} — ${i.interface} ${i.family === 'ipv6' ? 'IPv6' : 'IPv4'} VRRPv${i.version} VRID ${i.vrid}${i.syncGroup !== undefined ? `, sync group ${i.syncGroup}` : ''}`];
  if (i.master !== undefined) lines.push(`  master seen: ${i.master.address} priority ${i.master.priority}`);
  for (const p of i.peers ?? [])
    lines.push(`  peer ${p.address}: priority ${p.priority}, advert every ${ms(p.advertIntUs / 1000)}, ${p.adverts} adverts, last ${secs(nowMs - p.lastHeardMs)} ago${p.maxGapMs !== undefined ? `, longest gap ${p.maxGapMs.toFixed(1)} ms` : ''}`);
  const disc = Object.entries(i.adverts.discarded).filter(([, n]) => n > 0);
  lines.push(`  adverts: ${i.adverts.sent} sent${i.adverts.maxSendGapMs !== undefined && i.adverts.maxSendGapMs > 0 ? ` (longest gap as master ${i.adverts.maxSendGapMs.toFixed(1)} ms)` : ''}, ${i.adverts.received} received${disc.length > 0 ? `, discarded ${disc.map(([k, n]) => `${k} ${n}`).join(', ')}` : ''}`);
  const sb = i.splitBrain;
  if (sb !== undefined && sb.count > 0) lines.push(`  split brain: ${sb.active === true ? 'NOW' : 'seen'} ${sb.count}×${sb.lastPeer !== undefined ? `, last with ${sb.lastPeer}` : ''}${sb.lastAtMs !== undefined ? ` ${secs(nowMs - sb.lastAtMs)} ago` : ''}`);
  const tl = transitionLines(i);
  if (tl.length > 0) lines.push('  transitions:', ...tl);
  return lines;
}

/** formatStatus renders a StatusReport as the text `keepstate status` prints. */
export function formatStatus(r: StatusReport): string {
  const lines = [`keepstated pid ${r.pid}, up ${r.uptimeSec} s`, ...syncLines(r.sync, r.nowMs)];
  if (r.instances === undefined) lines.push('failover: not running (keepstated was started without --keepalived)');
  else for (const i of r.instances) lines.push('', ...instanceLines(i, r.nowMs));
  return `${lines.join('\n')}\n`;
}
