import type { NlMessage } from '../netlink/message.js';

/**
 * RawDumpBatch is one batch of dump messages, undecoded: payloads (struct nfgenmsg + attributes)
 * inside `buf`, and for message i its nlmsg_type, start and end at index[3i], [3i+1], [3i+2].
 */
export interface RawDumpBatch {
  readonly buf: Uint8Array;
  readonly index: Uint32Array;
}

/** packMessages copies a wakeup's messages into one RawDumpBatch of plain ArrayBuffers (transferable to a worker). */
export function packMessages(msgs: readonly NlMessage[]): RawDumpBatch {
  let total = 0;
  for (const m of msgs) total += m.payload.length;
  const buf = new Uint8Array(total);
  const index = new Uint32Array(msgs.length * 3);
  let at = 0;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    buf.set(m.payload, at);
    index[3 * i] = m.type;
    index[3 * i + 1] = at;
    index[3 * i + 2] = at + m.payload.length;
    at += m.payload.length;
  }
  return { buf, index };
}

