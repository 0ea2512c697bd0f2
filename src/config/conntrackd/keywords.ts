import type { ModeName, ReservedWord } from './lexer.js';

/**
 * The grammar of conntrackd.conf as data (house-style R14: one table): for every block, the keywords it
 * accepts, the shape of their arguments and the block each opens. It follows conntrackd 1.4.7's bison
 * grammar (src/read_config_yy.y) block by block, with three deliberate restrictions listed in README.md
 * (QueueNum/QueueLen/Policy only inside a helper Type block, no nested helper Type). The parser reads
 * it; schema.ts gives each keyword its meaning and is checked by the compiler to cover every entry.
 */

/** ContextName names a block of the grammar ('top' is the file itself). */
export type ContextName =
  | 'top'
  | 'General'
  | 'UNIX'
  | 'Scheduler'
  | 'Filter'
  | 'FilterProtocol'
  | 'FilterAddress'
  | 'FilterState'
  | 'FilterMark'
  | 'Sync'
  | 'ModeFTFW'
  | 'ModeALARM'
  | 'ModeNOTRACK'
  | 'Multicast'
  | 'UDP'
  | 'TCP'
  | 'Options'
  | 'ExpectationSync'
  | 'Stats'
  | 'Helper'
  | 'HelperType'
  | 'HelperPolicy';

/** ArgSpec is one argument: a token kind, one of some reserved words, or one mode name. */
export type ArgSpec =
  | 'bool' // on/off/yes/no, any case
  | 'number' // unsigned decimal
  | 'signed' // decimal with a mandatory sign
  | 'path' // starts with '/'
  | 'ip' // IPv4 or IPv6 text, optional /prefix
  | 'string' // [A-Za-z][A-Za-z0-9._-]*
  | 'mark' // keepstate: 0xHEX[/MASK] or DECIMAL/0xHEX (a plain decimal is a 'number')
  | { readonly word: readonly ReservedWord[] }
  | { readonly mode: ModeName };

/** Form is one way to write a statement: its arguments, then optionally a block of the given context. */
export interface Form {
  readonly args: readonly ArgSpec[];
  readonly block?: ContextName;
}

/** KeywordRule lists the accepted forms of a keyword in one block and says what it means. */
export interface KeywordRule {
  readonly forms: readonly Form[];
  readonly doc: string;
}

/** ContextSpec is a block: a list of statements, a list of plain items, or Filter's TCP state list. */
export type ContextSpec =
  | { readonly title: string; readonly kind: 'statements'; readonly keywords: { readonly [k: string]: KeywordRule } }
  | { readonly title: string; readonly kind: 'items'; readonly items: readonly ArgSpec[]; readonly itemDoc: string }
  | { readonly title: string; readonly kind: 'tcpStates' };

const num = (doc: string): KeywordRule => ({ forms: [{ args: ['number'] }], doc });
const bool = (doc: string): KeywordRule => ({ forms: [{ args: ['bool'] }], doc });
const ip = (doc: string): KeywordRule => ({ forms: [{ args: ['ip'] }], doc });
const block = (context: ContextName, doc: string): KeywordRule => ({ forms: [{ args: [], block: context }], doc });
const channel = (context: ContextName, doc: string): KeywordRule => ({
  forms: [
    { args: [], block: context },
    { args: [{ word: ['Default'] }], block: context },
  ],
  doc,
});
const policy = (context: ContextName, doc: string): KeywordRule => ({
  forms: [{ args: [{ word: ['Accept', 'Ignore'] }], block: context }],
  doc,
});

