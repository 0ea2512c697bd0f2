// Benchmark: state replication, keepstate → keepstate against conntrackd → conntrackd, on the same
// namespaces, link, generators and conntrackd.conf text, in one run (issue 3 item 9).
//   node dist/bench/replication.js [--entries 100000] [--runs 3] [--burst-runs R] [--figures burst,flows,...]
//       [--big-entries 1000000] [--big-runs R] [--latency-flows 500] [--note TEXT] [--out bench/RESULTS.md]
// --burst-runs (default --runs) is for burst, warm and flows, and the resync and commit figures taken
// on the burst runs' daemons: the CPU figures spread most from run to run, and their runs are short.
// Figures (--figures picks some; default all), each measured for both systems, the order of the
// systems alternating run by run:
//   burst    batched ctnetlink create of N entries in A's kernel: time until B's external cache holds
//            them all, CPU per entry of both daemons (/proc utime+stime), sync-link bytes per entry,
//            peak RSS (VmHWM) of both daemons
//   flows    the same with N real one-packet UDP flows C → A → S (A's kernel creates the entries)
//   warm     the burst figures for a second batched create of N more, on daemons that replicated a
//            first one (keepstated's code then compiled by V8's optimizing compiler, heaps grown)
//   latency  idle one-flow latency p50/p99 (bench/latency.ts: packet timestamps, and polling B)
//   resync   `-n` on B after `-f external`: request until B's external cache holds N again
//   commit   `-c` of N on B into an empty kernel, then again with the entries present (failback)
//   rss1m    peak RSS with --big-entries entries (created in paced batches so neither overruns)
//   loss     N created in a burst with each system's default event buffer and with 2 MiB: entries
//            missing at B before the overrun resync, and when (if) they come back
// resync and commit run on the burst run's daemons, after its figures are taken.
// Teardown (namespaces, daemons, global sysctls) happens on every exit, Ctrl-C included.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { CTL } from '../src/control/codes.js';
import { measureLatency } from './latency.js';
import { checkArgs, listOption, numberOption, option, percentile, range, ratio, writeSection } from './report.js';
import { Rig, hashSizeFor, type ConfOptions, type Daemon, type System } from './rig.js';

const root = new URL('../..', import.meta.url).pathname;
const args = process.argv.slice(2);
const FIGURES = ['burst', 'warm', 'flows', 'latency', 'resync', 'commit', 'rss1m', 'loss'] as const;
checkArgs(
  args,
  ['entries', 'runs', 'burst-runs', 'figures', 'big-entries', 'big-runs', 'latency-flows', 'note', 'out'],
  `usage: node dist/bench/replication.js [--entries 100000] [--runs 3] [--burst-runs RUNS] [--figures ${FIGURES.join(',')}]
       [--big-entries 1000000] [--big-runs RUNS] [--latency-flows 500] [--note TEXT] [--out bench/RESULTS.md]
Root; runs conntrackd 1.4.7 and keepstated in namespaces it creates; writes its section of --out.
`,
);
const FIG = listOption(args, 'figures', FIGURES);
const N = numberOption(args, 'entries', 100_000);
const RUNS = numberOption(args, 'runs', 3);
const BIG = numberOption(args, 'big-entries', 1_000_000);
const BIG_RUNS = numberOption(args, 'big-runs', RUNS);
const BURST_RUNS = numberOption(args, 'burst-runs', RUNS);
const LAT_FLOWS = numberOption(args, 'latency-flows', 500);
const NOTE = option(args, 'note', '');
const OUT = option(args, 'out', join(root, 'bench/RESULTS.md'));
const SYSTEMS: readonly System[] = ['conntrackd', 'keepstate'];
const MiB = 1 << 20;
// Throughput runs: a buffer neither system overruns in the burst (no 30 s overrun-resync wait).
// Cache hash tables sized for the 2N entries a second burst leaves (rig.ts hashSizeFor).
const CACHES = { hashSize: hashSizeFor(2 * N), hashLimit: Math.max(262_144, 4 * N) } as const;
const STD: ConfOptions = { buffer: 64 * MiB, ...CACHES };
const BIG_CHUNK = 50_000; // ≈ 32 MB of queued events at most: below either system's 64 MiB
const LOSS_CONFS: readonly { label: string; conf: ConfOptions }[] = [
  { label: 'no NetlinkBufferSize (each default)', conf: { buffer: 'default', ...CACHES } },
  { label: 'NetlinkBufferSize 2 MiB, MaxGrowth 8 MiB (upstream example)', conf: { buffer: 2 * MiB, maxGrowth: 8 * MiB, ...CACHES } },
];

