import type { InstanceView, StatusReport } from '../src/control/status.js';
import type { RoundResult } from './takeover.js';

/**
 * The demo's report lines (lab/demo.ts): pure functions of what was measured — a round's
 * RoundResult and the daemons' `keepstate status --json` replies — so that every number printed
 * is one the harness or a daemon measured.
 */

const STEP_NAMES: Readonly<Record<string, string>> = {
  'state-ready': 'state in kernel',
  'vips-added': 'VIPs added',
  announced: 'GARP sent',
  'vips-removed': 'VIPs removed',
  'state-released': 'state released',
};

const ms = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(1)} ms`;

/**
 * instanceTimeline is one instance's steps since `sinceMs` (wall clock), a line per transition with
 * the steps that followed it, each in ms after the event: a transition's time is the daemon's wall
 * clock when it recorded it, and the steps after it are placed by their monotonic µs distance
 * from that transition.
 */
export function instanceTimeline(i: InstanceView, sinceMs: number): string[] {
  const lines: string[][] = [];
  let base: { atMs: number; atUs: number } | undefined;
  for (const t of i.timeline) {
    if (t.atMs < sinceMs) continue;
    const e = t.entry;
    if (e.step === 'transition' || base === undefined) {
      base = { atMs: t.atMs, atUs: e.atUs };
      lines.push([]);
    }
    const at = base.atMs - sinceMs + (e.atUs - base.atUs) / 1000;
    const part =
      e.step === 'transition'
        ? `${(e.from ?? '?').toUpperCase()}→${(e.to ?? '?').toUpperCase()} (${e.reason ?? '?'}) ${ms(at)}`
        : e.step === 'failed'
          ? `${e.what ?? '?'} FAILED (${e.message ?? ''}) ${ms(at)}`
          : `${STEP_NAMES[e.step] ?? e.step} ${ms(at)}`;
    lines[lines.length - 1]!.push(part);
  }
  return lines.map((l) => l.join(' · '));
}

/** timelineLines are every instance's steps of every firewall since the event; a firewall without status says why. */
export function timelineLines(statuses: ReadonlyMap<string, StatusReport | string>, sinceMs: number): string[] {
  const out: string[] = [];
  for (const [node, s] of statuses) {
    if (typeof s === 'string') {
      out.push(`${node}  (${s})`);
      continue;
    }
    const rows = (s.instances ?? []).flatMap((i) => instanceTimeline(i, sinceMs).map((l, k) => `${(k === 0 ? i.name : '').padEnd(7)} ${l}`));
    if (rows.length === 0) out.push(`${node}  no transition (${(s.instances ?? []).map((i) => `${i.name} ${i.role.toUpperCase()}`).join(', ')})`);
    for (const [k, l] of rows.entries()) out.push(`${k === 0 ? node : ' '.repeat(node.length)}  ${l}`);
  }
  return out;
}

/** median of sorted values (undefined when empty). */
function median(f: readonly number[]): number | undefined {
  if (f.length === 0) return undefined;
  return f.length % 2 === 1 ? f[(f.length - 1) / 2]! : (f[f.length / 2 - 1]! + f[f.length / 2]!) / 2;
}

/** firstPacket is "median X ms, max Y ms (n of m connections)" of a round's first echoes. */
export function firstPacket(r: RoundResult): string {
  const f = r.firstMs;
  const med = median(f);
  if (med === undefined) return 'none of the sending connections echoed';
  return `median ${med.toFixed(0)} ms, max ${f[f.length - 1]!.toFixed(0)} ms (min ${f[0]!.toFixed(0)} ms; ${f.length} of ${r.sending} sending connections)`;
}

/** survived tells whether a round kept every connection it started with, without a reset or error. */
export function survived(r: RoundResult): boolean {
  return r.idleAlive === r.idle && r.sendingAlive === r.sending && r.resets === 0 && r.failures.length === 0;
}

const pct = (a: number, b: number): string => (b === 0 ? '—' : `${((100 * a) / b).toFixed(a === b ? 0 : 1)} %`);

/**
 * roundLines is a round's report: alive before/after, resets, first packet after a failure (in a
 * failback the old master forwards until it hands over, so there the longest wait for an echo is
 * what tells the interruption), longest gap, VIPs.
 */
export function roundLines(r: RoundResult, failure: boolean): string[] {
  const before = r.idle + r.sending;
  const after = r.idleAlive + r.sendingAlive;
  return [
    `connections alive   before ${before}, after ${after} (${pct(after, before)}): idle ${r.idleAlive}/${r.idle}, sending ${r.sendingAlive}/${r.sending}`,
    `resets              ${r.resets}   (other errors or closes: ${r.failures.length - r.resets}; out-of-order lines: ${r.bad})`,
    ...(failure ? [`first packet after  ${firstPacket(r)}`] : []),
    `longest echo wait   ${r.maxGapMs.toFixed(0)} ms on a sending connection`,
    `VIPs moved          ${r.vipsMovedMs !== undefined ? `${r.vipsMovedMs} ms after the event (polled every 20 ms)` : 'NOT within the hang guard'}`,
  ];
}

/** stepTimes lists when `step` happened on any instance of `s` since `sinceMs`, in ms after it. */
export function stepTimes(s: StatusReport | string | undefined, step: string, sinceMs: number): number[] {
  if (s === undefined || typeof s === 'string') return [];
  const out: number[] = [];
  for (const i of s.instances ?? []) {
    let base: { atMs: number; atUs: number } | undefined;
    for (const t of i.timeline) {
      if (t.atMs < sinceMs) continue;
      if (t.entry.step === 'transition' || base === undefined) base = { atMs: t.atMs, atUs: t.entry.atUs };
      if (t.entry.step === step) out.push(base.atMs - sinceMs + (t.entry.atUs - base.atUs) / 1000);
    }
  }
  return out;
}

/** summaryRow is one row of the final table: label, alive, resets, first packet median / max (failures), longest echo wait. */
export function summaryRow(label: string, r: RoundResult, failure: boolean): string {
  const before = r.idle + r.sending;
  const after = r.idleAlive + r.sendingAlive;
  const f = r.firstMs;
  const med = median(f);
  const first = !failure ? '— (failback)' : med === undefined ? 'none' : `${med.toFixed(0)} / ${f[f.length - 1]!.toFixed(0)} ms`;
  return `${label.padEnd(24)} ${`${after}/${before}`.padStart(11)} ${pct(after, before).padStart(7)} ${String(r.resets).padStart(7)}   ${first.padEnd(18)} ${`${r.maxGapMs.toFixed(0)} ms`.padStart(9)}`;
}

/** SUMMARY_HEAD is the header of the summary table (columns of summaryRow). */
export const SUMMARY_HEAD = `${'round'.padEnd(24)} ${'alive'.padStart(11)} ${''.padStart(7)} ${'resets'.padStart(7)}   ${'first packet med/max'.padEnd(18)} ${'max wait'.padStart(9)}`;
