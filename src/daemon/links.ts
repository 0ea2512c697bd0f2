import type { SyncConfig } from '../config/conntrackd/types.js';
import { NETLINK, NLM_F } from '../netlink/consts.js';
import { NetlinkConn } from '../netlink/conn.js';
import type { NlMessage } from '../netlink/message.js';
import { AF } from '../native/socket.js';
import { openChannel, type DatagramSource, type LinkStats, type SyncChannel } from '../sync/channel.js';
import { openTcpChannel, type TcpConnections, type TcpSyncChannel } from '../sync/tcp-channel.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import type { ChannelStats } from '../control/stats.js';
import type { Logger } from './log.js';

/**
 * Redundant dedicated links (conntrackd-protocol.md §2.12), as conntrackd 1.4.7's multichannel:
 * every channel of the Sync section is open and receives; sending goes to the current one only.
 * The current link is the `Default` one at start (else the first), then changes
 * - on reception: a datagram with a valid message makes its link current (the node answers on the
 *   link its peer speaks on), decided by the receive handler's return value;
 * - on failure: rtnetlink link events are watched in the links' namespace, and when the current
 *   link's interface loses IFF_UP or IFF_RUNNING the first other link (configuration order) whose
 *   interface has either becomes current, logging "device `X' becomes dedicated link", or
 *   "no dedicated links available!" when none has.
 * There is no failback: a link that comes back up stays a backup until one of the two happens.
 */

// uapi/linux/rtnetlink.h, if.h
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTNLGRP_LINK = 1;
const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
const IFINFOMSG_LEN = 16;

/** LinkStatus is `-s link`'s status word for an interface's flags (channel_stats_extended). */
export type LinkStatus = 'RUNNING' | 'NO-CARRIER' | 'DOWN';

export function linkStatus(flags: number): LinkStatus {
  if ((flags & IFF_RUNNING) !== 0) return 'RUNNING';
  if ((flags & IFF_UP) !== 0) return 'NO-CARRIER';
  return 'DOWN';
}

/** LinkView is one channel as `-s link` shows it. */
export interface LinkView {
  readonly kind: 'multicast' | 'udp' | 'tcp';
  readonly device: string;
  readonly status: LinkStatus;
  readonly stats: LinkStats;
  /** TCP links: whether the server side has a peer and the client side is connected (`-s`). */
  readonly tcp?: TcpConnections;
}

/** channelStats turns a link's view into the control protocol's figures (`-s`, `-s link`). */
export function channelStats(l: LinkView): ChannelStats {
  const base = {
    ifname: l.device,
    status: l.status,
    sent: { bytes: BigInt(l.stats.bytesSent), messages: BigInt(l.stats.packetsSent), errors: BigInt(l.stats.errorsSend) },
    recv: { bytes: BigInt(l.stats.bytesRecv), messages: BigInt(l.stats.packetsRecv), errors: BigInt(l.stats.errorsRecv) },
  };
  return l.kind === 'tcp' ? { ...base, kind: l.kind, serverConnected: l.tcp?.server ?? false, clientConnected: l.tcp?.client ?? false } : { ...base, kind: l.kind };
}

/**
 * DatagramHandler receives every link's datagrams; returning true says the datagram carried a
 * valid message (data or control), which makes `link` the current link.
 */
export type DatagramHandler = (datagram: Uint8Array, from: DatagramSource, link: number) => boolean | void;

/** decodeIfinfo reads an RTM_NEWLINK/DELLINK payload's index and flags (0 when deleted). */
function decodeIfinfo(m: NlMessage): { index: number; flags: number } | undefined {
  if (m.payload.length < IFINFOMSG_LEN) return undefined;
  const r = new Reader(m.payload, 0, m.payload.length, ['ifinfomsg']);
  r.skip(4); // family, pad, type
  const index = r.i32ne();
  const flags = r.u32ne();
  return { index, flags: m.type === RTM_DELLINK ? 0 : flags };
}

/** queryFlags asks rtnetlink for one interface's flags (a one-shot socket in the namespace). */
async function queryFlags(ifindex: number, netns: string | undefined): Promise<number> {
  const nl = NetlinkConn.open(NETLINK.ROUTE, netns !== undefined ? { netns } : {});
  try {
    const body = new Writer(IFINFOMSG_LEN).u8(AF.UNSPEC).u8(0).u16ne(0).u32ne(ifindex).u32ne(0).u32ne(0).finish();
    for (const m of await nl.request({ type: RTM_GETLINK, flags: NLM_F.REQUEST, body }, 'RTM_GETLINK')) {
      const info = decodeIfinfo(m);
      if (info !== undefined && info.index === ifindex) return info.flags;
    }
    return 0;
  } finally {
    nl.close();
  }
}

