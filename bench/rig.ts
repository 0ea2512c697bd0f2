// The replication benchmark's rig: four namespaces, the daemons of either system started from the
// same conntrackd.conf text, their control sockets, and one teardown for every way out (normal end,
// error, Ctrl-C/SIGTERM) that kills what it started, deletes the namespaces and restores the global
// sysctls it changed.
//
//   C (client) 10.234.1.2 ─c0─ 10.234.1.1 A (firewall, sync sender) 10.234.2.1 ─s0─ 10.234.2.2 S
//                              A 10.233.0.1 ─sync0─ 10.233.0.2 B (sync receiver)
//
// A forwards C → 10.235.0.0/16 to S (which drops it) through a stateful nftables forward chain, so
// its kernel creates a conntrack entry per flow; the sync link itself is not tracked.
import type { ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncConf, type SyncLinkSpec } from '../lab/conntrackd.js';
import { linkVeth, nft } from '../lab/link.js';
import { Netns, sweepStale } from '../lab/netns.js';
import { controlRequest } from '../src/control/client.js';
import { CTL } from '../src/control/codes.js';
import { DAEMON_NODE_FLAGS } from '../src/daemon/node-flags.js';

export type System = 'conntrackd' | 'keepstate';

const KEEPSTATED = new URL('./keepstated.js', import.meta.url).pathname; // started with DAEMON_NODE_FLAGS, as bin/keepstated.js
const CLK_TCK = 100; // USER_HZ: /proc/PID/stat times are in 1/100 s on Linux

/** The dedicated link as each side sees it. */
export const LINK_A: SyncLinkSpec = { kind: 'udp', self: '10.233.0.1', peer: '10.233.0.2', device: 'sync0' };
export const LINK_B: SyncLinkSpec = { kind: 'udp', self: '10.233.0.2', peer: '10.233.0.1', device: 'sync0' };
/** FLOW_NET is the destination prefix of generated flows (routed by A to S). */
export const FLOW_NET = '10.235.0.0/16';

/**
 * ConfOptions vary the shared conntrackd.conf: the event socket buffer (`'default'` leaves
 * NetlinkBufferSize and NetlinkBufferSizeMaxGrowth out, so each system uses its own default) and
 * the cache sizes.
 */
export interface ConfOptions {
  readonly buffer: number | 'default';
  readonly maxGrowth?: number;
  readonly hashSize?: number;
  readonly hashLimit?: number;
  /** DisableExternalCache on (received entries go straight into B's kernel). */
  readonly inject?: boolean;
}

/** confText is lab/conntrackd.ts's FTFW config with the ConfOptions applied. */
export function confText(dir: string, link: SyncLinkSpec, o: ConfOptions): string {
  let t = syncConf(dir, link, '', o.buffer === 'default' ? 2097152 : o.buffer, o.inject === true ? 'FTFW {\n    DisableExternalCache on\n  }' : undefined);
  const edit = (re: RegExp, to: string): void => {
    if (!re.test(t)) throw new Error(`lab/conntrackd.ts syncConf changed: no ${re.source}`);
    t = t.replace(re, to);
  };
  if (o.buffer === 'default') edit(/^\s*NetlinkBufferSize \d+\n\s*NetlinkBufferSizeMaxGrowth \d+\n/m, '');
  else if (o.maxGrowth !== undefined) edit(/NetlinkBufferSizeMaxGrowth \d+/, `NetlinkBufferSizeMaxGrowth ${o.maxGrowth}`);
  if (o.hashSize !== undefined) edit(/HashSize \d+/, `HashSize ${o.hashSize}`);
  if (o.hashLimit !== undefined) edit(/HashLimit \d+/, `HashLimit ${o.hashLimit}`);
  return t;
}

/** Counts is what `-s` says about the two caches. */
export interface Counts {
  readonly internal: number;
  readonly external: number;
}

