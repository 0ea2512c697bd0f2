import { CTA, CTA_COUNTERS, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_SYNPROXY, CTA_TUPLE, IPS } from '../../ctnetlink/consts.js';
import { NLA_TYPE_MASK } from '../../netlink/consts.js';
import { HOST_LITTLE_ENDIAN } from '../../wire/byte-order.js';
import { TCP_STATE_NAMES } from './format.js';

/**
 * The fast path of `-L` in the default text format: one line straight from a ctnetlink dump
 * message's bytes to ASCII bytes, with no Conntrack object and no strings in between. Why: with
 * 100 000 entries, building the model and a string per line costs more than the kernel's own dump
 * work, and `conntrack -L` (C, no allocation per entry) is the bar.
 *
 * Contract: writeListLine either appends exactly `formatConntrack(decodeConntrack(msg), …) + "\n"`
 * or appends nothing and returns false, and the caller takes the general path for that message.
 * It is stricter than decodeConntrack: it only accepts IPv4 entries made of the attributes it knows
 * (below), each with the size the codec demands, so every message it prints is one the codec
 * decodes to the same line. test/cli/fast-line.test.ts checks this against the golden captures and
 * fuzzed entries.
 */

const AF_INET = 2;
const encoder = new TextEncoder();

/** AsciiOut is a growable byte buffer for ASCII text. */
export class AsciiOut {
  buf = new Uint8Array(1 << 21);
  len = 0;
  private readonly digits = new Uint8Array(20);

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  /** ascii appends a string known to be ASCII (constants of this file). */
  ascii(s: string): void {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }
  /** num appends a non-negative integer below 2^53 in decimal. */
  num(n: number): void {
    let i = 0;
    do {
      this.digits[i++] = 48 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
    this.ensure(i);
    while (i > 0) this.buf[this.len++] = this.digits[--i]!;
  }
  /** utf8 appends any string, UTF-8 encoded (lines of the general path). */
  utf8(s: string): void {
    this.ensure(s.length * 3);
    this.len += encoder.encodeInto(s, this.buf.subarray(this.len)).written;
  }
  /** hex appends a number in lowercase hexadecimal. */
  hex(n: number): void {
    this.ascii(n.toString(16));
  }
  /** ipv4 appends the dotted quad at b[at..at+4). */
  ipv4(b: Uint8Array, at: number): void {
    this.num(b[at]!);
    this.ensure(1);
    this.buf[this.len++] = 46;
    this.num(b[at + 1]!);
    this.ensure(1);
    this.buf[this.len++] = 46;
    this.num(b[at + 2]!);
    this.ensure(1);
    this.buf[this.len++] = 46;
    this.num(b[at + 3]!);
  }
  /** take returns the bytes so far (a view) and empties the buffer. */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.len);
    this.buf = new Uint8Array(this.buf.length);
    this.len = 0;
    return out;
  }
}

/** Tuple fields as offsets and numbers; -1 means absent. */
class TupleScan {
  src = -1; // offset of the 4 address bytes
  dst = -1;
  proto = -1;
  sport = -1;
  dport = -1;
  icmpId = -1;
  icmpType = -1;
  icmpCode = -1;
  zone = -1;
  reset(): void {
    this.src = this.dst = this.proto = this.sport = this.dport = this.icmpId = this.icmpType = this.icmpCode = this.zone = -1;
  }
}

/** Scan holds one entry's fields between scanning and printing; reused for every line. */
class Scan {
  readonly orig = new TupleScan();
  readonly reply = new TupleScan();
  hasOrig = false;
  hasReply = false;
  status = -1;
  timeout = -1;
  tcpState = -1;
  mark = -1;
  secmark = -1;
  zone = -1;
  use = -1;
  id = -1;
  pktOrig = -1;
  bytOrig = -1;
  pktReply = -1;
  bytReply = -1;
}

const scan = new Scan();

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}
function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
/** u64 reads a network-order u64 as a number, or -2 when it is not below 2^53 (not handled here). */
function u64(b: Uint8Array, at: number): number {
  const hi = u32(b, at);
  return hi >= 1 << 21 ? -2 : hi * 4294967296 + u32(b, at + 4);
}
/** nla reads nla_len at `off` and checks it fits in [off, end); returns -1 if not (the codec would throw). */
function nla(b: Uint8Array, off: number, end: number): number {
  if (end - off < 4) return -1;
  const len = b[off]! | (b[off + 1]! << 8); // host order; the fast path is off on big-endian hosts
  return len < 4 || len > end - off ? -1 : len;
}
function typeAt(b: Uint8Array, off: number): number {
  return (b[off + 2]! | (b[off + 3]! << 8)) & NLA_TYPE_MASK;
}
const next = (off: number, len: number): number => off + ((len + 3) & ~3);

