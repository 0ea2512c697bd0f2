// capture-vrrp-golden.mjs — the recipe for test/golden/vrrp/*.hex: VRRP advertisements sent by the
// real keepalived (Debian's 2.2.7), captured with tcpdump on the wire, each scenario in two network
// namespaces this script creates (lab/netns.ts) joined by a veth pair (lab/link.ts):
//
//   A  vr0 10.231.51.1/24 fd31:51::1/64 (keepalived, state MASTER)  <-- veth -->  vr0 10.231.51.2/24 fd31:51::2/64  B (tcpdump)
//
// keepalived runs alone in A (lab/keepalived.ts, config replaced per scenario), so it becomes master
// and advertises; tcpdump in B (lab/capture.ts) records IP protocol 112. keepalived is then stopped
// with SIGTERM (it resigns with a priority-0 advert) and tcpdump after it. For every scenario the
// first advert and the priority-0 advert are written as annotated hex (src/wire/hex.ts) with a
// provenance header that also records the IP source, destination and TTL (the v3 checksum covers
// a pseudo-header built from them).
//
// Usage (root, after compiling: npx tsc -p tsconfig.json --outDir <dir>):
//   node scripts/capture-vrrp-golden.mjs [compiled-dir] [output-dir]   (defaults: dist, test/golden/vrrp)
// Only the processes this script starts are stopped (by pid); only its namespaces are deleted.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = resolve(root, process.argv[2] ?? 'dist');
const out = resolve(root, process.argv[3] ?? 'test/golden/vrrp');
const { Netns } = await import(join(dist, 'lab/netns.js'));
const { linkVeth } = await import(join(dist, 'lab/link.js'));
const { Keepalived } = await import(join(dist, 'lab/keepalived.js'));
const { Capture } = await import(join(dist, 'lab/capture.js'));
const { formatIPv6 } = await import(join(dist, 'src/wire/ip.js'));

if (process.getuid?.() !== 0) {
  console.error('capture-vrrp-golden.mjs: needs root');
  process.exit(1);
}

const KERNEL = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
const KA_PKG = execFileSync('dpkg-query', ['-W', '-f=${Package} ${Version}', 'keepalived'], { encoding: 'utf8' }).trim();
const KA_VERSION = `${KA_PKG}; ${(Keepalived.version() ?? 'unknown')}`;
const TCPDUMP = execFileSync('tcpdump', ['--version'], { encoding: 'utf8' }).split('\n')[0];

/** Scenarios: name, what it shows, the vrrp_instance body (besides interface/state), and the golden files it yields. */
const SCENARIOS = [
  {
    name: 'v2-ipv4-1vip',
    what: 'VRRPv2 (keepalived default), IPv4 multicast, 1 VIP, authtype none',
    body: 'virtual_router_id 51\n  priority 150\n  advert_int 1\n  virtual_ipaddress {\n    10.231.51.100/24\n  }',
  },
  {
    name: 'v2-ipv4-3vip',
    what: 'VRRPv2, IPv4 multicast, 3 VIPs, authtype none',
    body: 'virtual_router_id 52\n  priority 200\n  advert_int 2\n  virtual_ipaddress {\n    10.231.51.101/24\n    10.231.51.102/24\n    192.168.77.1/32\n  }',
  },
  {
    name: 'v3-ipv4',
    what: 'VRRPv3, IPv4 multicast, 2 VIPs, advert_int 0.1 (10 cs)',
    body: 'version 3\n  virtual_router_id 53\n  priority 150\n  advert_int 0.1\n  virtual_ipaddress {\n    10.231.51.103/24\n    10.231.51.104/24\n  }',
  },
  {
    name: 'v3-ipv6',
    what: 'VRRPv3, IPv6 multicast (ff02::12, source = link-local), 2 VIPs, advert_int 1',
    body: 'version 3\n  virtual_router_id 54\n  priority 100\n  advert_int 1\n  virtual_ipaddress {\n    fe80::54/64\n    fd31:51::100/64\n  }',
  },
  {
    name: 'v3-ipv4-unicast',
    what: 'VRRPv3, IPv4 unicast (unicast_src_ip 10.231.51.1, unicast_peer 10.231.51.2), 1 VIP, advert_int 1',
    body: 'version 3\n  virtual_router_id 55\n  priority 120\n  advert_int 1\n  unicast_src_ip 10.231.51.1\n  unicast_peer {\n    10.231.51.2\n  }\n  virtual_ipaddress {\n    10.231.51.105/24\n  }',
  },
];

const conf = (body) => `global_defs {\n  router_id ks-golden\n  script_user root\n  enable_script_security\n}\nvrrp_instance VI_1 {\n  state MASTER\n  interface vr0\n  ${body}\n}\n`;

