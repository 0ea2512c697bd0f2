import type { RawBatch } from '../../netlink/conn.js';
import { ConntrackClient, type BatchResult } from '../../ctnetlink/client.js';
import { decodeConntrack } from '../../ctnetlink/conntrack.js';
import { AF, IPCTNL_MSG_CT, NFNETLINK_V0, NFNL_SUBSYS } from '../../ctnetlink/consts.js';
import { nfMsgType, nfSubsys } from '../../ctnetlink/nfgenmsg.js';
import { ctDumpDying, ctDumpZero, ctGet, ctUpdate, expStatsCpu, type NfRequest } from '../../ctnetlink/requests.js';
import { decodeExpCpuStats } from '../../ctnetlink/stats.js';
import { NetlinkConn, type NlRequest } from '../../netlink/conn.js';
import { NETLINK, NLM_F } from '../../netlink/consts.js';
import type { NlMessage } from '../../netlink/message.js';
import { DecodeError } from '../../wire/decode-error.js';
import type { Conntrack, CpuStats, DumpFilter, ExpCpuStats, Expectation } from '../../ctnetlink/types.js';
import type { Family } from '../../wire/ip.js';

/**
 * CtKernel is everything `keepstate conntrack` asks of the kernel, one call per conntrack(8)
 * request. It is a port: the command logic in run.ts takes it, the adapter below implements it
 * over ConntrackClient, and failures are thrown as errors carrying the kernel's errno.
 */
export interface CtKernel {
  dump(filter: DumpFilter, table: DumpTable): AsyncIterable<readonly Conntrack[]>;
  /** dumpRaw is the conntrack table's dump undecoded, for the -L fast path; optional. */
  dumpRaw?(filter: DumpFilter): AsyncIterable<RawBatch>;
  /** get fetches one entry; `unspecFamily` as for update. */
  get(ct: Conntrack, unspecFamily?: boolean): Promise<Conntrack>;
  create(ct: Conntrack): Promise<void>;
  /** update sends IPCTNL_MSG_CT_NEW without NLM_F_CREATE; `unspecFamily` sends nfgen_family AF_UNSPEC as conntrack does when no family is known. */
  update(ct: Conntrack, unspecFamily: boolean): Promise<void>;
  delete(ct: Conntrack): Promise<void>;
  flush(): Promise<void>;
  dumpExpectations(family: Family | undefined): AsyncIterable<readonly Expectation[]>;
  getExpectation(e: Expectation): Promise<Expectation>;
  createExpectation(e: Expectation): Promise<void>;
  deleteExpectation(e: Expectation): Promise<void>;
  flushExpectations(family: Family | undefined): Promise<void>;
  count(): Promise<number>;
  statsPerCpu(): Promise<CpuStats[]>;
  expStatsPerCpu(): Promise<ExpCpuStats[]>;
  close(): void;
}

/** DumpTable picks the dump message: the table, the table zeroing counters (-z), or the dying/unconfirmed lists. */
export type DumpTable = 'conntrack' | 'zero' | 'dying' | 'unconfirmed';

/** errnoOf extracts the errno an error carries (NetlinkError, ErrnoError); EIO when it has none. */
export function errnoOf(e: unknown): number {
  if (typeof e === 'object' && e !== null && 'errno' in e) {
    const n = (e as { errno: unknown }).errno;
    if (typeof n === 'number') return n < 0 ? -n : n;
  }
  return 5;
}

/** ctDumpUnconfirmed lists entries not yet confirmed (IPCTNL_MSG_CT_GET_UNCONFIRMED, `conntrack -L unconfirmed`). */
function ctDumpUnconfirmed(): NlRequest {
  return { type: nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.GET_UNCONFIRMED), flags: NLM_F.DUMP, body: new Uint8Array([AF.UNSPEC, NFNETLINK_V0, 0, 0]) };
}

/** withUnspecFamily rewrites a request's nfgenmsg.nfgen_family (the body's first byte) to AF_UNSPEC. */
function withUnspecFamily(req: NfRequest): NfRequest {
  const body = req.body.slice();
  body[0] = AF.UNSPEC;
  return { ...req, body };
}

