import type { Conntrack, CpuStats, CtEvent, ExpCpuStats, Expectation, ExpEvent } from '../../ctnetlink/types.js';
import type { RawBatch } from '../../netlink/conn.js';
import type { Family } from '../../wire/ip.js';
import { parseIPv4, parseIPv6 } from '../../wire/ip.js';
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  ATTR,
  Bitmask,
  CMP,
  cmp,
  copyMeta,
  copyOrig,
  CtObj,
  expToModel,
  familyName,
  fromModel,
  isDnat,
  isDpat,
  isSnat,
  isSpat,
  setupOriginal,
  setupReply,
  toModel,
} from './ctobj.js';
import { NativeUnavailableError } from '../../native/binding.js';
import { AsciiOut } from './fast-line.js';
import { formatListBatch } from './list-lines.js';
import type { ListThreadData, ListThreadIn, ListThreadOut } from './list-thread.js';
import { CliExit, CMD, CMD_BIT, CT_VERSION, err2str, EXIT, exitError, PREFIX, PROGNAME } from './errors.js';
import { formatConntrack, formatConntrackXml, formatExpect, formatExpectXml, MSG, type FmtFlags, type MsgType, XML_HEADER_CT, XML_HEADER_EXP } from './format.js';
import { conntrackJson, expectationJson } from './json.js';
import { errnoOf, type CtKernel, type DumpTable } from './kernel.js';
import { usage } from './help.js';
import { PipeClosed, type Sink } from './output.js';
import { EV, getProtoByNumber, newSession, O, OPT, OPT_COMPARISON, OPT_ORIG, OPT_REPL, OPT_TUPLE_ORIG, OPT_TUPLE_REPL, parseCommand, TABLE, type CtCmd, type ParseIo, type Session, type Tmpl } from './parse.js';
import { UNKNOWN } from './protos.js';
import { formatSave } from './save.js';
import { KEEPSTATE_VERSION } from '../version.js';

/**
 * do_command_ct() and main() of conntrack 1.4.7 over the CtKernel port: each command sends the
 * requests conntrack sends, filters and prints like it, and ends with its summary line and exit
 * status.
 */

/** EventSource is a subscription as -E consumes it. */
export interface EventSource extends AsyncIterable<{ readonly kind: 'events'; readonly events: readonly (CtEvent | ExpEvent)[] } | { readonly kind: 'overrun' }> {
  close(): void;
  rcvbuf(): number;
}

/** EventWithPort is an event that may say which netlink port caused it (nlmsg_pid; 0 for the kernel). */
type WithPort = { readonly portId?: number };

/** RunIo is everything a run needs from the outside world. */
export interface RunIo {
  readonly sink: Sink;
  readonly parse: ParseIo;
  /** argv0 is the program name as usage() prints it. */
  readonly argv0: string;
  openKernel(): CtKernel;
  subscribe(groups: readonly ('new' | 'update' | 'destroy' | 'exp-new' | 'exp-update' | 'exp-destroy')[], rcvbufBytes: number | undefined): EventSource;
  /** onStop registers the SIGINT/SIGTERM handler of -E; returns an unregister function. */
  onStop(handler: () => void): () => void;
  /** nowMs is gettimeofday() in milliseconds (fractional for microseconds). */
  nowMs(): number;
  readFile(path: string): string;
  progname(portId: number): string | undefined;
}

const EXIT_MSG: Readonly<Record<number, string>> = {
  [CMD_BIT.CT_LIST]: 'flow entries have been shown.',
  [CMD_BIT.CT_CREATE]: 'flow entries have been created.',
  [CMD_BIT.CT_UPDATE]: 'flow entries have been updated.',
  [CMD_BIT.CT_DELETE]: 'flow entries have been deleted.',
  [CMD_BIT.CT_GET]: 'flow entries have been shown.',
  [CMD_BIT.CT_EVENT]: 'flow events have been shown.',
  [CMD_BIT.EXP_LIST]: 'expectations have been shown.',
  [CMD_BIT.EXP_DELETE]: 'expectations have been shown.',
  [CMD_BIT.CT_ADD]: 'flow entries have been added.',
};

const ENOENT = 2;
const EEXIST = 17;
const ENOBUFS_WARNING =
  'WARNING: We have hit ENOBUFS! We are losing events.\nThis message means that the current netlink socket buffer size is too small.\nPlease, check --buffer-size in conntrack(8) manpage.\n';

/** Network is one direction's --mask-src/--mask-dst filter (struct ct_network). */
interface Network {
  readonly network: Uint8Array;
  readonly netmask: Uint8Array;
}

/** Ctx is one command's run state: conntrack's globals for that command plus the kernel handles. */
class Ctx {
  counter = 0;
  /**
   * cur is conntrack's cur_tmpl: the templates of the last command *parsed*. The update and filter
   * callbacks read mark and labels from it, so in a --load-file run every command uses the last
   * line's -m and --label-* values (conntrack 1.4.7 behaviour, reproduced).
   */
  cur: Tmpl;
  xmlHeaderDone = false;
  filterFamily = AF_UNSPEC;
  readonly nets: (Network | undefined)[] = [undefined, undefined];
  private main: CtKernel | undefined;
  private modifier: CtKernel | undefined;
  constructor(
    readonly cmd: CtCmd,
    readonly session: Session,
    readonly io: RunIo,
    cur?: Tmpl,
  ) {
    this.cur = cur ?? cmd.tmpl;
  }
  get outputMask(): number {
    return this.session.outputMask;
  }
  kernel(): CtKernel {
    this.main ??= openOrFail(this.io);
    return this.main;
  }
  modifierKernel(): CtKernel {
    this.modifier ??= openOrFail(this.io);
    return this.modifier;
  }
  close(): void {
    this.main?.close();
    this.modifier?.close();
  }
}

function openOrFail(io: RunIo): CtKernel {
  try {
    return io.openKernel();
  } catch (e) {
    // Our own failure (the addon is missing or stale) says what to do; a socket the kernel refused
    // gets conntrack's words.
    if (e instanceof NativeUnavailableError) return exitError(EXIT.OTHER_PROBLEM, e.message);
    return exitError(EXIT.OTHER_PROBLEM, "Can't open handler");
  }
}