const commitTimeout = num('CommitTimeout N: timeout (s) given to committed entries; default: remaining time estimated from the last message');
const purgeTimeout = num('PurgeTimeout N: delay (s) before the flush scheduled by -t; default 60');
const refreshTime = num('RefreshTime N: ALARM refresh period (s); default 60');
const cacheTimeout = num('CacheTimeout N: ALARM external-cache expiry (s); default 180');
const disableExternalCache = bool('DisableExternalCache on|off: inject received state into the kernel at once; default off');
const startupResync = bool('StartupResync on|off: ask the peer for a full resync at start-up; default off');
const logFile = (dflt: string): KeywordRule => ({
  forms: [{ args: ['bool'] }, { args: ['path'] }],
  doc: `LogFile on|off|/path: log file (on = ${dflt}); default off`,
});
const syslog: KeywordRule = {
  forms: [{ args: ['bool'] }, { args: ['string'] }],
  doc: 'Syslog on|off|daemon|local0..local7: log to syslog (on = daemon); default off',
};
const channelCommon = {
  Interface: { forms: [{ args: ['string'] }], doc: 'Interface NAME: the dedicated link (MTU, ifindex, IPv6 scope)' },
  SndSocketBuffer: num('SndSocketBuffer BYTES: SO_SNDBUFFORCE; default: system default'),
  RcvSocketBuffer: num('RcvSocketBuffer BYTES: SO_RCVBUFFORCE; default: system default'),
  Checksum: bool('Checksum on|off: UDP checksum (off sets SO_NO_CHECK); default on'),
} as const;
const unicastCommon = {
  IPv4_address: ip('IPv4_address A: local address to bind or listen on'),
  IPv6_address: ip('IPv6_address A: local address to bind or listen on'),
  IPv4_Destination_Address: ip('IPv4_Destination_Address A: the peer'),
  IPv6_Destination_Address: ip('IPv6_Destination_Address A: the peer'),
  Port: num('Port N: UDP/TCP port, both local and the peer\'s'),
  ...channelCommon,
} as const;

