// Entries made by real traffic: SNAT through an nftables rule, and an FTP expectation made by the
// kernel's FTP helper. Topology: cli (192.168.77.2) — fw (192.168.77.1 | 10.77.0.1) — srv (10.77.0.2).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS } from '../../src/ctnetlink/consts.js';
import { subscribe } from '../../src/ctnetlink/events.js';
import type { Conntrack, ExpEvent, Expectation } from '../../src/ctnetlink/types.js';
import { linkVeth, nft } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

const skip = rootSkipReason();

// srv: a TCP echo on 8080, a UDP echo on 5353, an FTP-ish control port 21 that answers PASV with a
// real "227 Entering Passive Mode" line (port 10000 first, then 10001, …), and a listener on 10000.
const SERVER = `
const net = require('node:net'); const dgram = require('node:dgram');
net.createServer((s) => s.pipe(s)).listen(8080, '10.77.0.2');
net.createServer((s) => { s.on('error', () => {}); }).listen(10000, '10.77.0.2');
let pasv = 0; // each PASV offers the next port: 10000, 10001, … (39*256+16+n)
net.createServer((s) => {
  s.write('220 keepstate test ftp\\r\\n');
  s.on('data', (d) => { if (String(d).startsWith('PASV')) s.write('227 Entering Passive Mode (10,77,0,2,39,' + (16 + pasv++) + ')\\r\\n'); });
  s.on('error', () => {});
}).listen(21, '10.77.0.2', () => console.log('ready'));
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(m, r.port, r.address)); u.bind(5353, '10.77.0.2');
`;

// cli: one step per line on stdin, so the test decides when each connection is made.
const CLIENT = `
const net = require('node:net'); const dgram = require('node:dgram'); const rl = require('node:readline');
const keep = [];
rl.createInterface({ input: process.stdin }).on('line', (cmd) => {
  if (cmd === 'tcp') { const s = net.connect(8080, '10.77.0.2', () => s.write('hello')); s.once('data', () => console.log('tcp-ok')); keep.push(s); }
  if (cmd === 'udp') { const u = dgram.createSocket('udp4'); u.on('message', () => console.log('udp-ok')); u.send('x', 5353, '10.77.0.2'); keep.push(u); }
  if (cmd === 'ftp') { const s = net.connect(21, '10.77.0.2'); s.on('data', (d) => { if (String(d).startsWith('220')) s.write('PASV\\r\\n'); if (String(d).startsWith('227')) console.log('pasv-ok'); }); keep.push(s); }
  if (cmd === 'data') { const s = net.connect(10000, '10.77.0.2', () => console.log('data-ok')); keep.push(s); }
});
console.log('ready');
`;

