// The comparison lab for `keepstate conntrack` against conntrack 1.4.7: a router namespace (whose
// table both tools read) linked to a client namespace, and a way to run either tool there with a
// private /etc that holds a connlabel.conf (an overlay in a throw-away mount namespace, so the
// host's /etc is never touched).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linkVeth, nft } from '../../lab/link.js';
import { Netns } from '../../lab/netns.js';

/** RunResult is one command's exit status and output. */
export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The wall clock (ms) around the run, when known: how far a timeout may have counted down. */
  readonly startMs?: number;
  readonly endMs?: number;
}

/** LABELS is the connlabel.conf the lab installs: bits 0, 1, 5 and 9 named. */
export const LABELS = '# keepstate test labels\n0 red\n1 green\n5 blue sky\n9\tdead-beef\n';

const here = dirname(fileURLToPath(import.meta.url));
/** distRoot is the compiled tree this file runs from (dist/ or dist-<name>/). */
const distRoot = join(here, '..', '..');
const repoRoot = join(distRoot, '..');

/**
 * keepstateCommand is how the tests start the CLI: bin/keepstate.js when this test runs from the
 * dist/ it imports, otherwise a launcher for the tree the test was compiled into (KEEPSTATE_BIN
 * overrides both).
 */
export function keepstateCommand(): string[] {
  const override = process.env['KEEPSTATE_BIN'];
  if (override !== undefined) return [process.execPath, override];
  if (join(repoRoot, 'dist') === distRoot) return [process.execPath, join(repoRoot, 'bin', 'keepstate.js')];
  const launcher = join(tmpdir(), `keepstate-launcher-${process.pid}.mjs`);
  if (!existsSync(launcher)) {
    const main = join(distRoot, 'src', 'cli', 'main.js');
    writeFileSync(launcher, `import { main } from ${JSON.stringify(main)};\nmain(process.argv.slice(2)).then((s) => process.exit(s));\n`);
    process.once('exit', () => rmSync(launcher, { force: true }));
  }
  return [process.execPath, launcher];
}

/**
 * NsRunner runs commands in a namespace with the private /etc overlay: unshare(1) makes a mount
 * namespace, mounts overlayfs over /etc there (our connlabel.conf on top), then `ip netns exec`.
 */
export class NsRunner {
  private readonly upper: string;
  private readonly work: string;
  constructor(
    readonly ns: Netns,
    private readonly scratch: string,
    private readonly labels: string | undefined,
  ) {
    mkdirSync(scratch, { recursive: true });
    this.upper = join(scratch, 'upper');
    this.work = join(scratch, 'work');
    mkdirSync(join(this.upper, 'xtables'), { recursive: true });
    mkdirSync(this.work, { recursive: true });
    if (labels !== undefined) writeFileSync(join(this.upper, 'xtables', 'connlabel.conf'), labels);
  }

  /** run executes argv in the namespace; it never throws for a non-zero exit. */
  run(argv: readonly string[], input?: string): RunResult {
    const script = `mount --make-rprivate / && mount -t overlay overlay -o lowerdir=/etc,upperdir=${this.upper},workdir=${this.work} /etc && exec ip netns exec ${this.ns.name} "$@"`;
    const startMs = Date.now();
    const r = spawnSync('unshare', ['-m', 'sh', '-c', script, 'sh', ...argv], {
      encoding: 'utf8',
      input: input ?? '',
      maxBuffer: 512 * 1024 * 1024,
      env: { ...process.env, TZ: process.env['TZ'] ?? 'UTC' },
    });
    return { status: r.status ?? 128 + 9, stdout: r.stdout, stderr: r.stderr, startMs, endMs: Date.now() };
  }

