import { atoi, strtoul, u16, u32, u8, strncasecmpEq } from './cstr.js';
import { ATTR, CtObj, P } from './ctobj.js';
import { CMD_BIT, exitError, EXIT } from './errors.js';
import type { LongOption } from './getopt.js';
import { genericOptCheck } from './optcheck.js';

/**
 * The layer-4 protocol extensions of conntrack 1.4.7 (extensions/libct_proto_*.c): the long
 * options each adds once `-p <proto>` is seen, how they fill the templates, which commands allow
 * them, the checks run after parsing, and what `-o save` prints for them.
 */

/** Templates are the objects the extensions fill: the entry, the expectation tuple and the mask. */
export interface Templates {
  readonly ct: CtObj;
  readonly exptuple: CtObj;
  readonly mask: CtObj;
}

/** PrintOpt is struct ct_print_opts: one `-o save` field. */
export interface PrintOpt {
  readonly name: string;
  readonly attr: number;
  readonly type: 'u8' | 'be16' | 'u16' | 'be32' | 'u32' | 'u64' | 'bitmap';
  readonly map?: readonly (string | undefined)[];
}

/** ProtoHandler is struct ctproto_handler. */
export interface ProtoHandler {
  readonly name: string;
  readonly protonum: number;
  readonly opts: readonly LongOption[];
  /** parse gets the option value minus the merge offset, as the C `char` it is there. */
  parse?(c: number, optarg: string, t: Templates, flags: { v: number }): void;
  finalCheck?(flags: number, cmd: number, ct: CtObj): void;
  readonly printOpts: readonly PrintOpt[];
  readonly help: string;
}

const TCP_STATES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'] as const;
// conntrack-tools' own SCTP name table stops at SHUTDOWN_ACK_SENT; the two HEARTBEAT states are
// NULL there (printed "(null)" by -o save) although the library's table names them.
const SCTP_STATES_CLI: readonly (string | undefined)[] = ['NONE', 'CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT', 'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT', undefined, undefined];
const DCCP_STATES = ['NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT', 'IGNORE', 'INVALID'] as const;
const DCCP_ROLES = ['client', 'server'] as const;

// Row tables: commands_v_options[cmd] for the extension, 0 illegal, 1 compulsory, 2 optional, 3 see coupled flags.
type Rows = Partial<Record<number, readonly number[]>>;

function ch(c: string): number {
  return c.charCodeAt(0);
}

function portOpts(state: boolean): LongOption[] {
  const o: LongOption[] = [
    { name: 'orig-port-src', hasArg: 1, val: ch('1') },
    { name: 'sport', hasArg: 1, val: ch('1') },
    { name: 'orig-port-dst', hasArg: 1, val: ch('2') },
    { name: 'dport', hasArg: 1, val: ch('2') },
    { name: 'reply-port-src', hasArg: 1, val: ch('3') },
    { name: 'reply-port-dst', hasArg: 1, val: ch('4') },
    { name: 'mask-port-src', hasArg: 1, val: ch('5') },
    { name: 'mask-port-dst', hasArg: 1, val: ch('6') },
  ];
  if (state)
    o.push(
      { name: 'state', hasArg: 1, val: ch('7') },
      { name: 'tuple-port-src', hasArg: 1, val: ch('8') },
      { name: 'tuple-port-dst', hasArg: 1, val: ch('9') },
    );
  else o.push({ name: 'tuple-port-src', hasArg: 1, val: ch('7') }, { name: 'tuple-port-dst', hasArg: 1, val: ch('8') });
  return o;
}

const PORT_PRINT: readonly PrintOpt[] = [
  { name: '--sport', attr: ATTR.ORIG_PORT_SRC, type: 'be16' },
  { name: '--dport', attr: ATTR.ORIG_PORT_DST, type: 'be16' },
  { name: '--reply-port-src', attr: ATTR.REPL_PORT_SRC, type: 'be16' },
  { name: '--reply-port-dst', attr: ATTR.REPL_PORT_DST, type: 'be16' },
];

