/**
 * The statistics the daemon fills and the control socket shows (`-s` and its views,
 * conntrackd-protocol.md §4.5). Each type holds the counters of one conntrackd block, with the C
 * field it mirrors; format.ts turns them into conntrackd 1.4.7's text, byte for byte, and into
 * JSON. Plain readonly data: 32-bit counters are numbers, 64-bit ones (conntrackd's uint64_t) are
 * bigint, as house-style R5 asks. A counter the daemon does not keep is 0, as in conntrackd, whose
 * counters start at 0 and are always printed.
 */

/** CacheStats are a cache's counters (struct cache's `stats`, cache.c). */
export interface CacheStats {
  /** The cache name printed in the headers: "internal", "external", or "stats" in stats mode. */
  readonly name: string;
  /** active: entries that are not dead ("current active connections"). */
  readonly active: number;
  /** objects: allocated objects, dead ones kept for the protocol included ("active objects"). */
  readonly objects: number;
  /** entries: entries in the hash table (hashtable_counter, the "total" of "active/total entries"). */
  readonly entries: number;
  readonly addOk: number;
  readonly addFail: number;
  readonly addFailEnomem: number; // "no memory available"
  readonly addFailEnospc: number; // "no space left in cache": HashLimit reached
  readonly updOk: number;
  readonly updFail: number;
  readonly updFailEnoent: number;
  readonly delOk: number;
  readonly delFail: number;
  readonly delFailEnoent: number;
}

/** BypassStats are the "internal bypass" counters (DisableInternalCache: events go straight to the peers). */
export interface BypassStats {
  readonly new: number;
  readonly upd: number;
  readonly del: number;
}

/** InjectStats are the "external inject" counters (DisableExternalCache: received entries go straight to the kernel). */
export interface InjectStats {
  readonly addOk: number;
  readonly addFail: number;
  readonly updOk: number;
  readonly updFail: number;
  readonly delOk: number;
  readonly delFail: number;
}

/** InternalSideStats: the internal cache, or its bypass when DisableInternalCache is on. */
export type InternalSideStats = ({ readonly kind: 'cache' } & CacheStats) | ({ readonly kind: 'bypass' } & BypassStats);

/** ExternalSideStats: the external cache, or its direct injection when DisableExternalCache is on. */
export type ExternalSideStats = ({ readonly kind: 'cache' } & CacheStats) | ({ readonly kind: 'inject' } & InjectStats);

/**
 * TrafficStats is "traffic processed": the counters of the flows whose DESTROY event reached the
 * daemon, both directions summed (only non-zero when the kernel has nf_conntrack_acct on).
 * conntrackd adds the low 32 bits of each counter (nfct_get_attr_u32 on 64-bit attributes).
 */
export interface TrafficStats {
  readonly bytes: bigint;
  readonly packets: bigint;
}

/** LinkCounters are one direction of a channel (struct mcast_stats / udp_stats / tcp_stats). */
export interface LinkCounters {
  readonly bytes: bigint;
  readonly messages: bigint; // printed as "Pckts"
  readonly errors: bigint;
}

/** LinkStatus is the interface state `-s link` shows: IFF_UP and IFF_RUNNING → RUNNING, up without carrier → NO-CARRIER, else DOWN. */
export type LinkStatus = 'RUNNING' | 'NO-CARRIER' | 'DOWN';

interface ChannelStatsBase {
  /** ifname: the channel's Interface (if_indextoname of its ifindex). */
  readonly ifname: string;
  readonly status: LinkStatus;
  readonly sent: LinkCounters;
  readonly recv: LinkCounters;
}

/** ChannelStats are one dedicated link's counters; TCP channels also say whether each side is connected. */
export type ChannelStats =
  | (ChannelStatsBase & { readonly kind: 'multicast' | 'udp' })
  | (ChannelStatsBase & { readonly kind: 'tcp'; readonly serverConnected: boolean; readonly clientConnected: boolean });

/** LinkStats are every configured channel, in configuration order, and which one is in use. */
export interface LinkStats {
  readonly channels: readonly ChannelStats[];
  /** current: index in `channels` of the channel messages go through (role ACTIVE; the others are BACKUP). */
  readonly current: number;
}

/** NetworkStats are the sync receive/send error counters (struct ct_sync_state's `error`). */
export interface NetworkStats {
  readonly rcvMalformed: bigint; // msg_rcv_malformed: every rejected message ("Malformed msgs")
  readonly rcvBadVersion: number;
  readonly rcvBadHeader: number;
  readonly rcvBadPayload: number;
  readonly rcvBadType: number;
  readonly rcvTruncated: number;
  readonly rcvBadSize: number;
  readonly sndMalformed: number;
  readonly rcvLost: bigint; // sequence numbers never received ("Lost msgs", "Packets lost")
  readonly rcvBefore: bigint; // messages with an old sequence number ("Packets before")
}

