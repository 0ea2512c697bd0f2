import { ctEventKind, encodeCtEvent } from '../ctnetlink/event.js';
import { IPS, TCP_CONNTRACK } from '../ctnetlink/consts.js';
import type { Conntrack, CtEvent } from '../ctnetlink/types.js';
import { tryWriteCommitRecord } from '../engine/commit-bytes.js';
import { Replicator, type ReplicatorConfig, type ReplicatorPorts } from '../engine/replicator.js';
import { decodeBatch, encodeBatch } from '../native/batch.js';
import { inet4Sockaddr } from '../native/socket.js';
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
 * WARM_UP_ENTRIES: enough for V8 to finish compiling the per-entry and per-datagram functions. A
 * function is marked hot after some thousands of calls and compiled at its next call, on a helper
 * thread: with 5 000 many were marked and not yet compiled when the warm-up ended, and were
 * compiled during the first real burst. Measured in the benchmark rig (first burst of 100 000,
 * per-thread CPU from /proc, 2 × 5 runs each): V8's helper threads spent ~160 ms of CPU on the
 * sender and ~100 ms on the receiver during the burst after 5 000, ~115 and ~75 ms after 10 000,
 * ~95 and ~50 ms after 20 000.
 * Cost at start: ~0.7 s, ~1.2 s of CPU (compiles included), ~6 MiB more peak RSS than 5 000.
 */
export const WARM_UP_ENTRIES = 20000;
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
 * MARK is the 4-byte value that ends a template entry's original source address (10.255.255.254,
 * or 2001:db8::aff:fffe for IPv6) and its reply destination when not NAT'd; each made-up entry's
 * copy of the template carries its own value there (eventOf), which makes its tuple unique.
 */
const MARK = [10, 255, 255, 254] as const;
/** How many templates there are: entry i is a copy of template i % KINDS. */
const KINDS = 20;

/**
 * templateEntry is the k-th of the warm-up's KINDS kinds of entry: mostly IPv4 TCP (established, a
 * third of them source-NAT'd, as behind a firewall's masquerade), UDP, some ICMP and IPv6 — the
 * mix a firewall replicates, half of them as made by a process (with CTA_SYNPROXY), so that V8
 * compiles the paths with the type feedback real entries give. No CTA_USE: the kernel's events
 * carry none. Addresses come from the private and documentation ranges (RFC 1918, 5737, 3849);
 * nothing is sent anywhere.
 */
function templateEntry(k: number): Conntrack {
  const sport = 1024 + k;
  const base = IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED;
  const v4 = MARK.join('.');
  if (k === 19) {
    const src = `2001:db8::${((MARK[0] << 8) | MARK[1]).toString(16)}:${((MARK[2] << 8) | MARK[3]).toString(16)}`;
    return {
      family: 'ipv6',
      orig: { family: 'ipv6', src, dst: '2001:db8:1::1', proto: 6, srcPort: sport, dstPort: 443 },
      reply: { family: 'ipv6', src: '2001:db8:1::1', dst: src, proto: 6, srcPort: 443, dstPort: sport },
      status: base,
      protoinfo: TCP_ESTABLISHED,
      timeout: 432000,
      mark: 0,
      id: k,
    };
  }
  if (k === 18) {
    return {
      family: 'ipv4',
      orig: { family: 'ipv4', src: v4, dst: '192.0.2.1', proto: 1, icmpId: 0x4242, icmpType: 8, icmpCode: 0 },
      reply: { family: 'ipv4', src: '192.0.2.1', dst: v4, proto: 1, icmpId: 0x4242, icmpType: 0, icmpCode: 0 },
      status: IPS.CONFIRMED | IPS.SEEN_REPLY,
      timeout: 30,
      mark: 0,
      id: k,
    };
  }
  const proto = k < 11 ? 6 : 17;
  const nat = k % 3 === 0;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src: v4, dst: '203.0.113.10', proto, srcPort: sport, dstPort: proto === 6 ? 443 : 53 },
    reply: { family: 'ipv4', src: '203.0.113.10', dst: nat ? `198.51.100.${k}` : v4, proto, srcPort: proto === 6 ? 443 : 53, dstPort: nat ? 40000 + k : sport },
    status: base | (nat ? IPS.SRC_NAT | IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE : 0),
    ...(proto === 6 ? { protoinfo: TCP_ESTABLISHED } : {}),
    timeout: proto === 6 ? 432000 : 120,
    ...(k % 2 === 1 ? { synproxy: NO_SYNPROXY } : {}),
    mark: 0,
    id: k,
  };
}

