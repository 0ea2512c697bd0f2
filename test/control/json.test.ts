import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CTL, CTL_JSON_MAGIC, ctlName, decodeRequestWord, encodeRequestWord, isCtlCode } from '../../src/control/codes.js';
import { formatJsonReply, statsViewJson, toJson, type StatsView } from '../../src/control/format.js';
import { zeroCacheStats, ZERO_LINK_COUNTERS, ZERO_NETWORK_STATS, type DaemonStats, type RuntimeStats, type SyncDaemonStats } from '../../src/control/stats.js';

describe('request codes', () => {
  it("are conntrackd's: 0, 1 and 16–48", () => {
    const codes = Object.values(CTL).sort((a, b) => a - b);
    assert.deepEqual(codes, [0, 1, ...Array.from({ length: 33 }, (_, i) => 16 + i)]);
    assert.equal(CTL.STATS, 21);
    assert.equal(CTL.EXP_DUMP_EXT_XML, 48);
    for (const n of [-1, 2, 15, 49, 0x4b530015]) assert.equal(isCtlCode(n), false, String(n));
    assert.equal(ctlName(CTL.ALL_COMMIT), 'ALL_COMMIT');
    assert.equal(ctlName(7), undefined);
  });
  it('the JSON magic round-trips and no conntrackd request reads as JSON', () => {
    for (const code of Object.values(CTL)) {
      assert.deepEqual(decodeRequestWord(encodeRequestWord(code, true)), { code, json: true });
      assert.deepEqual(decodeRequestWord(encodeRequestWord(code, false)), { code, json: false });
    }
    assert.equal(encodeRequestWord(CTL.STATS, true), CTL_JSON_MAGIC | 21);
    assert.deepEqual(decodeRequestWord(-1), { code: -1, json: false });
    fc.assert(
      fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (w) => {
        const d = decodeRequestWord(w);
        // JSON exactly when the upper half is the magic; text words decode to themselves.
        assert.equal(d.json, (w >>> 16) === 0x4b53);
        if (!d.json) assert.equal(d.code, w);
        else assert.equal(encodeRequestWord(d.code, true), w);
      }),
    );
    assert.throws(() => encodeRequestWord(-1, true), RangeError);
  });
});

const RUNTIME: RuntimeStats = {
  uptimeSec: 3700,
  nlEventsReceived: 2n ** 60n,
  nlEventsFiltered: 0n,
  nlEventsUnknownType: 0,
  nlCatchEventFailed: 0,
  nlDumpUnknownType: 0,
  nlOverrun: 1,
  nlKernelTableFlush: 0,
  nlKernelTableResync: 0,
  netlinkBufferSize: 2097152,
  childProcessFailed: 0,
  childProcessSegfault: 0,
  childProcessTermsig: 0,
  selectFailed: 0,
  waitFailed: 0,
  localReadFailed: 0,
  localUnknownRequest: 0,
};

const SYNC: SyncDaemonStats = {
  mode: 'sync',
  protocol: 'ftfw',
  internal: { kind: 'cache', ...zeroCacheStats('internal'), active: 3 },
  external: { kind: 'inject', addOk: 1, addFail: 0, updOk: 0, updFail: 0, delOk: 0, delFail: 0 },
  expect: undefined,
  traffic: { bytes: 76n, packets: 2n },
  network: { ...ZERO_NETWORK_STATS, rcvLost: 5n },
  link: {
    channels: [
      { kind: 'udp', ifname: 'sync0', status: 'RUNNING', sent: { bytes: 10n, messages: 1n, errors: 0n }, recv: ZERO_LINK_COUNTERS },
      { kind: 'tcp', ifname: 'sync1', status: 'DOWN', sent: ZERO_LINK_COUNTERS, recv: ZERO_LINK_COUNTERS, serverConnected: false, clientConnected: false },
    ],
    current: 0,
  },
  queues: { allocatedNodes: 1, queues: [{ name: 'rsqueue', current: 1, max: 131072, enospc: 0 }] },
  rsqueue: [{ kind: 'control', seq: 7, flags: 8 }],
  runtime: RUNTIME,
  processes: [],
};

