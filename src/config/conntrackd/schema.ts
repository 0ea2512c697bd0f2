import type { Diagnostics, SourceLoc } from '../error.js';
import type { Family } from '../../wire/ip.js';
import type { ArgValue, Block, ConfigAst, Statement } from './ast.js';
import type { KeywordOf, StatementContext, TcpStateName } from './keywords.js';
import { PROTOCOL_NUMBERS } from './protocols.js';
import type {
  AddressMatch,
  Channel,
  ConntrackdConfig,
  ExpectationSync,
  FilterConfig,
  FilterPolicy,
  GeneralSettings,
  MarkMatch,
  HelperConfig,
  HelperPolicyConfig,
  HelperTypeConfig,
  MulticastSettings,
  SchedulerConfig,
  StatsSettings,
  SyncProtocol,
  SyncSettings,
  SyslogFacility,
  UnicastSettings,
} from './types.js';
import { INT_MAX, addressArg, arg, boolArg, formatAddress, interfaceArg, maskAddress, numberArg, pathArg, type NumberRange } from './values.js';

/**
 * Schema: turns the AST into a ConntrackdConfig with conntrackd 1.4.7's defaults, checking every value
 * and every cross-field rule of §5. Where conntrackd only warns and ignores a bad value (or silently
 * replaces it), this is an error here; where conntrackd warns about something it accepts (old names,
 * ignored options), this adds a warning. Each keyword's meaning is one entry of a Handlers table (one
 * per block), which the compiler checks against the grammar table in keywords.ts.
 */

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type At<K extends string> = { [P in K]?: SourceLoc };

/** conntrackd 1.4.7's defaults (src/read_config_yy.y init_config and include/conntrackd.h). */
export const DEFAULTS = {
  hashSize: 65536,
  hashLimit: 262144,
  lockFile: '/var/lock/conntrackd.lock',
  logFileOn: '/var/log/conntrackd.log',
  statsLogFileOn: '/var/log/conntrackd-stats.log',
  syslogOn: 'daemon',
  netlinkOverrunResyncSec: 30,
  eventIterationLimit: 100,
  scheduler: { policy: 'RR', priority: 99 }, // sched_get_priority_max(SCHED_RR) on Linux
  systemd: true,
  resendQueueSize: 131072,
  ackWindowSize: 300,
  refreshTimeSec: 60,
  cacheTimeoutSec: 180,
  purgeTimeoutSec: 60,
  errorQueueLength: 128,
} as const;

const FILENAME_MAXLEN = 256; // LogFile, LockFile
const UNIX_PATH_MAX = 107; // sun_path minus its NUL
const MAX_CHANNELS = 4; // MULTICHANNEL_MAX
const HELPER_NAME_MAX = 16; // CTD_HELPER_NAME_LEN

const positive = (dflt: number | string): NumberRange => ({
  min: 1,
  max: INT_MAX,
  zero: `conntrackd 1.4.7 silently reads 0 as the default, ${dflt}; leave the line out for that`,
});
const PORT: NumberRange = { min: 1, max: 65535 };
const SOCKET_BUFFER = positive('the system default');

/** The user-space helpers conntrackd 1.4.7 ships (src/helpers), by name, with their layer-4 protocols. */
const KNOWN_HELPERS: Readonly<Record<string, readonly ('tcp' | 'udp')[]>> = {
  amanda: ['udp'],
  dhcpv6: ['udp'],
  ftp: ['tcp'],
  mdns: ['udp'],
  rpc: ['tcp', 'udp'],
  sane: ['tcp'],
  slp: ['udp'],
  ssdp: ['udp', 'tcp'],
  tftp: ['udp'],
  tns: ['tcp'],
};

const SYSLOG_FACILITIES: readonly SyslogFacility[] = ['daemon', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];

interface AddressFilterBuilder {
  policy: FilterPolicy;
  loc: SourceLoc;
  ipv4: AddressMatch[];
  ipv6: AddressMatch[];
  seen: Set<string>;
}

interface FilterBuilder {
  loc: SourceLoc;
  from?: { value: 'userspace' | 'kernelspace'; loc: SourceLoc };
  protocol?: { policy: FilterPolicy; loc: SourceLoc; protocols: Set<number> };
  address?: AddressFilterBuilder;
  state?: { policy: FilterPolicy; loc: SourceLoc; states: Set<TcpStateName> };
  mark?: { policy: FilterPolicy; loc: SourceLoc; marks: MarkMatch[]; seen: Set<string> };
}

interface ChannelBuilder {
  sync: SyncBuilder;
  kind: Channel['kind'];
  loc: SourceLoc;
  isDefault: boolean;
  broken: boolean;
  family?: { value: Family; loc: SourceLoc; keyword: string };
  v: Partial<Mutable<MulticastSettings & UnicastSettings>>;
  at: At<keyof (MulticastSettings & UnicastSettings)>;
  failed: Set<keyof (MulticastSettings & UnicastSettings)>; // given, but with a bad value: not "missing"
}

interface SyncBuilder {
  loc: SourceLoc;
  broken: boolean;
  v: Mutable<Omit<SyncSettings, 'channels' | 'defaultChannel'>>;
  at: At<keyof SyncSettings>;
  mode?: { protocol: SyncProtocol; loc: SourceLoc };
  outsideAlarm: Statement[]; // RefreshTime / CacheTimeout written at Sync level
  channels: ChannelBuilder[];
  defaultChannel?: ChannelBuilder;
}

interface StatsBuilder {
  loc: SourceLoc;
  v: Mutable<StatsSettings>;
  at: At<keyof StatsSettings>;
}

interface HelperBuilder {
  loc: SourceLoc;
  setup: boolean;
  types: HelperTypeBuilder[];
  at: At<'setup'>;
}

interface HelperTypeBuilder {
  loc: SourceLoc;
  v: Mutable<Omit<HelperTypeConfig, 'policies'>>;
  policies: HelperPolicyConfig[];
  at: At<'queueNum' | 'queueLen'>;
}

