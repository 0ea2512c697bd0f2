// The text formats, from ctnetlink model objects to the exact lines conntrack 1.4.7 printed for the
// same kernel entries (captured with conntrack -L in the comparison lab; see test/kernel/cli-*).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Conntrack, Expectation, Tuple } from '../../src/ctnetlink/types.js';
import { fromModel } from '../../src/cli/conntrack/ctobj.js';
import { ctime, formatConntrack, formatConntrackXml, formatExpect, formatExpectXml, MSG, NO_FLAGS } from '../../src/cli/conntrack/format.js';
import { conntrackJson, expectationJson } from '../../src/cli/conntrack/json.js';
import { parseLabelMap } from '../../src/cli/conntrack/labels.js';
import { formatSave } from '../../src/cli/conntrack/save.js';
import { LABELS } from './lab.js';

const SEEN_REPLY = 2;
const ASSURED = 4;
const CONFIRMED = 8;
const SRC_NAT_DONE = 0x80;
const DST_NAT_DONE = 0x100;
const NOW = 1_700_000_000;

function t(src: string, dst: string, proto: number, extra: Partial<Tuple> = {}): Tuple {
  return { family: src.includes(':') ? 'ipv6' : 'ipv4', src, dst, proto, ...extra };
}

const FTP: Conntrack = {
  family: 'ipv4',
  orig: t('10.9.0.2', '10.9.0.1', 6, { srcPort: 53456, dstPort: 21 }),
  reply: t('10.9.0.1', '10.9.0.2', 6, { srcPort: 21, dstPort: 53456 }),
  status: SEEN_REPLY | ASSURED | CONFIRMED | SRC_NAT_DONE | DST_NAT_DONE,
  protoinfo: { tcp: { state: 3 } },
  timeout: 431999,
  mark: 0,
  countersOrig: { packets: 5n, bytes: 274n },
  countersReply: { packets: 4n, bytes: 276n },
  timestamp: { start: BigInt(NOW - 1) * 1_000_000_000n },
  helper: 'ftp',
  use: 1,
  id: 3284654506,
};

test('default format: counters, [ASSURED], delta-time, helper', () => {
  assert.equal(
    formatConntrack(FTP, MSG.UNKNOWN, NO_FLAGS, undefined, NOW),
    'tcp      6 431999 ESTABLISHED src=10.9.0.2 dst=10.9.0.1 sport=53456 dport=21 packets=5 bytes=274 src=10.9.0.1 dst=10.9.0.2 sport=21 dport=53456 packets=4 bytes=276 [ASSURED] mark=0 delta-time=1 helper=ftp use=1',
  );
});

test('extended and id, and the event prefixes', () => {
  const { countersOrig: _a, countersReply: _b, timestamp: _c, ...plain } = FTP;
  const flags = { layer3: true, id: true, ktimestamp: false, time: false };
  assert.equal(
    formatConntrack(plain, MSG.NEW, flags, undefined, NOW),
    '    [NEW] ipv4     2 tcp      6 431999 ESTABLISHED src=10.9.0.2 dst=10.9.0.1 sport=53456 dport=21 src=10.9.0.1 dst=10.9.0.2 sport=21 dport=53456 [ASSURED] mark=0 helper=ftp use=1 id=3284654506',
  );
  assert.ok(formatConntrack(plain, MSG.UPDATE, NO_FLAGS, undefined, NOW).startsWith(' [UPDATE] tcp'));
  assert.ok(formatConntrack(plain, MSG.DESTROY, NO_FLAGS, undefined, NOW).startsWith('[DESTROY] tcp'));
});

test('ICMP, [UNREPLIED], zones and unknown protocols', () => {
  const icmp: Conntrack = {
    family: 'ipv4',
    orig: t('10.9.0.2', '10.9.0.1', 1, { icmpType: 8, icmpCode: 0, icmpId: 4242 }),
    reply: t('10.9.0.1', '10.9.0.2', 1, { icmpType: 0, icmpCode: 0, icmpId: 4242 }),
    status: SEEN_REPLY | CONFIRMED,
    timeout: 29,
    mark: 0,
    use: 1,
  };
  assert.equal(formatConntrack(icmp, MSG.UNKNOWN, NO_FLAGS, undefined, NOW), 'icmp     1 29 src=10.9.0.2 dst=10.9.0.1 type=8 code=0 id=4242 src=10.9.0.1 dst=10.9.0.2 type=0 code=0 id=4242 mark=0 use=1');
  const zoned: Conntrack = {
    family: 'ipv4',
    orig: t('192.0.2.3', '192.0.2.4', 17, { srcPort: 53, dstPort: 5353, zone: 3 }),
    reply: t('192.0.2.4', '192.0.2.3', 17, { srcPort: 5353, dstPort: 53 }),
    status: CONFIRMED,
    timeout: 2999,
    mark: 0,
    zone: 7,
    use: 1,
  };
  assert.equal(
    formatConntrack(zoned, MSG.UNKNOWN, NO_FLAGS, undefined, NOW),
    'udp      17 2999 src=192.0.2.3 dst=192.0.2.4 sport=53 dport=5353 zone-orig=3 [UNREPLIED] src=192.0.2.4 dst=192.0.2.3 sport=5353 dport=53 mark=0 zone=7 use=1',
  );
  const generic: Conntrack = { family: 'ipv4', orig: t('192.0.2.13', '192.0.2.14', 200), reply: t('192.0.2.14', '192.0.2.13', 200), status: CONFIRMED, timeout: 2999, mark: 0, use: 1 };
  assert.equal(formatConntrack(generic, MSG.UNKNOWN, NO_FLAGS, undefined, NOW), 'unknown  200 2999 src=192.0.2.13 dst=192.0.2.14 [UNREPLIED] src=192.0.2.14 dst=192.0.2.13 mark=0 use=1');
  const gre: Conntrack = { family: 'ipv4', orig: t('192.0.2.11', '192.0.2.12', 47, { srcPort: 0x10, dstPort: 0x20 }), reply: t('192.0.2.12', '192.0.2.11', 47, { srcPort: 0x20, dstPort: 0x10 }), status: CONFIRMED, timeout: 2999, mark: 0, use: 1 };
  assert.equal(formatConntrack(gre, MSG.UNKNOWN, NO_FLAGS, undefined, NOW), 'gre      47 2999 src=192.0.2.11 dst=192.0.2.12 srckey=0x10 dstkey=0x20 [UNREPLIED] src=192.0.2.12 dst=192.0.2.11 srckey=0x20 dstkey=0x10 mark=0 use=1');
});