/** fail is the common `Operation failed: …` exit for a kernel error. */
function fail(e: unknown, command: number): never {
  if (e instanceof CliExit || e instanceof PipeClosed) throw e;
  return exitError(EXIT.OTHER_PROBLEM, `Operation failed: ${err2str(errnoOf(e), command)}`);
}

function clip(s: string, size: number): string {
  return s.length >= size ? s.slice(0, size - 1) : s;
}

function familyOfNum(af: number): Family | undefined {
  return familyName(af);
}

// ------------------------------------------------------------------ filters

/** filterInit is nfct_filter_init(): the --mask-src/--mask-dst networks, taken out of the template. */
function filterInit(x: Ctx): void {
  const { cmd } = x;
  const t = cmd.tmpl;
  x.filterFamily = cmd.family;
  const dirs: [number, number, 'src' | 'dst'][] = [
    [OPT.MASK_SRC, OPT.ORIG_SRC, 'src'],
    [OPT.MASK_DST, OPT.ORIG_DST, 'dst'],
  ];
  dirs.forEach(([maskOpt, addrOpt, which], i) => {
    if ((cmd.options & maskOpt) === 0) return;
    if ((cmd.options & addrOpt) === 0) exitError(EXIT.PARAMETER_PROBLEM, `Can't use --mask-${which} without --${which}`);
    const v6 = cmd.family === AF_INET6;
    const attr = which === 'src' ? (v6 ? ATTR.ORIG_IPV6_SRC : ATTR.ORIG_IPV4_SRC) : v6 ? ATTR.ORIG_IPV6_DST : ATTR.ORIG_IPV4_DST;
    const addr = addrOf(which === 'src' ? t.ct.orig.src : t.ct.orig.dst, v6);
    const mask = addrOf(which === 'src' ? t.mask.orig.src : t.mask.orig.dst, v6);
    const network = addr.map((b, k) => b & mask[k]!);
    x.nets[i] = { network, netmask: mask };
    t.ct.unset(attr);
  });
}

function addrOf(text: string, v6: boolean): Uint8Array {
  const len = v6 ? 16 : 4;
  if (text === '') return new Uint8Array(len);
  return (v6 ? parseIPv6(text) : parseIPv4(text)) ?? new Uint8Array(len);
}

function filterNetwork(x: Ctx, ct: Conntrack): boolean {
  for (let i = 0; i < 2; i++) {
    const net = x.nets[i];
    if (net === undefined) continue;
    const af = ct.orig !== undefined ? (ct.family === 'ipv4' ? AF_INET : AF_INET6) : AF_UNSPEC;
    if (af !== x.filterFamily) return true;
    const text = i === 0 ? ct.orig?.src : ct.orig?.dst;
    const a = addrOf(text ?? '', af === AF_INET6);
    for (let k = 0; k < a.length; k++) if ((a[k]! & net.netmask[k]!) !== net.network[k]) return true;
  }
  return false;
}

function filterMark(x: Ctx, ct: Conntrack): boolean {
  if ((x.cmd.options & OPT.MARK) === 0) return false;
  const m = x.cmd.tmpl.mark;
  return !(ct.mark !== undefined && ((ct.mark & m.mask) >>> 0) === m.value);
}

function filterLabel(x: Ctx, ct: Conntrack): boolean {
  const want = x.cur.label;
  if (want === undefined) return false;
  if (ct.labels === undefined) return true;
  const have = Bitmask.fromBytes(ct.labels);
  for (let i = 0; i <= want.maxBit; i++) if (want.test(i) && !have.test(i)) return true;
  return false;
}

function ip4(obj: CtObj, attr: number, text: string): string {
  return obj.has(attr) ? text : '0.0.0.0';
}

/** filterNat is filter_nat(): --src-nat/--dst-nat/--any-nat, with or without an address and port. */
function filterNat(x: Ctx, ct: CtObj): boolean {
  const opts = x.cmd.options;
  const anyNat = (opts & OPT.ANY_NAT) !== 0;
  const checkSrc = anyNat || (opts & OPT.SRC_NAT) !== 0;
  const checkDst = anyNat || (opts & OPT.DST_NAT) !== 0;
  if (!checkSrc && !checkDst) return false;
  const obj = x.cmd.tmpl.ct;
  let hasSrc = false;
  let hasDst = false;
  if (checkSrc) {
    let checkAddress = false;
    let checkPort = false;
    if (obj.has(ATTR.SNAT_IPV4)) {
      checkAddress = true;
      if (isSnat(ct) && obj.snat.ip === ip4(ct, ATTR.REPL_IPV4_DST, ct.repl.dst)) hasSrc = true;
    }
    if (obj.has(ATTR.SNAT_PORT)) {
      checkPort = true;
      const ok = isSpat(ct) && obj.snat.port === (ct.has(ATTR.REPL_PORT_DST) ? ct.repl.dport : 0);
      if (checkAddress && hasSrc && !ok) hasSrc = false;
      if (!checkAddress && ok) hasSrc = true;
    }
    if (!checkAddress && !checkPort && (isSnat(ct) || isSpat(ct))) hasSrc = true;
  }
  if (checkDst) {
    let checkAddress = false;
    let checkPort = false;
    if (obj.has(ATTR.DNAT_IPV4)) {
      checkAddress = true;
      if (isDnat(ct) && obj.dnat.ip === ip4(ct, ATTR.REPL_IPV4_SRC, ct.repl.src)) hasDst = true;
    }
    if (obj.has(ATTR.DNAT_PORT)) {
      checkPort = true;
      const ok = isDpat(ct) && obj.dnat.port === (ct.has(ATTR.REPL_PORT_SRC) ? ct.repl.sport : 0);
      if (checkAddress && hasDst && !ok) hasDst = false;
      if (!checkAddress && ok) hasDst = true;
    }
    if (!checkAddress && !checkPort && (isDnat(ct) || isDpat(ct))) hasDst = true;
  }
  if (anyNat) return !(hasSrc || hasDst);
  if ((opts & OPT.SRC_NAT) !== 0 && (opts & OPT.DST_NAT) !== 0) return !(hasSrc && hasDst);
  if ((opts & OPT.SRC_NAT) !== 0) return !hasSrc;
  return !hasDst;
}

const NAT_OPTS = OPT.SRC_NAT | OPT.DST_NAT | OPT.ANY_NAT;

