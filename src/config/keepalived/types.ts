import type { SourceLoc } from '../error.js';
import type { Family } from '../../wire/ip.js';

/**
 * The typed result of reading the VRRP part of a keepalived.conf (keepalived 2.2.7 semantics, its
 * defaults filled in, instance settings inherited from global_defs). Plain readonly data; "not set" is
 * `undefined`. Times are in microseconds (keepalived's TIMER_HZ) unless the name says otherwise.
 * Addresses are canonical text (wire/ip.ts).
 */

/** ScriptCommand is a command keepalived would run: argv after its quote and escape rules, and the user. */
export interface ScriptCommand {
  readonly argv: readonly string[];
  readonly user?: string; // `… username [groupname]`; undefined = script_user or keepalived_script/root
  readonly group?: string;
  readonly loc: SourceLoc;
}

/** NotifyFifo is a FIFO that state changes are written to, and the script keepalived starts to read it. */
export interface NotifyFifo {
  readonly path: string;
  readonly user?: string;
  readonly group?: string;
  readonly script?: ScriptCommand; // started with the FIFO path as its last argument
  readonly loc: SourceLoc;
}

/** Firewall is how keepalived implements no_accept: iptables chains or an nftables table. */
export type Firewall =
  | { readonly kind: 'iptables'; readonly inChain: string; readonly outChain?: string; readonly loc: SourceLoc }
  | { readonly kind: 'nftables'; readonly table: string; readonly loc: SourceLoc };

/** GlobalDefs is the VRRP-relevant part of global_defs; per-instance GARP settings default from it. */
export interface GlobalDefs {
  readonly routerId?: string;
  readonly vrrpVersion: 2 | 3; // default for IPv4 instances (IPv6 instances are always 3)
  readonly mcastGroup4: string; // 224.0.0.18
  readonly mcastGroup6: string; // ff02::12
  readonly garpMasterDelayUs: number; // second burst after becoming master; 0 = none (default 5 s)
  readonly garpMasterRepeat: number; // GARP/NA per burst (default 5)
  readonly garpMasterRefreshUs: number; // periodic refresh while master; 0 = off (default)
  readonly garpMasterRefreshRepeat: number; // per refresh (default 1)
  readonly garpLowerPrioDelayUs: number | undefined; // undefined = garp master delay
  readonly garpLowerPrioRepeat: number | undefined; // undefined = garp master repeat
  readonly garpIntervalUs: number; // between GARPs on one interface (default 0)
  readonly gnaIntervalUs: number; // between unsolicited NAs on one interface (default 0)
  readonly downTimerAdverts: number; // adverts missed before master down (default 3)
  readonly lowerPrioNoAdvert: boolean;
  readonly higherPrioSendAdvert: boolean;
  readonly checkUnicastSrc: boolean;
  readonly skipCheckAdvAddr: boolean;
  readonly strict: boolean; // vrrp_strict
  readonly vrrpProcessNice?: number; // vrrp_priority, -20..19
  readonly vrrpRealtimePriority?: number; // vrrp_rt_priority
  readonly maxAutoPriority?: number; // -1 = off, else the SCHED_RR priority used when timers run late
  readonly startupDelayUs: number; // vrrp_startup_delay, 0 = none
  readonly enableScriptSecurity: boolean;
  readonly scriptUser?: { readonly user: string; readonly group?: string };
  readonly notifyFifo?: NotifyFifo;
  readonly vrrpNotifyFifo?: NotifyFifo;
  readonly notifyPriorityChanges: boolean; // vrrp_notify_priority_changes
  readonly fifoWriteStatesOnReload: boolean;
  readonly firewall?: Firewall;
  readonly loc?: SourceLoc; // the first global_defs keyword
}

/** VirtualAddress is one entry of virtual_ipaddress or virtual_ipaddress_excluded. */
export interface VirtualAddress {
  readonly family: Family;
  readonly address: string;
  readonly prefixLength: number; // /32 or /128 when not written
  readonly dev?: string; // default: the instance's interface
  readonly label?: string;
  readonly scope?: string; // host, link, site, global, nowhere, or a number (rtnetlink scope)
  readonly broadcast?: string;
  readonly noTrack: boolean;
  readonly loc: SourceLoc;
}

/** TrackedInterface is a track_interface entry; weight undefined = FAULT when the link is down. */
export interface TrackedInterface {
  readonly name: string;
  readonly weight?: number; // -253..253
  readonly reverse: boolean;
  readonly loc: SourceLoc;
}

/** TrackedScript is a track_script entry; weight undefined = the vrrp_script's own weight. */
export interface TrackedScript {
  readonly name: string;
  readonly weight?: number; // -253..253
  readonly reverse?: boolean; // undefined = the script's own
  readonly loc: SourceLoc;
}

