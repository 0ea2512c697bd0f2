import type { Diagnostics, SourceLoc } from '../error.js';
import type { Statement } from './parser.js';
import { notifyScript, trackInterfaces, trackScripts } from './tracking.js';
import type { Notifies, ScriptCommand, SyncGroup, TrackedInterface, TrackedScript, VrrpScript } from './types.js';
import { MICRO, intArg, optionalBool, registerTable, runTable, scriptArg, setOnce, unsignedArg, word, type Rule, type Table } from './values.js';

/**
 * vrrp_sync_group and vrrp_script (keepalived 2.2.7 vrrp_parser.c). Group members are resolved against
 * the instances in schema.ts, once the whole file is read (keepalived does the same at the end).
 */

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** GroupBuilder collects one vrrp_sync_group. */
export interface GroupBuilder {
  name: string;
  loc: SourceLoc;
  seen: Map<string, SourceLoc>;
  members: { name: string; loc: SourceLoc }[];
  groupLoc?: SourceLoc;
  trackInterfaces: TrackedInterface[];
  trackScripts: TrackedScript[];
  notify: Mutable<Notifies>;
  notifyPriorityChanges?: boolean;
  trackingWeight: boolean;
}

const notify = (key: keyof Notifies): Rule<GroupBuilder> => ({ kind: 'set', args: [1, Infinity], run: (s, b, d) => notifyScript(s, d, b.notify, key) });

/** GROUP_TABLE is what each vrrp_sync_group keyword means to keepstate. */
export const GROUP_TABLE: Table<GroupBuilder> = {
  group: {
    kind: 'set',
    block: 'required',
    args: [0, 0],
    run: (s, b, d) => {
      if (b.groupLoc !== undefined) d.warn(s.keyword.loc, 'CFG_DUPLICATE', `group given again (first at line ${b.groupLoc.line}); members are added`);
      b.groupLoc ??= s.keyword.loc;
      for (const e of s.block?.statements ?? []) {
        // keepalived reads the block as a list of words: several names may share a line.
        for (const w of [e.keyword, ...e.args]) {
          if (b.members.some((m) => m.name === w.text)) d.error(w.loc, 'CFG_DUPLICATE', `(${b.name}) ${w.text} is listed twice`);
          else b.members.push({ name: w.text, loc: w.loc });
        }
        if (e.block !== undefined) d.error(e.block.loc, 'CFG_SYNTAX', "a group member takes no '{ }' block");
      }
    },
  },
  track_interface: { kind: 'set', block: 'required', args: [0, 0], run: (s, b, d) => trackInterfaces(s, d, b.trackInterfaces) },
  track_script: { kind: 'set', block: 'required', args: [0, 0], run: (s, b, d) => trackScripts(s, d, b.trackScripts) },
  notify_master: notify('master'),
  notify_backup: notify('backup'),
  notify_fault: notify('fault'),
  notify_stop: notify('stop'),
  notify: notify('generic'),
  notify_priority_changes: {
    kind: 'set',
    args: [0, 1],
    run: (s, b, d) => {
      const v = optionalBool(s, d);
      if (v !== undefined) b.notifyPriorityChanges = v;
    },
  },
  sync_group_tracking_weight: { kind: 'set', args: [0, 0], run: (_s, b) => (b.trackingWeight = true) },
  smtp_alert: { kind: 'ignore', why: 'e-mail alerts: keepstate sends none' },
  global_tracking: { kind: 'unsupported', why: "deprecated since keepalived 2.0; use sync_group_tracking_weight" },
  track_file: { kind: 'unsupported', why: 'tracking files' },
  track_process: { kind: 'unsupported', why: 'tracking processes' },
  track_bfd: { kind: 'unsupported', why: 'tracking BFD sessions' },
};
registerTable('vrrp_sync_group', GROUP_TABLE);

/** buildGroup reads `vrrp_sync_group NAME { … }` (members are checked later). */
export function buildGroup(s: Statement, name: string, d: Diagnostics): GroupBuilder {
  const b: GroupBuilder = { name, loc: s.keyword.loc, seen: new Map(), members: [], trackInterfaces: [], trackScripts: [], notify: {}, trackingWeight: false };
  runTable('vrrp_sync_group', s.block?.statements ?? [], GROUP_TABLE, b, d);
  if (b.members.length === 0) d.error(b.loc, 'CFG_MISSING', `(${name}) sync group has no group { } of vrrp_instance names`);
  return b;
}

