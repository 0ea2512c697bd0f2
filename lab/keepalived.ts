import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Netns } from './netns.js';

/**
 * The real keepalived (Debian's 2.2.7, installed by scripts/setup.sh) in a namespace this process
 * created, with its configuration and pid files in a temporary directory so it never meets the
 * host's keepalived, and conntrack-tools' stock primary-backup.sh as its notify script.
 */

/** PRIMARY_BACKUP_EXAMPLE is where Debian's conntrackd package puts conntrack-tools' failover script. */
export const PRIMARY_BACKUP_EXAMPLE = '/usr/share/doc/conntrackd/examples/sync/primary-backup.sh';

/** PrimaryBackupPaths are the only three things the copy changes: the daemon binary, its config and its lock file. */
export interface PrimaryBackupPaths {
  readonly bin: string;
  readonly config: string;
  readonly lock: string;
}

/**
 * installPrimaryBackup copies the stock primary-backup.sh into `dir`, changing with sed only its
 * CONNTRACKD_BIN, CONNTRACKD_CONFIG and CONNTRACKD_LOCK assignments, and returns the copy's path.
 * The script is GPL code from the package: it is copied at run time, never kept in the tree.
 */
export function installPrimaryBackup(dir: string, paths: PrimaryBackupPaths, source = PRIMARY_BACKUP_EXAMPLE): string {
  for (const p of Object.values(paths)) if (/[\s|&\\]/.test(p)) throw new Error(`path unusable in primary-backup.sh: ${p}`);
  const out = join(dir, 'primary-backup.sh');
  const text = execFileSync(
    'sed',
    ['-e', `s|^CONNTRACKD_BIN=.*|CONNTRACKD_BIN=${paths.bin}|`, '-e', `s|^CONNTRACKD_CONFIG=.*|CONNTRACKD_CONFIG=${paths.config}|`, '-e', `s|^CONNTRACKD_LOCK=.*|CONNTRACKD_LOCK=${paths.lock}|`, source],
    { encoding: 'utf8' },
  );
  writeFileSync(out, text);
  chmodSync(out, 0o755);
  return out;
}

/** VrrpInstance is one vrrp_instance: its interface, router id and virtual address (with prefix). */
export interface VrrpInstance {
  readonly name: string;
  readonly iface: string;
  readonly vrid: number;
  readonly vip: string; // e.g. "192.168.77.100/24" or "fd77::100/64"
}

/** KeepalivedSpec is one node's keepalived.conf: all instances in one sync group whose transitions run `notify`. */
export interface KeepalivedSpec {
  readonly routerId: string;
  readonly priority: number;
  readonly instances: readonly VrrpInstance[];
  /** notify is the script run as `notify primary|backup|fault` (primary-backup.sh's arguments). */
  readonly notify: string;
  /** advert_int, seconds (fractions with VRRPv3). */
  readonly advertSec?: number;
  /** VRRP version of every instance (keepalived's default: 2 for IPv4, 3 for IPv6). */
  readonly version?: 2 | 3;
}

/**
 * keepalivedConf writes the configuration conntrack-tools' example keepalived.conf describes: a
 * vrrp_sync_group (keepalived 2.x drops a group of one instance, so give it two) whose
 * notify_master/backup/fault call primary-backup.sh. Both nodes start as BACKUP; the higher
 * priority wins and preempts. Scripts run as root (script_user), with keepalived's script security.
 */
export function keepalivedConf(s: KeepalivedSpec): string {
  const inst = s.instances
    .map(
      (i) => `vrrp_instance ${i.name} {
  state BACKUP
  interface ${i.iface}
  virtual_router_id ${i.vrid}
  priority ${s.priority}
  advert_int ${s.advertSec ?? 1}
${s.version !== undefined ? `  version ${s.version}\n` : ''}  virtual_ipaddress {
    ${i.vip} dev ${i.iface}
  }
}
`,
    )
    .join('');
  return `global_defs {
  router_id ${s.routerId}
  script_user root
  enable_script_security
}
vrrp_sync_group G1 {
  group {
${s.instances.map((i) => `    ${i.name}\n`).join('')}  }
  notify_master "${s.notify} primary"
  notify_backup "${s.notify} backup"
  notify_fault "${s.notify} fault"
}
${inst}`;
}