/** nfctFilter is nfct_filter(): true when the entry is filtered out. */
function nfctFilter(x: Ctx, ct: Conntrack): boolean {
  const opts = x.cmd.options;
  let obj: CtObj | undefined;
  if ((opts & NAT_OPTS) !== 0 && filterNat(x, (obj = fromModel(ct)))) return true;
  if (filterMark(x, ct) || filterLabel(x, ct) || filterNetwork(x, ct)) return true;
  if ((opts & OPT_COMPARISON) !== 0 && !cmp(x.cmd.tmpl.ct, obj ?? fromModel(ct), CMP.ALL | CMP.MASK)) return true;
  return false;
}

// ------------------------------------------------------------------ printing

function fmtFlags(mask: number, withKtms: boolean, time: boolean): FmtFlags {
  return { layer3: (mask & O.EXT) !== 0, id: (mask & O.ID) !== 0, ktimestamp: withKtms && (mask & O.KTMS) !== 0, time };
}

/** dumpLine is mnl_nfct_dump_cb()'s text for one entry (header included when XML starts). */
function dumpLine(x: Ctx, ct: Conntrack): string {
  const mask = x.outputMask;
  if ((mask & O.SAVE) !== 0) return saveLine(x, ct, MSG.NEW);
  if ((mask & O.JSON) !== 0) return JSON.stringify(conntrackJson(ct, MSG.UNKNOWN, x.session.labelmap)) + '\n';
  const now = x.io.nowMs();
  if ((mask & O.XML) !== 0) {
    let head = '';
    if (!x.xmlHeaderDone) {
      x.xmlHeaderDone = true;
      head = XML_HEADER_CT;
    }
    return head + clip(formatConntrackXml(ct, MSG.UNKNOWN, fmtFlags(mask, true, false), x.session.labelmap, now), 4096) + '\n';
  }
  return clip(formatConntrack(ct, MSG.UNKNOWN, fmtFlags(mask, true, false), x.session.labelmap, Math.floor(now / 1000)), 4096) + '\n';
}

function saveLine(x: Ctx, ct: Conntrack, msg: MsgType): string {
  const r = formatSave(fromModel(ct), msg);
  if ('warning' in r) {
    x.io.sink.err(r.warning);
    return '\n';
  }
  return clip(r.line, 1024) + '\n';
}

/** plainLine is the print of the update (labels) and delete (no labels) callbacks: no header, no ktimestamp. */
function plainLine(x: Ctx, ct: Conntrack, saveMsg: MsgType, withLabels: boolean): string {
  const mask = x.outputMask;
  if ((mask & O.SAVE) !== 0) return saveLine(x, ct, saveMsg);
  if ((mask & O.JSON) !== 0) return JSON.stringify(conntrackJson(ct, MSG.UNKNOWN, withLabels ? x.session.labelmap : undefined)) + '\n';
  const now = x.io.nowMs();
  const map = withLabels ? x.session.labelmap : undefined;
  if ((mask & O.XML) !== 0) return clip(formatConntrackXml(ct, MSG.UNKNOWN, fmtFlags(mask, false, false), map, now), 1024) + '\n';
  return clip(formatConntrack(ct, MSG.UNKNOWN, fmtFlags(mask, false, false), map, Math.floor(now / 1000)), 1024) + '\n';
}

function xmlFooter(x: Ctx, tag: 'conntrack' | 'expect'): void {
  if (x.xmlHeaderDone) x.io.sink.out(`</${tag}>\n`);
}

/** tms is gettimeofday() printed as "[%-.8ld.%-.6ld]\t" (events) or "[%-8ld.%-6ld]\t" (expectations). */
function tms(ms: number, padded: boolean): string {
  const sec = Math.floor(ms / 1000);
  const usec = Math.floor((ms - sec * 1000) * 1000);
  if (padded) return '[' + String(sec).padStart(8, '0') + '.' + String(usec).padStart(6, '0') + ']\t';
  return '[' + String(sec).padEnd(8, ' ') + '.' + String(usec).padEnd(6, ' ') + ']\t';
}

function expLine(x: Ctx, e: Expectation, msg: MsgType): string {
  const mask = x.outputMask;
  if ((mask & O.JSON) !== 0) return JSON.stringify(expectationJson(e, msg)) + '\n';
  const now = x.io.nowMs();
  let s = '';
  if ((mask & O.XML) !== 0 && !x.xmlHeaderDone) {
    x.xmlHeaderDone = true;
    s += XML_HEADER_EXP;
  }
  let time = false;
  if ((mask & O.TMS) !== 0) {
    if ((mask & O.XML) === 0) s += tms(now, false);
    else time = true;
  }
  const flags: FmtFlags = { layer3: false, id: false, ktimestamp: false, time };
  s += clip((mask & O.XML) !== 0 ? formatExpectXml(e, msg, flags, now) : formatExpect(e, msg), 1024) + '\n';
  return s;
}

// ------------------------------------------------------------------ commands

function dumpFilterFor(x: Ctx, withStatus: boolean): { family?: Family; mark?: number; markMask?: number; status?: number; statusMask?: number } {
  const t = x.cmd.tmpl;
  const f: { family?: Family; mark?: number; markMask?: number; status?: number; statusMask?: number } = {};
  const fam = familyOfNum(x.cmd.family);
  if (fam !== undefined) f.family = fam;
  if (t.filterMarkKernel !== undefined) {
    f.mark = t.filterMarkKernel.val;
    f.markMask = t.filterMarkKernel.mask;
  }
  if (withStatus && t.filterStatusKernelSet) {
    f.status = t.filterStatusKernel.val;
    f.statusMask = t.filterStatusKernel.mask;
  }
  return f;
}

/** countKept counts the lines a batch produced: the batch size when nothing was filtered. */
function countKept(batchLen: number, chunk: string, filtering: boolean): number {
  if (!filtering) return batchLen;
  let n = 0;
  for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * ctListFast is -L in the plain text formats with no user-space filter. The kernel builds dump
 * messages inside the reader's recvmmsg calls (~2.4 µs per entry here, more than all our own work
 * per entry), so when stdout is a file descriptor this thread only reads the socket and a worker
 * formats (list-thread.ts): the two overlap on two cores. Otherwise it formats here.
 */
