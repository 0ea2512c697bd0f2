import { NetlinkConn, type NlRequest, type RawBatch } from '../netlink/conn.js';
import { NETLINK, NLM_F } from '../netlink/consts.js';
import type { NetlinkError } from '../netlink/errors.js';
import type { NlMessage } from '../netlink/message.js';
import { DecodeError } from '../wire/decode-error.js';
import type { Family } from '../wire/ip.js';
import type { Writer } from '../wire/writer.js';
import { IPCTNL_MSG_CT, IPS, NFNL_SUBSYS } from './consts.js';
import { nfMsgType } from './nfgenmsg.js';
import { decodeConntrack } from './conntrack.js';
import { decodeExpectation } from './expectation.js';
import {
  ctCreateStreamed,
  ctDeleteStreamed,
  ctDump,
  ctFlush,
  ctGet,
  ctStats,
  ctStatsCpu,
  ctUpdateStreamed,
  expCreate,
  expDelete,
  expDump,
  expFlush,
  expGet,
  expStatsCpu,
} from './requests.js';
import { decodeCpuStats, decodeExpCpuStats, decodeGlobalStats } from './stats.js';
import type { Conntrack, CpuStats, DumpFilter, ExpCpuStats, Expectation } from './types.js';

/** BatchResult is the outcome of one entry of a batched write, in request order. */
export type BatchResult = { readonly ok: true } | { readonly ok: false; readonly error: NetlinkError };

/** ClientOptions: where and how the ctnetlink socket is opened. */
export interface ClientOptions {
  /** Receive buffer (SO_RCVBUFFORCE) in bytes; big enough for a whole batch of ACKs and errors. */
  readonly rcvbufBytes?: number;
  /** Network namespace under /run/netns to talk to (default: the process's own). */
  readonly netns?: string;
}

/** ClientStats counts messages that did not decode (skipped, never fatal). */
export interface ClientStats {
  malformed: number;
}

const DEFAULT_RCVBUF = 8 << 20;

/**
 * ConntrackClient reads and writes the kernel's conntrack and expectation tables over one
 * NETLINK_NETFILTER socket. Dumps stream in batches (bounded memory), writes go in batches with a
 * result per entry, and a malformed message is counted and skipped.
 */
export class ConntrackClient {
  readonly stats: ClientStats = { malformed: 0 };
  private constructor(
    private readonly conn: NetlinkConn,
    readonly opts: ClientOptions,
  ) {}

  static open(opts: ClientOptions = {}): ConntrackClient {
    return new ConntrackClient(
      NetlinkConn.open(NETLINK.NETFILTER, {
        rcvbufBytes: opts.rcvbufBytes ?? DEFAULT_RCVBUF,
        ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
      }),
      opts,
    );
  }

  /** portId is the netlink port of this client's socket: events its writes cause carry it (CtEvent.portId). */
  get portId(): number {
    return this.conn.portId;
  }

  /** dump streams the conntrack table, one array per socket wakeup; `filter` is applied by the kernel. */
  async *dump(filter?: DumpFilter): AsyncGenerator<Conntrack[], void, undefined> {
    for await (const msgs of this.conn.dump(ctDump(filter), 'dump conntrack')) {
      yield this.decodeAll(msgs, NFNL_SUBSYS.CTNETLINK, decodeConntrack);
    }
  }

  /**
   * dumpPayloads streams the conntrack table as message payloads (struct nfgenmsg + CTA_*), one
   * array per socket wakeup, undecoded: for consumers that keep or read the bytes themselves.
   */
  async *dumpPayloads(filter?: DumpFilter): AsyncGenerator<Uint8Array[], void, undefined> {
    for await (const msgs of this.conn.dump(ctDump(filter), 'dump conntrack')) {
      const out: Uint8Array[] = [];
      for (const m of msgs) if (m.type >> 8 === NFNL_SUBSYS.CTNETLINK) out.push(m.payload);
      yield out;
    }
  }

  /**
   * dumpRaw streams the conntrack table undecoded, one RawBatch per socket wakeup, for
   * consumers that read a few fields straight from the bytes or hand them to another thread;
   * decodeConntrack of a payload gives the model.
   */
  dumpRaw(filter?: DumpFilter): AsyncGenerator<RawBatch, void, undefined> {
    return this.conn.dumpRaw(ctDump(filter), 'dump conntrack');
  }

  /** dumpExpectations streams the expectation table. */
  async *dumpExpectations(family?: Family): AsyncGenerator<Expectation[], void, undefined> {
    for await (const msgs of this.conn.dump(expDump(family), 'dump expectations')) {
      yield this.decodeAll(msgs, NFNL_SUBSYS.CTNETLINK_EXP, decodeExpectation);
    }
  }

  /** get fetches one entry by its original (or reply) tuple and zone; a missing entry rejects with ENOENT. */
  async get(ct: Conntrack): Promise<Conntrack> {
    const replies = await this.conn.request(ctGet(ct), 'get conntrack');
    return this.single(replies, NFNL_SUBSYS.CTNETLINK, decodeConntrack, 'get conntrack');
  }