const PORT_HELP =
  '  --orig-port-src\t\toriginal source port\n' +
  '  --orig-port-dst\t\toriginal destination port\n' +
  '  --reply-port-src\t\treply source port\n' +
  '  --reply-port-dst\t\treply destination port\n' +
  '  --mask-port-src\t\tmask source port\n' +
  '  --mask-port-dst\t\tmask destination port\n' +
  '  --tuple-port-src\t\texpectation tuple src port\n' +
  '  --tuple-port-src\t\texpectation tuple dst port\n';

/** setPort is the common case of the port options: htons(atoi(optarg)) into one tuple field. */
function setPort(obj: CtObj, which: 'osrc' | 'odst' | 'rsrc' | 'rdst', value: number, l4: number | undefined): void {
  switch (which) {
    case 'osrc':
      obj.orig.sport = value;
      obj.setBit(ATTR.ORIG_PORT_SRC);
      break;
    case 'odst':
      obj.orig.dport = value;
      obj.setBit(ATTR.ORIG_PORT_DST);
      break;
    case 'rsrc':
      obj.repl.sport = value;
      obj.setBit(ATTR.REPL_PORT_SRC);
      break;
    case 'rdst':
      obj.repl.dport = value;
      obj.setBit(ATTR.REPL_PORT_DST);
      break;
  }
  if (l4 === undefined) return;
  if (which === 'rsrc' || which === 'rdst') {
    obj.repl.proto = l4;
    obj.setBit(ATTR.REPL_L4PROTO);
  } else {
    obj.orig.proto = l4;
    obj.setBit(ATTR.ORIG_L4PROTO);
  }
}

/**
 * portParse is the shared parse of tcp/udp/udplite/sctp/dccp ports. The tuple-port options of
 * tcp, sctp and dccp store the *port* (truncated to a byte) as the expectation tuple's protocol, a
 * conntrack-tools 1.4.7 bug that keepstate reproduces (the kernel then refuses the expectation).
 */
function portParse(proto: number, codes: { tsrc: number; tdst: number }, buggyTuple: boolean) {
  return (c: number, optarg: string, t: Templates, flags: { v: number }, base: number): boolean => {
    const port = u16(atoi(optarg));
    switch (c) {
      case base + 0:
        setPort(t.ct, 'osrc', port, proto);
        flags.v |= 1 << 0;
        return true;
      case base + 1:
        setPort(t.ct, 'odst', port, proto);
        flags.v |= 1 << 1;
        return true;
      case base + 2:
        setPort(t.ct, 'rsrc', port, proto);
        flags.v |= 1 << 2;
        return true;
      case base + 3:
        setPort(t.ct, 'rdst', port, proto);
        flags.v |= 1 << 3;
        return true;
      case base + 4:
        setPort(t.mask, 'osrc', port, proto);
        flags.v |= 1 << 4;
        return true;
      case base + 5:
        setPort(t.mask, 'odst', port, proto);
        flags.v |= 1 << 5;
        return true;
      case codes.tsrc:
        setPort(t.exptuple, 'osrc', port, buggyTuple ? u8(swap16(port)) : proto);
        return true;
      case codes.tdst:
        setPort(t.exptuple, 'odst', port, buggyTuple ? u8(swap16(port)) : proto);
        return true;
    }
    return false;
  };
}

/** bswap32 is htonl on a little-endian host. */
export function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** swap16 is htons on a little-endian host: the byte the C code truncates a network-order port to. */
function swap16(v: number): number {
  return ((v & 0xff) << 8) | (v >> 8);
}

function coupledCheck(flags: number, cmd: number, numOpts: number, rows: Rows, names: readonly (string | undefined)[], msgs: readonly [string, string]): void {
  const r = genericOptCheck(flags, numOpts, rows[cmd] ?? [], names, [0b11, 0b1100]);
  if (!r.ok) {
    if (r.partial === -1 || r.partial === 0) exitError(EXIT.PARAMETER_PROBLEM, msgs[0]);
    else exitError(EXIT.PARAMETER_PROBLEM, msgs[1]);
  }
}

