import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DAEMON_NODE_FLAGS } from '../src/daemon/node-flags.js';
import { Conntrackd, syncConf, type SyncLinkSpec } from './conntrackd.js';
import { installPrimaryBackup, Keepalived, keepalivedConf, type KeepalivedSpec } from './keepalived.js';
import type { FirewallSpec, Lab } from './topology.js';

/**
 * A failover cluster on a Lab's firewalls, one of two systems run in the same harness:
 *   keepstated   keepstated on each firewall with `--keepalived keepalived.conf` (its own failover
 *                manager: commit, then VIPs, then gratuitous ARP, in one process);
 *   incumbent    keepalived 2.2.7 + conntrackd 1.4.7 with conntrack-tools' stock primary-backup.sh
 *                as the sync group's notify script — the control.
 * Both replicate with FTFW over the topology's sync link (UDP, or multicast with three nodes) and
 * read the same keepalived.conf text (one sync group of the LAN and WAN instances).
 */
export interface Cluster {
  readonly system: 'keepstated' | 'incumbent';
  /** start starts the firewalls in priority order, each once the one before is settled. */
  start(hangMs?: number): Promise<void>;
  /** killHard SIGKILLs every daemon of `node` (and waits until they are gone). */
  killHard(node: string): Promise<void>;
  /** restart starts `node`'s daemons again after killHard, as a reboot would (stale lock removed). */
  restart(node: string): Promise<void>;
  /** externalCount is how many entries `node`'s external cache holds (`-e`). */
  externalCount(node: string): number;
  /** vrrpLog is what `node`'s VRRP side logged (keepstated's log or keepalived's output). */
  vrrpLog(node: string): string;
  /** logs is every daemon log, for a failure message: the last `tail` characters of each (default 6 000; Infinity: whole). */
  logs(tail?: number): string;
  stop(): Promise<void>;
}

const LAUNCHER = new URL('./keepstated-main.js', import.meta.url).pathname;
const BACKUP = /\(VI_LAN\) Entering BACKUP STATE/;

function syncLink(lab: Lab, fw: FirewallSpec): SyncLinkSpec {
  const s = lab.spec.cluster.sync;
  const peer = lab.spec.cluster.firewalls.find((f) => f.node !== fw.node)!;
  return { kind: s.kind, self: fw.syncAddr, peer: peer.syncAddr, device: s.device, ...(s.group !== undefined ? { group: s.group } : {}) };
}

function kaSpec(lab: Lab, fw: FirewallSpec, notify: string, advertSec: number, version?: 2 | 3): KeepalivedSpec {
  return {
    routerId: fw.node,
    priority: fw.priority,
    advertSec,
    ...(version !== undefined ? { version } : {}),
    notify,
    instances: lab.spec.cluster.vrrp.map((v) => ({ name: v.name, iface: v.iface, vrid: v.vrid, vip: v.vip })),
  };
}

