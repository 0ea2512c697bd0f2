// `keepstate status` text: what an administrator reads during an incident — completeness, lag,
// every router heard, and the takeover's steps with their offsets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStatus, type StatusReport } from '../../src/control/status.js';

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);

const base: StatusReport = {
  pid: 4242,
  uptimeSec: 90,
  nowMs: NOW,
  sync: { mode: 'ftfw', complete: true, timedOut: false, lastHeardMs: NOW - 400, queued: 3, awaitingAck: 120, lag: { oldestUnackedMs: 35, lastAckRttMs: 4 }, internal: 100_000, external: 0 },
  instances: [
    {
      name: 'VI_LAN',
      interface: 'lan0',
      family: 'ipv4',
      version: 3,
      vrid: 51,
      role: 'backup',
      priority: { configured: 150, effective: 1, why: 'demoted: sync incomplete: unrecovered FTFW gap' },
      master: { address: '192.0.2.2', priority: 100 },
      peers: [
        { address: '192.0.2.2', priority: 100, advertIntUs: 100_000, adverts: 812, lastHeardMs: NOW - 60, maxGapMs: 104.2 },
        { address: '192.0.2.3', priority: 50, advertIntUs: 1_000_000, adverts: 3, lastHeardMs: NOW - 42_000 },
      ],
      timeline: [],
      adverts: { sent: 10, received: 815, discarded: { TTL: 2 } },
    },
  ],
};

describe('formatStatus', () => {
  it('shows the lag, every peer heard and why the priority moved', () => {
    const text = formatStatus(base);
    assert.match(text, /^sync \(ftfw\): complete \(peer last heard 0\.4 s ago\)$/m);
    assert.match(text, /^ {2}replication lag: oldest message unacknowledged for 35 ms, last ACK 4 ms after sending$/m);
    assert.match(text, /^VI_LAN: BACKUP, priority 1 \(configured 150; demoted: sync incomplete: unrecovered FTFW gap\)/m);
    assert.match(text, /^ {2}peer 192\.0\.2\.2: priority 100, advert every 100 ms, 812 adverts, last 0\.1 s ago, longest gap 104\.2 ms$/m);
    assert.match(text, /^ {2}peer 192\.0\.2\.3: priority 50, advert every 1000 ms, 3 adverts, last 42\.0 s ago$/m);
    assert.match(text, /discarded TTL 2/);
  });

  it('says when everything is acknowledged, and leaves the lag out when there is none to tell (NOTRACK, ALARM)', () => {
    const acked = formatStatus({ ...base, sync: { ...base.sync, awaitingAck: 0, lag: { lastAckRttMs: 12_345 } } });
    assert.match(acked, /replication lag: every message acknowledged, last ACK 12\.3 s after sending/);
    const none = formatStatus({ ...base, sync: { ...base.sync, mode: 'notrack', lag: {} } });
    assert.doesNotMatch(none, /replication lag/);
  });
});
