// The native addon against the real kernel, each test in a fresh network namespace: ctnetlink
// request/dump through the poller, SO_RCVBUFFORCE, raw IP proto 112, AF_PACKET on a veth pair, and
// the ENOBUFS path (a receive-queue overrun is reported and receiving continues).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { IPCTNL_MSG_CT, NFNETLINK_V0, NFNL_SUBSYS, NFNLGRP } from '../../src/ctnetlink/consts.js';
import { NETLINK, NETLINK_OPT, NLMSG, NLM_F, SOL_NETLINK } from '../../src/netlink/consts.js';
import { decodeMessages, encodeMessage, type NlMessage } from '../../src/netlink/message.js';
import {
  AF,
  ETH_P,
  IP,
  NativeSocket,
  SO,
  SOCK,
  SOL_IP,
  SOL_SOCKET,
  htons,
  ifNameToIndex,
  inet4Sockaddr,
  netlinkSockaddr,
  packetSockaddr,
  type Datagram,
} from '../../src/native/socket.js';

const skip = rootSkipReason();
const TIMEOUT = { timeout: 60_000 };

/** withNetns runs fn with a fresh namespace and the sockets it opens, and always closes both. */
async function withNetns(label: string, fn: (ns: Netns, track: (s: NativeSocket) => NativeSocket) => Promise<void>): Promise<void> {
  const ns = Netns.create(label);
  const socks: NativeSocket[] = [];
  try {
    await fn(ns, (s) => {
      socks.push(s);
      return s;
    });
  } finally {
    for (const s of socks) s.close();
    ns.close();
  }
}

/** collect receives until `done` says the gathered messages are complete. */
function receiveUntil(s: NativeSocket, opts: Parameters<NativeSocket['startReceiving']>[0], done: (d: Datagram) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    s.startReceiving(
      opts,
      (ds) => {
        for (const d of ds) {
          if (done(d)) {
            s.stopReceiving();
            resolve();
            return;
          }
        }
      },
      reject,
    );
  });
}

const nfgenmsg = (family: number): Uint8Array => new Uint8Array([family, NFNETLINK_V0, 0, 0]);
const CT_MSG = (t: number): number => (NFNL_SUBSYS.CTNETLINK << 8) | t;

function possibleCpus(): number[] {
  const out: number[] = [];
  for (const part of readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a)!; c++) out.push(c);
  }
  return out;
}

const ctRequest = (type: number, seq: number): Uint8Array =>
  encodeMessage(CT_MSG(type), NLM_F.REQUEST | NLM_F.DUMP, seq, 0, nfgenmsg(AF.UNSPEC));