function scanTuple(b: Uint8Array, start: number, end: number, t: TupleScan): boolean {
  t.reset();
  for (let off = start; off < end; ) {
    const len = nla(b, off, end);
    if (len < 0) return false;
    const type = typeAt(b, off);
    if (type === CTA_TUPLE.IP) {
      const e = off + len;
      for (let o = off + 4; o < e; ) {
        const l = nla(b, o, e);
        if (l < 0) return false;
        const ty = typeAt(b, o);
        if (ty === CTA_IP.V4_SRC || ty === CTA_IP.V4_DST) {
          if (l !== 8) return false;
          if (ty === CTA_IP.V4_SRC) t.src = o + 4;
          else t.dst = o + 4;
        } else if (ty === CTA_IP.V6_SRC || ty === CTA_IP.V6_DST) {
          return false; // IPv6 text: the general path
        }
        o = next(o, l);
      }
    } else if (type === CTA_TUPLE.PROTO) {
      const e = off + len;
      for (let o = off + 4; o < e; ) {
        const l = nla(b, o, e);
        if (l < 0) return false;
        switch (typeAt(b, o)) {
          case CTA_PROTO.NUM:
            if (l !== 5) return false;
            t.proto = b[o + 4]!;
            break;
          case CTA_PROTO.SRC_PORT:
            if (l !== 6) return false;
            t.sport = u16(b, o + 4);
            break;
          case CTA_PROTO.DST_PORT:
            if (l !== 6) return false;
            t.dport = u16(b, o + 4);
            break;
          case CTA_PROTO.ICMP_ID:
          case CTA_PROTO.ICMPV6_ID:
            if (l !== 6) return false;
            t.icmpId = u16(b, o + 4);
            break;
          case CTA_PROTO.ICMP_TYPE:
          case CTA_PROTO.ICMPV6_TYPE:
            if (l !== 5) return false;
            t.icmpType = b[o + 4]!;
            break;
          case CTA_PROTO.ICMP_CODE:
          case CTA_PROTO.ICMPV6_CODE:
            if (l !== 5) return false;
            t.icmpCode = b[o + 4]!;
            break;
        }
        o = next(o, l);
      }
    } else if (type === CTA_TUPLE.ZONE) {
      if (len !== 6) return false;
      t.zone = u16(b, off + 4);
    }
    off = next(off, len);
  }
  return t.src >= 0 && t.dst >= 0 && t.proto >= 0;
}

/** scanSynproxy validates CTA_SYNPROXY (never printed): framing and the size of its u32 members. */
function scanSynproxy(b: Uint8Array, start: number, end: number): boolean {
  for (let off = start; off < end; ) {
    const len = nla(b, off, end);
    if (len < 0) return false;
    const ty = typeAt(b, off);
    if ((ty === CTA_SYNPROXY.ISN || ty === CTA_SYNPROXY.ITS || ty === CTA_SYNPROXY.TSOFF) && len !== 8) return false;
    off = next(off, len);
  }
  return true;
}

function scanCounters(b: Uint8Array, start: number, end: number, orig: boolean): boolean {
  let pkts = -1;
  let bytes = -1;
  for (let off = start; off < end; ) {
    const len = nla(b, off, end);
    if (len < 0) return false;
    switch (typeAt(b, off)) {
      case CTA_COUNTERS.PACKETS:
        if (len !== 12) return false;
        pkts = u64(b, off + 4);
        break;
      case CTA_COUNTERS.BYTES:
        if (len !== 12) return false;
        bytes = u64(b, off + 4);
        break;
      case CTA_COUNTERS.PACKETS32:
        if (len !== 8) return false;
        pkts = u32(b, off + 4);
        break;
      case CTA_COUNTERS.BYTES32:
        if (len !== 8) return false;
        bytes = u32(b, off + 4);
        break;
    }
    off = next(off, len);
  }
  if (pkts < 0 || bytes < 0) return false; // missing (the codec throws) or ≥ 2^53 (general path)
  if (orig) {
    scan.pktOrig = pkts;
    scan.bytOrig = bytes;
  } else {
    scan.pktReply = pkts;
    scan.bytReply = bytes;
  }
  return true;
}