function decodeCts(msgs: readonly NlMessage[]): Conntrack[] {
  const out: Conntrack[] = [];
  for (const m of msgs) {
    if (nfSubsys(m.type) !== NFNL_SUBSYS.CTNETLINK) continue;
    try {
      out.push(decodeConntrack(m.payload));
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
  }
  return out;
}

function one(r: readonly BatchResult[]): void {
  const first = r[0];
  if (first !== undefined && !first.ok) throw first.error;
}

/**
 * ClientKernel implements CtKernel over ConntrackClient, plus a raw NETLINK_NETFILTER socket
 * (opened only when needed) for the requests ConntrackClient does not offer: the zeroing, dying
 * and unconfirmed dumps, and update/get with an AF_UNSPEC nfgenmsg as `conntrack -U` without a
 * family sends them (the kernel refuses those with EOPNOTSUPP, and so do we, by asking it).
 */
export class ClientKernel implements CtKernel {
  private rawConn: NetlinkConn | undefined;
  private constructor(
    private readonly c: ConntrackClient,
    private readonly netns: string | undefined,
  ) {}

  static open(opts: { netns?: string } = {}): ClientKernel {
    return new ClientKernel(ConntrackClient.open(opts.netns !== undefined ? { netns: opts.netns } : {}), opts.netns);
  }

  private raw(): NetlinkConn {
    this.rawConn ??= NetlinkConn.open(NETLINK.NETFILTER, { rcvbufBytes: 8 << 20, ...(this.netns !== undefined ? { netns: this.netns } : {}) });
    return this.rawConn;
  }

  private async *rawDump(req: NlRequest, op: string): AsyncGenerator<readonly Conntrack[]> {
    for await (const msgs of this.raw().dump(req, op)) yield decodeCts(msgs);
  }

  dumpRaw(filter: DumpFilter): AsyncIterable<RawBatch> {
    return this.c.dumpRaw(filter);
  }
  dump(filter: DumpFilter, table: DumpTable): AsyncIterable<readonly Conntrack[]> {
    switch (table) {
      case 'conntrack':
        return this.c.dump(filter);
      case 'zero':
        return this.rawDump(ctDumpZero(filter), 'dump conntrack (zero counters)');
      case 'dying':
        return this.rawDump(ctDumpDying(), 'dump dying');
      case 'unconfirmed':
        return this.rawDump(ctDumpUnconfirmed(), 'dump unconfirmed');
    }
  }
  async get(ct: Conntrack, unspecFamily = false): Promise<Conntrack> {
    if (!unspecFamily) return this.c.get(ct);
    const got = decodeCts(await this.raw().request(withUnspecFamily(ctGet(ct)), 'get conntrack'));
    const first = got[0];
    if (first === undefined) throw new DecodeError('MISSING', ['get conntrack'], 0, 'the kernel answered without a usable message');
    return first;
  }
  async create(ct: Conntrack): Promise<void> {
    one(await this.c.create([ct]));
  }
  async update(ct: Conntrack, unspecFamily: boolean): Promise<void> {
    if (unspecFamily) await this.raw().request(withUnspecFamily(ctUpdate(ct)), 'update conntrack');
    else one(await this.c.update([ct]));
  }
  async delete(ct: Conntrack): Promise<void> {
    one(await this.c.delete([ct]));
  }
  flush(): Promise<void> {
    return this.c.flush();
  }
  dumpExpectations(family: Family | undefined): AsyncIterable<readonly Expectation[]> {
    return this.c.dumpExpectations(family);
  }
  getExpectation(e: Expectation): Promise<Expectation> {
    return this.c.getExpectation(e);
  }
  async createExpectation(e: Expectation): Promise<void> {
    one(await this.c.createExpectations([e]));
  }
  async deleteExpectation(e: Expectation): Promise<void> {
    one(await this.c.deleteExpectations([e]));
  }
  flushExpectations(family: Family | undefined): Promise<void> {
    return this.c.flushExpectations(family);
  }
  async count(): Promise<number> {
    return (await this.c.count()).entries;
  }
  statsPerCpu(): Promise<CpuStats[]> {
    return this.c.statsPerCpu();
  }
  async expStatsPerCpu(): Promise<ExpCpuStats[]> {
    // The kernel answers this request under subsystem CTNETLINK (not CTNETLINK_EXP), so read the
    // replies here rather than through a subsystem-checking decoder.
    const out: ExpCpuStats[] = [];
    for await (const msgs of this.raw().dump(expStatsCpu(), 'expectation stats')) {
      for (const m of msgs) {
        try {
          out.push(decodeExpCpuStats(m.payload));
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }
    }
    return out;
  }
  close(): void {
    this.c.close();
    this.rawConn?.close();
  }
}
