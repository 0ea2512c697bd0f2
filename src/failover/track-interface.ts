import { LinkEvents, type RtnlClient } from '../rtnetlink/client.js';
import type { Link } from '../rtnetlink/link.js';
import { IFF } from '../rtnetlink/consts.js';
import type { TrackState } from './track-weights.js';

/**
 * LinkTracker follows the links track_interface names, by name: it reads every link once, then
 * follows RTNLGRP_LINK (re-reading all of them after an overrun). A link is up as keepalived's
 * IF_FLAGS_UP says — IFF_UP and IFF_RUNNING both set (vrrp_if.h); operstate is not consulted. A
 * link that does not exist (yet, or any more) is down, as keepalived treats a missing interface.
 */
export class LinkTracker {
  private readonly up = new Map<string, boolean>(); // ifname → up, for every link that exists
  private readonly names = new Map<number, string>(); // ifindex → ifname (renames, deletions)
  private events: LinkEvents | undefined;
  private closed = false;

  private constructor(
    private readonly rtnl: RtnlClient,
    private readonly onChange: (ifname: string, state: TrackState) => void,
    private readonly onError: (message: string) => void,
  ) {}

  /** start subscribes, then reads the links (so nothing between the read and the subscription is lost). */
  static async start(rtnl: RtnlClient, netns: string | undefined, onChange: (ifname: string, state: TrackState) => void, onError: (message: string) => void): Promise<LinkTracker> {
    const t = new LinkTracker(rtnl, onChange, onError);
    t.events = LinkEvents.subscribe(netns !== undefined ? { netns } : {}, {
      onLink: (_state, link, removed) => t.apply(link, removed),
      onOverrun: () => void t.reread(),
    }).unref();
    await t.reread(false);
    return t;
  }

  /** state is the link's current TrackState (a missing link is down). */
  state(ifname: string): TrackState {
    return this.up.get(ifname) === true ? 'up' : 'down';
  }

  private async reread(announce = true): Promise<void> {
    try {
      const links = await this.rtnl.listLinks();
      const seen = new Set<string>();
      for (const l of links) {
        if (l.ifname !== undefined) seen.add(l.ifname);
        this.apply(l, false, announce);
      }
      for (const name of [...this.up.keys()]) if (!seen.has(name)) this.set(name, undefined, announce);
    } catch (e) {
      if (!this.closed) this.onError(`reading the links: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private apply(l: Link, removed: boolean, announce = true): void {
    const old = this.names.get(l.ifindex);
    const name = l.ifname ?? old;
    if (name === undefined) return;
    if (old !== undefined && old !== name) this.set(old, undefined, announce); // renamed away
    if (removed) {
      this.names.delete(l.ifindex);
      this.set(name, undefined, announce);
      return;
    }
    this.names.set(l.ifindex, name);
    this.set(name, (l.flags & (IFF.UP | IFF.RUNNING)) === (IFF.UP | IFF.RUNNING), announce);
  }

  private set(name: string, up: boolean | undefined, announce: boolean): void {
    const before = this.state(name);
    if (up === undefined) this.up.delete(name);
    else this.up.set(name, up);
    const after = this.state(name);
    if (announce && after !== before) this.onChange(name, after);
  }

  close(): void {
    this.closed = true;
    this.events?.close();
  }
}
