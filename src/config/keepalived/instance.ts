import type { Diagnostics, SourceLoc } from '../error.js';
import type { Family } from '../../wire/ip.js';
import type { Statement } from './parser.js';
import { notifyScript, trackInterfaces, trackScripts } from './tracking.js';
import type { GlobalDefs, Notifies, TrackedInterface, TrackedScript, UnicastPeer, VirtualAddress, VrrpInstance } from './types.js';
import { MICRO, decimalArg, ifnameArg, ipArg, optionalBool, parseIp, registerTable, runTable, setOnce, unsignedArg, word, type Rule, type Table } from './values.js';

/**
 * vrrp_instance: keyword handlers (keepalived 2.2.7 keepalived/vrrp/vrrp_parser.c) and the completion
 * keepalived runs once the block is read (vrrp.c vrrp_complete_instance): defaults, inheritance from
 * global_defs, and its consistency checks. Where keepalived reports a configuration error and then
 * repairs the setting (rounding advert_int, clearing nopreempt, …) — `keepalived -t` exits non-zero
 * for those — this is an error: the file must say what it means.
 */

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** InstanceBuilder collects one vrrp_instance; `family` is fixed by the first statement that implies one. */
export interface InstanceBuilder {
  name: string;
  loc: SourceLoc;
  seen: Map<string, SourceLoc>;
  at: Map<string, SourceLoc>; // where settings used by the final checks were written
  family?: { value: Family; loc: SourceLoc; by: string };
  state?: 'MASTER' | 'BACKUP';
  interface?: string;
  vrid?: number;
  priority?: number;
  advertUs?: number;
  version?: 2 | 3;
  nopreempt: boolean;
  preemptDelayUs: number;
  accept?: boolean;
  strict?: boolean;
  vips: VirtualAddress[];
  evips: VirtualAddress[];
  sourceAddress?: string;
  mcastDestination?: string;
  unicast: boolean; // a unicast keyword was given
  peers: UnicastPeer[];
  unicastTtl?: number;
  checkUnicastSrc: boolean;
  unicastFaultNoPeer: boolean;
  vmac?: { name?: string; mac?: string; xmitBase: boolean };
  xmitBase: boolean;
  trackInterfaces: TrackedInterface[];
  trackScripts: TrackedScript[];
  dontTrackPrimary: boolean;
  notify: Mutable<Notifies>;
  notifyPriorityChanges?: boolean;
  auth?: { type?: 'PASS' | 'AH'; password?: string; typeRejected?: boolean; loc: SourceLoc };
  garp: Partial<Record<'masterDelayUs' | 'masterRepeat' | 'masterRefreshUs' | 'masterRefreshRepeat' | 'lowerPrioDelayUs' | 'lowerPrioRepeat' | 'downTimerAdverts', number>>;
  lowerPrioNoAdvert?: boolean;
  higherPrioSendAdvert?: boolean;
  skipCheckAdvAddr: boolean;
  nativeIpv6: boolean;
  promoteSecondaries: boolean;
  debug?: number;
  unclosed?: boolean; // the file ended inside the block: its completion checks would only repeat that
}

/** newInstance starts a builder for `vrrp_instance NAME`. */
export function newInstance(name: string, loc: SourceLoc): InstanceBuilder {
  return {
    name, loc, seen: new Map(), at: new Map(), nopreempt: false, preemptDelayUs: 0, vips: [], evips: [], unicast: false, peers: [],
    checkUnicastSrc: false, unicastFaultNoPeer: false, xmitBase: false, trackInterfaces: [], trackScripts: [], dontTrackPrimary: false,
    notify: {}, garp: {}, skipCheckAdvAddr: false, nativeIpv6: false, promoteSecondaries: false,
  };
}

/** setFamily records the family a statement implies; a different one from an earlier statement is an error. */
function setFamily(b: InstanceBuilder, d: Diagnostics, family: Family, loc: SourceLoc, by: string): boolean {
  if (b.family === undefined) {
    b.family = { value: family, loc, by };
    return true;
  }
  if (b.family.value === family) return true;
  const f = (x: Family): string => (x === 'ipv4' ? 'IPv4' : 'IPv6');
  d.error(loc, 'CFG_CONFLICT', `(${b.name}) ${by} is ${f(family)}, but the instance is ${f(b.family.value)} (${b.family.by} at line ${b.family.loc.line}); every address of an instance has one family (use virtual_ipaddress_excluded for the other)`);
  return false;
}

