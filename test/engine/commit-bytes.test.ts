// The commit's fast path against its reference: for any body a receiver keeps, the create request
// written from the bytes equals ctCreate(commitEntry(decoded entry)) byte for byte.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import { ctCreate, ctDelete } from '../../src/ctnetlink/requests.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { BodyEntry } from '../../src/engine/cache.js';
import { BodyView, planCommitRequests, scanBody } from '../../src/engine/commit-bytes.js';
import { commitEntry, natReplyTuple, type CommitOptions } from '../../src/engine/commit.js';
import { ctBodyOf, scanCtBody } from '../../src/sync/ct-body.js';
import { bytesOfLatin1 } from '../../src/wire/latin1.js';
import { Writer } from '../../src/wire/writer.js';
import { conntrack, firewallEntry } from '../helpers/arbitraries.js';

type Entry = BodyEntry;
const entryOf = (body: string, receivedAtMs: number): Entry => new BodyEntry('', body, receivedAtMs);

/** viaModel: what ConntrackClient.create sends for commitEntry's request (it adds IPS_CONFIRMED to a status). */
function viaModel(e: Entry, opts: CommitOptions): Uint8Array {
  const c = commitEntry(e, opts);
  return ctCreate(c.status === undefined ? c : { ...c, status: c.status | IPS.CONFIRMED }).body as Uint8Array;
}
/** planned: what the entry's CommitJob writes for the create, the delete (failback) or the in-place update. */
function planned(which: 'write' | 'writeDelete' | 'writeUpdate', e: Entry, opts: CommitOptions): Uint8Array {
  const [job] = planCommitRequests([e], opts);
  const w = new Writer();
  job![which](w);
  return w.finish();
}
const viaPlan = (e: Entry, opts: CommitOptions): Uint8Array => planned('write', e, opts);
const deleteViaPlan = (e: Entry, opts: CommitOptions): Uint8Array => planned('writeDelete', e, opts);
const updateViaPlan = (e: Entry, opts: CommitOptions): Uint8Array => planned('writeUpdate', e, opts);
/** updateViaModel: the in-place update by the NAT'd reply tuple — commitEntry's request without orig, status, NAT, master, helper. */
function updateViaModel(e: Entry, opts: CommitOptions): Uint8Array {
  const c = commitEntry(e, opts);
  const keep = ['timeout', 'mark', 'protoinfo', 'zone', 'labels'] as const;
  const reply = natReplyTuple(c);
  return ctCreate(Object.assign({ family: c.family }, reply !== undefined ? { reply } : {}, ...keep.filter((k) => c[k] !== undefined).map((k) => ({ [k]: c[k] })))).body as Uint8Array;
}

/** receivable: the body a peer sends for `ct`, if a receiver keeps it. */
function receivable(ct: Conntrack): string | undefined {
  if (ct.orig === undefined) return undefined;
  const body = ctBodyOf(ct);
  try {
    scanCtBody(bytesOfLatin1(body), 0, body.length);
    return body;
  } catch {
    return undefined;
  }
}

const options = fc.record({
  nowMs: fc.integer({ min: 0, max: 4_000_000 }),
  tcpWindowTracking: fc.boolean(),
  commitTimeoutSec: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }),
}).map(({ commitTimeoutSec, ...o }): CommitOptions => (commitTimeoutSec === undefined ? o : { ...o, commitTimeoutSec }));

describe('commit requests written from the received bytes', () => {
  it('equal the model path on firewall entries, which take the fast path (but SCTP with a state)', () => {
    const v = new BodyView();
    fc.assert(
      fc.property(firewallEntry, fc.integer({ min: 0, max: 4_000_000 }), options, (ct, at, opts) => {
        const body = receivable(ct);
        if (body === undefined) return;
        const b = bytesOfLatin1(body);
        const sctpState = ct.orig?.proto === IPPROTO.SCTP && ct.protoinfo?.sctp?.state !== undefined; // SCTP state: the model path
        assert.equal(scanBody(b, b.length, v), !sctpState, 'a firewall entry takes the fast path');
        const e = entryOf(body, at);
        assert.deepStrictEqual(viaPlan(e, opts), viaModel(e, opts));
        assert.deepStrictEqual(deleteViaPlan(e, opts), ctDelete(commitEntry(e, opts)).body, 'and the delete request of a failback');
        assert.deepStrictEqual(updateViaPlan(e, opts), updateViaModel(e, opts), 'and the in-place update of an existing entry');
      }),
      { numRuns: 3000 },
    );
  });

  it('equal the model path on any entry a receiver keeps', () => {
    fc.assert(
      fc.property(conntrack(), fc.integer({ min: 0, max: 4_000_000 }), options, (ct, at, opts) => {
        const body = receivable(ct);
        if (body === undefined) return;
        const e = entryOf(body, at);
        assert.deepStrictEqual(viaPlan(e, opts), viaModel(e, opts));
        assert.deepStrictEqual(deleteViaPlan(e, opts), ctDelete(commitEntry(e, opts)).body);
      }),
      { numRuns: 1000 },
    );
  });

  it('put masters before the entries related to them', () => {
    const tcp = (i: number, master?: boolean): Conntrack => ({
      family: 'ipv4',
      orig: { family: 'ipv4', src: `10.0.0.${i}`, dst: '10.0.1.1', proto: IPPROTO.TCP, srcPort: 1000 + i, dstPort: 21 },
      status: IPS.ASSURED,
      protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
      ...(master === true ? { master: { family: 'ipv4', src: '10.0.0.9', dst: '10.0.1.1', proto: IPPROTO.TCP, srcPort: 1009, dstPort: 21 } } : {}),
    });
    const jobs = planCommitRequests([entryOf(ctBodyOf(tcp(1, true)), 0), entryOf(ctBodyOf(tcp(9)), 0)], { nowMs: 0 });
    assert.deepEqual(
      jobs.map((j) => j.entry.ct.orig?.src),
      ['10.0.0.9', '10.0.0.1'],
    );
  });
});
