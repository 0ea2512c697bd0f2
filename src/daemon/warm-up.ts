import { ctEventKind, encodeCtEvent } from '../ctnetlink/event.js';
import { IPS, TCP_CONNTRACK } from '../ctnetlink/consts.js';
import type { Conntrack } from '../ctnetlink/types.js';
import { tryWriteCommitRecord } from '../engine/commit-bytes.js';
import { Replicator, type ReplicatorConfig } from '../engine/replicator.js';
import { encodeBatch } from '../native/batch.js';
import { encodeMessage } from '../netlink/message.js';
import { frameEach } from './committer.js';
import { walkEventBatch } from './event-walk.js';

/**
 * WarmUp is what a warm-up did and cost: entries that reached the peer's external cache, create
 * requests written for them, CPU (µs, every thread of the process: V8 compiles on its own) and
 * wall time (ms).
 */
export interface WarmUp {
  readonly entries: number;
  readonly requests: number;
  readonly cpuUs: number;
  readonly ms: number;
}

/**
 * WARM_UP_ENTRIES: enough for V8 to compile the per-entry functions (a function is optimized after
 * some hundreds to thousands of calls). Measured in the benchmark rig (first burst of 100 000,
 * 3 × 3 runs): 5 000 and 20 000 cut the same CPU, 20 000 left 10 MiB more peak RSS.
 */
export const WARM_UP_ENTRIES = 5000;
/** Events per receive batch, as the addon's batches carry them in a burst (64 slots a wakeup). */
const EVENTS_PER_BATCH = 64;

/**
 * CTA_PROTOINFO of an established TCP entry as the kernel reports one: flags 0x23 are
 * IP_CT_TCP_FLAG_WINDOW_SCALE | SACK_PERM | MAXACK_SET, window scale 7 both ways.
 */
const TCP_ESTABLISHED = {
  tcp: { state: TCP_CONNTRACK.ESTABLISHED, wscaleOrig: 7, wscaleReply: 7, flagsOrig: { flags: 0x23, mask: 0 }, flagsReply: { flags: 0x23, mask: 0 } },
};

/**
 * CTA_SYNPROXY as the kernel reports it for an entry made through ctnetlink (a commit's, conntrack
 * -I): ctnetlink_create_conntrack adds the synproxy extension to every entry it creates.
 */
const NO_SYNPROXY = { isn: 0, its: 0, tsoff: 0 };

/**
 * madeUpEntry is the i-th entry of the warm-up's table: mostly IPv4 TCP (established, a third of
 * them source-NAT'd, as behind a firewall's masquerade), UDP, some ICMP and IPv6 — the mix a
 * firewall replicates, half of them as made by a process (with CTA_SYNPROXY), so that V8 compiles
 * the paths with the type feedback real entries give. No CTA_USE: the kernel's events carry none.
 * Addresses come from the private and documentation ranges (RFC 1918, 5737, 3849); nothing is
 * sent anywhere.
 */