const SCOPES = new Set(['global', 'site', 'link', 'host', 'nowhere']);
const UNSUPPORTED_VIP_OPTIONS = new Set(['peer', 'home', '-nodad', 'mngtmpaddr', 'noprefixroute', 'autojoin', 'preferred_lft', 'use_vmac', 'track_group']);

/** virtualAddress reads one virtual_ipaddress line: `ADDR[/LEN] [brd X] [dev X] [scope X] [label X] [no_track]`. */
function virtualAddress(e: Statement, d: Diagnostics, list: string): VirtualAddress | undefined {
  if (e.block !== undefined) {
    d.error(e.block.loc, 'CFG_SYNTAX', `a ${list} entry takes no '{ }' block`);
    return undefined;
  }
  const ip = parseIp(e.keyword.text, true);
  if ('error' in ip) {
    d.error(e.keyword.loc, 'CFG_BAD_VALUE', `${list} ${e.keyword.text}: ${ip.error}`);
    return undefined;
  }
  const v: Mutable<VirtualAddress> = { family: ip.family, address: ip.address, prefixLength: ip.prefixLength ?? (ip.family === 'ipv4' ? 32 : 128), noTrack: false, loc: e.keyword.loc };
  const words = e.args;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const opt = w.text;
    if (opt === 'no_track') {
      v.noTrack = true;
      continue;
    }
    if (UNSUPPORTED_VIP_OPTIONS.has(opt)) {
      d.error(w.loc, 'CFG_UNSUPPORTED', `not supported: ${list} option ${opt}`);
      return undefined;
    }
    const val = words[i + 1];
    if (!['dev', 'label', 'scope', 'brd', 'broadcast'].includes(opt)) {
      d.error(w.loc, 'CFG_SYNTAX', `${list} ${e.keyword.text}: unknown option '${opt}' (expected dev, label, scope, brd or no_track)`);
      return undefined;
    }
    if (val === undefined) {
      d.error(w.loc, 'CFG_SYNTAX', `${list} ${e.keyword.text}: ${opt} needs a value`);
      return undefined;
    }
    i++;
    if (opt === 'dev') {
      if (ifnameArg(e, d, val) === undefined) return undefined;
      v.dev = val.text;
    } else if (opt === 'label') {
      if (val.text.length > 15) {
        d.error(val.loc, 'CFG_BAD_VALUE', `${list} ${e.keyword.text}: a label has at most 15 characters`);
        return undefined;
      }
      v.label = val.text;
    } else if (opt === 'scope') {
      if (!SCOPES.has(val.text) && !(/^[0-9]{1,3}$/.test(val.text) && Number(val.text) <= 255)) {
        d.error(val.loc, 'CFG_BAD_VALUE', `${list} ${e.keyword.text}: unknown scope '${val.text}' (global, site, link, host, nowhere or 0..255)`);
        return undefined;
      }
      v.scope = val.text;
    } else {
      const b = parseIp(val.text, false);
      if ('error' in b || b.family !== 'ipv4' || ip.family !== 'ipv4') {
        d.error(val.loc, 'CFG_BAD_VALUE', `${list} ${e.keyword.text}: ${opt} needs an IPv4 address for an IPv4 address`);
        return undefined;
      }
      v.broadcast = b.address;
    }
  }
  return v;
}

