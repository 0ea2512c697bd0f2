import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';

/**
 * Traffic drives lab/traffic-peer.js: an echo server in one namespace and, in another, a client
 * with idle and sending TCP connections, read through the peer's line protocol (see that file).
 */

const PEER = new URL('./traffic-peer.js', import.meta.url).pathname;

/** ConnStat is one connection's counters from a `stats` request. */
export interface ConnStat {
  readonly id: number;
  readonly kind: 'idle' | 'send';
  readonly sent: number;
  readonly echoed: number;
  readonly maxGapMs: number;
  readonly bad: number;
}

/** TrafficOptions: how many connections of each kind, the sending interval and the server's address. */
export interface TrafficOptions {
  readonly idle: number;
  readonly sending: number;
  readonly intervalMs?: number; // default 10
  readonly serverAddr: string;
  readonly port?: number; // default 8080
}

export class Traffic {
  private out = '';
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly server: ChildProcess,
    private readonly client: ChildProcess,
    readonly opts: TrafficOptions,
  ) {
    client.stdout!.setEncoding('utf8');
    client.stdout!.on('data', (d: string) => {
      this.out += d;
      for (const w of this.waiters) w();
    });
    client.stderr!.on('data', (d: Buffer) => (this.out += `stderr ${d.toString()}`));
  }

  /**
   * start runs the server in `serverNs`, then the client in `clientNs`, and waits until every
   * connection is up; `progress`, if given, hears how many are up whenever that changes.
   */
  static async start(serverNs: Netns, clientNs: Netns, opts: TrafficOptions, hangMs = 60_000, progress?: (up: number, total: number) => void): Promise<Traffic> {
    const port = String(opts.port ?? 8080);
    const server = serverNs.spawn(process.execPath, [PEER, 'server', opts.serverAddr, port], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('traffic server never listened')), hangMs);
      server.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) {
          clearTimeout(t);
          resolve();
        }
      });
      server.once('exit', (code) => reject(new Error(`traffic server exited ${code}`)));
    });
    const client = clientNs.spawn(process.execPath, [PEER, 'client', opts.serverAddr, port, String(opts.idle), String(opts.sending), String(opts.intervalMs ?? 10)]);
    const t = new Traffic(server, client, opts);
    let up = 0;
    await t.waitFor(
      'every connection up',
      () => {
        const now = t.localPorts().size;
        if (now !== up) progress?.((up = now), t.total);
        return /^ready$/m.test(t.out);
      },
      hangMs,
    );
    return t;
  }

  /** output is everything the client printed. */
  get output(): string {
    return this.out;
  }

  /** total connections. */
  get total(): number {
    return this.opts.idle + this.opts.sending;
  }

  /** localPorts maps connection id → the client's port. */
  localPorts(): Map<number, number> {
    return new Map([...this.out.matchAll(/^conn (\d+) \w+ (\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]));
  }

  /** failures lists the connections' errors and closes ("err 3 ECONNRESET", "close 3"). */
  failures(): string[] {
    return [...this.out.matchAll(/^(err \d+ \S+|close \d+)$/gm)].map((m) => m[1]!);
  }

  /** resets counts connections that saw ECONNRESET. */
  resets(): number {
    return new Set([...this.out.matchAll(/^err (\d+) ECONNRESET$/gm)].map((m) => m[1])).size;
  }

  /** mark records the instant LABEL in the client and returns its wall-clock time (ms since the epoch). */
  async mark(label: string): Promise<number> {
    this.send(`mark ${label}`);
    const re = new RegExp(`^marked ${label} ([\\d.]+)$`, 'm');
    await this.waitFor(`marked ${label}`, () => re.test(this.out));
    return Number(re.exec(this.out)![1]);
  }

  /**
   * flowing waits until every sending connection in `expect` has at most `outstanding` lines
   * without an echo (traffic is flowing again after an earlier round); false past `hangMs`.
   */
  async flowing(expect: ReadonlySet<number>, hangMs: number, outstanding = 3): Promise<boolean> {
    const end = Date.now() + hangMs;
    for (;;) {
      const st = await this.stats();
      if (st.filter((c) => expect.has(c.id)).every((c) => c.sent - c.echoed <= outstanding)) return true;
      if (Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** firsts maps sending connection id → ms from LABEL's mark to its first echo of a line sent after it. */
  firsts(label: string): Map<number, number> {
    const re = new RegExp(`^first ${label} (\\d+) ([\\d.]+)$`, 'gm');
    return new Map([...this.out.matchAll(re)].map((m) => [Number(m[1]), Number(m[2])]));
  }

  /**
   * waitFirsts waits until every sending connection in `expect` has echoed after LABEL's mark
   * (hang guard `hangMs`: connections lost in an earlier round are not waited for).
   */
  async waitFirsts(label: string, expect: ReadonlySet<number>, hangMs: number): Promise<Map<number, number>> {
    const done = (): boolean => [...expect].every((id) => this.firsts(label).has(id));
    await this.waitFor(`the first echo after ${label} on every sending connection`, done, hangMs, false);
    return this.firsts(label);
  }

  /** probe writes LABEL on every idle connection and returns the ids whose echo came back before all of `expect` did or `hangMs` passed. */
  async probe(label: string, expect: ReadonlySet<number>, hangMs: number): Promise<Set<number>> {
    this.send(`probe ${label}`);
    const got = (): Set<number> => new Set([...this.out.matchAll(new RegExp(`^probed ${label} (\\d+)$`, 'gm'))].map((m) => Number(m[1])));
    await this.waitFor(`probe ${label}`, () => [...expect].every((id) => got().has(id)), hangMs, false);
    return got();
  }

  /** ids lists the connection ids of one kind. */
  ids(kind: 'idle' | 'send'): Set<number> {
    const from = kind === 'idle' ? 0 : this.opts.idle;
    const n = kind === 'idle' ? this.opts.idle : this.opts.sending;
    return new Set(Array.from({ length: n }, (_, i) => from + i));
  }

  /** stats asks the client for every connection's counters. */
  async stats(): Promise<ConnStat[]> {
    const from = this.out.length;
    this.send('stats');
    await this.waitFor('stats', () => this.out.indexOf('stats end\n', from) >= 0);
    const part = this.out.slice(from, this.out.indexOf('stats end\n', from));
    return [...part.matchAll(/^stat (\d+) (idle|send) sent (\d+) echoed (\d+) maxgap ([\d.]+) bad (\d+)$/gm)].map((m) => ({
      id: Number(m[1]),
      kind: m[2] as 'idle' | 'send',
      sent: Number(m[3]),
      echoed: Number(m[4]),
      maxGapMs: Number(m[5]),
      bad: Number(m[6]),
    }));
  }

  /** stop ends both peers (by pid). */
  stop(): void {
    this.client.stdin?.end();
    for (const c of [this.client, this.server]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  private send(line: string): void {
    this.client.stdin!.write(`${line}\n`);
  }

  /**
   * waitFor resolves when `cond` holds. Past `hangMs` (a hang guard, not a timing bound) it throws,
   * or with `orThrow` false just returns, leaving the caller to report what it has.
   */
  private async waitFor(what: string, cond: () => boolean, hangMs = 30_000, orThrow = true): Promise<void> {
    const end = Date.now() + hangMs;
    while (!cond()) {
      if (Date.now() > end) {
        if (orThrow) throw new Error(`traffic: ${what} never happened\n${this.out.slice(-4000)}`);
        return;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 200);
        function done(): void {
          clearTimeout(t);
          waiters.delete(done);
          resolve();
        }
        const waiters = this.waiters;
        waiters.add(done);
      });
    }
  }
}
