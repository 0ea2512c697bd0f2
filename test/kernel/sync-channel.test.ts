// Sync channels (src/sync/channel.ts) against the real kernel: two fresh namespaces joined by a
// veth, for UDP and Multicast over IPv4 and IPv6. 1 000 datagrams arrive intact and in order,
// counters agree on both sides, a node does not hear its own multicast, the FORCE buffer options
// read back what was asked, the sockets live in the channel's namespace, a missing interface is a
// clear error, close frees the ports, Checksum off is on the wire, and a real conntrackd 1.4.7
// exchanges messages with our channel.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { parseConntrackdConfig, type MulticastChannel, type UdpChannel } from '../../src/config/conntrackd/index.js';
import { AF, ErrnoError, ETH_P, NativeSocket, SOCK, htons, ifNameToIndex, inet4Sockaddr, packetSockaddr } from '../../src/native/socket.js';
import { ChannelError, openChannel, type DatagramSource, type SyncChannel } from '../../src/sync/channel.js';
import { decodeDatagram, encodeDatagrams, type SyncMessage } from '../../src/sync/index.js';
import { loadSyncGolden } from '../sync/golden-sync.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason();
const N = 1000;
const MTU = 1380; // not the veth default: proves the MTU is read in the channel's namespace
const A4 = '10.231.7.1';
const B4 = '10.231.7.2';
const A6 = 'fd31:7::1';
const B6 = 'fd31:7::2';
// More than net.core.{r,w}mem_max allows without FORCE (the kernel doubles what it is given).
const BUF = Math.max(16 * 1024 * 1024, 2 * Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8')), 2 * Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8')));

type Ch = MulticastChannel | UdpChannel;

/** channel parses one channel block the way conntrackd.conf would hold it. */
function channel(block: string): Ch {
  const c = parseConntrackdConfig(`Sync {\n Mode FTFW { }\n ${block}\n}\n`, 'test.conf').config.sync?.channels[0];
  if (c === undefined || c.kind === 'tcp') throw new Error('no UDP/Multicast channel in ' + block);
  return c;
}


/** payload i: its index (u32be) then bytes derived from it, `size` long. */
function payload(i: number, size: number): Uint8Array {
  const d = new Uint8Array(size);
  new DataView(d.buffer).setUint32(0, i);
  for (let k = 4; k < size; k++) d[k] = (i * 7 + k * 13) & 0xff;
  return d;
}

/** udpPorts lists the local ports of the UDP sockets in a namespace. */
function udpPorts(ns: Netns): number[] {
  return ns
    .exec('ss', ['-Huan'])
    .split('\n')
    .map((l) => /:(\d+)\s/.exec(l.trim().split(/\s+/)[3] + ' ')?.[1])
    .filter((p): p is string => p !== undefined)
    .map(Number);
}

/** linkLocal returns the fe80:: address of an interface. */
function linkLocal(ns: Netns, dev: string): string {
  const m = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(ns.exec('ip', ['-6', 'addr', 'show', 'dev', dev]));
  if (m === null) throw new Error(`${dev} has no link-local address`);
  return m[1]!;
}

