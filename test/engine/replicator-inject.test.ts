// DisableExternalCache: with an inject port, what the protocol delivers goes to the port (then
// straight to the kernel, daemon/injector.ts) and the external cache stays empty.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { Replicator, type ReplicatorConfig } from '../../src/engine/replicator.js';
import { REPLICATOR_CFG } from '../helpers/replicator-config.js';
import { syncIdentityOf } from '../../src/sync/ct-body.js';
import type { SyncOp } from '../../src/sync/message.js';

const CFG: ReplicatorConfig = { ...REPLICATOR_CFG, resendQueueSize: 1024, hashLimit: 1024, initialSeq: 7 };

const ct = (i: number): Conntrack => ({
  family: 'ipv4',
  orig: { family: 'ipv4', src: `10.0.0.${i}`, dst: '203.0.113.7', proto: IPPROTO.TCP, srcPort: 1000 + i, dstPort: 443 },
  reply: { family: 'ipv4', src: '203.0.113.7', dst: `10.0.0.${i}`, proto: IPPROTO.TCP, srcPort: 443, dstPort: 1000 + i },
  status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
  timeout: 300,
  protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
});

describe('Replicator inject port (DisableExternalCache)', () => {
  it('hands NEW, UPD and DEL to the port in order, with their identity and body, and keeps no external cache', () => {
    const got: { op: SyncOp; key: string }[] = [];
    const a = new Replicator(CFG, { send: (ds) => ds.forEach((d) => b.onDatagram(d, 0)) });
    const b: Replicator = new Replicator({ ...CFG, initialSeq: 99 }, {
      send: (ds) => ds.forEach((d) => a.onDatagram(d, 0)),
      inject: (op, key, body) => {
        assert.ok(body.length > 0);
        got.push({ op, key });
      },
    });
    a.onKernelEvent({ kind: 'new', ct: ct(1) });
    a.onKernelEvent({ kind: 'new', ct: ct(2) });
    a.transmit();
    a.onKernelEvent({ kind: 'update', ct: { ...ct(1), mark: 5 } });
    a.transmit();
    a.onKernelEvent({ kind: 'destroy', ct: ct(2) });
    a.transmit();
    assert.deepEqual(got, [
      { op: 'new', key: syncIdentityOf(ct(1)) },
      { op: 'new', key: syncIdentityOf(ct(2)) },
      { op: 'upd', key: syncIdentityOf(ct(1)) },
      { op: 'del', key: syncIdentityOf(ct(2)) },
    ]);
    assert.equal(b.external.size, 0);
  });
});