/** RuntimeStats are `-s runtime`: uptime, netlink and process counters (STATE(stats), run.c). */
export interface RuntimeStats {
  /** uptimeSec: seconds since initialisation completed. */
  readonly uptimeSec: number;
  readonly nlEventsReceived: bigint;
  readonly nlEventsFiltered: bigint;
  readonly nlEventsUnknownType: number;
  readonly nlCatchEventFailed: number;
  readonly nlDumpUnknownType: number;
  readonly nlOverrun: number; // ENOBUFS on the event socket
  readonly nlKernelTableFlush: number;
  readonly nlKernelTableResync: number;
  /** netlinkBufferSize: the event socket's receive buffer now, in bytes (it grows on overruns). */
  readonly netlinkBufferSize: number;
  readonly childProcessFailed: number;
  readonly childProcessSegfault: number;
  readonly childProcessTermsig: number;
  readonly selectFailed: number;
  readonly waitFailed: number;
  /** localReadFailed: control connections that sent no complete request (ControlStats short reads and time-outs). */
  readonly localReadFailed: number;
  /** localUnknownRequest: control requests with a code the daemon does not know. */
  readonly localUnknownRequest: number;
}

/** QueueStats are `-s queue`: the queue-node count and each queue (txqueue, errorq with TCP channels, rsqueue with FTFW). */
export interface QueueStats {
  readonly allocatedNodes: number; // qobjects_num
  /** queues, in the order conntrackd lists them: txqueue, errorq, rsqueue. */
  readonly queues: readonly { readonly name: string; readonly current: number; readonly max: number; readonly enospc: number }[];
}

/** RsQueueEntry is one node of FTFW's resend queue: an object (data message) or a control message (ACK, NACK…; flags as in the header, decimal). */
export type RsQueueEntry = { readonly kind: 'object'; readonly seq: number } | { readonly kind: 'control'; readonly seq: number; readonly flags: number };

/** ProcessEntry is one live child process (`-s process`): conntrackd forks for dumps, flushes and commits. */
export interface ProcessEntry {
  readonly pid: number;
  readonly type: 'any' | 'flush' | 'commit';
}

/** ExpectStats are the expectation caches' counters (`-s expect`, only with ExpectationSync). */
export interface ExpectStats {
  readonly internal: InternalSideStats;
  readonly external: ExternalSideStats;
}

/**
 * DaemonStats is a snapshot of everything the stats views print, by running mode (what the daemon
 * runs, ConntrackdConfig.mode). `formatStatsReply` picks from it what conntrackd 1.4.7 prints for
 * each request in that mode.
 */
export type DaemonStats = SyncDaemonStats | StatsModeDaemonStats | NoModeDaemonStats;

/** SyncDaemonStats: a Sync section (FTFW, ALARM or NOTRACK). */
export interface SyncDaemonStats {
  readonly mode: 'sync';
  readonly protocol: 'ftfw' | 'alarm' | 'notrack';
  readonly internal: InternalSideStats;
  readonly external: ExternalSideStats;
  /** expect: undefined when ExpectationSync is off (then `-s expect` prints nothing). */
  readonly expect: ExpectStats | undefined;
  readonly traffic: TrafficStats;
  readonly network: NetworkStats;
  readonly link: LinkStats;
  readonly queues: QueueStats;
  /** rsqueue: FTFW's resend queue, oldest first; undefined for ALARM and NOTRACK (no output). */
  readonly rsqueue: readonly RsQueueEntry[] | undefined;
  readonly runtime: RuntimeStats;
  readonly processes: readonly ProcessEntry[];
}

/** StatsModeDaemonStats: a Stats section (flow logging, one cache named "stats"). */
export interface StatsModeDaemonStats {
  readonly mode: 'stats';
  readonly cache: CacheStats;
  readonly traffic: TrafficStats;
  readonly runtime: RuntimeStats;
  readonly processes: readonly ProcessEntry[];
}

/** NoModeDaemonStats: neither Sync nor Stats (helpers only): only runtime and process are answered. */
export interface NoModeDaemonStats {
  readonly mode: 'none';
  readonly runtime: RuntimeStats;
  readonly processes: readonly ProcessEntry[];
}

/** zeroCacheStats is a cache named `name` with every counter at 0. */
export function zeroCacheStats(name: string): CacheStats {
  return {
    name,
    active: 0,
    objects: 0,
    entries: 0,
    addOk: 0,
    addFail: 0,
    addFailEnomem: 0,
    addFailEnospc: 0,
    updOk: 0,
    updFail: 0,
    updFailEnoent: 0,
    delOk: 0,
    delFail: 0,
    delFailEnoent: 0,
  };
}

/** ZERO_NETWORK_STATS has every sync error counter at 0. */
export const ZERO_NETWORK_STATS: NetworkStats = {
  rcvMalformed: 0n,
  rcvBadVersion: 0,
  rcvBadHeader: 0,
  rcvBadPayload: 0,
  rcvBadType: 0,
  rcvTruncated: 0,
  rcvBadSize: 0,
  sndMalformed: 0,
  rcvLost: 0n,
  rcvBefore: 0n,
};

/** ZERO_LINK_COUNTERS is one idle channel direction. */
export const ZERO_LINK_COUNTERS: LinkCounters = { bytes: 0n, messages: 0n, errors: 0n };
