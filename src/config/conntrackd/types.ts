import type { SourceLoc } from '../error.js';
import type { Family } from '../../wire/ip.js';
import type { TcpStateName } from './keywords.js';

/**
 * The typed result of reading a conntrackd.conf (conntrackd 1.4.7 semantics, its defaults filled in).
 * Plain readonly data; "not set" is `undefined`, never 0. Addresses are canonical text (wire/ip.ts).
 * Every settings object carries `at`: for each field set in the file, where its keyword is, so the
 * daemon can point at the line of a setting it cannot honour (and unsupportedFeatures can list them).
 */

/** LocMap records where each explicitly set field of a settings object was written. */
export type LocMap<K extends string> = { readonly [P in K]?: SourceLoc };

/** SyslogFacility is one of the facilities conntrackd accepts for Syslog. */
export type SyslogFacility = 'daemon' | 'local0' | 'local1' | 'local2' | 'local3' | 'local4' | 'local5' | 'local6' | 'local7';

/** FilterPolicy: 'accept' replicates only what matches; 'ignore' replicates all but what matches. */
export type FilterPolicy = 'accept' | 'ignore';

/** AddressMatch is one Filter Address entry: a network (host bits cleared) and its prefix length. */
export interface AddressMatch {
  readonly address: string;
  readonly prefixLength: number; // 32 / 128 for a single address
  readonly loc: SourceLoc;
}

/** MarkMatch is one Filter Mark entry (keepstate's addition): an entry matches when (mark & mask) === value. */
export interface MarkMatch {
  readonly value: number; // already masked: value & mask
  readonly mask: number; // 0xffffffff when not written
  readonly loc: SourceLoc;
}

/** FilterConfig is General's Filter block(s): which flows are replicated (§5.7). */
export interface FilterConfig {
  readonly loc: SourceLoc; // the first Filter keyword
  readonly from: 'userspace' | 'kernelspace';
  readonly protocol?: { readonly policy: FilterPolicy; readonly protocols: readonly number[]; readonly loc: SourceLoc }; // IPPROTO_*
  readonly address?: {
    readonly policy: FilterPolicy;
    readonly ipv4: readonly AddressMatch[];
    readonly ipv6: readonly AddressMatch[];
    readonly loc: SourceLoc;
  };
  readonly state?: { readonly policy: FilterPolicy; readonly tcpStates: readonly TcpStateName[]; readonly loc: SourceLoc };
  readonly mark?: { readonly policy: FilterPolicy; readonly marks: readonly MarkMatch[]; readonly loc: SourceLoc }; // keepstate
}

/** SchedulerConfig is the real-time policy the daemon asks for (conntrackd default: RR at the maximum, 99). */
export interface SchedulerConfig {
  readonly policy: 'RR' | 'FIFO';
  readonly priority: number; // 1..99
}

/** GeneralSettings is the General section. */
export interface GeneralSettings {
  readonly hashSize: number; // buckets per cache; default 65536
  readonly hashLimit: number; // max entries per cache; default 262144
  readonly logFile: string | undefined; // `LogFile on` = /var/log/conntrackd.log; default off
  readonly syslogFacility: SyslogFacility | undefined; // `Syslog on` = daemon; default off
  readonly lockFile: string; // default /var/lock/conntrackd.lock
  readonly unixPath: string | undefined; // UNIX { Path }; conntrackd has no default
  readonly netlinkBufferSize: number | undefined; // bytes; applied only if ≤ netlinkBufferSizeMaxGrowth
  readonly netlinkBufferSizeMaxGrowth: number | undefined; // bytes; undefined: the buffer never grows
  readonly netlinkOverrunResyncSec: number | undefined; // default 30; undefined: `off`
  readonly netlinkEventsReliable: boolean; // default off
  readonly eventIterationLimit: number; // events per loop turn; default 100
  readonly pollSecs: number | undefined; // polling period (s); undefined: event mode
  readonly scheduler: SchedulerConfig;
  readonly systemd: boolean; // default on (Debian builds conntrackd with systemd)
  readonly filter: FilterConfig | undefined;
}
export type GeneralConfig = GeneralSettings & { readonly at: LocMap<keyof GeneralSettings | 'nice' | 'unixBacklog'> };

/** ChannelSettings are what every dedicated-link block has. */
interface ChannelSettings {
  readonly interface: string; // Interface: MTU, ifindex, IPv6 scope
  readonly family: Family;
  readonly sndSocketBuffer: number | undefined; // bytes, SO_SNDBUFFORCE; undefined: system default
  readonly rcvSocketBuffer: number | undefined; // bytes, SO_RCVBUFFORCE; undefined: system default
  readonly checksum: boolean; // UDP checksum; default on
}

/** MulticastSettings is a Multicast block. */
export interface MulticastSettings extends ChannelSettings {
  readonly group: string; // IPv4_address / IPv6_address: the multicast group
  readonly port: number; // Group (it is the UDP port)
  readonly interfaceAddress: string | undefined; // IPv4_interface: join and send from this address (IPv4 only)
}