// ---------------------------------------------------------------- tcp
const TCP_ROWS: Rows = {
  [CMD_BIT.CT_LIST]: [2, 2, 2, 2, 0, 0, 2, 0, 0],
  [CMD_BIT.CT_CREATE]: [3, 3, 3, 3, 0, 0, 1, 0, 0],
  [CMD_BIT.CT_UPDATE]: [2, 2, 2, 2, 0, 0, 2, 0, 0],
  [CMD_BIT.CT_DELETE]: [2, 2, 2, 2, 0, 0, 2, 0, 0],
  [CMD_BIT.CT_GET]: [3, 3, 3, 3, 0, 0, 2, 0, 0],
  [CMD_BIT.CT_EVENT]: [2, 2, 2, 2, 0, 0, 2, 0, 0],
  [CMD_BIT.EXP_CREATE]: [1, 1, 0, 0, 1, 1, 0, 1, 1],
  [CMD_BIT.EXP_DELETE]: [1, 1, 1, 1, 0, 0, 0, 0, 0],
  [CMD_BIT.EXP_GET]: [1, 1, 1, 1, 0, 0, 0, 0, 0],
  [CMD_BIT.CT_ADD]: [3, 3, 3, 3, 0, 0, 1, 0, 0],
};
const TCP_FLAGS_NAMES = ['sport', 'dport', 'reply-port-src', 'reply-port-dst', 'mask-port-src', 'mask-port-dst', 'state', 'tuple-port-src', 'tuple-port-dst'];
const IP_CT_TCP_FLAG_SACK_PERM = 0x02;
const IP_CT_TCP_FLAG_CLOSE_INIT = 0x04;
const IP_CT_TCP_FLAG_BE_LIBERAL = 0x08;

const tcpPorts = portParse(P.TCP, { tsrc: ch('8'), tdst: ch('9') }, true);
const TCP: ProtoHandler = {
  name: 'tcp',
  protonum: P.TCP,
  opts: portOpts(true),
  parse(c, optarg, t, flags) {
    if (c === ch('7')) {
      let i = TCP_STATES.findIndex((s) => s === optarg);
      if (i >= 0) {
        t.ct.tcpState = i;
        t.ct.setBit(ATTR.TCP_STATE);
      } else i = TCP_STATES.length;
      // LISTEN is what the kernel has called SYN_SENT2 (9) since Linux 2.6.31.
      if (optarg === 'LISTEN') {
        t.ct.tcpState = 9;
        t.ct.setBit(ATTR.TCP_STATE);
      } else if (i === TCP_STATES.length) exitError(EXIT.PARAMETER_PROBLEM, `unknown TCP state \`${optarg}'`);
      flags.v |= 1 << 6;
      return;
    }
    const before = flags.v;
    if (tcpPorts(c, optarg, t, flags, ch('1'))) {
      if (c === ch('8')) flags.v = before | (1 << 7);
      if (c === ch('9')) flags.v = before | (1 << 8);
    }
  },
  finalCheck(flags, cmd, ct) {
    coupledCheck(flags, cmd, 10, TCP_ROWS, TCP_FLAGS_NAMES, ["you have to specify `--sport' and `--dport'", "you have to specify `--reply-src-port' and `--reply-dst-port'"]);
    // Manually created TCP entries get window tracking disabled, and CLOSE_INIT from TIME_WAIT on.
    let f = IP_CT_TCP_FLAG_BE_LIBERAL | IP_CT_TCP_FLAG_SACK_PERM;
    if ((ct.has(ATTR.TCP_STATE) ? ct.tcpState : 0) >= 7) f |= IP_CT_TCP_FLAG_CLOSE_INIT;
    ct.tcpFlags = [f, f];
    ct.tcpMask = [f, f];
    ct.setBit(ATTR.TCP_FLAGS_ORIG);
    ct.setBit(ATTR.TCP_MASK_ORIG);
    ct.setBit(ATTR.TCP_FLAGS_REPL);
    ct.setBit(ATTR.TCP_MASK_REPL);
  },
  printOpts: [...PORT_PRINT, { name: '--state', attr: ATTR.TCP_STATE, type: 'u8', map: TCP_STATES }],
  help: PORT_HELP + '  --state\t\t\tTCP state, fe. ESTABLISHED\n',
};