interface State {
  readonly d: Diagnostics;
  readonly file: string;
  general: Mutable<GeneralSettings>;
  generalAt: At<keyof GeneralSettings | 'nice' | 'unixBacklog'>;
  scheduler: { policy?: SchedulerConfig['policy']; priority?: number; typeLoc?: SourceLoc; priorityLoc?: SourceLoc; failed?: true };
  filter?: FilterBuilder;
  sync?: SyncBuilder;
  stats?: StatsBuilder;
  helper?: HelperBuilder;
}

/** set stores a setting and where it was written, warning when the same setting was already given. */
function set<T extends object, K extends keyof T & string>(
  st: State,
  s: Statement,
  obj: T,
  at: At<K>,
  key: K,
  value: T[K] | undefined,
): void {
  if (value === undefined) return;
  const prev = at[key];
  if (prev !== undefined)
    st.d.warn(s.loc, 'CFG_DUPLICATE', `${s.spelling} is also set at ${prev.line}:${prev.col}; this later value is the one used`);
  (obj as Record<K, T[K]>)[key] = value;
  at[key] = s.loc;
}

/**
 * Handlers<C, T> gives every keyword of block C its meaning; `t` is what the block fills in (the channel
 * being read, the Sync section, …). The mapped type makes the compiler check that every keyword of the
 * grammar table has a handler, and only those.
 */
type Handlers<C extends StatementContext, T> = { readonly [K in KeywordOf<C>]: (s: Statement, st: State, t: T) => void };

function apply<C extends StatementContext, T>(handlers: Handlers<C, T>, block: Block | undefined, st: State, t: T): void {
  if (block === undefined) return;
  const table = handlers as Readonly<Record<string, ((s: Statement, st: State, t: T) => void) | undefined>>;
  for (const s of block.statements) table[s.keyword]?.(s, st, t);
}

/** items returns the items of a list block (Filter Protocol / State, ExpectationSync). */
const items = (s: Statement): readonly ArgValue[] => s.block?.items ?? [];

const syslogArg = (s: Statement, st: State): SyslogFacility | undefined => {
  const a = arg(s);
  if (a.kind === 'bool') return a.value ? DEFAULTS.syslogOn : undefined;
  const f = SYSLOG_FACILITIES.find((x) => x === a.text);
  if (f === undefined)
    st.d.error(a.loc, 'CFG_BAD_VALUE', `Syslog ${a.text}: not a known facility (daemon or local0…local7, lower case)`);
  return f;
};

/** setOptional sets a field that may be switched off (`off` stores undefined but still counts as set). */
function setOff<T extends object, K extends keyof T & string>(st: State, s: Statement, obj: T, at: At<K>, key: K, value: T[K]): void {
  const prev = at[key];
  if (prev !== undefined)
    st.d.warn(s.loc, 'CFG_DUPLICATE', `${s.spelling} is also set at ${prev.line}:${prev.col}; this later value is the one used`);
  (obj as Record<K, T[K]>)[key] = value;
  at[key] = s.loc;
}

const deprecated = (st: State, s: Statement, why: string): void => st.d.warn(s.loc, 'CFG_DEPRECATED', `${s.spelling}: ${why}`);

const oldName = (st: State, s: Statement): void => {
  if (s.spelling !== s.keyword) deprecated(st, s, `old name of ${s.keyword}`);
};

// ---------------------------------------------------------------------------------------------- General

const UNIX: Handlers<'UNIX', null> = {
  Path: (s, st) => set(st, s, st.general, st.generalAt, 'unixPath', pathArg(s, st.d, UNIX_PATH_MAX)),
  Backlog: (s, st) => {
    numberArg(s, st.d, { min: 0, max: INT_MAX });
    st.generalAt.unixBacklog = s.loc;
    deprecated(st, s, 'deprecated and ignored (as conntrackd does)');
  },
};

const SCHEDULER: Handlers<'Scheduler', null> = {
  Type: (s, st) => {
    const a = arg(s);
    const t = a.text.toLowerCase();
    if (t !== 'rr' && t !== 'fifo') {
      st.d.error(a.loc, 'CFG_BAD_VALUE', `Type ${a.text}: unknown scheduler (RR or FIFO)`);
      st.scheduler.failed = true;
      return;
    }
    st.scheduler.policy = t === 'rr' ? 'RR' : 'FIFO';
    st.scheduler.typeLoc = s.loc;
  },
  Priority: (s, st) => {
    const p = numberArg(s, st.d, { min: 0, max: 99 });
    if (p === undefined) {
      st.scheduler.failed = true;
      return;
    }
    st.scheduler.priority = p;
    st.scheduler.priorityLoc = s.loc;
  },
};

const policyOf = (a: ArgValue): FilterPolicy => (a.kind === 'word' && a.word === 'Accept' ? 'accept' : 'ignore');

function filterPolicy(st: State, s: Statement, prev: { policy: FilterPolicy; loc: SourceLoc } | undefined): FilterPolicy | undefined {
  const policy = policyOf(arg(s));
  if (prev !== undefined && prev.policy !== policy) {
    st.d.error(
      s.loc,
      'CFG_CONFLICT',
      `${s.spelling} ${arg(s).text} conflicts with ${s.spelling} ${prev.policy === 'accept' ? 'Accept' : 'Ignore'} at ${prev.loc.line}:${prev.loc.col} (conntrackd would silently keep the last one for all entries)`,
    );
    return undefined;
  }
  return policy;
}

const FILTER_ADDRESS: Handlers<'FilterAddress', AddressFilterBuilder> = {
  IPv4_address: (s, st, f) => filterAddress(s, st, f, 'ipv4'),
  IPv6_address: (s, st, f) => filterAddress(s, st, f, 'ipv6'),
};