/** Links owns the open channels of a Sync section and the interface watcher. */
export class Links {
  /** The smallest payload limit over the links: a datagram built for it fits on any of them. */
  readonly mtu: number;
  readonly overhead: number;
  private cur: number;
  private readonly flags = new Map<number, number>(); // ifindex → IFF_* flags
  private errorFn: ((err: Error) => void) | undefined;
  private upFn: (() => void) | undefined;
  /** Whether a dedicated link was usable at the last check (onUp fires when one is again). */
  private usable = true;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly channels: readonly SyncChannel[],
    initial: number,
    private readonly watcher: NetlinkConn,
    private readonly log: Logger,
  ) {
    this.cur = initial;
    this.overhead = Math.max(...channels.map((c) => c.overhead));
    this.mtu = Math.min(...channels.map((c) => c.mtu - c.overhead)) + this.overhead;
    channels.forEach((c) => c.onError((e) => this.errorFn?.(e)));
  }

  /**
   * open opens every channel of `sync` (all UDP, all Multicast or all TCP) and the link watcher, in
   * `netns` when given. A channel that fails closes the ones already open.
   */
  static async open(sync: SyncConfig, log: Logger, opts: { netns?: string } = {}): Promise<Links> {
    const ns = opts.netns !== undefined ? { netns: opts.netns } : {};
    const opened: SyncChannel[] = [];
    let watcher: NetlinkConn | undefined;
    try {
      for (const cfg of sync.channels) {
        opened.push(cfg.kind === 'tcp' ? await openTcpChannel(cfg, { ...ns, errorQueueLength: sync.errorQueueLength }) : await openChannel(cfg, ns));
      }
      if (opened.length === 0) throw new Error('no dedicated link configured');
      // Join the link group before reading the flags: changes in between wait in the socket and
      // are applied after the answers, so the newest state wins.
      watcher = NetlinkConn.open(NETLINK.ROUTE, { ...ns, groups: [RTNLGRP_LINK] });
      const links = new Links(opened, sync.defaultChannel < opened.length ? sync.defaultChannel : 0, watcher, log);
      for (const c of opened) if (!links.flags.has(c.ifindex)) links.flags.set(c.ifindex, await queryFlags(c.ifindex, opts.netns));
      watcher.listen(
        (msgs) => links.onLinkMessages(msgs),
        () => void links.resyncFlags(opts.netns), // overrun: events lost, read the flags again
      );
      return links;
    } catch (e) {
      watcher?.close();
      await Promise.all(opened.map((c) => c.close()));
      throw e;
    }
  }

  /** current is the index (configuration order) of the link messages go out on. */
  get current(): number {
    return this.cur;
  }

  private get active(): SyncChannel {
    return this.channels[this.cur]!;
  }

  get device(): string {
    return this.active.device;
  }

  get kind(): 'multicast' | 'udp' | 'tcp' {
    return this.active.kind;
  }

  send(datagram: Uint8Array): void {
    this.active.send(datagram);
  }

  /** onDatagram sets the receive handler of every link and starts receiving. */
  onDatagram(fn: DatagramHandler): void {
    this.channels.forEach((c, i) =>
      c.onDatagram((d, from) => {
        if (fn(d, from, i) === true && this.cur !== i && this.closing === undefined) this.cur = i;
      }),
    );
  }

  onError(fn: (err: Error) => void): void {
    this.errorFn = fn;
  }

  /** stats are the current link's counters (what `-s` shows). */
  stats(): LinkStats {
    return this.active.stats();
  }

  /**
   * errorQueued is what the TCP links hold for their peer while the client connection is down or
   * its send buffer is full: conntrackd's error queue (one for all links; `-s queue`'s errorq). 0
   * without TCP links.
   */
  get errorQueued(): number {
    let n = 0;
    for (const c of this.channels) if (c.kind === 'tcp') n += (c as TcpSyncChannel).queued; // openTcpChannel made every 'tcp' channel
    return n;
  }

  /** errorQueueDrops is how many messages full error queues dropped (`-s queue`'s errorq "not enough space"). */
  get errorQueueDrops(): number {
    let n = 0;
    for (const c of this.channels) if (c.kind === 'tcp') n += (c as TcpSyncChannel).errorQueueDrops;
    return n;
  }

  /** views are every link in configuration order, with its interface's status (`-s link`). */
  views(): LinkView[] {
    return this.channels.map((c) => {
      const view = { kind: c.kind, device: c.device, status: linkStatus(this.flags.get(c.ifindex) ?? 0), stats: c.stats() };
      return c.connections !== undefined ? { ...view, tcp: c.connections() } : view;
    });
  }

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.watcher.close();
    this.closing = Promise.all(this.channels.map((c) => c.close())).then(() => undefined);
    return this.closing;
  }

  private onLinkMessages(msgs: readonly NlMessage[]): void {
    if (this.closing !== undefined) return;
    for (const m of msgs) {
      if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) continue;
      const info = decodeIfinfo(m);
      if (info !== undefined) this.flags.set(info.index, info.flags);
    }
    this.checkCurrent();
  }

  private async resyncFlags(netns: string | undefined): Promise<void> {
    for (const idx of [...this.flags.keys()]) {
      try {
        const f = await queryFlags(idx, netns);
        if (this.closing !== undefined) return;
        this.flags.set(idx, f);
      } catch {
        // keep the last known flags
      }
    }
    this.checkCurrent();
  }

  /** onUp: `fn` runs when a dedicated link is usable again after none was (what was sent meanwhile is lost). */
  onUp(fn: () => void): void {
    this.upFn = fn;
  }

  /** usableAgain notes that a link works, and tells onUp's listener if none did before. */
  private usableAgain(): void {
    if (this.usable) return;
    this.usable = true;
    this.upFn?.();
  }

  /** checkCurrent moves off a current link whose interface is not both up and running. */
  private checkCurrent(): void {
    const f = this.flags.get(this.active.ifindex) ?? 0;
    if ((f & IFF_UP) !== 0 && (f & IFF_RUNNING) !== 0) {
      this.usableAgain();
      return;
    }
    const curIndex = this.active.ifindex;
    for (let i = 0; i < this.channels.length; i++) {
      const c = this.channels[i]!;
      if (c.ifindex === curIndex) continue;
      if (((this.flags.get(c.ifindex) ?? 0) & (IFF_UP | IFF_RUNNING)) !== 0) {
        this.cur = i;
        this.log.log('notice', `device \`${c.device}' becomes dedicated link`);
        this.usableAgain();
        return;
      }
    }
    this.usable = false;
    this.log.log('error', 'no dedicated links available!');
  }
}