// ---------------------------------------------------------------- udp / udplite
const UDP_ROWS: Rows = {
  [CMD_BIT.CT_LIST]: [2, 2, 2, 2, 0, 0, 0, 0],
  [CMD_BIT.CT_CREATE]: [3, 3, 3, 3, 0, 0, 0, 0],
  [CMD_BIT.CT_UPDATE]: [2, 2, 2, 2, 0, 0, 0, 0],
  [CMD_BIT.CT_DELETE]: [2, 2, 2, 2, 0, 0, 0, 0],
  [CMD_BIT.CT_GET]: [3, 3, 3, 3, 0, 0, 0, 0],
  [CMD_BIT.CT_EVENT]: [2, 2, 2, 2, 0, 0, 0, 0],
  [CMD_BIT.EXP_CREATE]: [1, 1, 0, 0, 1, 1, 1, 1],
  [CMD_BIT.EXP_DELETE]: [1, 1, 1, 1, 0, 0, 0, 0],
  [CMD_BIT.EXP_GET]: [1, 1, 1, 1, 0, 0, 0, 0],
  [CMD_BIT.CT_ADD]: [3, 3, 3, 3, 0, 0, 0, 0],
};
const UDP_FLAGS_NAMES = ['sport', 'dport', 'reply-port-src', 'reply-port-dst', 'mask-port-src', 'mask-port-dst', 'tuple-port-src', 'tuple-port-dst'];

function udpLike(name: string, protonum: number, numOpts: number, udpliteOrder: boolean): ProtoHandler {
  const parse = portParse(protonum, { tsrc: ch('7'), tdst: ch('8') }, false);
  let opts = portOpts(false);
  if (udpliteOrder) {
    // udplite lists the sport/dport aliases last, which changes nothing but `--help` order.
    opts = [...opts.filter((o) => o.name !== 'sport' && o.name !== 'dport'), { name: 'sport', hasArg: 1, val: ch('1') }, { name: 'dport', hasArg: 1, val: ch('2') }];
  }
  return {
    name,
    protonum,
    opts,
    parse(c, optarg, t, flags) {
      const before = flags.v;
      if (parse(c, optarg, t, flags, ch('1'))) {
        if (c === ch('7')) flags.v = before | (1 << 6);
        if (c === ch('8')) flags.v = before | (1 << 7);
      }
    },
    finalCheck(flags, cmd) {
      coupledCheck(flags, cmd, numOpts, UDP_ROWS, UDP_FLAGS_NAMES, ["you have to specify `--sport' and `--dport'", "you have to specify `--reply-src-port' and `--reply-dst-port'"]);
    },
    printOpts: PORT_PRINT,
    help: PORT_HELP,
  };
}
const UDP = udpLike('udp', P.UDP, 9, false);
const UDPLITE = udpLike('udplite', P.UDPLITE, 11, true);