describe('native sockets in a network namespace', { skip }, () => {
  test('a socket opened with {netns} lives in that namespace; the thread switches back', TIMEOUT, () =>
    withNetns('nat-ns', async (ns, track) => {
      const before = readlinkSync('/proc/thread-self/ns/net');
      const s = track(NativeSocket.open(AF.NETLINK, SOCK.RAW, NETLINK.ROUTE, { netns: ns.name }));
      assert.equal(readlinkSync('/proc/thread-self/ns/net'), before, 'restored');
      assert.throws(() => NativeSocket.open(AF.NETLINK, SOCK.RAW, 0, { netns: 'ks-no-such-netns' }), { code: 'ENOENT' });
      assert.equal(readlinkSync('/proc/thread-self/ns/net'), before, 'restored after an error');
      s.bind(netlinkSockaddr());
      const links: NlMessage[] = [];
      const done = receiveUntil(s, {}, (d) => {
        const ms = decodeMessages(d.data);
        links.push(...ms.filter((m) => m.type === 16 /* RTM_NEWLINK */));
        return ms.some((m) => m.type === NLMSG.DONE);
      });
      s.send(encodeMessage(18 /* RTM_GETLINK */, NLM_F.REQUEST | NLM_F.DUMP, 1, 0, new Uint8Array(16)));
      await done;
      assert.equal(links.length, 1, 'a fresh namespace has only lo');
      assert.equal(ifNameToIndex('lo', { netns: ns.name }), 1);
    }),
  );

  test('ctnetlink IPCTNL_MSG_CT_GET_STATS_CPU: one reply per possible CPU, then NLMSG_DONE', TIMEOUT, () =>
    withNetns('nat-stats', async (ns, track) => {
      const s = track(NativeSocket.open(AF.NETLINK, SOCK.RAW, NETLINK.NETFILTER, { netns: ns.name }));
      s.bind(netlinkSockaddr());
      const seq = 77;
      const replies: NlMessage[] = [];
      const done = receiveUntil(s, {}, (d) => {
        for (const m of decodeMessages(d.data)) {
          assert.equal(m.seq, seq);
          if (m.type === NLMSG.DONE) return true;
          assert.notEqual(m.type, NLMSG.ERROR, 'the kernel refused the request');
          replies.push(m);
        }
        return false;
      });
      assert.equal(s.send(ctRequest(IPCTNL_MSG_CT.GET_STATS_CPU, seq)), 20);
      await done;
      assert.ok(replies.every((m) => m.type === CT_MSG(IPCTNL_MSG_CT.GET_STATS_CPU)));
      // nfgenmsg.res_id carries the CPU number, network order.
      const cpus = replies.map((m) => (m.payload[2]! << 8) | m.payload[3]!);
      assert.deepEqual(cpus, possibleCpus());
      assert.equal(s.stats().enobufs, 0);
    }),
  );

  test('SO_RCVBUFFORCE goes past rmem_max and reads back doubled', TIMEOUT, () =>
    withNetns('nat-rcvbuf', async (ns, track) => {
      const s = track(NativeSocket.open(AF.NETLINK, SOCK.RAW, NETLINK.NETFILTER, { netns: ns.name }));
      const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
      const want = Math.max(64 * 1024 * 1024, rmemMax * 4);
      s.setsockoptInt(SOL_SOCKET, SO.RCVBUFFORCE, want);
      assert.equal(s.getsockoptInt(SOL_SOCKET, SO.RCVBUF), want * 2);
      s.setsockoptInt(SOL_SOCKET, SO.RCVBUF, want); // the capped variant
      assert.equal(s.getsockoptInt(SOL_SOCKET, SO.RCVBUF), rmemMax * 2);
      s.setsockoptBuf(SOL_SOCKET, SO.RCVBUFFORCE, new Uint8Array(new Int32Array([1 << 20]).buffer));
      assert.deepEqual([...s.getsockoptBuf(SOL_SOCKET, SO.RCVBUF, 4)], [...new Uint8Array(new Int32Array([2 << 20]).buffer)]);
    }),
  );

  test('raw IP protocol 112: a datagram sent to 127.0.0.1 reaches a second raw socket', TIMEOUT, () =>
    withNetns('nat-raw', async (ns, track) => {
      const tx = track(NativeSocket.open(AF.INET, SOCK.RAW, 112, { netns: ns.name }));
      const rx = track(NativeSocket.open(AF.INET, SOCK.RAW, 112, { netns: ns.name }));
      rx.setsockoptInt(SOL_IP, IP.PKTINFO, 1);
      const payload = Buffer.from('3133ff0101640000', 'hex'); // VRRPv3-shaped bytes; nothing parses them
      let got: Datagram | undefined;
      const done = receiveUntil(rx, { wantName: true, ctrlSize: 64 }, (d) => {
        got = d;
        return true;
      });
      assert.equal(tx.send(payload, inet4Sockaddr('127.0.0.1')), payload.length);
      await done;
      assert.ok(got !== undefined);
      const ihl = (got.data[0]! & 0x0f) * 4;
      assert.equal(got.data[9], 112, 'IP protocol');
      assert.deepEqual(Buffer.from(got.data.subarray(ihl)), payload);
      assert.deepEqual([...(got.name ?? new Uint8Array(0)).subarray(0, 8)], [...inet4Sockaddr('127.0.0.1').subarray(0, 8)], 'source 127.0.0.1');
      assert.ok(got.ctrl !== undefined && got.ctrl.length >= 28, 'IP_PKTINFO cmsg');
    }),
  );

  test('AF_PACKET SOCK_DGRAM: an ARP frame sent on one end of a veth pair arrives on the other', TIMEOUT, () =>
    withNetns('nat-pkt', async (ns, track) => {
      ns.exec('ip', ['link', 'add', 'ksv0', 'type', 'veth', 'peer', 'name', 'ksv1']);
      ns.exec('ip', ['link', 'set', 'ksv0', 'up']);
      ns.exec('ip', ['link', 'set', 'ksv1', 'up']);
      const if0 = ifNameToIndex('ksv0', { netns: ns.name });
      const if1 = ifNameToIndex('ksv1', { netns: ns.name });
      const rx = track(NativeSocket.open(AF.PACKET, SOCK.DGRAM, htons(ETH_P.ARP), { netns: ns.name }));
      rx.bind(packetSockaddr(if1, ETH_P.ARP));
      const tx = track(NativeSocket.open(AF.PACKET, SOCK.DGRAM, htons(ETH_P.ARP), { netns: ns.name }));
      // Gratuitous ARP request for 10.99.0.100: htype 1, ptype IPv4, hlen 6, plen 4, op 1.
      const arp = Buffer.from('0001080006040001' + '02aabbccdd01' + '0a630064' + '000000000000' + '0a630064', 'hex');
      let got: Datagram | undefined;
      const done = receiveUntil(rx, { wantName: true }, (d) => {
        got = d;
        return true;
      });
      assert.equal(tx.send(arp, packetSockaddr(if0, ETH_P.ARP, new Uint8Array(6).fill(0xff))), arp.length);
      await done;
      assert.ok(got !== undefined && got.name !== undefined);
      assert.deepEqual(Buffer.from(got.data.subarray(0, arp.length)), arp);
      const ll = Buffer.from(got.name);
      assert.equal(ll.readUInt16BE(2), ETH_P.ARP, 'sll_protocol');
      assert.equal(ll.readInt32LE(4), if1, 'sll_ifindex');
      assert.equal(ll[10], 1, 'sll_pkttype PACKET_BROADCAST');
    }),
  );

  test('ENOBUFS: a receive-queue overrun is reported and events keep arriving', TIMEOUT, () =>
    withNetns('nat-enobufs', async (ns, track) => {
      ns.sysctl('net.netfilter.nf_conntrack_events', 1);
      const s = track(NativeSocket.open(AF.NETLINK, SOCK.RAW, NETLINK.NETFILTER, { netns: ns.name }));
      s.bind(netlinkSockaddr());
      s.setsockoptInt(SOL_SOCKET, SO.RCVBUFFORCE, 4096);
      s.setsockoptInt(SOL_NETLINK, NETLINK_OPT.ADD_MEMBERSHIP, NFNLGRP.CONNTRACK_NEW);
      const marker = Buffer.from([10, 9, 9, 9]); // CTA_IP_V4_SRC of the last entry
      let events = 0;
      let enobufs = 0;
      let eventsAfterEnobufs = 0;
      let markerSeen!: () => void;
      const sawMarker = new Promise<void>((resolve) => (markerSeen = resolve));
      let otherError: Error | undefined;
      s.startReceiving(
        {},
        (ds) => {
          for (const d of ds) {
            for (const m of decodeMessages(d.data)) {
              assert.equal(m.type, CT_MSG(IPCTNL_MSG_CT.NEW));
              events++;
              if (enobufs > 0) eventsAfterEnobufs++;
              if (Buffer.from(m.payload).indexOf(marker) >= 0) markerSeen();
            }
          }
        },
        (e) => {
          if (e.code === 'ENOBUFS') enobufs++;
          else otherError = e;
        },
      );
      const dir = mkdtempSync(join(tmpdir(), 'ks-native-'));
      try {
        const file = join(dir, 'restore.txt');
        const lines: string[] = [];
        for (let i = 0; i < 20000; i++) {
          lines.push(`-I -s 10.0.0.1 -d 10.0.1.1 -p tcp --sport ${1024 + i} --dport 80 --state ESTABLISHED -t 600 -u ASSURED`);
        }
        writeFileSync(file, lines.join('\n') + '\n');
        const child = ns.spawn('conntrack', ['-R', file], { stdio: 'ignore' });
        const [code] = (await once(child, 'exit')) as [number | null];
        assert.equal(code, 0, 'conntrack -R');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      // The flood is over: two loop turns include a poll phase that drains the queue, so the next
      // event finds room. Its arrival proves the receiver is still armed after the overruns.
      for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
      ns.exec('conntrack', ['-I', '-s', '10.9.9.9', '-d', '10.9.9.10', '-p', 'tcp', '--sport', '1', '--dport', '2',
        '--state', 'ESTABLISHED', '-t', '600', '-u', 'ASSURED'], undefined);
      await sawMarker;
      assert.equal(otherError, undefined);
      assert.ok(enobufs >= 1, 'at least one ENOBUFS');
      assert.ok(eventsAfterEnobufs >= 1, 'events after the first ENOBUFS');
      assert.ok(events < 20001, 'the overrun dropped events');
      assert.equal(s.stats().enobufs, enobufs);
      assert.equal(s.receiving, true);
    }),
  );
});