/** Template is one event's netlink message and where MARK is in it. */
interface Template {
  readonly bytes: Uint8Array;
  readonly marks: readonly number[];
}

/** template encodes an event of the k-th template entry as the kernel sends it, with the port id `pid`. */
function template(kind: CtEvent['kind'], k: number, pid: number): Template {
  const ct = templateEntry(k);
  const m = encodeCtEvent({ kind, ct: kind === 'update' ? { ...ct, timeout: ct.timeout! - 1 } : ct });
  const bytes = encodeMessage(m.type, m.flags, 0, pid, m.payload);
  const marks: number[] = [];
  for (let o = 0; o + 4 <= bytes.length; o++) if (MARK.every((v, j) => bytes[o + j] === v)) marks.push(o);
  return { bytes, marks };
}

/** eventOf is the event of made-up entry `i`: its template's bytes with the entry's own mark. */
function eventOf(templates: readonly Template[], i: number): Uint8Array {
  const t = templates[i % KINDS]!;
  const out = t.bytes.slice();
  for (const o of t.marks) out.set([MARK[0], (i >>> 16) & 255, (i >>> 8) & 255, i & 255], o);
  return out;
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

/** A made-up process's netlink port id: the events a conntrack(8) or a peer's commit would cause. */
const MADE_UP_PORT_ID = 4242;

/**
 * madeUpEventBatches frames NEW events for `n` made-up entries as the event socket's addon batches
 * deliver them; from the second batch on, each also updates an eighth of the entries of the batch
 * before (a shorter timeout) and destroys two of them, as a firewall's table changes. Half of the
 * events carry a process's port id, half the kernel's (0). Made one batch at a time, from encoded
 * templates: the encoder is slow, and the warm-up's cost is paid at every start.
 */
export function* madeUpEventBatches(n: number): Generator<{ batch: Uint8Array; count: number }> {
  const kinds = (kind: CtEvent['kind']): Template[] => Array.from({ length: KINDS }, (_, k) => template(kind, k, k % 2 === 0 ? MADE_UP_PORT_ID : 0));
  const news = kinds('new');
  const updates = kinds('update');
  const destroys = kinds('destroy');
  for (let i = 0; i < n; i += EVENTS_PER_BATCH) {
    const events: Uint8Array[] = [];
    for (let j = i; j < Math.min(n, i + EVENTS_PER_BATCH); j++) events.push(eventOf(news, j));
    if (i > 0) {
      for (let j = i - EVENTS_PER_BATCH + 3; j < i; j += 8) events.push(eventOf(updates, j));
      events.push(eventOf(destroys, i - 2), eventOf(destroys, i - 1));
    }
    yield { batch: asAddonBuffer(encodeBatch(events.map((data) => ({ data, flags: 0 })))), count: events.length };
  }
}

/** madeUpEntriesLeft is how many of the `n` entries of madeUpEventBatches are not destroyed. */
export function madeUpEntriesLeft(n: number): number {
  return n - 2 * Math.max(0, Math.ceil(n / EVENTS_PER_BATCH) - 1);
}

/**
 * WarmUpPaths are the daemon's own ways into a replicator, for the warm-up to go through the code
 * the daemon runs (SyncNode passes its own; V8 compiles a call site for the closures and object
 * shapes it sees, and code compiled for others is thrown away at the first real event).
 */
export interface WarmUpPaths {
  /** port makes a replicator's port that hands each datagram to `send`. */
  port(send: (d: Uint8Array) => void): ReplicatorPorts;
  /** events feeds an event batch (`count` datagrams) to `rep`. */
  events(rep: Replicator, batch: Uint8Array, count: number, now: number): void;
  /** datagram hands a datagram received on the link to `rep`. */
  datagram(rep: Replicator, d: Uint8Array): void;
}

/** PLAIN_PATHS go straight to the replicator (tests, bench/pipeline.ts). */
export const PLAIN_PATHS: WarmUpPaths = {
  port: (send) => ({ send: (ds) => ds.forEach((d) => send(d)) }),
  events: (rep, batch, count, now) =>
    void walkEventBatch(batch, count, 0, Infinity, (type, flags, pid, start, end) => {
      const kind = ctEventKind(type, flags);
      if (kind !== undefined) rep.onKernelMessage(kind, batch, start, end, 'other', now);
    }),
  datagram: (rep, d) => rep.onDatagram(d, Date.now()),
};

/** The made-up peer's address, as recvmmsg names a datagram's source (struct sockaddr_in). */
const PEER_SOCKADDR = inet4Sockaddr('192.0.2.2', 3780);

/**
 * received hands datagrams back as the link receives them: packed by the addon with their source
 * address, split by decodeBatch (which the warm-up then compiles too) into subarrays of that batch.
 */
function received(ds: readonly Uint8Array[]): Uint8Array[] {
  if (ds.length === 0) return [];
  const batch = asAddonBuffer(encodeBatch(ds.map((data) => ({ data, flags: 0, name: PEER_SOCKADDR }))));
  return decodeBatch(batch, ds.length).map((d) => d.data);
}

/** Every ALIVE_EVERY batches both sides run their alive timers: ACKs and ALIVEs join the data in the queues, as in a daemon. */
const ALIVE_EVERY = 8;

/**
 * warmUp runs `n` made-up entries through the daemon's hot paths (`paths`: SyncNode's own), in
 * memory, before the daemon makes its replicator and opens its event socket: events → internal
 * cache → FTFW datagrams → a peer's external cache, ACKs and ALIVEs both ways → the create
 * requests of a commit (written, never sent). JavaScript starts out interpreted and V8
 * compiles what runs often while it runs; without this, the first burst of events a daemon sees
 * costs it about twice the CPU of later ones, and the first commit — a failover's, on a backup
 * that never committed before — runs its request writer interpreted for its first chunks. The
 * replicators here are private to the warm-up and dropped after it: the daemon's caches,
 * counters and sequence numbers are untouched.
 */
export function warmUp(cfg: ReplicatorConfig, paths: WarmUpPaths = PLAIN_PATHS, n: number = WARM_UP_ENTRIES): WarmUp {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const private_: ReplicatorConfig = { ...cfg, hashLimit: Math.max(n, 1), resendQueueSize: Math.max(cfg.resendQueueSize, n), commitTimeout: false };
  const toRx: Uint8Array[] = [];
  const tx = new Replicator(private_, paths.port((d) => void toRx.push(d)));
  const toTx: Uint8Array[] = [];
  const rx = new Replicator(private_, paths.port((d) => void toTx.push(d)));
  const exchange = (): void => {
    while (toRx.length > 0 || toTx.length > 0) {
      for (const d of received(toRx.splice(0))) paths.datagram(rx, d);
      rx.transmit();
      for (const d of received(toTx.splice(0))) paths.datagram(tx, d);
      tx.transmit();
    }
  };
  let k = 0;
  for (const { batch, count } of madeUpEventBatches(n)) {
    paths.events(tx, batch, count, Date.now());
    tx.transmit();
    exchange();
    if (k % ALIVE_EVERY === ALIVE_EVERY - 1) {
      // Twice in a row: the first queues the ACK pending, if any, the second an ALIVE.
      for (const r of [tx, rx]) {
        r.onAliveTimer();
        r.onAliveTimer();
        r.transmit();
      }
      exchange();
    }
    k++;
  }
  const arena = rx.external.arena;
  const opts = { nowMs: Date.now(), tcpWindowTracking: cfg.tcpWindowTracking };
  const framed = frameEach('create', rx.external.offsets(), (w, at) => tryWriteCommitRecord(w, arena, at, opts), rx.external.size, () => undefined);
  const cpu = process.cpuUsage(c0);
  return { entries: rx.external.size, requests: framed.accepted.length, cpuUs: cpu.user + cpu.system, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}