  async getExpectation(e: Expectation): Promise<Expectation> {
    const replies = await this.conn.request(expGet(e), 'get expectation');
    return this.single(replies, NFNL_SUBSYS.CTNETLINK_EXP, decodeExpectation, 'get expectation');
  }

  /**
   * create inserts entries (NLM_F_CREATE|NLM_F_EXCL): an existing one fails with EEXIST. A given
   * status gets IPS_CONFIRMED added, as conntrack(8) does: ctnetlink_change_status refuses a new
   * entry without it (EBUSY; native-layer.md pitfall 3).
   */
  create(cts: readonly Conntrack[]): Promise<BatchResult[]> {
    return this.write(
      cts.map((c) =>
        ctCreateStreamed(c.status === undefined || (c.status & IPS.CONFIRMED) !== 0 ? c : { ...c, status: c.status | IPS.CONFIRMED }),
      ),
      'create conntrack',
    );
  }
  /**
   * createWith is create for requests whose payload (struct nfgenmsg + CTA_*) the caller writes
   * itself, straight into the send buffer. No IPS_CONFIRMED is added: the writer must set it.
   */
  createWith(payloads: readonly ((w: Writer) => void)[]): Promise<BatchResult[]> {
    const type = nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.NEW);
    return this.write(
      payloads.map((body) => ({ type, flags: NLM_F.CREATE | NLM_F.EXCL, body })),
      'create conntrack',
    );
  }
  /** update changes existing entries (status, timeout, mark, labels, protoinfo…); a missing one fails with ENOENT. */
  update(cts: readonly Conntrack[]): Promise<BatchResult[]> {
    return this.write(cts.map(ctUpdateStreamed), 'update conntrack');
  }
  /** delete removes entries identified by tuple (and zone, and id when given). */
  delete(cts: readonly Conntrack[]): Promise<BatchResult[]> {
    return this.write(cts.map(ctDeleteStreamed), 'delete conntrack');
  }
  createExpectations(es: readonly Expectation[]): Promise<BatchResult[]> {
    return this.write(es.map(expCreate), 'create expectation');
  }
  deleteExpectations(es: readonly Expectation[]): Promise<BatchResult[]> {
    return this.write(es.map(expDelete), 'delete expectation');
  }

  /** flush empties the conntrack table (of one family, or all). */
  async flush(family?: Family): Promise<void> {
    await this.conn.request(ctFlush(family), 'flush conntrack');
  }
  async flushExpectations(family?: Family): Promise<void> {
    await this.conn.request(expFlush(family), 'flush expectations');
  }

  /** statsPerCpu returns the per-CPU conntrack counters (IPCTNL_MSG_CT_GET_STATS_CPU, a dump). */
  async statsPerCpu(): Promise<CpuStats[]> {
    const out: CpuStats[] = [];
    for await (const msgs of this.conn.dump(ctStatsCpu(), 'conntrack stats')) {
      out.push(...this.decodeAll(msgs, NFNL_SUBSYS.CTNETLINK, decodeCpuStats));
    }
    return out;
  }
  async expStatsPerCpu(): Promise<ExpCpuStats[]> {
    const out: ExpCpuStats[] = [];
    for await (const msgs of this.conn.dump(expStatsCpu(), 'expectation stats')) {
      // The kernel answers IPCTNL_MSG_EXP_GET_STATS_CPU under the conntrack subsystem (nlmsg_type
      // 0x0103), not the expectation one: see test/golden/stats-exp-cpu.hex.
      out.push(...this.decodeAll(msgs, NFNL_SUBSYS.CTNETLINK, decodeExpCpuStats));
    }
    return out;
  }

  /** count returns the number of entries in the table (IPCTNL_MSG_CT_GET_STATS). */
  async count(): Promise<{ entries: number; maxEntries?: number }> {
    const replies = await this.conn.request(ctStats(), 'conntrack count');
    return this.single(replies, NFNL_SUBSYS.CTNETLINK, decodeGlobalStats, 'conntrack count');
  }

  close(): void {
    this.conn.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private async write(reqs: readonly NlRequest[], op: string): Promise<BatchResult[]> {
    const errs = await this.conn.batch(reqs, op);
    return errs.map((error) => (error === undefined ? OK : { ok: false, error }));
  }

  private decodeAll<T>(msgs: readonly NlMessage[], subsys: number, decode: (payload: Uint8Array) => T): T[] {
    const out: T[] = [];
    for (const m of msgs) {
      if (m.type >> 8 !== subsys) continue;
      try {
        out.push(decode(m.payload));
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        this.stats.malformed++;
      }
    }
    return out;
  }

  private single<T>(msgs: readonly NlMessage[], subsys: number, decode: (payload: Uint8Array) => T, op: string): T {
    const all = this.decodeAll(msgs, subsys, decode);
    const first = all[0];
    if (first === undefined) throw new DecodeError('MISSING', [op], 0, 'the kernel answered without a usable message');
    return first;
  }
}

const OK: BatchResult = { ok: true };