/** waitLine resolves when the child prints `line` (listening, not iterating: leaving a for-await would destroy stdout). */
function waitLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const guard = setTimeout(() => done(new Error(`no ${line} within 15 s`)), 15_000);
    const onData = (d: Buffer): void => {
      buf += String(d);
      if (buf.split('\n').includes(line)) done();
    };
    const onExit = (): void => done(new Error(`process ended before printing ${line}`));
    function done(err?: Error): void {
      clearTimeout(guard);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

async function dumpAll(ct: ConntrackClient): Promise<Conntrack[]> {
  const out: Conntrack[] = [];
  for await (const b of ct.dump()) out.push(...b);
  return out;
}

describe('entries made by real traffic through the kernel', { skip }, () => {
  let cli: Netns, fw: Netns, srv: Netns;
  let client: ChildProcess;
  let ct: ConntrackClient;
  const lines: string[] = [];

  before(async () => {
    cli = Netns.create('cli');
    fw = Netns.create('fw');
    srv = Netns.create('srv');
    linkVeth({ ns: cli, ifname: 'lan0', cidr: '192.168.77.2/24' }, { ns: fw, ifname: 'lan', cidr: '192.168.77.1/24' });
    linkVeth({ ns: fw, ifname: 'wan', cidr: '10.77.0.1/24' }, { ns: srv, ifname: 'wan0', cidr: '10.77.0.2/24' });
    cli.exec('ip', ['route', 'add', 'default', 'via', '192.168.77.1']);
    fw.sysctl('net.ipv4.ip_forward', 1);
    nft(
      fw,
      `table ip ks {
        ct helper ftp-std { type "ftp" protocol tcp; }
        chain pre { type filter hook prerouting priority 0; tcp dport 21 ct helper set "ftp-std"; }
        chain post { type nat hook postrouting priority 100; oifname "wan" snat to 10.77.0.1 fully-random; }
      }`,
    );
    ct = ConntrackClient.open({ netns: fw.name });
    const server = srv.spawn('node', ['-e', SERVER]);
    await waitLine(server, 'ready');
    client = cli.spawn('node', ['-e', CLIENT]);
    client.stdout!.on('data', (d) => lines.push(...String(d).split('\n')));
    await waitLine(client, 'ready');
  });
  after(() => {
    ct?.close();
    for (const ns of [cli, fw, srv]) ns?.close();
  });

  async function step(cmd: string, expect: string): Promise<void> {
    const count = (): number => lines.filter((l) => l === expect).length;
    const before = count();
    client.stdin!.write(`${cmd}\n`);
    const guard = Date.now() + 15_000;
    while (count() <= before) {
      if (Date.now() > guard) assert.fail(`no ${expect} from the client`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('sees a TCP connection through SNAT with its NAT mapping', async () => {
    await step('tcp', 'tcp-ok');
    const e = (await dumpAll(ct)).find((c) => c.orig?.proto === IPPROTO.TCP && c.orig.dstPort === 8080);
    assert.ok(e, 'the TCP entry is in the firewall table');
    assert.equal(e.orig?.src, '192.168.77.2');
    assert.equal(e.reply?.src, '10.77.0.2');
    assert.equal(e.reply?.dst, '10.77.0.1', 'the reply goes to the SNAT address');
    assert.ok(((e.status ?? 0) & IPS.SRC_NAT) !== 0, 'IPS_SRC_NAT is set');
    assert.ok(((e.status ?? 0) & IPS.SRC_NAT_DONE) !== 0, 'IPS_SRC_NAT_DONE is set');
    assert.ok(((e.status ?? 0) & IPS.SEEN_REPLY) !== 0);
    // The same entry, fetched by its tuple, is identical apart from the ticking timeout and the
    // reference count (a GET holds one more reference while the kernel answers it).
    const again = await ct.get(e);
    assert.deepEqual({ ...again, timeout: 0, use: 0 }, { ...e, timeout: 0, use: 0 });
  });

  it('sees a UDP flow through SNAT', async () => {
    await step('udp', 'udp-ok');
    const e = (await dumpAll(ct)).find((c) => c.orig?.proto === IPPROTO.UDP && c.orig.dstPort === 5353);
    assert.ok(e);
    assert.equal(e.reply?.dst, '10.77.0.1');
    assert.ok(((e.status ?? 0) & IPS.SRC_NAT) !== 0);
  });

  it('sees the expectation the FTP helper makes for a PASV reply, as a dump and as an event, and the RELATED data connection', async () => {
    const events = subscribe({ groups: ['exp-new'], netns: fw.name });
    const firstExp = (async (): Promise<Expectation | undefined> => {
      const guard = setTimeout(() => events.close(), 15_000);
      try {
        for await (const b of events) {
          if (b.kind === 'events') for (const e of b.events) if ('exp' in e) return (e as ExpEvent).exp;
        }
        return undefined;
      } finally {
        clearTimeout(guard);
      }
    })();
    try {
      await step('ftp', 'pasv-ok');
      const ev = await firstExp;
      assert.ok(ev, 'an EXP_NEW event arrived');
      const exps: Expectation[] = [];
      for await (const b of ct.dumpExpectations()) exps.push(...b);
      assert.equal(exps.length, 1);
      const x = exps[0]!;
      assert.equal(x.helper, 'ftp');
      assert.equal(x.tuple?.dst, '10.77.0.2');
      assert.equal(x.tuple?.dstPort, 10000);
      assert.equal(x.master?.dstPort, 21);
      assert.equal(ev.id, x.id);
      // The expectation can be read back by its tuple.
      const got = await ct.getExpectation(x);
      assert.equal(got.id, x.id);

      await step('data', 'data-ok');
      const data = (await dumpAll(ct)).find((c) => c.orig?.dstPort === 10000);
      assert.ok(data, 'the data connection is tracked');
      assert.equal(data.master?.dstPort, 21, 'it is RELATED to the control connection');
      assert.ok(((data.status ?? 0) & IPS.EXPECTED) !== 0);
    } finally {
      events.close();
    }
  });

  it('deletes an expectation and flushes them', async () => {
    await step('ftp', 'pasv-ok');
    await step('ftp', 'pasv-ok');
    const exps: Expectation[] = [];
    for await (const b of ct.dumpExpectations()) exps.push(...b);
    assert.equal(exps.length, 2, 'two PASV replies, two expectations');
    const destroyed = subscribe({ groups: ['exp-destroy'], netns: fw.name });
    const firstDestroy = (async (): Promise<ExpEvent | undefined> => {
      const guard = setTimeout(() => destroyed.close(), 15_000);
      try {
        for await (const b of destroyed) if (b.kind === 'events') return b.events[0] as ExpEvent;
        return undefined;
      } finally {
        clearTimeout(guard);
        destroyed.close();
      }
    })();
    assert.deepEqual(await ct.deleteExpectations([exps[0]!]), [{ ok: true }]);
    const gone = await firstDestroy;
    assert.equal(gone?.kind, 'destroy', 'an EXP_DESTROY event arrived');
    assert.equal(gone?.exp.id, exps[0]!.id);
    assert.ok((gone?.portId ?? 0) > 0, 'caused by our own socket, so it carries our port id');
    const one: Expectation[] = [];
    for await (const b of ct.dumpExpectations()) one.push(...b);
    assert.deepEqual(
      one.map((e) => e.id),
      [exps[1]!.id],
    );
    await ct.flushExpectations();
    const left: Expectation[] = [];
    for await (const b of ct.dumpExpectations()) left.push(...b);
    assert.equal(left.length, 0);
  });
});
