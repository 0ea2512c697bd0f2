// Expectation sync between two replicating nodes over an in-memory link carrying conntrackd wire
// datagrams: an FTP expectation of A reaches B's external expectation cache in the same FTFW
// sequence space as conntrack entries — after loss, after a destroy, on a resync — and only when
// its master is replicated and its helper is listed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack, Expectation } from '../../src/ctnetlink/types.js';
import { expCommitRequest, helperAccepts } from '../../src/engine/exp-cache.js';
import { Replicator, type ReplicatorConfig } from '../../src/engine/replicator.js';
import { REPLICATOR_CFG } from '../helpers/replicator-config.js';
import { decodeDatagram } from '../../src/sync/datagram.js';

const CFG: ReplicatorConfig = { ...REPLICATOR_CFG, expectations: { helpers: undefined } };

/** ftpControl is the master: a client's FTP control connection through the firewall, with the ftp helper. */
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

/** pasv is the expectation a PASV reply makes: the client may open a data connection to port 10000 + n. */
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

class Pair {
  drop: (d: Uint8Array) => boolean = () => false;
  now = 0;
  readonly sent: Uint8Array[] = [];
  readonly a: Replicator;
  readonly b: Replicator;
  constructor(cfgA: ReplicatorConfig = CFG) {
    this.a = new Replicator(cfgA, {
      send: (ds) =>
        ds.forEach((d) => {
          this.sent.push(d);
          if (!this.drop(d)) this.b.onDatagram(d, this.now);
        }),
    });
    this.b = new Replicator({ ...CFG, initialSeq: 42 }, { send: (ds) => ds.forEach((d) => !this.drop(d) && this.a.onDatagram(d, this.now)) });
  }
  tick(): void {
    this.now += 1000;
    this.a.transmit();
    this.b.transmit();
    this.a.onAliveTimer();
    this.b.onAliveTimer();
  }
  handshake(): void {
    for (let i = 0; i < 3; i++) this.tick();
  }
}

