import { readFileSync, writeFileSync } from 'node:fs';
import { inNetns } from '../native/socket.js';
import { dropFromPortsProgram, encodeSockFilter } from '../netlink/sock-filter.js';
import { NetlinkConn } from '../netlink/conn.js';
import { NETLINK } from '../netlink/consts.js';
import type { NlMessage } from '../netlink/message.js';
import { DecodeError } from '../wire/decode-error.js';
import { NFNL_SUBSYS, NFNLGRP } from './consts.js';
import { decodeCtEvent, decodeExpEvent } from './event.js';
import type { CtEvent, ExpEvent } from './types.js';

/** EventGroup names the ctnetlink multicast groups (NFNLGRP_CONNTRACK_*). */
export type EventGroup = 'new' | 'update' | 'destroy' | 'exp-new' | 'exp-update' | 'exp-destroy';

const GROUP_IDS: Readonly<Record<EventGroup, number>> = {
  new: NFNLGRP.CONNTRACK_NEW,
  update: NFNLGRP.CONNTRACK_UPDATE,
  destroy: NFNLGRP.CONNTRACK_DESTROY,
  'exp-new': NFNLGRP.CONNTRACK_EXP_NEW,
  'exp-update': NFNLGRP.CONNTRACK_EXP_UPDATE,
  'exp-destroy': NFNLGRP.CONNTRACK_EXP_DESTROY,
};

/**
 * EventBatch is what the stream yields: the events of one socket wakeup, or `overrun` when the
 * kernel dropped events (ENOBUFS) — the consumer must then resync from a dump.
 */
export type EventBatch = { readonly kind: 'events'; readonly events: readonly (CtEvent | ExpEvent)[] } | { readonly kind: 'overrun' };

/**
 * RawEventBatch is what subscribeRaw's stream yields: the datagrams of one wakeup as the addon
 * packed them (walk with forEachDatagram, then forEachNlMessage), or `overrun`.
 */
export type RawEventBatch = { readonly kind: 'raw'; readonly batch: Uint8Array; readonly count: number } | { readonly kind: 'overrun' };

/**
 * DEFAULT_EVENT_RCVBUF is the receive buffer we ship: 64 MiB (128 MiB effective) took 100 000 NEW
 * events at ~270 k/s with no loss in native-layer.md §1c; a ctnetlink event costs ~640 B of buffer.
 */
export const DEFAULT_EVENT_RCVBUF = 64 << 20;

export interface SubscribeOptions {
  readonly groups: readonly EventGroup[];
  /** SO_RCVBUFFORCE in bytes (default DEFAULT_EVENT_RCVBUF). */
  readonly rcvbufBytes?: number;
  readonly netns?: string;
  /**
   * Set net.netfilter.nf_conntrack_events=1 in the namespace (default true): with the kernel's
   * default 2 ("auto"), entries created while no listener existed never produce UPDATE/DESTROY
   * events (native-layer.md pitfall 2).
   */
  readonly enableEvents?: boolean;
  /** Batches queued in memory before reading pauses and the kernel buffer takes over (default 256). */
  readonly maxQueuedBatches?: number;
  /**
   * Hold-off of the socket's reader in ms (default 0; see ReceiveOptions.holdOffMs): during a flood
   * of events, one batch per period instead of a wakeup per few events. The first event after a
   * quiet spell is read at once; the others wait up to this long more.
   */
  readonly holdOffMs?: number;
}

/** Datagrams read per recvmmsg from an event socket: each holds one event of a few hundred bytes. */
const EVENT_SLOTS = 64;

/** EventStreamStats counts events delivered, overruns signalled and messages that did not decode. */
export interface EventStreamStats {
  events: number;
  overruns: number;
  malformed: number;
}

/**
 * EventStream is a subscription to conntrack/expectation events, consumed with `for await` or, by
 * one consumer, through `listen`. It owns its socket; `close()` ends the iteration.
 */
