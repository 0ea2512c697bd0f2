// Benchmark: state replication, keepstate → keepstate against conntrackd → conntrackd, on the same
// namespace pair, link and generator, in one run.
//   node dist/bench/replication.js [--entries 100000] [--runs 3] [--out bench/RESULTS.md]
// Each run: fresh kernel tables and freshly started daemons on both sides (FTFW over UDP on a
// veth, the same conntrackd.conf text for both systems), then the generator (keepstate's batched
// create, bench/create.ts) makes N entries in A's kernel at full speed. Measured: time from the
// generator's start until B's external cache holds all N; CPU time of the sender and receiver
// processes over that span (/proc/PID/stat utime+stime) per entry; bytes on the link per entry
// (A's sync0 tx_bytes); peak RSS.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Conntrackd, syncConf, type SyncLinkSpec } from '../lab/conntrackd.js';
import { linkVeth } from '../lab/link.js';
import { Netns, sweepStale } from '../lab/netns.js';
import { median, option, range, writeSection } from './report.js';

const root = new URL('../..', import.meta.url).pathname;
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => option(args, name, dflt);
const N = Number(opt('entries', '100000'));
const RUNS = Number(opt('runs', '3'));
const OUT = opt('out', join(root, 'bench/RESULTS.md'));
const BUFFER = 64 << 20; // NetlinkBufferSize for both: no overrun (and no 30 s overrun-resync wait) in the burst
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

interface Sample {
  ms: number;
  senderUsPerEntry: number;
  receiverUsPerEntry: number;
  bytesPerEntry: number;
  senderRssMiB: number;
  receiverRssMiB: number;
}

function cpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK; // utime + stime (fields 14, 15)
}
function rssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
function txBytes(ns: Netns): number {
  return Number(ns.exec('cat', ['/sys/class/net/sync0/statistics/tx_bytes']).trim());
}
const fmt = range;

/** A running daemon of either system: its pid and how many entries its external cache holds. */
interface Daemon {
  pid: number;
  external(): number;
  ready(): boolean;
  stop(): Promise<void>;
}

