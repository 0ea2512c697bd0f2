import { NFNL_SUBSYS, NFNLGRP } from '../../ctnetlink/consts.js';
import { decodeCtEvent, decodeExpEvent } from '../../ctnetlink/event.js';
import { nfSubsys } from '../../ctnetlink/nfgenmsg.js';
import type { CtEvent, ExpEvent } from '../../ctnetlink/types.js';
import { NetlinkConn } from '../../netlink/conn.js';
import { NETLINK } from '../../netlink/consts.js';
import type { NlMessage } from '../../netlink/message.js';
import { DecodeError } from '../../wire/decode-error.js';
import type { EventSource } from './run.js';

/**
 * The event socket of `keepstate conntrack -E`. Unlike ctnetlink's EventStream it keeps each
 * message's nlmsg_pid (conntrack prints "[USERSPACE] portid=N" for events a process caused) and it
 * leaves net.netfilter.nf_conntrack_events alone, as conntrack does.
 */

type Group = 'new' | 'update' | 'destroy' | 'exp-new' | 'exp-update' | 'exp-destroy';
const GROUP_IDS: Readonly<Record<Group, number>> = {
  new: NFNLGRP.CONNTRACK_NEW,
  update: NFNLGRP.CONNTRACK_UPDATE,
  destroy: NFNLGRP.CONNTRACK_DESTROY,
  'exp-new': NFNLGRP.CONNTRACK_EXP_NEW,
  'exp-update': NFNLGRP.CONNTRACK_EXP_UPDATE,
  'exp-destroy': NFNLGRP.CONNTRACK_EXP_DESTROY,
};

type Ev = (CtEvent | ExpEvent) & { readonly portId: number };
type Batch = { readonly kind: 'events'; readonly events: readonly Ev[] } | { readonly kind: 'overrun' };

/** PidEventSource is an EventSource over its own multicast socket. */
export class PidEventSource implements EventSource {
  private readonly conn: NetlinkConn;
  private readonly queue: Batch[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(groups: readonly Group[], rcvbufBytes: number | undefined, netns?: string) {
    this.conn = NetlinkConn.open(NETLINK.NETFILTER, {
      groups: groups.map((g) => GROUP_IDS[g]),
      ...(rcvbufBytes !== undefined ? { rcvbufBytes } : {}),
      ...(netns !== undefined ? { netns } : {}),
    });
    this.conn.listen(
      (msgs) => this.onMessages(msgs),
      () => this.push({ kind: 'overrun' }),
    );
  }

  rcvbuf(): number {
    return this.conn.rcvbuf();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    while (!this.closed) {
      const b = this.queue.shift();
      if (b !== undefined) {
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

  private onMessages(msgs: readonly NlMessage[]): void {
    const events: Ev[] = [];
    for (const m of msgs) {
      try {
        const subsys = nfSubsys(m.type);
        if (subsys === NFNL_SUBSYS.CTNETLINK) events.push({ ...decodeCtEvent(m), portId: m.pid });
        else if (subsys === NFNL_SUBSYS.CTNETLINK_EXP) events.push({ ...decodeExpEvent(m), portId: m.pid });
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        // conntrack's parser skips what it cannot read, and so do we
      }
    }
    if (events.length > 0) this.push({ kind: 'events', events });
  }

  private push(b: Batch): void {
    this.queue.push(b);
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
