// Profiling aid, not a comparison (no incumbent, nothing goes to RESULTS.md): the JavaScript cost
// per entry of the replication pipeline alone, from real kernel events and without a daemon, so
// that a change to the hot path can be measured in seconds and with little noise.
//
// Root. Creates N entries with the batched client in a namespace it makes (and removes), records
// the NEW events as the event socket delivered them, then replays them `runs` times: the sender's
// side (event walk → internal cache → FTFW → datagrams) and the receiver's (datagrams → FTFW →
// external cache), each timed with process.cpuUsage (GC helper threads included), and then the
// writing of the receiver's commit (`-c`: a create request per external entry, framed in chunks
// as the daemon hands them to its commit thread; nothing is sent).
//   node --expose-gc dist/bench/pipeline.js [--entries 100000] [--runs 5] [--drain] [--save F | --load F]
// --drain reads the events only once all are created (large receive batches); by default they are
// read while they are made, in the batches a daemon sees. Run with --cpu-prof to see where it goes.
// --save F keeps the captured batches in F, --load F replays them without capturing (no root, no
// namespace): the same input for an A/B, e.g. under `perf stat -e instructions:u`, whose counts vary
// far less than CPU time does between runs.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { subscribeRaw } from '../src/ctnetlink/events.js';
import { PLAIN_PATHS } from '../src/daemon/warm-up.js';
import { Replicator, type ReplicatorConfig } from '../src/engine/replicator.js';
import { tryWriteCommitRecord } from '../src/engine/commit-bytes.js';
import { frameEach } from '../src/daemon/committer.js';
import { Netns } from '../lab/netns.js';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '100000' }, runs: { type: 'string', default: '5' }, drain: { type: 'boolean', default: false }, save: { type: 'string' }, load: { type: 'string' } } });
const n = Number(values.entries);
const runs = Number(values.runs);

/** Messages that fill a datagram on a 1500-byte link: the daemon transmits once that many wait (sync-node.ts TRANSMIT_FULL). */
const TRANSMIT_FULL = 16;
const CFG: ReplicatorConfig = { ackWindow: 300, resendQueueSize: 131072, hashLimit: 1 << 22, mtu: 1500, overhead: 28, tcpWindowTracking: false, commitTimeout: false, initialSeq: 1 };

async function capture(): Promise<{ batch: Uint8Array; count: number }[]> {
  const ns = Netns.create('pipe');
  const batches: { batch: Uint8Array; count: number }[] = [];
  try {
    const stream = subscribeRaw({ groups: ['new'], netns: ns.name });
    const child = ns.spawn(process.execPath, [new URL('./create.js', import.meta.url).pathname, String(n)], { stdio: ['ignore', 'ignore', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    if (values.drain) await exited;
    let got = 0;
    for await (const b of stream) {
      if (b.kind !== 'raw') throw new Error('the event socket overran');
      batches.push({ batch: b.batch.slice(), count: b.count });
      got += b.count;
      if (got >= n) break;
    }
    stream.close();
    await exited;
  } finally {
    ns.close();
  }
  return batches;
}

const cpuUs = (c: NodeJS.CpuUsage): number => c.user + c.system;

/** The saved form: per batch, its event count and byte length (u32 each, host order), then its bytes. */
function save(path: string, batches: readonly { batch: Uint8Array; count: number }[]): void {
  const parts: Uint8Array[] = [];
  for (const { batch, count } of batches) parts.push(new Uint8Array(new Uint32Array([count, batch.length]).buffer), batch);
  writeFileSync(path, Buffer.concat(parts));
}

function load(path: string): { batch: Uint8Array; count: number }[] {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const out: { batch: Uint8Array; count: number }[] = [];
  for (let o = 0; o < b.length; ) {
    const count = dv.getUint32(o, true);
    const len = dv.getUint32(o + 4, true);
    out.push({ batch: new Uint8Array(b.subarray(o + 8, o + 8 + len)), count });
    o += 8 + len;
  }
  return out;
}

const batches = values.load !== undefined ? load(values.load) : await capture();
if (values.save !== undefined) save(values.save, batches);
const events = batches.reduce((sum, b) => sum + b.count, 0);
console.log(`${events} NEW events in ${batches.length} receive batches`);
/** With node --expose-gc, each run starts from a collected heap (less noise from the runs before). */
const collect = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);
for (let r = 0; r < runs; r++) {
  collect();
  const sent: Uint8Array[] = [];
  const tx = new Replicator(CFG, { send: (ds) => void sent.push(...ds) });
  let c = process.cpuUsage();
  for (const { batch, count } of batches) {
    PLAIN_PATHS.events(tx, batch, count, 0);
    if (tx.protocol.queued >= TRANSMIT_FULL) tx.transmit();
  }
  tx.transmit();
  const sender = cpuUs(process.cpuUsage(c));
  const rx = new Replicator(CFG, { send: () => undefined });
  collect();
  c = process.cpuUsage();
  for (let i = 0; i < sent.length; i++) {
    rx.onDatagram(sent[i]!, 0);
    if (i % TRANSMIT_FULL === TRANSMIT_FULL - 1) rx.transmit(); // its ACKs
  }
  const receiver = cpuUs(process.cpuUsage(c));
  if (rx.external.size !== events) throw new Error(`the receiver holds ${rx.external.size} of ${events}`);
  collect();
  c = process.cpuUsage();
  const opts = { nowMs: Date.now(), tcpWindowTracking: false };
  let chunks = 0;
  const w0 = process.hrtime.bigint();
  const arena = rx.external.arena;
  const framed = frameEach('create', rx.external.offsets(), (w, at) => tryWriteCommitRecord(w, arena, at, opts), rx.external.size, () => void chunks++);
  const commit = cpuUs(process.cpuUsage(c));
  const commitWallMs = Number(process.hrtime.bigint() - w0) / 1e6;
  if (framed.accepted.length !== events) throw new Error(`the commit wrote ${framed.accepted.length} of ${events}`);
  console.log(`run ${r + 1}: sender ${(sender / events).toFixed(2)} µs/entry, receiver ${(receiver / events).toFixed(2)} µs/entry (${sent.length} datagrams), commit writer ${(commit / events).toFixed(2)} µs/entry (${commitWallMs.toFixed(0)} ms wall, ${chunks} chunks)`);
}