/** Runtime is what `-s runtime` says about the event socket. */
export interface Runtime {
  readonly overruns: number;
  readonly bufferBytes: number;
  readonly kernelResyncs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * hashSizeFor is the HashSize for caches that will hold `entries`: conntrackd's hash table has a
 * fixed number of buckets (its documentation: the bigger, the closer to O(1)), keepstated's tables
 * grow as needed; a power of two ≥ entries keeps conntrackd's chains at one entry or less on average.
 */
export const hashSizeFor = (entries: number): number => 2 ** Math.ceil(Math.log2(Math.max(entries, 8192)));

/**
 * Daemon is one running conntrackd or keepstated, in the foreground as a child of this process,
 * with its files (config, log, lock, control socket) in a temporary directory. Every query goes
 * through its control socket with the same client code for both systems.
 */
export class Daemon {
  private stopped = false;

  private constructor(
    readonly system: System,
    readonly dir: string,
    readonly ctl: string,
    private readonly child: ChildProcess,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(rig: Rig, system: System, ns: Netns, link: SyncLinkSpec, o: ConfOptions): Promise<Daemon> {
    const dir = mkdtempSync(join(tmpdir(), `ks-bench-${system}-`));
    rig.dirs.add(dir);
    const conf = join(dir, 'conntrackd.conf');
    writeFileSync(conf, confText(dir, link, o));
    // KS_PROF_DIR=dir: keepstated writes V8 CPU profiles there (one per thread) when it stops;
    // KS_NODE_FLAGS="…": node/V8 flags for keepstated (profiling, GC experiments);
    // KS_STDIO_DIR=dir: each keepstated's stdout and stderr go to a file of its own there (what
    // --trace-* flags print), instead of nowhere.
    const prof = [...(process.env.KS_PROF_DIR !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${process.env.KS_PROF_DIR}`] : []), ...(process.env.KS_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
    // KS_DAEMON_ARGS="…": more keepstated arguments (e.g. --no-warm-up for an A/B).
    const extra = process.env.KS_DAEMON_ARGS?.split(' ').filter(Boolean) ?? [];
    const argv = system === 'conntrackd' ? ['conntrackd', '-C', conf] : [process.execPath, ...DAEMON_NODE_FLAGS, ...prof, KEEPSTATED, '-C', conf, ...extra];
    const out = system === 'keepstate' && process.env.KS_STDIO_DIR !== undefined ? openSync(join(process.env.KS_STDIO_DIR, `keepstated-${process.hrtime.bigint()}.out`), 'w') : 'ignore';
    const child = ns.spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', out, out] });
    if (typeof out === 'number') closeSync(out);
    const d = new Daemon(system, dir, join(dir, 'ctl'), child);
    rig.daemons.add(d);
    const end = Date.now() + 30_000; // hang guard
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${system} exited at start: ${d.log().slice(-2000)}`);
      try {
        await d.request(CTL.STATS, 2000);
        return d;
      } catch {
        if (Date.now() > end) throw new Error(`${system} did not answer on its control socket: ${d.log().slice(-2000)}`);
        await sleep(50);
      }
    }
  }

  /** request sends one control request and resolves with the reply once the daemon closes the connection. */
  async request(code: number, timeoutMs = 600_000): Promise<string> {
    return (await controlRequest(this.ctl, code, { timeoutMs })).toString('utf8');
  }

  async counts(): Promise<Counts> {
    const s = await this.request(CTL.STATS, 60_000);
    const int = /cache internal:\ncurrent active connections:\s*(\d+)/.exec(s);
    const ext = /cache external:\ncurrent active connections:\s*(\d+)/.exec(s);
    if (int === null || ext === null) throw new Error(`${this.system}: unexpected -s reply: ${s.slice(0, 500)}`);
    return { internal: Number(int[1]), external: Number(ext[1]) };
  }

  async runtime(): Promise<Runtime> {
    const s = await this.request(CTL.STATS_RUNTIME, 60_000);
    const num = (re: RegExp): number => Number(re.exec(s)?.[1] ?? Number.NaN);
    return {
      overruns: num(/netlink overrun:\s*(\d+)/),
      bufferBytes: num(/current buffer size \(in bytes\):\s*(\d+)/),
      kernelResyncs: num(/resync with kernel table:\s*(\d+)/),
    };
  }

  /** waitExternal polls `-s` every `everyMs` until the external cache holds at least `n`; false past the deadline. */
  async waitExternal(n: number, deadline: number, everyMs = 20): Promise<boolean> {
    while ((await this.counts()).external < n) {
      if (Date.now() > deadline) return false;
      await sleep(everyMs);
    }
    return true;
  }

  /** cpuUs is the process's utime + stime (all threads) in µs. */
  cpuUs(): number {
    const { user, system } = this.cpuSplitUs();
    return user + system;
  }

  /** cpuSplitUs is the process's utime and stime (all threads) in µs, apart. */
  cpuSplitUs(): { user: number; system: number } {
    const f = readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { user: (Number(f[11]) * 1e6) / CLK_TCK, system: (Number(f[12]) * 1e6) / CLK_TCK }; // fields 14 and 15
  }

  /** policy is the process's scheduling policy and real-time priority, e.g. "SCHED_RR 99" (conntrackd's default). */
  policy(): string {
    const f = readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const name = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE'][Number(f[38])] ?? `policy ${f[38]}`;
    return Number(f[37]) > 0 ? `${name} ${f[37]}` : name; // fields 40 (rt_priority) and 41 (policy)
  }

  /** peakRssMiB is VmHWM, the process's peak resident set. */
  peakRssMiB(): number {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** stop: SIGTERM, SIGKILL after 10 s, then the files go. */
  async stop(rig: Rig): Promise<void> {
    // Twice is once (commitFigure stops the sender before the pair's own cleanup does): a second
    // call must not fail on the removed directory and leave the pair's other daemon running.
    if (this.stopped) return;
    this.stopped = true;
    const c = this.child;
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rig.daemons.delete(this);
    // KS_LOG_DIR=dir: each daemon's log is kept there when it stops (the rig's own directory goes).
    if (process.env.KS_LOG_DIR !== undefined && existsSync(join(this.dir, 'log'))) copyFileSync(join(this.dir, 'log'), join(process.env.KS_LOG_DIR, `${this.system}-${process.hrtime.bigint()}.log`));
    rmSync(this.dir, { recursive: true, force: true });
    rig.dirs.delete(this.dir);
  }

  /** kill is the synchronous last resort of Rig.close. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Rig owns the namespaces, daemons, temporary directories and changed global sysctls of one benchmark run. */
export class Rig {
  readonly daemons = new Set<Daemon>();
  readonly dirs = new Set<string>();
  private readonly sysctls = new Map<string, string>(); // /proc/sys path → value to restore
  private readonly namespaces: Netns[] = [];
  private closed = false;

  private constructor(
    readonly c: Netns,
    readonly a: Netns,
    readonly s: Netns,
    readonly b: Netns,
  ) {
    this.namespaces.push(c, a, s, b);
  }

  static create(): Rig {
    sweepStale();
    const made: Netns[] = [];
    try {
      for (const label of ['rpc', 'rpa', 'rps', 'rpb']) made.push(Netns.create(label));
      const [c, a, s, b] = made as [Netns, Netns, Netns, Netns];
      linkVeth({ ns: c, ifname: 'c0', cidr: '10.234.1.2/24' }, { ns: a, ifname: 'c0', cidr: '10.234.1.1/24' });
      linkVeth({ ns: a, ifname: 's0', cidr: '10.234.2.1/24' }, { ns: s, ifname: 's0', cidr: '10.234.2.2/24' });
      linkVeth({ ns: a, ifname: 'sync0', cidr: '10.233.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.233.0.2/24' });
      const mac = (ns: Netns, dev: string): string => ns.exec('cat', [`/sys/class/net/${dev}/address`]).trim();
      // Static neighbours: no ARP resolution (and no packet queued behind it) in the middle of a burst.
      c.exec('ip', ['route', 'add', 'default', 'via', '10.234.1.1']);
      c.exec('ip', ['neigh', 'replace', '10.234.1.1', 'lladdr', mac(a, 'c0'), 'dev', 'c0', 'nud', 'permanent']);
      a.exec('ip', ['route', 'add', FLOW_NET, 'via', '10.234.2.2']);
      a.exec('ip', ['neigh', 'replace', '10.234.2.2', 'lladdr', mac(s, 's0'), 'dev', 's0', 'nud', 'permanent']);
      a.sysctl('net.ipv4.ip_forward', 1);
      a.sysctl('net.netfilter.nf_conntrack_udp_timeout', 600); // generated flows outlive any run
      for (const ns of [a, b]) ns.sysctl('net.netfilter.nf_conntrack_events', 1);
      nft(
        a,
        `table inet ks_bench {
  chain raw_pre { type filter hook prerouting priority raw; iifname "sync0" notrack; }
  chain raw_out { type filter hook output priority raw; oifname "sync0" notrack; }
  chain filter_fwd {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "c0" oifname "s0" ct state new accept
  }
}
`,
      );
      nft(s, `table ip ks_bench {\n chain pre {\n  type filter hook prerouting priority 0; ip daddr ${FLOW_NET} drop\n }\n}\n`);
      return new Rig(c, a, s, b);
    } catch (e) {
      for (const ns of made) ns.close();
      throw e;
    }
  }

  /** closeOnSignal tears the rig down on Ctrl-C or SIGTERM, then exits 130/143. */
  closeOnSignal(): void {
    for (const [sig, status] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.once(sig, () => {
        process.stderr.write(`\n${sig}: tearing down\n`);
        this.close();
        process.exit(status);
      });
    }
  }

  /** setGlobalSysctl writes an init-namespace sysctl (e.g. net/netfilter/nf_conntrack_max) until close(). */
  setGlobalSysctl(key: string, value: number): void {
    const path = `/proc/sys/${key}`;
    if (!this.sysctls.has(path)) this.sysctls.set(path, readFileSync(path, 'utf8').trim());
    writeFileSync(path, `${value}\n`);
  }

  globalSysctl(key: string): number {
    return Number(readFileSync(`/proc/sys/${key}`, 'utf8').trim());
  }

  /** startPair starts the receiver (B) then the sender (A) of `system`, and lets the FTFW handshake settle. */
  async startPair(system: System, o: ConfOptions): Promise<{ sender: Daemon; receiver: Daemon }> {
    const receiver = await Daemon.start(this, system, this.b, LINK_B, o);
    const sender = await Daemon.start(this, system, this.a, LINK_A, o);
    // Both sides say HELLO for their first second; let that settle before measuring.
    await sleep(2500);
    return { sender, receiver };
  }

  /** flushTables empties A's and B's kernel tables (daemons are stopped between runs). */
  flushTables(): void {
    for (const ns of [this.a, this.b]) ns.exec('conntrack', ['-F']);
  }

  /** count is the number of entries in a namespace's kernel table. */
  count(ns: Netns): number {
    const out = ns.run('conntrack', ['-C']);
    return Number(out.stdout.trim());
  }

  /** txBytes is a device's transmitted bytes in a namespace. */
  txBytes(ns: Netns, dev: string): number {
    return Number(ns.exec('cat', [`/sys/class/net/${dev}/statistics/tx_bytes`]).trim());
  }

  /** worker runs a bench worker (a compiled bench/*.js) in a namespace; rejects on a non-zero exit. */
  worker(ns: Netns, script: string, args: readonly string[]): Promise<string> {
    const file = new URL(`./${script}`, import.meta.url).pathname;
    const child = ns.spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    return new Promise((resolve, reject) => {
      child.once('exit', (code, sig) => (code === 0 ? resolve(out) : reject(new Error(`${script} ${args.join(' ')}: exit ${code ?? sig}: ${err.slice(-1000)}`))));
    });
  }

  /** close kills every daemon and worker, deletes the namespaces and directories, restores the sysctls. Idempotent, synchronous. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.daemons) d.kill();
    for (const ns of this.namespaces) ns.close();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    for (const [path, value] of this.sysctls) {
      try {
        writeFileSync(path, `${value}\n`);
      } catch (e) {
        process.stderr.write(`could not restore ${path} to ${value}: ${String(e)}\n`);
      }
    }
  }
}
