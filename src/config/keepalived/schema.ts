import type { Diagnostics } from '../error.js';
import { buildGlobal } from './global.js';
import { buildGroup, buildScript, finishGroup, type GroupBuilder } from './groups.js';
import { INSTANCE_TABLE, completeInstance, newInstance, type InstanceBuilder } from './instance.js';
import type { Statement } from './parser.js';
import type { KeepalivedConfig, SyncGroup, VrrpInstance, VrrpScript } from './types.js';
import { registerTable, runTable, word, type Table } from './values.js';

/**
 * Schema: the statement tree → KeepalivedConfig. Top-level blocks are collected first (global_defs may
 * come anywhere and keepalived applies it to every instance), then instances are completed with the
 * global defaults, then names are resolved across blocks (sync group members, track_script names) and
 * the checks keepalived runs over all instances (duplicate VRIDs) are made.
 */

interface Top {
  globals: Statement[];
  instances: InstanceBuilder[];
  groups: GroupBuilder[];
  scripts: VrrpScript[];
  scriptNames: Set<string>; // every vrrp_script name, including ones with errors
}

const named = (run: (s: Statement, name: string, top: Top, d: Diagnostics) => void): Table<Top>[string] => ({
  kind: 'set',
  block: 'required',
  args: [1, 1],
  run: (s, top, d) => run(s, word(s).text, top, d),
});

const unsupported = (why: string): Table<Top>[string] => ({ kind: 'unsupported', why });

/** TOP_TABLE is what each top-level keyword means to keepstate. */
export const TOP_TABLE: Table<Top> = {
  global_defs: { kind: 'set', block: 'required', args: [0, 0], run: (s, top) => top.globals.push(s) },
  vrrp_instance: named((s, name, top, d) => {
    const prev = top.instances.find((i) => i.name === name);
    if (prev !== undefined) {
      d.error(word(s).loc, 'CFG_DUPLICATE', `vrrp_instance ${name} already defined at line ${prev.loc.line}`);
      return;
    }
    const b = newInstance(name, s.keyword.loc);
    runTable('vrrp_instance', s.block?.statements ?? [], INSTANCE_TABLE, b, d);
    if (s.block?.unclosed === true) b.unclosed = true;
    top.instances.push(b);
  }),
  vrrp_sync_group: named((s, name, top, d) => {
    const prev = top.groups.find((g) => g.name === name);
    if (prev !== undefined) {
      d.error(word(s).loc, 'CFG_DUPLICATE', `vrrp_sync_group ${name} already defined at line ${prev.loc.line}`);
      return;
    }
    top.groups.push(buildGroup(s, name, d));
  }),
  vrrp_script: named((s, name, top, d) => {
    if (top.scriptNames.has(name)) {
      d.error(word(s).loc, 'CFG_DUPLICATE', `vrrp_script ${name} already defined`);
      return;
    }
    top.scriptNames.add(name);
    const script = buildScript(s, name, d);
    if (script !== undefined) top.scripts.push(script);
  }),
  static_ipaddress: unsupported('addresses keepalived adds at start-up'),
  static_routes: unsupported('routes keepalived adds at start-up'),
  static_rules: unsupported('rules keepalived adds at start-up'),
  track_group: unsupported('track groups of static addresses'),
  garp_group: unsupported('GARP interval groups'),
  linkbeat_interfaces: unsupported('link state by polling'),
  interface_up_down_delays: unsupported('debouncing link changes'),
  vrrp_track_process: unsupported('tracking processes'),
  vrrp_track_file: unsupported('tracking files'),
  track_file: unsupported('tracking files'),
  virtual_server: unsupported("LVS virtual servers (keepalived's checker process)"),
  virtual_server_group: unsupported("LVS virtual servers (keepalived's checker process)"),
  bfd_instance: unsupported("BFD (keepalived's bfd process)"),
  SSL: unsupported("the checker process's TLS settings"),
};
registerTable('the top level', TOP_TABLE);

