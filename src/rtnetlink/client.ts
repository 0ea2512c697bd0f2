import { NetlinkConn } from '../netlink/conn.js';
import { NETLINK } from '../netlink/consts.js';
import { NetlinkError } from '../netlink/errors.js';
import type { NlMessage } from '../netlink/message.js';
import { DecodeError } from '../wire/decode-error.js';
import type { Family } from '../wire/ip.js';
import { decodeAddress, type IfAddress } from './address.js';
import { RTM, RTNLGRP } from './consts.js';
import { decodeLink, linkStateOf, type Link, type LinkState } from './link.js';
import {
  addressDumpRequest,
  deleteAddressRequest,
  deleteLinkRequest,
  getLinkRequest,
  linkDumpRequest,
  newAddressRequest,
  newMacvlanRequest,
  setLinkUpRequest,
  type AddressSpec,
  type MacvlanSpec,
} from './requests.js';

/** RtnlOptions: the network namespace (under /run/netns) to work in; default the caller's. */
export interface RtnlOptions {
  readonly netns?: string;
}

/** RtnlStats counts messages a client skipped because they did not decode (house-style R9). */
export interface RtnlStats {
  malformed: number;
}

/**
 * RtnlClient makes rtnetlink requests on one NETLINK_ROUTE socket: VIP add/remove (idempotent),
 * address listing, link state, and the virtual-MAC macvlan of use_vmac. Requests are answered in
 * order; a refused one rejects with NetlinkError (branch on `code`).
 */
export class RtnlClient {
  readonly stats: RtnlStats = { malformed: 0 };
  private constructor(private readonly conn: NetlinkConn) {}

  /** open creates the NETLINK_ROUTE socket (in opts.netns if given). */
  static open(opts: RtnlOptions = {}): RtnlClient {
    return new RtnlClient(NetlinkConn.open(NETLINK.ROUTE, opts.netns !== undefined ? { netns: opts.netns } : {}));
  }

  /**
   * addAddress adds a VIP; 'present' when the kernel already had it (EEXIST), which is success for
   * a takeover that runs twice.
   */
  async addAddress(a: AddressSpec): Promise<'added' | 'present'> {
    try {
      await this.conn.request(newAddressRequest(a), 'RTM_NEWADDR');
      return 'added';
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EEXIST') return 'present';
      throw e;
    }
  }

  /** deleteAddress removes a VIP; 'absent' when it was not there (EADDRNOTAVAIL). */
  async deleteAddress(a: Pick<AddressSpec, 'ifindex' | 'family' | 'address' | 'prefixLen'>): Promise<'deleted' | 'absent'> {
    try {
      await this.conn.request(deleteAddressRequest(a), 'RTM_DELADDR');
      return 'deleted';
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EADDRNOTAVAIL') return 'absent';
      throw e;
    }
  }

  /** listAddresses dumps the addresses, of one family and one interface when asked. */
  async listAddresses(filter: { family?: Family; ifindex?: number } = {}): Promise<IfAddress[]> {
    const out: IfAddress[] = [];
    for await (const batch of this.conn.dump(addressDumpRequest(filter.family !== undefined ? { family: filter.family } : {}), 'RTM_GETADDR')) {
      for (const m of batch) {
        if (m.type !== RTM.NEWADDR) continue;
        const a = this.decode(m, decodeAddress);
        if (a === undefined) continue;
        if (filter.ifindex !== undefined && a.ifindex !== filter.ifindex) continue;
        if (filter.family !== undefined && a.family !== filter.family) continue;
        out.push(a);
      }
    }
    return out;
  }

  /** link fetches one link (ENODEV rejects when there is none). */
  async link(ifindex: number): Promise<Link> {
    const replies = await this.conn.request(getLinkRequest(ifindex), 'RTM_GETLINK');
    for (const m of replies) {
      if (m.type !== RTM.NEWLINK) continue;
      const l = this.decode(m, decodeLink);
      if (l !== undefined) return l;
    }
    throw new NetlinkError(5 /* EIO */, 'RTM_GETLINK: no link in the reply', 0);
  }

