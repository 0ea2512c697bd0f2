import { beginAttr, beginNested, endAttr, putRaw, putU32be, putU64be, putU8, type RawAttr } from '../netlink/attrs.js';
import { NLA_TYPE_MASK } from '../netlink/consts.js';
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { CTA, CTA_PROTOINFO, CTA_PROTOINFO_DCCP, CTA_PROTOINFO_SCTP, CTA_PROTOINFO_TCP } from './consts.js';
import { badSize, nlaLen, nlaNext, pushRaw, u32At, u64At, u8At, type Path } from './nla.js';
import type { AttrOrder } from './tuple.js';
import type { ProtoInfo, TcpFlags } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Tcp = NonNullable<ProtoInfo['tcp']>;
type Sctp = NonNullable<ProtoInfo['sctp']>;
type Dccp = NonNullable<ProtoInfo['dccp']>;

/** decodeProtoInfo decodes the inside of CTA_PROTOINFO: one of CTA_PROTOINFO_TCP / _DCCP / _SCTP. */
export function decodeProtoInfo(r: Reader, start: number, end: number, path: Path): ProtoInfo {
  const pi: Mutable<ProtoInfo> = {};
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_PROTOINFO.TCP:
        pi.tcp = decodeTcp(r, off + 4, off + len, path);
        break;
      case CTA_PROTOINFO.SCTP:
        pi.sctp = decodeSctp(r, off + 4, off + len, path);
        break;
      case CTA_PROTOINFO.DCCP:
        pi.dccp = decodeDccp(r, off + 4, off + len, path);
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) pi.unknown = unknown;
  return pi;
}

function tcpFlagsAt(r: Reader, off: number, len: number, path: Path, name: string): TcpFlags {
  // struct nf_ct_tcp_flags { __u8 flags; __u8 mask; }
  if (len !== 6) badSize(path, off, len - 4, '2', 'tcp', name);
  r.pos = off + 4;
  const flags = r.u8();
  return { flags, mask: r.u8() };
}

function decodeTcp(r: Reader, start: number, end: number, path: Path): Tcp {
  const t: Mutable<Tcp> = {};
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_PROTOINFO_TCP.STATE:
        t.state = u8At(r, off, len, path, 'tcp', 'state');
        break;
      case CTA_PROTOINFO_TCP.WSCALE_ORIGINAL:
        t.wscaleOrig = u8At(r, off, len, path, 'tcp', 'wscaleOrig');
        break;
      case CTA_PROTOINFO_TCP.WSCALE_REPLY:
        t.wscaleReply = u8At(r, off, len, path, 'tcp', 'wscaleReply');
        break;
      case CTA_PROTOINFO_TCP.FLAGS_ORIGINAL:
        t.flagsOrig = tcpFlagsAt(r, off, len, path, 'flagsOrig');
        break;
      case CTA_PROTOINFO_TCP.FLAGS_REPLY:
        t.flagsReply = tcpFlagsAt(r, off, len, path, 'flagsReply');
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) t.unknown = unknown;
  return t;
}

function decodeSctp(r: Reader, start: number, end: number, path: Path): Sctp {
  const s: Mutable<Sctp> = {};
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_PROTOINFO_SCTP.STATE:
        s.state = u8At(r, off, len, path, 'sctp', 'state');
        break;
      case CTA_PROTOINFO_SCTP.VTAG_ORIGINAL:
        s.vtagOrig = u32At(r, off, len, path, 'sctp', 'vtagOrig');
        break;
      case CTA_PROTOINFO_SCTP.VTAG_REPLY:
        s.vtagReply = u32At(r, off, len, path, 'sctp', 'vtagReply');
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) s.unknown = unknown;
  return s;
}

function decodeDccp(r: Reader, start: number, end: number, path: Path): Dccp {
  const d: Mutable<Dccp> = {};
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_PROTOINFO_DCCP.STATE:
        d.state = u8At(r, off, len, path, 'dccp', 'state');
        break;
      case CTA_PROTOINFO_DCCP.ROLE:
        d.role = u8At(r, off, len, path, 'dccp', 'role');
        break;
      case CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ:
        d.handshakeSeq = u64At(r, off, len, path, 'dccp', 'handshakeSeq');
        break;
      default:
        // CTA_PROTOINFO_DCCP_PAD (alignment filler on some architectures) is kept here too.
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) d.unknown = unknown;
  return d;
}

function putTcpFlags(w: Writer, type: number, f: TcpFlags): void {
  const at = beginAttr(w, type);
  w.u8(f.flags).u8(f.mask);
  endAttr(w, at);
}

/**
 * encodeProtoInfo writes a whole CTA_PROTOINFO nest. TCP attribute order differs: the kernel
 * (tcp_to_nlattr) sends state, window scales, flags; libnetfilter_conntrack sends state, flags,
 * window scales.
 */
export function encodeProtoInfo(w: Writer, pi: ProtoInfo, order: AttrOrder): void {
  const nest = beginNested(w, CTA.PROTOINFO);
  if (pi.tcp !== undefined) {
    const t = pi.tcp;
    const at = beginNested(w, CTA_PROTOINFO.TCP);
    if (t.state !== undefined) putU8(w, CTA_PROTOINFO_TCP.STATE, t.state);
    if (order === 'kernel') {
      if (t.wscaleOrig !== undefined) putU8(w, CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, t.wscaleOrig);
      if (t.wscaleReply !== undefined) putU8(w, CTA_PROTOINFO_TCP.WSCALE_REPLY, t.wscaleReply);
    }
    if (t.flagsOrig !== undefined) putTcpFlags(w, CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, t.flagsOrig);
    if (t.flagsReply !== undefined) putTcpFlags(w, CTA_PROTOINFO_TCP.FLAGS_REPLY, t.flagsReply);
    if (order === 'libnfct') {
      if (t.wscaleOrig !== undefined) putU8(w, CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, t.wscaleOrig);
      if (t.wscaleReply !== undefined) putU8(w, CTA_PROTOINFO_TCP.WSCALE_REPLY, t.wscaleReply);
    }
    if (t.unknown !== undefined) for (const a of t.unknown) putRaw(w, a);
    endAttr(w, at);
  }
  if (pi.dccp !== undefined) {
    const d = pi.dccp;
    const at = beginNested(w, CTA_PROTOINFO.DCCP);
    if (d.state !== undefined) putU8(w, CTA_PROTOINFO_DCCP.STATE, d.state);
    if (d.role !== undefined) putU8(w, CTA_PROTOINFO_DCCP.ROLE, d.role);
    if (d.handshakeSeq !== undefined) putU64be(w, CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ, d.handshakeSeq);
    if (d.unknown !== undefined) for (const a of d.unknown) putRaw(w, a);
    endAttr(w, at);
  }
  if (pi.sctp !== undefined) {
    const s = pi.sctp;
    const at = beginNested(w, CTA_PROTOINFO.SCTP);
    if (s.state !== undefined) putU8(w, CTA_PROTOINFO_SCTP.STATE, s.state);
    if (s.vtagOrig !== undefined) putU32be(w, CTA_PROTOINFO_SCTP.VTAG_ORIGINAL, s.vtagOrig);
    if (s.vtagReply !== undefined) putU32be(w, CTA_PROTOINFO_SCTP.VTAG_REPLY, s.vtagReply);
    if (s.unknown !== undefined) for (const a of s.unknown) putRaw(w, a);
    endAttr(w, at);
  }
  if (pi.unknown !== undefined) for (const a of pi.unknown) putRaw(w, a);
  endAttr(w, nest);
}