  /**
   * spawn starts argv in the namespace (with the private /etc) and collects its output. Each
   * long-running command gets its own overlay directories: overlayfs refuses an upper or work
   * directory that another live mount uses.
   */
  spawn(argv: readonly string[]): Running {
    const dir = mkdtempSync(join(this.scratch, 'spawn-'));
    const upper = join(dir, 'upper');
    const work = join(dir, 'work');
    mkdirSync(join(upper, 'xtables'), { recursive: true });
    mkdirSync(work);
    if (this.labels !== undefined) writeFileSync(join(upper, 'xtables', 'connlabel.conf'), this.labels);
    const script = `mount --make-rprivate / && mount -t overlay overlay -o lowerdir=/etc,upperdir=${upper},workdir=${work} /etc && exec ip netns exec ${this.ns.name} "$@"`;
    const child = spawn('unshare', ['-m', 'sh', '-c', script, 'sh', ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: process.env['TZ'] ?? 'UTC' } });
    return new Running(child);
  }

  conntrack(args: readonly string[], input?: string): RunResult {
    return this.run(['conntrack', ...args], input);
  }

  keepstate(args: readonly string[], input?: string): RunResult {
    return this.run([...keepstateCommand(), 'conntrack', ...args], input);
  }

  /** both runs the same arguments through conntrack, then keepstate. */
  both(args: readonly string[], input?: string): { ct: RunResult; ks: RunResult } {
    const ct = this.conntrack(args, input);
    const ks = this.keepstate(args, input);
    return { ct, ks };
  }
}

/** normalizeStderr maps keepstate's identity in messages back to conntrack's, for comparison. */
export function normalizeStderr(s: string): string {
  return s.replace(/\(keepstate [^)]*\)/g, '(conntrack-tools)').replace(/keepstate conntrack/g, 'conntrack');
}

/** Lab is the router (table under test) and client namespaces with traffic helpers. */
export class Lab {
  readonly router: Netns;
  readonly client: Netns;
  readonly runner: NsRunner;
  private readonly scratch: string;
  private readonly procs: ChildProcess[] = [];

  private constructor(label: string, labels: string | undefined) {
    this.scratch = mkdtempSync(join(tmpdir(), 'ks-cli-lab-'));
    this.router = Netns.create(`${label}r`);
    try {
      this.client = Netns.create(`${label}c`);
    } catch (e) {
      this.router.close();
      throw e;
    }
    // A process in each namespace keeps a concurrent sweepStale() (lab/netns.ts) from deleting it.
    this.router.spawn('sleep', ['infinity'], { stdio: 'ignore' });
    this.client.spawn('sleep', ['infinity'], { stdio: 'ignore' });
    this.runner = new NsRunner(this.router, this.scratch, labels);
  }

  /** create makes both namespaces and links them: router 10.9.0.1 / fd09::1, client 10.9.0.2 / fd09::2. */
  static create(label: string, opts: { labels?: string; acct?: boolean; timestamps?: boolean } = {}): Lab {
    const lab = new Lab(label, opts.labels);
    try {
      linkVeth({ ns: lab.router, ifname: 'r0', cidr: '10.9.0.1/24' }, { ns: lab.client, ifname: 'c0', cidr: '10.9.0.2/24' });
      lab.router.exec('ip', ['addr', 'add', 'fd09::1/64', 'dev', 'r0', 'nodad']);
      lab.client.exec('ip', ['addr', 'add', 'fd09::2/64', 'dev', 'c0', 'nodad']);
      // Touch conntrack so the per-netns sysctls exist, then set them.
      lab.runner.conntrack(['-F']);
      if (opts.acct === true) lab.router.sysctl('net.netfilter.nf_conntrack_acct', 1);
      if (opts.timestamps === true) lab.router.sysctl('net.netfilter.nf_conntrack_timestamp', 1);
    } catch (e) {
      lab.close();
      throw e;
    }
    return lab;
  }

  /** nft loads a ruleset into the router. */
  nft(ruleset: string): void {
    nft(this.router, ruleset);
  }