function filterAddress(s: Statement, st: State, f: AddressFilterBuilder, family: Family): void {
  const a = addressArg(s, st.d, family, true);
  if (a === undefined) return;
  const max = family === 'ipv4' ? 32 : 128;
  const prefixLength = a.prefixLength ?? max;
  const address = formatAddress(maskAddress(a.bytes, prefixLength));
  const key = `${address}/${prefixLength}`;
  if (f.seen.has(key)) {
    st.d.warn(a.loc, 'CFG_DUPLICATE', `${s.spelling} ${arg(s).text} is already in this filter`);
    return;
  }
  f.seen.add(key);
  (family === 'ipv4' ? f.ipv4 : f.ipv6).push({ address, prefixLength, loc: a.loc });
}

/** markNumber reads one half of a Filter Mark item: 0x hexadecimal or decimal, 32 bits. */
function markNumber(text: string): number | undefined {
  const n = /^0[xX]/.test(text) ? (/^0[xX][0-9a-fA-F]{1,8}$/.test(text) ? parseInt(text.slice(2), 16) : undefined) : /^[0-9]{1,10}$/.test(text) ? Number(text) : undefined;
  return n !== undefined && n <= 0xffffffff ? n : undefined;
}

function filterMark(item: ArgValue, st: State): MarkMatch | undefined {
  const [v, m] = item.text.split('/') as [string, string | undefined];
  const value = markNumber(v);
  const mask = m === undefined ? 0xffffffff : markNumber(m);
  if (value === undefined || mask === undefined) {
    st.d.error(item.loc, 'CFG_BAD_VALUE', `mark ${item.text} does not fit in 32 bits`);
    return undefined;
  }
  if ((value & ~mask) >>> 0 !== 0) {
    st.d.error(item.loc, 'CFG_BAD_VALUE', `mark ${item.text} has bits outside its mask (no entry could match)`);
    return undefined;
  }
  return { value, mask, loc: item.loc };
}

const FILTER: Handlers<'Filter', FilterBuilder> = {
  Mark: (s, st, f) => {
    const policy = filterPolicy(st, s, f.mark);
    if (policy === undefined) return;
    f.mark ??= { policy, loc: s.loc, marks: [], seen: new Set() };
    for (const item of items(s)) {
      const m = filterMark(item, st);
      if (m === undefined) continue;
      const key = `${m.value}/${m.mask}`;
      if (f.mark.seen.has(key)) {
        st.d.warn(item.loc, 'CFG_DUPLICATE', `mark ${item.text} is already in this filter`);
        continue;
      }
      f.mark.seen.add(key);
      f.mark.marks.push(m);
    }
    if (items(s).length === 0 && policy === 'accept')
      st.d.warn(s.loc, 'CFG_NO_EFFECT', 'Mark Accept with an empty list: no flow will be replicated');
  },
  Protocol: (s, st, f) => {
    const policy = filterPolicy(st, s, f.protocol);
    if (policy === undefined) return;
    f.protocol ??= { policy, loc: s.loc, protocols: new Set() };
    for (const item of items(s)) {
      if (item.kind === 'word') {
        f.protocol.protocols.add(item.word === 'TCP' ? 6 : 17);
        continue;
      }
      const n = PROTOCOL_NUMBERS.get(item.text);
      if (n !== undefined) {
        f.protocol.protocols.add(n);
        continue;
      }
      const near = [...PROTOCOL_NUMBERS.keys()].find((k) => k.toLowerCase() === item.text.toLowerCase());
      st.d.error(
        item.loc,
        'CFG_BAD_VALUE',
        `unknown protocol '${item.text}'${near === undefined ? '' : ` (names are case-sensitive, as in /etc/protocols: '${near}')`}`,
      );
    }
    if (items(s).length === 0 && policy === 'accept')
      st.d.warn(s.loc, 'CFG_NO_EFFECT', 'Protocol Accept with an empty list: no flow will be replicated');
  },
  Address: (s, st, f) => {
    const policy = filterPolicy(st, s, f.address);
    if (policy === undefined) return;
    f.address ??= { policy, loc: s.loc, ipv4: [], ipv6: [], seen: new Set() };
    apply(FILTER_ADDRESS, s.block, st, f.address);
  },
  State: (s, st, f) => {
    const policy = filterPolicy(st, s, f.state);
    if (policy === undefined) return;
    f.state ??= { policy, loc: s.loc, states: new Set() };
    for (const item of items(s)) if (item.kind === 'word') f.state.states.add(item.word as TcpStateName);
  },
};