async function ctListFast(x: Ctx, batches: AsyncIterable<RawBatch>, flags: FmtFlags): Promise<void> {
  const sink = x.io.sink;
  if (sink.fd === undefined) {
    const out = new AsciiOut();
    for await (const b of batches) {
      x.counter += formatListBatch(out, b, flags, x.session.labelmap, () => x.io.nowMs());
      if (out.len >= 1 << 20) sink.outBytes(out.take());
    }
    if (out.len > 0) sink.outBytes(out.take());
    return;
  }
  sink.flush();
  const { Worker } = await import('node:worker_threads');
  const data: ListThreadData = { fd: sink.fd, flags, ...(x.session.labelmap !== undefined ? { map: x.session.labelmap } : {}) };
  const worker = new Worker(new URL('./list-thread.js', import.meta.url), { workerData: data });
  const result = new Promise<ListThreadOut>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', (e) => resolve({ kind: 'error', message: String(e) }));
    worker.once('exit', (code) => resolve({ kind: 'error', message: `formatting thread exited (${code})` }));
  });
  try {
    for await (const batch of batches) {
      // The batch is the receive buffer itself: hand it over without a copy.
      worker.postMessage({ kind: 'batch', batch } satisfies ListThreadIn, [batch.buf.buffer as ArrayBuffer, batch.index.buffer as ArrayBuffer]);
    }
    worker.postMessage({ kind: 'end' } satisfies ListThreadIn);
    const r = await result;
    if (r.kind === 'pipeClosed') throw new PipeClosed('stdout closed');
    if (r.kind === 'error') throw new Error(r.message);
    x.counter += r.count;
  } finally {
    await worker.terminate();
  }
}

async function ctList(x: Ctx): Promise<void> {
  const { cmd, io } = x;
  let table: DumpTable = 'conntrack';
  let filter = {};
  if (cmd.type === TABLE.DYING || cmd.type === TABLE.UNCONFIRMED) {
    table = cmd.type === TABLE.DYING ? 'dying' : 'unconfirmed';
  } else {
    if ((cmd.options & OPT_COMPARISON) !== 0 && (cmd.options & OPT.ZERO) !== 0) exitError(EXIT.PARAMETER_PROBLEM, "Can't use -z with filtering parameters");
    filterInit(x);
    filter = dumpFilterFor(x, true);
    if ((cmd.options & OPT.ZERO) !== 0) table = 'zero';
  }
  // The plain text formats are the hot path of a large listing: one string per batch, no per-entry closures.
  const plain = (x.outputMask & (O.SAVE | O.JSON | O.XML)) === 0;
  const flags = fmtFlags(x.outputMask, true, false);
  const map = x.session.labelmap;
  const filtering = (cmd.options & (OPT_COMPARISON | NAT_OPTS | OPT.MASK_SRC | OPT.MASK_DST)) !== 0 || cmd.tmpl.label !== undefined;
  const kernel = x.kernel();
  try {
    if (plain && !filtering && table === 'conntrack' && kernel.dumpRaw !== undefined) {
      await ctListFast(x, kernel.dumpRaw(filter), flags);
      return;
    }
    for await (const batch of kernel.dump(filter, table)) {
      let chunk = '';
      if (plain) {
        const nowSec = Math.floor(io.nowMs() / 1000);
        for (let i = 0; i < batch.length; i++) {
          const ct = batch[i]!;
          if (filtering && nfctFilter(x, ct)) continue;
          const line = formatConntrack(ct, MSG.UNKNOWN, flags, map, nowSec);
          chunk += (line.length < 4096 ? line : line.slice(0, 4095)) + '\n';
        }
        x.counter += countKept(batch.length, chunk, filtering);
      } else {
        for (const ct of batch) {
          if (filtering && nfctFilter(x, ct)) continue;
          chunk += dumpLine(x, ct);
          x.counter++;
        }
      }
      io.sink.out(chunk);
    }
  } catch (e) {
    if (table === 'conntrack' || table === 'zero') xmlFooter(x, 'conntrack');
    fail(e, cmd.command);
  }
  if (table === 'conntrack' || table === 'zero') xmlFooter(x, 'conntrack');
}

async function expList(x: Ctx): Promise<void> {
  try {
    for await (const batch of x.kernel().dumpExpectations(familyOfNum(x.cmd.family))) {
      let chunk = '';
      for (const e of batch) {
        chunk += expLine(x, e, MSG.UNKNOWN);
        x.counter++;
      }
      x.io.sink.out(chunk);
    }
  } catch (e) {
    xmlFooter(x, 'expect');
    fail(e, x.cmd.command);
  }
  xmlFooter(x, 'expect');
}

async function ctCreate(x: Ctx): Promise<void> {
  const { cmd } = x;
  const t = cmd.tmpl;
  if ((cmd.options & OPT_ORIG) !== 0 && (cmd.options & OPT_REPL) === 0) setupReply(t.ct);
  else if ((cmd.options & OPT_ORIG) === 0 && (cmd.options & OPT_REPL) !== 0) setupOriginal(t.ct);
  if ((cmd.options & OPT.MARK) !== 0) {
    t.ct.mark = t.mark.value;
    t.ct.setBit(ATTR.MARK);
  }
  if ((cmd.options & OPT.ADD_LABEL) !== 0 && t.labelModify !== undefined) {
    t.ct.labels = t.labelModify.clone();
    t.ct.setBit(ATTR.CONNLABELS);
  }
  const family = familyOfNum(cmd.family) ?? 'ipv4';
  try {
    await x.kernel().create(toModel(t.ct, family));
    x.counter++;
  } catch (e) {
    if (errnoOf(e) === EEXIST && cmd.command === CMD.CT_ADD) return;
    fail(e, cmd.command);
  }
}

async function expCreate(x: Ctx): Promise<void> {
  const t = x.cmd.tmpl;
  const e = expToModel({ master: t.ct, expected: t.exptuple, mask: t.mask, ...(t.expTimeout !== undefined ? { timeout: t.expTimeout } : {}) });
  if (e === undefined) fail({ errno: 22 }, x.cmd.command);
  try {
    await x.kernel().createExpectation(e);
  } catch (err) {
    fail(err, x.cmd.command);
  }
}

