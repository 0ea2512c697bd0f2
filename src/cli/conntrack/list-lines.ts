import { NFNL_SUBSYS } from '../../ctnetlink/consts.js';
import { decodeConntrack } from '../../ctnetlink/conntrack.js';
import type { RawBatch } from '../../netlink/conn.js';
import type { Conntrack } from '../../ctnetlink/types.js';
import { DecodeError } from '../../wire/decode-error.js';
import { AsciiOut, writeListLine } from './fast-line.js';
import { formatConntrack, MSG, type FmtFlags } from './format.js';
import type { LabelMap } from './labels.js';

/**
 * formatListBatch appends the -L text of one raw dump batch to `out` and returns how many entries
 * it printed: each message straight from its bytes (fast-line.ts) or, when the fast path declines
 * it (IPv6, helpers, labels, timestamps…), decoded and printed by the general formatter. A message
 * that does not decode is skipped, as the general path skips it.
 */
export function formatListBatch(out: AsciiOut, batch: RawBatch, flags: FmtFlags, map: LabelMap | undefined, nowMs: () => number): number {
  const { buf, index } = batch;
  const fast = { layer3: flags.layer3, id: flags.id };
  let count = 0;
  let nowSec = -1;
  for (let i = 0; i < index.length; i += 3) {
    if (index[i]! >> 8 !== NFNL_SUBSYS.CTNETLINK) continue;
    const start = index[i + 1]!;
    const end = index[i + 2]!;
    if (writeListLine(out, buf, start, end, fast)) {
      count++;
      continue;
    }
    let ct: Conntrack;
    try {
      ct = decodeConntrack(buf.subarray(start, end));
    } catch (e) {
      if (e instanceof DecodeError) continue;
      throw e;
    }
    if (nowSec < 0) nowSec = Math.floor(nowMs() / 1000);
    const line = formatConntrack(ct, MSG.UNKNOWN, flags, map, nowSec);
    out.utf8((line.length < 4096 ? line : line.slice(0, 4095)) + '\n');
    count++;
  }
  return count;
}