const GENERAL: Handlers<'General', null> = {
  HashSize: (s, st) => set(st, s, st.general, st.generalAt, 'hashSize', numberArg(s, st.d, positive(DEFAULTS.hashSize))),
  HashLimit: (s, st) => set(st, s, st.general, st.generalAt, 'hashLimit', numberArg(s, st.d, positive(DEFAULTS.hashLimit))),
  LogFile: (s, st) => {
    const a = arg(s);
    if (a.kind === 'bool') setOff(st, s, st.general, st.generalAt, 'logFile', a.value ? DEFAULTS.logFileOn : undefined);
    else set(st, s, st.general, st.generalAt, 'logFile', pathArg(s, st.d, FILENAME_MAXLEN));
  },
  Syslog: (s, st) => {
    const a = arg(s);
    if (a.kind === 'bool') setOff(st, s, st.general, st.generalAt, 'syslogFacility', syslogArg(s, st));
    else set(st, s, st.general, st.generalAt, 'syslogFacility', syslogArg(s, st));
  },
  LockFile: (s, st) => set(st, s, st.general, st.generalAt, 'lockFile', pathArg(s, st.d, FILENAME_MAXLEN)),
  UNIX: (s, st) => apply(UNIX, s.block, st, null),
  NetlinkBufferSize: (s, st) => {
    oldName(st, s);
    set(st, s, st.general, st.generalAt, 'netlinkBufferSize', numberArg(s, st.d, positive('the system default')));
  },
  NetlinkBufferSizeMaxGrowth: (s, st) => {
    oldName(st, s);
    set(st, s, st.general, st.generalAt, 'netlinkBufferSizeMaxGrowth', numberArg(s, st.d, positive('no growth')));
  },
  EventIterationLimit: (s, st) =>
    set(st, s, st.general, st.generalAt, 'eventIterationLimit', numberArg(s, st.d, positive(DEFAULTS.eventIterationLimit))),
  PollSecs: (s, st) =>
    set(st, s, st.general, st.generalAt, 'pollSecs', numberArg(s, st.d, { min: 1, max: INT_MAX, zero: 'conntrackd refuses 0 too' })),
  Filter: (s, st) => {
    const f = (st.filter ??= { loc: s.loc });
    const fromWord = s.args[1];
    const from = fromWord?.kind === 'word' && fromWord.word === 'Kernelspace' ? 'kernelspace' : 'userspace';
    if (f.from !== undefined && f.from.value !== from) {
      st.d.error(
        s.loc,
        'CFG_CONFLICT',
        `Filter from ${from} conflicts with Filter from ${f.from.value} at ${f.from.loc.line}:${f.from.loc.col} (conntrackd would silently keep the last one)`,
      );
      return;
    }
    f.from = { value: from, loc: s.loc };
    st.generalAt.filter ??= s.loc;
    apply(FILTER, s.block, st, f);
  },
  NetlinkOverrunResync: (s, st) => {
    const a = arg(s);
    if (a.kind === 'bool')
      setOff(st, s, st.general, st.generalAt, 'netlinkOverrunResyncSec', a.value ? DEFAULTS.netlinkOverrunResyncSec : undefined);
    else
      set(st, s, st.general, st.generalAt, 'netlinkOverrunResyncSec', numberArg(s, st.d, {
        min: 1,
        max: INT_MAX,
        zero: 'conntrackd 1.4.7 reads 0 as the default, 30 s; write off to disable it',
      }));
  },
  NetlinkEventsReliable: (s, st) => set(st, s, st.general, st.generalAt, 'netlinkEventsReliable', boolArg(s)),
  Nice: (s, st) => {
    const a = arg(s);
    const v = Number(a.text);
    if (!(v >= -20 && v <= 19)) st.d.error(a.loc, 'CFG_BAD_VALUE', `Nice ${a.text}: must be between -20 and +19`);
    st.generalAt.nice = s.loc;
    deprecated(st, s, 'deprecated and ignored (as conntrackd does): use nice(1) or renice(1)');
  },
  Scheduler: (s, st) => apply(SCHEDULER, s.block, st, null),
  Systemd: (s, st) => set(st, s, st.general, st.generalAt, 'systemd', boolArg(s)),
};

// ------------------------------------------------------------------------------------------------- Sync

function channelFamily(st: State, s: Statement, c: ChannelBuilder, family: Family): boolean {
  if (c.family === undefined) {
    c.family = { value: family, loc: s.loc, keyword: s.spelling };
    return true;
  }
  if (c.family.value === family) return true;
  const v = (f: Family): string => (f === 'ipv4' ? 'IPv4' : 'IPv6');
  st.d.error(
    s.loc,
    'CFG_CONFLICT',
    `${s.spelling}: this ${c.kind === 'multicast' ? 'Multicast' : c.kind.toUpperCase()} link is already ${v(c.family.value)} (${c.family.keyword} at ${c.family.loc.line}:${c.family.loc.col}); a link is IPv4 or IPv6, not both`,
  );
  return false;
}

/** chanSet sets a field of the channel being read; a bad value (undefined) marks the field as failed. */
function chanSet<K extends keyof (MulticastSettings & UnicastSettings)>(
  st: State,
  s: Statement,
  c: ChannelBuilder,
  key: K,
  value: (MulticastSettings & UnicastSettings)[K] | undefined,
): void {
  if (value === undefined) c.failed.add(key);
  else set(st, s, c.v, c.at, key, value);
}

function channelAddress(
  s: Statement,
  st: State,
  c: ChannelBuilder,
  family: Family,
  key: 'group' | 'interfaceAddress' | 'localAddress' | 'peerAddress',
): void {
  const a = addressArg(s, st.d, family, false);
  if (a === undefined || !channelFamily(st, s, c, family)) return chanSet(st, s, c, key, undefined);
  if (key === 'group') {
    const first = a.bytes[0] ?? 0;
    const multicast = family === 'ipv4' ? (first & 0xf0) === 0xe0 : first === 0xff;
    if (!multicast) {
      st.d.error(a.loc, 'CFG_BAD_VALUE', `${s.spelling} ${a.address}: in a Multicast block this is the group, and it is not a multicast address (${family === 'ipv4' ? '224.0.0.0/4' : 'ff00::/8'})`);
      return chanSet(st, s, c, key, undefined);
    }
  }
  chanSet(st, s, c, key, a.address);
}

type ChannelHandler = (s: Statement, st: State, c: ChannelBuilder) => void;
const channelCommon: Readonly<Record<'Interface' | 'SndSocketBuffer' | 'RcvSocketBuffer' | 'Checksum', ChannelHandler>> = {
  Interface: (s, st, c) => chanSet(st, s, c, 'interface', interfaceArg(s, st.d)),
  SndSocketBuffer: (s, st, c) => chanSet(st, s, c, 'sndSocketBuffer', numberArg(s, st.d, SOCKET_BUFFER)),
  RcvSocketBuffer: (s, st, c) => chanSet(st, s, c, 'rcvSocketBuffer', numberArg(s, st.d, SOCKET_BUFFER)),
  Checksum: (s, st, c) => {
    if (c.kind === 'tcp') st.d.warn(s.loc, 'CFG_NO_EFFECT', 'Checksum has no effect on a TCP link');
    chanSet(st, s, c, 'checksum', boolArg(s));
  },
};

