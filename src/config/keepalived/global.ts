import type { Diagnostics, SourceLoc } from '../error.js';
import type { Statement } from './parser.js';
import type { GlobalDefs, NotifyFifo } from './types.js';
import { MICRO, decimalArg, intArg, ipArg, optionalBool, registerTable, runTable, scriptArg, setOnce, unsignedArg, word, type Rule, type Table } from './values.js';

/**
 * global_defs: the VRRP part is read (defaults from keepalived 2.2.7 keepalived/core/global_data.c and
 * include/vrrp.h); keywords that only concern other keepalived processes (checker/LVS, BFD, SMTP, SNMP,
 * DBus) or its own housekeeping are accepted and ignored when ignoring them cannot change how a VRRP
 * node behaves; anything that would change the node's behaviour and that keepstate does not do is
 * refused as unsupported. The full table with reasons is in README.md.
 */

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** GLOBAL_DEFAULTS are keepalived 2.2.7's global VRRP defaults. */
export const GLOBAL_DEFAULTS: GlobalDefs = {
  vrrpVersion: 2,
  mcastGroup4: '224.0.0.18', // INADDR_VRRP_GROUP
  mcastGroup6: 'ff02::12', // INADDR6_VRRP_GROUP
  garpMasterDelayUs: 5 * MICRO, // VRRP_GARP_DELAY
  garpMasterRepeat: 5, // VRRP_GARP_REP
  garpMasterRefreshUs: 0, // VRRP_GARP_REFRESH: none
  garpMasterRefreshRepeat: 1, // VRRP_GARP_REFRESH_REP
  garpLowerPrioDelayUs: undefined,
  garpLowerPrioRepeat: undefined,
  garpIntervalUs: 0,
  gnaIntervalUs: 0,
  downTimerAdverts: 3, // VRRP_DOWN_TIMER_ADVERTS
  lowerPrioNoAdvert: false,
  higherPrioSendAdvert: false,
  checkUnicastSrc: false,
  skipCheckAdvAddr: false,
  strict: false,
  startupDelayUs: 0,
  enableScriptSecurity: false,
  notifyPriorityChanges: false,
  fifoWriteStatesOnReload: false,
};

/** GlobalBuilder collects global_defs; `minGarp` is applied at the end, as keepalived applies it in order. */
export interface GlobalBuilder {
  v: Mutable<GlobalDefs>;
  seen: Map<string, SourceLoc>;
}

const SCHED_RR_MAX = 99; // sched_get_priority_max(SCHED_RR) on Linux

const set = <K extends keyof GlobalDefs>(key: K, read: (s: Statement, d: Diagnostics) => GlobalDefs[K] | undefined, args: readonly [number, number] = [1, 1]): Rule<GlobalBuilder> => ({
  kind: 'set',
  args,
  run: (s, b, d) => {
    setOnce(b.seen, s, d);
    const v = read(s, d);
    if (v !== undefined) b.v[key] = v;
  },
});

const flag = (key: 'checkUnicastSrc' | 'skipCheckAdvAddr' | 'strict' | 'enableScriptSecurity' | 'fifoWriteStatesOnReload'): Rule<GlobalBuilder> =>
  set(key, () => true, [0, 0]);
const bool = (key: 'lowerPrioNoAdvert' | 'higherPrioSendAdvert' | 'notifyPriorityChanges'): Rule<GlobalBuilder> => set(key, optionalBool, [0, 1]);

function fifo(s: Statement, d: Diagnostics, prev: NotifyFifo | undefined): NotifyFifo | undefined {
  if (prev !== undefined) {
    d.error(s.keyword.loc, 'CFG_DUPLICATE', `${s.keyword.text} already given at line ${prev.loc.line}`);
    return undefined;
  }
  const path = word(s).text;
  const [, user, group] = s.args.map((w) => w.text);
  return { path, loc: s.keyword.loc, ...(user === undefined ? {} : { user }), ...(group === undefined ? {} : { group }) };
}

function fifoScript(s: Statement, d: Diagnostics, f: NotifyFifo | undefined, name: string): NotifyFifo | undefined {
  const script = scriptArg(s, d, true);
  if (script === undefined) return undefined;
  if (f === undefined) {
    d.error(s.keyword.loc, 'CFG_MISSING', `${s.keyword.text} without ${name}: keepalived starts the script with the FIFO's name, so give ${name} first`);
    return undefined;
  }
  if (f.script !== undefined) {
    d.error(s.keyword.loc, 'CFG_DUPLICATE', `${s.keyword.text} already given at line ${f.script.loc.line}`);
    return undefined;
  }
  return { ...f, script };
}

const ignore = (why: string): Rule<GlobalBuilder> => ({ kind: 'ignore', why });
const unsupported = (why: string): Rule<GlobalBuilder> => ({ kind: 'unsupported', why });