test('labels: names from connlabel.conf, "labels" alone when none is named', () => {
  const map = parseLabelMap(LABELS)!;
  const labels = new Uint8Array(16);
  labels[0] = 0b100001; // bits 0 and 5
  const ct: Conntrack = { family: 'ipv4', orig: t('192.0.2.15', '192.0.2.16', 200), reply: t('192.0.2.16', '192.0.2.15', 200), timeout: 1, labels };
  assert.ok(formatConntrack(ct, MSG.UNKNOWN, NO_FLAGS, map, NOW).endsWith(' labels=red,blue sky'));
  const unnamed = new Uint8Array(16);
  unnamed[0] = 0b100; // bit 2: no name
  assert.ok(formatConntrack({ ...ct, labels: unnamed }, MSG.UNKNOWN, NO_FLAGS, map, NOW).endsWith(' labels'));
  assert.ok(!formatConntrack(ct, MSG.UNKNOWN, NO_FLAGS, undefined, NOW).includes('labels'));
});

test('ktimestamp: ctime() of start in the local zone', () => {
  const prev = process.env['TZ'];
  process.env['TZ'] = 'UTC';
  try {
    assert.equal(ctime(0), 'Thu Jan  1 00:00:00 1970');
    assert.equal(ctime(1_700_000_000), 'Tue Nov 14 22:13:20 2023');
    const line = formatConntrack({ ...FTP, timestamp: { start: 1_700_000_000_000_000_000n } }, MSG.UNKNOWN, { ...NO_FLAGS, ktimestamp: true }, undefined, 1_700_000_005);
    assert.ok(line.includes(' delta-time=5 [start=Tue Nov 14 22:13:20 2023] helper=ftp'), line);
  } finally {
    if (prev === undefined) delete process.env['TZ'];
    else process.env['TZ'] = prev;
  }
});

test('XML flow', () => {
  const { countersOrig: _a, countersReply: _b, timestamp: _c, helper: _h, ...ct } = FTP;
  assert.equal(
    formatConntrackXml({ ...ct, status: CONFIRMED }, MSG.UNKNOWN, NO_FLAGS, undefined, 0),
    '<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>10.9.0.2</src><dst>10.9.0.1</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>53456</sport><dport>21</dport></layer4></meta>' +
      '<meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>10.9.0.1</src><dst>10.9.0.2</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>21</sport><dport>53456</dport></layer4></meta>' +
      '<meta direction="independent"><state>ESTABLISHED</state><timeout>431999</timeout><mark>0</mark><use>1</use><id>3284654506</id><unreplied/></meta></flow>',
  );
});

const EXP: Expectation = {
  family: 'ipv4',
  master: t('10.9.0.2', '10.9.0.1', 6, { srcPort: 50684, dstPort: 21 }),
  tuple: t('10.9.0.2', '10.9.0.1', 6, { srcPort: 0, dstPort: 40000 }),
  mask: t('255.255.255.255', '255.255.255.255', 6, { srcPort: 0, dstPort: 65535 }),
  timeout: 299,
  class: 0,
  helper: 'ftp',
  flags: 0,
};