/** copyLabel is copy_label(): --label-add / --label-del applied to the entry's labels. */
function copyLabel(x: Ctx, tmp: CtObj, ct: CtObj): void {
  const opts = x.cmd.options;
  if ((opts & (OPT.ADD_LABEL | OPT.DEL_LABEL)) === 0) return;
  const modify = x.cur.labelModify;
  if (ct.has(ATTR.CONNLABELS)) {
    tmp.labels = ct.labels?.clone();
    tmp.setBit(ATTR.CONNLABELS);
  }
  const ctb = tmp.has(ATTR.CONNLABELS) ? tmp.labels : undefined;
  if ((opts & OPT.ADD_LABEL) !== 0) {
    if (ctb === undefined) {
      tmp.labels = modify?.clone();
      if (tmp.labels !== undefined) tmp.setBit(ATTR.CONNLABELS);
      return;
    }
    // Labels and mask go out with the size the kernel sent: bits left out would be cleared.
    const newmask = new Bitmask(ctb.maxBit);
    for (let i = 0; i <= ctb.maxBit; i++) {
      if (modify?.test(i) === true) {
        ctb.set(i);
        newmask.set(i);
      } else if (ctb.test(i)) ctb.unset(i);
    }
    tmp.labelsMask = newmask;
    tmp.setBit(ATTR.CONNLABELS_MASK);
  } else if (ctb !== undefined) {
    if (modify === undefined) {
      tmp.labels = new Bitmask(0);
      return;
    }
    for (let i = 0; i <= ctb.maxBit; i++) if (modify.test(i)) ctb.unset(i);
    tmp.labelsMask = modify.clone();
    tmp.setBit(ATTR.CONNLABELS_MASK);
  }
}

async function ctUpdate(x: Ctx): Promise<void> {
  const { cmd, io } = x;
  const obj = cmd.tmpl.ct;
  const modifier = x.modifierKernel();
  filterInit(x);
  const fam = familyOfNum(cmd.family);
  try {
    for await (const batch of x.kernel().dump(fam !== undefined ? { family: fam } : {}, 'conntrack')) {
      for (const model of batch) {
        const ct = fromModel(model);
        if (((cmd.options & NAT_OPTS) !== 0 && filterNat(x, ct)) || filterLabel(x, model) || filterNetwork(x, model)) continue;
        if (obj.has(ATTR.ID) && ct.has(ATTR.ID) && obj.id !== ct.id) continue;
        if ((cmd.options & OPT_TUPLE_ORIG) !== 0 && !cmp(obj, ct, CMP.ORIG)) continue;
        if ((cmd.options & OPT_TUPLE_REPL) !== 0 && !cmp(obj, ct, CMP.REPL)) continue;
        const tmp = new CtObj();
        copyOrig(tmp, ct);
        copyMeta(tmp, obj);
        if ((cmd.options & OPT.MARK) !== 0) {
          const m = x.cur.mark;
          tmp.mark = ((((ct.has(ATTR.MARK) ? ct.mark : 0) & ~m.mask) ^ m.value) >>> 0) as number;
          tmp.setBit(ATTR.MARK);
        }
        if ((cmd.options & OPT.STATUS) !== 0) {
          tmp.status = ((ct.has(ATTR.STATUS) ? ct.status : 0) | (tmp.has(ATTR.STATUS) ? tmp.status : 0)) >>> 0;
          tmp.setBit(ATTR.STATUS);
        }
        copyLabel(x, tmp, ct);
        // nothing to change: conntrack sends no update
        if (cmp(tmp, ct, CMP.ALL | CMP.MASK)) continue;
        const request = toModel(tmp, fam ?? model.family);
        const q = x.session.modifier;
        let seq = nowSeq(io);
        try {
          await modifier.update(request, fam === undefined);
          q.push({ kind: 'ack', seq });
        } catch (e) {
          if (e instanceof PipeClosed) throw e;
          q.push({ kind: 'err', errno: errnoOf(e), seq });
        }
        const u = talk(q, seq, undefined);
        if (u.res < 0) io.sink.err(`Operation failed: ${err2str(u.errno, CMD.CT_UPDATE)}\n`);
        seq = nowSeq(io);
        try {
          const fresh = await modifier.get(request, fam === undefined);
          q.push({ kind: 'data', ct: fresh, seq }, { kind: 'ack', seq });
        } catch (e) {
          if (e instanceof PipeClosed) throw e;
          q.push({ kind: 'err', errno: errnoOf(e), seq });
        }
        const g = talk(q, seq, (ct) => io.sink.out(plainLine(x, ct, MSG.NEW, true)));
        if (g.res < 0) {
          if (g.errno === ENOENT) continue; // vanished meanwhile
          return exitError(EXIT.OTHER_PROBLEM, `Operation failed: ${err2str(g.errno, CMD.CT_UPDATE)}`);
        }
        x.counter++;
      }
    }
  } catch (e) {
    fail(e, cmd.command);
  }
}

/**
 * Datagram is one reply waiting on conntrack's modifier socket. conntrack reads exactly one
 * datagram per request there, but a GET with NLM_F_ACK is answered with two (the entry, then the
 * ACK): from the second updated entry on, each request consumes the previous one's leftover.
 * Requests sent within the same second share their sequence number (time(NULL)), so libmnl
 * accepts the stale replies; the visible effect in conntrack 1.4.7 is that `-U` prints only some
 * of the entries it updated. keepstate keeps the same queue and reads it the same way.
 */
export type Datagram = { readonly kind: 'ack'; readonly seq: number } | { readonly kind: 'err'; readonly errno: number; readonly seq: number } | { readonly kind: 'data'; readonly ct: Conntrack; readonly seq: number };

const EPROTO = 71;

function nowSeq(io: RunIo): number {
  return Math.floor(io.nowMs() / 1000);
}

/** talk is nfct_mnl_talk()'s receive half: one datagram through mnl_cb_run() with `cb` for data. */
export function talk(q: Datagram[], seq: number, cb: ((ct: Conntrack) => void) | undefined): { res: number; errno: number } {
  const d = q.shift();
  if (d === undefined) return { res: -1, errno: 11 };
  if (d.seq !== seq) return { res: -1, errno: EPROTO };
  switch (d.kind) {
    case 'ack':
      return { res: 0, errno: 0 };
    case 'err':
      return { res: -1, errno: d.errno };
    case 'data':
      cb?.(d.ct);
      return { res: 1, errno: 0 };
  }
}