const OTHER_PROCESS = 'only used by keepalived\'s checker (LVS) or BFD process';
const SMTP = 'e-mail alerts: keepstate sends none';
const SNMP = 'SNMP/DBus interfaces: keepstate has its own status interface';
const HOUSEKEEPING = 'keepalived process housekeeping, no effect on VRRP';

/** GLOBAL_TABLE is what each global_defs keyword means to keepstate. */
export const GLOBAL_TABLE: Table<GlobalBuilder> = {
  router_id: set('routerId', (s) => word(s).text),
  vrrp_version: set('vrrpVersion', (s, d) => unsignedArg(s, d, 2, 3) as 2 | 3 | undefined),
  vrrp_mcast_group4: set('mcastGroup4', (s, d) => {
    const ip = ipArg(s, d);
    if (ip === undefined) return undefined;
    if (ip.family !== 'ipv4' || (ip.bytes[0]! & 0xf0) !== 0xe0) {
      d.error(word(s).loc, 'CFG_BAD_VALUE', `vrrp_mcast_group4 ${word(s).text}: not an IPv4 multicast address`);
      return undefined;
    }
    return ip.address;
  }),
  vrrp_mcast_group6: set('mcastGroup6', (s, d) => {
    const ip = ipArg(s, d);
    if (ip === undefined) return undefined;
    if (ip.family !== 'ipv6' || ip.bytes[0] !== 0xff) {
      d.error(word(s).loc, 'CFG_BAD_VALUE', `vrrp_mcast_group6 ${word(s).text}: not an IPv6 multicast address`);
      return undefined;
    }
    return ip.address;
  }),
  vrrp_garp_master_delay: set('garpMasterDelayUs', seconds),
  vrrp_garp_master_repeat: set('garpMasterRepeat', (s, d) => unsignedArg(s, d, 1, 2147483647)),
  vrrp_garp_master_refresh: set('garpMasterRefreshUs', seconds),
  vrrp_garp_master_refresh_repeat: set('garpMasterRefreshRepeat', (s, d) => unsignedArg(s, d, 1, 2147483647)),
  vrrp_garp_lower_prio_delay: set('garpLowerPrioDelayUs', seconds),
  vrrp_garp_lower_prio_repeat: set('garpLowerPrioRepeat', (s, d) => unsignedArg(s, d, 0, 2147483647)),
  vrrp_garp_interval: set('garpIntervalUs', (s, d) => decimalArg(s, d, 1, 4294967295)),
  vrrp_gna_interval: set('gnaIntervalUs', (s, d) => decimalArg(s, d, 1, 4294967295)),
  vrrp_min_garp: { kind: 'set', args: [0, 1], run: (s, b, d) => minGarp(s, b, d) },
  vrrp_down_timer_adverts: set('downTimerAdverts', (s, d) => unsignedArg(s, d, 1, 100)),
  vrrp_lower_prio_no_advert: bool('lowerPrioNoAdvert'),
  vrrp_higher_prio_send_advert: bool('higherPrioSendAdvert'),
  vrrp_check_unicast_src: flag('checkUnicastSrc'),
  vrrp_skip_check_adv_addr: flag('skipCheckAdvAddr'),
  vrrp_strict: flag('strict'),
  vrrp_priority: set('vrrpProcessNice', (s, d) => intArg(s, d, -20, 19)),
  vrrp_rt_priority: set('vrrpRealtimePriority', (s, d) => unsignedArg(s, d, 1, SCHED_RR_MAX)),
  max_auto_priority: set('maxAutoPriority', (s, d) => (s.args.length === 0 ? SCHED_RR_MAX : intArg(s, d, -1, SCHED_RR_MAX)), [0, 1]),
  vrrp_startup_delay: set('startupDelayUs', (s, d) => decimalArg(s, d, 1000, 4294967295)),
  enable_script_security: flag('enableScriptSecurity'),
  script_user: set('scriptUser', (s) => (s.args[1] === undefined ? { user: word(s).text } : { user: word(s).text, group: s.args[1].text }), [1, 2]),
  notify_fifo: { kind: 'set', args: [1, 3], run: (s, b, d) => assignFifo(b, 'notifyFifo', fifo(s, d, b.v.notifyFifo)) },
  notify_fifo_script: { kind: 'set', args: [1, Infinity], run: (s, b, d) => assignFifo(b, 'notifyFifo', fifoScript(s, d, b.v.notifyFifo, 'notify_fifo')) },
  vrrp_notify_fifo: { kind: 'set', args: [1, 3], run: (s, b, d) => assignFifo(b, 'vrrpNotifyFifo', fifo(s, d, b.v.vrrpNotifyFifo)) },
  vrrp_notify_fifo_script: { kind: 'set', args: [1, Infinity], run: (s, b, d) => assignFifo(b, 'vrrpNotifyFifo', fifoScript(s, d, b.v.vrrpNotifyFifo, 'vrrp_notify_fifo')) },
  vrrp_notify_priority_changes: bool('notifyPriorityChanges'),
  fifo_write_vrrp_states_on_reload: flag('fifoWriteStatesOnReload'),
  vrrp_iptables: set('firewall', (s) => {
    const [inChain = 'INPUT', outChain] = s.args.map((w) => w.text);
    return { kind: 'iptables', inChain, loc: s.keyword.loc, ...(outChain === undefined ? {} : { outChain }) };
  }, [0, 2]),
  nftables: set('firewall', (s) => ({ kind: 'nftables', table: s.args[0]?.text ?? 'keepalived', loc: s.keyword.loc }), [0, 1]),

  // Refused: they change what a VRRP node does, and keepstate does not do it.
  vrrp_garp_extra_if: unsupported('periodic GARP/NA on extra interfaces'),
  vrrp_vmac_garp_intvl: unsupported('periodic GARP/NA on extra interfaces'),
  vrrp_ipsets: unsupported('ipsets for no_accept mode'),
  nftables_priority: unsupported('nftables tuning'),
  nftables_ifindex: unsupported('nftables tuning'),
  nftables_counters: unsupported('nftables tuning'),
  vrrp_rx_bufs_policy: unsupported('receive buffer sizing'),
  vrrp_rx_bufs_multiplier: unsupported('receive buffer sizing'),
  vmac_prefix: unsupported('VMAC interface naming'),
  vmac_addr_prefix: unsupported('VMAC interface naming'),
  dynamic_interfaces: unsupported('interfaces created after start-up'),
  default_interface: unsupported('a default interface for instances without one'),
  disable_local_igmp: unsupported('IGMP suppression'),
  net_namespace: unsupported('running in another network namespace (start keepstated there instead)'),
  namespace_with_ipsets: unsupported('running in another network namespace'),
  vrrp_cpu_affinity: unsupported('CPU pinning'),
  vrrp_rlimit_rttime: unsupported('real-time CPU limits'),
  vrrp_rlimit_rtime: unsupported('real-time CPU limits'),
  vrrp_no_swap: unsupported('memory locking'),
  min_auto_priority_delay: unsupported('automatic real-time priority'),
  startup_script: unsupported('scripts run at start-up'),
  startup_script_timeout: unsupported('scripts run at start-up'),
  shutdown_script: unsupported('scripts run at shutdown'),
  shutdown_script_timeout: unsupported('scripts run at shutdown'),
  lvs_sync_daemon: unsupported('IPVS connection synchronisation tied to a VRRP instance'),
  log_unknown_vrids: ignore(HOUSEKEEPING),
  vrrp_netlink_cmd_rcv_bufs: ignore('netlink buffer sizing of keepalived'),
  vrrp_netlink_cmd_rcv_bufs_force: ignore('netlink buffer sizing of keepalived'),
  vrrp_netlink_monitor_rcv_bufs: ignore('netlink buffer sizing of keepalived'),
  vrrp_netlink_monitor_rcv_bufs_force: ignore('netlink buffer sizing of keepalived'),

  // Accepted and ignored: other keepalived processes, alerts, housekeeping.
  notification_email_from: ignore(SMTP),
  notification_email: ignore(SMTP),
  smtp_server: ignore(SMTP),
  smtp_helo_name: ignore(SMTP),
  smtp_connect_timeout: ignore(SMTP),
  smtp_alert: ignore(SMTP),
  smtp_alert_vrrp: ignore(SMTP),
  smtp_alert_checker: ignore(SMTP),
  no_email_faults: ignore(SMTP),
  no_checker_emails: ignore(SMTP),
  checker_log_all_failures: ignore(OTHER_PROCESS),
  lvs_timeouts: ignore(OTHER_PROCESS),
  lvs_flush: ignore(OTHER_PROCESS),
  lvs_flush_on_stop: ignore(OTHER_PROCESS),
  lvs_flush_onstop: ignore(OTHER_PROCESS),
  lvs_notify_fifo: ignore(OTHER_PROCESS),
  lvs_notify_fifo_script: ignore(OTHER_PROCESS),
  lvs_netlink_cmd_rcv_bufs: ignore(OTHER_PROCESS),
  lvs_netlink_cmd_rcv_bufs_force: ignore(OTHER_PROCESS),
  lvs_netlink_monitor_rcv_bufs: ignore(OTHER_PROCESS),
  lvs_netlink_monitor_rcv_bufs_force: ignore(OTHER_PROCESS),
  rs_init_notifies: ignore(OTHER_PROCESS),
  nftables_ipvs: ignore(OTHER_PROCESS),
  nftables_ipvs_priority: ignore(OTHER_PROCESS),
  nftables_ipvs_start_fwmark: ignore(OTHER_PROCESS),
  net_namespace_ipvs: ignore(OTHER_PROCESS),
  checker_priority: ignore(OTHER_PROCESS),
  checker_no_swap: ignore(OTHER_PROCESS),
  checker_rt_priority: ignore(OTHER_PROCESS),
  checker_cpu_affinity: ignore(OTHER_PROCESS),
  checker_rlimit_rttime: ignore(OTHER_PROCESS),
  checker_rlimit_rtime: ignore(OTHER_PROCESS),
  checker_process_name: ignore(OTHER_PROCESS),
  lvs_process_name: ignore(OTHER_PROCESS),
  bfd_priority: ignore(OTHER_PROCESS),
  bfd_no_swap: ignore(OTHER_PROCESS),
  bfd_rt_priority: ignore(OTHER_PROCESS),
  bfd_cpu_affinity: ignore(OTHER_PROCESS),
  bfd_rlimit_rttime: ignore(OTHER_PROCESS),
  bfd_rlimit_rtime: ignore(OTHER_PROCESS),
  bfd_process_name: ignore(OTHER_PROCESS),
  snmp_socket: ignore(SNMP),
  enable_traps: ignore(SNMP),
  enable_snmp_vrrp: ignore(SNMP),
  enable_snmp_keepalived: ignore(SNMP),
  enable_snmp_rfc: ignore(SNMP),
  enable_snmp_rfcv2: ignore(SNMP),
  enable_snmp_rfcv3: ignore(SNMP),
  enable_snmp_checker: ignore(SNMP),
  enable_dbus: ignore(SNMP),
  dbus_service_name: ignore(SNMP),
  process_names: ignore(HOUSEKEEPING),
  process_name: ignore(HOUSEKEEPING),
  vrrp_process_name: ignore(HOUSEKEEPING),
  use_pid_dir: ignore(HOUSEKEEPING),
  instance: ignore(HOUSEKEEPING),
  child_wait_time: ignore(HOUSEKEEPING),
  linkbeat_use_polling: unsupported('link state by polling (keepstate uses rtnetlink link events)'),
  umask: ignore(HOUSEKEEPING),
  random_seed: ignore(HOUSEKEEPING),
  reload_check_config: ignore(HOUSEKEEPING),
  reload_time_file: ignore(HOUSEKEEPING),
  reload_repeat: ignore(HOUSEKEEPING),
  reload_file: ignore(HOUSEKEEPING),
  include_check: ignore(HOUSEKEEPING),
  config_save_dir: ignore(HOUSEKEEPING),
  tmp_config_directory: ignore(HOUSEKEEPING),
  data_use_instance: ignore(HOUSEKEEPING),
};
registerTable('global_defs', GLOBAL_TABLE);