export class EventStream<B extends { readonly kind: string } = EventBatch> implements AsyncIterable<B> {
  readonly stats: EventStreamStats = { events: 0, overruns: 0, malformed: 0 };
  private readonly queue: B[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private sink: ((b: B) => boolean) | undefined;
  private held = false;
  private readonly maxQueued: number;

  constructor(
    private readonly conn: NetlinkConn,
    maxQueued: number,
    /** attach starts listening: `push` queues a batch for the consumer, `overrun` signals lost events. */
    attach: (conn: NetlinkConn, push: (b: B) => void, overrun: () => void, stats: EventStreamStats) => void,
  ) {
    this.maxQueued = maxQueued;
    attach(conn, (b) => this.push(b), () => this.stats.overruns++, this.stats);
  }

  /**
   * leave stops the kernel sending `group`'s events to this socket, join starts it again. With no
   * listener left for a group, the kernel does not even build its events.
   */
  leave(group: EventGroup): void {
    this.conn.leaveGroup(GROUP_IDS[group]);
  }
  join(group: EventGroup): void {
    this.conn.joinGroup(GROUP_IDS[group]);
  }

  /**
   * ignorePorts has the kernel drop the events caused by the netlink sockets `portIds` (a socket
   * filter on nlmsg_pid) before they reach the receive buffer: a node's own injections, whose
   * events it would only read to throw away, no longer take room that real events need.
   */
  ignorePorts(portIds: readonly number[]): void {
    this.conn.attachFilter(encodeSockFilter(dropFromPortsProgram(portIds)));
  }

  /** rcvbuf is the effective socket receive buffer in bytes. */
  rcvbuf(): number {
    return this.conn.rcvbuf();
  }

  /** reliable asks for reliable event delivery (conntrackd's NetlinkEventsReliable; see NetlinkConn.reliableBroadcast). */
  reliable(): void {
    this.conn.reliableBroadcast();
  }

  /** setRcvbuf makes the effective receive buffer `bytes` (it asks the kernel for half: the kernel doubles what it is given). */
  setRcvbuf(bytes: number): void {
    this.conn.setRcvbuf(Math.ceil(bytes / 2));
  }

  /**
   * listen hands each batch to `sink` synchronously, from the socket's callback: no promise and no
   * generator resumption per wakeup, which `for await` costs (an idle event's path is made of such
   * per-wakeup work). `sink` takes the batch; returning false, it asks for no more until
   * `release()` (it is still working through that one). Not together with `for await`.
   */
  listen(sink: (b: B) => boolean): void {
    if (this.sink !== undefined) throw new Error('EventStream.listen: the stream has a listener already');
    this.sink = sink;
    this.drain();
  }

  /** release lets a listener that returned false take batches again, starting with the queued ones. */
  release(): void {
    this.held = false;
    this.drain();
  }

  private drain(): void {
    while (!this.closed && !this.held) {
      const b = this.queue.shift();
      if (b === undefined) return;
      if (this.queue.length < this.maxQueued / 2) this.conn.resume();
      if (!this.sink!(b)) this.held = true;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<B, void, undefined> {
    while (!this.closed) {
      const b = this.queue.shift();
      if (b !== undefined) {
        if (this.queue.length < this.maxQueued / 2) this.conn.resume();
        yield b;
        continue;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.close();
    this.notify();
  }

  private push(b: B): void {
    this.queue.push(b);
    if (this.queue.length >= this.maxQueued) this.conn.pause();
    if (this.sink !== undefined) this.drain();
    else this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** subscribe opens an event socket joined to `groups`; events come decoded. */
export function subscribe(opts: SubscribeOptions): EventStream {
  return new EventStream<EventBatch>(openEventSocket(opts), opts.maxQueuedBatches ?? 256, (conn, push, overrun, stats) =>
    conn.listen(
      (msgs) => {
        const b = decodeBatch(msgs, stats);
        if (b !== undefined) push(b);
      },
      () => {
        overrun();
        push({ kind: 'overrun' });
      },
    ),
  );
}

/** subscribeRaw is subscribe for consumers that read the messages' bytes themselves. */
export function subscribeRaw(opts: SubscribeOptions): EventStream<RawEventBatch> {
  return new EventStream<RawEventBatch>(openEventSocket(opts), opts.maxQueuedBatches ?? 256, (conn, push, overrun, stats) =>
    conn.listenBatches(
      (batch, count) => {
        stats.events += count; // datagrams: the kernel sends one event per datagram
        push({ kind: 'raw', batch, count });
      },
      () => {
        overrun();
        push({ kind: 'overrun' });
      },
    ),
  );
}

function openEventSocket(opts: SubscribeOptions): NetlinkConn {
  if (opts.enableEvents ?? true) enableConntrackEvents(opts.netns);
  return NetlinkConn.open(NETLINK.NETFILTER, {
    rcvbufBytes: opts.rcvbufBytes ?? DEFAULT_EVENT_RCVBUF,
    slots: EVENT_SLOTS,
    ...(opts.holdOffMs !== undefined ? { holdOffMs: opts.holdOffMs } : {}),
    groups: opts.groups.map((g) => GROUP_IDS[g]),
    ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
  });
}

function decodeBatch(msgs: readonly NlMessage[], stats: EventStreamStats): EventBatch | undefined {
  const events: (CtEvent | ExpEvent)[] = [];
  for (const m of msgs) {
    const subsys = m.type >> 8;
    try {
      if (subsys === NFNL_SUBSYS.CTNETLINK) events.push(decodeCtEvent(m));
      else if (subsys === NFNL_SUBSYS.CTNETLINK_EXP) events.push(decodeExpEvent(m));
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      stats.malformed++;
    }
  }
  if (events.length === 0) return undefined;
  stats.events += events.length;
  return { kind: 'events', events };
}

const EVENTS_SYSCTL = '/proc/sys/net/netfilter/nf_conntrack_events';

/**
 * enableConntrackEvents sets net.netfilter.nf_conntrack_events=1 (a per-namespace sysctl) unless it
 * already is 1. Under the kernel default 2 ("auto"), an entry created while no ctnetlink listener
 * exists gets no event extension and never reports UPDATE or DESTROY, even after this is set (shown
 * by test/kernel/ctnetlink-events.test.ts): set it before traffic, and resync from a dump. Opening
 * the file inside the namespace (fs sync calls run on this thread) reads that namespace's value.
 * A missing or read-only sysctl is left alone: the socket will report what is wrong.
 */
export function enableConntrackEvents(netns?: string): void {
  const apply = (): void => {
    try {
      if (readFileSync(EVENTS_SYSCTL, 'utf8').trim() !== '1') writeFileSync(EVENTS_SYSCTL, '1\n');
    } catch {
      // not writable (no privilege) or absent
    }
  };
  if (netns === undefined) apply();
  else inNetns(netns, apply);
}
