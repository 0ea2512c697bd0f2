// The VRRP advert channel (src/vrrp-io/channel.ts) against the real kernel and the real
// keepalived 2.2.7, in two fresh namespaces joined by two veth pairs:
//   A (keepalived, tcpdump) ka0 ─── ks0 B (our channels)        ka1 ─── ks1 (no VRRP on it)
// keepalived's VRRPv2/IPv4 and VRRPv3/IPv6 adverts arrive with TTL / hop limit 255, the right
// source and ifindex, and only on the channel of the interface they came in on; a TTL-1 advert is
// dropped and counted; what our channel sends is seen by tcpdump in A with TTL 255, TOS 0xc0 and
// the group (or each unicast peer) as destination.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Capture } from '../../lab/capture.js';
import { Keepalived } from '../../lab/keepalived.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { AF, IP, NativeSocket, SOCK, SOL_IP, ifNameToIndex, inet4Sockaddr } from '../../src/native/socket.js';
import { VrrpChannel, type ReceivedAdvert } from '../../src/vrrp-io/channel.js';
import { IPV6_OPT, SOL_IPV6, inet6Sockaddr, ipMreqn } from '../../src/vrrp-io/sockopt.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason() ?? (Keepalived.version() === undefined ? 'keepalived is not installed' : undefined);
const TIMEOUT = { timeout: 120_000 };
const A4 = '10.231.41.1';
const B4 = '10.231.41.2';
const A6 = 'fd31:41::1';
const VRID4 = 51;
const VRID6 = 52;

/** keepalived.conf: one VRRPv2 IPv4 instance and one (always v3) IPv6 instance on ka0, both masters. */
const KEEPALIVED_CONF = `global_defs {
  router_id ks-vrrp-io
}
vrrp_instance V4 {
  state MASTER
  interface ka0
  virtual_router_id ${VRID4}
  priority 200
  advert_int 1
  virtual_ipaddress {
    10.231.41.100/24 dev ka0
  }
}
vrrp_instance V6 {
  state MASTER
  interface ka0
  virtual_router_id ${VRID6}
  priority 200
  advert_int 1
  virtual_ipaddress {
    fd31:41::100/64 dev ka0
  }
}
`;

/** linkLocal is the fe80:: address of an interface (DAD is off in these namespaces). */
function linkLocal(ns: Netns, ifname: string): string {
  const j = JSON.parse(ns.exec('ip', ['-j', '-6', 'addr', 'show', 'dev', ifname])) as { addr_info: { local: string; scope: string }[] }[];
  const a = j[0]?.addr_info.find((x) => x.scope === 'link')?.local;
  assert.ok(a !== undefined, `no link-local address on ${ifname}`);
  return a;
}

const esc = (s: string): string => s.replace(/[.]/g, '\\.');