function addresses(s: Statement, b: InstanceBuilder, d: Diagnostics, excluded: boolean): void {
  const list = excluded ? 'virtual_ipaddress_excluded' : 'virtual_ipaddress';
  for (const e of s.block?.statements ?? []) {
    const v = virtualAddress(e, d, list);
    if (v === undefined) continue;
    if (!excluded && !setFamily(b, d, v.family, v.loc, `virtual address ${e.keyword.text}`)) continue;
    const dup = [...b.vips, ...b.evips].find((x) => x.address === v.address && x.prefixLength === v.prefixLength && x.dev === v.dev);
    if (dup !== undefined) {
      // keepalived accepts it and asks the kernel twice (the second add fails); the first one counts here.
      d.warn(v.loc, 'CFG_DUPLICATE', `(${b.name}) ${e.keyword.text} is listed twice (first at line ${dup.loc.line}); the second is ignored`);
      continue;
    }
    (excluded ? b.evips : b.vips).push(v);
  }
}

function unicastPeers(s: Statement, b: InstanceBuilder, d: Diagnostics): void {
  b.unicast = true;
  for (const e of s.block?.statements ?? []) {
    const ip = parseIp(e.keyword.text, false);
    if ('error' in ip) {
      d.error(e.keyword.loc, 'CFG_BAD_VALUE', `unicast_peer ${e.keyword.text}: ${ip.error}`);
      continue;
    }
    if (!setFamily(b, d, ip.family, e.keyword.loc, `unicast peer ${e.keyword.text}`)) continue;
    const p: Mutable<UnicastPeer> = { address: ip.address, loc: e.keyword.loc };
    let ok = true;
    for (let i = 0; i < e.args.length; i += 2) {
      const k = e.args[i]!;
      const v = e.args[i + 1];
      if ((k.text !== 'min_ttl' && k.text !== 'max_ttl') || v === undefined || !/^[0-9]{1,3}$/.test(v.text) || Number(v.text) > 255) {
        d.error(k.loc, 'CFG_SYNTAX', `unicast_peer ${e.keyword.text}: expected min_ttl N or max_ttl N (0..255) after the address`);
        ok = false;
        break;
      }
      if (k.text === 'min_ttl') p.minTtl = Number(v.text);
      else p.maxTtl = Number(v.text);
    }
    if (!ok) continue;
    if (b.peers.some((x) => x.address === p.address)) {
      d.error(e.keyword.loc, 'CFG_DUPLICATE', `unicast_peer ${e.keyword.text} is listed twice`);
      continue;
    }
    b.peers.push(p);
  }
}

function vmac(s: Statement, b: InstanceBuilder, d: Diagnostics): void {
  const v: { name?: string; mac?: string; xmitBase: boolean } = { xmitBase: b.xmitBase };
  for (const w of s.args) {
    if (w.text.includes(':')) {
      if (!/^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){4,5}$/.test(w.text)) {
        d.error(w.loc, 'CFG_BAD_VALUE', `use_vmac ${w.text}: not a MAC address`);
        return;
      }
      v.mac = w.text.toLowerCase();
    } else {
      if (ifnameArg(s, d, w) === undefined) return;
      v.name = w.text;
    }
  }
  b.vmac = v;
}

const set = (run: (s: Statement, b: InstanceBuilder, d: Diagnostics) => void, args: readonly [number, number] = [1, 1]): Rule<InstanceBuilder> => ({
  kind: 'set',
  args,
  run: (s, b, d) => {
    setOnce(b.seen, s, d);
    b.at.set(s.keyword.text, s.keyword.loc);
    run(s, b, d);
  },
});
const block = (run: (s: Statement, b: InstanceBuilder, d: Diagnostics) => void): Rule<InstanceBuilder> => ({ kind: 'set', block: 'required', args: [0, 0], run });
const notify = (key: keyof Notifies): Rule<InstanceBuilder> => ({ kind: 'set', args: [1, Infinity], run: (s, b, d) => notifyScript(s, d, b.notify, key) });
const garp = (key: keyof InstanceBuilder['garp'], read: (s: Statement, d: Diagnostics) => number | undefined): Rule<InstanceBuilder> =>
  set((s, b, d) => {
    const v = read(s, d);
    if (v !== undefined) b.garp[key] = v;
  });
const seconds = (s: Statement, d: Diagnostics): number | undefined => {
  const v = unsignedArg(s, d, 0, 4294);
  return v === undefined ? undefined : v * MICRO;
};
const unsupported = (why: string): Rule<InstanceBuilder> => ({ kind: 'unsupported', why });