/** CONTEXTS is the whole grammar: every block of conntrackd.conf and what it may contain. */
export const CONTEXTS = {
  top: {
    title: 'the top level',
    kind: 'statements',
    keywords: {
      General: block('General', 'General { … }: daemon-wide settings'),
      Sync: block('Sync', 'Sync { … }: state replication (mutually exclusive with Stats)'),
      Stats: block('Stats', 'Stats { … }: flow statistics logging (mutually exclusive with Sync)'),
      Helper: block('Helper', 'Helper { … }: user-space conntrack helpers over NFQUEUE'),
    },
  },
  General: {
    title: 'General',
    kind: 'statements',
    keywords: {
      HashSize: num('HashSize N: hash buckets per cache; default 65536'),
      HashLimit: num('HashLimit N: maximum entries per cache; default 262144'),
      LogFile: logFile('/var/log/conntrackd.log'),
      Syslog: syslog,
      LockFile: { forms: [{ args: ['path'] }], doc: 'LockFile /path: default /var/lock/conntrackd.lock' },
      UNIX: block('UNIX', 'UNIX { Path /path }: the control socket'),
      NetlinkBufferSize: num('NetlinkBufferSize BYTES: event socket buffer; applied only with NetlinkBufferSizeMaxGrowth ≥ it'),
      NetlinkBufferSizeMaxGrowth: num('NetlinkBufferSizeMaxGrowth BYTES: the buffer may double up to this on overrun'),
      EventIterationLimit: num('EventIterationLimit N: events handled per loop turn; default 100'),
      PollSecs: num('PollSecs N: poll the kernel table every N s instead of listening to events'),
      Filter: {
        forms: [
          { args: [], block: 'Filter' },
          { args: [{ word: ['From'] }, { word: ['Userspace', 'Kernelspace'] }], block: 'Filter' },
        ],
        doc: 'Filter [From Userspace|Kernelspace] { … }: which flows are replicated',
      },
      NetlinkOverrunResync: {
        forms: [{ args: ['bool'] }, { args: ['number'] }],
        doc: 'NetlinkOverrunResync on|off|N: resync N s after an event overrun (on = 30); default 30',
      },
      NetlinkEventsReliable: bool('NetlinkEventsReliable on|off: reliable event delivery; default off'),
      Nice: { forms: [{ args: ['signed'] }], doc: 'Nice ±N: deprecated and ignored' },
      Scheduler: block('Scheduler', 'Scheduler { Type RR|FIFO Priority N }: default RR at priority 99'),
      Systemd: bool('Systemd on|off: sd_notify support; default on'),
    },
  },
  UNIX: {
    title: 'UNIX',
    kind: 'statements',
    keywords: {
      Path: { forms: [{ args: ['path'] }], doc: 'Path /path: control socket path (at most 107 bytes)' },
      Backlog: num('Backlog N: deprecated and ignored'),
    },
  },
  Scheduler: {
    title: 'Scheduler',
    kind: 'statements',
    keywords: {
      Type: { forms: [{ args: ['string'] }], doc: 'Type RR|FIFO: real-time scheduling policy (any case)' },
      Priority: num('Priority N: real-time priority 1..99'),
    },
  },
  Filter: {
    title: 'Filter',
    kind: 'statements',
    keywords: {
      Protocol: policy('FilterProtocol', 'Protocol Accept|Ignore { names }: filter on the layer-4 protocol'),
      Address: policy('FilterAddress', 'Address Accept|Ignore { IPv4_address A … }: filter on addresses'),
      State: policy('FilterState', 'State Accept|Ignore { STATES for TCP }: filter on the TCP state'),
      Mark: policy('FilterMark', 'Mark Accept|Ignore { VALUE[/MASK] … }: filter on the conntrack mark (keepstate; not in conntrackd)'),
    },
  },
  FilterMark: {
    title: 'Filter Mark',
    kind: 'items',
    items: ['number', 'mark'],
    itemDoc: 'a mark VALUE or VALUE/MASK (decimal, or hexadecimal with 0x; a decimal value needs a 0x mask: 5/0xff)',
  },
  FilterProtocol: {
    title: 'Filter Protocol',
    kind: 'items',
    items: ['string', { word: ['TCP', 'UDP'] }],
    itemDoc: 'a protocol name from /etc/protocols (TCP, UDP, SCTP, DCCP, ICMP, IPv6-ICMP, …)',
  },
  FilterAddress: {
    title: 'Filter Address',
    kind: 'statements',
    keywords: {
      IPv4_address: ip('IPv4_address A[/N]: an IPv4 address or network'),
      IPv6_address: ip('IPv6_address A[/N]: an IPv6 address or network'),
    },
  },
  FilterState: { title: 'Filter State', kind: 'tcpStates' },
  Sync: {
    title: 'Sync',
    kind: 'statements',
    keywords: {
      RefreshTime: refreshTime,
      CacheTimeout: cacheTimeout,
      CommitTimeout: commitTimeout,
      PurgeTimeout: purgeTimeout,
      Multicast: channel('Multicast', 'Multicast [Default] { … }: a multicast dedicated link'),
      UDP: channel('UDP', 'UDP [Default] { … }: a unicast UDP dedicated link'),
      TCP: channel('TCP', 'TCP [Default] { … }: a TCP dedicated link'),
      Mode: {
        forms: [
          { args: [{ mode: 'FTFW' }], block: 'ModeFTFW' },
          { args: [{ mode: 'ALARM' }], block: 'ModeALARM' },
          { args: [{ mode: 'NOTRACK' }], block: 'ModeNOTRACK' },
        ],
        doc: 'Mode FTFW|ALARM|NOTRACK { … }: the replication protocol; default FTFW',
      },
      Options: block('Options', 'Options { TCPWindowTracking on|off  ExpectationSync on|off|{ helpers } }'),
    },
  },
  ModeFTFW: {
    title: 'Mode FTFW',
    kind: 'statements',
    keywords: {
      ResendQueueSize: num('ResendQueueSize N: resend queue length (objects); default 131072'),
      CommitTimeout: commitTimeout,
      PurgeTimeout: purgeTimeout,
      ACKWindowSize: num('ACKWindowSize N: messages between acknowledgements; default 300'),
      DisableExternalCache: disableExternalCache,
      StartupResync: startupResync,
    },
  },
  ModeALARM: {
    title: 'Mode ALARM',
    kind: 'statements',
    keywords: {
      RefreshTime: refreshTime,
      CacheTimeout: cacheTimeout,
      CommitTimeout: commitTimeout,
      PurgeTimeout: purgeTimeout,
    },
  },
  ModeNOTRACK: {
    title: 'Mode NOTRACK',
    kind: 'statements',
    keywords: {
      CommitTimeout: commitTimeout,
      PurgeTimeout: purgeTimeout,
      DisableInternalCache: bool('DisableInternalCache on|off: no local cache, send every event at once; default off'),
      DisableExternalCache: disableExternalCache,
      StartupResync: startupResync,
    },
  },
  Multicast: {
    title: 'Multicast',
    kind: 'statements',
    keywords: {
      IPv4_address: ip('IPv4_address G: the multicast group'),
      IPv6_address: ip('IPv6_address G: the multicast group'),
      IPv4_interface: ip('IPv4_interface A: local address used to join and send'),
      IPv6_interface: ip('IPv6_interface A: ignored (the Interface index is used)'),
      Group: num('Group N: the UDP port (despite its name)'),
      ...channelCommon,
    },
  },
  UDP: { title: 'UDP', kind: 'statements', keywords: unicastCommon },
  TCP: {
    title: 'TCP',
    kind: 'statements',
    keywords: {
      ...unicastCommon,
      ErrorQueueLength: num('ErrorQueueLength N: buffers kept while the peer is unreachable; default 128'),
    },
  },
  Options: {
    title: 'Options',
    kind: 'statements',
    keywords: {
      TCPWindowTracking: bool('TCPWindowTracking on|off: keep TCP window tracking on committed entries; default off'),
      ExpectationSync: {
        forms: [{ args: ['bool'] }, { args: [], block: 'ExpectationSync' }],
        doc: 'ExpectationSync on|off|{ helper names }: replicate expectations; default off',
      },
    },
  },
  ExpectationSync: {
    title: 'ExpectationSync',
    kind: 'items',
    items: ['string'],
    itemDoc: 'a helper name (ftp, sip, h323, …)',
  },
  Stats: {
    title: 'Stats',
    kind: 'statements',
    keywords: { LogFile: logFile('/var/log/conntrackd-stats.log'), Syslog: syslog },
  },
  Helper: {
    title: 'Helper',
    kind: 'statements',
    keywords: {
      Type: {
        forms: [{ args: ['string', 'string', 'string'], block: 'HelperType' }],
        doc: 'Type NAME inet|inet6 tcp|udp { … }: run the user-space helper NAME',
      },
      Setup: bool('Setup on|off: also create the kernel helper objects; default off'),
    },
  },
  HelperType: {
    title: 'Helper Type',
    kind: 'statements',
    keywords: {
      QueueNum: num('QueueNum N: NFQUEUE number'),
      QueueLen: num('QueueLen N: NFQUEUE length'),
      Policy: { forms: [{ args: ['string'], block: 'HelperPolicy' }], doc: 'Policy NAME { ExpectMax N ExpectTimeout S }' },
    },
  },
  HelperPolicy: {
    title: 'Helper Policy',
    kind: 'statements',
    keywords: {
      ExpectMax: num('ExpectMax N: maximum expectations per master'),
      ExpectTimeout: num('ExpectTimeout S: expectation timeout (s)'),
    },
  },
} as const satisfies { readonly [C in ContextName]: ContextSpec };


