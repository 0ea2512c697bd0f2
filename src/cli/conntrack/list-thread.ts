import { parentPort, workerData } from 'node:worker_threads';
import type { RawBatch } from '../../netlink/conn.js';
import { AsciiOut } from './fast-line.js';
import type { FmtFlags } from './format.js';
import type { LabelMap } from './labels.js';
import { formatListBatch } from './list-lines.js';
import { PipeClosed, writeAll } from './output.js';

/**
 * The formatting side of `-L` on two threads (see ctListThreaded in run.ts): batches arrive from
 * the thread that reads the socket, are formatted here and written to the output fd, ~1 MiB per
 * write(2). Replies {count} at the end, or {pipeClosed} when the reader of stdout went away.
 */
export interface ListThreadData {
  readonly fd: number;
  readonly flags: FmtFlags;
  readonly map?: LabelMap;
}
export type ListThreadIn = { readonly kind: 'batch'; readonly batch: RawBatch } | { readonly kind: 'end' };
export type ListThreadOut = { readonly kind: 'done'; readonly count: number } | { readonly kind: 'pipeClosed' } | { readonly kind: 'error'; readonly message: string };

const port = parentPort;
if (port === null) throw new Error('list-thread.js runs only as a worker');
const d = workerData as ListThreadData;
const out = new AsciiOut();
let count = 0;
let stopped = false;
port.on('message', (m: ListThreadIn) => {
  if (stopped) return;
  try {
    if (m.kind === 'batch') {
      count += formatListBatch(out, m.batch, d.flags, d.map, Date.now);
      if (out.len >= 1 << 20) writeAll(d.fd, out.take());
      return;
    }
    if (out.len > 0) writeAll(d.fd, out.take());
    port.postMessage({ kind: 'done', count } satisfies ListThreadOut);
  } catch (e) {
    stopped = true;
    port.postMessage((e instanceof PipeClosed ? { kind: 'pipeClosed' } : { kind: 'error', message: String(e) }) satisfies ListThreadOut);
  }
});