  /** spawn starts a long-running node script in a namespace and resolves once it prints "ready". */
  async spawnNode(ns: Netns, code: string): Promise<ChildProcess> {
    const child = ns.spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(child);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`node script did not get ready: ${err}`)), 15_000);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`node script exited (${code}) before ready: ${err}`));
      });
    });
    return child;
  }

  /** runNode runs a short node script in a namespace to completion. */
  runNode(ns: Netns, code: string): void {
    ns.exec(process.execPath, ['-e', code]);
  }

  close(): void {
    for (const p of this.procs) {
      if (p.pid !== undefined && p.exitCode === null) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    this.client?.close();
    this.router.close();
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

/** havePython tells whether /usr/bin/python3 can send ICMP echo requests for the lab. */
export function havePython(): boolean {
  return existsSync('/usr/bin/python3');
}

/** pingScript is a python program sending one ICMP (v4) or ICMPv6 echo request to `dst` and waiting briefly for the reply. */
export function pingScript(dst: string, v6: boolean, id: number): string {
  return [
    'import socket, struct, select',
    `v6 = ${v6 ? 'True' : 'False'}`,
    'fam = socket.AF_INET6 if v6 else socket.AF_INET',
    'proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP',
    's = socket.socket(fam, socket.SOCK_RAW, proto)',
    'typ = 128 if v6 else 8',
    `hdr = struct.pack('!BBHHH', typ, 0, 0, ${id}, 1)`,
    "data = b'keepstate'",
    'def csum(b):',
    "    if len(b) % 2: b += b'\\0'",
    "    t = sum(struct.unpack('!%dH' % (len(b)//2), b))",
    '    t = (t >> 16) + (t & 0xffff); t += t >> 16',
    '    return ~t & 0xffff',
    `pkt = hdr + data if v6 else struct.pack('!BBHHH', typ, 0, csum(hdr + data), ${id}, 1) + data`,
    `s.sendto(pkt, ('${dst}', 0))`,
    'select.select([s], [], [], 2)',
  ].join('\n');
}

/**
 * Pair is two fresh namespaces for commands that change the table: conntrack runs in one,
 * keepstate in the other, step by step, so each tool sees the state its own earlier steps left.
 */
export class Pair {
  readonly ct: NsRunner;
  readonly ks: NsRunner;
  private readonly nsA: Netns;
  private readonly nsB: Netns;
  private readonly scratch: string;

  constructor(label: string, labels: string | undefined = LABELS) {
    this.scratch = mkdtempSync(join(tmpdir(), 'ks-cli-pair-'));
    this.nsA = Netns.create(`${label}a`);
    try {
      this.nsB = Netns.create(`${label}b`);
    } catch (e) {
      this.nsA.close();
      throw e;
    }
    // A process in each namespace keeps a concurrent sweepStale() (lab/netns.ts) from deleting it.
    this.nsA.spawn('sleep', ['infinity'], { stdio: 'ignore' });
    this.nsB.spawn('sleep', ['infinity'], { stdio: 'ignore' });
    this.ct = new NsRunner(this.nsA, join(this.scratch, 'a'), labels);
    this.ks = new NsRunner(this.nsB, join(this.scratch, 'b'), labels);
  }

  /** step runs the same arguments with each tool in its own namespace. */
  step(args: readonly string[], input?: string): { ct: RunResult; ks: RunResult } {
    return { ct: this.ct.conntrack(args, input), ks: this.ks.keepstate(args, input) };
  }

  /** setup runs a command with the real conntrack in both namespaces (the same starting state for both). */
  setup(args: readonly string[]): void {
    this.ct.conntrack(args);
    this.ks.conntrack(args);
  }

  close(): void {
    this.nsA.close();
    this.nsB.close();
    rmSync(this.scratch, { recursive: true, force: true });
  }
}

/**
 * Normalised when comparing: only the numbers that legitimately move between two runs a second or
 * so apart — the remaining timeout (counts down) and delta-time/<deltatime> (wall clock minus the
 * start). They are cut out of the text, which must then be identical, and each pair may differ by
 * the whole seconds that passed from the first run's start to the second's end, plus one for the
 * kernel's rounding (2 when the runs carry no times).
 */
const MOVING: readonly RegExp[] = [
  /^((?:ipv[46] +\d+ )?\S+ +\d+ )(\d+)/gm, // default/extended: the timeout after "proto num "
  /(delta-time=)(\d+)/g,
  /(<timeout>)(\d+)/g,
  /(<deltatime>)(\d+)/g,
  /^(-[ADU] -t )(\d+)/gm, // -o save (-A new, -U update, -D destroy)
  /^( *(?:\[\w+\] )?)(\d+)(?= proto=)/gm, // expectations: the timeout first
];

/** split cuts the moving numbers out of a listing: the rest, and the numbers in order. */
function split(text: string): { rest: string; nums: number[] } {
  const nums: { at: number; v: number }[] = [];
  let rest = text;
  for (const re of MOVING) {
    rest = rest.replace(re, (_m, pre: string, num: string, offset: number) => {
      nums.push({ at: offset, v: Number(num) });
      return `${pre}#`;
    });
  }
  return { rest, nums: nums.sort((a, b) => a.at - b.at).map((n) => n.v) };
}

/** assertSame compares one pair of runs: status, stderr (modulo the program's identity) and stdout. */
export function assertSame(args: readonly string[], ct: RunResult, ks: RunResult, opts: { sortLines?: boolean; ignoreIds?: boolean } = {}): void {
  const what = `conntrack ${args.join(' ')}`;
  // Entry ids are random per entry: equal only when both tools read the same table.
  const ids = (t: string): string => (opts.ignoreIds === true ? t.replace(/\bid=\d+/g, 'id=#').replace(/<id>\d+<\/id>/g, '<id>#</id>') : t);
  // Sorted by the line with its moving numbers masked: a ticking timeout must not reorder lines.
  const key = (line: string): string => split(line).rest;
  const sort = (t: string): string =>
    opts.sortLines === true
      ? ids(t)
          .split('\n')
          .map((line) => [key(line), line] as const)
          .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
          .map(([, line]) => line)
          .join('\n')
      : ids(t);
  const a = split(sort(ct.stdout));
  const b = split(sort(ks.stdout));
  assert.equal(b.rest, a.rest, `${what}: stdout`);
  assert.equal(normalizeStderr(ks.stderr), ct.stderr, `${what}: stderr`);
  assert.equal(ks.status, ct.status, `${what}: exit status`);
  assert.equal(b.nums.length, a.nums.length, `${what}: moving numbers`);
  const first = Math.min(ct.startMs ?? Infinity, ks.startMs ?? Infinity);
  const last = Math.max(ct.endMs ?? -Infinity, ks.endMs ?? -Infinity);
  const slack = Number.isFinite(first) && Number.isFinite(last) ? Math.ceil((last - first) / 1000) + 1 : 2;
  a.nums.forEach((n, i) => assert.ok(Math.abs(n - b.nums[i]!) <= slack, `${what}: ${n} vs ${b.nums[i]} (timeout/delta-time, ${slack} s allowed)`));
}


/** Running is a spawned command whose output accumulates; `stop` sends SIGTERM and waits for the exit. */
export class Running {
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number>;
  constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // 'close' (not 'exit'): it comes after the output pipes are drained.
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))));
  }
  /** waitFor polls until `pred` holds on stdout, or fails after `ms`. */
  async waitFor(pred: (out: string) => boolean, ms = 10_000): Promise<void> {
    const until = Date.now() + ms;
    while (!pred(this.stdout)) {
      if (Date.now() > until) throw new Error(`timed out waiting; stdout so far:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async stop(): Promise<RunResult> {
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill('SIGTERM');
    const status = await this.exited;
    return { status, stdout: this.stdout, stderr: this.stderr };
  }
  kill(): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill('SIGKILL');
  }
}