/**
 * KEEPSTATE_ONLY lists, as `Block.Keyword`, the statements keepstate adds to conntrackd 1.4.7's grammar
 * (conntrackd refuses them): tests that compare acceptance with the real conntrackd leave them out.
 */
export const KEEPSTATE_ONLY: ReadonlySet<string> = new Set(['Filter.Mark']);

/** StatementContext is a block made of keyword statements. */
export type StatementContext = {
  [C in ContextName]: (typeof CONTEXTS)[C] extends { kind: 'statements' } ? C : never;
}[ContextName];

/** KeywordOf<C> is a keyword accepted in the statement block C. */
export type KeywordOf<C extends StatementContext> = keyof (typeof CONTEXTS)[C]['keywords'] & ReservedWord;

/** TCP_STATES are the state names a Filter State block accepts (CLOSE is read as CLOSED). */
export const TCP_STATES = [
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSED',
  'LISTEN',
] as const satisfies readonly ReservedWord[];
export type TcpStateName = (typeof TCP_STATES)[number];

/** keywordRule returns the rule of `word` in block `ctx`, if the block accepts it. */
export function keywordRule(ctx: ContextName, word: string): KeywordRule | undefined {
  const spec: ContextSpec = CONTEXTS[ctx];
  if (spec.kind !== 'statements' || !Object.hasOwn(spec.keywords, word)) return undefined;
  return spec.keywords[word];
}

/** contextsAccepting lists the blocks that accept `word` as a statement keyword (for "misplaced" messages). */
export function contextsAccepting(word: string): ContextName[] {
  return (Object.keys(CONTEXTS) as ContextName[]).filter((c) => keywordRule(c, word) !== undefined);
}