/** buildKeepalivedConfig checks the whole tree and returns the configuration (meaningful only without errors). */
export function buildKeepalivedConfig(tree: readonly Statement[], files: readonly string[], d: Diagnostics): KeepalivedConfig {
  const top: Top = { globals: [], instances: [], groups: [], scripts: [], scriptNames: new Set() };
  runTable('the top level', tree, TOP_TABLE, top, d);
  const global = buildGlobal(top.globals, d);

  // Sync groups: resolve members; an instance belongs to at most one group.
  const memberOf = new Map<string, GroupBuilder>();
  for (const g of top.groups)
    for (const m of g.members) {
      if (!top.instances.some((i) => i.name === m.name)) d.error(m.loc, 'CFG_MISSING', `(${g.name}) no vrrp_instance named ${m.name}`);
      else if (memberOf.has(m.name)) d.error(m.loc, 'CFG_CONFLICT', `(${g.name}) vrrp_instance ${m.name} is already in sync group ${memberOf.get(m.name)!.name}`);
      else memberOf.set(m.name, g);
    }

  // track_script names must be vrrp_scripts.
  const checkScripts = (owner: string, list: readonly { name: string; loc: { file: string; line: number; col: number } }[]): void => {
    for (const t of list) if (!top.scriptNames.has(t.name)) d.error(t.loc, 'CFG_MISSING', `(${owner}) track_script ${t.name}: no vrrp_script of that name`);
  };
  for (const i of top.instances) checkScripts(i.name, i.trackScripts);
  for (const g of top.groups) checkScripts(g.name, g.trackScripts);

  // Members of a sync group track with weight 0 (keepalived ignores their weights) unless the group allows it.
  for (const i of top.instances) {
    const g = memberOf.get(i.name);
    if (g === undefined || g.trackingWeight) continue;
    for (const t of [...i.trackInterfaces, ...i.trackScripts])
      if (t.weight !== undefined && t.weight !== 0)
        d.error(t.loc, 'CFG_CONFLICT', `(${i.name}) weighted tracking in a member of sync group ${g.name}: keepalived ignores the weight; move the tracking to the group or set sync_group_tracking_weight`);
  }

  const instances: VrrpInstance[] = [];
  for (const b of top.instances) {
    const inst = completeInstance(b, global, d);
    if (inst === undefined) continue;
    const g = memberOf.get(b.name);
    instances.push(g === undefined ? inst : { ...inst, syncGroup: g.name });
  }

  // Two instances cannot share a VRID on one interface and family unless unicast peers keep them apart.
  for (let a = 0; a < instances.length; a++)
    for (let b = a + 1; b < instances.length; b++) {
      const x = instances[a]!;
      const y = instances[b]!;
      if (x.virtualRouterId !== y.virtualRouterId || x.family !== y.family || x.interface !== y.interface) continue;
      const unicast = x.unicastPeers.length > 0 || y.unicastPeers.length > 0;
      const overlap = x.unicastPeers.some((p) => y.unicastPeers.some((q) => q.address === p.address));
      const sameGroup = (x.mcastDestination ?? '') === (y.mcastDestination ?? '');
      if ((unicast && !overlap) || (!unicast && !sameGroup)) continue;
      d.error(y.loc, 'CFG_CONFLICT', `(${y.name}) VRID ${y.virtualRouterId} is already used by ${x.name} on ${x.interface ?? 'the same source'} (line ${x.loc.line})`);
    }

  const used = new Set([...top.instances.flatMap((i) => i.trackScripts), ...top.groups.flatMap((g) => g.trackScripts)].map((t) => t.name));
  for (const s of top.scripts) if (!used.has(s.name)) d.warn(s.loc, 'CFG_NO_EFFECT', `vrrp_script ${s.name} is not used by any track_script`);

  const groups: SyncGroup[] = top.groups.map(finishGroup);
  return { files, global, instances, syncGroups: groups, scripts: top.scripts };
}