/** seconds reads whole seconds (keepalived: UINT_MAX / TIMER_HZ at most) into microseconds. */
function seconds(s: Statement, d: Diagnostics): number | undefined {
  const v = unsignedArg(s, d, 0, 4294);
  return v === undefined ? undefined : v * MICRO;
}

function assignFifo(b: GlobalBuilder, key: 'notifyFifo' | 'vrrpNotifyFifo', f: NotifyFifo | undefined): void {
  if (f !== undefined) b.v[key] = f;
}

/** minGarp is vrrp_min_garp: one GARP/NA, no second burst, no refresh, unless those were already set. */
function minGarp(s: Statement, b: GlobalBuilder, d: Diagnostics): void {
  const on = optionalBool(s, d);
  if (on !== true) return;
  if (b.v.garpMasterRepeat === GLOBAL_DEFAULTS.garpMasterRepeat) b.v.garpMasterRepeat = 1;
  if (b.v.garpMasterRefreshUs === GLOBAL_DEFAULTS.garpMasterRefreshUs) b.v.garpMasterRefreshUs = 0;
  if (b.v.garpMasterRefreshRepeat === GLOBAL_DEFAULTS.garpMasterRefreshRepeat) b.v.garpMasterRefreshRepeat = 0;
  if (b.v.garpMasterDelayUs === GLOBAL_DEFAULTS.garpMasterDelayUs) b.v.garpMasterDelayUs = 0;
}

/** buildGlobal reads every global_defs block (keepalived allows several) into one GlobalDefs. */
export function buildGlobal(blocks: readonly Statement[], d: Diagnostics): GlobalDefs {
  const b: GlobalBuilder = { v: { ...GLOBAL_DEFAULTS }, seen: new Map() };
  for (const s of blocks) {
    if (b.v.loc === undefined) b.v.loc = s.keyword.loc;
    runTable('global_defs', s.block?.statements ?? [], GLOBAL_TABLE, b, d);
  }
  return b.v;
}