const sourceIp = (s: Statement, b: InstanceBuilder, d: Diagnostics): void => {
  const ip = ipArg(s, d);
  if (ip !== undefined && setFamily(b, d, ip.family, word(s).loc, `${s.keyword.text} ${word(s).text}`)) b.sourceAddress = ip.address;
};

/** INSTANCE_TABLE is what each vrrp_instance keyword means to keepstate. */
export const INSTANCE_TABLE: Table<InstanceBuilder> = {
  state: set((s, b, d) => {
    const w = word(s);
    if (w.text !== 'MASTER' && w.text !== 'BACKUP') d.error(w.loc, 'CFG_BAD_VALUE', `(${b.name}) state ${w.text}: must be MASTER or BACKUP`);
    else if (w.text === 'BACKUP' && b.state === 'MASTER') d.error(w.loc, 'CFG_CONFLICT', `(${b.name}) state was already set to MASTER (keepalived ignores BACKUP then)`);
    else b.state = w.text;
  }),
  interface: set((s, b, d) => {
    const n = ifnameArg(s, d);
    if (n !== undefined) b.interface = n;
  }),
  virtual_router_id: set((s, b, d) => {
    const v = unsignedArg(s, d, 1, 255);
    if (v !== undefined) b.vrid = v;
  }),
  priority: set((s, b, d) => {
    const v = unsignedArg(s, d, 1, 255);
    if (v !== undefined) b.priority = v;
  }),
  advert_int: set((s, b, d) => {
    const v = decimalArg(s, d, MICRO / 100, 255 * MICRO);
    if (v !== undefined) b.advertUs = v;
  }),
  version: set((s, b, d) => {
    const v = unsignedArg(s, d, 2, 3);
    if (v !== undefined) b.version = v as 2 | 3;
  }),
  nopreempt: set((_s, b) => (b.nopreempt = true), [0, 0]),
  preempt: set((_s, b) => (b.nopreempt = false), [0, 0]),
  preempt_delay: set((s, b, d) => {
    const v = decimalArg(s, d, 0, 1000 * MICRO);
    if (v !== undefined) b.preemptDelayUs = v;
  }),
  accept: set((_s, b) => (b.accept = true), [0, 0]),
  no_accept: set((_s, b) => (b.accept = false), [0, 0]),
  strict_mode: set((s, b, d) => {
    const v = optionalBool(s, d);
    if (v !== undefined) b.strict = v;
  }, [0, 1]),
  native_ipv6: set((s, b, d) => {
    if (setFamily(b, d, 'ipv6', s.keyword.loc, 'native_ipv6')) b.nativeIpv6 = true;
  }, [0, 0]),
  virtual_ipaddress: block((s, b, d) => addresses(s, b, d, false)),
  virtual_ipaddress_excluded: block((s, b, d) => addresses(s, b, d, true)),
  mcast_src_ip: set(sourceIp),
  unicast_src_ip: set((s, b, d) => {
    b.unicast = true;
    sourceIp(s, b, d);
  }),
  mcast_dst_ip: set((s, b, d) => {
    const ip = ipArg(s, d);
    if (ip === undefined) return;
    const mc = ip.family === 'ipv4' ? (ip.bytes[0]! & 0xf0) === 0xe0 : ip.bytes[0] === 0xff && (ip.bytes[1]! & 0x0f) === 0x02;
    if (!mc) d.error(word(s).loc, 'CFG_BAD_VALUE', `mcast_dst_ip ${word(s).text}: not a multicast address${ip.family === 'ipv6' ? ' of link-local scope' : ''}`);
    else if (setFamily(b, d, ip.family, word(s).loc, `mcast_dst_ip ${word(s).text}`)) b.mcastDestination = ip.address;
  }),
  unicast_peer: block(unicastPeers),
  unicast_ttl: set((s, b, d) => {
    const v = unsignedArg(s, d, 0, 255);
    if (v !== undefined) b.unicastTtl = v;
  }),
  check_unicast_src: set((_s, b) => (b.checkUnicastSrc = true), [0, 0]),
  unicast_fault_no_peer: set((_s, b) => (b.unicastFaultNoPeer = true), [0, 0]),
  use_vmac: set(vmac, [0, 2]),
  vmac_xmit_base: set((_s, b) => {
    b.xmitBase = true;
    if (b.vmac !== undefined) b.vmac.xmitBase = true;
  }, [0, 0]),
  track_interface: block((s, b, d) => trackInterfaces(s, d, b.trackInterfaces)),
  track_script: block((s, b, d) => trackScripts(s, d, b.trackScripts)),
  dont_track_primary: set((_s, b) => (b.dontTrackPrimary = true), [0, 0]),
  notify_master: notify('master'),
  notify_backup: notify('backup'),
  notify_fault: notify('fault'),
  notify_stop: notify('stop'),
  notify_deleted: notify('deleted'),
  notify_master_rx_lower_pri: notify('masterRxLowerPri'),
  notify: notify('generic'),
  notify_priority_changes: set((s, b, d) => {
    const v = optionalBool(s, d);
    if (v !== undefined) b.notifyPriorityChanges = v;
  }, [0, 1]),
  smtp_alert: { kind: 'ignore', why: 'e-mail alerts: keepstate sends none' },
  debug: set((s, b, d) => {
    const v = unsignedArg(s, d, 0, 4);
    if (v !== undefined) b.debug = v;
  }, [0, 1]),
  kernel_rx_buf_size: { kind: 'ignore', why: "keepalived's socket buffer sizing" },
  garp_master_delay: garp('masterDelayUs', seconds),
  garp_master_repeat: garp('masterRepeat', (s, d) => unsignedArg(s, d, 1, 2147483647)),
  garp_master_refresh: garp('masterRefreshUs', seconds),
  garp_master_refresh_repeat: garp('masterRefreshRepeat', (s, d) => unsignedArg(s, d, 1, 2147483647)),
  garp_lower_prio_delay: garp('lowerPrioDelayUs', seconds),
  garp_lower_prio_repeat: garp('lowerPrioRepeat', (s, d) => unsignedArg(s, d, 0, 2147483647)),
  down_timer_adverts: garp('downTimerAdverts', (s, d) => unsignedArg(s, d, 1, 100)),
  lower_prio_no_advert: set((s, b, d) => {
    const v = optionalBool(s, d);
    if (v !== undefined) b.lowerPrioNoAdvert = v;
  }, [0, 1]),
  higher_prio_send_advert: set((s, b, d) => {
    const v = optionalBool(s, d);
    if (v !== undefined) b.higherPrioSendAdvert = v;
  }, [0, 1]),
  skip_check_adv_addr: set((s, b, d) => {
    const v = optionalBool(s, d);
    if (v !== undefined) b.skipCheckAdvAddr = v;
  }, [0, 1]),
  promote_secondaries: set((_s, b) => (b.promoteSecondaries = true), [0, 0]),
  authentication: {
    kind: 'set',
    block: 'required',
    args: [0, 0],
    run: (s, b, d) => {
      b.auth = { loc: s.keyword.loc };
      runTable('authentication', s.block?.statements ?? [], AUTH_TABLE, b, d);
    },
  },

  virtual_routes: unsupported('routes moved with mastership'),
  virtual_rules: unsupported('policy-routing rules moved with mastership'),
  use_vmac_addr: unsupported('VMAC on VIP interfaces'),
  use_ipvlan: unsupported('ipvlan interfaces'),
  vrf: unsupported('VRF interfaces'),
  track_file: unsupported('tracking files'),
  track_process: unsupported('tracking processes'),
  track_bfd: unsupported('tracking BFD sessions'),
  track_src_ip: unsupported('tracking the source address'),
  old_unicast_checksum: unsupported('sending the pre-2.0 VRRPv3 unicast checksum'),
  linkbeat_use_polling: unsupported('link state by polling (keepstate uses rtnetlink link events)'),
  lvs_sync_daemon_interface: unsupported('IPVS connection synchronisation'),
  garp_extra_if: unsupported('periodic GARP/NA on extra interfaces'),
  vmac_garp_intvl: unsupported('periodic GARP/NA on extra interfaces'),
};