/** deleteKey is what conntrack's delete request identifies an entry by (it sends no id). */
function deleteKey(ct: Conntrack): Conntrack {
  const key: { -readonly [K in keyof Conntrack]: Conntrack[K] } = { family: ct.family };
  if (ct.orig !== undefined) key.orig = ct.orig;
  if (ct.reply !== undefined) key.reply = ct.reply;
  if (ct.zone !== undefined) key.zone = ct.zone;
  return key;
}

async function ctDelete(x: Ctx): Promise<void> {
  const { cmd, io } = x;
  const modifier = x.modifierKernel();
  filterInit(x);
  const filter = dumpFilterFor(x, false);
  try {
    for await (const batch of x.kernel().dump(filter, 'conntrack')) {
      for (const ct of batch) {
        if (nfctFilter(x, ct)) continue;
        try {
          await modifier.delete(deleteKey(ct));
        } catch (e) {
          fail(e, CMD.CT_DELETE);
        }
        io.sink.out(plainLine(x, ct, MSG.DESTROY, false));
        x.counter++;
      }
    }
  } catch (e) {
    fail(e, cmd.command);
  }
}

async function ctGet(x: Ctx): Promise<void> {
  const { cmd } = x;
  const family = familyOfNum(cmd.family) ?? 'ipv4';
  let ct: Conntrack;
  try {
    ct = await x.kernel().get(toModel(cmd.tmpl.ct, family));
  } catch (e) {
    return fail(e, cmd.command);
  }
  if (nfctFilter(x, ct)) return;
  x.io.sink.out(dumpLine(x, ct));
  x.counter++;
}

function expOf(obj: CtObj, role: 'master' | 'expected'): Expectation | undefined {
  return expToModel(role === 'master' ? { master: obj } : { expected: obj });
}

async function expGet(x: Ctx): Promise<void> {
  const e = expOf(x.cmd.tmpl.ct, 'master');
  if (e === undefined) return fail({ errno: 22 }, x.cmd.command);
  let got: Expectation;
  try {
    got = await x.kernel().getExpectation(e);
  } catch (err) {
    return fail(err, x.cmd.command);
  }
  // dump_exp_cb prints it; conntrack never closes an XML header opened here.
  x.io.sink.out(expLine(x, got, MSG.UNKNOWN));
  x.counter++;
}

async function expDelete(x: Ctx): Promise<void> {
  const e = expOf(x.cmd.tmpl.ct, 'expected');
  if (e === undefined) return fail({ errno: 22 }, x.cmd.command);
  try {
    await x.kernel().deleteExpectation(e);
  } catch (err) {
    fail(err, x.cmd.command);
  }
}

// ------------------------------------------------------------------ events

async function events(x: Ctx, expectations: boolean): Promise<number> {
  const { cmd, io } = x;
  let groups: ('new' | 'update' | 'destroy' | 'exp-new' | 'exp-update' | 'exp-destroy')[];
  const m = (cmd.options & OPT.EVENT_MASK) !== 0 ? cmd.eventMask : EV.ALL;
  if (expectations) groups = ['exp-new', 'exp-update', 'exp-destroy'];
  else {
    groups = [];
    if ((m & EV.NEW) !== 0) groups.push('new');
    if ((m & EV.UPD) !== 0) groups.push('update');
    if ((m & EV.DEL) !== 0) groups.push('destroy');
  }
  let stream: EventSource;
  const rcvbuf = !expectations && (cmd.options & OPT.BUFFERSIZE) !== 0 ? Number(cmd.bufferSize) : undefined;
  try {
    stream = io.subscribe(groups, rcvbuf);
  } catch (e) {
    if (e instanceof NativeUnavailableError) return exitError(EXIT.OTHER_PROBLEM, e.message);
    return exitError(EXIT.OTHER_PROBLEM, expectations ? "Can't open handler" : "Can't open netlink socket");
  }
  if (rcvbuf !== undefined) io.sink.err(`NOTICE: Netlink socket buffer size has been set to ${stream.rcvbuf()} bytes.\n`);
  if (!expectations) filterInit(x);
  let stopped = false;
  const unregister = io.onStop(() => {
    stopped = true;
    stream.close();
  });
  try {
    for await (const b of stream) {
      if (b.kind === 'overrun') {
        if (!expectations) io.sink.err(ENOBUFS_WARNING);
        continue;
      }
      let chunk = '';
      for (const ev of b.events) {
        if ('exp' in ev) {
          if (!expectations) continue;
          chunk += expLine(x, ev.exp, kindMsg(ev.kind));
          x.counter++;
        } else {
          if (expectations) continue;
          const line = eventLine(x, ev);
          if (line === undefined) continue;
          chunk += line;
          x.counter++;
        }
      }
      io.sink.out(chunk);
      io.sink.flush();
      if (stopped) break;
    }
  } finally {
    unregister();
    stream.close();
  }
  // the signal handler's epilogue
  xmlFooter(x, expectations ? 'expect' : 'conntrack');
  io.sink.flush();
  io.sink.err(`${PREFIX}${x.counter} ${expectations ? 'expectation events' : 'flow events'} have been shown.\n`);
  return 0;
}

function kindMsg(k: 'new' | 'update' | 'destroy'): MsgType {
  return k === 'new' ? MSG.NEW : k === 'update' ? MSG.UPDATE : MSG.DESTROY;
}

/** eventLine is event_cb(): filters, then the line with its optional timestamp and [USERSPACE] suffix. */
function eventLine(x: Ctx, ev: CtEvent & WithPort): string | undefined {
  const ct = ev.ct;
  const af = ct.family === 'ipv4' ? AF_INET : AF_INET6;
  if ((x.filterFamily !== AF_UNSPEC && x.filterFamily !== af) || nfctFilter(x, ct)) return undefined;
  const msg = kindMsg(ev.kind);
  const mask = x.outputMask;
  let s = '';
  let line: string;
  if ((mask & O.SAVE) !== 0) {
    const r = formatSave(fromModel(ct), msg);
    if ('warning' in r) {
      x.io.sink.err(r.warning);
      line = '';
    } else line = clip(r.line, 1024);
  } else if ((mask & O.JSON) !== 0) {
    line = JSON.stringify(conntrackJson(ct, msg, x.session.labelmap));
  } else {
    const now = x.io.nowMs();
    if ((mask & O.XML) !== 0 && !x.xmlHeaderDone) {
      x.xmlHeaderDone = true;
      s += XML_HEADER_CT;
    }
    let time = false;
    if ((mask & O.TMS) !== 0) {
      if ((mask & O.XML) === 0) s += tms(now, true);
      else time = true;
    }
    const flags = fmtFlags(mask, true, time);
    line = clip((mask & O.XML) !== 0 ? formatConntrackXml(ct, msg, flags, x.session.labelmap, now) : formatConntrack(ct, msg, flags, x.session.labelmap, Math.floor(now / 1000)), 1024);
  }
  const pid = ev.portId ?? 0;
  if (pid !== 0 && (mask & O.JSON) === 0) {
    const prog = x.io.progname(pid);
    return s + line + ` [USERSPACE] portid=${pid}` + (prog !== undefined ? ` progname=${prog}` : '') + '\n';
  }
  return s + line + '\n';
}