/**
 * Keepalived runs keepalived in the foreground (-n), VRRP only (-P), logging to the console (-l -D,
 * no syslog -G) where `output` collects it, with its pid files (-p, -r) in its own directory.
 */
export class Keepalived {
  readonly dir: string;
  readonly conf: string;
  private child: ChildProcess | undefined;
  private out = '';

  constructor(
    private readonly ns: Netns,
    spec: KeepalivedSpec,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'ks-kad-'));
    this.conf = join(this.dir, 'keepalived.conf');
    this.configure(spec);
  }

  /** configure rewrites the configuration (read at the next start). */
  configure(spec: KeepalivedSpec): void {
    writeFileSync(this.conf, keepalivedConf(spec));
  }

  /** version is the installed keepalived's version ("2.2.7"), undefined when there is none. */
  static version(): string | undefined {
    const r = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
    return /Keepalived v(\d+\.\d+\.\d+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1];
  }

  /** output is what keepalived has logged so far. */
  get output(): string {
    return this.out;
  }

  /** pid of keepalived's parent process (ip netns exec execs it), if started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const args = ['-n', '-P', '-l', '-D', '-G', '-f', this.conf, '-p', join(this.dir, 'keepalived.pid'), '-r', join(this.dir, 'vrrp.pid')];
    this.child = this.ns.spawn('keepalived', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (b: Buffer): void => void (this.out += b.toString());
    this.child.stdout?.on('data', take);
    this.child.stderr?.on('data', take);
  }

  /** waitFor resolves once `re` has matched `count` times in the output (throws after `hangMs`). */
  async waitFor(re: RegExp, count = 1, hangMs = 30_000): Promise<void> {
    const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
    const end = Date.now() + hangMs;
    while ((this.out.match(g) ?? []).length < count) {
      if (Date.now() > end) throw new Error(`keepalived in ${this.ns.name} never logged ${re} ×${count}:\n${this.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * stop ends keepalived by pid: SIGTERM (it removes its VIPs and tells the peer), SIGKILL after
   * 5 s; then its VRRP child, by the pid in its pid file, should it still run. Removes the directory.
   */
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    const vrrpPidFile = join(this.dir, 'vrrp.pid');
    const vrrpPid = existsSync(vrrpPidFile) ? Number(readFileSync(vrrpPidFile, 'utf8').trim()) : NaN;
    if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    if (Number.isInteger(vrrpPid) && vrrpPid > 0 && pidsIn(this.ns).includes(vrrpPid)) process.kill(vrrpPid, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * killProcessesIn kills (SIGKILL, by pid) every process left in a namespace this process created —
 * daemons started detached inside it (keepstated -d, one a notify script started) and helpers —
 * so that a failed test leaves nothing running before the namespace is deleted.
 */
export function killProcessesIn(ns: Netns): void {
  for (const pid of pidsIn(ns)) {
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * tearDownPair ends a keepstated + keepalived interop pair, also after a failed test: keepalived
 * stopped, keepstated asked to stop (`stopKeepstated`, when it was set up), whatever is left in the
 * namespaces killed, the namespaces deleted, the temporary directory removed.
 */
export async function tearDownPair(p: { readonly ka: Keepalived | undefined; readonly stopKeepstated: (() => void) | undefined; readonly namespaces: readonly (Netns | undefined)[]; readonly dir: string | undefined }): Promise<void> {
  await p.ka?.stop();
  p.stopKeepstated?.();
  for (const ns of p.namespaces) {
    if (ns === undefined) continue;
    killProcessesIn(ns);
    ns.close();
  }
  if (p.dir !== undefined) rmSync(p.dir, { recursive: true, force: true });
}

/** pidsIn lists the processes whose network namespace is `ns` (`ip netns pids`). */
export function pidsIn(ns: Netns): number[] {
  let text: string;
  try {
    text = execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' });
  } catch {
    return []; // the namespace is gone
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}
