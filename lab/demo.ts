// The demo (scripts/demo.sh runs it as root): keepstated on both firewalls of the HALF cluster, in
// fresh network namespaces, with long-lived TCP connections through the SNAT; the master fails
// brutally twice (round 1: every link down; round 2: kill -9 of its keepstated and links down, a
// dead box) and comes back each time; a report after each event says what the connections saw
// and what the daemons did. Everything is torn down at the end, on failure and on Ctrl-C.
//
//   node dist/lab/demo.js [--connections N] [--sending M] [--advert SEC]
//
// Exit status: 0 every connection survived every event, 1 some did not, 2 usage, 3 the demo
// itself failed (after printing why).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { statusMain } from '../src/cli/status.js';
import { ConntrackClient } from '../src/ctnetlink/client.js';
import type { StatusReport } from '../src/control/status.js';
import { keepstatedCluster, type KeepstatedCluster } from './cluster.js';
import { roundLines, stepTimes, summaryRow, SUMMARY_HEAD, survived, timelineLines } from './demo-report.js';
import { rootSkipReason, sweepStale } from './netns.js';
import { runRound, type RoundEvent, type RoundResult } from './takeover.js';
import { buildTopology, halfTopology, hostHasCommand, vipsOn, type Lab } from './topology.js';
import { Traffic } from './traffic.js';

const USAGE = `Usage: node dist/lab/demo.js [--connections N] [--sending M] [--advert SEC]
  --connections N   long-lived idle TCP connections through the NAT (default 1000)
  --sending M       connections that send a line every 10 ms and wait for its echo (default 20)
  --advert SEC      VRRPv3 advert interval, 0.01…40.95 s (default 0.1)
`;

const HANG_MS = 30_000; // per round and per setup step: a hang guard, not a timing bound
const PORT = 8080;
const tty = process.stdout.isTTY;
const bold = (s: string): string => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s = ''): void => void process.stdout.write(`${s}\n`);
const started = performance.now();
const clock = (): string => `[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s]`;
const step = (s: string): void => say(`${clock()} ${s}`);
const head = (s: string): void => say(`\n${bold(`== ${s}`)}`);

interface Options {
  readonly connections: number;
  readonly sending: number;
  readonly advert: number;
}

