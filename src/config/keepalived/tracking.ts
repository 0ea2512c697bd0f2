import type { Diagnostics } from '../error.js';
import type { Statement } from './parser.js';
import type { Notifies, ScriptCommand, TrackedInterface, TrackedScript } from './types.js';
import { ifnameArg, scriptArg } from './values.js';

/**
 * The parts vrrp_instance and vrrp_sync_group share: track_interface / track_script entries
 * (`NAME [weight N] [reverse|noreverse]`, keepalived 2.2.7 vrrp_track.c) and the notify scripts.
 */

const WEIGHT_MAX = 253; // track_interface / track_script / track_bfd weights are -253..253

interface TrackEntry {
  readonly name: string;
  readonly weight?: number;
  readonly reverse?: boolean;
}

/** trackEntry reads one line of a track_interface or track_script block; undefined after an error. */
function trackEntry(s: Statement, d: Diagnostics, what: string): TrackEntry | undefined {
  if (s.block !== undefined) {
    d.error(s.block.loc, 'CFG_SYNTAX', `a ${what} entry takes no '{ }' block`);
    return undefined;
  }
  let weight: number | undefined;
  let reverse: boolean | undefined;
  const words = s.args;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.text === 'weight') {
      const v = words[i + 1];
      if (v === undefined || !/^[-+]?[0-9]+$/.test(v.text) || Math.abs(Number(v.text)) > WEIGHT_MAX) {
        d.error((v ?? w).loc, 'CFG_BAD_VALUE', `${what} ${s.keyword.text}: weight must be a number between -${WEIGHT_MAX} and ${WEIGHT_MAX}`);
        return undefined;
      }
      weight = Number(v.text);
      i++;
    } else if (w.text === 'reverse' || w.text === 'noreverse') reverse = w.text === 'reverse';
    else {
      d.error(w.loc, 'CFG_SYNTAX', `${what} ${s.keyword.text}: unexpected '${w.text}' (expected weight N, reverse or noreverse)`);
      return undefined;
    }
  }
  return { name: s.keyword.text, ...(weight === undefined ? {} : { weight }), ...(reverse === undefined ? {} : { reverse }) };
}

/** trackInterfaces reads a track_interface block. */
export function trackInterfaces(s: Statement, d: Diagnostics, out: TrackedInterface[]): void {
  for (const e of s.block?.statements ?? []) {
    const t = trackEntry(e, d, 'track_interface');
    if (t === undefined || ifnameArg(e, d, e.keyword) === undefined) continue;
    if (out.some((x) => x.name === t.name)) {
      d.error(e.keyword.loc, 'CFG_DUPLICATE', `track_interface ${t.name} is listed twice`);
      continue;
    }
    out.push({ name: t.name, reverse: t.reverse ?? false, loc: e.keyword.loc, ...(t.weight === undefined ? {} : { weight: t.weight }) });
  }
}

/** trackScripts reads a track_script block (script names are checked once every vrrp_script is known). */
export function trackScripts(s: Statement, d: Diagnostics, out: TrackedScript[]): void {
  for (const e of s.block?.statements ?? []) {
    const t = trackEntry(e, d, 'track_script');
    if (t === undefined) continue;
    if (out.some((x) => x.name === t.name)) {
      d.error(e.keyword.loc, 'CFG_DUPLICATE', `track_script ${t.name} is listed twice`);
      continue;
    }
    out.push({ name: t.name, loc: e.keyword.loc, ...(t.weight === undefined ? {} : { weight: t.weight }), ...(t.reverse === undefined ? {} : { reverse: t.reverse }) });
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** notifyScript sets one notify script; keepalived refuses a second one for the same event. */
export function notifyScript(s: Statement, d: Diagnostics, n: Mutable<Notifies>, key: keyof Notifies): void {
  const prev: ScriptCommand | undefined = n[key];
  if (prev !== undefined) {
    d.error(s.keyword.loc, 'CFG_DUPLICATE', `${s.keyword.text} already given at line ${prev.loc.line} (keepalived ignores the second one)`);
    return;
  }
  const c = scriptArg(s, d, true);
  if (c !== undefined) n[key] = c;
}