/** UnicastSettings is a UDP or TCP block. */
export interface UnicastSettings extends ChannelSettings {
  readonly localAddress: string | undefined; // IPv4_address / IPv6_address: bind/listen address; undefined: any
  readonly peerAddress: string; // IPv4_Destination_Address / IPv6_Destination_Address
  readonly port: number; // Port: local and remote
}

interface ChannelHeader {
  readonly loc: SourceLoc; // the Multicast/UDP/TCP keyword
  readonly isDefault: boolean; // marked `Default` (the first channel is current when none is)
}
export type MulticastChannel = ChannelHeader & MulticastSettings & { readonly kind: 'multicast'; readonly at: LocMap<keyof MulticastSettings> };
export type UdpChannel = ChannelHeader & UnicastSettings & { readonly kind: 'udp'; readonly at: LocMap<keyof UnicastSettings> };
export type TcpChannel = ChannelHeader & UnicastSettings & { readonly kind: 'tcp'; readonly at: LocMap<keyof UnicastSettings> };

/** Channel is one dedicated link (§2.1). All channels of a configuration have the same kind. */
export type Channel = MulticastChannel | UdpChannel | TcpChannel;

/** SyncProtocol is the replication protocol of the Mode block. */
export type SyncProtocol = 'ftfw' | 'alarm' | 'notrack';

/** ExpectationSync: off, on for every helper, or on for the expectations of some helpers (prefix match, any case). */
export type ExpectationSync =
  | { readonly enabled: false }
  | { readonly enabled: true; readonly helpers: readonly string[] | undefined };

/** SyncSettings is the Sync section with its Mode and Options blocks. */
export interface SyncSettings {
  readonly protocol: SyncProtocol; // default ftfw
  readonly resendQueueSize: number; // FTFW; default 131072
  readonly ackWindowSize: number; // FTFW; default 300
  readonly refreshTimeSec: number; // ALARM; default 60
  readonly cacheTimeoutSec: number; // ALARM; default 180
  readonly commitTimeoutSec: number | undefined; // undefined: estimate from the last message
  readonly purgeTimeoutSec: number; // default 60
  readonly disableExternalCache: boolean;
  readonly disableInternalCache: boolean; // NOTRACK only
  readonly startupResync: boolean; // FTFW and NOTRACK
  readonly tcpWindowTracking: boolean;
  readonly expectationSync: ExpectationSync;
  readonly errorQueueLength: number; // TCP channels; default 128
  readonly channels: readonly Channel[]; // 1..4, one kind
  readonly defaultChannel: number; // index into channels
}
export type SyncConfig = SyncSettings & { readonly loc: SourceLoc; readonly at: LocMap<keyof SyncSettings> };

/** StatsSettings is the Stats section (flow logging mode). */
export interface StatsSettings {
  readonly logFile: string | undefined; // `LogFile on` = /var/log/conntrackd-stats.log
  readonly syslogFacility: SyslogFacility | undefined;
}
export type StatsConfig = StatsSettings & { readonly loc: SourceLoc; readonly at: LocMap<keyof StatsSettings> };

/** HelperPolicyConfig is a helper's expectation policy. */
export interface HelperPolicyConfig {
  readonly loc: SourceLoc;
  readonly name: string;
  readonly expectMax: number | undefined;
  readonly expectTimeoutSec: number | undefined;
}

/** HelperTypeConfig is one `Type NAME inet|inet6 tcp|udp { … }` of the Helper section. */
export interface HelperTypeConfig {
  readonly loc: SourceLoc;
  readonly name: string;
  readonly l3: 'inet' | 'inet6';
  readonly l4: 'tcp' | 'udp';
  readonly queueNum: number | undefined;
  readonly queueLen: number | undefined; // undefined: the kernel's default
  readonly policies: readonly HelperPolicyConfig[];
}

/** HelperConfig is the Helper section (user-space helpers; unrelated to replication). */
export interface HelperConfig {
  readonly loc: SourceLoc;
  readonly setup: boolean; // default off
  readonly types: readonly HelperTypeConfig[];
}

/**
 * ConntrackdConfig is a whole conntrackd.conf. `mode` is what conntrackd 1.4.7 runs: 'sync' with a Sync
 * section, 'stats' with a Stats section, and 'none' without either (it then only serves its control
 * socket and helpers: the "No running mode specified, defaulting to statistics mode" branch of
 * conntrackd is unreachable in 1.4.7).
 */
export interface ConntrackdConfig {
  readonly file: string;
  readonly mode: 'sync' | 'stats' | 'none';
  readonly general: GeneralConfig;
  readonly sync: SyncConfig | undefined;
  readonly stats: StatsConfig | undefined;
  readonly helper: HelperConfig | undefined;
}
