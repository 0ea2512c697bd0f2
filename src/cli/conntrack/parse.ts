import { atol, inetAton, inetPton6, strncasecmpEq, strncmpEq, strtol, strtoul, u16, u32, atoi } from './cstr.js';
import { AF_INET, AF_INET6, AF_UNSPEC, ATTR, addrText, Bitmask, CtObj } from './ctobj.js';
import { CMD, EXIT, exitError, NUMBER_OF_CMD, strerror } from './errors.js';
import { COLON, Getopt, Q, type LongOption } from './getopt.js';
import { labelBit, type LabelLoad, type LabelMap } from './labels.js';
import { genericOptCheck } from './optcheck.js';
import { PROTOS, UNKNOWN, type ProtoHandler, type Templates } from './protos.js';
import type { Datagram } from './run.js';

/**
 * do_parse() of conntrack 1.4.7: the command line becomes a command, its option bits and the
 * templates the command works from, with conntrack's checks, messages and quirks (documented at
 * each). Pure except for what `ParseIo` provides; errors throw CliExit.
 */

/** OPT is enum ct_options: one bit per option, the order of optflags and of the legality table's columns. */
export const OPT = {
  ORIG_SRC: 1 << 0,
  ORIG_DST: 1 << 1,
  REPL_SRC: 1 << 2,
  REPL_DST: 1 << 3,
  PROTO: 1 << 4,
  TIMEOUT: 1 << 5,
  STATUS: 1 << 6,
  ZERO: 1 << 7,
  EVENT_MASK: 1 << 8,
  EXP_SRC: 1 << 9,
  EXP_DST: 1 << 10,
  MASK_SRC: 1 << 11,
  MASK_DST: 1 << 12,
  NATRANGE: 1 << 13,
  MARK: 1 << 14,
  ID: 1 << 15,
  FAMILY: 1 << 16,
  SRC_NAT: 1 << 17,
  DST_NAT: 1 << 18,
  OUTPUT: 1 << 19,
  SECMARK: 1 << 20,
  BUFFERSIZE: 1 << 21,
  ANY_NAT: 1 << 22,
  ZONE: 1 << 23,
  LABEL: 1 << 24,
  ADD_LABEL: 1 << 25,
  DEL_LABEL: 1 << 26,
  ORIG_ZONE: 1 << 27,
  REPL_ZONE: 1 << 28,
} as const;
export const OPT_ORIG = OPT.ORIG_SRC | OPT.ORIG_DST;
export const OPT_REPL = OPT.REPL_SRC | OPT.REPL_DST;
export const OPT_TUPLE_ORIG = OPT_ORIG | OPT.PROTO;
export const OPT_TUPLE_REPL = OPT_REPL | OPT.PROTO;
/** OPT_COMPARISON: the options that make a listing compare entries against the template. */
export const OPT_COMPARISON = OPT.PROTO | OPT_ORIG | OPT_REPL | OPT.MARK | OPT.SECMARK | OPT.STATUS | OPT.ID | OPT.ZONE | OPT.LABEL | OPT.ORIG_ZONE | OPT.REPL_ZONE;
const NUMBER_OF_OPT = 29;

const OPTFLAGS = [
  'src',
  'dst',
  'reply-src',
  'reply-dst',
  'protonum',
  'timeout',
  'status',
  'zero',
  'event-mask',
  'tuple-src',
  'tuple-dst',
  'mask-src',
  'mask-dst',
  'nat-range',
  'mark',
  'id',
  'family',
  'src-nat',
  'dst-nat',
  'output',
  'secmark',
  'buffer-size',
  'any-nat',
  'zone',
  'label',
  'label-add',
  'label-del',
  'orig-zone',
  'reply-zone',
];

const c = (s: string): number => s.charCodeAt(0);

