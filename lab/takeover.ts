import { ConntrackClient } from '../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../src/ctnetlink/consts.js';
import type { Conntrack } from '../src/ctnetlink/types.js';
import type { Cluster } from './cluster.js';
import { removeVips, vipsOn, type Lab } from './topology.js';
import type { Traffic } from './traffic.js';

/**
 * The takeover harness: brutal failures of a HALF cluster's master while lab/traffic.ts keeps
 * idle and sending connections through its SNAT, measured the same way for every system.
 */

/**
 * otherNatEntries builds `n` ESTABLISHED TCP entries 10.250.x.y → 203.0.113.z:443 SNAT'd to
 * `natIp` from ports 20000…: replicated state other than the measured connections, so that the
 * new master's commit has work. Their remote side never meets the lab's server, so their NAT
 * bindings cannot collide with the measured connections' random ones.
 */
export function otherNatEntries(n: number, natIp: string): Conntrack[] {
  return Array.from({ length: n }, (_, i) => {
    const src = `10.250.${(i >> 8) & 0xff}.${i & 0xff}`;
    // The reply tuple (dst:443 → natIp:port) must be unique: the port runs through 40 000 values,
    // the server address changes every 40 000 entries (unique up to 8 000 000).
    const dst = `203.0.113.${1 + (Math.floor(i / 40_000) % 200)}`;
    return {
      family: 'ipv4',
      orig: { family: 'ipv4', src, dst, proto: IPPROTO.TCP, srcPort: 1024 + (i % 50_000), dstPort: 443 },
      reply: { family: 'ipv4', src: dst, dst: src, proto: IPPROTO.TCP, srcPort: 443, dstPort: 1024 + (i % 50_000) },
      natSrc: { minIp: natIp, minPort: 20_000 + (i % 40_000) },
      status: IPS.SEEN_REPLY | IPS.ASSURED,
      timeout: 3600,
      protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
    } satisfies Conntrack;
  });
}

/** kernelCount is how many entries `node`'s conntrack table holds (IPCTNL_MSG_CT_GET_STATS). */
export async function kernelCount(lab: { ns(node: string): { readonly name: string } }, node: string): Promise<number> {
  const c = ConntrackClient.open({ netns: lab.ns(node).name });
  try {
    return (await c.count()).entries;
  } finally {
    c.close();
  }
}

/** createEntries puts `cts` into `netns`'s table through ctnetlink and returns how many the kernel refused. */
export async function createEntries(netns: string, cts: readonly Conntrack[]): Promise<number> {
  const c = ConntrackClient.open({ netns });
  try {
    let refused = 0;
    for (let i = 0; i < cts.length; i += 2000) refused += (await c.create(cts.slice(i, i + 2000))).filter((r) => !r.ok).length;
    return refused;
  } finally {
    c.close();
  }
}

/** flushTable empties `netns`'s conntrack table (what a reboot does). */
export async function flushTable(netns: string): Promise<void> {
  const c = ConntrackClient.open({ netns });
  try {
    await c.flush();
  } finally {
    c.close();
  }
}

/** RoundResult is one failure or failback, measured from the instant of the event. */
export interface RoundResult {
  readonly label: string;
  /** Connections alive after the round, of those alive before it (`idle`, `sending`). */
  readonly idleAlive: number;
  readonly idle: number;
  readonly sendingAlive: number;
  readonly sending: number;
  readonly aliveAfter: { readonly idle: ReadonlySet<number>; readonly send: ReadonlySet<number> };
  /** resets: connections that saw ECONNRESET during the round; failures: every error or close line. */
  readonly resets: number;
  readonly failures: readonly string[];
  /** Out-of-order or foreign lines on any connection since the traffic started. */
  readonly bad: number;
  /** ms from the event to the first echo of a line sent after it, per sending connection that echoed. */
  readonly firstMs: readonly number[];
  /** The longest wait for an echo on any sending connection during the round, ms. */
  readonly maxGapMs: number;
  /** Whether the traffic was flowing before the event (false: the round started after its hang guard). */
  readonly settled: boolean;
  /** ms from the event until the VIPs were seen on their new holder (polled every 20 ms). */
  readonly vipsMovedMs: number | undefined;
  /** The event's instant, wall clock (Date.now()), to place the daemons' timelines against it. */
  readonly eventAtMs: number;
}

export type RoundEvent = 'links-down' | 'links-up' | 'kill-9' | 'reboot';

/** RoundOptions: who fails, who takes over, and the hang guards (not timing bounds). */
export interface RoundOptions {
  readonly failing: string; // the master that fails, or the node that comes back
  readonly other: string; // the node that must hold the VIPs afterwards (the new master), or loses them
  readonly hangMs: number;
  /** The connections alive before the round (default: all); the round waits for these only. */
  readonly alive?: { readonly idle: ReadonlySet<number>; readonly send: ReadonlySet<number> };
}

