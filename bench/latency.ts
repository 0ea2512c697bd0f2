// Idle one-flow latency of replication, two ways, one flow at a time (the replication pair idle
// otherwise):
//  - packets: AF_PACKET taps with kernel receive timestamps (SO_TIMESTAMPNS, the host's one
//    CLOCK_REALTIME, whatever the namespace) on A's client-side interface and on B's end of the sync
//    link; latency = B's receipt of the sync datagram carrying the flow − A's receipt of the flow's
//    packet. It leaves out B's own handling of the datagram (a few µs of CPU, see the per-entry
//    receiver CPU figure).
//  - poll: send the flow's packet, then ask B's control socket `-s` back to back until its external
//    cache has grown; latency = reply showing it − packet sent (this process's monotonic clock). It
//    includes B's handling, and overstates by up to one request round trip (reported alongside).
import { type Netns } from '../lab/netns.js';
import type { SyncMessage } from '../src/sync/index.js';
import { decodeDatagram } from '../src/sync/index.js';
import { AF, ETH_P, htons, ifNameToIndex, inet4Sockaddr, NativeSocket, packetSockaddr, SO, SOCK, SOL_SOCKET } from '../src/native/socket.js';
import { decodeCmsgTimespec, decodeCmsgs } from '../src/vrrp-io/sockopt.js';
import { FLOW_PAYLOAD, flowDest } from './flows.js';
import type { Daemon, Rig } from './rig.js';

const PACKET_OUTGOING = 4; // sockaddr_ll.sll_pkttype of a packet the host sends
const SYNC_PORT = 3780;
const GIVE_UP_MS = 2000; // one flow: longer than this counts as not replicated

export interface LatencyResult {
  readonly packetMs: number[];
  readonly pollMs: number[];
  readonly pollRttMs: number[];
  readonly missed: number; // flows not replicated within GIVE_UP_MS (either pass)
}

/** rxTimestampUs is the SCM_TIMESTAMPNS of a datagram's ancillary bytes (µs since the epoch), if any. */
function rxTimestampUs(ctrl: Uint8Array | undefined): number | undefined {
  const c = decodeCmsgs(ctrl ?? new Uint8Array(0)).find((m) => m.level === SOL_SOCKET && m.type === SO.TIMESTAMPNS);
  return c === undefined ? undefined : decodeCmsgTimespec(c.data);
}

/** Udp4 is the part of an IPv4/UDP packet the taps look at. */
interface Udp4 {
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
  readonly payload: Uint8Array;
}

function parseUdp4(p: Uint8Array): Udp4 | undefined {
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 17) return undefined;
  const ihl = (p[0]! & 15) * 4;
  if (p.length < ihl + 8) return undefined;
  return {
    src: `${p[12]}.${p[13]}.${p[14]}.${p[15]}`,
    dst: `${p[16]}.${p[17]}.${p[18]}.${p[19]}`,
    dport: (p[ihl + 2]! << 8) | p[ihl + 3]!,
    payload: p.subarray(ihl + 8),
  };
}

/** tap opens an AF_PACKET socket on one interface of `ns` that reports each received (not sent) IPv4 UDP packet with its kernel timestamp. */
function tap(ns: Netns, dev: string, onPacket: (u: Udp4, tsUs: number) => void): NativeSocket {
  const s = NativeSocket.open(AF.PACKET, SOCK.DGRAM, htons(ETH_P.ALL), { netns: ns.name });
  try {
    s.bind(packetSockaddr(ifNameToIndex(dev, { netns: ns.name }), ETH_P.ALL));
    s.setsockoptInt(SOL_SOCKET, SO.TIMESTAMPNS, 1);
    s.startReceiving(
      { slots: 64, slotSize: 2048, ctrlSize: 64, wantName: true },
      (batch) => {
        for (const d of batch) {
          if (d.name !== undefined && d.name[10] === PACKET_OUTGOING) continue;
          const u = parseUdp4(d.data);
          const ts = rxTimestampUs(d.ctrl);
          if (u !== undefined && ts !== undefined) onPacket(u, ts);
        }
      },
      (e) => process.stderr.write(`tap ${dev}: ${e.message}\n`),
    );
    return s;
  } catch (e) {
    s.close();
    throw e;
  }
}