function options(argv: readonly string[]): Options | string {
  let v;
  try {
    v = parseArgs({ args: [...argv], options: { connections: { type: 'string' }, sending: { type: 'string' }, advert: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  if (v.help === true) return '';
  const int = (s: string | undefined, def: number, max: number): number => (s === undefined ? def : /^\d+$/.test(s) && Number(s) <= max ? Number(s) : NaN);
  const o = { connections: int(v.connections, 1000, 20_000), sending: int(v.sending, 20, 500), advert: v.advert === undefined ? 0.1 : Number(v.advert) };
  if (Number.isNaN(o.connections) || Number.isNaN(o.sending)) return '--connections is 0…20000 and --sending 0…500';
  if (o.connections + o.sending === 0) return 'no connections at all';
  // VRRPv3's Max Adver Int is 12 bits of centiseconds (RFC 5798 §5.2.7).
  if (!(o.advert >= 0.01 && o.advert <= 40.95) || Math.abs(o.advert * 100 - Math.round(o.advert * 100)) > 1e-9) return '--advert is 0.01…40.95 s in steps of 0.01';
  return o;
}

/** status is `keepstate status -C <conf> --json` of `node`'s keepstated, or why there is none. */
async function status(cluster: KeepstatedCluster, node: string): Promise<StatusReport | string> {
  let out = '';
  let err = '';
  const code = await statusMain(
    ['-C', cluster.conf(node), '--json'],
    (s) => void (out += s),
    (s) => void (err += s),
  );
  if (code !== 0) return `no status: ${err.trim().split('\n')[0] ?? code}`;
  return JSON.parse(out) as StatusReport;
}

async function statuses(cluster: KeepstatedCluster, lab: Lab): Promise<Map<string, StatusReport | string>> {
  const m = new Map<string, StatusReport | string>();
  for (const f of lab.spec.cluster.firewalls) m.set(f.node, await status(cluster, f.node));
  return m;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** demoEntries counts the demo's connections in `node`'s conntrack table (TCP to the server's port). */
async function demoEntries(lab: Lab, node: string): Promise<number> {
  const c = ConntrackClient.open({ netns: lab.ns(node).name });
  try {
    let n = 0;
    for await (const batch of c.dump({ family: 'ipv4' })) n += batch.filter((ct) => ct.orig?.dstPort === PORT && ct.orig.dst === lab.spec.traffic.serverAddr).length;
    return n;
  } finally {
    c.close();
  }
}

function roles(s: StatusReport | string): string {
  if (typeof s === 'string') return s;
  return (s.instances ?? []).map((i) => `${i.name} ${i.role.toUpperCase()}`).join(', ');
}

/** Round is one event of the demo and how it is explained. */
interface Round {
  readonly label: string;
  readonly event: RoundEvent;
  readonly title: string;
  readonly short: string; // for the summary table
  readonly what: readonly string[];
}

const ROUNDS: readonly Round[] = [
  {
    label: 'r1down',
    event: 'links-down',
    title: 'Round 1: fw1 loses every link',
    short: '1 links down',
    what: ['All of fw1’s ports (LAN, WAN, sync) go down at once on the switch side — a pulled box.', 'fw2 must take over.'],
  },
  {
    label: 'r1back',
    event: 'links-up',
    title: 'Round 1 failback: fw1’s links come back',
    short: '1 failback (links up)',
    what: ['fw1’s ports come up again; fw1 (priority 150) preempts and fw2 gives the VIPs back.'],
  },
  {
    label: 'r2kill',
    event: 'kill-9',
    title: 'Round 2: fw1 dies (kill -9)',
    short: '2 kill -9 + links down',
    what: [
      'kill -9 of fw1’s keepstated AND its links down in the same instant — a dead box. (kill -9 alone would',
      'leave fw1’s kernel forwarding and answering ARP for the VIPs: a split brain, not a failover.)',
    ],
  },
  {
    label: 'r2back',
    event: 'reboot',
    title: 'Round 2 failback: fw1 reboots',
    short: '2 failback (reboot)',
    what: ['fw1 comes back as after a reboot — empty conntrack table, no VIPs: its links come up, keepstated', 'starts, takes fw2’s state and preempts once its copy is complete.'],
  },
];

const isFailure = (e: RoundEvent): boolean => e === 'links-down' || e === 'kill-9';

/** Rig is what the demo built, for the teardown (also from a signal handler). */
interface Rig {
  lab?: Lab;
  cluster?: KeepstatedCluster;
  traffic?: Traffic;
}

/** build creates the cluster, starts keepstated on both firewalls and opens the connections. */
async function build(o: Options, rig: Rig): Promise<{ lab: Lab; cluster: KeepstatedCluster; traffic: Traffic }> {
  step('building the HALF cluster in fresh network namespaces: client — LAN — fw1/fw2 — WAN — server, sync link fw1–fw2');
  sweepStale();
  const lab = (rig.lab = buildTopology({ ...halfTopology({ net: '10.248' }), label: 'demo' }));
  const { serverAddr, client, server } = lab.spec.traffic;
  step(`  namespaces ${lab.ns('fw1').name.replace(/fw1-.*/, '*')}; the firewalls SNAT the LAN to the WAN VIP (fully-random ports),`);
  step('  drop INVALID packets, nf_conntrack_tcp_loose=0: a connection lives only if its entry is in the master’s kernel');
  step(`  VRRPv3 every ${o.advert} s, one sync group: ${lab.spec.cluster.vrrp.map((v) => `${v.name} ${v.vip}`).join(', ')}; fw1 priority 150, fw2 100`);
  const cluster = (rig.cluster = keepstatedCluster(lab, { advertSec: o.advert, version: 3 }));
  step('starting keepstated --keepalived on fw1, then on fw2 (FTFW replication over sync0)');
  await cluster.start(HANG_MS);
  for (const [node, s] of await statuses(cluster, lab)) step(`  ${node}: ${roles(s)}${vipsOn(lab, node).length > 0 ? ` — holds ${vipsOn(lab, node).join(', ')}` : ''}`);
  step(`opening ${o.connections + o.sending} connections client → ${serverAddr}:${PORT} through the NAT`);
  let shown = -1;
  const progress = (up: number, all: number): void => {
    const tenth = Math.floor((10 * up) / all);
    if (tty) process.stdout.write(`\r${clock()}   connections open ${up}/${all}`);
    else if (tenth !== shown) say(`${clock()}   connections open ${up}/${all}`);
    shown = tenth;
  };
  const traffic = (rig.traffic = await Traffic.start(lab.ns(server), lab.ns(client), { idle: o.connections, sending: o.sending, serverAddr, port: PORT }, HANG_MS * 2, progress));
  if (tty) say();
  return { lab, cluster, traffic };
}

/**
 * replication waits until fw2's external cache is as large as fw1's internal one and fw2 says its
 * copy is complete (fw1 has answered fw2's resync in full: engine/completeness.ts), polling `keepstate
 * status` every 50 ms, then reports it; throws if fw2 lacks any of the demo's connections.
 */
async function replication(lab: Lab, cluster: KeepstatedCluster, total: number): Promise<void> {
  const readyAt = performance.now();
  step(`  all ${total} established; waiting until fw2 holds them (keepstate status every 50 ms)`);
  let caughtUpMs: number | undefined;
  let completeMs: number | undefined;
  while (completeMs === undefined && performance.now() - readyAt < HANG_MS) {
    const [s1, s2] = [await status(cluster, 'fw1'), await status(cluster, 'fw2')];
    if (typeof s1 !== 'string' && typeof s2 !== 'string') {
      if (caughtUpMs === undefined && s2.sync.external >= s1.sync.internal && s1.sync.internal >= total) caughtUpMs = performance.now() - readyAt;
      if (caughtUpMs !== undefined && s2.sync.complete) completeMs = performance.now() - readyAt;
      if (tty) process.stdout.write(`\r${clock()}   fw1 internal cache ${s1.sync.internal}, fw2 external cache ${s2.sync.external}, fw2 ${s2.sync.complete ? 'complete' : 'incomplete'}   `);
    }
    await sleep(50);
  }
  if (tty) say();
  const inKernel = await demoEntries(lab, 'fw1');
  const onFw2 = externalDemoEntries(lab, cluster);
  const [s1, s2] = [await status(cluster, 'fw1'), await status(cluster, 'fw2')];
  head('Replication just before the failure (fw1 → fw2, FTFW over sync0)');
  say(`fw1 kernel table      ${inKernel} of the demo's ${total} connections`);
  say(`fw2 external cache    ${onFw2} of them${onFw2 === inKernel ? ' (all)' : ` — ${inKernel - onFw2} MISSING`}`);
  const after = (v: number | undefined): string => (v !== undefined ? `${v.toFixed(0)} ms after the client had every connection up` : `NOT within ${HANG_MS / 1000} s`);
  say(`caught up             ${after(caughtUpMs)} (fw2's external cache as large as fw1's internal one)`);
  say(`fw2 complete          ${after(completeMs)} (fw1 has answered fw2's resync in full: ACKs past it)`);
  if (typeof s1 !== 'string' && typeof s2 !== 'string') {
    say(`keepstate status      fw1: internal cache ${s1.sync.internal}, ${s1.sync.queued} to send, ${s1.sync.awaitingAck} awaiting ACK`);
    const state = s2.sync.complete ? 'complete' : `INCOMPLETE (${s2.sync.detail ?? s2.sync.reason ?? '?'})`;
    say(`                      fw2: external cache ${s2.sync.external}, state ${state}, fw1 last heard ${s2.sync.lastHeardMs !== undefined ? `${s2.nowMs - s2.sync.lastHeardMs} ms ago` : 'never'}`);
    const lag = s1.sync.lag ?? {};
    const oldest = lag.oldestUnackedMs !== undefined ? `oldest of fw1's messages unacknowledged for ${lag.oldestUnackedMs} ms` : 'every message of fw1 acknowledged by fw2';
    say(`replication lag       ${oldest}${lag.lastAckRttMs !== undefined ? `; fw2's last ACK came ${lag.lastAckRttMs} ms after the message` : ''}`);
  }
  if (onFw2 < inKernel) throw new Error(`fw2 never held every connection (${onFw2} of ${inKernel})\n${cluster.logs()}`);
}

/** report prints a round's result and both firewalls' timelines since the event. */
async function report(lab: Lab, cluster: KeepstatedCluster, round: Round, r: RoundResult): Promise<void> {
  const down = isFailure(round.event);
  if (!r.settled) say('(the traffic had not settled after the previous event within the hang guard)');
  for (const l of roundLines(r, down)) say(l);
  if (r.failures.length > 0) say(`errors              ${r.failures.slice(0, 10).join(', ')}${r.failures.length > 10 ? ', …' : ''}`);
  const st = await statuses(cluster, lab);
  if (round.event === 'kill-9' && typeof st.get('fw1') === 'string') st.set('fw1', 'killed: no keepstated to ask');
  say("timeline (ms after the event; from each firewall's `keepstate status --json`):");
  for (const l of timelineLines(st, r.eventAtMs)) say(`  ${l}`);
  if (down) {
    const announced = stepTimes(st.get('fw2'), 'announced', r.eventAtMs);
    const med = r.firstMs[Math.floor(r.firstMs.length / 2)];
    if (announced.length > 0 && med !== undefined && med > Math.max(...announced) + 50) {
      say(`takeover done       fw2 forwarded from +${Math.max(...announced).toFixed(0)} ms (GARP sent); the first echoes came later, when the`);
      say("                    connections' TCP retransmission timers fired (they back off while the path is down)");
    }
  } else {
    // Between the old master removing its VIPs and the new one adding them, nobody holds them.
    const removed = stepTimes(st.get('fw2'), 'vips-removed', r.eventAtMs);
    const added = stepTimes(st.get('fw1'), 'vips-added', r.eventAtMs);
    if (removed.length > 0 && added.length > 0) {
      const gap = Math.max(...added) - Math.min(...removed);
      say(`VIPs unheld         ${gap > 0 ? `${gap.toFixed(1)} ms` : 'never'} (fw2 removed its first VIP at +${Math.min(...removed).toFixed(1)} ms, fw1 added its last at +${Math.max(...added).toFixed(1)} ms)`);
    }
  }
  const holder = down ? 'fw2' : 'fw1';
  say(`VIPs now on         ${holder}: ${vipsOn(lab, holder).join(', ') || 'none!'}`);
  say(`${holder} kernel table    ${await demoEntries(lab, holder)} of the demo's ${r.idle + r.sending} connections (conntrack dump, now)`);
}

/** teardown stops the traffic and the daemons and deletes the namespaces. */
async function teardown(rig: Rig): Promise<void> {
  step('tearing down: stopping the daemons and the traffic, deleting the namespaces');
  rig.traffic?.stop();
  await rig.cluster?.stop();
  rig.lab?.close();
  step('done');
}

/**
 * cleanupOnExit: on Ctrl-C (SIGINT) or SIGTERM this runs before the topology's own handler, which
 * then kills every process in the namespaces (by pid), deletes them and ends this process with
 * the signal; on any other end (an uncaught error, stdout closed) the topology's exit handler
 * does that. The daemons' directories are removed here in both cases.
 */
function cleanupOnExit(rig: Rig): void {
  const dirs = (): string[] => (rig.lab !== undefined && rig.cluster !== undefined ? rig.lab.spec.cluster.firewalls.map((f) => dirname(rig.cluster!.conf(f.node))) : []);
  const rmDirs = (): void => {
    for (const d of dirs()) rmSync(d, { recursive: true, force: true });
  };
  process.once('exit', rmDirs);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      say(`\n${clock()} ${sig}: tearing down`);
      rig.traffic?.stop();
      rmDirs();
    });
  }
}

async function run(o: Options): Promise<number> {
  const rig: Rig = {};
  cleanupOnExit(rig);
  try {
    head(`keepstate demo: ${o.connections} idle + ${o.sending} sending TCP connections through a NAT firewall pair, master failed twice`);
    const { lab, cluster, traffic } = await build(o, rig);
    await replication(lab, cluster, o.connections + o.sending);
    const results: { round: Round; r: RoundResult }[] = [];
    for (const round of ROUNDS) {
      head(round.title);
      for (const l of round.what) say(l);
      const prev = results[results.length - 1]?.r.aliveAfter;
      const r = await runRound(lab, cluster, traffic, round.label, round.event, { failing: 'fw1', other: 'fw2', hangMs: HANG_MS, ...(prev !== undefined ? { alive: prev } : {}) });
      results.push({ round, r });
      await report(lab, cluster, round, r);
    }
    head(`Summary: keepstated, ${o.connections} idle + ${o.sending} sending connections, VRRPv3 adverts every ${o.advert} s`);
    say(SUMMARY_HEAD);
    for (const { round, r } of results) say(summaryRow(round.short, r, isFailure(round.event)));
    const ok = results.every(({ r }) => survived(r));
    say(ok ? 'every connection survived every event, without a reset' : 'NOT every connection survived: see the rounds above');
    if (!ok) {
      const logFile = join(tmpdir(), `keepstate-demo-${process.pid}.log`);
      const log = (node: string): string => (existsSync(join(dirname(cluster.conf(node)), 'log')) ? readFileSync(join(dirname(cluster.conf(node)), 'log'), 'utf8') : '(no log)');
      writeFileSync(logFile, `${lab.spec.cluster.firewalls.map((f) => `--- ${f.node} keepstated log:\n${log(f.node)}`).join('\n')}\n--- traffic client:\n${traffic.output.slice(-20_000)}`);
      say(`the daemons' logs: ${logFile}`);
    }
    return ok ? 0 : 1;
  } finally {
    await teardown(rig);
  }
}

/** externalDemoEntries counts the demo's connections in fw2's external cache (`keepstated -e`). */
function externalDemoEntries(lab: Lab, cluster: KeepstatedCluster): number {
  const launcher = new URL('./keepstated-main.js', import.meta.url).pathname;
  const r = lab.ns('fw2').run(process.execPath, [launcher, '-C', cluster.conf('fw2'), '-e']);
  const re = new RegExp(`^tcp\\s.*?dst=${lab.spec.traffic.serverAddr.replaceAll('.', '\\.')} sport=\\d+ dport=${PORT}\\b`);
  return r.stdout.split('\n').filter((l) => re.test(l)).length;
}

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  if (typeof o === 'string') {
    if (o === '') process.stdout.write(USAGE);
    else process.stderr.write(`demo: ${o}\n${USAGE}`);
    return o === '' ? 0 : 2;
  }
  const why = rootSkipReason() ?? (hostHasCommand('nft') ? undefined : 'nft (nftables) is not installed');
  if (why !== undefined) {
    process.stderr.write(`demo: ${why}\n`);
    return 3;
  }
  try {
    return await run(o);
  } catch (e) {
    process.stderr.write(`\ndemo: FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 3;
  }
}

main().then(
  (code) => process.exit(code),
  () => process.exit(3),
);
