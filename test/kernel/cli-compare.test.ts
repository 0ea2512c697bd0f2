// `keepstate conntrack` against conntrack 1.4.7 on the same kernel table: a router namespace holds
// entries made by real traffic (TCP established, TIME_WAIT and SYN_SENT, UDP with and without reply,
// ICMP and ICMPv6 echo, IPv6 TCP, DNAT and SNAT through nftables, an FTP control connection whose
// PASV reply makes an expectation, ct marks) and by `conntrack -I` (zones, directional zones, marks,
// labels, SCTP/DCCP/GRE/generic protocols, NAT bindings), with nf_conntrack_acct and
// nf_conntrack_timestamp on. Every output format, format combination and filter is run through
// both tools and the outputs must be equal.
//
// Normalised: only the numbers that legitimately move between the two runs, a second or so apart:
// the remaining timeout (counts down) and delta-time/<deltatime> (wall clock minus start). They are
// cut out of the text, which must then be identical, and each pair must differ by at most 2.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { rootSkipReason } from '../../lab/netns.js';
import { assertSame, havePython, keepstateCommand, Lab, LABELS, pingScript } from '../cli/lab.js';

const skip = rootSkipReason();

const RULES = `
table inet ks {
  ct helper ftp-h { type "ftp" protocol tcp; }
  chain pre {
    type filter hook prerouting priority -150;
    tcp dport 21 ct helper set "ftp-h"
    tcp dport 9090 ct mark set 0x2a
  }
}
table ip ksnat {
  chain pre { type nat hook prerouting priority -100; tcp dport 8080 dnat to 10.9.0.1:9090; }
  chain post { type nat hook postrouting priority 100; ip daddr 10.9.0.2 udp dport 7002 snat to 10.9.0.1:40000-40010; }
}
`;

/** CLIENT_RULES drop what the router sends to port 9999, leaving its entry in SYN_SENT. */
const CLIENT_RULES = 'table inet ksc {\n  chain in { type filter hook input priority 0; tcp dport 9999 drop; }\n}\n';

/** SYN_SENT is run in the router: a connection attempt the client never answers, abandoned before any retransmission. */
const SYN_SENT = "const s = require('net').connect({ host: '10.9.0.2', port: 9999 }); s.on('error', () => {}); setTimeout(() => { s.destroy(); }, 300);";

const SERVER = `
const net = require('net'), dgram = require('dgram');
const keep = [];
let n = 4;
const up = () => { if (--n === 0) console.log('ready'); };
net.createServer((s) => { keep.push(s); s.on('error', () => {}); }).listen(9090, '::', up);
net.createServer((s) => { s.on('error', () => {}); s.on('end', () => s.end()); }).listen(9091, '10.9.0.1', up);
net.createServer((s) => {
  keep.push(s); s.on('error', () => {});
  s.write('220 keepstate\\r\\n');
  s.on('data', (d) => { if (String(d).startsWith('PASV')) s.write('227 Entering Passive Mode (10,9,0,1,156,64)\\r\\n'); });
}).listen(21, '10.9.0.1', up);
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => u.send(m, r.port, r.address));
u.bind(7001, '10.9.0.1', up);
`;

const CLIENT = `
const net = require('net'), dgram = require('dgram');
const keep = [];
let pending = 0;
const done = () => { if (--pending === 0) console.log('ready'); };
function conn(host, port, cb) {
  pending++;
  const s = net.connect({ host, port });
  keep.push(s);
  s.on('error', () => {});
  s.on('connect', () => cb(s));
}
conn('10.9.0.1', 8080, () => done());
conn('fd09::1', 9090, () => done());
conn('10.9.0.1', 9091, (s) => { s.end(); s.on('close', done); });
conn('10.9.0.1', 21, (s) => {
  let st = 0;
  s.on('data', () => { if (st === 0) { st = 1; s.write('PASV\\r\\n'); } else if (st === 1) { st = 2; setTimeout(done, 200); } });
});
pending++;
const u = dgram.createSocket('udp4');
u.on('message', () => done());
u.send('hi', 7001, '10.9.0.1');
dgram.createSocket('udp4').send('x', 7000, '10.9.0.1');
`;