describe('sync channels between two namespaces over a veth', { skip }, () => {
  let a: Netns, b: Netns;
  const open: SyncChannel[] = [];
  const track = async (p: Promise<SyncChannel>): Promise<SyncChannel> => {
    const c = await p;
    open.push(c);
    return c;
  };

  before(() => {
    a = Netns.create('cha');
    b = Netns.create('chb');
    for (const ns of [a, b]) ns.sysctl('net.ipv6.conf.default.accept_dad', 0); // link-local usable at once
    linkVeth({ ns: a, ifname: 'ksa', cidr: `${A4}/24` }, { ns: b, ifname: 'ksb', cidr: `${B4}/24` });
    a.exec('ip', ['addr', 'add', `${A6}/64`, 'dev', 'ksa', 'nodad']);
    b.exec('ip', ['addr', 'add', `${B6}/64`, 'dev', 'ksb', 'nodad']);
    a.exec('ip', ['link', 'set', 'ksa', 'mtu', String(MTU)]);
    b.exec('ip', ['link', 'set', 'ksb', 'mtu', String(MTU)]);
  });

  after(async () => {
    for (const c of open) await c.close();
    a?.close();
    b?.close();
  });

  const cases: { name: string; port: number; block: (self: string, peer: string, dev: string) => string; addrs: () => [string, string] }[] = [
    {
      name: 'UDP over IPv4',
      port: 3780,
      addrs: () => [A4, B4],
      block: (s, p, d) => `UDP { IPv4_address ${s}\n IPv4_Destination_Address ${p}\n Port 3780\n Interface ${d}\n SndSocketBuffer ${BUF}\n RcvSocketBuffer ${BUF} }`,
    },
    {
      name: 'UDP over IPv6',
      port: 3781,
      addrs: () => [A6, B6],
      block: (s, p, d) => `UDP { IPv6_address ${s}\n IPv6_Destination_Address ${p}\n Port 3781\n Interface ${d}\n SndSocketBuffer ${BUF}\n RcvSocketBuffer ${BUF} }`,
    },
    {
      name: 'UDP over IPv6 link-local addresses',
      port: 3782,
      addrs: () => [linkLocal(a, 'ksa'), linkLocal(b, 'ksb')],
      block: (s, p, d) => `UDP { IPv6_address ${s}\n IPv6_Destination_Address ${p}\n Port 3782\n Interface ${d}\n RcvSocketBuffer ${BUF} }`,
    },
    {
      name: 'Multicast over IPv4 (225.0.0.50, IPv4_interface set)',
      port: 3783,
      addrs: () => [A4, B4],
      block: (s, _p, d) => `Multicast { IPv4_address 225.0.0.50\n IPv4_interface ${s}\n Interface ${d}\n Group 3783\n SndSocketBuffer ${BUF}\n RcvSocketBuffer ${BUF} }`,
    },
    {
      name: 'Multicast over IPv4 (no IPv4_interface: joined on Interface)',
      port: 3784,
      addrs: () => [A4, B4],
      block: (_s, _p, d) => `Multicast { IPv4_address 225.0.0.51\n Interface ${d}\n Group 3784\n RcvSocketBuffer ${BUF} }`,
    },
    {
      name: 'Multicast over IPv6 (link scope ff02::)',
      port: 3785,
      addrs: () => [linkLocal(a, 'ksa'), linkLocal(b, 'ksb')],
      block: (_s, _p, d) => `Multicast { IPv6_address ff02::e:3785\n Interface ${d}\n Group 3785\n SndSocketBuffer ${BUF}\n RcvSocketBuffer ${BUF} }`,
    },
    {
      name: 'Multicast over IPv6 (site scope ff15::)',
      port: 3786,
      addrs: () => [A6, B6],
      block: (_s, _p, d) => `Multicast { IPv6_address ff15::e:3786\n Interface ${d}\n Group 3786\n RcvSocketBuffer ${BUF} }`,
    },
  ];

  for (const tc of cases) {
    it(`${tc.name}: ${N} datagrams up to the MTU arrive intact and in order, counted on both sides`, async () => {
      const [selfA, selfB] = tc.addrs();
      const cfgA = channel(tc.block(selfA, selfB, 'ksa'));
      const cfgB = channel(tc.block(selfB, selfA, 'ksb'));
      const chA = await track(openChannel(cfgA, { netns: a.name }));
      const chB = await track(openChannel(cfgB, { netns: b.name }));
      try {
        await exchange(tc.port, cfgA, chA, chB, selfA, selfB);
      } finally {
        await chA.close();
        await chB.close();
      }
    });
  }

  /** exchange: A sends N datagrams to B, B answers once; everything is checked on the way. */
  async function exchange(port: number, cfgA: Ch, chA: SyncChannel, chB: SyncChannel, selfA: string, selfB: string): Promise<void> {
    const v6 = cfgA.family === 'ipv6';
    assert.equal(chA.mtu, MTU);
    assert.equal(chA.overhead, v6 ? 48 : 28);
    assert.equal(chA.ifindex, ifNameToIndex('ksa', { netns: a.name }));
    assert.equal(chA.device, 'ksa');
    assert.equal(chA.kind, cfgA.kind);

    // Buffers read back at least what was asked (the kernel doubles it; without FORCE it would be capped).
    if (cfgA.sndSocketBuffer !== undefined) assert.ok(chA.socketBuffers().send >= cfgA.sndSocketBuffer, `send buffer ${chA.socketBuffers().send}`);
    assert.ok(chB.socketBuffers().recv >= BUF, `receive buffer ${chB.socketBuffers().recv}`);

    const errors: Error[] = [];
    chA.onError((e) => errors.push(e));
    chB.onError((e) => errors.push(e));
    const atA: { d: Uint8Array; from: DatagramSource }[] = [];
    chA.onDatagram((d, from) => atA.push({ d: Uint8Array.from(d), from }));
    const max = chA.mtu - chA.overhead;
    const sizeOf = (i: number): number => (i === 0 ? max : 4 + ((i * 97) % (max - 3)));
    let got = 0;
    let bad = 0;
    let from: DatagramSource | undefined;
    chB.onDatagram((d, f) => {
      from ??= f;
      const i = d.length >= 4 ? new DataView(d.buffer, d.byteOffset, d.length).getUint32(0) : -1;
      if (i !== got || !Buffer.from(d).equals(Buffer.from(payload(i, d.length))) || d.length !== sizeOf(i)) bad++;
      got++;
    });
    let bytes = 0;
    for (let i = 0; i < N; i++) {
      const d = payload(i, sizeOf(i));
      bytes += d.length;
      chA.send(d);
    }
    await until(`${N} datagrams at B`, () => got >= N);
    assert.equal(bad, 0, 'datagrams out of order or altered');
    assert.equal(got, N);

    // The sender's (unbound, ephemeral) port and the receiver's port are sockets of their namespaces.
    assert.ok(from !== undefined);
    assert.equal(from.address, selfA);
    assert.ok(udpPorts(a).includes(from.port), `A's send port ${from.port} is in namespace A`);
    assert.ok(udpPorts(b).includes(port), `B's receive port ${port} is in namespace B`);

    // B answers once: A hears B's datagram, and (multicast loop off) nothing of its own before it.
    chB.send(Uint8Array.of(0xbb, 1, 2));
    await until('the answer at A', () => atA.length >= 1);
    assert.deepEqual([...atA[0]!.d], [0xbb, 1, 2]);
    assert.equal(atA[0]!.from.address, selfB);
    assert.equal(atA.length, 1, 'A received its own datagrams');

    const sA = chA.stats();
    const sB = chB.stats();
    assert.deepEqual(sA, { bytesSent: bytes, bytesRecv: 3, packetsSent: N, packetsRecv: 1, errorsSend: 0, errorsRecv: 0, rcvQueueDrops: 0 });
    assert.deepEqual(sB, { bytesSent: 3, bytesRecv: bytes, packetsSent: 1, packetsRecv: N, errorsSend: 0, errorsRecv: 0, rcvQueueDrops: 0 });
    assert.deepEqual(errors, []);
  }

  it('two Multicast links on one port with different groups (redundant links) each hear only their own group', async () => {
    const block = (group: string, dev: string): string => `Multicast { IPv4_address ${group}\n Interface ${dev}\n Group 3795 }`;
    const tx1 = await track(openChannel(channel(block('225.0.0.61', 'ksa')), { netns: a.name }));
    const tx2 = await track(openChannel(channel(block('225.0.0.62', 'ksa')), { netns: a.name }));
    const rx1 = await track(openChannel(channel(block('225.0.0.61', 'ksb')), { netns: b.name }));
    const rx2 = await track(openChannel(channel(block('225.0.0.62', 'ksb')), { netns: b.name }));
    try {
      const at1: number[] = [];
      const at2: number[] = [];
      rx1.onDatagram((d) => at1.push(d[0]!));
      rx2.onDatagram((d) => at2.push(d[0]!));
      tx1.send(Uint8Array.of(1));
      tx2.send(Uint8Array.of(2));
      tx1.send(Uint8Array.of(1));
      await until('both links', () => at1.length >= 2 && at2.length >= 1);
      tx2.send(Uint8Array.of(2)); // the last one: anything that leaks has arrived before it
      await until('the last datagram', () => at2.length >= 2);
      assert.deepEqual(at1, [1, 1]);
      assert.deepEqual(at2, [2, 2]);
    } finally {
      for (const c of [tx1, tx2, rx1, rx2]) await c.close();
    }
  });

  it('fails to open on a missing interface with an error naming it, also when it exists only in another namespace', async () => {
    const cfg = channel('UDP { IPv4_address 10.231.7.1\n IPv4_Destination_Address 10.231.7.2\n Port 3790\n Interface nosuch0 }');
    await assert.rejects(openChannel(cfg, { netns: a.name }), (e: unknown) => {
      assert.ok(e instanceof ChannelError);
      assert.equal(e.code, 'CHANNEL_NO_INTERFACE');
      assert.match(e.message, /interface nosuch0 does not exist/);
      return true;
    });
    const elsewhere = channel(`Multicast { IPv4_address 225.0.0.50\n Interface ksa\n Group 3790 }`);
    await track(openChannel(elsewhere, { netns: a.name })).then((c) => c.close());
    await assert.rejects(openChannel(elsewhere, { netns: b.name }), (e: unknown) => e instanceof ChannelError && e.code === 'CHANNEL_NO_INTERFACE' && e.message.includes('ksa'));
  });

  it('closing frees the ports: a plain bind to them works afterwards, and the channel reopens', async () => {
    const cfg = channel(`UDP { IPv4_address ${A4}\n IPv4_Destination_Address ${B4}\n Port 3791\n Interface ksa }`);
    const plainBind = (): string => {
      const s = NativeSocket.open(AF.INET, SOCK.DGRAM, 0, { netns: a.name }); // no SO_REUSEADDR
      try {
        s.bind(inet4Sockaddr(A4, 3791));
        return 'bound';
      } catch (e) {
        return e instanceof ErrnoError ? e.code : String(e);
      } finally {
        s.close();
      }
    };
    const ch = await track(openChannel(cfg, { netns: a.name }));
    ch.send(Uint8Array.of(1)); // binds the send socket to an ephemeral port
    await until('the send', () => ch.stats().packetsSent === 1);
    assert.equal(plainBind(), 'EADDRINUSE');
    assert.ok(udpPorts(a).length >= 2);
    await ch.close();
    assert.deepEqual(udpPorts(a), [], 'no UDP socket left in the namespace');
    assert.equal(plainBind(), 'bound');
    const again = await track(openChannel(cfg, { netns: a.name }));
    assert.deepEqual(udpPorts(a), [3791]);
    await again.close();
  });

  it('send never throws: a failed send and a send after close are counted and reported', async () => {
    // 192.0.2.1 has no route in namespace A.
    const ch = await track(openChannel(channel(`UDP { IPv4_address ${A4}\n IPv4_Destination_Address 192.0.2.1\n Port 3792\n Interface ksa }`), { netns: a.name }));
    const errors: Error[] = [];
    ch.onError((e) => errors.push(e));
    assert.doesNotThrow(() => ch.send(Uint8Array.of(1, 2, 3)));
    await until('the send error', () => errors.length === 1);
    assert.equal((errors[0] as Error & { code?: string }).code, 'ENETUNREACH');
    await ch.close();
    assert.doesNotThrow(() => ch.send(Uint8Array.of(1)));
    assert.equal(errors.length, 2);
    assert.deepEqual(ch.stats(), { bytesSent: 0, bytesRecv: 0, packetsSent: 0, packetsRecv: 0, errorsSend: 2, errorsRecv: 0, rcvQueueDrops: 0 });
  });

  it('Checksum off sends IPv4 UDP with checksum 0 (SO_NO_CHECK); on, and IPv6 always, carry one', async () => {
    const capture = NativeSocket.open(AF.PACKET, SOCK.DGRAM, htons(ETH_P.IP), { netns: b.name });
    const sums = new Map<number, number>(); // first payload byte → UDP checksum
    try {
      capture.bind(packetSockaddr(ifNameToIndex('ksb', { netns: b.name }), ETH_P.IP));
      capture.startReceiving(
        {},
        (ds) => {
          for (const { data } of ds) {
            const ihl = (data[0]! & 0x0f) * 4;
            if (data[9] !== 17 || data.length < ihl + 9) continue;
            if (((data[ihl + 2]! << 8) | data[ihl + 3]!) !== 3793) continue;
            sums.set(data[ihl + 8]!, (data[ihl + 6]! << 8) | data[ihl + 7]!);
          }
        },
        () => undefined,
      );
      for (const [checksum, tag] of [
        ['off', 1],
        ['on', 2],
      ] as const) {
        const ch = await track(openChannel(channel(`UDP { IPv4_address ${A4}\n IPv4_Destination_Address ${B4}\n Port 3793\n Interface ksa\n Checksum ${checksum} }`), { netns: a.name }));
        ch.send(Uint8Array.of(tag, 0, 0, 0));
        await until(`the datagram with Checksum ${checksum}`, () => sums.has(tag));
        await ch.close();
      }
      assert.equal(sums.get(1), 0);
      assert.notEqual(sums.get(2), 0);
    } finally {
      capture.close();
    }
    // IPv6: a zero UDP checksum would be dropped by a peer (RFC 8200), so Checksum off changes nothing.
    const v6 = NativeSocket.open(AF.PACKET, SOCK.DGRAM, htons(0x86dd), { netns: b.name });
    let sum6: number | undefined;
    try {
      v6.bind(packetSockaddr(ifNameToIndex('ksb', { netns: b.name }), 0x86dd));
      v6.startReceiving(
        {},
        (ds) => {
          for (const { data } of ds) if (data[6] === 17 && ((data[42]! << 8) | data[43]!) === 3794) sum6 = (data[46]! << 8) | data[47]!;
        },
        () => undefined,
      );
      const ch = await track(openChannel(channel(`UDP { IPv6_address ${A6}\n IPv6_Destination_Address ${B6}\n Port 3794\n Interface ksa\n Checksum off }`), { netns: a.name }));
      ch.send(Uint8Array.of(3));
      await until('the IPv6 datagram', () => sum6 !== undefined);
      await ch.close();
      assert.notEqual(sum6, 0);
    } finally {
      v6.close();
    }
  });
});

