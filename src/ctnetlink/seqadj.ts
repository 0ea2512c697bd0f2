import { beginNested, endAttr, putRaw, putU32be, type RawAttr } from '../netlink/attrs.js';
import { NLA_TYPE_MASK } from '../netlink/consts.js';
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { CTA_SEQADJ } from './consts.js';
import { fail, nlaLen, nlaNext, pushRaw, u32At, type Path } from './nla.js';
import type { SeqAdj } from './types.js';

/**
 * decodeSeqAdj decodes the inside of CTA_SEQ_ADJ_ORIG / CTA_SEQ_ADJ_REPLY: the TCP sequence
 * correction a NAT helper (FTP, SIP…) applied after changing the payload length. The kernel always
 * sends all three values, and it needs all three back to restore the adjustment, so each is mandatory.
 */
export function decodeSeqAdj(r: Reader, start: number, end: number, path: Path): SeqAdj {
  let correctionPos: number | undefined;
  let offsetBefore: number | undefined;
  let offsetAfter: number | undefined;
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_SEQADJ.CORRECTION_POS:
        correctionPos = u32At(r, off, len, path, 'correctionPos');
        break;
      case CTA_SEQADJ.OFFSET_BEFORE:
        offsetBefore = u32At(r, off, len, path, 'offsetBefore');
        break;
      case CTA_SEQADJ.OFFSET_AFTER:
        offsetAfter = u32At(r, off, len, path, 'offsetAfter');
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (correctionPos === undefined) fail('MISSING', path, start, 'no CTA_SEQADJ_CORRECTION_POS', 'correctionPos');
  if (offsetBefore === undefined) fail('MISSING', path, start, 'no CTA_SEQADJ_OFFSET_BEFORE', 'offsetBefore');
  if (offsetAfter === undefined) fail('MISSING', path, start, 'no CTA_SEQADJ_OFFSET_AFTER', 'offsetAfter');
  const s = { correctionPos, offsetBefore, offsetAfter };
  return unknown === undefined ? s : { ...s, unknown };
}

/** encodeSeqAdj writes a CTA_SEQ_ADJ_ORIG / _REPLY nest (same order from kernel and libnetfilter_conntrack). */
export function encodeSeqAdj(w: Writer, type: number, s: SeqAdj): void {
  const at = beginNested(w, type);
  putU32be(w, CTA_SEQADJ.CORRECTION_POS, s.correctionPos);
  putU32be(w, CTA_SEQADJ.OFFSET_BEFORE, s.offsetBefore);
  putU32be(w, CTA_SEQADJ.OFFSET_AFTER, s.offsetAfter);
  if (s.unknown !== undefined) for (const a of s.unknown) putRaw(w, a);
  endAttr(w, at);
}