/** Notifies are the scripts keepalived runs after a state change (fire and forget). */
export interface Notifies {
  readonly master?: ScriptCommand;
  readonly backup?: ScriptCommand;
  readonly fault?: ScriptCommand;
  readonly stop?: ScriptCommand;
  readonly deleted?: ScriptCommand; // instance only
  readonly masterRxLowerPri?: ScriptCommand; // instance only
  readonly generic?: ScriptCommand; // `notify`: gets "INSTANCE"|"GROUP", name, state, priority appended
}

/** UnicastPeer is a unicast_peer entry. */
export interface UnicastPeer {
  readonly address: string;
  readonly minTtl?: number;
  readonly maxTtl?: number;
  readonly loc: SourceLoc;
}

/** VrrpInstance is one vrrp_instance after keepalived's defaults and checks (vrrp_complete_instance). */
export interface VrrpInstance {
  readonly name: string;
  readonly loc: SourceLoc;
  readonly family: Family; // from native_ipv6, the source address or the first VIP; IPv4 when none
  readonly version: 2 | 3;
  readonly initialState: 'MASTER' | 'BACKUP';
  readonly interface?: string; // undefined only for unicast instances with unicast_src_ip
  readonly virtualRouterId: number; // 1..255
  readonly priority: number; // 1..255 (default 100; 255 when state MASTER is written without priority)
  readonly advertIntervalUs: number; // v2: whole seconds 1..255; v3: multiple of 10 ms, < 40.96 s
  readonly preempt: boolean; // false with nopreempt
  readonly preemptDelayUs: number; // 0..1000 s
  readonly accept: boolean; // accept mode (default true unless strict and not owner)
  readonly strict: boolean;
  readonly virtualAddresses: readonly VirtualAddress[];
  readonly excludedAddresses: readonly VirtualAddress[];
  readonly sourceAddress?: string; // mcast_src_ip / unicast_src_ip
  readonly mcastDestination?: string; // mcast_dst_ip; undefined = the global group of the family
  readonly unicastPeers: readonly UnicastPeer[];
  readonly unicastTtl?: number; // IPv4 unicast TTL (default 255)
  readonly checkUnicastSrc: boolean;
  readonly unicastFaultNoPeer: boolean;
  readonly vmac?: { readonly name?: string; readonly mac?: string; readonly xmitBase: boolean };
  readonly trackInterfaces: readonly TrackedInterface[];
  readonly trackScripts: readonly TrackedScript[];
  readonly dontTrackPrimary: boolean;
  readonly notify: Notifies;
  readonly notifyPriorityChanges: boolean;
  readonly auth?: { readonly type: 'PASS' | 'AH'; readonly password: string };
  readonly garpMasterDelayUs: number;
  readonly garpMasterRepeat: number;
  readonly garpMasterRefreshUs: number;
  readonly garpMasterRefreshRepeat: number;
  readonly garpLowerPrioDelayUs: number;
  readonly garpLowerPrioRepeat: number;
  readonly downTimerAdverts: number;
  readonly lowerPrioNoAdvert: boolean;
  readonly higherPrioSendAdvert: boolean;
  readonly skipCheckAdvAddr: boolean;
  readonly nativeIpv6: boolean;
  readonly promoteSecondaries: boolean;
  readonly syncGroup?: string; // the vrrp_sync_group it belongs to
  readonly debug?: number; // 0..4, accepted and ignored
}

/** SyncGroup is a vrrp_sync_group: its members change state together. */
export interface SyncGroup {
  readonly name: string;
  readonly loc: SourceLoc;
  readonly instances: readonly string[];
  readonly trackInterfaces: readonly TrackedInterface[];
  readonly trackScripts: readonly TrackedScript[];
  readonly notify: Notifies;
  readonly notifyPriorityChanges?: boolean;
  readonly trackingWeight: boolean; // sync_group_tracking_weight: members keep their weighted tracking
}

/** VrrpScript is a vrrp_script: a command run every interval whose exit status is tracked. */
export interface VrrpScript {
  readonly name: string;
  readonly loc: SourceLoc;
  readonly command: ScriptCommand;
  readonly intervalUs: number; // default 1 s (whole seconds in 2.2.7)
  readonly timeoutUs?: number; // undefined = the interval
  readonly weight: number; // -253..253, default 0 (0 = FAULT on failure)
  readonly reverse: boolean;
  readonly rise: number; // default 1
  readonly fall: number; // default 1
  readonly initFail: boolean; // start in the failed state
  readonly user?: string;
  readonly group?: string;
}

/** KeepalivedConfig is the whole VRRP configuration. */
export interface KeepalivedConfig {
  readonly files: readonly string[]; // every file read, main file first, in reading order
  readonly global: GlobalDefs;
  readonly instances: readonly VrrpInstance[];
  readonly syncGroups: readonly SyncGroup[];
  readonly scripts: readonly VrrpScript[];
}