async function startKeepstate(ns: Netns, link: SyncLinkSpec): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-ks-'));
  const conf = join(dir, 'conntrackd.conf');
  writeFileSync(conf, syncConf(dir, link, '', BUFFER));
  const status = join(dir, 'status.json');
  const child = ns.spawn(process.execPath, [join(root, 'dist/bench/sync-node.js'), conf, status], { stdio: 'ignore' });
  const read = (): { external: number; hello: string } | undefined => {
    try {
      return JSON.parse(readFileSync(status, 'utf8')) as { external: number; hello: string };
    } catch {
      return undefined;
    }
  };
  const end = Date.now() + 20_000;
  while (read() === undefined) {
    if (Date.now() > end) throw new Error('the keepstate node did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid!,
    external: () => read()?.external ?? 0,
    ready: () => read()?.hello === 'done',
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startConntrackd(ns: Netns, link: SyncLinkSpec): Promise<Daemon> {
  const d = new Conntrackd(ns, link, '', BUFFER);
  await d.start();
  const external = (): number => {
    const s = d.run('-s').stdout;
    const m = /cache external:\s*\ncurrent active connections:\s*(\d+)/.exec(s);
    return m ? Number(m[1]) : 0;
  };
  return { pid: d.pid!, external, ready: () => true, stop: () => d.stop() };
}

async function run(a: Netns, b: Netns, system: 'keepstate' | 'conntrackd'): Promise<Sample> {
  for (const ns of [a, b]) ns.exec('conntrack', ['-F']);
  const start = system === 'keepstate' ? startKeepstate : startConntrackd;
  const receiver = await start(b, { kind: 'udp', self: '10.233.0.2', peer: '10.233.0.1', device: 'sync0' });
  const sender = await start(a, { kind: 'udp', self: '10.233.0.1', peer: '10.233.0.2', device: 'sync0' });
  try {
    // Both sides say HELLO for their first second: let the handshake settle before the burst.
    const settle = Date.now() + 10_000;
    while (!(sender.ready() && receiver.ready()) && Date.now() < settle) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 2500));
    const base = receiver.external();
    const cpu0 = [cpuUs(sender.pid), cpuUs(receiver.pid)];
    const tx0 = txBytes(a);
    const t0 = process.hrtime.bigint();
    const gen = spawnSync('ip', ['netns', 'exec', a.name, process.execPath, join(root, 'dist/bench/create.js'), String(N)], { encoding: 'utf8' });
    if (gen.status !== 0) throw new Error(`generator failed: ${gen.stderr}`);
    const end = Date.now() + 120_000; // hang guard
    while (receiver.external() < base + N) {
      if (Date.now() > end) throw new Error(`${system}: only ${receiver.external() - base} of ${N} arrived`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu1 = [cpuUs(sender.pid), cpuUs(receiver.pid)];
    const bytes = txBytes(a) - tx0;
    return {
      ms,
      senderUsPerEntry: (cpu1[0]! - cpu0[0]!) / N,
      receiverUsPerEntry: (cpu1[1]! - cpu0[1]!) / N,
      bytesPerEntry: bytes / N,
      senderRssMiB: rssMiB(sender.pid),
      receiverRssMiB: rssMiB(receiver.pid),
    };
  } finally {
    await sender.stop();
    await receiver.stop();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces)');
  if (!existsSync(join(root, 'dist/bench/sync-node.js'))) throw new Error('build first: npx tsc');
  if (!Conntrackd.installed()) throw new Error('conntrackd 1.4.7 is needed (scripts/setup.sh installs it)');
  sweepStale();
  const a = Netns.create('rpa');
  const b = Netns.create('rpb');
  try {
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.233.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.233.0.2/24' });
    for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
    const samples = { conntrackd: [] as Sample[], keepstate: [] as Sample[] };
    for (let r = 0; r < RUNS; r++) {
      for (const system of r % 2 === 0 ? (['conntrackd', 'keepstate'] as const) : (['keepstate', 'conntrackd'] as const)) {
        const s = await run(a, b, system);
        samples[system].push(s);
        process.stderr.write(`${system} run ${r + 1}: ${s.ms.toFixed(0)} ms, sender ${s.senderUsPerEntry.toFixed(2)} µs/entry, receiver ${s.receiverUsPerEntry.toFixed(2)} µs/entry, ${s.bytesPerEntry.toFixed(1)} B/entry\n`);
      }
    }
    const col = (sys: 'conntrackd' | 'keepstate', f: (s: Sample) => number, d = 0): string => fmt(samples[sys].map(f), d);
    const ratio = (f: (s: Sample) => number): string => (median(samples.keepstate.map(f)) / median(samples.conntrackd.map(f))).toFixed(2);
    const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
    const section = `## State replication: keepstate vs conntrackd 1.4.7 (issue 3)

Run ${new Date().toISOString().slice(0, 16)}Z by \`node dist/bench/replication.js --entries ${N} --runs ${RUNS}\` as root:
${cpus().length} CPUs, kernel ${kernel}, Node ${process.version}. Two fresh namespaces joined by a veth, FTFW
over UDP; every run starts with empty kernel tables and freshly started daemons, both systems from the
same conntrackd.conf text (NetlinkBufferSize ${BUFFER >> 20} MiB, so neither overruns). The generator is
keepstate's batched create of ${N} TCP entries in A's kernel (the same for both systems; it alone takes
~0.5 s). Time is from the generator's start until B's external cache holds all ${N}; CPU is each daemon
process's utime+stime over that span, per entry; bytes are A's sync-link transmit bytes per entry.
Median [min–max] of ${RUNS} runs; ratio = keepstate / conntrackd.

| figure | conntrackd → conntrackd | keepstate → keepstate | ratio |
|---|---|---|---|
| time until all ${N} are on the peer (ms) | ${col('conntrackd', (s) => s.ms)} | ${col('keepstate', (s) => s.ms)} | ${ratio((s) => s.ms)} |
| sender CPU per entry (µs) | ${col('conntrackd', (s) => s.senderUsPerEntry, 2)} | ${col('keepstate', (s) => s.senderUsPerEntry, 2)} | ${ratio((s) => s.senderUsPerEntry)} |
| receiver CPU per entry (µs) | ${col('conntrackd', (s) => s.receiverUsPerEntry, 2)} | ${col('keepstate', (s) => s.receiverUsPerEntry, 2)} | ${ratio((s) => s.receiverUsPerEntry)} |
| sync-link bytes per entry | ${col('conntrackd', (s) => s.bytesPerEntry, 1)} | ${col('keepstate', (s) => s.bytesPerEntry, 1)} | ${ratio((s) => s.bytesPerEntry)} |
| peak RSS sender / receiver (MiB) | ${col('conntrackd', (s) => s.senderRssMiB, 1)} / ${col('conntrackd', (s) => s.receiverRssMiB, 1)} | ${col('keepstate', (s) => s.senderRssMiB, 1)} / ${col('keepstate', (s) => s.receiverRssMiB, 1)} | |
`;
    writeSection(OUT, '## State replication', section);
    process.stdout.write(section);
  } finally {
    a.close();
    b.close();
  }
}

await main();