const MULTICAST: Handlers<'Multicast', ChannelBuilder> = {
  IPv4_address: (s, st, c) => channelAddress(s, st, c, 'ipv4', 'group'),
  IPv6_address: (s, st, c) => channelAddress(s, st, c, 'ipv6', 'group'),
  IPv4_interface: (s, st, c) => channelAddress(s, st, c, 'ipv4', 'interfaceAddress'),
  IPv6_interface: (s, st) => {
    if (addressArg(s, st.d, 'ipv6', false) !== undefined)
      deprecated(st, s, 'ignored, as conntrackd does (the index of Interface is used for IPv6)');
  },
  Group: (s, st, c) => chanSet(st, s, c, 'port', numberArg(s, st.d, PORT)),
  ...channelCommon,
};

const UDP: Handlers<'UDP', ChannelBuilder> = {
  IPv4_address: (s, st, c) => channelAddress(s, st, c, 'ipv4', 'localAddress'),
  IPv6_address: (s, st, c) => channelAddress(s, st, c, 'ipv6', 'localAddress'),
  IPv4_Destination_Address: (s, st, c) => channelAddress(s, st, c, 'ipv4', 'peerAddress'),
  IPv6_Destination_Address: (s, st, c) => channelAddress(s, st, c, 'ipv6', 'peerAddress'),
  Port: (s, st, c) => chanSet(st, s, c, 'port', numberArg(s, st.d, PORT)),
  ...channelCommon,
};

const TCP: Handlers<'TCP', ChannelBuilder> = {
  ...UDP,
  ErrorQueueLength: (s, st, c) =>
    set(st, s, c.sync.v, c.sync.at, 'errorQueueLength', numberArg(s, st.d, positive(DEFAULTS.errorQueueLength))),
};

function channel(s: Statement, st: State, sync: SyncBuilder, kind: Channel['kind']): void {
  const name = kind === 'multicast' ? 'Multicast' : kind.toUpperCase();
  const first = sync.channels[0];
  if (first !== undefined && first.kind !== kind) {
    const firstName = first.kind === 'multicast' ? 'Multicast' : first.kind.toUpperCase();
    st.d.error(s.loc, 'CFG_CONFLICT', `cannot mix ${name} with ${firstName} dedicated links (${firstName} at ${first.loc.line}:${first.loc.col}); all links must be of one kind`);
    return;
  }
  if (sync.channels.length >= MAX_CHANNELS) {
    st.d.error(s.loc, 'CFG_CONFLICT', `too many dedicated links: at most ${MAX_CHANNELS}`);
    return;
  }
  const isDefault = s.args[0] !== undefined;
  const c: ChannelBuilder = { sync, kind, loc: s.loc, isDefault, broken: s.block?.broken ?? false, v: { checksum: true }, at: {}, failed: new Set() };
  if (isDefault) {
    const prev = sync.defaultChannel;
    if (prev !== undefined)
      st.d.error(arg(s).loc, 'CFG_CONFLICT', `only one link can be Default (another one at ${prev.loc.line}:${prev.loc.col})`);
    else sync.defaultChannel = c;
  }
  sync.channels.push(c);
  if (kind === 'multicast') apply(MULTICAST, s.block, st, c);
  else if (kind === 'udp') apply(UDP, s.block, st, c);
  else apply(TCP, s.block, st, c);
}

type SyncHandler = (s: Statement, st: State, sync: SyncBuilder) => void;
const commitTimeout: SyncHandler = (s, st, sync) =>
  set(st, s, sync.v, sync.at, 'commitTimeoutSec', numberArg(s, st.d, {
    min: 1,
    max: INT_MAX,
    zero: 'conntrackd 1.4.7 reads 0 as "not set"; leave the line out for that',
  }));
const purgeTimeout: SyncHandler = (s, st, sync) =>
  set(st, s, sync.v, sync.at, 'purgeTimeoutSec', numberArg(s, st.d, positive(DEFAULTS.purgeTimeoutSec)));
const refreshTime: SyncHandler = (s, st, sync) =>
  set(st, s, sync.v, sync.at, 'refreshTimeSec', numberArg(s, st.d, positive(DEFAULTS.refreshTimeSec)));
const cacheTimeout: SyncHandler = (s, st, sync) =>
  set(st, s, sync.v, sync.at, 'cacheTimeoutSec', numberArg(s, st.d, positive(DEFAULTS.cacheTimeoutSec)));
const disableExternalCache: SyncHandler = (s, st, sync) => set(st, s, sync.v, sync.at, 'disableExternalCache', boolArg(s));
const startupResync: SyncHandler = (s, st, sync) => set(st, s, sync.v, sync.at, 'startupResync', boolArg(s));

const MODE_FTFW: Handlers<'ModeFTFW', SyncBuilder> = {
  ResendQueueSize: (s, st, sync) =>
    set(st, s, sync.v, sync.at, 'resendQueueSize', numberArg(s, st.d, positive(DEFAULTS.resendQueueSize))),
  CommitTimeout: commitTimeout,
  PurgeTimeout: purgeTimeout,
  ACKWindowSize: (s, st, sync) => set(st, s, sync.v, sync.at, 'ackWindowSize', numberArg(s, st.d, positive(DEFAULTS.ackWindowSize))),
  DisableExternalCache: disableExternalCache,
  StartupResync: startupResync,
};

const MODE_ALARM: Handlers<'ModeALARM', SyncBuilder> = {
  RefreshTime: refreshTime,
  CacheTimeout: cacheTimeout,
  CommitTimeout: commitTimeout,
  PurgeTimeout: purgeTimeout,
};

const MODE_NOTRACK: Handlers<'ModeNOTRACK', SyncBuilder> = {
  CommitTimeout: commitTimeout,
  PurgeTimeout: purgeTimeout,
  DisableInternalCache: (s, st, sync) => set(st, s, sync.v, sync.at, 'disableInternalCache', boolArg(s)),
  DisableExternalCache: disableExternalCache,
  StartupResync: startupResync,
};