// ------------------------------------------------------------------ statistics

const CT_STATS_NAMES: readonly [keyof CpuStats, string][] = [
  ['searched', 'searched'],
  ['found', 'found'],
  ['new', 'new'],
  ['invalid', 'invalid'],
  ['ignore', 'ignore'],
  ['delete', 'delete'],
  ['deleteList', 'delete_list'],
  ['insert', 'insert'],
  ['insertFailed', 'insert_failed'],
  ['drop', 'drop'],
  ['earlyDrop', 'early_drop'],
  ['error', 'error'],
  ['searchRestart', 'search_restart'],
  ['clashResolve', 'clash_resolve'],
  ['chainTooLong', 'chaintoolong'],
];

function cpuCol(cpu: number): string {
  return 'cpu=' + String(cpu).padEnd(4) + '\t';
}

function statsLine(s: CpuStats): string {
  let line = cpuCol(s.cpu);
  for (const [k, name] of CT_STATS_NAMES) {
    const v = s[k];
    if (typeof v === 'number') line += `${name}=${v >>> 0} `;
  }
  // counters of newer kernels: attribute types 16..19 print as unknown1..unknown4
  for (const a of s.unknown ?? []) {
    const type = a.type & 0x3fff;
    if (type >= 16 && type <= 19 && a.data.length === 4) {
      const v = ((a.data[0]! << 24) | (a.data[1]! << 16) | (a.data[2]! << 8) | a.data[3]!) >>> 0;
      line += `unknown${type - 15}=${v} `;
    }
  }
  return line + '\n';
}

function expStatsLine(s: ExpCpuStats): string {
  let line = cpuCol(s.cpu);
  if (s.new !== undefined) line += `expect_new=${s.new >>> 0} `;
  if (s.create !== undefined) line += `expect_create=${s.create >>> 0} `;
  if (s.delete !== undefined) line += `expect_delete=${s.delete >>> 0} `;
  return line + '\n';
}

/** procStats is display_proc_conntrack_stats(): /proc/net/stat/nf_conntrack, hex per CPU. */
function procStats(x: Ctx): boolean {
  let text: string;
  try {
    text = x.io.readFile('/proc/net/stat/nf_conntrack');
  } catch {
    return false;
  }
  const lines = text.split('\n');
  const names = (lines[0] ?? '').split(' ').filter((t) => t !== '');
  let cpu = 0;
  let out = '';
  for (const l of lines.slice(1)) {
    if (l === '') continue;
    const vals = l.split(' ').filter((t) => t !== '');
    out += cpuCol(cpu) + names.map((n, i) => `${n}=${parseInt(vals[i] ?? '0', 16) >>> 0} `).join('') + '\n';
    cpu++;
  }
  x.io.sink.out(out);
  return cpu > 0;
}

// ------------------------------------------------------------------ dispatch

/** doCommand is do_command_ct(); returns an exit status when the command ends the run itself (-E). */
async function doCommand(x: Ctx): Promise<number | undefined> {
  const { cmd, io } = x;
  switch (cmd.command) {
    case CMD.CT_LIST:
      await ctList(x);
      break;
    case CMD.EXP_LIST:
      await expList(x);
      break;
    case CMD.CT_CREATE:
    case CMD.CT_ADD:
      await ctCreate(x);
      break;
    case CMD.EXP_CREATE:
      await expCreate(x);
      break;
    case CMD.CT_UPDATE:
      await ctUpdate(x);
      break;
    case CMD.CT_DELETE:
      await ctDelete(x);
      break;
    case CMD.EXP_DELETE:
      await expDelete(x);
      break;
    case CMD.CT_GET:
      await ctGet(x);
      break;
    case CMD.EXP_GET:
      await expGet(x);
      break;
    case CMD.CT_FLUSH: {
      // conntrack sends the family with nfgenmsg version 0, which the kernel reads as "all families".
      let err: unknown;
      try {
        await x.kernel().flush();
      } catch (e) {
        err = e;
      }
      io.sink.err(`${PREFIX}connection tracking table has been emptied.\n`);
      if (err !== undefined) fail(err, cmd.command);
      break;
    }
    case CMD.EXP_FLUSH: {
      let err: unknown;
      try {
        await x.kernel().flushExpectations(familyOfNum(cmd.family));
      } catch (e) {
        err = e;
      }
      io.sink.err(`${PREFIX}expectation table has been emptied.\n`);
      if (err !== undefined) fail(err, cmd.command);
      break;
    }
    case CMD.CT_EVENT:
      return events(x, false);
    case CMD.EXP_EVENT:
      return events(x, true);
    case CMD.CT_COUNT: {
      let n: number | undefined;
      try {
        n = await x.kernel().count();
      } catch {
        n = undefined;
      }
      if (n === undefined) {
        let text: string;
        try {
          text = io.readFile('/proc/sys/net/netfilter/nf_conntrack_count');
        } catch {
          return exitError(EXIT.OTHER_PROBLEM, "Can't open /proc/sys/net/netfilter/nf_conntrack_count");
        }
        const m = /^\s*([+-]?\d+)/.exec(text);
        if (m === null) return exitError(EXIT.OTHER_PROBLEM, "Can't read /proc/sys/net/netfilter/nf_conntrack_count");
        n = Number(m[1]);
      }
      io.sink.out(`${n | 0}\n`);
      break;
    }
    case CMD.EXP_COUNT: {
      try {
        for await (const batch of x.kernel().dumpExpectations(familyOfNum(cmd.family))) x.counter += batch.length;
      } catch (e) {
        fail(e, cmd.command);
      }
      io.sink.out(`${x.counter}\n`);
      break;
    }
    case CMD.CT_STATS:
    case CMD.EXP_STATS: {
      let ok = true;
      try {
        if (cmd.command === CMD.CT_STATS) io.sink.out((await x.kernel().statsPerCpu()).map(statsLine).join(''));
        else io.sink.out((await x.kernel().expStatsPerCpu()).map(expStatsLine).join(''));
      } catch {
        ok = false;
      }
      if (!ok && !procStats(x)) exitError(EXIT.OTHER_PROBLEM, "Can't open /proc interface");
      break;
    }
    case CMD.CT_VERSION:
      io.sink.out(`${PROGNAME} v${CT_VERSION} (keepstate ${KEEPSTATE_VERSION})\n`);
      break;
    case CMD.CT_HELP: {
      io.sink.out(usage(io.argv0));
      if ((cmd.options & OPT.PROTO) !== 0) {
        const h = x.session.proto ?? UNKNOWN;
        let name = h.name;
        if (h === UNKNOWN) {
          let protocols = '';
          try {
            protocols = io.parse.protocols();
          } catch {
            protocols = '';
          }
          name = getProtoByNumber(protocols, cmd.protonum) ?? h.name;
        }
        io.sink.out(`Proto \`${name}' help:\n` + h.help);
      }
      break;
    }
    default:
      io.sink.out(usage(io.argv0));
      break;
  }
  return undefined;
}

