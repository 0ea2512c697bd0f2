// Expectations without an internal cache's usual path: DisableInternalCache (bypass: each kernel
// expectation event goes to the peer once, a bulk sends the kernel's expectation table) and polling
// mode (PollSecs: every poll re-sends the dumped expectations, vanished ones become EXP_DEL).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConntrackdConfig } from '../../src/config/conntrackd/index.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack, Expectation } from '../../src/ctnetlink/types.js';
import { payloadOf } from '../../src/engine/cache.js';
import { compileFilter } from '../../src/engine/filter.js';
import { Replicator, type ReplicatorConfig } from '../../src/engine/replicator.js';
import { REPLICATOR_CFG } from '../helpers/replicator-config.js';
import { decodeDatagram } from '../../src/sync/datagram.js';

const CFG: ReplicatorConfig = { ...REPLICATOR_CFG, mode: 'notrack', expectations: { helpers: undefined } };

/** ftpControl is an FTP control connection (the master) from client 192.168.77.(2+i). */
function ftpControl(i: number): Conntrack {
  const src = `192.168.77.${2 + i}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '10.77.0.2', proto: IPPROTO.TCP, srcPort: 40000 + i, dstPort: 21 },
    reply: { family: 'ipv4', src: '10.77.0.2', dst: src, proto: IPPROTO.TCP, srcPort: 21, dstPort: 40000 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 432000,
    helper: 'ftp',
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}

/** pasv is the expectation a PASV reply on master i makes for data port 10000 + n. */
function pasv(i: number, n: number, helper = 'ftp'): Expectation {
  const m = ftpControl(i).orig!;
  return {
    family: 'ipv4',
    master: m,
    tuple: { family: 'ipv4', src: m.src, dst: '10.77.0.2', proto: IPPROTO.TCP, srcPort: 0, dstPort: 10000 + n },
    mask: { family: 'ipv4', src: '255.255.255.255', dst: '255.255.255.255', proto: 0xff, srcPort: 0, dstPort: 0xffff },
    timeout: 300,
    flags: 0,
    class: 0,
    helper,
  };
}

/** node is a NOTRACK Replicator whose sent messages are decoded into `sent` as "kind-op detail". */
function node(cfg: Partial<ReplicatorConfig> = {}): { r: Replicator; sent: string[]; dumps: number } {
  const out = { sent: [] as string[], dumps: 0 };
  const r = new Replicator(
    { ...CFG, ...cfg },
    {
      send: (ds) => {
        for (const d of ds)
          for (const m of decodeDatagram(d, { mode: 'notrack' }).messages) {
            if (m.kind === 'ct') out.sent.push(`ct-${m.op} ${m.ct.orig?.src}`);
            else if (m.kind === 'exp') out.sent.push(`exp-${m.op} ${m.exp.master?.src} ${m.exp.tuple?.dstPort}`);
          }
      },
      kernelDump: () => void out.dumps++,
    },
  );
  return Object.assign(out, { r });
}

const FILTER_IGNORE_3 = 'General {\n Filter {\n  Address Ignore {\n   IPv4_address 192.168.77.3\n  }\n }\n}\n';

describe('expectations with DisableInternalCache on', () => {
  it('sends each expectation event once as EXP_NEW, EXP_UPD, EXP_DEL, with no master in any cache', () => {
    const n = node({ bypass: true });
    n.r.onKernelExp('new', pasv(0, 1));
    n.r.onKernelExp('update', pasv(0, 1));
    n.r.onKernelExp('destroy', pasv(0, 1));
    n.r.transmit();
    assert.deepEqual(n.sent, ['exp-new 192.168.77.2 10001', 'exp-upd 192.168.77.2 10001', 'exp-del 192.168.77.2 10001']);
    assert.deepEqual(n.r.bypassExpStats, { new: 1, upd: 1, del: 1 });
    assert.equal(n.r.internalExp.size, 0, 'nothing is cached');
    assert.equal(n.r.transmit(), 0, 'nothing is kept after sending');
  });

  it('skips expectations we caused, of unlisted helpers, and of masters the Filter refuses', () => {
    const filter = compileFilter(parseConntrackdConfig(FILTER_IGNORE_3, 't').config.general.filter);
    const n = node({ bypass: true, filter, expectations: { helpers: ['ftp'] } });
    n.r.onKernelExp('new', pasv(0, 2), 'commit');
    n.r.onKernelExp('new', pasv(0, 3), 'inject');
    n.r.onKernelExp('destroy', pasv(0, 4), 'flush');
    n.r.onKernelExp('new', pasv(0, 5, 'sip'));
    n.r.onKernelExp('new', pasv(1, 6)); // master 192.168.77.3: ignored by the Filter
    n.r.onKernelExp('new', pasv(0, 7));
    n.r.transmit();
    assert.deepEqual(n.sent, ['exp-new 192.168.77.2 10007']);
    assert.equal(n.r.internalExp.stats.filtered, 2);
  });

  it('a bulk sends the kernel table then the kernel expectations (filtered), and populate keeps nothing', () => {
    const filter = compileFilter(parseConntrackdConfig(FILTER_IGNORE_3, 't').config.general.filter);
    const n = node({ bypass: true, filter });
    n.r.bulk();
    assert.equal(n.dumps, 1, 'the bulk asks its port for the kernel dump');
    assert.equal(n.r.populateExp([pasv(0, 1)]), 0);
    n.r.sendKernelDump([payloadOf('update', ftpControl(0))]);
    assert.equal(n.r.sendKernelExpDump([pasv(0, 1), pasv(1, 2)]), 1);
    n.r.transmit();
    assert.deepEqual(n.sent, ['ct-new 192.168.77.2', 'exp-new 192.168.77.2 10001']);
    assert.equal(n.r.bypassAcceptsExp(pasv(1, 2)), false);
  });

  it('a receiving node takes bypass expectations into its external expectation cache', () => {
    const b = new Replicator({ ...CFG, initialSeq: 7 }, { send: () => undefined });
    const a = new Replicator({ ...CFG, bypass: true }, { send: (ds) => ds.forEach((d) => b.onDatagram(d, 0)) });
    a.onKernelEvent({ kind: 'new', ct: ftpControl(0) });
    a.onKernelExp('new', pasv(0, 8));
    a.transmit();
    assert.equal(b.external.size, 1);
    assert.deepEqual([...b.externalExp.values()].map((x) => x.exp.tuple?.dstPort), [10008]);
  });
});

describe('expectations in polling mode', () => {
  it('every poll re-sends each dumped expectation whose master is cached; a vanished one becomes EXP_DEL', () => {
    const n = node();
    n.r.resyncInternal([ftpControl(0)]);
    assert.deepEqual(n.r.resyncInternalExp([pasv(0, 1), pasv(1, 2)]), { queued: 1, gone: 0 }, 'master of pasv(1) is not cached');
    n.r.transmit();
    assert.deepEqual(n.sent, ['ct-new 192.168.77.2', 'exp-upd 192.168.77.2 10001']);
    n.sent.length = 0;
    n.r.resyncInternal([ftpControl(0)]);
    assert.deepEqual(n.r.resyncInternalExp([pasv(0, 1)]), { queued: 1, gone: 0 });
    n.r.transmit();
    assert.deepEqual(n.sent, ['ct-upd 192.168.77.2', 'exp-upd 192.168.77.2 10001'], 'sent again on the next poll');
    n.sent.length = 0;
    n.r.resyncInternal([ftpControl(0)]);
    assert.deepEqual(n.r.resyncInternalExp([]), { queued: 0, gone: 1 });
    n.r.transmit();
    assert.deepEqual(n.sent, ['ct-upd 192.168.77.2', 'exp-del 192.168.77.2 10001']);
    assert.equal(n.r.internalExp.liveSize, 0);
    assert.equal(n.r.internalExp.size, 0, 'released once sent');
  });

  it('does nothing without an internal cache', () => {
    const n = node({ bypass: true });
    assert.deepEqual(n.r.resyncInternalExp([pasv(0, 1)]), { queued: 0, gone: 0 });
    assert.equal(n.r.transmit(), 0);
  });
});