/** readPcapVrrp lists the IPv4 / IPv6 packets with protocol 112 of a little-endian Ethernet pcap file. */
function readPcapVrrp(buf) {
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4 || buf.readUInt32LE(20) !== 1) throw new Error('want a little-endian Ethernet pcap');
  const pkts = [];
  let frame = 0;
  for (let off = 24; off + 16 <= buf.length; ) {
    const incl = buf.readUInt32LE(off + 8);
    const f = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    frame++;
    const ethType = f.readUInt16BE(12);
    if (ethType === 0x0800 && f[14 + 9] === 112) {
      const ihl = (f[14] & 15) * 4;
      const total = f.readUInt16BE(16);
      pkts.push({ frame, family: 'ipv4', src: [...f.subarray(26, 30)].join('.'), dst: [...f.subarray(30, 34)].join('.'), ttl: f[14 + 8], payload: f.subarray(14 + ihl, 14 + total), srcMac: mac(f, 6) });
    } else if (ethType === 0x86dd && f[14 + 6] === 112) {
      const plen = f.readUInt16BE(18);
      pkts.push({ frame, family: 'ipv6', src: ip6(f.subarray(22, 38)), dst: ip6(f.subarray(38, 54)), ttl: f[14 + 7], payload: f.subarray(54, 54 + plen), srcMac: mac(f, 6) });
    }
  }
  return pkts;
}
const mac = (f, at) => [...f.subarray(at, at + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
const ip6 = (b) => formatIPv6(b); // canonical text (RFC 5952), as the decoder prints it

const hx = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/** annotate writes one advert as annotated hex, one field per line. */
function annotate(p) {
  const b = p.payload;
  const ver = b[0] >> 4;
  const n = b[3];
  const lines = [];
  const row = (bytes, comment) => lines.push(`${hx(bytes).padEnd(44)} # ${comment}`);
  row(b.subarray(0, 1), `version ${ver}, type ${b[0] & 15} (ADVERTISEMENT)`);
  row(b.subarray(1, 2), `VRID ${b[1]}`);
  row(b.subarray(2, 3), `priority ${b[2]}`);
  row(b.subarray(3, 4), `count ${n}`);
  if (ver === 2) {
    row(b.subarray(4, 5), `auth type ${b[4]}`);
    row(b.subarray(5, 6), `adver int ${b[5]} s`);
  } else {
    row(b.subarray(4, 6), `rsvd ${b[4] >> 4}, max adver int ${((b[4] & 15) << 8) | b[5]} cs`);
  }
  row(b.subarray(6, 8), `checksum 0x${hx(b.subarray(6, 8))}`);
  const alen = p.family === 'ipv4' ? 4 : 16;
  for (let i = 0; i < n; i++) {
    const a = b.subarray(8 + i * alen, 8 + (i + 1) * alen);
    row(a, `address ${i + 1}: ${p.family === 'ipv4' ? [...a].join('.') : ip6(a)}`);
  }
  if (ver === 2) row(b.subarray(8 + n * 4, 16 + n * 4), 'authentication data (8 bytes)');
  return lines.join('\n');
}

mkdirSync(out, { recursive: true });
for (const s of SCENARIOS) {
  const a = Netns.create('vrg-a');
  const b = Netns.create('vrg-b');
  const tmp = mkdtempSync(join(tmpdir(), 'ks-vrrpgold-'));
  let ka;
  try {
    linkVeth({ ns: a, ifname: 'vr0', cidr: '10.231.51.1/24' }, { ns: b, ifname: 'vr0', cidr: '10.231.51.2/24' });
    a.exec('ip', ['addr', 'add', 'fd31:51::1/64', 'dev', 'vr0', 'nodad']);
    b.exec('ip', ['addr', 'add', 'fd31:51::2/64', 'dev', 'vr0', 'nodad']);
    // Wait for the link-local address to leave DAD (keepalived needs it as the IPv6 source).
    for (let i = 0; i < 100 && !/fe80::\S+ scope link\s*$/m.test(a.exec('ip', ['-6', 'addr', 'show', 'dev', 'vr0'])); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < 100 && /tentative/.test(a.exec('ip', ['-6', 'addr', 'show', 'dev', 'vr0'])); i++) await new Promise((r) => setTimeout(r, 100));
    const cap = await Capture.start(b, 'vr0', join(tmp, 'vrrp.pcap'), 'ip proto 112 or ip6 proto 112');
    ka = new Keepalived(a, { routerId: 'x', priority: 1, instances: [], notify: '/bin/true' });
    writeFileSync(ka.conf, conf(s.body));
    ka.start();
    await ka.waitFor(/Entering MASTER STATE/);
    await new Promise((r) => setTimeout(r, 2500)); // a few periodic adverts
    const log = ka.output;
    await ka.stop();
    ka = undefined;
    await cap.stop();
    const pkts = readPcapVrrp(readFileSync(cap.file));
    const first = pkts.find((p) => p.payload[2] !== 0);
    const stop = pkts.find((p) => p.payload[2] === 0);
    if (first === undefined || stop === undefined) throw new Error(`${s.name}: no advert or no priority-0 advert captured (${pkts.length} packets)\n${log}`);
    for (const [suffix, p, what] of [
      ['', first, 'first advert after entering MASTER'],
      ['-prio0', stop, 'priority-0 advert sent on SIGTERM (resigning master)'],
    ]) {
      const file = `vrrp-${s.name}${suffix}.hex`;
      const header = [
        `# keepstate golden capture: ${file} (regenerate with scripts/capture-vrrp-golden.mjs)`,
        `# what: ${s.what}; ${what}`,
        `# sender: keepalived in namespace A, vrrp_instance { state MASTER; interface vr0; ${s.body.replace(/\s*\n\s*/g, ' ')} }`,
        `# capture: tcpdump -i vr0 -w ... 'ip proto 112 or ip6 proto 112' in namespace B; IP payload of frame ${p.frame} of ${pkts.length}`,
        `# family: ${p.family}`,
        `# ip-src: ${p.src}`,
        `# ip-dst: ${p.dst}`,
        `# ttl: ${p.ttl}`,
        `# src-mac: ${p.srcMac}`,
        `# kernel: ${KERNEL}`,
        `# keepalived: ${KA_VERSION}`,
        `# tcpdump: ${TCPDUMP}`,
        `# length: ${p.payload.length} bytes`,
      ];
      writeFileSync(join(out, file), `${header.join('\n')}\n${annotate(p)}\n`);
      console.log(`wrote ${file} (${p.payload.length} bytes, ${p.src} -> ${p.dst})`);
    }
  } finally {
    if (ka !== undefined) await ka.stop();
    a.close();
    b.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