/** printStats is print_stats(): the summary line and the failure of commands that touched nothing. */
function printStats(cmd: CtCmd, counter: number, sink: Sink): number {
  const msg = EXIT_MSG[cmd.cmd];
  if (cmd.command !== 0 && msg !== undefined) {
    sink.err(`${PREFIX}${counter} ${msg}\n`);
    if (counter === 0 && (cmd.command & (CMD.CT_LIST | CMD.EXP_LIST | CMD.CT_ADD)) === 0) return EXIT.OTHER_PROBLEM;
  }
  return 0;
}

// ------------------------------------------------------------------ load-file

/** splitParams is add_param_to_argv(): words split on blanks, "double quotes" with \-escapes inside. */
export function splitParams(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoteOpen = false;
  let escaped = false;
  for (const ch of line) {
    if (quoteOpen) {
      if (escaped) {
        cur += ch;
        escaped = false;
        continue;
      } else if (ch === '\\') {
        escaped = true;
        continue;
      } else if (ch === '"') {
        quoteOpen = false;
      } else {
        cur += ch;
        continue;
      }
    } else if (ch === '"') {
      quoteOpen = true;
      continue;
    }
    if (ch === '"') continue;
    if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (cur.length === 0) continue;
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const FILE_CMD_TEXT: readonly [number, string][] = [
  [CMD.CT_LIST, '-L'],
  [CMD.CT_GET, '-G'],
  [CMD.CT_EVENT, '-E'],
  [CMD.CT_VERSION, '-V'],
  [CMD.CT_HELP, '-h'],
  [CMD.EXP_LIST, '-L expect'],
  [CMD.EXP_CREATE, '-C expect'],
  [CMD.EXP_DELETE, '-D expect'],
  [CMD.EXP_GET, '-G expect'],
  [CMD.EXP_FLUSH, '-F expect'],
  [CMD.EXP_EVENT, '-E expect'],
  [CMD.CT_COUNT, '-C'],
  [CMD.EXP_COUNT, '-C expect'],
  [CMD.CT_STATS, '-S'],
  [CMD.EXP_STATS, '-S expect'],
];

async function loadFile(path: string, io: RunIo, session: Session): Promise<number> {
  const name = path === '-' ? '/dev/stdin' : path;
  let text: string;
  try {
    text = io.readFile(name);
  } catch {
    return exitError(EXIT.PARAMETER_PROBLEM, `Failed to open file ${name} for reading`);
  }
  const cmds: CtCmd[] = [];
  // fgets() with a 10240-byte buffer: a longer line continues as the next one.
  const lines: string[] = [];
  for (const raw of text.split(/(?<=\n)/)) for (let i = 0; i < raw.length; i += 10239) lines.push(raw.slice(i, i + 10239));
  for (const raw of lines) {
    const line = raw.replace(/^[ \t]+/, '');
    if (line.startsWith('\n') || line.startsWith('#')) continue;
    cmds.push(parseCommand([io.argv0, ...splitParams(line)], session, io.parse));
  }
  for (const c of cmds) {
    if ((c.command & (CMD.CT_CREATE | CMD.CT_ADD | CMD.CT_UPDATE | CMD.CT_DELETE | CMD.CT_FLUSH)) === 0) {
      const text2 = FILE_CMD_TEXT.find(([v]) => v === c.command)?.[1] ?? 'unknown';
      exitError(EXIT.PARAMETER_PROBLEM, `Cannot use command \`${text2}' with --load-file`);
    }
  }
  const last = cmds[cmds.length - 1]?.tmpl;
  for (const c of cmds) {
    const x = new Ctx(c, session, io, last);
    try {
      await doCommand(x);
    } finally {
      x.close();
    }
  }
  return 0;
}

/** runConntrack runs `conntrack <args>` and returns the exit status; everything it prints goes to io.sink. */
export async function runConntrack(args: readonly string[], io: RunIo): Promise<number> {
  const session = newSession();
  try {
    try {
      if (args.length >= 2 && (args[0] === '-R' || args[0] === '--load-file')) return await loadFile(args[1]!, io, session);
      const cmd = parseCommand([io.argv0, ...args], session, io.parse);
      const x = new Ctx(cmd, session, io);
      let status: number | undefined;
      try {
        status = await doCommand(x);
      } finally {
        x.close();
      }
      if (status !== undefined) return status;
      io.sink.flush();
      return printStats(cmd, x.counter, io.sink);
    } finally {
      io.sink.flush();
    }
  } catch (e) {
    if (e instanceof PipeClosed) return 141;
    if (e instanceof CliExit) {
      try {
        io.sink.flush();
      } catch {
        // stdout is gone; the error still goes to stderr
      }
      io.sink.err(e.stderr);
      return e.status;
    }
    throw e;
  }
}