/**
 * runRound performs `event` at a marked instant and measures what the traffic saw:
 *   links-down  every port of `failing` goes down on the switch side (a pulled box); `other` takes over;
 *   links-up    they come back; `failing` preempts, `other` gives the VIPs back;
 *   kill-9      the firewall dies: its daemons are SIGKILLed and its ports go down in the same
 *               instant (a box whose failover daemon is dead but whose kernel still forwards and
 *               answers ARP for the VIPs is a split brain, not a failover);
 *   reboot      the box returns as after a reboot: empty conntrack table, no VIPs, stale lock files
 *               gone; its ports come up and its daemons start; it preempts.
 */
export async function runRound(lab: Lab, cluster: Cluster, traffic: Traffic, label: string, event: RoundEvent, o: RoundOptions): Promise<RoundResult> {
  const alive = o.alive ?? { idle: traffic.ids('idle'), send: traffic.ids('send') };
  // TCP backs off its retransmissions during an outage: a round starts once the last one's echoes flow again.
  const settled = await traffic.flowing(alive.send, o.hangMs);
  const failuresBefore = new Set(traffic.failures());
  const resetsBefore = traffic.resets();
  await traffic.stats(); // start the round's gap measure
  if (event === 'reboot') {
    removeVips(lab, o.failing);
    await flushTable(lab.ns(o.failing).name);
  }
  const t0 = Date.now();
  switch (event) {
    case 'links-down':
      lab.setAllPorts(o.failing, false);
      break;
    case 'links-up':
      lab.setAllPorts(o.failing, true);
      break;
    case 'kill-9':
      lab.setAllPorts(o.failing, false);
      await cluster.killHard(o.failing);
      break;
    case 'reboot':
      lab.setAllPorts(o.failing, true);
      await cluster.restart(o.failing);
      break;
  }
  // The mark comes after the event, so that every line counted was written after it; the echo
  // times are then shifted back to the event's start.
  const markedAt = await traffic.mark(label);
  const markDelayMs = Math.max(0, markedAt - t0);
  const holder = event === 'links-down' || event === 'kill-9' ? o.other : o.failing;
  const loser = holder === o.other ? o.failing : o.other;
  const want = lab.spec.cluster.vrrp.length;
  let vipsMovedMs: number | undefined;
  const end = t0 + o.hangMs;
  // The loser of a links-down or kill-9 round may keep its VIPs (it is cut off): only the holder counts then.
  const moved = (): boolean => vipsOn(lab, holder).length === want && (holder === o.failing ? vipsOn(lab, loser).length === 0 : true);
  while (!moved() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  if (moved()) vipsMovedMs = Date.now() - t0;
  const firsts = await traffic.waitFirsts(label, alive.send, Math.max(1000, end - Date.now()));
  const probed = await traffic.probe(label, alive.idle, Math.max(1000, end - Date.now()));
  const stats = await traffic.stats();
  const failures = traffic.failures().filter((f) => !failuresBefore.has(f));
  // A connection that echoed and was reset afterwards (a failback that went wrong) is not alive.
  const failed = new Set(failures.map((f) => Number(f.split(' ')[1])));
  const idleAlive = new Set([...probed].filter((id) => alive.idle.has(id) && !failed.has(id)));
  const sendAlive = new Set([...firsts.keys()].filter((id) => alive.send.has(id) && !failed.has(id)));
  return {
    label,
    idleAlive: idleAlive.size,
    idle: alive.idle.size,
    sendingAlive: sendAlive.size,
    sending: alive.send.size,
    aliveAfter: { idle: idleAlive, send: sendAlive },
    resets: traffic.resets() - resetsBefore,
    failures,
    bad: stats.reduce((s, c) => s + c.bad, 0),
    firstMs: [...firsts.values()].map((ms) => ms + markDelayMs).sort((a, b) => a - b),
    settled,
    maxGapMs: Math.max(0, ...stats.filter((c) => c.kind === 'send').map((c) => c.maxGapMs)),
    vipsMovedMs,
    eventAtMs: t0,
  };
}

/** formatRound is one line of the report: survival, resets, first echo (median [min–max]), longest gap. */
export function formatRound(system: string, r: RoundResult): string {
  const f = r.firstMs;
  const med = f.length > 0 ? f[Math.floor(f.length / 2)]! : undefined;
  const first = med !== undefined ? `${med.toFixed(0)} ms [${f[0]!.toFixed(0)}–${f[f.length - 1]!.toFixed(0)}]` : '—';
  return (
    `${system} ${r.label}: idle ${r.idleAlive}/${r.idle} alive, sending ${r.sendingAlive}/${r.sending} alive, ` +
    `resets ${r.resets}, errors ${r.failures.length}, bad lines so far ${r.bad}, first echo after the event ${first}, ` +
    `longest gap ${r.maxGapMs.toFixed(0)} ms, VIPs moved after ${r.vipsMovedMs ?? '—'} ms`
  );
}