/** USER_ENTRIES are made with conntrack -I; a protocol the kernel lacks may refuse, which is fine. */
const USER_ENTRIES: readonly (readonly string[])[] = [
  ['-I', '-p', 'tcp', '-s', '192.0.2.1', '-d', '192.0.2.2', '--sport', '1000', '--dport', '2000', '--state', 'ESTABLISHED', '-u', 'SEEN_REPLY,ASSURED', '-t', '3000', '-w', '7', '-m', '5'],
  ['-I', '-p', 'udp', '-s', '192.0.2.3', '-d', '192.0.2.4', '--sport', '53', '--dport', '5353', '-t', '3000', '--orig-zone', '3'],
  ['-I', '-p', 'udp', '-s', '192.0.2.23', '-d', '192.0.2.4', '--sport', '53', '--dport', '5353', '-t', '3000', '--reply-zone', '4'],
  ['-I', '-p', 'icmp', '--icmp-type', '8', '--icmp-code', '0', '--icmp-id', '77', '-s', '192.0.2.5', '-d', '192.0.2.6', '-t', '3000', '-u', 'SEEN_REPLY'],
  ['-I', '-p', 'sctp', '-s', '192.0.2.7', '-d', '192.0.2.8', '--sport', '5000', '--dport', '5001', '--state', 'ESTABLISHED', '--orig-vtag', '11', '--reply-vtag', '12', '-t', '3000'],
  ['-I', '-p', 'dccp', '-s', '192.0.2.9', '-d', '192.0.2.10', '--sport', '6000', '--dport', '6001', '--state', 'OPEN', '--role', 'client', '-t', '3000'],
  ['-I', '-p', 'gre', '-s', '192.0.2.11', '-d', '192.0.2.12', '--srckey', '0x10', '--dstkey', '0x20', '-t', '3000'],
  ['-I', '-p', '200', '-s', '192.0.2.13', '-d', '192.0.2.14', '-t', '3000'],
  ['-I', '-p', 'tcp', '-s', '192.0.2.15', '-d', '192.0.2.16', '--sport', '1', '--dport', '2', '--state', 'ESTABLISHED', '-t', '3000', '--label-add', 'red,blue sky'],
  ['-I', '-p', 'udp', '-s', '2001:db8::1', '-d', '2001:db8::2', '--sport', '1', '--dport', '2', '-t', '3000', '-w', '9'],
  ['-I', '-p', 'tcp', '-s', '192.0.2.17', '-d', '192.0.2.18', '--sport', '3', '--dport', '4', '--state', 'ESTABLISHED', '-u', 'SEEN_REPLY', '-t', '3000', '--dst-nat', '192.0.2.99:8443'],
  ['-I', '-p', 'udp', '-s', '192.0.2.19', '-d', '192.0.2.20', '--sport', '5', '--dport', '6', '-t', '3000', '--src-nat', '192.0.2.98'],
  ['-I', '-p', 'udplite', '-s', '192.0.2.21', '-d', '192.0.2.22', '--sport', '7', '--dport', '8', '-t', '3000', '-m', '4294967295'],
];

const FORMATS: readonly string[] = [
  '',
  'extended',
  'id',
  'timestamp',
  'labels',
  'ktimestamp',
  'save',
  'xml',
  'userspace',
  'extended,id',
  'extended,labels',
  'extended,id,ktimestamp,labels',
  'id,ktimestamp',
  'xml,extended',
  'xml,id',
  'xml,ktimestamp',
  'xml,labels',
  'xml,extended,id,ktimestamp,labels,timestamp',
  'EXTENDED',
  'e,i',
];

const FILTERS: readonly (readonly string[])[] = [
  ['-p', 'tcp'],
  ['-p', 'udp'],
  ['-p', 'icmp'],
  ['-p', 'icmpv6'],
  ['-p', 'sctp'],
  ['-p', '6'],
  ['-p', 'tcp', '--state', 'ESTABLISHED'],
  ['-p', 'tcp', '--state', 'TIME_WAIT'],
  ['-p', 'tcp', '--dport', '9090'],
  ['-p', 'tcp', '--sport', '1000', '--dport', '2000'],
  ['-p', 'tcp', '--reply-port-src', '9090'],
  ['-s', '10.9.0.2'],
  ['-d', '10.9.0.1'],
  ['-r', '10.9.0.1'],
  ['-q', '10.9.0.2'],
  ['-s', '10.9.0.0/24'],
  ['-s', '10.9.0.2', '-d', '10.9.0.1', '-p', 'udp'],
  ['-s', '192.0.2.0/28', '--mask-src', '255.255.255.0'],
  ['-d', 'fd09::/64'],
  ['-f', 'ipv6'],
  ['-f', 'ipv4', '-p', 'udp'],
  ['-m', '42'],
  ['-m', '0x2a/0xff'],
  ['-m', '0/0xffffffff'],
  ['-u', 'ASSURED'],
  ['-u', 'SEEN_REPLY'],
  ['-u', 'UNREPLIED'],
  ['-u', 'SEEN_REPLY,!ASSURED'],
  ['--src-nat'],
  ['--dst-nat'],
  ['--any-nat'],
  ['--dst-nat', '10.9.0.1'],
  ['--dst-nat', '10.9.0.1:9090'],
  ['--src-nat', '10.9.0.1'],
  ['-w', '7'],
  ['--orig-zone', '3'],
  ['--reply-zone', '4'],
  ['-l', 'red'],
  ['-l', 'red,blue sky'],
  ['-l', 'green'],
  ['-o', 'xml', '-p', 'tcp'],
  ['-o', 'save', '-p', 'udp'],
  ['-o', 'extended', '-f', 'ipv6'],
  ['dying'],
  ['unconfirmed'],
];