const AUTH_TABLE: Table<InstanceBuilder> = {
  auth_type: {
    kind: 'set',
    run: (s, b, d) => {
      const w = word(s);
      if (w.text === 'PASS') b.auth!.type = 'PASS';
      else {
        b.auth!.typeRejected = true;
        if (w.text === 'AH') d.error(w.loc, 'CFG_UNSUPPORTED', 'not supported: auth_type AH (IPsec-AH authentication, removed from VRRP by RFC 3768)');
        else d.error(w.loc, 'CFG_BAD_VALUE', `auth_type ${w.text}: must be PASS or AH`);
      }
    },
  },
  auth_pass: {
    kind: 'set',
    run: (s, b, d) => {
      const w = word(s);
      // keepalived truncates to 8 bytes with an error (VRRP_AUTH_LEN).
      if (new TextEncoder().encode(w.text).length > 8) d.error(w.loc, 'CFG_BAD_VALUE', 'auth_pass: at most 8 characters (keepalived truncates it)');
      else b.auth!.password = w.text;
    },
  },
};
registerTable('vrrp_instance', INSTANCE_TABLE);
registerTable('authentication', AUTH_TABLE);

/** completeInstance applies keepalived's defaults and checks to a read vrrp_instance (vrrp_complete_instance). */
export function completeInstance(b: InstanceBuilder, g: GlobalDefs, d: Diagnostics): VrrpInstance | undefined {
  const err = (at: SourceLoc | undefined, code: Parameters<Diagnostics['error']>[1], msg: string): void => d.error(at ?? b.loc, code, `(${b.name}) ${msg}`);
  if (b.unclosed === true) return undefined;
  const errorsBefore = d.errors.length;
  const strict = b.strict ?? g.strict;
  const family: Family = b.family?.value ?? 'ipv4';
  if (b.vrid === undefined && !b.seen.has('virtual_router_id')) err(b.loc, 'CFG_MISSING', 'the virtual router id must be set (virtual_router_id 1..255)');
  if (b.unicast && b.peers.length === 0) err(b.at.get('unicast_src_ip') ?? b.loc, 'CFG_MISSING', 'unicast_src_ip without any unicast_peer (keepalived falls back to multicast, a deprecated use)');
  if (b.interface === undefined && !b.seen.has('interface') && !(b.peers.length > 0 && b.sourceAddress !== undefined))
    err(b.loc, 'CFG_MISSING', 'no interface (needed unless the instance is unicast with unicast_src_ip)');
  let version: 2 | 3 = b.version ?? (family === 'ipv6' ? 3 : g.vrrpVersion);
  if (family === 'ipv6' && version === 2) {
    err(b.at.get('version'), 'CFG_CONFLICT', 'VRRP version 2 cannot be used with IPv6 (RFC 3768 is IPv4 only); use version 3');
    version = 3;
  }
  if (b.vips.length === 0) {
    if (version === 3 || strict) err(b.loc, 'CFG_MISSING', 'no virtual_ipaddress: at least one is required for VRRPv3 and in strict mode');
    else d.warn(b.loc, 'CFG_MISSING', `(${b.name}) no virtual_ipaddress (keepalived: "at least one is sensible")`);
  }
  if (family === 'ipv6' && b.vips.length > 0 && !b.vips[0]!.address.startsWith('fe80') && strict)
    err(b.vips[0]!.loc, 'CFG_BAD_VALUE', 'strict mode: the first IPv6 virtual address must be link-local');
  if (b.vips.length > 255) err(b.vips[255]!.loc, 'CFG_BAD_VALUE', 'more than 255 virtual addresses (Count IPvX Addr is 8 bits); put the rest in virtual_ipaddress_excluded');
  const priority = b.priority ?? (b.state === 'MASTER' ? 255 : 100);
  const state = b.state ?? (priority === 255 ? 'MASTER' : 'BACKUP');
  if (strict && (state === 'MASTER') !== (priority === 255)) err(b.at.get('state'), 'CFG_CONFLICT', 'strict mode: state MASTER must go with priority 255 (the address owner) and only with it');
  if (b.auth !== undefined) {
    if (strict) err(b.auth.loc, 'CFG_CONFLICT', 'strict mode does not allow authentication');
    else if (version === 3) err(b.auth.loc, 'CFG_CONFLICT', 'VRRP version 3 has no authentication');
    else if (b.auth.type === undefined && b.auth.typeRejected !== true && b.auth.password !== undefined) err(b.auth.loc, 'CFG_MISSING', 'authentication without auth_type (keepalived then uses none)');
    else if (b.auth.type !== undefined && b.auth.password === undefined) err(b.auth.loc, 'CFG_MISSING', 'authentication without auth_pass');
  }
  if (b.peers.length > 0 && strict) err(b.peers[0]!.loc, 'CFG_CONFLICT', 'strict mode does not allow unicast peers');
  if (b.nopreempt && priority === 255) err(b.at.get('nopreempt'), 'CFG_CONFLICT', 'nopreempt cannot be used with priority 255 (the address owner always preempts)');
  if (state === 'MASTER' && b.nopreempt) err(b.at.get('nopreempt'), 'CFG_CONFLICT', 'nopreempt does not work with state MASTER (use state BACKUP)');
  if (b.preemptDelayUs > 0) {
    if (state === 'MASTER') err(b.at.get('preempt_delay'), 'CFG_CONFLICT', 'preempt_delay does not work with state MASTER');
    if (strict) err(b.at.get('preempt_delay'), 'CFG_CONFLICT', 'preempt_delay is not allowed in strict mode');
    if (b.nopreempt) err(b.at.get('preempt_delay'), 'CFG_CONFLICT', 'preempt_delay cannot be used with nopreempt');
  }
  const downTimerAdverts = b.garp.downTimerAdverts ?? g.downTimerAdverts;
  if (strict && downTimerAdverts !== 3) err(b.at.get('down_timer_adverts'), 'CFG_CONFLICT', 'strict mode requires down_timer_adverts 3');
  let accept = b.accept ?? (priority === 255 ? true : !strict);
  if (accept && priority !== 255 && strict && version === 2) {
    if (b.accept === true) err(b.at.get('accept'), 'CFG_CONFLICT', 'accept mode with VRRP version 2 in strict mode does not comply with RFC 3768');
    accept = false;
  }
  if (b.mcastDestination !== undefined && b.peers.length > 0) err(b.at.get('mcast_dst_ip'), 'CFG_CONFLICT', 'mcast_dst_ip cannot be used with unicast peers');
  if (b.unicastTtl !== undefined && b.peers.length === 0) err(b.at.get('unicast_ttl'), 'CFG_CONFLICT', 'unicast_ttl without unicast peers');
  if (b.xmitBase && b.vmac === undefined) err(b.at.get('vmac_xmit_base'), 'CFG_CONFLICT', 'vmac_xmit_base is only valid with use_vmac');
  if (b.vmac !== undefined && b.peers.length > 0 && !b.vmac.xmitBase) err(b.at.get('use_vmac'), 'CFG_MISSING', 'unicast with use_vmac requires vmac_xmit_base');
  if (b.vmac?.mac !== undefined && strict) err(b.at.get('use_vmac'), 'CFG_CONFLICT', 'strict mode does not allow a chosen VMAC address');
  const garpMasterRepeat = b.garp.masterRepeat ?? g.garpMasterRepeat;
  const garpMasterDelayUs = b.garp.masterDelayUs ?? g.garpMasterDelayUs;
  const lowerPrioNoAdvert = b.lowerPrioNoAdvert ?? (g.lowerPrioNoAdvert || strict);
  const higherPrioSendAdvert = b.higherPrioSendAdvert ?? g.higherPrioSendAdvert;
  if (strict && garpMasterRepeat > 1 && b.garp.masterRepeat !== undefined) err(b.at.get('garp_master_repeat'), 'CFG_CONFLICT', 'strict mode requires no repeated GARPs');
  if (strict && garpMasterDelayUs > 0 && b.garp.masterDelayUs !== undefined) err(b.at.get('garp_master_delay'), 'CFG_CONFLICT', 'strict mode requires no second GARP burst');
  if (strict && b.lowerPrioNoAdvert === false) err(b.at.get('lower_prio_no_advert'), 'CFG_CONFLICT', 'strict mode requires lower_prio_no_advert');
  if (strict && b.higherPrioSendAdvert === true) err(b.at.get('higher_prio_send_advert'), 'CFG_CONFLICT', 'strict mode does not allow higher_prio_send_advert');
  // Advertisement interval: v2 carries whole seconds (8 bits), v3 centiseconds (12 bits).
  const advertUs = b.advertUs ?? MICRO;
  if (version === 2 && advertUs % MICRO !== 0)
    err(b.at.get('advert_int'), 'CFG_BAD_VALUE', `advert_int ${advertUs / MICRO}: VRRPv2 advertises whole seconds (keepalived rounds it); use version 3 for fractions`);
  if (version === 3 && advertUs >= 4096 * 10_000) err(b.at.get('advert_int'), 'CFG_BAD_VALUE', `advert_int ${advertUs / MICRO}: VRRPv3 allows at most 40.95 seconds`);
  else if (version === 3 && advertUs % 10_000 !== 0) err(b.at.get('advert_int'), 'CFG_BAD_VALUE', `advert_int ${advertUs / MICRO}: VRRPv3 counts in units of 10 ms (keepalived rounds it)`);
  if (d.errors.length > errorsBefore) return undefined;
  const inst: VrrpInstance = {
    name: b.name,
    loc: b.loc,
    family,
    version,
    initialState: state,
    virtualRouterId: b.vrid!,
    priority,
    advertIntervalUs: advertUs,
    preempt: !b.nopreempt,
    preemptDelayUs: b.preemptDelayUs,
    accept,
    strict,
    virtualAddresses: b.vips,
    excludedAddresses: b.evips,
    unicastPeers: b.peers,
    checkUnicastSrc: b.checkUnicastSrc || g.checkUnicastSrc,
    unicastFaultNoPeer: b.unicastFaultNoPeer,
    trackInterfaces: b.trackInterfaces,
    trackScripts: b.trackScripts,
    dontTrackPrimary: b.dontTrackPrimary,
    notify: b.notify,
    notifyPriorityChanges: b.notifyPriorityChanges ?? g.notifyPriorityChanges,
    garpMasterDelayUs,
    garpMasterRepeat,
    garpMasterRefreshUs: b.garp.masterRefreshUs ?? g.garpMasterRefreshUs,
    garpMasterRefreshRepeat: b.garp.masterRefreshRepeat ?? g.garpMasterRefreshRepeat,
    garpLowerPrioDelayUs: b.garp.lowerPrioDelayUs ?? g.garpLowerPrioDelayUs ?? garpMasterDelayUs,
    garpLowerPrioRepeat: b.garp.lowerPrioRepeat ?? g.garpLowerPrioRepeat ?? garpMasterRepeat,
    downTimerAdverts,
    lowerPrioNoAdvert,
    higherPrioSendAdvert,
    skipCheckAdvAddr: b.skipCheckAdvAddr || g.skipCheckAdvAddr,
    nativeIpv6: b.nativeIpv6,
    promoteSecondaries: b.promoteSecondaries,
    ...(b.interface === undefined ? {} : { interface: b.interface }),
    ...(b.sourceAddress === undefined ? {} : { sourceAddress: b.sourceAddress }),
    ...(b.mcastDestination === undefined ? {} : { mcastDestination: b.mcastDestination }),
    ...(b.unicastTtl !== undefined ? { unicastTtl: b.unicastTtl } : b.peers.length > 0 && family === 'ipv4' ? { unicastTtl: 255 } : {}),
    ...(b.vmac === undefined ? {} : { vmac: b.vmac }),
    ...(b.auth?.password === undefined || b.auth.type === undefined ? {} : { auth: { type: b.auth.type, password: b.auth.password } }),
    ...(b.debug === undefined ? {} : { debug: b.debug }),
  };
  return inst;
}