function json(view: StatsView, s: DaemonStats): Record<string, unknown> {
  const text = formatJsonReply(statsViewJson(view, s));
  assert.ok(text.endsWith('}\n') && !text.slice(0, -1).includes('\n'), 'one JSON document and a newline');
  return JSON.parse(text) as Record<string, unknown>;
}

describe('stats views as JSON', () => {
  it('-s: both sides by kind, traffic, the current channel, message tracking; u64 as strings', () => {
    assert.deepEqual(json('ct', SYNC), {
      view: 'ct',
      internal: { kind: 'cache', ...zeroCacheStats('internal'), active: 3 },
      external: { kind: 'inject', addOk: 1, addFail: 0, updOk: 0, updFail: 0, delOk: 0, delFail: 0 },
      traffic: { bytes: '76', packets: '2' },
      channel: { kind: 'udp', ifname: 'sync0', status: 'RUNNING', sent: { bytes: '10', messages: '1', errors: '0' }, recv: { bytes: '0', messages: '0', errors: '0' }, role: 'ACTIVE' },
      messageTracking: { malformed: '0', lost: '5' },
    });
  });
  it('-s link: every channel with its role; TCP says who is connected', () => {
    const j = json('link', SYNC) as { channels: Record<string, unknown>[] };
    assert.deepEqual(
      j.channels.map((c) => [c['ifname'], c['role'], c['serverConnected']]),
      [
        ['sync0', 'ACTIVE', undefined],
        ['sync1', 'BACKUP', false],
      ],
    );
  });
  it('-s runtime keeps 64-bit counters exact and adds the uptime text', () => {
    const j = json('runtime', SYNC) as { runtime: Record<string, unknown> };
    assert.equal(j.runtime['nlEventsReceived'], '1152921504606846976');
    assert.equal(j.runtime['uptimeSec'], 3700);
    assert.equal(j.runtime['uptime'], '1 h 1 min');
  });
  it('-s rsqueue, -s queue, -s process', () => {
    assert.deepEqual(json('rsqueue', SYNC), { view: 'rsqueue', length: 1, entries: [{ kind: 'control', seq: 7, flags: 8 }] });
    assert.deepEqual(json('queue', SYNC), { view: 'queue', allocatedNodes: 1, queues: [{ name: 'rsqueue', current: 1, max: 131072, enospc: 0 }] });
    assert.deepEqual(json('process', { ...SYNC, processes: [{ pid: 9, type: 'commit' }] }), { view: 'process', processes: [{ pid: 9, type: 'commit' }] });
  });
  it('where conntrackd prints nothing, JSON says why', () => {
    assert.deepEqual(json('expect', SYNC), { view: 'expect', unavailable: 'ExpectationSync is off' });
    assert.deepEqual(json('rsqueue', { ...SYNC, protocol: 'alarm', rsqueue: undefined }), { view: 'rsqueue', unavailable: 'alarm has no resend queue' });
    const stats: DaemonStats = { mode: 'stats', cache: zeroCacheStats('stats'), traffic: { bytes: 0n, packets: 0n }, runtime: RUNTIME, processes: [] };
    assert.deepEqual(json('network', stats), { view: 'network', unavailable: 'stats mode' });
    assert.equal((json('ct', stats) as { cache: { name: string } }).cache.name, 'stats');
    assert.deepEqual(json('link', { mode: 'none', runtime: RUNTIME, processes: [] }), { view: 'link', unavailable: 'no Sync or Stats section' });
  });
  it('toJson: bigint to string, undefined fields dropped, bytes to hex, nothing else accepted', () => {
    assert.deepEqual(toJson({ a: 1n, b: undefined, c: [2n, 'x'], d: new Uint8Array([1, 255]) }), { a: '1', c: ['2', 'x'], d: '01ff' });
    assert.throws(() => toJson({ f: () => 1 } as unknown as object), TypeError);
  });
});
