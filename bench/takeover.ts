// Benchmark: brutal takeover of the HALF cluster (lab/topology.ts), keepstated against keepalived
// 2.2.7 + conntrackd 1.4.7 with conntrack-tools' stock primary-backup.sh, in the same harness and
// run (issue 6 item 4).
//   node dist/bench/takeover.js [--runs 3] [--entries 100000] [--cases v2-1s-0,v3-10ms-full,...]
//       [--systems keepstated,keepstated-inject,incumbent] [--idle 200] [--sending 20] [--note TEXT] [--out bench/RESULTS.md] [--svg bench/takeover-timeline.svg]
// Systems, the order rotating run by run:
//   keepstated         keepstated --keepalived on both firewalls (external cache; the commit is part
//                      of its ordered takeover: commit, then VIPs, then gratuitous ARP)
//   keepstated-inject  the same with `DisableExternalCache on` in the Mode FTFW block: the standby's
//                      kernel already holds the state, nothing is committed at takeover
//   incumbent          keepalived + conntrackd, notify = primary-backup.sh (lab/cluster.ts)
// Cases: VRRPv2 1 s adverts, VRRPv3 100 ms and 10 ms adverts, each with 0 ("-0") and --entries
// ("-full") other NAT'd entries in the table. Each trial builds a fresh cluster, opens the traffic,
// fills fw1's table, waits until fw2 holds everything (external cache, or kernel with inject), then:
//   takeover  every port of fw1 goes down (lab/takeover.ts runRound 'links-down')
//   failback  the ports come back; from then until the VIPs are on fw1 (none on fw2) and every
//             sending connection has had the echo of a line written after that
// One representative run's marks go to the timeline plot (bench/takeover-plot.ts).
// Teardown (namespaces, daemons, temporary files) happens on every exit, Ctrl-C included.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusMain } from '../src/cli/status.js';
import type { StatusReport } from '../src/control/status.js';
import { Capture } from '../lab/capture.js';
import { incumbentCluster, keepstatedCluster, type Cluster, type KeepstatedCluster } from '../lab/cluster.js';
import { stepTimes } from '../lab/demo-report.js';
import { Keepalived } from '../lab/keepalived.js';
import { rootSkipReason, sweepStale } from '../lab/netns.js';
import { createEntries, kernelCount, otherNatEntries, runRound, type RoundResult } from '../lab/takeover.js';
import { buildTopology, halfTopology, hostHasCommand, Lab, vipsOn } from '../lab/topology.js';
import { Traffic } from '../lab/traffic.js';
import { checkArgs, listOption, median, numberOption, option, range, ratio, writeSection } from './report.js';
import { timelineSvg, type Lane, type Mark } from './takeover-plot.js';

const root = new URL('../..', import.meta.url).pathname;
const args = process.argv.slice(2);

interface Case {
  readonly id: string;
  readonly advertSec: number;
  readonly version: 2 | 3;
  readonly full: boolean; // --entries other entries in the table, else none
}
const ADVERTS = [
  { name: 'v2-1s', advertSec: 1, version: 2, title: 'VRRPv2, 1 s adverts' },
  { name: 'v3-100ms', advertSec: 0.1, version: 3, title: 'VRRPv3, 100 ms adverts' },
  { name: 'v3-10ms', advertSec: 0.01, version: 3, title: 'VRRPv3, 10 ms adverts' },
] as const;
const CASES: readonly Case[] = ADVERTS.flatMap((a) => [false, true].map((full) => ({ id: `${a.name}-${full ? 'full' : '0'}`, advertSec: a.advertSec, version: a.version, full })));
const CASE_IDS = CASES.map((c) => c.id);

checkArgs(
  args,
  ['runs', 'entries', 'cases', 'systems', 'idle', 'sending', 'note', 'out', 'svg'],
  `usage: node dist/bench/takeover.js [--runs 3] [--entries 100000] [--cases ${CASE_IDS.join(',')}]
       [--systems keepstated,keepstated-inject,incumbent] [--idle 200] [--sending 20] [--note TEXT] [--out bench/RESULTS.md] [--svg bench/takeover-timeline.svg]
Root; builds the HALF cluster in namespaces it creates, runs keepstated and keepalived + conntrackd
in them; writes its section of --out and the timeline plot --svg.
`,
);
const RUNS = numberOption(args, 'runs', 3);
const N = numberOption(args, 'entries', 100_000);
const PICKED = listOption(args, 'cases', CASE_IDS);
const IDLE = numberOption(args, 'idle', 200);
const SENDING = numberOption(args, 'sending', 20);
const NOTE = option(args, 'note', '');
const OUT = option(args, 'out', join(root, 'bench/RESULTS.md'));
const SVG = option(args, 'svg', join(root, 'bench/takeover-timeline.svg'));