  /** linkState is link() reduced to what track_interface needs. */
  async linkState(ifindex: number): Promise<LinkState> {
    return linkStateOf(await this.link(ifindex));
  }

  /** listLinks dumps every link. */
  async listLinks(): Promise<Link[]> {
    const out: Link[] = [];
    for await (const batch of this.conn.dump(linkDumpRequest(), 'RTM_GETLINK')) {
      for (const m of batch) {
        if (m.type !== RTM.NEWLINK) continue;
        const l = this.decode(m, decodeLink);
        if (l !== undefined) out.push(l);
      }
    }
    return out;
  }

  /** createMacvlan creates a use_vmac interface; 'present' when one of that name exists (EEXIST). It is left down. */
  async createMacvlan(m: MacvlanSpec): Promise<'created' | 'present'> {
    try {
      await this.conn.request(newMacvlanRequest(m), 'RTM_NEWLINK');
      return 'created';
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EEXIST') return 'present';
      throw e;
    }
  }

  /** setLinkUp sets or clears IFF_UP on a link. */
  async setLinkUp(ifindex: number, up: boolean): Promise<void> {
    await this.conn.request(setLinkUpRequest(ifindex, up), 'RTM_NEWLINK');
  }

  /** deleteLink deletes a link; 'absent' when there is none (ENODEV). */
  async deleteLink(ifindex: number): Promise<'deleted' | 'absent'> {
    try {
      await this.conn.request(deleteLinkRequest(ifindex), 'RTM_DELLINK');
      return 'deleted';
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'ENODEV') return 'absent';
      throw e;
    }
  }

  /** close closes the socket; requests in flight reject. */
  close(): void {
    this.conn.close();
  }

  private decode<T>(m: NlMessage, fn: (p: Uint8Array) => T): T | undefined {
    try {
      return fn(m.payload);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.stats.malformed++;
      return undefined;
    }
  }
}

/** LinkEventHandlers receive link changes and overruns (ENOBUFS: events were lost, re-read the links). */
export interface LinkEventHandlers {
  onLink(state: LinkState, link: Link, removed: boolean): void;
  onOverrun(): void;
}

/**
 * LinkEvents is a subscription to RTNLGRP_LINK: every RTM_NEWLINK (a change: flags, carrier,
 * operstate, name) and RTM_DELLINK (removed) of the namespace. Undecodable messages are counted.
 */
export class LinkEvents {
  readonly stats: RtnlStats = { malformed: 0 };
  private readonly conn: NetlinkConn;

  private constructor(opts: RtnlOptions, h: LinkEventHandlers) {
    this.conn = NetlinkConn.open(NETLINK.ROUTE, { groups: [RTNLGRP.LINK], ...(opts.netns !== undefined ? { netns: opts.netns } : {}) });
    this.conn.listen(
      (msgs) => {
        for (const m of msgs) {
          if (m.type !== RTM.NEWLINK && m.type !== RTM.DELLINK) continue;
          let l: Link;
          try {
            l = decodeLink(m.payload);
          } catch (e) {
            if (!(e instanceof DecodeError)) throw e;
            this.stats.malformed++;
            continue;
          }
          h.onLink(linkStateOf(l), l, m.type === RTM.DELLINK);
        }
      },
      () => h.onOverrun(),
    );
  }

  /** subscribe joins RTNLGRP_LINK (in opts.netns if given) and starts delivering events. */
  static subscribe(opts: RtnlOptions, h: LinkEventHandlers): LinkEvents {
    return new LinkEvents(opts, h);
  }

  /** unref lets the process exit while subscribed. */
  unref(): this {
    this.conn.unref();
    return this;
  }

  close(): void {
    this.conn.close();
  }
}