/** BASE_OPTS is original_opts[], in order (prefix matching and get_long_opt depend on it). */
export const BASE_OPTS: readonly LongOption[] = [
  { name: 'dump', hasArg: 2, val: c('L') },
  { name: 'create', hasArg: 2, val: c('I') },
  { name: 'add', hasArg: 2, val: c('A') },
  { name: 'delete', hasArg: 2, val: c('D') },
  { name: 'update', hasArg: 2, val: c('U') },
  { name: 'get', hasArg: 2, val: c('G') },
  { name: 'flush', hasArg: 2, val: c('F') },
  { name: 'event', hasArg: 2, val: c('E') },
  { name: 'counter', hasArg: 2, val: c('C') },
  { name: 'stats', hasArg: 0, val: c('S') },
  { name: 'version', hasArg: 0, val: c('V') },
  { name: 'help', hasArg: 0, val: c('h') },
  { name: 'orig-src', hasArg: 1, val: c('s') },
  { name: 'src', hasArg: 1, val: c('s') },
  { name: 'orig-dst', hasArg: 1, val: c('d') },
  { name: 'dst', hasArg: 1, val: c('d') },
  { name: 'reply-src', hasArg: 1, val: c('r') },
  { name: 'reply-dst', hasArg: 1, val: c('q') },
  { name: 'protonum', hasArg: 1, val: c('p') },
  { name: 'timeout', hasArg: 1, val: c('t') },
  { name: 'status', hasArg: 1, val: c('u') },
  { name: 'zero', hasArg: 0, val: c('z') },
  { name: 'event-mask', hasArg: 1, val: c('e') },
  { name: 'tuple-src', hasArg: 1, val: c('[') },
  { name: 'tuple-dst', hasArg: 1, val: c(']') },
  { name: 'mask-src', hasArg: 1, val: c('{') },
  { name: 'mask-dst', hasArg: 1, val: c('}') },
  { name: 'nat-range', hasArg: 1, val: c('a') },
  { name: 'mark', hasArg: 1, val: c('m') },
  { name: 'secmark', hasArg: 1, val: c('c') },
  { name: 'id', hasArg: 2, val: c('i') },
  { name: 'family', hasArg: 1, val: c('f') },
  { name: 'src-nat', hasArg: 2, val: c('n') },
  { name: 'dst-nat', hasArg: 2, val: c('g') },
  { name: 'output', hasArg: 1, val: c('o') },
  { name: 'buffer-size', hasArg: 1, val: c('b') },
  { name: 'any-nat', hasArg: 2, val: c('j') },
  { name: 'zone', hasArg: 1, val: c('w') },
  { name: 'label', hasArg: 1, val: c('l') },
  { name: 'label-add', hasArg: 1, val: c('<') },
  { name: 'label-del', hasArg: 2, val: c('>') },
  { name: 'orig-zone', hasArg: 1, val: c('(') },
  { name: 'reply-zone', hasArg: 1, val: c(')') },
];

const GETOPT_STR = ':L::I::U::D::G::E::F::A::hVs:d:r:q:p:t:u:e:a:z[:]:{:}:m:i:f:o:n::g::c:b:C::Sj::w:l:<:>::(:):';