function madeUpEntry(i: number): Conntrack {
  const a = `${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
  const sport = 1024 + (i % 60000);
  const kind = i % 20;
  const base = IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED;
  if (kind === 19) {
    const src = `2001:db8::${(i & 0xffff).toString(16)}`;
    return {
      family: 'ipv6',
      orig: { family: 'ipv6', src, dst: '2001:db8:1::1', proto: 6, srcPort: sport, dstPort: 443 },
      reply: { family: 'ipv6', src: '2001:db8:1::1', dst: src, proto: 6, srcPort: 443, dstPort: sport },
      status: base,
      protoinfo: TCP_ESTABLISHED,
      timeout: 432000,
      mark: 0,
      id: i,
    };
  }
  if (kind === 18) {
    return {
      family: 'ipv4',
      orig: { family: 'ipv4', src: `10.${a}`, dst: '192.0.2.1', proto: 1, icmpId: i & 0xffff, icmpType: 8, icmpCode: 0 },
      reply: { family: 'ipv4', src: '192.0.2.1', dst: `10.${a}`, proto: 1, icmpId: i & 0xffff, icmpType: 0, icmpCode: 0 },
      status: IPS.CONFIRMED | IPS.SEEN_REPLY,
      timeout: 30,
      mark: 0,
      id: i,
    };
  }
  const proto = kind < 11 ? 6 : 17;
  const nat = kind % 3 === 0;
  const replyDst = nat ? `198.51.100.${i & 255}` : `10.${a}`;
  const replyPort = nat ? 1024 + ((i * 7) % 60000) : sport;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src: `10.${a}`, dst: '203.0.113.10', proto, srcPort: sport, dstPort: proto === 6 ? 443 : 53 },
    reply: { family: 'ipv4', src: '203.0.113.10', dst: replyDst, proto, srcPort: proto === 6 ? 443 : 53, dstPort: replyPort },
    status: base | (nat ? IPS.SRC_NAT | IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE : 0),
    ...(proto === 6 ? { protoinfo: TCP_ESTABLISHED } : {}),
    timeout: proto === 6 ? 432000 : 120,
    ...(i % 2 === 1 ? { synproxy: NO_SYNPROXY } : {}),
    mark: 0,
    id: i,
  };
}

/**
 * asAddonBuffer views `b` as the addon hands batches over: napi_create_buffer_copy makes a
 * Uint8Array and sets its prototype to Buffer.prototype, which gives it a hidden class of its own
 * (not that of a Buffer made in JavaScript). Code V8 compiled for one deoptimizes on the other
 * ("wrong map"), and the warm-up would be thrown away at the first real batch.
 */
function asAddonBuffer(b: Uint8Array): Buffer {
  return Object.setPrototypeOf(new Uint8Array(b.buffer, b.byteOffset, b.length), Buffer.prototype) as Buffer;
}

/** madeUpEventBatches frames `n` made-up NEW events as the event socket's addon batches deliver them. */
function madeUpEventBatches(n: number): { batch: Uint8Array; count: number }[] {
  const out: { batch: Uint8Array; count: number }[] = [];
  for (let i = 0; i < n; i += EVENTS_PER_BATCH) {
    const datagrams = [];
    for (let j = i; j < Math.min(n, i + EVENTS_PER_BATCH); j++) {
      const ev = encodeCtEvent({ kind: 'new', ct: madeUpEntry(j) });
      datagrams.push({ data: encodeMessage(ev.type, ev.flags, 0, 0, ev.payload), flags: 0 });
    }
    out.push({ batch: asAddonBuffer(encodeBatch(datagrams)), count: datagrams.length });
  }
  return out;
}

/**
 * warmUp runs `n` made-up entries through the daemon's hot paths, in memory, before the daemon
 * opens anything: NEW events → internal cache → FTFW datagrams → a peer's external cache → the
 * create requests of a commit (written, never sent). JavaScript starts out interpreted and V8
 * compiles what runs often while it runs; without this, the first burst of events a daemon sees
 * costs it about twice the CPU of later ones, and the first commit — a failover's, on a backup
 * that never committed before — runs its request writer interpreted for its first chunks. The
 * replicators here are private to the warm-up and dropped after it: the daemon's caches,
 * counters and sequence numbers are untouched.
 */
export function warmUp(cfg: ReplicatorConfig, n: number = WARM_UP_ENTRIES): WarmUp {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const private_: ReplicatorConfig = { ...cfg, hashLimit: Math.max(n, 1), resendQueueSize: Math.max(cfg.resendQueueSize, n), commitTimeout: false };
  const sent: Uint8Array[] = [];
  const tx = new Replicator(private_, { send: (ds) => void sent.push(...ds) });
  const acks: Uint8Array[] = [];
  const rx = new Replicator(private_, { send: (ds) => void acks.push(...ds) });
  for (const { batch, count } of madeUpEventBatches(n)) {
    const now = Date.now();
    walkEventBatch(batch, count, 0, Infinity, (type, flags, _pid, start, end) => {
      const kind = ctEventKind(type, flags);
      if (kind !== undefined) tx.onKernelMessage(kind, batch, start, end, 'other', now);
    });
    tx.transmit();
    // Received datagrams are Buffers made in JavaScript (subarrays of the addon's batch).
    for (const d of sent.splice(0)) rx.onDatagram(Buffer.from(d), now);
    rx.transmit();
    for (const d of acks.splice(0)) tx.onDatagram(Buffer.from(d), now);
  }
  const arena = rx.external.arena;
  const opts = { nowMs: Date.now(), tcpWindowTracking: cfg.tcpWindowTracking };
  const framed = frameEach('create', rx.external.offsets(), (w, at) => tryWriteCommitRecord(w, arena, at, opts), rx.external.size, () => undefined);
  const cpu = process.cpuUsage(c0);
  return { entries: rx.external.size, requests: framed.accepted.length, cpuUs: cpu.user + cpu.system, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}