const OPTIONS: Handlers<'Options', SyncBuilder> = {
  TCPWindowTracking: (s, st, sync) => set(st, s, sync.v, sync.at, 'tcpWindowTracking', boolArg(s)),
  ExpectationSync: (s, st, sync) => {
    let v: ExpectationSync;
    if (s.block === undefined) v = boolArg(s) ? { enabled: true, helpers: undefined } : { enabled: false };
    else {
      const helpers = s.block.items.map((i) => i.text);
      if (helpers.length === 0 && !s.block.broken)
        st.d.warn(s.loc, 'CFG_NO_EFFECT', 'ExpectationSync { } with no helper name replicates no expectation; write off instead');
      v = { enabled: true, helpers };
    }
    set(st, s, sync.v, sync.at, 'expectationSync', v);
  },
};

const MODE_NAMES = { ftfw: 'FTFW', alarm: 'ALARM', notrack: 'NOTRACK' } as const;

const SYNC: Handlers<'Sync', SyncBuilder> = {
  RefreshTime: (s, st, sync) => {
    sync.outsideAlarm.push(s);
    refreshTime(s, st, sync);
  },
  CacheTimeout: (s, st, sync) => {
    sync.outsideAlarm.push(s);
    cacheTimeout(s, st, sync);
  },
  CommitTimeout: commitTimeout,
  PurgeTimeout: purgeTimeout,
  Multicast: (s, st, sync) => channel(s, st, sync, 'multicast'),
  UDP: (s, st, sync) => channel(s, st, sync, 'udp'),
  TCP: (s, st, sync) => channel(s, st, sync, 'tcp'),
  Mode: (s, st, sync) => {
    const a = arg(s);
    if (a.kind !== 'mode') return;
    const protocol: SyncProtocol = a.mode === 'FTFW' ? 'ftfw' : a.mode === 'ALARM' ? 'alarm' : 'notrack';
    if (a.text.toUpperCase() !== a.mode)
      st.d.warn(a.loc, 'CFG_DEPRECATED', `Mode ${a.text}: old name of ${a.mode} (conntrackd warns too)`);
    if (sync.mode !== undefined && sync.mode.protocol !== protocol) {
      st.d.error(
        s.loc,
        'CFG_CONFLICT',
        `Mode ${MODE_NAMES[protocol]} conflicts with Mode ${MODE_NAMES[sync.mode.protocol]} at ${sync.mode.loc.line}:${sync.mode.loc.col} (conntrackd would silently run FTFW, else ALARM, with the options of both blocks)`,
      );
    } else if (sync.mode !== undefined) st.d.warn(s.loc, 'CFG_DUPLICATE', `a second Mode ${MODE_NAMES[protocol]} block (first at ${sync.mode.loc.line}:${sync.mode.loc.col}); their options add up`);
    else sync.mode = { protocol, loc: s.loc };
    sync.v.protocol = protocol;
    sync.at.protocol ??= s.loc;
    if (protocol === 'ftfw') apply(MODE_FTFW, s.block, st, sync);
    else if (protocol === 'alarm') apply(MODE_ALARM, s.block, st, sync);
    else apply(MODE_NOTRACK, s.block, st, sync);
  },
  Options: (s, st, sync) => apply(OPTIONS, s.block, st, sync),
};

// ------------------------------------------------------------------------------------- Stats and Helper

const STATS: Handlers<'Stats', StatsBuilder> = {
  LogFile: (s, st, x) => {
    const a = arg(s);
    if (a.kind === 'bool') setOff(st, s, x.v, x.at, 'logFile', a.value ? DEFAULTS.statsLogFileOn : undefined);
    else set(st, s, x.v, x.at, 'logFile', pathArg(s, st.d, FILENAME_MAXLEN));
  },
  Syslog: (s, st, x) => {
    if (arg(s).kind === 'bool') setOff(st, s, x.v, x.at, 'syslogFacility', syslogArg(s, st));
    else set(st, s, x.v, x.at, 'syslogFacility', syslogArg(s, st));
  },
};

const HELPER_POLICY: Handlers<'HelperPolicy', Mutable<HelperPolicyConfig>> = {
  ExpectMax: (s, st, p) => {
    const v = numberArg(s, st.d, { min: 0, max: INT_MAX });
    if (v !== undefined) p.expectMax = v;
  },
  ExpectTimeout: (s, st, p) => {
    const v = numberArg(s, st.d, { min: 0, max: INT_MAX });
    if (v !== undefined) p.expectTimeoutSec = v;
  },
};

const HELPER_TYPE: Handlers<'HelperType', HelperTypeBuilder> = {
  QueueNum: (s, st, t) => set(st, s, t.v, t.at, 'queueNum', numberArg(s, st.d, { min: 0, max: 65535 })),
  QueueLen: (s, st, t) => set(st, s, t.v, t.at, 'queueLen', numberArg(s, st.d, positive("the kernel's queue length"))),
  Policy: (s, st, t) => {
    const a = arg(s);
    const p: Mutable<HelperPolicyConfig> = { loc: s.loc, name: a.text, expectMax: undefined, expectTimeoutSec: undefined };
    apply(HELPER_POLICY, s.block, st, p);
    if (a.text.length > HELPER_NAME_MAX) st.d.error(a.loc, 'CFG_BAD_VALUE', `Policy ${a.text}: a policy name has at most ${HELPER_NAME_MAX} characters`);
    else if (KNOWN_HELPERS[t.v.name] !== undefined && a.text !== t.v.name)
      st.d.error(a.loc, 'CFG_BAD_VALUE', `Policy ${a.text}: the ${t.v.name} helper has one policy, named '${t.v.name}'`);
    else if (p.expectMax === undefined && p.expectTimeoutSec === undefined && s.block?.broken !== true)
      st.d.error(s.loc, 'CFG_MISSING', `Policy ${a.text} is empty: give ExpectMax and/or ExpectTimeout (conntrackd refuses it too)`);
    else t.policies.push(p);
  },
};