// ---------------------------------------------------------------- sctp
const SCTP_ROWS: Rows = {
  [CMD_BIT.CT_LIST]: [2, 2, 2, 2, 0, 0, 2, 0, 0, 0, 0],
  [CMD_BIT.CT_CREATE]: [3, 3, 3, 3, 0, 0, 1, 0, 0, 1, 1],
  [CMD_BIT.CT_UPDATE]: [2, 2, 2, 2, 0, 0, 2, 0, 0, 2, 2],
  [CMD_BIT.CT_DELETE]: [2, 2, 2, 2, 0, 0, 2, 0, 0, 0, 0],
  [CMD_BIT.CT_GET]: [3, 3, 3, 3, 0, 0, 2, 0, 0, 2, 2],
  [CMD_BIT.CT_EVENT]: [2, 2, 2, 2, 0, 0, 2, 0, 0, 0, 0],
  [CMD_BIT.EXP_CREATE]: [1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1],
  [CMD_BIT.EXP_DELETE]: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
  [CMD_BIT.EXP_GET]: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
  [CMD_BIT.CT_ADD]: [3, 3, 3, 3, 0, 0, 1, 0, 0, 1, 1],
};
const SCTP_FLAGS_NAMES = ['sport', 'dport', 'reply-port-src', 'reply-port-dst', 'mask-port-src', 'mask-port-dst', 'state', 'tuple-port-src', 'tuple-port-dst', 'orig-vtag', 'reply-vtag'];
const sctpPorts = portParse(P.SCTP, { tsrc: 8, tdst: 9 }, true);
const SCTP: ProtoHandler = {
  name: 'sctp',
  protonum: P.SCTP,
  opts: [
    { name: 'orig-port-src', hasArg: 1, val: 1 },
    { name: 'orig-port-dst', hasArg: 1, val: 2 },
    { name: 'reply-port-src', hasArg: 1, val: 3 },
    { name: 'reply-port-dst', hasArg: 1, val: 4 },
    { name: 'mask-port-src', hasArg: 1, val: 5 },
    { name: 'mask-port-dst', hasArg: 1, val: 6 },
    { name: 'state', hasArg: 1, val: 7 },
    { name: 'tuple-port-src', hasArg: 1, val: 8 },
    { name: 'tuple-port-dst', hasArg: 1, val: 9 },
    { name: 'orig-vtag', hasArg: 1, val: 10 },
    { name: 'reply-vtag', hasArg: 1, val: 11 },
    { name: 'sport', hasArg: 1, val: 1 },
    { name: 'dport', hasArg: 1, val: 2 },
  ],
  parse(c, optarg, t, flags) {
    if (c === 7) {
      const i = SCTP_STATES_CLI.findIndex((s) => s === optarg);
      if (i < 0) exitError(EXIT.PARAMETER_PROBLEM, `unknown SCTP state \`${optarg}'`);
      t.ct.sctpState = i;
      t.ct.setBit(ATTR.SCTP_STATE);
      flags.v |= 1 << 6;
      return;
    }
    if (c === 10 || c === 11) {
      // htonl() into a field the library sends through htonl() again: the kernel gets the
      // byte-swapped tag, as with conntrack 1.4.7.
      const v = bswap32(u32(atoi(optarg)));
      t.ct.sctpVtag[c - 10] = v;
      t.ct.setBit(c === 10 ? ATTR.SCTP_VTAG_ORIG : ATTR.SCTP_VTAG_REPL);
      flags.v |= 1 << (c - 1);
      return;
    }
    const before = flags.v;
    if (sctpPorts(c, optarg, t, flags, 1)) {
      if (c === 8) flags.v = before | (1 << 7);
      if (c === 9) flags.v = before | (1 << 8);
    }
  },
  finalCheck(flags, cmd) {
    coupledCheck(flags, cmd, 14, SCTP_ROWS, SCTP_FLAGS_NAMES, ["you have to specify `--sport' and `--dport'", "you have to specify `--reply-src-port' and `--reply-dst-port'"]);
  },
  printOpts: [
    ...PORT_PRINT,
    { name: '--state', attr: ATTR.SCTP_STATE, type: 'u8', map: SCTP_STATES_CLI },
    { name: '--orig-vtag', attr: ATTR.SCTP_VTAG_ORIG, type: 'be32' },
    { name: '--reply-vtag', attr: ATTR.SCTP_VTAG_REPL, type: 'be32' },
  ],
  help: PORT_HELP + '  --state\t\t\tSCTP state, fe. ESTABLISHED\n' + '  --orig-vtag\t\toriginal verification tag\n' + '  --reply-vtag\t\treply verification tag\n',
};