/** Legality of each option (columns, OPTFLAGS order) for each command (rows, CMD_BIT order). */
// prettier-ignore
const COMMANDS_V_OPTIONS: readonly (readonly number[])[] = [
  /* s d r q p t u z e [ ] { } a m i f n g o c b j w l < > ( ) */
  [2,2,2,2,2,0,2,2,0,0,0,2,2,0,2,0,2,2,2,2,2,0,2,2,2,0,0,2,2], // CT_LIST
  [3,3,3,3,1,1,2,0,0,0,0,0,0,2,2,0,0,2,2,0,0,0,0,2,0,2,0,2,2], // CT_CREATE
  [2,2,2,2,2,2,2,0,0,0,0,2,2,0,2,2,2,2,2,2,0,0,0,0,2,2,2,0,0], // CT_UPDATE
  [2,2,2,2,2,2,2,0,0,0,0,2,2,0,2,2,2,2,2,2,0,0,0,2,2,0,0,2,2], // CT_DELETE
  [3,3,3,3,1,0,0,0,0,0,0,0,0,0,0,2,0,0,0,2,0,0,0,0,2,0,0,0,0], // CT_GET
  [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,0,0,0,0,0,0,0,0,0], // CT_FLUSH
  [2,2,2,2,2,0,0,0,2,0,0,2,2,0,2,0,2,2,2,2,2,2,2,2,2,0,0,2,2], // CT_EVENT
  [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // CT_VERSION
  [0,0,0,0,2,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // CT_HELP
  [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,2,0,0,0,0,0,0,0,0,0], // EXP_LIST
  [1,1,2,2,1,1,2,0,0,1,1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // EXP_CREATE
  [1,1,2,2,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // EXP_DELETE
  [1,1,2,2,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // EXP_GET
  [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // EXP_FLUSH
  [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,0,0,0,0,0,0,0,0,0], // EXP_EVENT
  [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // CT_COUNT
  [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // EXP_COUNT
  [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // CT_STATS
  [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], // EXP_STATS
  [3,3,3,3,1,1,2,0,0,0,0,0,0,2,2,0,0,2,2,0,0,0,0,2,0,2,0,2,2], // CT_ADD
];

/** Tables selectable after a command (-L expect). */
export const TABLE = { CONNTRACK: 0, EXPECT: 1, DYING: 2, UNCONFIRMED: 3 } as const;

/** O is the output format mask (_O_*); JSON is keepstate's addition. */
export const O = { XML: 1 << 0, EXT: 1 << 1, TMS: 1 << 2, ID: 1 << 3, KTMS: 1 << 4, CL: 1 << 5, SAVE: 1 << 6, JSON: 1 << 7 } as const;

/** EV is the -e event mask (CT_EVENT_F_*). */
export const EV = { NEW: 1 << 0, UPD: 1 << 1, DEL: 1 << 2, ALL: 7 } as const;

const IPS_EXPECTED = 1 << 0;
const IPS_SEEN_REPLY = 1 << 1;
const IPS_ASSURED = 1 << 2;
const IPS_FIXED_TIMEOUT = 1 << 10;
const IPS_OFFLOAD = 1 << 14;
const IPS_HW_OFFLOAD = 1 << 15;

interface ParseTable {
  readonly names: readonly string[];
  readonly values: readonly number[];
}
const PARSE_STATUS: ParseTable = {
  names: ['ASSURED', 'SEEN_REPLY', 'UNSET', 'FIXED_TIMEOUT', 'EXPECTED', 'OFFLOAD', 'HW_OFFLOAD'],
  values: [IPS_ASSURED, IPS_SEEN_REPLY, 0, IPS_FIXED_TIMEOUT, IPS_EXPECTED, IPS_OFFLOAD, IPS_HW_OFFLOAD],
};
const PARSE_EVENT: ParseTable = { names: ['ALL', 'NEW', 'UPDATES', 'DESTROY'], values: [EV.ALL, EV.NEW, EV.UPD, EV.DEL] };
// "json" is appended last: no word conntrack accepts is a prefix of it, so nothing that worked changes meaning.
const PARSE_OUTPUT: ParseTable = {
  names: ['xml', 'extended', 'timestamp', 'id', 'ktimestamp', 'labels', 'userspace', 'save', 'json'],
  values: [O.XML, O.EXT, O.TMS, O.ID, O.KTMS, O.CL, 0, O.SAVE, O.JSON],
};

/** Tmpl is struct ct_tmpl: the templates plus mark, kernel-side filters and label bitmasks. */
export interface Tmpl extends Templates {
  expTimeout: number | undefined;
  mark: { value: number; mask: number };
  filterMarkKernel: { val: number; mask: number } | undefined;
  filterStatusKernel: { val: number; mask: number };
  filterStatusKernelSet: boolean;
  label: Bitmask | undefined;
  labelModify: Bitmask | undefined;
}

/** CtCmd is struct ct_cmd: one parsed command. */
export interface CtCmd {
  command: number;
  cmd: number;
  options: number;
  family: number;
  type: number;
  protonum: number;
  eventMask: number;
  bufferSize: bigint;
  tmpl: Tmpl;
}

/**
 * Session holds what conntrack keeps in globals across the commands of one run (several with
 * --load-file): the output mask, the label map and the last protocol handler.
 */
export interface Session {
  outputMask: number;
  labelmap: LabelMap | undefined;
  proto: ProtoHandler | undefined;
  /** modifier holds the replies left unread on conntrack's modifier socket (see run.ts `talk`). */
  readonly modifier: Datagram[];
}

export function newSession(): Session {
  return { outputMask: 0, labelmap: undefined, proto: undefined, modifier: [] };
}

/** ParseIo is what parsing needs from outside: stderr, the label file, /etc/protocols, the environment. */
export interface ParseIo {
  stderr(s: string): void;
  loadLabels(): LabelLoad;
  protocols(): string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

function newTmpl(): Tmpl {
  return {
    ct: new CtObj(),
    exptuple: new CtObj(),
    mask: new CtObj(),
    expTimeout: undefined,
    mark: { value: 0, mask: 0 },
    filterMarkKernel: undefined,
    filterStatusKernel: { val: 0, mask: 0 },
    filterStatusKernelSet: false,
    label: undefined,
    labelModify: undefined,
  };
}

// opt2type / opt2maskopt / opt2family_attr / opt2attr of conntrack.c, keyed by option character.
const OPT2TYPE: Readonly<Record<string, number>> = {
  s: OPT.ORIG_SRC,
  d: OPT.ORIG_DST,
  r: OPT.REPL_SRC,
  q: OPT.REPL_DST,
  '{': OPT.MASK_SRC,
  '}': OPT.MASK_DST,
  '[': OPT.EXP_SRC,
  ']': OPT.EXP_DST,
  n: OPT.SRC_NAT,
  g: OPT.DST_NAT,
  m: OPT.MARK,
  c: OPT.SECMARK,
  i: OPT.ID,
  j: OPT.ANY_NAT,
  w: OPT.ZONE,
  l: OPT.LABEL,
  '<': OPT.ADD_LABEL,
  '>': OPT.DEL_LABEL,
  '(': OPT.ORIG_ZONE,
  ')': OPT.REPL_ZONE,
};
const OPT2MASKOPT: Readonly<Record<string, string>> = { s: '{', d: '}', '[': '{', ']': '}' };

type AddrSlot = 'osrc' | 'odst' | 'rsrc' | 'rdst' | 'snat' | 'dnat' | 'any';
const OPT2SLOT: Readonly<Record<string, AddrSlot>> = {
  s: 'osrc',
  d: 'odst',
  g: 'dnat',
  n: 'snat',
  r: 'rsrc',
  q: 'rdst',
  '{': 'osrc',
  '}': 'odst',
  '[': 'osrc',
  ']': 'odst',
  j: 'any',
};

/** setAddrOnly is nfct_set_addr_only: the address into the attribute opt2family_attr[] names. */
function setAddrOnly(opt: string, ct: CtObj, ad: Uint8Array, l3: number): void {
  const text = addrText(ad);
  const v6 = l3 === AF_INET6;
  switch (OPT2SLOT[opt]) {
    case 'osrc':
      ct.orig.src = text;
      ct.setBit(v6 ? ATTR.ORIG_IPV6_SRC : ATTR.ORIG_IPV4_SRC);
      return;
    case 'odst':
      ct.orig.dst = text;
      ct.setBit(v6 ? ATTR.ORIG_IPV6_DST : ATTR.ORIG_IPV4_DST);
      return;
    case 'rsrc':
      ct.repl.src = text;
      ct.setBit(v6 ? ATTR.REPL_IPV6_SRC : ATTR.REPL_IPV4_SRC);
      return;
    case 'rdst':
      ct.repl.dst = text;
      ct.setBit(v6 ? ATTR.REPL_IPV6_DST : ATTR.REPL_IPV4_DST);
      return;
    case 'snat':
      ct.snat.ip = text;
      ct.setBit(v6 ? ATTR.SNAT_IPV6 : ATTR.SNAT_IPV4);
      return;
    case 'dnat':
      ct.dnat.ip = text;
      ct.setBit(v6 ? ATTR.DNAT_IPV6 : ATTR.DNAT_IPV4);
      return;
    case 'any':
      // opt2family_attr has no row for -j: both entries are 0, ATTR_ORIG_IPV4_SRC, so conntrack
      // stores the NAT address (its first four bytes for IPv6) as the original source.
      ct.orig.src = v6 ? addrText(ad.subarray(0, 4)) : text;
      ct.setBit(ATTR.ORIG_IPV4_SRC);
      return;
    default:
      return;
  }
}

/** setL3 is the nfct_set_attr_u8(ct, opt2attr[opt], l3) part of nfct_set_addr_opt. */
function setL3(opt: string, ct: CtObj, l3: number): void {
  if (opt === 'r' || opt === 'q') {
    ct.repl.l3 = l3;
    ct.setBit(ATTR.REPL_L3PROTO);
  } else if (opt === 'j') {
    // opt2attr['j'] is 0 too: the library reads the one-byte family as a four-byte address.
    ct.orig.src = `${l3}.0.0.0`;
    ct.setBit(ATTR.ORIG_IPV4_SRC);
  } else {
    ct.orig.l3 = l3;
    ct.setBit(ATTR.ORIG_L3PROTO);
  }
}

/** ParsedAddr is parse_addr()'s result: family (0 when invalid), bytes, and mask (-1 none, -2 invalid). */
interface ParsedAddr {
  family: number;
  bytes: Uint8Array;
  mask: number;
}

/** parseAddr is parse_addr(): inet_aton, then inet_pton(AF_INET6), with an optional /prefix. */
export function parseAddr(cp: string): ParsedAddr {
  // strncpy into char[INET6_ADDRSTRLEN]: at most 45 characters survive.
  let buf = cp.slice(0, 45);
  let mask: number;
  const slash = buf.indexOf('/');
  if (slash >= 0) {
    const tail = buf.slice(slash + 1);
    const r = strtol(tail, 10);
    mask = Number(BigInt.asIntN(32, r.value));
    if (mask < 0 || r.end !== tail.length) mask = -2;
    buf = buf.slice(0, slash);
  } else mask = -1;
  const v4 = inetAton(buf);
  if (v4 !== undefined) return { family: AF_INET, bytes: v4, mask: mask > 32 ? -2 : mask };
  const v6 = inetPton6(buf);
  if (v6 !== undefined) return { family: AF_INET6, bytes: v6, mask: mask > 128 ? -2 : mask };
  return { family: AF_UNSPEC, bytes: new Uint8Array(0), mask };
}

/** buildNetmask is nfct_build_netmask: a prefix length as address bytes. */
export function buildNetmask(bits: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    const b = Math.max(0, Math.min(8, bits - 8 * i));
    out[i] = (0xff << (8 - b)) & 0xff;
  }
  return out;
}

function validPort(s: string): boolean {
  if (s === '' || !/^[0-9]+$/.test(s)) return false;
  return Number(s) <= 0xffff;
}

/** splitAddressAndPort is split_address_and_port(): "ip", "ip:port", "[ipv6]:port". */
function splitAddressAndPort(arg: string): { address: string; port: string | undefined } {
  const lb = arg.indexOf('[');
  let address: string | undefined;
  let cursor = -1;
  if (lb >= 0) {
    const start = lb + 1;
    const rb = arg.indexOf(']', start);
    if (rb === start) exitError(EXIT.PARAMETER_PROBLEM, 'No IPv6 address specified');
    if (rb < 0) exitError(EXIT.PARAMETER_PROBLEM, "No closing ']' around IPv6 address");
    cursor = arg.indexOf(':', rb);
    if (cursor >= 0) address = arg.slice(start, rb);
  } else {
    cursor = arg.indexOf(':');
    if (cursor >= 0 && arg.indexOf(':', cursor + 1) < 0) address = arg.slice(0, cursor);
    else cursor = -1;
  }
  if (cursor >= 0) {
    const port = arg.slice(cursor + 1);
    if (port.length === 0) exitError(EXIT.PARAMETER_PROBLEM, "No port specified after `:'");
    if (!validPort(port)) exitError(EXIT.PARAMETER_PROBLEM, `Invalid port \`${port}'`);
    return { address: address ?? arg, port };
  }
  return { address: arg, port: undefined };
}

/** getLongOpt is get_long_opt(): the first long option (in the current table) returning `val`. */
function getLongOpt(opts: readonly LongOption[], val: number): string {
  return opts.find((o) => o.val === val)?.name ?? 'unknown';
}

/** doParseParameter is do_parse_parameter(): a case-insensitive prefix of a table word, with the SRC_NAT/DST_NAT warnings. */
function doParseParameter(word: string, len: number, table: ParseTable, io: ParseIo): number | undefined {
  if (strncasecmpEq(word, 'SRC_NAT', len)) {
    io.stderr('WARNING: ignoring SRC_NAT, use --src-nat instead\n');
    return 0;
  }
  if (strncasecmpEq(word, 'DST_NAT', len)) {
    io.stderr('WARNING: ignoring DST_NAT, use --dst-nat instead\n');
    return 0;
  }
  for (let i = 0; i < table.names.length; i++) if (strncasecmpEq(word, table.names[i]!, len)) return table.values[i]!;
  return undefined;
}

/** parseParameter is parse_parameter(): a comma list, every word required to match. */
export function parseParameter(arg: string, table: ParseTable, io: ParseIo): number {
  let v = 0;
  for (;;) {
    const comma = arg.indexOf(',');
    if (comma < 0) break;
    const r = comma === 0 ? undefined : doParseParameter(arg, comma, table, io);
    if (r === undefined) exitError(EXIT.PARAMETER_PROBLEM, `Bad parameter \`${arg}'`);
    v |= r;
    arg = arg.slice(comma + 1);
  }
  const r = arg.length === 0 ? undefined : doParseParameter(arg, arg.length, table, io);
  if (r === undefined) exitError(EXIT.PARAMETER_PROBLEM, `Bad parameter \`${arg}'`);
  return v | r;
}

/** parseStatusMask is parse_parameter_mask() for -u: words set bits, "!WORD" clears them, UNREPLIED wants SEEN_REPLY clear. */
function parseStatusMask(arg: string, st: { status: number; mask: number }, io: ParseIo): void {
  for (;;) {
    const comma = arg.indexOf(',');
    if (comma < 0) break;
    if (comma === 0) exitError(EXIT.PARAMETER_PROBLEM, `Bad parameter \`${arg}'`);
    const negated = arg[0] === '!';
    if (negated) arg = arg.slice(1);
    const at = comma - (negated ? 1 : 0);
    if (at === 0) exitError(EXIT.PARAMETER_PROBLEM, `Bad parameter \`${arg}'`);
    if (!negated && strncmpEq(arg, 'UNREPLIED', 9)) {
      st.mask |= IPS_SEEN_REPLY;
      arg = arg.slice(at + 1);
      continue;
    }
    const r = doParseParameter(arg, at, PARSE_STATUS, io);
    if (r === undefined) exitError(EXIT.PARAMETER_PROBLEM, `Bad parameter \`${arg}'`);
    if (negated) st.mask |= r;
    else st.status |= r;
    arg = arg.slice(at + 1);
  }
  const negated = arg[0] === '!';
  if (negated) arg = arg.slice(1);
  if (!negated && strncmpEq(arg, 'UNREPLIED', 9)) {
    st.mask |= IPS_SEEN_REPLY;
    return;
  }
  const r = arg.length === 0 ? undefined : doParseParameter(arg, arg.length, PARSE_STATUS, io);
  if (r === undefined) exitError(EXIT.PARAMETER_PROBLEM, `Bad parameter \`${arg}'`);
  if (negated) st.mask |= r;
  else st.status |= r;
}

/** labelmapInit is labelmap_init(): load once; every failed attempt prints perror's line. */
function labelmapInit(session: Session, io: ParseIo): void {
  if (session.labelmap !== undefined) return;
  const r = io.loadLabels();
  if (r.map !== undefined) session.labelmap = r.map;
  else io.stderr(`nfct_labelmap_new: ${strerror(r.errno)}\n`);
}

function getLabel(session: Session, name: string): number {
  const bit = labelBit(session.labelmap, name);
  if (bit < 0) exitError(EXIT.PARAMETER_PROBLEM, `unknown label '${name}'`);
  return bit;
}

/** parseLabels is parse_label_get_max() then parse_label(): a bitmask sized for the highest label named. */
function parseLabels(session: Session, arg: string): Bitmask {
  const names = arg.split(',');
  let max = 0;
  for (const n of names) max = Math.max(max, getLabel(session, n));
  const b = new Bitmask(max);
  for (const n of names) b.set(getLabel(session, n));
  return b;
}

function mergeBitmasks(current: Bitmask | undefined, src: Bitmask): Bitmask {
  if (current === undefined) return src;
  let big = current;
  let small = src;
  if (src.maxBit > current.maxBit) {
    big = src;
    small = current;
  }
  for (let i = 0; i <= small.maxBit; i++) if (small.test(i)) big.set(i);
  return big;
}

/** findProto is findproto(): a registered extension by name (any case), /etc/protocols, or a number. */
function findProto(name: string, io: ParseIo): { h: ProtoHandler; num: number } | undefined {
  const lower = name.toLowerCase();
  const byName = PROTOS.find((p) => p.name === lower);
  if (byName !== undefined) return { h: byName, num: byName.protonum };
  const ent = getProtoByName(io.protocols(), name);
  if (ent !== undefined) return { h: UNKNOWN, num: ent };
  const r = strtoul(name, 0);
  if (r.end === 0 || r.end !== name.length || r.value > 255n) return undefined;
  const num = Number(r.value);
  return { h: PROTOS.find((p) => p.protonum === num) ?? UNKNOWN, num };
}

/** getProtoByName is getprotobyname(3) over /etc/protocols text: official names and aliases. */
export function getProtoByName(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    if (fields.length < 2 || fields[0] === '') continue;
    const num = Number(fields[1]);
    if (!Number.isInteger(num)) continue;
    if (fields[0] === name || fields.slice(2).includes(name)) return num;
  }
  return undefined;
}

/** getProtoByNumber is getprotobynumber(3)'s official name. */
export function getProtoByNumber(text: string, num: number): string | undefined {
  for (const line of text.split('\n')) {
    const fields = line.replace(/#.*/, '').trim().split(/\s+/);
    if (fields.length >= 2 && fields[0] !== '' && Number(fields[1]) === num) return fields[0];
  }
  return undefined;
}

/** ProtoState is the per-run extension bookkeeping: merged option tables and their offsets. */
interface ProtoState {
  opts: LongOption[];
  offset: number;
  handlerOffset: number;
}

const CMD2TYPE: Readonly<Record<string, readonly [number, number]>> = {
  L: [CMD.CT_LIST, CMD.EXP_LIST],
  I: [CMD.CT_CREATE, CMD.EXP_CREATE],
  D: [CMD.CT_DELETE, CMD.EXP_DELETE],
  G: [CMD.CT_GET, CMD.EXP_GET],
  F: [CMD.CT_FLUSH, CMD.EXP_FLUSH],
  E: [CMD.CT_EVENT, CMD.EXP_EVENT],
  V: [CMD.CT_VERSION, CMD.CT_VERSION],
  h: [CMD.CT_HELP, CMD.CT_HELP],
  C: [CMD.CT_COUNT, CMD.EXP_COUNT],
  S: [CMD.CT_STATS, CMD.EXP_STATS],
  U: [CMD.CT_UPDATE, 0],
  A: [CMD.CT_ADD, 0],
};

/** bit2cmd: the command's bit number, NUMBER_OF_CMD when there is no command. */
export function bit2cmd(command: number): number {
  for (let i = 0; i < NUMBER_OF_CMD; i++) if ((command & (1 << i)) !== 0) return i;
  return NUMBER_OF_CMD;
}

/** parseCommand is do_parse(): argv[0] is the program name. */
export function parseCommand(argv: readonly string[], session: Session, io: ParseIo): CtCmd {
  const g = new Getopt(argv, io.env);
  const tmpl = newTmpl();
  const st = { status: 0, mask: 0 };
  let command = 0;
  let options = 0;
  let family = AF_UNSPEC;
  let type = 0;
  let protonum = 0;
  let eventMask = 0;
  let bufferSize = 0n;
  const l4flags = { v: 0 };
  const ps: ProtoState = { opts: [...BASE_OPTS], offset: 0, handlerOffset: 0 };

  const addCommand = (n: number): void => {
    if (command !== 0) exitError(EXIT.PARAMETER_PROBLEM, 'Invalid commands combination');
    command |= n;
  };
  const getOptionalArg = (): string | undefined => {
    if (g.optarg !== undefined) return undefined;
    const next = g.argv[g.optind];
    if (next !== undefined && next[0] !== '-' && next[0] !== '!') {
      g.optind++;
      return next;
    }
    return undefined;
  };
  const checkType = (): number => {
    const table = getOptionalArg();
    if (table === undefined) return TABLE.CONNTRACK;
    if (strncmpEq('expect', table, table.length)) return TABLE.EXPECT;
    if (strncmpEq('conntrack', table, table.length)) return TABLE.CONNTRACK;
    if (strncmpEq('dying', table, table.length)) return TABLE.DYING;
    if (strncmpEq('unconfirmed', table, table.length)) return TABLE.UNCONFIRMED;
    return exitError(EXIT.PARAMETER_PROBLEM, `unknown type \`${table}'`);
  };
  const setFamily = (f: number): void => {
    if (family === AF_UNSPEC) family = f;
    else if (family !== f) exitError(EXIT.PARAMETER_PROBLEM, 'mismatched address family');
  };
  const parseAddrFromOpt = (opt: string, arg: string, ct: CtObj, ctmask: CtObj | undefined): Uint8Array => {
    const a = parseAddr(arg);
    if (a.family === AF_UNSPEC) exitError(EXIT.PARAMETER_PROBLEM, `Invalid IP address \`${arg}'`);
    setFamily(a.family);
    const maskopt = OPT2MASKOPT[opt];
    if (a.mask !== -1 && maskopt === undefined) exitError(EXIT.PARAMETER_PROBLEM, `CIDR notation unavailable for \`--${getLongOpt(ps.opts, c(opt))}'`);
    else if (a.mask === -2) exitError(EXIT.PARAMETER_PROBLEM, 'Invalid netmask');
    options |= OPT2TYPE[opt] ?? 0;
    setAddrOnly(opt, ct, a.bytes, a.family);
    setL3(opt, ct, a.family);
    if (a.mask === -1 || maskopt === undefined || ctmask === undefined) return a.bytes;
    if ((a.family === AF_INET && a.mask === 32) || (a.family === AF_INET6 && a.mask === 128)) return a.bytes;
    const nm = buildNetmask(a.mask, a.bytes.length);
    options |= OPT2TYPE[maskopt] ?? 0;
    setAddrOnly(maskopt, ctmask, nm, a.family);
    setL3(maskopt, ctmask, a.family);
    return nm;
  };
  const setNatDetails = (opt: 'n' | 'g', ad: Uint8Array, port: string | undefined, fam: number): void => {
    setAddrOnly(opt, tmpl.ct, ad, fam);
    if (port === undefined) return;
    const p = u16(atoi(port));
    if (opt === 'n') {
      tmpl.ct.snat.port = p;
      tmpl.ct.setBit(ATTR.SNAT_PORT);
    } else {
      tmpl.ct.dnat.port = p;
      tmpl.ct.setBit(ATTR.DNAT_PORT);
    }
  };

  for (;;) {
    const code = g.next(GETOPT_STR, ps.opts);
    if (code === -1) break;
    const optarg = g.optarg;
    const arg = optarg ?? '';
    const ch = code < 256 ? String.fromCharCode(code) : '';
    switch (ch) {
      case 'L': {
        type = checkType();
        if (type === TABLE.DYING || type === TABLE.UNCONFIRMED) addCommand(CMD.CT_LIST);
        else addCommand(CMD2TYPE['L']![type]!);
        break;
      }
      case 'I':
      case 'D':
      case 'G':
      case 'F':
      case 'E':
      case 'V':
      case 'h':
      case 'C':
      case 'S':
      case 'U':
      case 'A': {
        type = checkType();
        if (type === TABLE.DYING || type === TABLE.UNCONFIRMED) exitError(EXIT.PARAMETER_PROBLEM, "Can't do that command with tables `dying' and `unconfirmed'");
        const n = CMD2TYPE[ch]![type]!;
        if (n !== 0) addCommand(n);
        else exitError(EXIT.PARAMETER_PROBLEM, `Can't do --${getLongOpt(ps.opts, code)} on ${type === TABLE.CONNTRACK ? 'conntrack' : 'expectations'}`);
        break;
      }
      case 's':
      case 'd':
      case 'r':
      case 'q':
        parseAddrFromOpt(ch, arg, tmpl.ct, tmpl.mask);
        break;
      case '[':
      case ']':
        parseAddrFromOpt(ch, arg, tmpl.exptuple, tmpl.mask);
        break;
      case '{':
      case '}':
        parseAddrFromOpt(ch, arg, tmpl.mask, undefined);
        break;
      case 'p': {
        options |= OPT.PROTO;
        const f = findProto(arg, io);
        if (f === undefined) exitError(EXIT.PARAMETER_PROBLEM, `\`${arg}' unsupported protocol`);
        session.proto = f.h;
        protonum = f.num;
        ps.offset += 256;
        ps.handlerOffset = ps.offset;
        for (const o of f.h.opts) ps.opts.push({ ...o, val: o.val + ps.offset });
        tmpl.ct.orig.proto = protonum;
        tmpl.ct.setBit(ATTR.ORIG_L4PROTO);
        break;
      }
      case 't': {
        options |= OPT.TIMEOUT;
        const t = u32(atol(arg));
        tmpl.ct.timeout = t;
        tmpl.ct.setBit(ATTR.TIMEOUT);
        tmpl.expTimeout = t;
        break;
      }
      case 'u': {
        options |= OPT.STATUS;
        st.mask = tmpl.filterStatusKernel.mask;
        parseStatusMask(arg, st, io);
        tmpl.filterStatusKernel.mask = st.mask;
        tmpl.ct.status = st.status;
        tmpl.ct.setBit(ATTR.STATUS);
        if (tmpl.filterStatusKernel.mask === 0) tmpl.filterStatusKernel.mask = st.status;
        // conntrack 1.4.7 also stores the status in the mark template (later read by -m filters).
        tmpl.mark.value = st.status;
        tmpl.filterStatusKernel.val = st.status;
        tmpl.filterStatusKernelSet = true;
        break;
      }
      case 'e':
        options |= OPT.EVENT_MASK;
        eventMask |= parseParameter(arg, PARSE_EVENT, io);
        break;
      case 'o': {
        options |= OPT.OUTPUT;
        session.outputMask |= parseParameter(arg, PARSE_OUTPUT, io);
        const m = session.outputMask;
        if ((m & O.CL) !== 0) labelmapInit(session, io);
        if ((m & O.SAVE) !== 0 && (m & (O.EXT | O.TMS | O.ID | O.KTMS | O.CL | O.XML | O.JSON)) !== 0)
          exitError(EXIT.OTHER_PROBLEM, 'cannot combine save output with any other output type, use -o save only');
        if ((m & O.JSON) !== 0 && (m & ~O.JSON) !== 0) exitError(EXIT.OTHER_PROBLEM, 'cannot combine json output with any other output type, use -o json only');
        break;
      }
      case 'z':
        options |= OPT.ZERO;
        break;
      case 'n':
      case 'g':
      case 'j': {
        options |= OPT2TYPE[ch]!;
        const opt = getOptionalArg();
        if (opt !== undefined) {
          const { address, port } = splitAddressAndPort(opt);
          const ad = parseAddrFromOpt(ch, address, tmpl.ct, undefined);
          if (ch === 'j') {
            setNatDetails('g', ad, port, family);
            setNatDetails('n', ad, port, family);
          } else setNatDetails(ch, ad, port, family);
        }
        break;
      }
      case 'w':
      case '(':
      case ')': {
        options |= OPT2TYPE[ch]!;
        const z = u16(strtoul(arg, 0).value);
        if (ch === 'w') {
          tmpl.ct.zone = z;
          tmpl.ct.setBit(ATTR.ZONE);
        } else if (ch === '(') {
          tmpl.ct.orig.zone = z;
          tmpl.ct.setBit(ATTR.ORIG_ZONE);
        } else {
          tmpl.ct.repl.zone = z;
          tmpl.ct.setBit(ATTR.REPL_ZONE);
        }
        break;
      }
      case 'i':
      case 'c': {
        options |= OPT2TYPE[ch]!;
        const v = u32(strtoul(arg, 0).value);
        if (ch === 'i') {
          tmpl.ct.id = v;
          tmpl.ct.setBit(ATTR.ID);
        } else {
          tmpl.ct.secmark = v;
          tmpl.ct.setBit(ATTR.SECMARK);
        }
        break;
      }
      case 'm': {
        options |= OPT.MARK;
        const r = strtoul(arg, 0);
        tmpl.mark.value = u32(r.value);
        tmpl.mark.mask = arg[r.end] === '/' ? u32(strtoul(arg.slice(r.end + 1), 0).value) : 0xffffffff;
        tmpl.filterMarkKernel = { val: tmpl.mark.value, mask: tmpl.mark.mask };
        break;
      }
      case 'l':
      case '<':
      case '>': {
        options |= OPT2TYPE[ch]!;
        labelmapInit(session, io);
        if ((options & (OPT.DEL_LABEL | OPT.ADD_LABEL)) === (OPT.DEL_LABEL | OPT.ADD_LABEL))
          exitError(EXIT.OTHER_PROBLEM, 'cannot use --label-add and --label-del at the same time');
        let text = arg;
        if (ch === '>') {
          const t = getOptionalArg();
          if (t === undefined) break; // delete all labels
          text = t;
        }
        const b = parseLabels(session, text);
        if (ch === 'l') tmpl.label = mergeBitmasks(tmpl.label, b);
        else tmpl.labelModify = mergeBitmasks(tmpl.labelModify, b);
        break;
      }
      case 'a':
        io.stderr('WARNING: ignoring -a, deprecated option.\n');
        break;
      case 'f':
        options |= OPT.FAMILY;
        if (strncmpEq(arg, 'ipv4', 4)) setFamily(AF_INET);
        else if (strncmpEq(arg, 'ipv6', 4)) setFamily(AF_INET6);
        else exitError(EXIT.PARAMETER_PROBLEM, `\`${arg}' unsupported protocol`);
        break;
      case 'b':
        bufferSize = atol(arg);
        options |= OPT.BUFFERSIZE;
        break;
      default:
        if (code === COLON) exitError(EXIT.PARAMETER_PROBLEM, `option \`${g.argv[g.optind - 1] ?? ''}' requires an argument`);
        if (code === Q) exitError(EXIT.PARAMETER_PROBLEM, `unknown option \`${g.argv[g.optind - 1] ?? ''}'`);
        if (session.proto?.parse !== undefined) {
          // parse_opts takes a `char`: the value minus the *latest* merge offset, truncated to a
          // byte — options merged for an earlier -p land in the newer extension's switch.
          session.proto.parse((code - ps.handlerOffset) & 0xff, arg, tmpl, l4flags);
        }
        break;
    }
  }

  if (family === AF_UNSPEC) {
    switch (command) {
      case CMD.CT_LIST:
      case CMD.CT_UPDATE:
      case CMD.CT_DELETE:
      case CMD.CT_GET:
      case CMD.CT_FLUSH:
      case CMD.CT_EVENT:
        break;
      default:
        family = AF_INET;
    }
  }
  if ((options & OPT.ANY_NAT) !== 0 && (options & (OPT.SRC_NAT | OPT.DST_NAT)) !== 0)
    exitError(EXIT.PARAMETER_PROBLEM, "cannot specify `--src-nat' or `--dst-nat' with `--any-nat'");
  const cmd = bit2cmd(command);
  const res = genericOptCheck(options, NUMBER_OF_OPT, COMMANDS_V_OPTIONS[cmd] ?? [], OPTFLAGS, [OPT_ORIG, OPT_REPL]);
  if (!res.ok) {
    if (res.partial === 1) exitError(EXIT.PARAMETER_PROBLEM, "you have to specify `--reply-src' and `--reply-dst'");
    exitError(EXIT.PARAMETER_PROBLEM, "you have to specify `--src' and `--dst'");
  }
  if ((command & CMD.CT_HELP) === 0 && session.proto?.finalCheck !== undefined) session.proto.finalCheck(l4flags.v, cmd, tmpl.ct);

  return { command, cmd, options, family, type, protonum, eventMask, bufferSize, tmpl };
}