/** tcpdumpText decodes a capture with tcpdump itself (-v: TOS/TTL/hop limit; -e: MACs). */
function tcpdumpText(file: string): string {
  return execFileSync('tcpdump', ['-r', file, '-n', '-v', '-e'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

describe('VRRP channel against keepalived 2.2.7', { skip }, () => {
  let a: Netns;
  let b: Netns;
  let ka: Keepalived | undefined;
  let dir: string;
  const channels: VrrpChannel[] = [];
  const got: { ch: string; adv: ReceivedAdvert; readUs: number }[] = [];
  const startedUs = Date.now() * 1000;
  let ch4: VrrpChannel;
  let ch6: VrrpChannel;
  let ch4other: VrrpChannel;
  let ch6other: VrrpChannel;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ks-vrrp-io-'));
    a = Netns.create('vrio-a');
    b = Netns.create('vrio-b');
    for (const ns of [a, b]) {
      ns.sysctl('net.ipv6.conf.all.accept_dad', 0);
      ns.sysctl('net.ipv6.conf.default.accept_dad', 0);
    }
    linkVeth({ ns: a, ifname: 'ka0', cidr: `${A4}/24` }, { ns: b, ifname: 'ks0', cidr: `${B4}/24` });
    linkVeth({ ns: a, ifname: 'ka1', cidr: '10.231.42.1/24' }, { ns: b, ifname: 'ks1', cidr: '10.231.42.2/24' });
    a.exec('ip', ['-6', 'addr', 'add', `${A6}/64`, 'dev', 'ka0', 'nodad']);
    const open = (family: 'ipv4' | 'ipv6', ifname: string): VrrpChannel => {
      const ch = VrrpChannel.open({ family, ifname, netns: b.name });
      channels.push(ch);
      ch.start({ onAdvert: (adv) => got.push({ ch: `${family}/${ifname}`, adv, readUs: Date.now() * 1000 }) });
      return ch;
    };
    ch4 = open('ipv4', 'ks0');
    ch6 = open('ipv6', 'ks0');
    ch4other = open('ipv4', 'ks1');
    ch6other = open('ipv6', 'ks1');
  });

  after(async () => {
    for (const c of channels) c.close();
    await ka?.stop();
    a?.close();
    b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('(a) receives keepalived VRRPv2 and v3 adverts with TTL 255, source and ifindex, on ks0 only', TIMEOUT, async () => {
    ka = new Keepalived(a, { routerId: 'ks-vrrp-io', priority: 200, instances: [], notify: '/bin/true' });
    writeFileSync(ka.conf, KEEPALIVED_CONF);
    ka.start();
    const of = (name: string): ReceivedAdvert[] => got.filter((g) => g.ch === name).map((g) => g.adv);
    await until('two IPv4 and two IPv6 adverts on ks0', () => of('ipv4/ks0').length >= 2 && of('ipv6/ks0').length >= 2, 60_000);
    const ks0 = ch4.ifindex;
    const v4 = of('ipv4/ks0');
    for (const adv of v4) {
      assert.equal(adv.payload[0], 0x21, 'VRRPv2 advertisement');
      assert.equal(adv.payload[1], VRID4);
      assert.equal(adv.ttl, 255);
      assert.equal(adv.src, A4);
      assert.equal(adv.dst, '224.0.0.18');
      assert.equal(adv.ifindex, ks0);
      assert.equal(adv.payload.length, 20, 'v2 header + one IPv4 address + 8 bytes of authentication data');
    }
    const ll = linkLocal(a, 'ka0');
    for (const adv of of('ipv6/ks0')) {
      assert.equal(adv.payload[0], 0x31, 'VRRPv3 advertisement');
      assert.equal(adv.payload[1], VRID6);
      assert.equal(adv.ttl, 255, 'hop limit');
      assert.equal(adv.src, ll);
      assert.equal(adv.dst, 'ff02::12');
      assert.equal(adv.ifindex, ch6.ifindex);
    }
    // SO_TIMESTAMPNS: each carries the kernel's arrival time, after the test began and (within
    // Date.now()'s millisecond) no later than it was read.
    for (const g of got) {
      assert.equal(typeof g.adv.arrivedUs, 'number', `${g.ch}: an arrival stamp`);
      assert.ok(g.adv.arrivedUs! >= startedUs && g.adv.arrivedUs! <= g.readUs + 1000, `${g.ch}: arrived ${g.adv.arrivedUs}, test began ${startedUs}, read ${g.readUs}`);
    }
    // SO_BINDTODEVICE: the channels of ks1 heard nothing, and nothing had to be dropped for it.
    assert.equal(of('ipv4/ks1').length, 0);
    assert.equal(of('ipv6/ks1').length, 0);
    for (const c of [ch4other, ch6other, ch4, ch6]) assert.equal(c.stats.dropped['wrong-interface'], 0);
    assert.equal(ch4.stats.received, v4.length);
  });

  it('drops adverts whose TTL / hop limit is not 255 and counts them with reason ttl', TIMEOUT, async () => {
    const kaIndex = ifNameToIndex('ka0', { netns: a.name });
    const tx4 = NativeSocket.open(AF.INET, SOCK.RAW, 112, { netns: a.name });
    const tx6 = NativeSocket.open(AF.INET6, SOCK.RAW, 112, { netns: a.name });
    try {
      tx4.setsockoptInt(SOL_IP, IP.MULTICAST_TTL, 1);
      tx4.setsockoptBuf(SOL_IP, IP.MULTICAST_IF, ipMreqn('0.0.0.0', kaIndex));
      tx6.setsockoptInt(SOL_IPV6, IPV6_OPT.MULTICAST_HOPS, 1);
      tx6.setsockoptInt(SOL_IPV6, IPV6_OPT.MULTICAST_IF, kaIndex);
      const drops: string[] = [];
      const dropped: Uint8Array[] = [];
      // keepalived (test (a)) still advertises on ka0: its adverts (VRIDs 51 and 52) may reach the
      // probes too; ours is VRID 99.
      const acceptedVrids: number[] = [];
      const probes = (['ipv4', 'ipv6'] as const).map((family) => {
        const p = VrrpChannel.open({ family, ifname: 'ks0', netns: b.name });
        channels.push(p);
        p.start({ onAdvert: (adv) => void acceptedVrids.push(adv.payload[1]!), onDrop: (r, d, data) => (drops.push(`${r}: ${d}`), dropped.push(Uint8Array.from(data))) });
        return p;
      });
      const body = Uint8Array.of(0x21, 99, 100, 1, 0, 1, 0, 0, 10, 231, 41, 99, 0, 0, 0, 0, 0, 0, 0, 0);
      tx4.send(body, inet4Sockaddr('224.0.0.18'));
      tx6.send(body, inet6Sockaddr('ff02::12', 0, kaIndex));
      await until('both low-TTL adverts dropped', () => probes.every((p) => p.stats.dropped.ttl >= 1));
      assert.ok(drops.includes('ttl: TTL 1 from 10.231.41.1, must be 255'), drops.join('\n'));
      assert.ok(drops.includes(`ttl: hop limit 1 from ${linkLocal(a, 'ka0')}, must be 255`), drops.join('\n'));
      assert.ok(dropped.some((d) => d.length === 40 && d[9] === 112), 'the IPv4 datagram as received is handed to onDrop');
      assert.ok(!acceptedVrids.includes(99), `a low-TTL advert was accepted (VRIDs accepted: ${acceptedVrids.join(', ')})`);
    } finally {
      tx4.close();
      tx6.close();
    }
  });

  it('(b) what our channel sends reaches A with proto 112, TTL 255, TOS 0xc0, to 224.0.0.18 and ff02::12', TIMEOUT, async () => {
    const file = join(dir, 'out.pcap');
    const llB = linkLocal(b, 'ks0');
    const cap = await Capture.start(a, 'ka0', file, `(ip proto 112 and src ${B4}) or (ip6 proto 112 and src ${llB})`);
    // Payloads are copies of keepalived's own adverts: this side moves bytes, it does not build them.
    const v4 = got.find((g) => g.ch === 'ipv4/ks0')?.adv.payload;
    const v6 = got.find((g) => g.ch === 'ipv6/ks0')?.adv.payload;
    assert.ok(v4 !== undefined && v6 !== undefined);
    assert.equal(ch4.send(v4), 1);
    assert.equal(ch6.send(v6), 1);
    await cap.stop();
    const text = tcpdumpText(file);
    // tcpdump's own decoding; the IPv6 copy carries keepalived's checksum, which covers keepalived's
    // source address, so tcpdump calls it bad: expected for a replay, and not this layer's business.
    assert.match(text, new RegExp(`tos 0xc0, ttl 255, .*proto VRRP \\(112\\), length 40\\)\\n\\s+${esc(B4)} > 224\\.0\\.0\\.18: VRRPv2, Advertisement, vrid ${VRID4}`), text);
    assert.match(text, new RegExp(`\\(class 0xc0, .*hlim 255, next-header VRRP \\(112\\) payload length: ${v6.length}\\) ${llB} > ff02::12: VRRPv3, Advertisement, vrid ${VRID6}`), text);
    assert.match(text, /01:00:5e:00:00:12/, 'IPv4 group MAC');
    assert.match(text, /33:33:00:00:00:12/, 'IPv6 group MAC');
    assert.equal(ch4.stats.sent, 1);
  });

  it('(b) unicast peers: one advert to each configured peer, TTL 255, TOS 0xc0, from the configured source', TIMEOUT, async () => {
    const file = join(dir, 'uni.pcap');
    a.exec('ip', ['addr', 'add', '10.231.41.3/24', 'dev', 'ka0']);
    const uni = VrrpChannel.open({ family: 'ipv4', ifname: 'ks0', netns: b.name, unicastPeers: [A4, '10.231.41.3'], sourceAddress: B4 });
    channels.push(uni);
    // A unicast channel in A too (bound to its source; no TTL requirement by default).
    const rxA = VrrpChannel.open({ family: 'ipv4', ifname: 'ka0', netns: a.name, unicastPeers: [B4], sourceAddress: A4 });
    channels.push(rxA);
    const inA: ReceivedAdvert[] = [];
    rxA.start({ onAdvert: (x) => inA.push(x) });
    const cap = await Capture.start(a, 'ka0', file, `ip proto 112 and src ${B4}`);
    const v4 = got.find((g) => g.ch === 'ipv4/ks0')?.adv.payload;
    assert.ok(v4 !== undefined);
    assert.equal(uni.send(v4), 2);
    await until('the unicast advert to A4 received in A', () => inA.length >= 1);
    assert.deepEqual(inA.map((x) => [x.src, x.dst, x.ttl, Buffer.from(x.payload).equals(v4)]), [[B4, A4, 255, true]], 'only the one addressed to the bound source');
    await cap.stop();
    const text = tcpdumpText(file);
    for (const peer of [A4, '10.231.41.3']) {
      assert.match(text, new RegExp(`tos 0xc0, ttl 255, .*proto VRRP \\(112\\).*\\n\\s+${esc(B4)} > ${esc(peer)}: VRRPv2`), text);
    }
    assert.equal(uni.stats.sent, 2);
  });
});
