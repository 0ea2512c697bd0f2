// Benchmark: DisableExternalCache (issue 4 item 4, "make this fast and correct": the basis of a
// takeover without commit) — keepstated → keepstated against conntrackd → conntrackd, same rig,
// generator and conntrackd.conf text (FTFW with `DisableExternalCache on` on both nodes), in one run.
//   node dist/bench/inject.js [--entries 100000] [--runs 3] [--out bench/RESULTS.md]
// Per run: A's kernel gets N entries in batched ctnetlink creates (bench/create.ts); measured from
// the generator's start until B's *kernel* holds N (conntrack -C every 20 ms), and B's daemon's CPU
// (utime+stime) over that span per entry. The order of the systems alternates run by run.
import { cpus } from 'node:os';
import { join } from 'node:path';
import { checkArgs, numberOption, option, range, ratio, writeSection } from './report.js';
import { Rig, hashSizeFor, type ConfOptions, type System } from './rig.js';

const root = new URL('../..', import.meta.url).pathname;
const args = process.argv.slice(2);
checkArgs(args, ['entries', 'runs', 'out'], 'usage: node dist/bench/inject.js [--entries 100000] [--runs 3] [--out bench/RESULTS.md]\nRoot; runs conntrackd 1.4.7 and keepstated in namespaces it creates.\n');
const N = numberOption(args, 'entries', 100_000);
const RUNS = numberOption(args, 'runs', 3);
const OUT = option(args, 'out', join(root, 'bench/RESULTS.md'));
const CONF: ConfOptions = { buffer: 64 << 20, inject: true, hashSize: hashSizeFor(N), hashLimit: Math.max(262_144, 2 * N) };
const SYSTEMS: readonly System[] = ['conntrackd', 'keepstate'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (m: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);

async function one(rig: Rig, sys: System): Promise<{ ms: number; us: number } | undefined> {
  rig.flushTables();
  const { sender, receiver } = await rig.startPair(sys, CONF);
  try {
    const cpu0 = receiver.cpuUs();
    const t0 = performance.now();
    let done = false;
    let failed: unknown;
    rig.worker(rig.a, 'create.js', [String(N)]).then(
      () => (done = true),
      (e: unknown) => (failed = e),
    );
    const deadline = Date.now() + 300_000; // hang guard
    for (;;) {
      if (failed !== undefined) throw failed;
      if (done && rig.count(rig.b) >= N) break;
      if (Date.now() > deadline) {
        say(`${sys}: ${rig.count(rig.b)} of ${N} in B's kernel after 300 s`);
        return undefined;
      }
      await sleep(20);
    }
    const ms = performance.now() - t0;
    const us = (receiver.cpuUs() - cpu0) / N;
    say(`${sys}: ${N} in B's kernel after ${ms.toFixed(0)} ms, receiver ${us.toFixed(2)} µs/entry`);
    return { ms, us };
  } finally {
    await sender.stop(rig);
    await receiver.stop(rig);
  }
}

async function main(): Promise<void> {
  const rig = Rig.create();
  rig.closeOnSignal();
  const ms: Record<System, number[]> = { conntrackd: [], keepstate: [] };
  const us: Record<System, number[]> = { conntrackd: [], keepstate: [] };
  try {
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse();
      for (const sys of order) {
        const r = await one(rig, sys);
        ms[sys].push(r?.ms ?? Number.NaN);
        us[sys].push(r?.us ?? Number.NaN);
      }
    }
  } finally {
    rig.close();
  }
  const row = (label: string, v: Record<System, number[]>, digits: number): string => `| ${label} | ${range(v.conntrackd, digits)} | ${range(v.keepstate, digits)} | ${ratio(v.keepstate, v.conntrackd)} |`;
  const section = `## DisableExternalCache (issue 4): keepstate vs conntrackd 1.4.7

\`node dist/bench/inject.js --entries ${N} --runs ${RUNS}\` (${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} CPUs): A's kernel gets
${N} entries in batched ctnetlink creates; both nodes run FTFW with \`DisableExternalCache on\`, so B
puts what it receives straight into its kernel. Time from the generator's start until B's kernel
holds all of them (\`conntrack -C\` every 20 ms), and B's daemon's CPU (utime+stime) per entry over
that span. HashSize ${CONF.hashSize} (rig.ts hashSizeFor). Medians [min–max] of ${RUNS} runs, the
systems' order alternating; ratio = keepstate / conntrackd.

| figure | conntrackd → conntrackd | keepstate → keepstate | ratio |
|---|---|---|---|
${row(`${N} entries in B's kernel (ms)`, ms, 0)}
${row('B CPU per entry (µs)', us, 2)}
`;
  writeSection(OUT, '## DisableExternalCache', section);
  process.stdout.write(section);
}

await main();