test('expectations: default and XML', () => {
  assert.equal(
    formatExpect(EXP, MSG.UNKNOWN),
    '299 proto=6 src=10.9.0.2 dst=10.9.0.1 sport=0 dport=40000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.9.0.2 master-dst=10.9.0.1 sport=50684 dport=21 class=0 helper=ftp',
  );
  assert.equal(
    formatExpectXml(EXP, MSG.UNKNOWN, NO_FLAGS, 0),
    '<flow><layer3 protonum="2" protoname="ipv4"><expected><src>10.9.0.2</src><dst>10.9.0.1</dst></expected><mask><src>255.255.255.255</src><dst>255.255.255.255</dst></mask><master><src>10.9.0.2</src><dst>10.9.0.1</dst></master></layer3><layer4 protonum="6" protoname="tcp"><expected><sport>0</sport><dport>40000</dport></expected><mask><sport>0</sport><dport>65535</dport></mask><master><sport>50684</sport><dport>21</dport></master></layer4><meta><helper-name>ftp</helper-name><timeout>299</timeout><class>0</class></meta></flow>',
  );
  const { helper: _h, ...noHelper } = EXP;
  assert.ok(formatExpect({ ...noHelper, flags: 5 }, MSG.NEW).endsWith(' dport=21 PERMANENT,USERSPACE class=0'));
  assert.ok(formatExpect({ ...noHelper, flags: 5 }, MSG.NEW).startsWith('    [NEW] 299 proto=6 '));
});

test('-o save: the command line that recreates the entry', () => {
  const dnat: Conntrack = {
    family: 'ipv4',
    orig: t('10.0.0.15', '10.0.0.16', 6, { srcPort: 1, dstPort: 2 }),
    reply: t('10.0.0.60', '10.0.0.15', 6, { srcPort: 2, dstPort: 1 }),
    status: CONFIRMED | 0x20 | SRC_NAT_DONE | DST_NAT_DONE,
    protoinfo: { tcp: { state: 7 } },
    timeout: 999,
    mark: 0,
    use: 1,
  };
  assert.deepEqual(formatSave(fromModel(dnat), MSG.NEW), { line: '-A -t 999 -u UNSET -s 10.0.0.15 -d 10.0.0.16 -g 10.0.0.60 -q 10.0.0.15 -p tcp --sport 1 --dport 2 --reply-port-src 2 --reply-port-dst 1 --state TIME_WAIT' });
  const zoned: Conntrack = {
    family: 'ipv4',
    orig: t('10.0.0.1', '10.0.0.2', 6, { srcPort: 10, dstPort: 20 }),
    reply: t('10.0.0.2', '10.0.0.1', 6, { srcPort: 20, dstPort: 10 }),
    status: SEEN_REPLY | ASSURED | CONFIRMED,
    protoinfo: { tcp: { state: 3 } },
    timeout: 999,
    zone: 3,
  };
  assert.deepEqual(formatSave(fromModel(zoned), MSG.DESTROY), { line: '-D -t 999 -u SEEN_REPLY,ASSURED -w 3 -s 10.0.0.1 -d 10.0.0.2 -r 10.0.0.2 -q 10.0.0.1 -p tcp --sport 10 --dport 20 --reply-port-src 20 --reply-port-dst 10 --state ESTABLISHED' });
  const generic: Conntrack = { family: 'ipv4', orig: t('10.0.0.13', '10.0.0.14', 200), reply: t('10.0.0.14', '10.0.0.13', 200), status: SEEN_REPLY | CONFIRMED, timeout: 9 };
  assert.deepEqual(formatSave(fromModel(generic), MSG.NEW), { line: '-A -t 9 -u SEEN_REPLY -s 10.0.0.13 -d 10.0.0.14 -r 10.0.0.14 -q 10.0.0.13 -p 200' });
});

test('-o json: stable keys, u64 as strings, only what the kernel sent', () => {
  const map = parseLabelMap(LABELS)!;
  const labels = new Uint8Array(16);
  labels[0] = 1;
  const j = conntrackJson({ ...FTP, labels }, MSG.NEW, map);
  assert.deepEqual(j, {
    event: 'new',
    family: 'ipv4',
    proto: 'tcp',
    protonum: 6,
    timeout: 431999,
    state: 'ESTABLISHED',
    original: { src: '10.9.0.2', dst: '10.9.0.1', sport: 53456, dport: 21, packets: '5', bytes: '274' },
    reply: { src: '10.9.0.1', dst: '10.9.0.2', sport: 21, dport: 53456, packets: '4', bytes: '276' },
    status: ['SEEN_REPLY', 'ASSURED', 'CONFIRMED', 'SRC_NAT_DONE', 'DST_NAT_DONE'],
    mark: 0,
    use: 1,
    id: 3284654506,
    helper: 'ftp',
    timestamp: { start: String(BigInt(NOW - 1) * 1_000_000_000n) },
    labels: [0],
    labelNames: ['red'],
  });
  assert.equal(JSON.stringify(expectationJson(EXP, MSG.UNKNOWN)), JSON.stringify({
    family: 'ipv4',
    proto: 'tcp',
    protonum: 6,
    timeout: 299,
    tuple: { src: '10.9.0.2', dst: '10.9.0.1', sport: 0, dport: 40000 },
    mask: { src: '255.255.255.255', dst: '255.255.255.255', sport: 0, dport: 65535 },
    master: { src: '10.9.0.2', dst: '10.9.0.1', sport: 50684, dport: 21 },
    flags: [],
    class: 0,
    helper: 'ftp',
  }));
});