/** Samples holds every measured value by figure key, per system; NaN is a failed measurement. */
const samples: Record<System, Map<string, number[]>> = { conntrackd: new Map(), keepstate: new Map() };
function record(sys: System, name: string, v: number): void {
  const l = samples[sys].get(name) ?? [];
  l.push(v);
  samples[sys].set(name, l);
}
const policies: Record<System, Set<string>> = { conntrackd: new Set(), keepstate: new Set() };
const got = (sys: System, name: string): number[] => samples[sys].get(name) ?? [];
const say = (s: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const order = (r: number): readonly System[] => (r % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse());
const runs = (n: number): string => `${n} run${n === 1 ? '' : 's'}`;

/** guarded runs one measurement; a failure (the other system's slowness never is one) is logged and recorded as NaN under `keys`. */
async function guarded(sys: System, what: string, keys: readonly string[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    say(`${sys} ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    for (const k of keys) record(sys, k, Number.NaN);
  }
}

/** withPair runs `fn` on freshly started daemons of `sys` over empty kernel tables, and always stops them. */
async function withPair<T>(rig: Rig, sys: System, conf: ConfOptions, fn: (sender: Daemon, receiver: Daemon) => Promise<T>): Promise<T> {
  rig.flushTables();
  const { sender, receiver } = await rig.startPair(sys, conf);
  policies[sys].add(sender.policy());
  try {
    return await fn(sender, receiver);
  } finally {
    await sender.stop(rig);
    await receiver.stop(rig);
  }
}

/**
 * fill runs a generator and polls B until its external cache holds what the generator made (and
 * the `offset` entries made before, for create); ms from the generator's start.
 */
async function fill(rig: Rig, receiver: Daemon, gen: 'create' | 'flows', n: number, guardMs: number, offset = 0): Promise<{ ms: number; target: number }> {
  const t0 = process.hrtime.bigint();
  const worker = gen === 'create' ? rig.worker(rig.a, 'create.js', [String(n), String(offset)]) : rig.worker(rig.c, 'flows.js', [String(n)]);
  let done = false;
  let failed: unknown;
  worker.then(
    () => (done = true),
    (e: unknown) => (failed = e),
  );
  let target = offset + n;
  const deadline = Date.now() + guardMs;
  for (;;) {
    if (failed !== undefined) throw failed;
    if (done && gen === 'flows' && target === n) target = rig.count(rig.a); // a dropped packet makes no entry
    if (done && (await receiver.counts()).external >= target) return { ms: msSince(t0), target: target - offset };
    if (Date.now() > deadline) throw new Error(`${receiver.system}: ${(await receiver.counts()).external} of ${target} at the peer after ${guardMs} ms`);
    await sleep(20);
  }
}

/** burstRun measures one generator's burst on fresh daemons; 'warm' is a create of N more after a first, unmeasured one. */
async function burstRun(rig: Rig, sys: System, gen: 'create' | 'flows' | 'warm'): Promise<void> {
  await withPair(rig, sys, STD, async (sender, receiver) => {
    if (gen === 'warm') await fill(rig, receiver, 'create', N, 300_000);
    const t0 = [sender.cpuSplitUs(), receiver.cpuSplitUs()] as const;
    const tx0 = rig.txBytes(rig.a, 'sync0');
    let f: { ms: number; target: number };
    try {
      f = gen === 'warm' ? await fill(rig, receiver, 'create', N, 300_000, N) : await fill(rig, receiver, gen, N, 300_000);
    } catch (e) {
      say(`${sys} ${gen}: ${String(e)}`);
      record(sys, `${gen}.ms`, Number.NaN);
      return;
    }
    const t1 = [sender.cpuSplitUs(), receiver.cpuSplitUs()] as const;
    // µs per entry over the run, all (user + system) and system alone, [sender, receiver].
    const perEntry = (k: 0 | 1, part: 'all' | 'system'): number =>
      (part === 'system' ? t1[k].system - t0[k].system : t1[k].user + t1[k].system - t0[k].user - t0[k].system) / f.target;
    record(sys, `${gen}.ms`, f.ms);
    record(sys, `${gen}.entries`, f.target);
    record(sys, `${gen}.senderUs`, perEntry(0, 'all'));
    record(sys, `${gen}.receiverUs`, perEntry(1, 'all'));
    record(sys, `${gen}.senderSysUs`, perEntry(0, 'system'));
    record(sys, `${gen}.receiverSysUs`, perEntry(1, 'system'));
    record(sys, `${gen}.bytes`, (rig.txBytes(rig.a, 'sync0') - tx0) / f.target);
    record(sys, `${gen}.senderRss`, sender.peakRssMiB());
    record(sys, `${gen}.receiverRss`, receiver.peakRssMiB());
    say(`${sys} ${gen}: ${f.target} at the peer in ${f.ms.toFixed(0)} ms, sender ${perEntry(0, 'all').toFixed(2)} µs/entry, receiver ${perEntry(1, 'all').toFixed(2)} µs/entry (system: ${perEntry(0, 'system').toFixed(2)} and ${perEntry(1, 'system').toFixed(2)})`);
    if (gen !== 'create') return;
    if (FIG.has('resync')) await guarded(sys, '-n', ['resync.ms'], () => resyncFigure(sys, receiver, f.target));
    if (FIG.has('commit')) await commitFigure(rig, sys, sender, receiver, f.target);
  });
}

/** resyncFigure: B forgets its external cache (`-f external`) and asks A for everything (`-n`). */
async function resyncFigure(sys: System, receiver: Daemon, n: number): Promise<void> {
  await receiver.request(CTL.CT_FLUSH_EXT_CACHE);
  const left = (await receiver.counts()).external;
  if (left !== 0) throw new Error(`${sys}: -f external left ${left} entries`);
  const t0 = process.hrtime.bigint();
  await receiver.request(CTL.REQUEST_DUMP);
  const ok = await receiver.waitExternal(n, Date.now() + 300_000);
  record(sys, 'resync.ms', ok ? msSince(t0) : Number.NaN);
  say(`${sys} -n: ${ok ? `${msSince(t0).toFixed(0)} ms` : 'incomplete'}`);
}

/** commitTime runs `-c` (what conntrackd's -c sends) and returns the request's duration; the log's own figure goes to stderr. */
async function commitTime(rig: Rig, sys: System, receiver: Daemon, label: string, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await receiver.request(CTL.ALL_COMMIT);
  const ms = msSince(t0);
  const inKernel = rig.count(rig.b);
  const logged = [...receiver.log().matchAll(/commit has taken ([\d.]+) seconds/g)].pop()?.[1];
  say(`${sys} -c ${label}: ${ms.toFixed(0)} ms (its log: ${logged ?? '?'} s), ${inKernel} in B's kernel`);
  return inKernel >= n ? ms : Number.NaN;
}

/**
 * commitFigure: A's daemon stops first, as when A fails and B takes over. It also keeps this rig's
 * one kernel honest: any NEW-event listener on the host (A's daemon in its namespace too) makes
 * the kernel build a NEW event for every entry B's commit creates, which two hosts would not do.
 */
async function commitFigure(rig: Rig, sys: System, sender: Daemon, receiver: Daemon, n: number): Promise<void> {
  await sender.stop(rig);
  await guarded(sys, '-c', ['commit.ms'], async () => {
    const before = rig.count(rig.b);
    if (before !== 0) throw new Error(`B's kernel holds ${before} entries before the commit`);
    record(sys, 'commit.ms', await commitTime(rig, sys, receiver, 'into an empty kernel', n));
  });
  await guarded(sys, '-c (failback)', ['failback.ms'], async () => {
    // Let B take in the NEW events its own commit caused before committing again.
    const deadline = Date.now() + 120_000;
    while ((await receiver.counts()).internal < n && Date.now() < deadline) await sleep(200);
    record(sys, 'failback.ms', await commitTime(rig, sys, receiver, 'over existing entries', n));
  });
}

async function latencyRun(rig: Rig, sys: System): Promise<void> {
  await withPair(rig, sys, STD, async (_sender, receiver) => {
    const r = await measureLatency(rig, receiver, LAT_FLOWS, 100);
    for (const [name, xs] of [
      ['lat.packet', r.packetMs],
      ['lat.poll', r.pollMs],
      ['lat.pollRtt', r.pollRttMs],
    ] as const)
      for (const x of xs) record(sys, name, x);
    record(sys, 'lat.missed', r.missed);
    say(`${sys} latency: packets p50 ${percentile(r.packetMs, 50).toFixed(3)} p99 ${percentile(r.packetMs, 99).toFixed(3)} ms; poll p50 ${percentile(r.pollMs, 50).toFixed(3)} p99 ${percentile(r.pollMs, 99).toFixed(3)} ms (rtt ${percentile(r.pollRttMs, 50).toFixed(3)}); missed ${r.missed}`);
  });
}

async function bigRun(rig: Rig, sys: System): Promise<void> {
  const conf: ConfOptions = { ...STD, hashSize: 262_144, hashLimit: 2 * BIG };
  await withPair(rig, sys, conf, async (sender, receiver) => {
    const t0 = process.hrtime.bigint();
    for (let off = 0; off < BIG; off += BIG_CHUNK) {
      const n = Math.min(BIG_CHUNK, BIG - off);
      await rig.worker(rig.a, 'create.js', [String(n), String(off)]);
      if (!(await receiver.waitExternal(off + n, Date.now() + 300_000, 100))) {
        say(`${sys} ${BIG}: stuck at ${(await receiver.counts()).external} at the peer`);
        record(sys, 'big.senderRss', Number.NaN);
        record(sys, 'big.receiverRss', Number.NaN);
        return;
      }
    }
    const ms = msSince(t0);
    const overruns = (await sender.runtime()).overruns;
    record(sys, 'big.ms', ms);
    record(sys, 'big.senderRss', sender.peakRssMiB());
    record(sys, 'big.receiverRss', receiver.peakRssMiB());
    say(`${sys} ${BIG}: at the peer in ${ms.toFixed(0)} ms, RSS ${sender.peakRssMiB().toFixed(0)} / ${receiver.peakRssMiB().toFixed(0)} MiB, ${overruns} overruns`);
  });
}

interface LossSample {
  bufferBytes: number;
  overruns: number;
  missing: number;
  recoveredS: number; // NaN: not within the guard
}
const loss: Record<System, LossSample[][]> = { conntrackd: LOSS_CONFS.map(() => []), keepstate: LOSS_CONFS.map(() => []) };

async function lossRun(rig: Rig, sys: System, ci: number): Promise<void> {
  await withPair(rig, sys, LOSS_CONFS[ci]!.conf, async (sender, receiver) => {
    const t0 = Date.now();
    await rig.worker(rig.a, 'create.js', [String(N)]);
    // Until B's count has not moved for 3 s: well before the 30 s NetlinkOverrunResync default.
    let last = -1;
    let since = Date.now();
    for (;;) {
      const c = (await receiver.counts()).external;
      if (c !== last) [last, since] = [c, Date.now()];
      if (c >= N || Date.now() - since >= 3000) break;
      await sleep(200);
    }
    const rt = await sender.runtime();
    let recoveredS = last >= N ? (Date.now() - t0) / 1000 : Number.NaN;
    if (last < N && (await receiver.waitExternal(N, t0 + 100_000, 500))) recoveredS = (Date.now() - t0) / 1000;
    loss[sys][ci]!.push({ bufferBytes: rt.bufferBytes, overruns: rt.overruns, missing: N - last, recoveredS });
    say(`${sys} loss (${LOSS_CONFS[ci]!.label}): buffer ${rt.bufferBytes}, ${rt.overruns} overruns, ${N - last} missing, all there at ${recoveredS.toFixed(1)} s`);
  });
}

function section(): string {
  const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
  const row = (label: string, key: string, digits: number, target = ''): string =>
    `| ${label} | ${range(got('conntrackd', key), digits)} | ${range(got('keepstate', key), digits)} | ${ratio(got('keepstate', key), got('conntrackd', key))} | ${target} |`;
  const pct = (label: string, key: string, p: number, target = ''): string => {
    const [c, k] = [percentile(got('conntrackd', key), p), percentile(got('keepstate', key), p)];
    return `| ${label} | ${c.toFixed(3)} | ${k.toFixed(3)} | ${Number.isFinite(k / c) ? (k / c).toFixed(2) : '—'} | ${target} |`;
  };
  const rows: string[] = [];
  const gens = [
    { gen: 'create', fig: 'burst', what: `batched ctnetlink create of ${N}` },
    { gen: 'warm', fig: 'warm', what: `batched create of ${N} more, second burst` },
    { gen: 'flows', fig: 'flows', what: `${N} real one-packet UDP flows through A` },
  ] as const;
  for (const { gen, fig, what } of gens) {
    if (!FIG.has(fig)) continue;
    rows.push(
      row(`${what}: time until all are on the peer (ms)`, `${gen}.ms`, 0),
      row(`${what}: sender CPU per entry (µs)`, `${gen}.senderUs`, 2),
      row(`  of it in the kernel (stime) (µs)`, `${gen}.senderSysUs`, 2),
      row(`${what}: receiver CPU per entry (µs)`, `${gen}.receiverUs`, 2),
      row(`  of it in the kernel (stime) (µs)`, `${gen}.receiverSysUs`, 2),
      row(`${what}: sync-link bytes per entry`, `${gen}.bytes`, 1),
      row(`${what}: peak RSS sender (MiB)`, `${gen}.senderRss`, 1),
      row(`${what}: peak RSS receiver (MiB)`, `${gen}.receiverRss`, 1),
    );
    if (gen === 'flows') rows.push(`| ${what}: entries A's kernel made of them | ${range(got('conntrackd', 'flows.entries'))} | ${range(got('keepstate', 'flows.entries'))} | | |`);
  }
  if (FIG.has('latency'))
    rows.push(
      pct('idle one-flow latency, packets, p50 (ms)', 'lat.packet', 50),
      pct('idle one-flow latency, packets, p99 (ms)', 'lat.packet', 99),
      pct('idle one-flow latency, polling B, p50 (ms)', 'lat.poll', 50),
      pct('idle one-flow latency, polling B, p99 (ms)', 'lat.poll', 99),
      pct('  one `-s` round trip while polling, p50 (ms)', 'lat.pollRtt', 50),
      row('  flows not replicated within 2 s', 'lat.missed', 0),
    );
  if (FIG.has('resync')) rows.push(row(`\`-n\` resync of ${N}: request until all in B's external cache (ms)`, 'resync.ms', 0));
  if (FIG.has('commit'))
    rows.push(
      row(`\`-c\` commit of ${N} into B's empty kernel (ms)`, 'commit.ms', 0, '≤ 0.50'),
      row(`\`-c\` failback commit of ${N}, entries already in the kernel (ms)`, 'failback.ms', 0),
    );
  if (FIG.has('rss1m'))
    rows.push(
      row(`peak RSS sender with ${BIG} entries (MiB)`, 'big.senderRss', 1, '≤ 1.00'),
      row(`peak RSS receiver with ${BIG} entries (MiB)`, 'big.receiverRss', 1, '≤ 1.00'),
      row(`  time to fill both with ${BIG} in paced batches of ${BIG_CHUNK} (ms)`, 'big.ms', 0),
    );
  let lossTable = '';
  if (FIG.has('loss')) {
    const lines = LOSS_CONFS.flatMap((c, ci) =>
      SYSTEMS.map((sys) => {
        const l = loss[sys][ci]!;
        const rec = l.filter((s) => s.missing > 0);
        const back = rec.filter((s) => Number.isFinite(s.recoveredS));
        const recovery = rec.length === 0 ? 'nothing to recover' : `${back.length} of ${rec.length} runs, at ${range(back.map((s) => s.recoveredS), 1)} s`;
        return `| ${c.label} | ${sys} | ${range(l.map((s) => s.bufferBytes))} | ${range(l.map((s) => s.overruns))} | ${range(l.map((s) => s.missing))} | ${recovery} |`;
      }),
    );
    lossTable = `
Events lost in a burst of ${N} (batched create at full speed) with each system's own default event
buffer, and with the 2 MiB of the upstream example; ${runs(RUNS)} each. "Missing" is N minus B's
external cache once it has not changed for 3 s (before any overrun resync, 30 s by default); the
last column says in how many of the runs that lost entries B got them all back within 100 s of the
burst's start, and when. Effective buffer = \`-s runtime\` "current buffer size" on A after the burst.

| event buffer setting | system | effective buffer (bytes) | overruns on A | missing at B before resync | all back at B |
|---|---|---|---|---|---|
${lines.join('\n')}
`;
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const cmd = `node dist/bench/replication.js --entries ${N} --runs ${RUNS}${BURST_RUNS !== RUNS ? ` --burst-runs ${BURST_RUNS}` : ''} --figures ${[...FIG].join(',')}${FIG.has('rss1m') ? ` --big-entries ${BIG} --big-runs ${BIG_RUNS}` : ''}${FIG.has('latency') ? ` --latency-flows ${LAT_FLOWS}` : ''}`;
  return `## Replication, all figures (issue 3 item 9): keepstate vs conntrackd 1.4.7

Run ${new Date().toISOString().slice(0, 16)}Z by \`${cmd}\` as root: ${cpus().length} CPUs, kernel ${kernel},
Node ${process.version}; load average at the start ${startLoad}, at the end ${load}. Scheduling the daemons ran
with (same config, no Scheduler section): conntrackd ${[...policies.conntrackd].join(', ')}, keepstated ${[...policies.keepstate].join(', ')}.${NOTE === '' ? '' : `\n**${NOTE}**`}

Rig (bench/rig.ts): namespaces C (client) → A (firewall: forwarding, nftables \`ct state\` forward
chain) → S (drops), and B joined to A by a veth sync link; FTFW over UDP. Both systems run from the
same conntrackd.conf text (lab/conntrackd.ts; NetlinkBufferSize 64 MiB with MaxGrowth 128 MiB unless
said otherwise) as daemons in the foreground — keepstated is the real daemon (src/daemon/main.ts,
started with its node flags, src/daemon/node-flags.ts), queried like conntrackd through its control
socket. Each run starts with empty kernel tables and
fresh daemons. Medians [min–max] over runs (${runs(BURST_RUNS)} for the bursts, flows, \`-n\` and \`-c\`; ${runs(RUNS)} for
the losses; ${runs(BIG_RUNS)} for ${BIG} entries), ratio =
keepstate / conntrackd; target = the issue's.

- Time to the peer: from the generator's start until B's external cache (\`-s\`, polled every 20 ms)
  holds all entries. CPU per entry: each daemon's utime+stime over that span (all its threads,
  /proc/PID/stat, ticks of 10 ms), and the stime part alone. Bytes: A's sync0 transmit bytes per
  entry. RSS: VmHWM at that moment. Real flows: one UDP datagram per flow from C
  to its own destination (distinct address:port), forwarded by A; A's kernel creates and confirms
  the entry from the packet, exactly as for traffic. Caches: HashSize ${CACHES.hashSize} and HashLimit
  ${CACHES.hashLimit} for both, in the loss runs too (keepstated's tables grow as needed;
  conntrackd's has that many buckets: chains of one entry or less on average). Second burst: fresh daemons replicate a first
  batched create of ${N} (not measured), then the same figures are taken for ${N} more (other
  addresses; the tables end with ${2 * N}). A daemon's first burst also pays for one-time start-up
  work: keepstated's hot functions are compiled by V8 while it runs (CPU that perf shows under V8's
  compiler threads), and both daemons' heaps and tables grow; the second one shows the cost per
  entry of a daemon that has been running.
- Idle latency (bench/latency.ts), ${LAT_FLOWS} flows per method, one at a time, 10–30 ms apart:
  *packets* = kernel receive timestamps (AF_PACKET taps, SO_TIMESTAMPNS, one host clock) from the
  flow's packet arriving on A's client-side interface to the sync datagram carrying that entry
  arriving on B's end of the link — B's own handling of the datagram (a few µs) is not in it;
  *polling B* = from sending the packet to the first \`-s\` reply of B showing one more external
  entry, \`-s\` requests back to back — B's handling is in it, and up to one round trip too much.
- \`-n\`: on the burst run's daemons, \`-f external\` on B, then the \`-n\` request, until B's external
  cache holds all again. \`-c\`: then A's daemon stops (A fails) and B gets the \`-c\` request
  (conntrackd's -c request code; the daemon answers when the commit is done) into its empty
  kernel, and once more with all the entries already there (each create then fails with EEXIST;
  conntrackd deletes and creates the entry again, keepstated changes it in place when its NAT
  binding is the one received — all of them here — and deletes and creates it otherwise). A is stopped because the namespaces share one
  kernel: while any daemon on the host listens for NEW events, the kernel builds one for every
  entry B creates, which B's own host alone would not do for keepstated (it leaves the NEW group
  while it commits and reads the table back afterwards; conntrackd keeps listening).
- ${BIG} entries: A's kernel gets them in batches of ${BIG_CHUNK}, each batch once B has the
  previous one, so neither system overruns; nf_conntrack_max (global) is raised for the run and
  restored after; HashSize 262144 and HashLimit ${2 * BIG} for both.

| figure | conntrackd → conntrackd | keepstate → keepstate | ratio | target |
|---|---|---|---|---|
${rows.join('\n')}
${lossTable}`;
}

const startLoad = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces)');
  if (!existsSync(new URL('./keepstated.js', import.meta.url))) throw new Error('build first: npx tsc');
  if (spawnSync('conntrackd', ['-v'], { encoding: 'utf8' }).stdout?.includes('v1.4.7') !== true)
    throw new Error('conntrackd 1.4.7 is needed (scripts/setup.sh installs it)');
  const rig = Rig.create();
  rig.closeOnSignal();
  try {
    for (let r = 0; r < BURST_RUNS; r++) {
      for (const sys of order(r)) {
        if (FIG.has('burst') || FIG.has('resync') || FIG.has('commit')) await guarded(sys, 'burst', ['create.ms'], () => burstRun(rig, sys, 'create'));
        if (FIG.has('warm')) await guarded(sys, 'warm', ['warm.ms'], () => burstRun(rig, sys, 'warm'));
        if (FIG.has('flows')) await guarded(sys, 'flows', ['flows.ms'], () => burstRun(rig, sys, 'flows'));
      }
    }
    if (FIG.has('latency')) for (const sys of SYSTEMS) await guarded(sys, 'latency', ['lat.missed'], () => latencyRun(rig, sys));
    if (FIG.has('loss'))
      for (let r = 0; r < RUNS; r++)
        for (let ci = 0; ci < LOSS_CONFS.length; ci++) for (const sys of order(r + ci)) await guarded(sys, 'loss', [], () => lossRun(rig, sys, ci));
    if (FIG.has('rss1m')) {
      const max = rig.globalSysctl('net/netfilter/nf_conntrack_max');
      if (max < BIG + 65_536) rig.setGlobalSysctl('net/netfilter/nf_conntrack_max', BIG + 65_536);
      for (let r = 0; r < BIG_RUNS; r++) for (const sys of order(r)) await guarded(sys, `${BIG} entries`, ['big.senderRss', 'big.receiverRss'], () => bigRun(rig, sys));
    }
  } finally {
    rig.close();
  }
  const text = section();
  writeSection(OUT, '## Replication, all figures', text);
  process.stdout.write(text);
}

await main();
