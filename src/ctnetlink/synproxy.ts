import { beginNested, endAttr, putRaw, putU32be, type RawAttr } from '../netlink/attrs.js';
import { NLA_TYPE_MASK } from '../netlink/consts.js';
import type { Reader } from '../wire/reader.js';
import type { Writer } from '../wire/writer.js';
import { CTA_SYNPROXY } from './consts.js';
import { nlaLen, nlaNext, pushRaw, u32At, type Path } from './nla.js';
import type { Synproxy } from './types.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * decodeSynproxy decodes the inside of CTA_SYNPROXY: the SYN proxy's initial sequence number,
 * timestamp and timestamp offset. The kernel attaches the synproxy extension to every entry created
 * over ctnetlink, so `conntrack -I` entries come back with all three at zero.
 */
export function decodeSynproxy(r: Reader, start: number, end: number, path: Path): Synproxy {
  const s: Mutable<Synproxy> = {};
  let unknown: RawAttr[] | undefined;
  for (let off = start; off < end; ) {
    const len = nlaLen(r, off, end, path);
    const full = r.u16ne();
    switch (full & NLA_TYPE_MASK) {
      case CTA_SYNPROXY.ISN:
        s.isn = u32At(r, off, len, path, 'isn');
        break;
      case CTA_SYNPROXY.ITS:
        s.its = u32At(r, off, len, path, 'its');
        break;
      case CTA_SYNPROXY.TSOFF:
        s.tsoff = u32At(r, off, len, path, 'tsoff');
        break;
      default:
        unknown = pushRaw(unknown, r, off, len, full);
    }
    off = nlaNext(off, len);
  }
  if (unknown !== undefined) s.unknown = unknown;
  return s;
}

/** encodeSynproxy writes a CTA_SYNPROXY nest. */
export function encodeSynproxy(w: Writer, type: number, s: Synproxy): void {
  const at = beginNested(w, type);
  if (s.isn !== undefined) putU32be(w, CTA_SYNPROXY.ISN, s.isn);
  if (s.its !== undefined) putU32be(w, CTA_SYNPROXY.ITS, s.its);
  if (s.tsoff !== undefined) putU32be(w, CTA_SYNPROXY.TSOFF, s.tsoff);
  if (s.unknown !== undefined) for (const a of s.unknown) putRaw(w, a);
  endAttr(w, at);
}