const HELPER: Handlers<'Helper', HelperBuilder> = {
  Type: (s, st, helper) => {
    const [name, l3, l4] = [arg(s, 0), arg(s, 1), arg(s, 2)];
    let ok = true;
    if (l3.text !== 'inet' && l3.text !== 'inet6') {
      st.d.error(l3.loc, 'CFG_BAD_VALUE', `Type ${name.text} ${l3.text}: unknown layer-3 protocol (inet or inet6)`);
      ok = false;
    }
    if (l4.text !== 'tcp' && l4.text !== 'udp') {
      st.d.error(l4.loc, 'CFG_BAD_VALUE', `Type ${name.text} ${l3.text} ${l4.text}: unknown layer-4 protocol (tcp or udp)`);
      ok = false;
    } else if (!(KNOWN_HELPERS[name.text] ?? []).includes(l4.text)) {
      const known = Object.entries(KNOWN_HELPERS).map(([n, ps]) => `${n} (${ps.join(', ')})`).join(', ');
      st.d.error(name.loc, 'CFG_BAD_VALUE', `Type ${name.text}: no such helper for ${l4.text}; conntrackd 1.4.7 has ${known}`);
      ok = false;
    }
    const t: HelperTypeBuilder = {
      loc: s.loc,
      v: { loc: s.loc, name: name.text, l3: l3.text === 'inet6' ? 'inet6' : 'inet', l4: l4.text === 'udp' ? 'udp' : 'tcp', queueNum: undefined, queueLen: undefined },
      policies: [],
      at: {},
    };
    apply(HELPER_TYPE, s.block, st, t);
    if (ok) helper.types.push(t);
  },
  Setup: (s, st, helper) => set(st, s, helper, helper.at, 'setup', boolArg(s)),
};

const TOP: Handlers<'top', null> = {
  General: (s, st) => apply(GENERAL, s.block, st, null),
  Sync: (s, st) => {
    if (st.stats !== undefined) {
      const at = st.stats.loc;
      st.d.error(s.loc, 'CFG_CONFLICT', `cannot use both Sync and Stats (Stats at ${at.line}:${at.col})`);
    }
    st.sync ??= {
      loc: s.loc,
      broken: false,
      v: {
        protocol: 'ftfw',
        resendQueueSize: DEFAULTS.resendQueueSize,
        ackWindowSize: DEFAULTS.ackWindowSize,
        refreshTimeSec: DEFAULTS.refreshTimeSec,
        cacheTimeoutSec: DEFAULTS.cacheTimeoutSec,
        commitTimeoutSec: undefined,
        purgeTimeoutSec: DEFAULTS.purgeTimeoutSec,
        disableExternalCache: false,
        disableInternalCache: false,
        startupResync: false,
        tcpWindowTracking: false,
        expectationSync: { enabled: false },
        errorQueueLength: DEFAULTS.errorQueueLength,
      },
      at: {},
      outsideAlarm: [],
      channels: [],
    };
    if (s.block?.broken === true) st.sync.broken = true;
    apply(SYNC, s.block, st, st.sync);
  },
  Stats: (s, st) => {
    if (st.sync !== undefined) {
      const at = st.sync.loc;
      st.d.error(s.loc, 'CFG_CONFLICT', `cannot use both Stats and Sync (Sync at ${at.line}:${at.col})`);
    }
    st.stats ??= { loc: s.loc, v: { logFile: undefined, syslogFacility: undefined }, at: {} };
    apply(STATS, s.block, st, st.stats);
  },
  Helper: (s, st) => {
    st.helper ??= { loc: s.loc, setup: false, types: [], at: {} };
    apply(HELPER, s.block, st, st.helper);
  },
};

// --------------------------------------------------------------------------------------------- finishing

function finishScheduler(st: State): SchedulerConfig {
  const { policy, priority, typeLoc, priorityLoc, failed } = st.scheduler;
  if (failed === true) return DEFAULTS.scheduler; // already reported
  if (policy === undefined) {
    if (priorityLoc !== undefined)
      st.d.error(priorityLoc, 'CFG_MISSING', 'Scheduler Priority needs a Type (RR or FIFO): conntrackd ignores a Priority alone and runs RR at 99');
    return DEFAULTS.scheduler;
  }
  if (priority === undefined || priority === 0) {
    st.d.error(
      priorityLoc ?? typeLoc ?? { file: st.file, line: 1, col: 1 },
      priority === undefined ? 'CFG_MISSING' : 'CFG_BAD_VALUE',
      `Scheduler Type ${policy} needs a Priority between 1 and 99 (the kernel refuses ${policy} at priority 0, and conntrackd then keeps the normal scheduler)`,
    );
    return DEFAULTS.scheduler;
  }
  return { policy, priority };
}

function finishFilter(f: FilterBuilder | undefined): FilterConfig | undefined {
  if (f === undefined) return undefined;
  return {
    loc: f.loc,
    from: f.from?.value ?? 'userspace',
    ...(f.protocol && { protocol: { policy: f.protocol.policy, protocols: [...f.protocol.protocols].sort((a, b) => a - b), loc: f.protocol.loc } }),
    ...(f.address && { address: { policy: f.address.policy, ipv4: f.address.ipv4, ipv6: f.address.ipv6, loc: f.address.loc } }),
    ...(f.state && { state: { policy: f.state.policy, tcpStates: [...f.state.states], loc: f.state.loc } }),
    ...(f.mark && { mark: { policy: f.mark.policy, marks: f.mark.marks, loc: f.mark.loc } }),
  };
}