/** finishGroup turns a builder into a SyncGroup. */
export function finishGroup(b: GroupBuilder): SyncGroup {
  return {
    name: b.name,
    loc: b.loc,
    instances: b.members.map((m) => m.name),
    trackInterfaces: b.trackInterfaces,
    trackScripts: b.trackScripts,
    notify: b.notify,
    trackingWeight: b.trackingWeight,
    ...(b.notifyPriorityChanges === undefined ? {} : { notifyPriorityChanges: b.notifyPriorityChanges }),
  };
}

interface ScriptBuilder {
  name: string;
  seen: Map<string, SourceLoc>;
  command?: ScriptCommand;
  intervalUs: number;
  timeoutUs?: number;
  weight: number;
  reverse: boolean;
  rise: number;
  fall: number;
  initFail: boolean;
  user?: string;
  group?: string;
}

const scriptSet = (run: (s: Statement, b: ScriptBuilder, d: Diagnostics) => void, args: readonly [number, number] = [1, 1]): Rule<ScriptBuilder> => ({
  kind: 'set',
  args,
  run: (s, b, d) => {
    setOnce(b.seen, s, d);
    run(s, b, d);
  },
});

/** SCRIPT_TABLE is what each vrrp_script keyword means (2.2.7: interval and timeout are whole seconds). */
export const SCRIPT_TABLE: Table<ScriptBuilder> = {
  script: scriptSet((s, b, d) => {
    const c = scriptArg(s, d, false);
    if (c !== undefined) b.command = c;
  }, [1, Infinity]),
  interval: scriptSet((s, b, d) => {
    const v = unsignedArg(s, d, 1, 4294);
    if (v !== undefined) b.intervalUs = v * MICRO;
  }),
  timeout: scriptSet((s, b, d) => {
    const v = unsignedArg(s, d, 1, 4294);
    if (v !== undefined) b.timeoutUs = v * MICRO;
  }),
  weight: scriptSet((s, b, d) => {
    const v = intArg(s, d, -253, 253);
    if (v !== undefined) b.weight = v;
    const r = s.args[1];
    if (r === undefined) return;
    if (r.text === 'reverse') b.reverse = true;
    else d.error(r.loc, 'CFG_SYNTAX', `weight: unexpected '${r.text}' (only 'reverse' may follow the weight)`);
  }, [1, 2]),
  rise: scriptSet((s, b, d) => {
    const v = unsignedArg(s, d, 1, 2147483647);
    if (v !== undefined) b.rise = v;
  }),
  fall: scriptSet((s, b, d) => {
    const v = unsignedArg(s, d, 1, 2147483647);
    if (v !== undefined) b.fall = v;
  }),
  user: scriptSet((s, b) => {
    b.user = word(s).text;
    if (s.args[1] !== undefined) b.group = s.args[1].text;
  }, [1, 2]),
  init_fail: scriptSet((_s, b) => (b.initFail = true), [0, 0]),
};
registerTable('vrrp_script', SCRIPT_TABLE);

/** buildScript reads `vrrp_script NAME { … }`; undefined when it has no usable script line. */
export function buildScript(s: Statement, name: string, d: Diagnostics): VrrpScript | undefined {
  const b: ScriptBuilder = { name, seen: new Map(), intervalUs: MICRO, weight: 0, reverse: false, rise: 1, fall: 1, initFail: false };
  const before = d.errors.length;
  runTable('vrrp_script', s.block?.statements ?? [], SCRIPT_TABLE, b, d);
  if (b.command === undefined) {
    if (!b.seen.has('script')) d.error(s.keyword.loc, 'CFG_MISSING', `(${name}) vrrp_script has no script line`);
    return undefined;
  }
  if (d.errors.length > before) return undefined;
  return {
    name,
    loc: s.keyword.loc,
    command: b.command,
    intervalUs: b.intervalUs,
    weight: b.weight,
    reverse: b.reverse,
    rise: b.rise,
    fall: b.fall,
    initFail: b.initFail,
    ...(b.timeoutUs === undefined ? {} : { timeoutUs: b.timeoutUs }),
    ...(b.user === undefined ? {} : { user: b.user }),
    ...(b.group === undefined ? {} : { group: b.group }),
  };
}
