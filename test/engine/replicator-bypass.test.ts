// DisableInternalCache on (Mode NOTRACK): the Replicator's bypass path sends each kernel event once
// as a message of its own, caches nothing, applies the Filter to every kind of event, skips the
// events we caused, and answers a bulk by asking its port for a kernel dump.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { payloadOf } from '../../src/engine/cache.js';
import { compileFilter } from '../../src/engine/filter.js';
import { Replicator, type ReplicatorConfig } from '../../src/engine/replicator.js';
import { REPLICATOR_CFG } from '../helpers/replicator-config.js';
import { decodeDatagram } from '../../src/sync/datagram.js';

const CFG: ReplicatorConfig = { ...REPLICATOR_CFG, mode: 'notrack', bypass: true };

function tcp(i: number, dstPort = 443): Conntrack {
  const src = `192.168.0.${i}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.7', proto: IPPROTO.TCP, srcPort: 1024 + i, dstPort },
    reply: { family: 'ipv4', src: '203.0.113.7', dst: src, proto: IPPROTO.TCP, srcPort: dstPort, dstPort: 1024 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 300,
    mark: i,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}

/** node is a bypass Replicator whose sent messages are decoded into `sent` as "op src mark". */
function node(cfg: Partial<ReplicatorConfig> = {}): { r: Replicator; sent: string[]; dumps: number } {
  const out = { sent: [] as string[], dumps: 0 };
  const r = new Replicator(
    { ...CFG, ...cfg },
    {
      send: (ds) => {
        for (const d of ds)
          for (const m of decodeDatagram(d, { mode: 'notrack' }).messages) if (m.kind === 'ct') out.sent.push(`${m.op} ${m.ct.orig?.src} ${m.ct.mark}`);
      },
      kernelDump: () => void out.dumps++,
    },
  );
  return Object.assign(out, { r });
}

describe('Replicator with DisableInternalCache on', () => {
  it('sends NEW, UPDATE and DESTROY once each as CT_NEW, CT_UPD, CT_DEL, caching nothing', () => {
    const n = node();
    n.r.onKernelEvent({ kind: 'new', ct: tcp(1) });
    n.r.onKernelEvent({ kind: 'update', ct: { ...tcp(1), mark: 9 } });
    n.r.onKernelEvent({ kind: 'update', ct: { ...tcp(1), mark: 10 } });
    n.r.onKernelEvent({ kind: 'destroy', ct: tcp(1) });
    assert.equal(n.r.transmit(), 4, 'two updates of one entry are two messages');
    assert.deepEqual(n.sent, ['new 192.168.0.1 1', 'upd 192.168.0.1 9', 'upd 192.168.0.1 10', 'del 192.168.0.1 1']);
    assert.equal(n.r.internal.size, 0);
    assert.deepEqual(n.r.bypassStats, { new: 1, upd: 2, del: 1 });
    assert.equal(n.r.transmit(), 0, 'nothing is kept after sending');
  });

  it('skips the events we caused (commit, inject, a flush of ours)', () => {
    const n = node();
    n.r.onKernelEvent({ kind: 'new', ct: tcp(2) }, 'commit');
    n.r.onKernelEvent({ kind: 'new', ct: tcp(3) }, 'inject');
    n.r.onKernelEvent({ kind: 'destroy', ct: tcp(4) }, 'flush');
    n.r.transmit();
    assert.deepEqual(n.sent, []);
    assert.deepEqual(n.r.bypassStats, { new: 0, upd: 0, del: 0 });
  });

  it('applies the Filter to every kind of event, DESTROY included (as conntrackd)', () => {
    const f = parseConntrackdConfig('General {\n Filter {\n  Address Ignore {\n   IPv4_address 192.168.0.5\n  }\n }\n}\n', 't').config.general.filter;
    const n = node({ filter: compileFilter(f) });
    for (const kind of ['new', 'update', 'destroy'] as const) {
      n.r.onKernelEvent({ kind, ct: tcp(5) });
      n.r.onKernelEvent({ kind, ct: tcp(6) });
    }
    n.r.transmit();
    assert.deepEqual(n.sent, ['new 192.168.0.6 6', 'upd 192.168.0.6 6', 'del 192.168.0.6 6']);
    assert.equal(n.r.internal.stats.filtered, 3);
  });

  it('a bulk (-B, RESYNC) asks for a kernel dump, which is sent as CT_NEW, unfiltered; populate and resync keep nothing', () => {
    const f = parseConntrackdConfig('General {\n Filter {\n  Address Ignore {\n   IPv4_address 192.168.0.5\n  }\n }\n}\n', 't').config.general.filter;
    const n = node({ filter: compileFilter(f) });
    n.r.bulk();
    assert.equal(n.dumps, 1);
    assert.equal(n.r.populate([tcp(7)]), 0);
    assert.deepEqual(n.r.resyncInternal([tcp(7)]), { added: 0, changed: 0, gone: 0 });
    assert.equal(n.r.sendKernelDump([payloadOf('update', tcp(5)), payloadOf('update', tcp(8))]), 2);
    n.r.transmit();
    assert.deepEqual(n.sent, ['new 192.168.0.5 5', 'new 192.168.0.8 8']);
    assert.equal(n.r.internal.size, 0);
  });

  it('is refused outside Mode NOTRACK', () => {
    assert.throws(() => new Replicator({ ...CFG, mode: 'ftfw' }, { send: () => undefined }), /NOTRACK/);
  });
});