// ---------------------------------------------------------------- dccp
const DCCP_ROWS: Rows = {
  [CMD_BIT.CT_LIST]: [2, 2, 2, 2, 0, 0, 2, 0, 0, 0],
  [CMD_BIT.CT_CREATE]: [3, 3, 3, 3, 0, 0, 1, 0, 0, 1],
  [CMD_BIT.CT_UPDATE]: [2, 2, 2, 2, 0, 0, 2, 0, 0, 0],
  [CMD_BIT.CT_DELETE]: [2, 2, 2, 2, 0, 0, 2, 0, 0, 0],
  [CMD_BIT.CT_GET]: [3, 3, 3, 3, 0, 0, 2, 0, 0, 0],
  [CMD_BIT.CT_EVENT]: [2, 2, 2, 2, 0, 0, 2, 0, 0, 0],
  [CMD_BIT.EXP_CREATE]: [1, 1, 0, 0, 1, 1, 0, 1, 1, 1],
  [CMD_BIT.EXP_DELETE]: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
  [CMD_BIT.EXP_GET]: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
  [CMD_BIT.CT_ADD]: [3, 3, 3, 3, 0, 0, 1, 0, 0, 1],
};
const DCCP_FLAGS_NAMES = ['sport', 'dport', 'reply-port-src', 'reply-port-dst', 'mask-port-src', 'mask-port-dst', 'state', 'tuple-port-src', 'tuple-port-dst', 'role'];
const dccpPorts = portParse(P.DCCP, { tsrc: 8, tdst: 9 }, true);
const DCCP: ProtoHandler = {
  name: 'dccp',
  protonum: P.DCCP,
  opts: [
    { name: 'orig-port-src', hasArg: 1, val: 1 },
    { name: 'orig-port-dst', hasArg: 1, val: 2 },
    { name: 'reply-port-src', hasArg: 1, val: 3 },
    { name: 'reply-port-dst', hasArg: 1, val: 4 },
    { name: 'mask-port-src', hasArg: 1, val: 5 },
    { name: 'mask-port-dst', hasArg: 1, val: 6 },
    { name: 'state', hasArg: 1, val: 7 },
    { name: 'tuple-port-src', hasArg: 1, val: 8 },
    { name: 'tuple-port-dst', hasArg: 1, val: 9 },
    { name: 'sport', hasArg: 1, val: 1 },
    { name: 'dport', hasArg: 1, val: 2 },
    { name: 'role', hasArg: 1, val: 10 },
  ],
  parse(c, optarg, t, flags) {
    if (c === 7) {
      const i = DCCP_STATES.findIndex((s) => s === optarg);
      if (i < 0) exitError(EXIT.PARAMETER_PROBLEM, `Unknown DCCP state \`${optarg}'`);
      t.ct.dccpState = i;
      t.ct.setBit(ATTR.DCCP_STATE);
      flags.v |= 1 << 6;
      return;
    }
    if (c === 10) {
      if (strncasecmpEq(optarg, 'client', optarg.length)) t.ct.dccpRole = 0;
      else if (strncasecmpEq(optarg, 'server', optarg.length)) t.ct.dccpRole = 1;
      else exitError(EXIT.PARAMETER_PROBLEM, `Unknown DCCP role \`${optarg}'`);
      t.ct.setBit(ATTR.DCCP_ROLE);
      flags.v |= 1 << 9;
      return;
    }
    const before = flags.v;
    if (dccpPorts(c, optarg, t, flags, 1)) {
      if (c === 8) flags.v = before | (1 << 7);
      if (c === 9) flags.v = before | (1 << 8);
    }
  },
  finalCheck(flags, cmd) {
    coupledCheck(flags, cmd, 13, DCCP_ROWS, DCCP_FLAGS_NAMES, ["you have to specify `--sport' and `--dport'", "you have to specify `--reply-port-src' and `--report-port-dst'"]);
  },
  printOpts: [
    ...PORT_PRINT,
    { name: '--state', attr: ATTR.DCCP_STATE, type: 'u8', map: DCCP_STATES },
    { name: '--role', attr: ATTR.DCCP_ROLE, type: 'u8', map: DCCP_ROLES },
  ],
  help: PORT_HELP + '  --state\t\t\tDCCP state, fe. RESPOND\n',
};