const conntrackdSkip =
  skip ??
  (spawnSync('conntrackd', ['-v'], { encoding: 'utf8' }).stdout?.includes('v1.4.7') === true ? undefined : 'conntrackd 1.4.7 is not installed');

describe('a Multicast channel and the real conntrackd 1.4.7', { skip: conntrackdSkip }, () => {
  let a: Netns, b: Netns;
  let dir: string;
  let daemon: ChildProcess | undefined;
  let ch: SyncChannel | undefined;

  const conf = (d: string, self: string, dev: string): string => `General {
  HashSize 8192
  HashLimit 65536
  LogFile ${d}/log
  LockFile ${d}/lock
  UNIX { Path ${d}/ctl }
}
Sync {
  Mode FTFW { }
  Multicast {
    IPv4_address 225.0.0.50
    IPv4_interface ${self}
    Interface ${dev}
    Group 3780
    Checksum on
  }
}
`;
  const ctd = (...args: string[]): string => b.exec('conntrackd', ['-C', join(dir, 'conf'), ...args]);

  before(async () => {
    a = Netns.create('cta');
    b = Netns.create('ctb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.231.8.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.231.8.2/24' });
    dir = mkdtempSync(join(tmpdir(), 'ks-chan-'));
    writeFileSync(join(dir, 'conf'), conf(dir, '10.231.8.2', 'sync0'));
    daemon = b.spawn('conntrackd', ['-C', join(dir, 'conf')], { stdio: 'ignore' });
    await until('conntrackd to answer', () => b.run('conntrackd', ['-C', join(dir, 'conf'), '-s']).status === 0);
  });

  after(async () => {
    await ch?.close();
    if (daemon?.pid !== undefined && daemon.exitCode === null) {
      const exited = once(daemon, 'exit');
      process.kill(daemon.pid, 'SIGTERM'); // `ip netns exec` execs conntrackd: the same pid
      await exited;
    }
    a?.close();
    b?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('conntrackd caches the CT_NEW our channel sends, and our channel receives its ACK', async () => {
    const sync = parseConntrackdConfig(conf('/nonexistent', '10.231.8.1', 'sync0'), 'a.conf').config.sync;
    const cfg = sync?.channels[0];
    assert.ok(cfg !== undefined && cfg.kind === 'multicast');
    ch = await openChannel(cfg, { netns: a.name });
    const heard: SyncMessage[] = [];
    ch.onDatagram((d) => heard.push(...decodeDatagram(d).messages));

    // A CT_NEW captured from conntrackd itself (UDP 10.0.1.1:40053 -> 10.0.1.2:5353), under our own sequence number.
    const golden = decodeDatagram(loadSyncGolden('sync-ct-new-udp.hex').raw).messages[0];
    assert.ok(golden !== undefined && golden.kind === 'ct');
    const seq = 0x4b530001;
    const datagrams = encodeDatagrams([{ ...golden, seq }], ch.mtu, { overhead: ch.overhead });
    for (const d of datagrams) ch.send(d);

    const line = 'src=10.0.1.1 dst=10.0.1.2 sport=40053 dport=5353';
    await until("the entry in conntrackd's external cache", () => ctd('-e').includes(line));
    await until('the ACK of our message', () => heard.some((m) => m.kind === 'ack' && m.from <= seq && seq <= m.to));
    const traffic = /(\d+) Bytes sent\s+(\d+) Bytes recv\s+(\d+) Pckts sent\s+(\d+) Pckts recv/.exec(ctd('-s', 'network'));
    assert.ok(traffic !== null);
    assert.equal(Number(traffic[2]), ch.stats().bytesSent, "conntrackd's received bytes are ours");
    assert.equal(Number(traffic[4]), datagrams.length);
    assert.ok(ch.stats().packetsRecv >= 1);
  });
});