function finishChannel(c: ChannelBuilder, st: State): Channel | undefined {
  if (c.failed.size > 0) return undefined; // already reported
  const { interface: iface, port, group, peerAddress } = c.v;
  const multicast = c.kind === 'multicast';
  const lacks = [
    iface === undefined ? 'Interface' : '',
    multicast && group === undefined ? 'group address (IPv4_address or IPv6_address)' : '',
    multicast && port === undefined ? 'Group (the UDP port)' : '',
    !multicast && peerAddress === undefined ? 'peer address (IPv4_Destination_Address or IPv6_Destination_Address)' : '',
    !multicast && port === undefined ? 'Port' : '',
  ].filter((x) => x !== '');
  if (lacks.length > 0 || iface === undefined || port === undefined || c.family === undefined) {
    const name = multicast ? 'Multicast' : c.kind.toUpperCase();
    if (!c.broken && lacks.length > 0) st.d.error(c.loc, 'CFG_MISSING', `this ${name} link has no ${lacks.join(', no ')}`);
    return undefined;
  }
  const common = {
    loc: c.loc,
    isDefault: c.isDefault,
    interface: iface,
    family: c.family.value,
    sndSocketBuffer: c.v.sndSocketBuffer,
    rcvSocketBuffer: c.v.rcvSocketBuffer,
    checksum: c.v.checksum ?? true,
    port,
  };
  if (c.kind === 'multicast')
    return group === undefined ? undefined : { kind: 'multicast', ...common, group, interfaceAddress: c.v.interfaceAddress, at: c.at };
  return peerAddress === undefined ? undefined : { kind: c.kind, ...common, localAddress: c.v.localAddress, peerAddress, at: c.at };
}

function finishSync(st: State): ConntrackdConfig['sync'] {
  const b = st.sync;
  if (b === undefined) return undefined;
  const v = b.v;
  if (b.mode === undefined)
    st.d.warn(b.loc, 'CFG_MISSING', 'no Mode block: FTFW is used (conntrackd warns "No synchronization mode specified" too)');
  for (const s of b.outsideAlarm)
    if (v.protocol !== 'alarm') st.d.warn(s.loc, 'CFG_NO_EFFECT', `${s.spelling} only applies to Mode ALARM; it has no effect with ${MODE_NAMES[v.protocol]}`);
  const commitAt = b.at.commitTimeoutSec;
  if (v.disableExternalCache && commitAt !== undefined)
    st.d.error(
      commitAt,
      'CFG_CONFLICT',
      'CommitTimeout cannot be combined with DisableExternalCache on: nothing is committed (conntrackd warns and ignores CommitTimeout)',
    );
  const channels: Channel[] = [];
  let defaultChannel = 0;
  for (const c of b.channels) {
    const done = finishChannel(c, st);
    if (done === undefined) continue;
    if (c === b.defaultChannel) defaultChannel = channels.length;
    channels.push(done);
  }
  if (b.channels.length === 0 && !b.broken)
    st.d.error(b.loc, 'CFG_MISSING', 'Sync has no dedicated link: add a Multicast, UDP or TCP block');
  if (v.errorQueueLength !== DEFAULTS.errorQueueLength && !channels.some((c) => c.kind === 'tcp') && b.at.errorQueueLength !== undefined)
    st.d.warn(b.at.errorQueueLength, 'CFG_NO_EFFECT', 'ErrorQueueLength only applies to TCP links');
  return { ...v, channels, defaultChannel, loc: b.loc, at: b.at };
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const k of Object.keys(o)) deepFreeze((o as Record<string, unknown>)[k]);
  }
  return o;
}

/** buildConntrackdConfig checks an AST and builds the configuration; problems go to `d`. */
export function buildConntrackdConfig(ast: ConfigAst, d: Diagnostics): ConntrackdConfig {
  const st: State = {
    d,
    file: ast.file,
    general: {
      hashSize: DEFAULTS.hashSize,
      hashLimit: DEFAULTS.hashLimit,
      logFile: undefined,
      syslogFacility: undefined,
      lockFile: DEFAULTS.lockFile,
      unixPath: undefined,
      netlinkBufferSize: undefined,
      netlinkBufferSizeMaxGrowth: undefined,
      netlinkOverrunResyncSec: DEFAULTS.netlinkOverrunResyncSec,
      netlinkEventsReliable: false,
      eventIterationLimit: DEFAULTS.eventIterationLimit,
      pollSecs: undefined,
      scheduler: DEFAULTS.scheduler,
      systemd: DEFAULTS.systemd,
      filter: undefined,
    },
    generalAt: {},
    scheduler: {},
  };
  apply(TOP, { context: 'top', loc: { file: ast.file, line: 1, col: 1 }, statements: ast.sections, items: [], broken: false }, st, null);

  const g = st.general;
  g.scheduler = finishScheduler(st);
  const schedulerAt = st.scheduler.typeLoc ?? st.scheduler.priorityLoc;
  if (schedulerAt !== undefined) st.generalAt.scheduler = schedulerAt;
  g.filter = finishFilter(st.filter);
  const nb = st.generalAt.netlinkBufferSize;
  const [size, max] = [g.netlinkBufferSize, g.netlinkBufferSizeMaxGrowth];
  if (nb !== undefined && size !== undefined && !(max !== undefined && size <= max))
    st.d.warn(nb, 'CFG_NO_EFFECT', 'NetlinkBufferSize is only applied when NetlinkBufferSizeMaxGrowth is set and at least as large; the system default is kept');

  const sync = finishSync(st);
  const stats = st.stats === undefined ? undefined : { ...st.stats.v, loc: st.stats.loc, at: st.stats.at };
  const statsSyslogAt = stats?.at.syslogFacility;
  if (statsSyslogAt !== undefined && stats?.syslogFacility !== undefined && g.syslogFacility !== undefined && stats.syslogFacility !== g.syslogFacility)
    st.d.warn(statsSyslogAt, 'CFG_CONFLICT', `Stats Syslog ${stats.syslogFacility} differs from General Syslog ${g.syslogFacility}: conntrackd uses the General one`);
  const helper: HelperConfig | undefined =
    st.helper === undefined
      ? undefined
      : { loc: st.helper.loc, setup: st.helper.setup, types: st.helper.types.map((t) => ({ ...t.v, policies: t.policies })) };
  if (sync === undefined && stats === undefined && helper === undefined)
    st.d.warn({ file: ast.file, line: 1, col: 1 }, 'CFG_MISSING', 'no Sync, Stats or Helper section: conntrackd 1.4.7 then only serves its control socket');

  return deepFreeze({
    file: ast.file,
    mode: sync !== undefined ? 'sync' : stats !== undefined ? 'stats' : 'none',
    general: { ...g, at: st.generalAt },
    sync,
    stats,
    helper,
  });
}