describe('expectation sync between two nodes', () => {
  it('carries EXP_NEW after its master, in the same sequence space, and EXP_DEL removes it', () => {
    const p = new Pair();
    p.handshake();
    p.sent.length = 0;
    p.a.onKernelEvent({ kind: 'new', ct: ftpControl(0) });
    p.a.onKernelExp('new', pasv(0, 0));
    p.tick();
    const msgs = p.sent.flatMap((d) => decodeDatagram(d).messages);
    const data = msgs.filter((m) => m.kind === 'ct' || m.kind === 'exp');
    assert.deepEqual(
      data.map((m) => `${m.kind}-${'op' in m ? m.op : ''}`),
      ['ct-new', 'exp-new'],
    );
    assert.equal(data[1]!.seq, (data[0]!.seq + 1) >>> 0, 'one sequence space');
    const got = p.b.externalExp.find(pasv(0, 0));
    assert.ok(got, 'the expectation is in B’s external expectation cache');
    assert.equal(got.exp.helper, 'ftp');
    assert.equal(got.exp.tuple?.dstPort, 10000);
    assert.equal(got.exp.timeout, 300);
    assert.deepEqual(got.exp.master, ftpControl(0).orig);
    // The data connection came: the kernel removes the expectation.
    p.a.onKernelExp('destroy', pasv(0, 0));
    p.tick();
    p.tick();
    assert.equal(p.b.externalExp.size, 0);
    assert.equal(p.a.internalExp.size, 0, 'the acknowledged dead expectation is released');
  });

  it('replicates only expectations whose master is in the internal cache and whose helper is listed', () => {
    const p = new Pair({ ...CFG, expectations: { helpers: ['sip', 'FTP'] } });
    p.handshake();
    p.a.onKernelExp('new', pasv(5, 0)); // no master cached
    p.a.onKernelEvent({ kind: 'new', ct: ftpControl(1) });
    p.a.onKernelExp('new', pasv(1, 1, 'tftp')); // not listed
    p.a.onKernelExp('new', pasv(1, 2, 'ftp')); // listed, any case
    p.tick();
    assert.equal(p.a.internalExp.stats.filtered, 2);
    assert.deepEqual(
      [...p.b.externalExp.values()].map((x) => x.exp.tuple?.dstPort),
      [10002],
    );
    assert.equal(helperAccepts(['sip'], { ...pasv(1, 3), helper: 'sip-5062' }), true, 'prefix match');
    const { helper: _h, ...noHelper } = pasv(1, 3);
    assert.equal(helperAccepts(['sip'], noHelper), false, 'no helper name: refused');
  });

  it('recovers a lost EXP message through NACK, and UPD of an unknown expectation creates it', () => {
    const p = new Pair();
    p.handshake();
    p.a.onKernelEvent({ kind: 'new', ct: ftpControl(0) });
    p.tick();
    p.drop = (d) => decodeDatagram(d).messages.some((m) => m.kind === 'exp');
    p.a.onKernelExp('update', pasv(0, 7));
    p.tick();
    assert.equal(p.b.externalExp.size, 0, 'lost');
    p.drop = () => false;
    p.a.onKernelEvent({ kind: 'update', ct: { ...ftpControl(0), mark: 1 } }); // the next seq shows B the gap
    for (let i = 0; i < 3; i++) p.tick();
    assert.ok(p.b.externalExp.find(pasv(0, 7)), 'retransmitted after the NACK');
    assert.ok(p.a.ftfw.stats.retransmitted > 0);
  });

  it('sends expectations in a bulk (resync request), after the conntrack entries; our commit’s events are not sent', () => {
    const p = new Pair();
    p.a.onKernelEvent({ kind: 'new', ct: ftpControl(0) });
    p.a.onKernelExp('new', pasv(0, 1));
    p.a.onKernelExp('new', pasv(0, 2), 'commit');
    p.drop = () => true;
    p.tick();
    p.drop = () => false;
    p.handshake();
    assert.equal(p.b.externalExp.size, 0);
    p.b.requestResync();
    p.tick();
    p.tick();
    assert.equal(p.b.external.size, 1);
    assert.deepEqual(
      [...p.b.externalExp.values()].map((x) => x.exp.tuple?.dstPort).sort(),
      [10001, 10002],
      'a bulk sends the whole cache, committed entries included (as conntrackd)',
    );
  });

  it('estimates the committed timeout as conntrackd does', () => {
    const x = { key: 'k', exp: pasv(0, 0), receivedAtMs: 10_000, sinceMs: 10_000 };
    assert.equal(expCommitRequest(x, 40_500).timeout, 270);
    assert.equal(expCommitRequest(x, 1_000_000).timeout, 60, 'past its timeout: 60 s');
    assert.equal(expCommitRequest(x, 40_500, 180).timeout, 180, 'CommitTimeout wins');
  });
});

describe('received expectations under ALARM', () => {
  it('age out after CacheTimeout without a refresh, as conntrack entries do', () => {
    const cfg: ReplicatorConfig = {
      ackWindow: 300,
      resendQueueSize: 131_072,
      hashLimit: 1000,
      mtu: 1500,
      overhead: 28,
      tcpWindowTracking: false,
      commitTimeout: false,
      initialSeq: 1,
      mode: 'alarm',
      refreshTimeSec: 10,
      cacheTimeoutSec: 30,
    };
    const r = new Replicator(cfg, { send: () => undefined });
    r.externalExp.apply('new', pasv(1, 1), 1000);
    r.externalExp.apply('new', pasv(2, 1), 20_000);
    r.onAlarmTick(31_000); // the first one is 30 s old: gone; the second is 11 s old: kept
    assert.equal(r.externalExp.size, 1);
    assert.ok(r.externalExp.find(pasv(2, 1)));
    r.onAlarmTick(50_000);
    assert.equal(r.externalExp.size, 0);
  });
});