// ---------------------------------------------------------------- gre
const GRE_ROWS: Rows = {
  [CMD_BIT.CT_LIST]: [2, 2, 2, 2, 0, 0, 0, 0],
  [CMD_BIT.CT_CREATE]: [3, 3, 3, 3, 0, 0, 0, 0],
  [CMD_BIT.CT_UPDATE]: [2, 2, 2, 2, 0, 0, 0, 0],
  [CMD_BIT.CT_DELETE]: [2, 2, 2, 2, 0, 0, 0, 0],
  [CMD_BIT.CT_GET]: [3, 3, 3, 3, 0, 0, 0, 0],
  [CMD_BIT.CT_EVENT]: [2, 2, 2, 2, 0, 0, 0, 0],
  [CMD_BIT.EXP_CREATE]: [1, 1, 1, 1, 1, 1, 1, 1],
  [CMD_BIT.EXP_DELETE]: [1, 1, 1, 1, 0, 0, 0, 0],
  [CMD_BIT.EXP_GET]: [1, 1, 1, 1, 0, 0, 0, 0],
  [CMD_BIT.CT_ADD]: [3, 3, 3, 3, 0, 0, 0, 0],
};
const GRE_FLAGS_NAMES = ['srckey', 'dstkey', 'reply-key-src', 'reply-key-dst', 'mask-key-src', 'mask-key-dst', 'tuple-key-src', 'tuple-key-dst'];
const GRE: ProtoHandler = {
  name: 'gre',
  protonum: P.GRE,
  opts: [
    { name: 'orig-key-src', hasArg: 1, val: ch('1') },
    { name: 'srckey', hasArg: 1, val: ch('1') },
    { name: 'orig-key-dst', hasArg: 1, val: ch('2') },
    { name: 'dstkey', hasArg: 1, val: ch('2') },
    { name: 'reply-key-src', hasArg: 1, val: ch('3') },
    { name: 'reply-key-dst', hasArg: 1, val: ch('4') },
    { name: 'mask-key-src', hasArg: 1, val: ch('5') },
    { name: 'mask-key-dst', hasArg: 1, val: ch('6') },
    { name: 'tuple-key-src', hasArg: 1, val: ch('7') },
    { name: 'tuple-key-dst', hasArg: 1, val: ch('8') },
  ],
  parse(c, optarg, t, flags) {
    const key = u16(strtoul(optarg, 0).value);
    const k = c - ch('1');
    if (k < 0 || k > 7) return;
    const target = k === 4 || k === 5 ? t.mask : k >= 6 ? t.exptuple : t.ct;
    const which = (['osrc', 'odst', 'rsrc', 'rdst', 'osrc', 'odst', 'osrc', 'odst'] as const)[k]!;
    setPort(target, which, key, P.GRE);
    flags.v |= 1 << k;
  },
  finalCheck(flags, cmd) {
    coupledCheck(flags, cmd, 11, GRE_ROWS, GRE_FLAGS_NAMES, ["you have to specify `--srckey' and `--dstkey'", "you have to specify `--reply-src-key' and `--reply-dst-key'"]);
  },
  printOpts: [
    { name: '--srckey', attr: ATTR.ORIG_PORT_SRC, type: 'be16' },
    { name: '--dstkey', attr: ATTR.ORIG_PORT_DST, type: 'be16' },
    { name: '--reply-key-src', attr: ATTR.REPL_PORT_SRC, type: 'be16' },
    { name: '--reply-key-dst', attr: ATTR.REPL_PORT_DST, type: 'be16' },
  ],
  help:
    '  --orig-key-src\t\toriginal source key\n' +
    '  --orig-key-dst\t\toriginal destination key\n' +
    '  --reply-key-src\t\treply source key\n' +
    '  --reply-key-dst\t\treply destination key\n' +
    '  --mask-key-src\t\tmask source key\n' +
    '  --mask-key-dst\t\tmask destination key\n' +
    '  --tuple-key-src\t\texpectation tuple src key\n' +
    '  --tuple-key-src\t\texpectation tuple dst key\n',
};