const key = (addr: string, port: number): string => `${addr}:${port}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const idleGap = (): Promise<void> => sleep(10 + Math.random() * 20); // random, so no alignment with 1 s timers

/**
 * measureLatency sends `flows` single-packet flows per pass (packets pass, then poll pass), one
 * at a time, from C through A, while `receiver` (B's daemon) and A's daemon run. `firstAddr`
 * selects fresh destinations (flowDest) so no earlier flow is reused.
 */
export async function measureLatency(rig: Rig, receiver: Daemon, flows: number, firstAddr: number): Promise<LatencyResult> {
  const sender = NativeSocket.open(AF.INET, SOCK.DGRAM, 0, { netns: rig.c.name });
  const flowSeen = new Map<string, number>();
  const syncSeen = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const taps: NativeSocket[] = [];
  let missed = 0;
  try {
    sender.bind(inet4Sockaddr('0.0.0.0', 40_001));
    taps.push(
      tap(rig.a, 'c0', (u, ts) => {
        const k = key(u.dst, u.dport);
        if (!flowSeen.has(k)) flowSeen.set(k, ts);
      }),
      tap(rig.b, 'sync0', (u, ts) => {
        if (u.src !== '10.233.0.1' || u.dport !== SYNC_PORT) return;
        for (const m of decodeDatagram(u.payload).messages as SyncMessage[]) {
          if (m.kind !== 'ct' || m.ct.orig?.dstPort === undefined) continue;
          const k = key(m.ct.orig.dst, m.ct.orig.dstPort);
          if (syncSeen.has(k)) continue;
          syncSeen.set(k, ts);
          waiters.get(k)?.();
        }
      }),
    );
    // Pass 1: packet timestamps only (this process is idle meanwhile, so it steals no CPU).
    const packetMs: number[] = [];
    for (let i = 0; i < flows; i++) {
      const d = flowDest(i, firstAddr);
      const k = key(d.addr, d.port);
      let timer: NodeJS.Timeout | undefined;
      const seen = new Promise<void>((resolve) => {
        waiters.set(k, resolve);
        timer = setTimeout(resolve, GIVE_UP_MS);
      });
      sender.send(FLOW_PAYLOAD, inet4Sockaddr(d.addr, d.port));
      await seen;
      clearTimeout(timer);
      waiters.delete(k);
      await sleep(5); // the flow tap's batch may come after the sync tap's
      const a = flowSeen.get(k);
      const b = syncSeen.get(k);
      if (a !== undefined && b !== undefined) packetMs.push((b - a) / 1000);
      else missed++;
      await idleGap();
    }
    for (const t of taps) t.close();
    taps.length = 0;
    // Pass 2: poll the receiver's cache.
    const pollMs: number[] = [];
    const pollRttMs: number[] = [];
    for (let i = 0; i < flows; i++) {
      const d = flowDest(i, firstAddr + 1);
      const base = (await receiver.counts()).external;
      const t0 = process.hrtime.bigint();
      sender.send(FLOW_PAYLOAD, inet4Sockaddr(d.addr, d.port));
      for (;;) {
        const q0 = process.hrtime.bigint();
        const c = await receiver.counts();
        const now = process.hrtime.bigint();
        pollRttMs.push(Number(now - q0) / 1e6);
        if (c.external > base) {
          pollMs.push(Number(now - t0) / 1e6);
          break;
        }
        if (Number(now - t0) / 1e6 > GIVE_UP_MS) {
          missed++;
          break;
        }
      }
      await idleGap();
    }
    return { packetMs, pollMs, pollRttMs, missed };
  } finally {
    for (const t of taps) t.close();
    sender.close();
  }
}