function scanProtoinfo(b: Uint8Array, start: number, end: number): boolean {
  scan.tcpState = -1; // a repeated CTA_PROTOINFO replaces the earlier one, as in the codec
  for (let off = start; off < end; ) {
    const len = nla(b, off, end);
    if (len < 0) return false;
    const ty = typeAt(b, off);
    if (ty === CTA_PROTOINFO.SCTP || ty === CTA_PROTOINFO.DCCP) return false;
    if (ty === CTA_PROTOINFO.TCP) {
      const e = off + len;
      for (let o = off + 4; o < e; ) {
        const l = nla(b, o, e);
        if (l < 0) return false;
        const t = typeAt(b, o);
        if (t === CTA_PROTOINFO_TCP.STATE) {
          if (l !== 5) return false;
          scan.tcpState = b[o + 4]!;
        } else if (t === CTA_PROTOINFO_TCP.WSCALE_ORIGINAL || t === CTA_PROTOINFO_TCP.WSCALE_REPLY) {
          if (l !== 5) return false;
        } else if (t === CTA_PROTOINFO_TCP.FLAGS_ORIGINAL || t === CTA_PROTOINFO_TCP.FLAGS_REPLY) {
          if (l !== 6) return false;
        }
        o = next(o, l);
      }
    }
    off = next(off, len);
  }
  return true;
}

/** u32Attr reads a top-level u32 attribute, or -1 when its size is wrong. */
function u32Attr(b: Uint8Array, off: number, len: number): number {
  return len === 8 ? u32(b, off + 4) : -1;
}

function scanEntry(b: Uint8Array, start: number, end: number): boolean {
  const s = scan;
  s.hasOrig = s.hasReply = false;
  s.status = s.timeout = s.tcpState = s.mark = s.secmark = s.zone = s.use = s.id = -1;
  s.pktOrig = s.bytOrig = s.pktReply = s.bytReply = -1;
  if (end - start < 4 || b[start] !== AF_INET) return false;
  for (let off = start + 4; off < end; ) {
    const len = nla(b, off, end);
    if (len < 0) return false;
    const s4 = off + 4;
    const e = off + len;
    switch (typeAt(b, off)) {
      case CTA.TUPLE_ORIG:
        if (!scanTuple(b, s4, e, s.orig)) return false;
        s.hasOrig = true;
        break;
      case CTA.TUPLE_REPLY:
        if (!scanTuple(b, s4, e, s.reply)) return false;
        s.hasReply = true;
        break;
      case CTA.STATUS:
        if ((s.status = u32Attr(b, off, len)) < 0) return false;
        break;
      case CTA.PROTOINFO:
        if (!scanProtoinfo(b, s4, e)) return false;
        break;
      case CTA.TIMEOUT:
        if ((s.timeout = u32Attr(b, off, len)) < 0) return false;
        break;
      case CTA.MARK:
        if ((s.mark = u32Attr(b, off, len)) < 0) return false;
        break;
      case CTA.COUNTERS_ORIG:
        if (!scanCounters(b, s4, e, true)) return false;
        break;
      case CTA.COUNTERS_REPLY:
        if (!scanCounters(b, s4, e, false)) return false;
        break;
      case CTA.USE:
        if ((s.use = u32Attr(b, off, len)) < 0) return false;
        break;
      case CTA.ID:
        if ((s.id = u32Attr(b, off, len)) < 0) return false;
        break;
      case CTA.SECMARK:
        if ((s.secmark = u32Attr(b, off, len)) < 0) return false;
        break;
      case CTA.ZONE:
        if (len !== 6) return false;
        s.zone = u16(b, off + 4);
        break;
      case CTA.SYNPROXY:
        if (!scanSynproxy(b, s4, e)) return false;
        break;
      case CTA.FILTER:
        break; // kept as unknown by the codec, never printed
      default:
        // Every other attribute the codec knows (helper, NAT, master, seqadj, secctx, timestamps,
        // labels, masks) prints or validates in ways only the general path does; anything newer
        // than the codec is kept as unknown there and never printed, but the general path decides.
        return false;
    }
    off = next(off, len);
  }
  return s.hasOrig && s.hasReply;
}

const HAS_PORTS = new Set([6, 17, 136, 132, 33]);
const PROTO_COL: Readonly<Record<number, string>> = {
  6: 'tcp      6 ',
  17: 'udp      17 ',
  136: 'udplite  136 ',
  1: 'icmp     1 ',
  58: 'icmpv6   58 ',
  132: 'sctp     132 ',
  47: 'gre      47 ',
  33: 'dccp     33 ',
};