async function waitUntil(what: string, cond: () => boolean, hangMs: number, context: () => string): Promise<void> {
  const end = Date.now() + hangMs; // hang guard, not a timing bound
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} never happened\n${context()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function killAndWait(child: ChildProcess | undefined): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

/** KeepstatedFw is one firewall's keepstated: its files and the foreground daemon. */
interface KeepstatedFw {
  readonly spec: FirewallSpec;
  readonly dir: string;
  readonly conf: string;
  readonly kaConf: string;
  child?: ChildProcess;
}

/** KeepstatedCluster is a Cluster of keepstated daemons; `conf` is a firewall's conntrackd.conf (for `keepstate status -C`). */
export interface KeepstatedCluster extends Cluster {
  conf(node: string): string;
}

/**
 * keepstatedCluster runs keepstated with its failover manager on every firewall of `lab` (`args`:
 * more daemon options, e.g. --sync-timeout; `version`: VRRP version, needed for adverts under 1 s;
 * `mode`: the conntrackd.conf Mode block after `Mode`, default `FTFW { }`, e.g. with DisableExternalCache on).
 */
export function keepstatedCluster(
  lab: Lab,
  opts: { advertSec?: number; version?: 2 | 3; syncExtra?: string; args?: readonly string[]; mode?: string } = {},
): KeepstatedCluster {
  const fws = new Map<string, KeepstatedFw>();
  for (const spec of lab.spec.cluster.firewalls) {
    const dir = mkdtempSync(join(tmpdir(), `ks-cl-${spec.node}-`));
    const conf = join(dir, 'conntrackd.conf');
    const kaConf = join(dir, 'keepalived.conf');
    writeFileSync(conf, syncConf(dir, syncLink(lab, spec), opts.syncExtra ?? '', undefined, opts.mode));
    writeFileSync(kaConf, keepalivedConf(kaSpec(lab, spec, '/bin/true', opts.advertSec ?? 1, opts.version)));
    fws.set(spec.node, { spec, dir, conf, kaConf });
  }
  const fw = (node: string): KeepstatedFw => fws.get(node) ?? (() => { throw new Error(`no firewall ${node}`); })();
  const log = (node: string): string => {
    const p = join(fw(node).dir, 'log');
    return existsSync(p) ? readFileSync(p, 'utf8') : '';
  };
  const logs = (tail = 6000): string => [...fws.keys()].map((n) => `--- ${n} keepstated log:\n${log(n).slice(-tail)}`).join('\n');
  const launch = async (f: KeepstatedFw, hangMs: number): Promise<void> => {
    const from = log(f.spec.node).length;
    const child = lab.ns(f.spec.node).spawn(process.execPath, [...DAEMON_NODE_FLAGS, LAUNCHER, '-C', f.conf, '--keepalived', f.kaConf, ...(opts.args ?? [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    f.child = child;
    await waitUntil(`keepstated on ${f.spec.node} started`, () => log(f.spec.node).slice(from).includes('-- starting in console mode --') || child.exitCode !== null, hangMs, () => `${stderr}\n${logs()}`);
    if (child.exitCode !== null) throw new Error(`keepstated on ${f.spec.node} exited ${child.exitCode}: ${stderr}\n${logs()}`);
  };
  return {
    system: 'keepstated',
    conf: (node) => fw(node).conf,
    async start(hangMs = 45_000) {
      const [first, ...rest] = [...fws.values()].sort((a, b) => b.spec.priority - a.spec.priority);
      await launch(first!, hangMs);
      // Master, and at its configured priority: a node that starts alone is demoted until its
      // mastership has lasted (sync-aware election); the next one, complete from its bulk, would
      // preempt it meanwhile, and be preempted back.
      const settled = (l: string): boolean => /\(VI_WAN\) Entering MASTER STATE/.test(l) && (!/priority demoted/.test(l) || /priority restored/.test(l));
      await waitUntil(`${first!.spec.node} master`, () => settled(log(first!.spec.node)), hangMs, logs);
      for (const f of rest) {
        await launch(f, hangMs);
        await waitUntil(`${f.spec.node} backup`, () => BACKUP.test(log(f.spec.node)), hangMs, logs);
      }
    },
    async killHard(node) {
      await killAndWait(fw(node).child);
    },
    async restart(node) {
      const f = fw(node);
      rmSync(join(f.dir, 'lock'), { force: true }); // a reboot empties /run
      await launch(f, 45_000);
    },
    externalCount(node) {
      const f = fw(node);
      const r = lab.ns(node).run(process.execPath, [LAUNCHER, '-C', f.conf, '-e']);
      return r.stdout.split('\n').filter((l) => /^(tcp|udp|icmp)/.test(l)).length;
    },
    vrrpLog: log,
    logs,
    async stop() {
      for (const f of fws.values()) {
        const c = f.child;
        if (c?.pid !== undefined && c.exitCode === null && c.signalCode === null) {
          const gone = new Promise((r) => c.once('exit', r));
          c.kill('SIGTERM'); // it resigns (priority 0) and removes its VIPs
          const t = setTimeout(() => c.kill('SIGKILL'), 5000);
          await gone;
          clearTimeout(t);
        }
        rmSync(f.dir, { recursive: true, force: true });
      }
    },
  };
}

/** IncumbentFw is one firewall's conntrackd + keepalived pair. */
interface IncumbentFw {
  readonly spec: FirewallSpec;
  readonly ctd: Conntrackd;
  readonly ka: Keepalived;
}

/**
 * incumbentCluster runs conntrackd + keepalived with the stock primary-backup.sh (paths changed
 * by lab/keepalived.ts installPrimaryBackup only) on every firewall of `lab`.
 */
export function incumbentCluster(lab: Lab, opts: { advertSec?: number; version?: 2 | 3; syncExtra?: string; conntrackdBin?: string } = {}): Cluster {
  const fws = new Map<string, IncumbentFw>();
  for (const spec of lab.spec.cluster.firewalls) {
    const ns = lab.ns(spec.node);
    const ctd = new Conntrackd(ns, syncLink(lab, spec), opts.syncExtra ?? '');
    const script = installPrimaryBackup(ctd.dir, { bin: opts.conntrackdBin ?? '/usr/sbin/conntrackd', config: ctd.conf, lock: join(ctd.dir, 'lock') });
    const ka = new Keepalived(ns, kaSpec(lab, spec, script, opts.advertSec ?? 1, opts.version));
    fws.set(spec.node, { spec, ctd, ka });
  }
  const fw = (node: string): IncumbentFw => fws.get(node) ?? (() => { throw new Error(`no firewall ${node}`); })();
  const ctdLog = (f: IncumbentFw): string => (existsSync(join(f.ctd.dir, 'log')) ? readFileSync(join(f.ctd.dir, 'log'), 'utf8') : '');
  const logs = (tail = 4000): string =>
    [...fws.values()].map((f) => `--- ${f.spec.node} conntrackd log:\n${ctdLog(f).slice(-tail)}\n--- ${f.spec.node} keepalived:\n${f.ka.output.slice(-tail)}`).join('\n');
  return {
    system: 'incumbent',
    async start(hangMs = 45_000) {
      const order = [...fws.values()].sort((a, b) => b.spec.priority - a.spec.priority);
      for (const f of order) await f.ctd.start();
      const [first, ...rest] = order;
      first!.ka.start();
      await waitUntil(`${first!.spec.node} master`, () => /\(VI_WAN\) Entering MASTER STATE/.test(first!.ka.output), hangMs, logs);
      for (const f of rest) {
        f.ka.start();
        await waitUntil(`${f.spec.node} backup`, () => BACKUP.test(f.ka.output), hangMs, logs);
      }
    },
    async killHard(node) {
      const f = fw(node);
      // keepalived's VRRP child first (it holds the VIPs and sends adverts), then its parent, then conntrackd.
      const vrrpPidFile = join(f.ka.dir, 'vrrp.pid');
      const vrrpPid = existsSync(vrrpPidFile) ? Number(readFileSync(vrrpPidFile, 'utf8').trim()) : NaN;
      if (Number.isInteger(vrrpPid) && vrrpPid > 0) {
        try {
          process.kill(vrrpPid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      for (const pid of [f.ka.pid, f.ctd.pid]) {
        if (pid === undefined) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await waitUntil(`${node}'s daemons gone`, () => [vrrpPid, f.ka.pid, f.ctd.pid].every((p) => p === undefined || Number.isNaN(p) || !alive(p)), 10_000, logs);
    },
    async restart(node) {
      const f = fw(node);
      rmSync(join(f.ctd.dir, 'lock'), { force: true }); // a reboot empties /run
      await f.ctd.start();
      f.ka.start();
    },
    externalCount(node) {
      return fw(node).ctd.run('-e').stdout.split('\n').filter((l) => /^(tcp|udp|icmp)/.test(l)).length;
    },
    vrrpLog: (node) => fw(node).ka.output,
    logs,
    async stop() {
      for (const f of fws.values()) {
        await f.ka.stop();
        await f.ctd.stop();
      }
    },
  };
}

/** alive tells whether a process exists (and is not a zombie we hold). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