type SystemName = 'keepstated' | 'keepstated-inject' | 'incumbent';
const ALL_SYSTEMS: readonly SystemName[] = ['keepstated', 'keepstated-inject', 'incumbent'];
const SYSTEMS: readonly SystemName[] = [...listOption(args, 'systems', ALL_SYSTEMS)];
const SYSTEM_TITLE: Readonly<Record<SystemName, string>> = {
  keepstated: 'keepstated',
  'keepstated-inject': 'keepstated, DisableExternalCache on',
  incumbent: 'keepalived + conntrackd',
};
const HANG_MS = 30_000; // per round: a hang guard, not a timing bound
const FILL_HANG_MS = 45_000; // until fw2 holds every entry (past it, the failure comes anyway and the shortfall is reported)
const FAILBACK_HANG_MS = 20_000;
const NET = '10.247';
const INJECT_MODE = 'FTFW {\n    DisableExternalCache on\n  }';

const say = (s: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const order = (r: number): readonly SystemName[] => SYSTEMS.map((_, i) => SYSTEMS[(i + r) % SYSTEMS.length]!);
const runs = (n: number): string => `${n} run${n === 1 ? '' : 's'}`;

/** samples: every measured value by `case|system|figure`; NaN marks a failed trial. */
const samples = new Map<string, number[]>();
function record(c: Case, sys: SystemName, figure: string, v: number): void {
  const k = `${c.id}|${sys}|${figure}`;
  samples.set(k, [...(samples.get(k) ?? []), v]);
}
const got = (c: Case, sys: SystemName, figure: string): number[] => samples.get(`${c.id}|${sys}|${figure}`) ?? [];
const FIGURES = ['unsteady', 'shortfall', 'survival', 'resets', 'firstMed', 'firstMax', 'vipsMs', 'wireAdvert', 'stateMs', 'garpMs', 'failbackMs', 'failbackSurvival', 'failbackResets', 'extraMasters'] as const;

/** lanes: the timeline marks of each case's first run, per system (the plot draws one case). */
const lanes = new Map<string, Lane>();

/**
 * timedConntrackd writes a wrapper for conntrackd that appends `EPOCHREALTIME start|end ARGS` to
 * `log` around each call (bash 5's $EPOCHREALTIME: no fork, so the notify script is not slowed
 * by the timing); primary-backup.sh runs it as CONNTRACKD_BIN. The end of the `-c` it runs as
 * `primary` is the incumbent's "state in kernel".
 */
function timedConntrackd(dir: string, log: string): string {
  const p = join(dir, 'conntrackd-timed');
  writeFileSync(p, `#!/bin/bash\necho "$EPOCHREALTIME start $*" >> ${log}\n/usr/sbin/conntrackd "$@"\nrc=$?\necho "$EPOCHREALTIME end $rc $*" >> ${log}\nexit $rc\n`);
  chmodSync(p, 0o755);
  return p;
}

/** commitTimes: ms after `t0` of the first `-c` call's start and end in the wrapper's log. */
function commitTimes(log: string, t0: number): { start: number; end: number } {
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n') : [];
  const at = (kind: 'start' | 'end'): number => {
    for (const l of lines) {
      const m = /^(\d+\.\d+) (start|end)(?: \d+)? (.*)$/.exec(l);
      if (m === null || m[2] !== kind || !/ -c$/.test(m[3]!)) continue;
      const ms = Number(m[1]) * 1000 - t0;
      if (ms >= 0) return ms;
    }
    return Number.NaN;
  };
  return { start: at('start'), end: at('end') };
}

/** loggedCommitSec is the last "commit has taken N seconds" in `node`'s conntrackd log (from Cluster.logs). */
function loggedCommitSec(logs: string, node: string): number {
  const part = logs.split(/^--- /m).find((p) => p.startsWith(`${node} conntrackd log:`)) ?? '';
  const m = [...part.matchAll(/commit has taken ([\d.]+) seconds/g)].pop();
  return m === undefined ? Number.NaN : Number(m[1]);
}

/** WireMarks: from captures on fw2's switch ports, ms after the failure. */
interface WireMarks {
  readonly advert: number; // fw2's first VRRP advertisement (on either port)
  readonly garp: number; // by when both VIPs had a gratuitous ARP from fw2
}

/** wireMarks reads the pcaps of fw2's LAN and WAN ports: fw2's first advert, each VIP's first gratuitous ARP. */
function wireMarks(pcaps: readonly { file: Buffer; vip: string; self: string }[], t0: number): WireMarks {
  let advert = Number.NaN;
  let garp = Number.NEGATIVE_INFINITY;
  for (const { file, vip, self } of pcaps) {
    let firstGarp = Number.NaN;
    for (const f of ethernetFrames(file)) {
      const ms = f.tsUs / 1000 - t0;
      if (ms < 0) continue;
      const type = f.frame.readUInt16BE(12);
      if (type === 0x0806 && f.frame.length >= 42 && f.frame.subarray(28, 32).join('.') === vip && Number.isNaN(firstGarp)) firstGarp = ms;
      // IPv4, protocol 112 (VRRP), sent by fw2's own address.
      if (type === 0x0800 && f.frame.length >= 34 && f.frame[23] === 112 && f.frame.subarray(26, 30).join('.') === self && !(advert <= ms)) advert = ms;
    }
    garp = Math.max(garp, firstGarp);
  }
  return { advert, garp: Number.isFinite(garp) ? garp : Number.NaN };
}

/** ethernetFrames lists the frames of a classic little-endian µs pcap file of link type Ethernet. */
function ethernetFrames(buf: Buffer): { tsUs: number; frame: Buffer }[] {
  if (buf.length < 24 || buf.readUInt32LE(0) !== 0xa1b2c3d4 || buf.readUInt32LE(20) !== 1) return [];
  const out: { tsUs: number; frame: Buffer }[] = [];
  for (let off = 24; off + 16 <= buf.length; ) {
    const incl = buf.readUInt32LE(off + 8);
    out.push({ tsUs: buf.readUInt32LE(off) * 1e6 + buf.readUInt32LE(off + 4), frame: buf.subarray(off + 16, off + 16 + incl) });
    off += 16 + incl;
  }
  return out;
}

/** status is `keepstate status -C <conf> --json` of `node`'s keepstated, or undefined. */
async function status(cluster: KeepstatedCluster, node: string): Promise<StatusReport | undefined> {
  let out = '';
  const code = await statusMain(['-C', cluster.conf(node), '--json'], (s) => void (out += s), () => undefined);
  return code === 0 ? (JSON.parse(out) as StatusReport) : undefined;
}


/**
 * replicated waits until fw2 holds `want` entries (its external cache, or its kernel with
 * DisableExternalCache on) and returns how long that took and how many it held (fewer: the guard passed).
 */
async function replicated(lab: Lab, cluster: Cluster, sys: SystemName, want: number): Promise<{ ms: number; held: number }> {
  const t0 = Date.now();
  const count = async (): Promise<number> => {
    if (sys === 'keepstated-inject') return kernelCount(lab, 'fw2');
    if (sys === 'keepstated') return (await status(cluster as KeepstatedCluster, 'fw2'))?.sync.external ?? 0;
    return cluster.externalCount('fw2');
  };
  let n = await count();
  while (n < want) {
    if (Date.now() - t0 > FILL_HANG_MS) return { ms: Number.NaN, held: n };
    await sleep(300);
    n = await count();
  }
  return { ms: Date.now() - t0, held: n };
}

/**
 * steadyMaster waits until fw1 has held every VIP, and fw2 none, for 1 s without a break (polled
 * every 50 ms): the burst of other entries can move mastership before the failure. False past the guard.
 */
async function steadyMaster(lab: Lab): Promise<boolean> {
  const want = lab.spec.cluster.vrrp.length;
  const end = Date.now() + HANG_MS;
  let since = Date.now();
  while (Date.now() < end) {
    if (vipsOn(lab, 'fw1').length !== want || vipsOn(lab, 'fw2').length !== 0) since = Date.now();
    else if (Date.now() - since >= 1000) return true;
    await sleep(50);
  }
  return false;
}

interface Failback {
  readonly ms: number; // links up → VIPs on fw1 and an echo on every sending connection
  readonly alive: number;
  readonly total: number;
  readonly resets: number;
}

/**
 * failback brings fw1's ports back and measures until the VIPs are on fw1 (none left on fw2,
 * polled every 10 ms) and every sending connection alive before it has echoed a line written after
 * that; then probes the idle ones.
 */
async function failback(lab: Lab, traffic: Traffic, alive: RoundResult['aliveAfter']): Promise<Failback> {
  await traffic.flowing(alive.send, FAILBACK_HANG_MS);
  const failuresBefore = new Set(traffic.failures());
  const resetsBefore = traffic.resets();
  const t0 = Date.now();
  lab.setAllPorts('fw1', true);
  const want = lab.spec.cluster.vrrp.length;
  const back = (): boolean => vipsOn(lab, 'fw1').length === want && vipsOn(lab, 'fw2').length === 0;
  while (!back() && Date.now() - t0 < FAILBACK_HANG_MS) await sleep(10);
  const markedAt = await traffic.mark('back');
  const firsts = await traffic.waitFirsts('back', alive.send, Math.max(1000, t0 + FAILBACK_HANG_MS - Date.now()));
  const missing = [...alive.send].some((id) => !firsts.has(id));
  const ms = back() && !missing ? markedAt - t0 + Math.max(0, ...[...alive.send].map((id) => firsts.get(id)!)) : Number.NaN;
  const probed = await traffic.probe('back', alive.idle, Math.max(1000, t0 + FAILBACK_HANG_MS - Date.now()));
  const failed = new Set(traffic.failures().filter((f) => !failuresBefore.has(f)).map((f) => Number(f.split(' ')[1])));
  const ok = [...alive.idle].filter((id) => probed.has(id) && !failed.has(id)).length + [...alive.send].filter((id) => firsts.has(id) && !failed.has(id)).length;
  return { ms, alive: ok, total: alive.idle.size + alive.send.size, resets: traffic.resets() - resetsBefore };
}

function makeCluster(lab: Lab, c: Case, sys: SystemName, ctdBin: string): Cluster {
  const vrrp = { advertSec: c.advertSec, version: c.version };
  if (sys === 'keepstated') return keepstatedCluster(lab, vrrp);
  if (sys === 'keepstated-inject') return keepstatedCluster(lab, { ...vrrp, mode: INJECT_MODE });
  return incumbentCluster(lab, { ...vrrp, conntrackdBin: ctdBin });
}

/** logMarks is where each firewall's VRRP log ends now (once the cluster has settled), for extraMasterships. */
function logMarks(cluster: Cluster): Map<string, number> {
  return new Map(['fw1', 'fw2'].map((n) => [n, cluster.vrrpLog(n).length]));
}

/**
 * extraMasterships counts the elections a trial should not have had since `from` (logMarks once the
 * cluster has settled, before the traffic and the fill): VI_LAN enters MASTER on fw2 at the failure
 * and on fw1 at the failback; any other entry is a node that took a live master for dead
 * (keepstated and keepalived log the same words).
 */
function extraMasterships(cluster: Cluster, from: Map<string, number>): number {
  const n = (node: string): number => (cluster.vrrpLog(node).slice(from.get(node) ?? 0).match(/\(VI_LAN\) Entering MASTER STATE/g) ?? []).length;
  return Math.max(0, n('fw1') - 1) + Math.max(0, n('fw2') - 1);
}

/** trial runs one system through one case on a fresh cluster and records its figures. */
async function trial(c: Case, sys: SystemName, run: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bt-'));
  const ctdLog = join(dir, 'conntrackd-calls.log');
  let lab: Lab | undefined;
  let cluster: Cluster | undefined;
  let traffic: Traffic | undefined;
  const caps: Capture[] = [];
  try {
    lab = buildTopology({ ...halfTopology({ net: NET }), label: 'bt' });
    cluster = makeCluster(lab, c, sys, timedConntrackd(dir, ctdLog));
    await cluster.start(HANG_MS);
    const vip = (name: string): string => lab!.spec.cluster.vrrp.find((v) => v.name === name)!.vip.split('/')[0]!;
    // The captures start now, long before the failure: tcpdump's ring setup (PACKET_RX_RING, 32 MiB)
    // ran 104 ms in the kernel without a preemption point on this PREEMPT_NONE kernel, and a
    // failover process waiting for that CPU missed its advert slots — a backup took over (perf).
    const ports = [
      { ifname: 'lan0', vip: vip('VI_LAN'), self: `${NET}.1.2` },
      { ifname: 'wan0', vip: vip('VI_WAN'), self: `${NET}.2.2` },
    ];
    for (const p of ports) caps.push(await Capture.start(lab.switchNs, Lab.bridgePort('fw2', p.ifname), join(dir, `fw2-${p.ifname}.pcap`), 'arp or ip proto 112'));
    await sleep(1000);
    const logsAtStart = logMarks(cluster);
    const t = lab.spec.traffic;
    traffic = await Traffic.start(lab.ns(t.server), lab.ns(t.client), { idle: IDLE, sending: SENDING, serverAddr: t.serverAddr }, HANG_MS * 2);
    const entries = c.full ? N : 0;
    if (entries > 0) {
      const refused = await createEntries(lab.ns('fw1').name, otherNatEntries(entries, vip('VI_WAN')));
      if (refused > 0) throw new Error(`fw1's kernel refused ${refused} entries`);
    }
    const fill = await replicated(lab, cluster, sys, entries + IDLE + SENDING);
    record(c, sys, 'shortfall', Math.max(0, entries + IDLE + SENDING - fill.held)); // fw2's own flows (sync, VRRP) count too
    const steady = await steadyMaster(lab);
    if (!steady) say(`${c.id} run ${run + 1} ${sys}: fw1 never held the VIPs alone for 1 s; failing it anyway`);
    record(c, sys, 'unsteady', steady ? 0 : 1);
    const r = await runRound(lab, cluster, traffic, 'down', 'links-down', { failing: 'fw1', other: 'fw2', hangMs: HANG_MS });
    const st = sys === 'incumbent' ? undefined : await status(cluster as KeepstatedCluster, 'fw2');
    const files = await Promise.all(caps.splice(0).map((cap) => cap.stopFile(false)));
    const wire = wireMarks(
      files.map((file, i) => ({ file, vip: ports[i]!.vip, self: ports[i]!.self })),
      r.eventAtMs,
    );
    const firstMed = median(r.firstMs);
    const firstMax = r.firstMs.length === r.sending ? Math.max(...r.firstMs) : Number.NaN;
    const total = r.idle + r.sending;
    record(c, sys, 'survival', (100 * (r.idleAlive + r.sendingAlive)) / total);
    record(c, sys, 'resets', r.resets);
    record(c, sys, 'firstMed', firstMed);
    record(c, sys, 'firstMax', firstMax);
    record(c, sys, 'vipsMs', r.vipsMovedMs ?? Number.NaN);
    record(c, sys, 'wireAdvert', wire.advert);
    record(c, sys, 'garpMs', wire.garp);
    const marks: Mark[] = [{ kind: 'wire', label: 'first advert on the wire', ms: wire.advert }];
    if (st !== undefined) {
      const times = (step: string): number[] => stepTimes(st, step, r.eventAtMs);
      const first = (step: string): number => (times(step).length > 0 ? Math.min(...times(step)) : Number.NaN);
      const last = (step: string): number => (times(step).length > 0 ? Math.max(...times(step)) : Number.NaN);
      const state = sys === 'keepstated-inject' ? Number.NaN : first('state-ready');
      record(c, sys, 'stateMs', sys === 'keepstated-inject' ? 0 : state);
      marks.push(
        { kind: 'transition', label: 'BACKUP→MASTER (daemon)', ms: first('transition') },
        ...(sys === 'keepstated-inject' ? [] : [{ kind: 'state' as const, label: 'state in kernel (commit done)', ms: state }]),
        { kind: 'vips', label: 'VIPs added (daemon)', ms: last('vips-added') },
        { kind: 'garp', label: 'GARP sent (daemon)', ms: last('announced') },
      );
    } else {
      // conntrackd 1.4.7 answers -c before its commit is over (the -f after it is refused, "commit
      // still in progress"): the state is in the kernel at the -c's start plus the duration it logs.
      const commit = commitTimes(ctdLog, r.eventAtMs);
      const state = commit.start + loggedCommitSec(cluster.logs(), 'fw2') * 1000;
      record(c, sys, 'stateMs', state);
      marks.push(
        { kind: 'notify', label: 'notify: conntrackd -c starts', ms: commit.start },
        { kind: 'notify', label: 'conntrackd -c returns', ms: commit.end },
        { kind: 'state', label: 'state in kernel (-c start + logged commit time)', ms: state },
      );
    }
    marks.push(
      { kind: 'vips', label: 'VIPs seen (poll, 20 ms)', ms: r.vipsMovedMs ?? Number.NaN },
      { kind: 'garp', label: 'GARP for both VIPs on the wire', ms: wire.garp },
      { kind: 'first', label: 'first successful packet (median)', ms: firstMed },
    );
    if (run === 0) {
      lanes.set(`${c.id}|${sys}`, {
        title: SYSTEM_TITLE[sys],
        subtitle: `survival ${(r.idleAlive + r.sendingAlive)}/${total}, resets ${r.resets}`,
        marks,
        ...(r.firstMs.length > 0 ? { first: { min: r.firstMs[0]!, median: firstMed, max: r.firstMs[r.firstMs.length - 1]! } } : {}),
      });
    }
    const fb = await failback(lab, traffic, r.aliveAfter);
    record(c, sys, 'failbackMs', fb.ms);
    record(c, sys, 'failbackSurvival', fb.total > 0 ? (100 * fb.alive) / fb.total : Number.NaN);
    record(c, sys, 'failbackResets', fb.resets);
    record(c, sys, 'extraMasters', extraMasterships(cluster, logsAtStart));
    const lost = r.idleAlive + r.sendingAlive < total || r.resets > 0 || fb.alive < fb.total || fb.resets > 0;
    // Kept for the post-mortem of every run: the daemons' logs, fw2's status (its timeline) and the traffic's last lines.
    const log = join(tmpdir(), `ks-bench-takeover-${c.id}-${sys}-${run + 1}.log`);
    writeFileSync(log, `VIPs on fw1: ${vipsOn(lab, 'fw1').join(' ')}; on fw2: ${vipsOn(lab, 'fw2').join(' ')}\n${st !== undefined ? `--- fw2 status at the takeover:\n${JSON.stringify(st)}\n` : ''}${cluster.logs(Infinity)}\n--- traffic:\n${traffic.output.slice(-5000)}`);
    if (!Number.isFinite(fb.ms) || lost) say(`${c.id} run ${run + 1} ${sys}: ${Number.isFinite(fb.ms) ? 'connections lost' : 'the failback did not complete'}; logs in ${log}`);
    say(
      `${c.id} run ${run + 1} ${sys}: fw2 had ${fill.held} of ${entries + IDLE + SENDING} after ${fill.ms} ms; alive ${r.idleAlive + r.sendingAlive}/${total}, resets ${r.resets}, ` +
        `first packet median ${firstMed.toFixed(0)} max ${firstMax.toFixed(0)} ms, advert ${wire.advert.toFixed(1)}, GARP ${wire.garp.toFixed(1)}, VIPs ${r.vipsMovedMs ?? '—'} ms; ` +
        `failback ${fb.ms.toFixed(0)} ms (${fb.alive}/${fb.total} alive, ${fb.resets} resets); extra masterships ${extraMasterships(cluster, logsAtStart)}`,
    );
  } catch (e) {
    say(`${c.id} run ${run + 1} ${sys} FAILED: ${e instanceof Error ? e.message.slice(0, 3000) : String(e)}`);
    for (const f of FIGURES) if (got(c, sys, f).length <= run) record(c, sys, f, Number.NaN);
  } finally {
    for (const cap of caps) await cap.stopFile(false).catch(() => undefined);
    traffic?.stop();
    await cluster?.stop().catch(() => undefined);
    lab?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** sum adds the finite values (— when there are none). */
const sum = (xs: readonly number[]): string => {
  const f = xs.filter(Number.isFinite);
  return f.length === 0 ? '—' : String(f.reduce((a, b) => a + b, 0));
};
const pct = (xs: readonly number[]): string => range(xs, xs.filter(Number.isFinite).every((x) => x === 100) ? 0 : 1).replace(/^([\d.]+( \[[\d.–]+\])?)/, '$1 %');

function section(startLoad: string): string {
  const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim();
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const cases = CASES.filter((c) => PICKED.has(c.id));
  const caseTitle = (c: Case): string => `${ADVERTS.find((a) => c.id.startsWith(a.name))!.title}, ${c.full ? N : 0} other entries`;
  const rows = cases.flatMap((c) =>
    SYSTEMS.map(
      (sys) =>
        `| ${caseTitle(c)} | ${SYSTEM_TITLE[sys]} | ${range(got(c, sys, 'shortfall'))} | ${pct(got(c, sys, 'survival'))} | ${range(got(c, sys, 'resets'))} | ${range(got(c, sys, 'firstMed'))} | ${range(got(c, sys, 'firstMax'))} | ` +
        `${range(got(c, sys, 'wireAdvert'))} | ${sys === 'keepstated-inject' ? 'before (injected)' : range(got(c, sys, 'stateMs'))} | ${range(got(c, sys, 'garpMs'))} | ${range(got(c, sys, 'failbackMs'))} | ${pct(got(c, sys, 'failbackSurvival'))}, ${range(got(c, sys, 'failbackResets'))} | ${sum(got(c, sys, 'extraMasters'))} |`,
    ),
  );
  const ratios = cases.map((c) => {
    const r = (sys: SystemName, f: string): string => ratio(got(c, sys, f), got(c, 'incumbent', f));
    return `| ${caseTitle(c)} | ${r('keepstated', 'firstMed')} / ${r('keepstated-inject', 'firstMed')} | ${r('keepstated', 'firstMax')} / ${r('keepstated-inject', 'firstMax')} | ${r('keepstated', 'failbackMs')} / ${r('keepstated-inject', 'failbackMs')} |`;
  });
  const cmd = `node dist/bench/takeover.js --runs ${RUNS} --entries ${N} --cases ${[...PICKED].join(',')}${SYSTEMS.length < ALL_SYSTEMS.length ? ` --systems ${SYSTEMS.join(',')}` : ''} --idle ${IDLE} --sending ${SENDING}`;
  return `## Takeover side by side (issue 6 item 4): keepstated vs keepalived 2.2.7 + conntrackd 1.4.7

Run ${new Date().toISOString().slice(0, 16)}Z by \`${cmd}\` as root: ${cpus().length} CPUs, kernel ${kernel}, Node
${process.version}, keepalived ${Keepalived.version() ?? '?'}; load average at the start ${startLoad}, at the end ${load}.${NOTE === '' ? '' : `\n**${NOTE}**`}

Harness: the HALF cluster of lab/topology.ts (client — LAN — fw1/fw2 — WAN — server, FTFW over UDP on a
dedicated sync link, SNAT to the WAN VIP with fully-random ports, \`ct state invalid drop\`,
nf_conntrack_tcp_loose=0: a connection lives only if its entry is in the new master's kernel before its
next packet). Every trial is a fresh cluster: ${IDLE} idle + ${SENDING} sending TCP connections (a line every
10 ms, echoed), then the other NAT'd entries are created in fw1's kernel (lab/takeover.ts
otherNatEntries), and the failure comes only once fw2 holds everything (its external cache; its kernel
with DisableExternalCache on). Failure = every port of fw1 down on the switch side (lab/takeover.ts
runRound). Systems, the order rotating run by run: keepstated --keepalived; the same with
\`DisableExternalCache on\` in Mode FTFW (the standby's kernel holds the state, no commit at takeover);
keepalived + conntrackd with the stock primary-backup.sh (lab/cluster.ts incumbentCluster). All read the
same keepalived.conf text (one sync group of the LAN and WAN instances; \`version 3\` for the sub-second
adverts, which keepalived 2.2.7 accepts down to \`advert_int 0.01\`). Medians [min–max] over ${runs(runsDone)}${runsDone < RUNS ? ` (of ${RUNS} asked)` : ''}.

- survival: idle connections answering a probe and sending connections echoing again, of all
  ${IDLE + SENDING}; resets: connections that saw ECONNRESET.
- first packet: per sending connection, ms from the failure to the echo of the first line written
  after it; median and max over the ${SENDING} connections of a run (max is — if one never echoed).
- first advert / GARP: fw2's first VRRP advertisement and the instant both VIPs had had a
  gratuitous ARP from fw2, from tcpdump on fw2's switch ports (kernel timestamps). state in
  kernel: keepstated's own timeline (\`keepstate status --json\`, step state-ready); the incumbent's
  start of the \`conntrackd -c\` primary-backup.sh runs (CONNTRACKD_BIN is a bash wrapper that logs
  $EPOCHREALTIME around each call; the script itself is unchanged) plus the "commit has taken"
  duration conntrackd logs — conntrackd 1.4.7 answers -c before its commit is over.
- not on fw2: entries fw2 lacked when the failure came (the wait for them ends after ${FILL_HANG_MS / 1000} s; the
  measured connections were replicated long before the other entries were created).
- failback: fw1's ports come up; ms until the VIPs are on fw1 and none on fw2 (polled every 10 ms)
  and every sending connection has echoed a line written after that; then survival, resets.
- extra masterships: over all runs, how often VI_LAN became master, from the settled start on (fill
  included), beyond the two a trial has (fw2 at the failure, fw1 at the failback): a backup that
  took a live master for dead.

| case | system | not on fw2 at the failure | survival | resets | first packet, median (ms) | first packet, max (ms) | first advert (ms) | state in kernel (ms) | GARP (ms) | failback (ms) | failback survival, resets | extra masterships |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Ratios keepstated / incumbent of the medians (external cache / DisableExternalCache on):

| case | first packet, median | first packet, max | failback |
|---|---|---|---|
${ratios.join('\n')}

${reading(cases)}

The takeover timeline of one run (${PLOT_CASE_TEXT()}) is plotted in bench/takeover-timeline.svg.
`;
}

/** reading says, from the numbers, which of the issue's targets were met. */
function reading(cases: readonly Case[]): string {
  const lines: string[] = ['Reading (targets of the issue: 100 % survival and zero resets in every case; first packet ≤ 100 ms with the fastest adverts and the full table):'];
  for (const sys of SYSTEMS) {
    const surv = cases.flatMap((c) => [...got(c, sys, 'survival'), ...got(c, sys, 'failbackSurvival')]);
    const resets = cases.flatMap((c) => [...got(c, sys, 'resets'), ...got(c, sys, 'failbackResets')]);
    const failed = surv.filter((x) => !Number.isFinite(x)).length;
    const lost = surv.filter((x) => Number.isFinite(x) && x < 100).length;
    const reset = resets.filter((x) => Number.isFinite(x) && x > 0).length;
    lines.push(
      `- ${SYSTEM_TITLE[sys]}: ${lost === 0 && reset === 0 && failed === 0 ? 'every connection survived every takeover and failback, no reset' : `${lost} of ${surv.length} rounds lost connections, ${reset} had resets${failed > 0 ? `, ${failed} trials failed` : ''}`}.`,
    );
  }
  for (const sys of SYSTEMS) {
    const extra = cases.flatMap((c) => got(c, sys, 'extraMasters')).filter(Number.isFinite);
    const total = extra.reduce((a, b) => a + b, 0);
    if (total > 0) lines.push(`- ${SYSTEM_TITLE[sys]}: ${total} extra mastership${total === 1 ? '' : 's'} in ${extra.filter((x) => x > 0).length} of ${extra.length} trials (a backup took a live master for dead).`);
  }
  const unsteady = SYSTEMS.map((sys) => [sys, cases.reduce((n, c) => n + got(c, sys, 'unsteady').filter((x) => x > 0).length, 0)] as const).filter(([, n]) => n > 0);
  for (const [sys, n] of unsteady) lines.push(`- ${SYSTEM_TITLE[sys]}: in ${n} trial${n === 1 ? '' : 's'} fw1 did not hold the VIPs alone for 1 s before the failure (mastership moved during the fill).`);
  const fast = cases.find((c) => c.id === 'v3-10ms-full');
  if (fast !== undefined) {
    for (const sys of SYSTEMS) {
      const max = got(fast, sys, 'firstMax').filter(Number.isFinite);
      const med = median(got(fast, sys, 'firstMed'));
      lines.push(`- 10 ms adverts, ${N} entries, ${SYSTEM_TITLE[sys]}: first packet median ${med.toFixed(0)} ms, worst connection ${max.length > 0 ? `${Math.max(...max).toFixed(0)} ms` : '—'} (target ≤ 100 ms: ${max.length > 0 && Math.max(...max) <= 100 ? 'met' : med <= 100 ? 'met by the median, not by every connection' : 'not met'}).`);
    }
  }
  for (const c of cases) {
    // The incumbent's race: keepalived announces (GARP) before primary-backup.sh's commit is done.
    const race = got(c, 'incumbent', 'stateMs').map((s, i) => s - (got(c, 'incumbent', 'garpMs')[i] ?? Number.NaN));
    if (race.some(Number.isFinite)) lines.push(`- ${c.id}, keepalived + conntrackd: the GARP went out ${range(race)} ms before \`conntrackd -c\` was done (packets in that window meet no entry).`);
  }
  lines.push(
    '- Between the failure and the first packet sit the failure detection (Master_Down_Interval = 3 adverts + skew), the',
    '  takeover (commit, VIPs, GARP) and the connections\' own TCP retransmission timers: segments lost while the',
    '  path was down are resent on TCP\'s backed-off schedule, so the first echo can follow the GARP by up to a few',
    '  hundred ms; compare the GARP column for what the systems themselves did.',
  );
  return lines.join('\n');
}

let plotCase: Case | undefined;
let runsDone = 0;
const PLOT_CASE_TEXT = (): string => (plotCase === undefined ? 'none' : `${plotCase.id}, run 1`);

function writePlot(): void {
  const cases = CASES.filter((c) => PICKED.has(c.id));
  plotCase = cases.find((c) => c.id === 'v3-10ms-full' && SYSTEMS.every((s) => lanes.has(`${c.id}|${s}`))) ?? [...cases].reverse().find((c) => SYSTEMS.some((s) => lanes.has(`${c.id}|${s}`)));
  if (plotCase === undefined) return;
  const c = plotCase;
  const title = `Takeover timeline: ${ADVERTS.find((a) => c.id.startsWith(a.name))!.title}, ${c.full ? N : 0} other NAT'd entries, ${IDLE} idle + ${SENDING} sending connections`;
  const ls = SYSTEMS.map((s) => lanes.get(`${c.id}|${s}`)).filter((l): l is Lane => l !== undefined);
  writeFileSync(
    SVG,
    timelineSvg(title, ls, [
      `bench/takeover.ts, run 1 of case ${c.id}, ${new Date().toISOString().slice(0, 16)}Z. t = 0: every port of fw1 down (switch side). Red band: first successful packet, min–max over the sending connections.`,
      'keepstated marks: its own timeline (keepstate status --json: transition, state-ready, vips-added, announced), placed by the daemon\'s clock.',
      'keepalived + conntrackd: the -c of primary-backup.sh timed by a wrapper around conntrackd ($EPOCHREALTIME); keepalived logs only whole seconds.',
      'Both: first advert and GARP from tcpdump on fw2\'s switch ports; VIPs seen = `ip addr` poll of fw2 every 20 ms; first packet from the traffic client.',
    ]),
  );
}

async function main(): Promise<void> {
  const why = rootSkipReason() ?? (hostHasCommand('nft') ? undefined : 'nft is not installed') ?? (hostHasCommand('tcpdump') ? undefined : 'tcpdump is not installed');
  if (why !== undefined) throw new Error(why);
  if (Keepalived.version() === undefined) throw new Error('keepalived is not installed');
  if (spawnSync('conntrackd', ['-v'], { encoding: 'utf8' }).stdout?.includes('v1.4.7') !== true) throw new Error('conntrackd 1.4.7 is needed');
  const startLoad = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  sweepStale();
  // Run by run over every case, the section and the plot rewritten after each: an interrupted
  // benchmark leaves the runs it finished.
  let text = '';
  for (let r = 0; r < RUNS; r++) {
    for (const c of CASES.filter((x) => PICKED.has(x.id))) for (const sys of order(r)) await trial(c, sys, r);
    runsDone = r + 1;
    writePlot();
    text = section(startLoad);
    writeSection(OUT, '## Takeover side by side', text);
    say(`run ${r + 1} of ${RUNS} written to ${OUT} and ${SVG}`);
  }
  process.stdout.write(text);
}

await main();