function writeTuple(o: AsciiOut, b: Uint8Array, t: TupleScan): void {
  o.ascii('src=');
  o.ipv4(b, t.src);
  o.ascii(' dst=');
  o.ipv4(b, t.dst);
  o.ascii(' ');
  const p = t.proto;
  if (HAS_PORTS.has(p)) {
    o.ascii('sport=');
    o.num(t.sport < 0 ? 0 : t.sport);
    o.ascii(' dport=');
    o.num(t.dport < 0 ? 0 : t.dport);
    o.ascii(' ');
  } else if (p === 47) {
    o.ascii('srckey=0x');
    o.hex(t.sport < 0 ? 0 : t.sport);
    o.ascii(' dstkey=0x');
    o.hex(t.dport < 0 ? 0 : t.dport);
    o.ascii(' ');
  } else if (p === 1 || p === 58) {
    o.ascii('type=');
    o.num(t.icmpType < 0 ? 0 : t.icmpType);
    o.ascii(' code=');
    o.num(t.icmpCode < 0 ? 0 : t.icmpCode);
    o.ascii(' id=');
    o.num(t.icmpId < 0 ? 0 : t.icmpId);
    o.ascii(' ');
  }
}

/** ListLineFlags are the -o flags the default format honours here: ipv4 column (layer3) and id. */
export interface ListLineFlags {
  readonly layer3: boolean;
  readonly id: boolean;
}

/**
 * writeListLine appends the `-L` default-format line of the conntrack message payload in
 * b[start, end) (struct nfgenmsg first) and returns true, or appends nothing and returns false.
 */
export function writeListLine(o: AsciiOut, b: Uint8Array, start: number, end: number, flags: ListLineFlags): boolean {
  if (!HOST_LITTLE_ENDIAN || !scanEntry(b, start, end)) return false;
  const s = scan;
  if (flags.layer3) o.ascii('ipv4     2 ');
  const col = PROTO_COL[s.orig.proto];
  if (col !== undefined) o.ascii(col);
  else {
    o.ascii('unknown  ');
    o.num(s.orig.proto);
    o.ascii(' ');
  }
  if (s.timeout >= 0) {
    o.num(s.timeout);
    o.ascii(' ');
  }
  if (s.tcpState >= 0) {
    o.ascii(TCP_STATE_NAMES[s.tcpState] ?? 'NONE');
    o.ascii(' ');
  }
  writeTuple(o, b, s.orig);
  if (s.orig.zone >= 0) {
    o.ascii('zone-orig=');
    o.num(s.orig.zone);
    o.ascii(' ');
  }
  if (s.pktOrig >= 0) {
    o.ascii('packets=');
    o.num(s.pktOrig);
    o.ascii(' bytes=');
    o.num(s.bytOrig);
    o.ascii(' ');
  }
  if (s.status >= 0 && (s.status & IPS.SEEN_REPLY) === 0) o.ascii('[UNREPLIED] ');
  writeTuple(o, b, s.reply);
  if (s.reply.zone >= 0) {
    o.ascii('zone-reply=');
    o.num(s.reply.zone);
    o.ascii(' ');
  }
  if (s.pktReply >= 0) {
    o.ascii('packets=');
    o.num(s.pktReply);
    o.ascii(' bytes=');
    o.num(s.bytReply);
    o.ascii(' ');
  }
  if (s.status >= 0) {
    if ((s.status & IPS.HW_OFFLOAD) !== 0) o.ascii('[HW_OFFLOAD] ');
    else if ((s.status & IPS.OFFLOAD) !== 0) o.ascii('[OFFLOAD] ');
    else if ((s.status & IPS.ASSURED) !== 0) o.ascii('[ASSURED] ');
  }
  if (s.mark >= 0) {
    o.ascii('mark=');
    o.num(s.mark);
    o.ascii(' ');
  }
  if (s.secmark >= 0) {
    o.ascii('secmark=');
    o.num(s.secmark);
    o.ascii(' ');
  }
  if (s.zone >= 0) {
    o.ascii('zone=');
    o.num(s.zone);
    o.ascii(' ');
  }
  if (s.use >= 0) {
    o.ascii('use=');
    o.num(s.use);
    o.ascii(' ');
  }
  if (flags.id && s.id >= 0) {
    o.ascii('id=');
    o.num(s.id);
    o.ascii(' ');
  }
  o.buf[o.len - 1] = 10; // the last field's trailing space becomes the newline
  return true;
}