describe('keepstate conntrack and conntrack 1.4.7 print the same table', { skip, timeout: 300_000 }, () => {
  let lab: Lab;

  before(async () => {
    lab = Lab.create('clicmp', { labels: LABELS, acct: true, timestamps: true });
    // Long timeouts, so that no entry expires or changes state while the two tools take turns.
    for (const k of ['udp_timeout', 'udp_timeout_stream', 'tcp_timeout_time_wait', 'tcp_timeout_syn_sent', 'icmp_timeout', 'icmpv6_timeout', 'generic_timeout'])
      lab.router.sysctl(`net.netfilter.nf_conntrack_${k}`, 3000);
    lab.nft(RULES);
    lab.client.exec('nft', ['-f', '-'], CLIENT_RULES);
    await lab.spawnNode(lab.router, SERVER);
    await lab.spawnNode(lab.client, CLIENT);
    lab.runNode(lab.router, SYN_SENT);
    lab.runNode(lab.router, "const u = require('dgram').createSocket('udp4'); u.send('x', 7002, '10.9.0.2', () => u.close());");
    if (havePython()) {
      lab.client.exec('/usr/bin/python3', ['-c', pingScript('10.9.0.1', false, 4242)]);
      lab.client.exec('/usr/bin/python3', ['-c', pingScript('fd09::1', true, 4343)]);
    }
    for (const args of USER_ENTRIES) lab.runner.conntrack(args);
    lab.runner.conntrack(['-U', '-p', 'tcp', '--dport', '9090', '-f', 'ipv6', '--label-add', 'green']);
  });

  after(() => lab?.close());

  test('the table has the entries the comparison relies on', () => {
    const r = lab.runner.conntrack(['-L']);
    for (const needle of ['ESTABLISHED', 'TIME_WAIT', 'SYN_SENT', '[UNREPLIED]', 'helper=ftp', 'mark=42', 'zone=7', 'zone-orig=3', 'zone-reply=4', 'dport=9090', 'fd09::2', 'packets=', 'delta-time='])
      assert.ok(r.stdout.includes(needle), `conntrack -L shows ${needle}:\n${r.stdout}`);
    assert.match(lab.runner.conntrack(['-L', 'expect']).stdout, /proto=6 /, 'the FTP PASV reply made an expectation');
  });

  for (const fmt of FORMATS) {
    const args = fmt === '' ? ['-L'] : ['-L', '-o', fmt];
    test(args.join(' '), () => {
      const { ct, ks } = lab.runner.both(args);
      assertSame(args, ct, ks);
      assert.ok(ct.stdout.length > 0, 'the listing is not empty');
    });
  }

  for (const f of FILTERS) {
    const args = ['-L', ...f];
    test(args.join(' '), () => {
      const { ct, ks } = lab.runner.both(args);
      assertSame(args, ct, ks);
    });
  }

  for (const args of [
    ['-L', 'expect'],
    ['-L', 'expect', '-o', 'xml'],
    ['-L', 'expect', '-f', 'ipv6'],
    ['-C'],
    ['-C', 'expect'],
    ['-S', 'expect'],
    ['-G', '-p', 'sctp', '-s', '192.0.2.7', '-d', '192.0.2.8', '--sport', '5000', '--dport', '5001'],
    ['-G', '-p', 'tcp', '-s', '192.0.2.15', '-d', '192.0.2.16', '--sport', '1', '--dport', '2', '-o', 'labels,extended'],
    ['-G', '-p', 'tcp', '-s', '192.0.2.15', '-d', '192.0.2.16', '--sport', '1', '--dport', '2', '-o', 'save'],
    ['-G', '-p', 'icmp', '-s', '192.0.2.5', '-d', '192.0.2.6', '--icmp-type', '8', '--icmp-code', '0', '--icmp-id', '77'],
    ['-G', '-p', 'tcp', '-s', '192.0.2.100', '-d', '192.0.2.101', '--sport', '1', '--dport', '2'],
    ['-G', '-p', 'udp', '-r', '10.9.0.1', '-q', '10.9.0.2', '--reply-port-src', '7001', '--reply-port-dst', '1'],
  ]) {
    test(args.join(' '), () => {
      const { ct, ks } = lab.runner.both(args);
      assertSame(args, ct, ks);
    });
  }

  // glibc reads the zone from /usr/share/zoneinfo, Node from its own ICU data: compare only when both have it.
  const tzSkip = existsSync('/usr/share/zoneinfo/America/New_York') ? false : 'no tzdata for America/New_York';
  test('-L -o ktimestamp in another time zone', { skip: tzSkip }, () => {
    const args = ['-L', '-o', 'ktimestamp'];
    const tz = 'America/New_York';
    const ct = lab.runner.run(['env', `TZ=${tz}`, 'conntrack', ...args]);
    const ks = lab.runner.run(['env', `TZ=${tz}`, ...keepstateCommand(), 'conntrack', ...args]);
    assertSame(args, ct, ks);
  });

  test('-o json lists the same entries as the text format', () => {
    const text = lab.runner.conntrack(['-L', '-o', 'id']).stdout.trim().split('\n');
    const json = lab.runner.keepstate(['-L', '-o', 'json']);
    assert.equal(json.status, 0);
    const objs = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id?: number; family: string; original?: { src: string } });
    assert.equal(objs.length, text.length);
    const ids = text.map((l) => Number(/ id=(\d+)$/.exec(l)?.[1]));
    assert.deepEqual(
      objs.map((o) => o.id),
      ids,
    );
  });

  // Last, because they change the table: an expectation made on the FTP control connection (the
  // kernel wants a master with a helper), by each tool in turn, read and deleted by the other.
  test('-I/-G/-D expect: created by one tool, read and deleted by the other', () => {
    const ftp = lab.runner.conntrack(['-L', '-p', 'tcp', '--dport', '21']).stdout;
    const port = /sport=(\d+) dport=21 /.exec(ftp)?.[1];
    assert.ok(port !== undefined, ftp);
    // 1600 and 1700 both have 6 (TCP) as high byte: conntrack 1.4.7 stores that byte as the
    // expected tuple's protocol (see protos.ts), so only such ports make a valid TCP expectation.
    const create = ['-I', 'expect', '-s', '10.9.0.2', '-d', '10.9.0.1', '-p', 'tcp', '--sport', port, '--dport', '21', '--tuple-src', '10.9.0.2', '--tuple-dst', '10.9.0.1',
      '--mask-src', '255.255.255.255', '--mask-dst', '255.255.255.255', '--tuple-port-src', '1600', '--tuple-port-dst', '1700', '--mask-port-src', '0', '--mask-port-dst', '65535', '-t', '100'];
    const get = ['-G', 'expect', '-s', '10.9.0.2', '-d', '10.9.0.1', '-p', 'tcp', '--sport', '1600', '--dport', '1700', '--reply-port-src', '1', '--reply-port-dst', '2'];
    const del = ['-D', ...get.slice(1)];
    const listing = (): void => {
      for (const args of [['-L', 'expect'], ['-L', 'expect', '-o', 'xml'], get]) {
        const { ct, ks } = lab.runner.both(args);
        assertSame(args, ct, ks);
      }
    };
    const ctCreate = lab.runner.conntrack(create);
    assert.equal(ctCreate.status, 0, ctCreate.stderr);
    listing();
    assert.match(lab.runner.conntrack(['-L', 'expect']).stdout, /sport=1600 dport=1700 /);
    const ksDelete = lab.runner.keepstate(del);
    const ksCreate = lab.runner.keepstate(create);
    assertSame(create, ctCreate, ksCreate);
    listing();
    const ctDelete = lab.runner.conntrack(del);
    assertSame(del, ctDelete, ksDelete);
    assert.doesNotMatch(lab.runner.conntrack(['-L', 'expect']).stdout, /sport=1600/);
  });
});
