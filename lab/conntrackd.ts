import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Netns } from './netns.js';

/** SyncLinkSpec describes one node's end of an FTFW dedicated link. */
export interface SyncLinkSpec {
  readonly kind: 'udp' | 'multicast' | 'tcp';
  readonly self: string; // this node's address on the link
  readonly peer: string; // the other node's address (UDP)
  readonly device: string;
  readonly group?: string; // multicast group (default 225.0.0.50)
  readonly port?: number; // UDP/TCP port / multicast Group (default 3780)
}

/**
 * syncConf writes a conntrackd.conf for a sync node (FTFW unless `mode` says otherwise) whose files (log, lock, control socket) live
 * in `dir`, so that several daemons can run side by side in namespaces: the UNIX socket path is in
 * the filesystem, which namespaces do not isolate.
 */
export function syncConf(dir: string, link: SyncLinkSpec, extra = '', netlinkBufferSize = 2097152, mode = 'FTFW { }'): string {
  const port = link.port ?? 3780;
  const channel =
    link.kind === 'udp' || link.kind === 'tcp'
      ? `${link.kind === 'udp' ? 'UDP' : 'TCP'} {\n    IPv4_address ${link.self}\n    IPv4_Destination_Address ${link.peer}\n    Port ${port}\n    Interface ${link.device}\n  }`
      : `Multicast {\n    IPv4_address ${link.group ?? '225.0.0.50'}\n    Group ${port}\n    IPv4_interface ${link.self}\n    Interface ${link.device}\n  }`;
  return `General {
  HashSize 8192
  HashLimit 262144
  LogFile ${dir}/log
  LockFile ${dir}/lock
  UNIX { Path ${dir}/ctl }
  NetlinkBufferSize ${netlinkBufferSize}
  NetlinkBufferSizeMaxGrowth ${Math.max(16777216, 2 * netlinkBufferSize)}
}
Sync {
  Mode ${mode}
  ${channel}
  ${extra}
}
`;
}

/**
 * Conntrackd is a real conntrackd 1.4.7 running in a namespace this process created, with its
 * files in a temporary directory; `stop` ends exactly the process it started (by pid).
 */
export class Conntrackd {
  readonly dir: string;
  readonly conf: string;
  private child: ChildProcess | undefined;

  constructor(
    private readonly ns: Netns,
    link: SyncLinkSpec,
    extra = '',
    netlinkBufferSize?: number,
    mode?: string, // the Mode block after `Mode` (default `FTFW { }`), e.g. `NOTRACK { }`
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'ks-ctd-'));
    this.conf = join(this.dir, 'conntrackd.conf');
    writeFileSync(this.conf, syncConf(this.dir, link, extra, netlinkBufferSize, mode));
  }

  /** pid of the running daemon (for CPU accounting), if started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** installed tells whether conntrackd 1.4.7 is on this machine (scripts/setup.sh installs it). */
  static installed(): boolean {
    return spawnSync('conntrackd', ['-v'], { encoding: 'utf8' }).stdout?.includes('v1.4.7') === true;
  }

  /** start runs the daemon in the foreground (as a child) and waits until its control socket answers. */
  async start(): Promise<void> {
    this.child = this.ns.spawn('conntrackd', ['-C', this.conf], { stdio: 'ignore' });
    const end = Date.now() + 20_000; // hang guard
    while (this.run('-s').status !== 0) {
      if (Date.now() > end) throw new Error(`conntrackd did not start in ${this.ns.name}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** run sends a client request (`-e`, `-c`, `-n`, …) to this daemon. */
  run(...args: string[]): { status: number; stdout: string; stderr: string } {
    return this.ns.run('conntrackd', ['-C', this.conf, ...args]);
  }

  /** externalLines lists `-e` lines containing `needle`. */
  externalLines(needle: string): string[] {
    return this.run('-e').stdout.split('\n').filter((l) => l.includes(needle));
  }

  /** stop ends the daemon (SIGTERM, then SIGKILL) and, unless `keepFiles`, removes its files (restart keeps them). */
  async stop(keepFiles = false): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    if (!keepFiles) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** dropRandomly installs an nftables rule in `ns` that drops `percent` % of the link's incoming datagrams on `port`. */
export function dropRandomly(ns: Netns, percent: number, port = 3780): void {
  // numgen random mod 100 < percent: each datagram independently, no sch_netem needed.
  ns.exec('nft', ['-f', '-'], `table inet ks_loss {\n chain in {\n  type filter hook input priority -300;\n  udp dport ${port} numgen random mod 100 < ${percent} drop\n }\n}\n`);
}

/** stopDropping removes that rule. */
export function stopDropping(ns: Netns): void {
  ns.run('nft', ['delete', 'table', 'inet', 'ks_loss']);
}