// ---------------------------------------------------------------- icmp / icmpv6
const ICMP_ROWS: Rows = {
  [CMD_BIT.CT_LIST]: [2, 2, 2],
  [CMD_BIT.CT_CREATE]: [1, 1, 2],
  [CMD_BIT.CT_UPDATE]: [2, 2, 2],
  [CMD_BIT.CT_DELETE]: [2, 2, 2],
  [CMD_BIT.CT_GET]: [1, 1, 2],
  [CMD_BIT.CT_EVENT]: [2, 2, 2],
  [CMD_BIT.CT_ADD]: [1, 1, 2],
};

function icmpLike(v6: boolean): ProtoHandler {
  const n = v6 ? 'icmpv6' : 'icmp';
  const proto = v6 ? P.ICMPV6 : P.ICMP;
  const names = [`${n}-type`, `${n}-code`, `${n}-id`];
  return {
    name: n,
    protonum: proto,
    opts: [
      { name: `${n}-type`, hasArg: 1, val: ch('1') },
      { name: `${n}-code`, hasArg: 1, val: ch('2') },
      { name: `${n}-id`, hasArg: 1, val: ch('3') },
    ],
    parse(c, optarg, t, flags) {
      const ct = t.ct;
      if (c === ch('1')) {
        ct.setIcmpType(u8(atoi(optarg)));
        flags.v |= 1;
      } else if (c === ch('2')) {
        ct.setIcmpCode(u8(atoi(optarg)));
        flags.v |= 2;
      } else if (c === ch('3')) {
        ct.setIcmpId(u16(atoi(optarg)));
        flags.v |= 4;
      } else return;
      ct.orig.proto = proto;
      ct.setBit(ATTR.ORIG_L4PROTO);
      if (ct.has(ATTR.REPL_L3PROTO)) {
        ct.repl.proto = proto;
        ct.setBit(ATTR.REPL_L4PROTO);
      }
    },
    finalCheck(flags, cmd) {
      genericOptCheck(flags, 4, ICMP_ROWS[cmd] ?? [], names, undefined);
    },
    printOpts: [
      { name: `--${n}-type`, attr: ATTR.ICMP_TYPE, type: 'u8' },
      { name: `--${n}-code`, attr: ATTR.ICMP_CODE, type: 'u8' },
      { name: `--${n}-id`, attr: ATTR.ICMP_ID, type: 'be16' },
    ],
    help: `  --${n}-type\t\t\t${n} type\n  --${n}-code\t\t\t${n} code\n  --${n}-id\t\t\t${n} id\n`,
  };
}
const ICMP = icmpLike(false);
const ICMPV6 = icmpLike(true);

/** UNKNOWN is ct_proto_unknown: any other protocol, by name (/etc/protocols) or number. */
export const UNKNOWN: ProtoHandler = {
  name: 'unknown',
  protonum: 0,
  opts: [],
  finalCheck(_flags, _cmd, ct) {
    if (ct.has(ATTR.REPL_L3PROTO) && ct.has(ATTR.ORIG_L4PROTO) && !ct.has(ATTR.REPL_L4PROTO)) {
      ct.repl.proto = ct.orig.proto;
      ct.setBit(ATTR.REPL_L4PROTO);
    }
  },
  printOpts: [],
  help: '  no options (unsupported)\n',
};

/**
 * PROTOS lists the registered extensions in the order conntrack's proto_list holds them (each
 * registration adds at the head, so the last registered comes first).
 */
export const PROTOS: readonly ProtoHandler[] = [GRE, ICMPV6, ICMP, DCCP, SCTP, UDPLITE, UDP, TCP];
