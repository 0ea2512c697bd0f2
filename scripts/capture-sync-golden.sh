#!/usr/bin/env bash
# capture-sync-golden.sh — the recipe for test/golden/sync-*.hex: conntrackd 1.4.7 state-replication
# datagrams captured on the wire between two real conntrackd daemons (Debian package `conntrackd`),
# each in a network namespace this script creates.
#
# Topology (all made here, all deleted on exit, also on failure):
#   A (primary firewall) sync0 192.168.100.1/24  <-- veth -->  sync0 192.168.100.2/24 B (backup)
#   A data0 10.0.1.1/24 10.0.1.100/24 fd01::1/64 fd01::100/64  <-- veth -->  data0 10.0.1.2/24 fd01::2/64 S (server)
# conntrackd runs in A and in B: FTFW over multicast 225.0.0.50:3780 on sync0, ExpectationSync on,
# UNIX socket and lock file in a temporary directory, LogFile and Syslog off. A replicates the
# connections A itself opens to S through nftables SNAT/DNAT, an FTP helper and zone/mark/label
# rules; B (TCPWindowTracking on, CommitTimeout set) replicates entries made with conntrack -I.
# tcpdump in A records every sync datagram in both directions; the annotator below then picks one
# datagram (UDP payload, one or more conntrackd messages) per golden file and writes it as
# annotated hex (src/wire/hex.ts) with a provenance header.
#
# Usage (root): scripts/capture-sync-golden.sh [output-dir]   (default: test/golden)
# Needs: iproute2, nftables, conntrack, conntrackd 1.4.7, tcpdump, node, python3.
# Only the processes this script starts are stopped (by pid); only its namespaces are deleted.
set -euo pipefail

OUT=${1:-"$(cd "$(dirname "$0")/.." && pwd)/test/golden"}
mkdir -p "$OUT"
[ "$(id -u)" = 0 ] || { echo "capture-sync-golden.sh: needs root" >&2; exit 1; }
for c in ip nft conntrack conntrackd tcpdump node python3; do
  command -v "$c" >/dev/null || { echo "capture-sync-golden.sh: missing $c" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/ks-syncgold.XXXXXX)
SUF=$(printf '%04x' $((RANDOM % 65536)))
A=ks-sync-a-$SUF
B=ks-sync-b-$SUF
S=ks-sync-s-$SUF
PIDS=()
CTD_A=
CTD_B=
TCPDUMP=

cleanup() {
  set +e
  # conntrackd first (SIGTERM: it removes its lock file and socket), then tcpdump, then helpers.
  for p in $CTD_A $CTD_B; do kill -TERM "$p" 2>/dev/null; done
  for p in $CTD_A $CTD_B; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null
  done
  [ -n "$TCPDUMP" ] && kill -INT "$TCPDUMP" 2>/dev/null
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  for n in "$A" "$B" "$S"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

KERNEL=$(uname -r)
CTD_VERSION="$(dpkg-query -W -f='${Package} ${Version}' conntrackd 2>/dev/null || echo 'conntrackd (package version unknown)'); $(conntrackd -v 2>&1 | head -n1)"
CT_VERSION=$(conntrack --version 2>&1 | head -n1)

# ---------------------------------------------------------------------------------------------
# conntrackd configurations: one per node, everything node-local inside $TMP.
# ---------------------------------------------------------------------------------------------
# conf NODE LOCAL-ADDR EXTRA-OPTIONS
conf() {
  cat >"$TMP/$1.conf" <<EOF
Sync {
	Mode FTFW {
		ResendQueueSize 131072
		ACKWindowSize 20
		StartupResync on
	}
	Multicast {
		IPv4_address 225.0.0.50
		Group 3780
		IPv4_interface $2
		Interface sync0
		SndSocketBuffer 1249280
		RcvSocketBuffer 1249280
		Checksum on
	}
	Options {
		ExpectationSync on
$3
	}
}
General {
	HashSize 32768
	HashLimit 131072
	LogFile off
	Syslog off
	LockFile $TMP/$1.lock
	UNIX {
		Path $TMP/$1.ctl
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Userspace {
		Address Ignore {
			IPv4_address 127.0.0.1
			IPv6_address ::1
			IPv4_address 192.168.100.0/24
		}
	}
}
EOF
}
conf a 192.168.100.1 ''
conf b 192.168.100.2 '		TCPWindowTracking on'
# CommitTimeout lives in the Sync block (it makes the sender leave out NTA_TIMEOUT).
sed -i 's/^\tMode FTFW {/\tCommitTimeout 180\n\tMode FTFW {/' "$TMP/b.conf"
CONF_A_DESC='FTFW (ACKWindowSize 20, StartupResync on), Multicast 225.0.0.50 Group 3780 on sync0, ExpectationSync on, TCPWindowTracking off, no CommitTimeout'
CONF_B_DESC='FTFW (ACKWindowSize 20, StartupResync on), Multicast 225.0.0.50 Group 3780 on sync0, ExpectationSync on, TCPWindowTracking on, CommitTimeout 180'

# ---------------------------------------------------------------------------------------------
# Helpers written to $TMP: traffic makers and the pcap annotator.
# ---------------------------------------------------------------------------------------------
cat >"$TMP/traffic.mjs" <<'EOF'
// Traffic for the captures. argv: mode ...
//   tcp-server ADDR PORT            echo server, keeps connections open until the peer closes
//   tcp-client SRCADDR SRCPORT DST DSTPORT HOLD_MS
//   udp-server ADDR PORT            answers every datagram
//   udp-client SRCADDR SRCPORT DST DSTPORT
//   ftp-server ADDR DATA_DELAY_MS DATA_HOLD_MS   minimal FTP control channel: USER, PORT, QUIT
//   ftp-client LOCAL DST DATA_PORT HOLD_MS
import net from 'node:net';
import dgram from 'node:dgram';
const [mode, ...a] = process.argv.slice(2);
const fam = (addr) => (addr.includes(':') ? 'udp6' : 'udp4');
if (mode === 'tcp-server') {
  net.createServer((s) => { s.on('data', (d) => s.write(d)); s.on('error', () => {}); s.on('end', () => s.end()); }).listen(Number(a[1]), a[0]);
} else if (mode === 'tcp-client') {
  const s = net.connect({ host: a[2], port: Number(a[3]), localAddress: a[0], localPort: Number(a[1]) }, () => s.write('keepstate golden\n'));
  s.once('data', () => setTimeout(() => s.end(), Number(a[4])));
  s.on('error', (e) => { console.error(String(e)); process.exit(1); });
  s.on('close', () => process.exit(0));
} else if (mode === 'udp-server') {
  const s = dgram.createSocket(fam(a[0]));
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  s.bind(Number(a[1]), a[0]);
} else if (mode === 'udp-client') {
  const s = dgram.createSocket(fam(a[0]));
  s.bind(Number(a[1]), a[0], () => s.send('keepstate golden\n', Number(a[3]), a[2]));
  s.on('message', () => s.close());
  setTimeout(() => process.exit(0), 2000).unref();
} else if (mode === 'ftp-server') {
  net.createServer((s) => {
    s.write('220 keepstate golden\r\n');
    s.on('data', (d) => {
      const t = d.toString();
      if (t.startsWith('USER')) s.write('331 any password\r\n');
      else if (t.startsWith('PORT')) {
        s.write('200 PORT ok\r\n');
        const m = /PORT (\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(t);
        const host = m.slice(1, 5).join('.');
        const port = Number(m[5]) * 256 + Number(m[6]);
        setTimeout(() => {
          const c = net.connect({ host, port, localPort: 20 }, () => c.write('data\r\n'));
          c.on('error', () => {});
          setTimeout(() => c.end(), Number(a[2]));
        }, Number(a[1]));
      } else if (t.startsWith('QUIT')) s.end('221 bye\r\n');
    });
    s.on('error', () => {});
  }).listen(21, a[0]);
} else if (mode === 'ftp-client') {
  const [local, dst, dataPort, hold] = [a[0], a[1], Number(a[2]), Number(a[3])];
  const ds = net.createServer((c) => { c.on('data', () => {}); c.on('end', () => c.end()); });
  ds.listen(dataPort, local, () => {
    const s = net.connect({ host: dst, port: 21, localAddress: local, localPort: 40021 });
    let step = 0;
    s.on('data', (d) => {
      const t = d.toString();
      // The FTP helper only parses a direction after its first full line, hence USER before PORT.
      if (step === 0 && t.startsWith('220')) { step = 1; s.write('USER anonymous\r\n'); }
      else if (step === 1 && t.startsWith('331')) { step = 2; s.write(`PORT ${local.replaceAll('.', ',')},${dataPort >> 8},${dataPort & 255}\r\n`); }
      else if (step === 2 && t.startsWith('200')) { step = 3; setTimeout(() => s.write('QUIT\r\n'), hold); }
    });
    s.on('close', () => { ds.close(); process.exit(0); });
  });
}
EOF

cat >"$TMP/ping.py" <<'EOF'
# One ICMP / ICMPv6 echo request with a chosen identifier; waits for the reply.
import socket, struct, sys
fam, dst, ident = sys.argv[1], sys.argv[2], int(sys.argv[3])
payload = b'keepstate golden'
if fam == '4':
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    data = struct.pack('!BBHHH', 8, 0, 0, ident, 1) + payload
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff); total += total >> 16
    data = struct.pack('!BBHHH', 8, 0, ~total & 0xffff, ident, 1) + payload
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    data = struct.pack('!BBHHH', 128, 0, 0, ident, 1) + payload   # the kernel fills the ICMPv6 checksum
s.settimeout(3)
s.sendto(data, (dst, 0))
s.recv(2048)
EOF

cat >"$TMP/annotate.mjs" <<'EOF'
// Reads the tcpdump capture of the sync link, splits every UDP payload into conntrackd messages
// (written from the protocol description, independent of keepstate's codec), picks one datagram per
// golden file and writes it as annotated hex with a provenance header. argv: pcap outdir
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
const [pcapFile, outDir] = process.argv.slice(2);
const env = process.env;
const pcap = readFileSync(pcapFile);
if (pcap.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('expected a little-endian microsecond pcap');
const linktype = pcap.readUInt32LE(20);
if (linktype !== 1) throw new Error(`link type ${linktype}, expected Ethernet`);
const dgrams = [];
for (let o = 24, frame = 1; o + 16 <= pcap.length; frame++) {
  const caplen = pcap.readUInt32LE(o + 8);
  const pkt = pcap.subarray(o + 16, o + 16 + caplen);
  o += 16 + caplen;
  if (pkt.readUInt16BE(12) !== 0x0800) continue;
  const ihl = (pkt[14] & 15) * 4;
  if (pkt[14 + 9] !== 17) continue;
  const src = Array.from(pkt.subarray(26, 30)).join('.');
  const dst = Array.from(pkt.subarray(30, 34)).join('.');
  const u = 14 + ihl;
  if (pkt.readUInt16BE(u + 2) !== 3780) continue;
  const ulen = pkt.readUInt16BE(u + 4);
  const payload = Uint8Array.from(pkt.subarray(u + 8, u + ulen));
  dgrams.push({ frame, src, dst, payload, msgs: split(payload) });
}

function split(b) {
  const msgs = [];
  for (let o = 0; o + 8 <= b.length; ) {
    const len = (b[o + 2] << 8) | b[o + 3];
    if (len < 8 || o + len > b.length) break;
    msgs.push({ off: o, len, version: b[o] >> 4, type: b[o] & 15, flags: b[o + 1], seq: be32(b, o + 4), bytes: b.subarray(o, o + len) });
    o += len;
  }
  return msgs;
}
function be32(b, o) { return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0; }
function be16(b, o) { return (b[o] << 8) | b[o + 1]; }
function hex(a) { return Array.from(a, (x) => x.toString(16).padStart(2, '0')).join(''); }

const TYPES = { 0: 'CT_NEW', 1: 'CT_UPD', 2: 'CT_DEL', 3: 'EXP_NEW', 4: 'EXP_UPD', 5: 'EXP_DEL', 10: 'CTL' };
const FLAGS = [[0x02, 'RESYNC'], [0x04, 'NACK'], [0x08, 'ACK'], [0x10, 'ALIVE'], [0x20, 'HELLO'], [0x40, 'HELLO_BACK'], [0x01, 'UNUSED']];
const flagNames = (f) => FLAGS.filter(([b]) => f & b).map(([, n]) => n).join('|') || '0';
// [name, kind] per attribute id; kinds: grp4, grp6, port, u8, be32, be16, le16, a4, a6, seqadj, str, labels, synproxy
const CT = ['NTA_IPV4:grp4', 'NTA_IPV6:grp6', 'NTA_L4PROTO:u8', 'NTA_PORT:port', 'NTA_TCP_STATE:u8', 'NTA_STATUS:be32', 'NTA_TIMEOUT:be32', 'NTA_MARK:be32',
  'NTA_MASTER_IPV4:grp4', 'NTA_MASTER_IPV6:grp6', 'NTA_MASTER_L4PROTO:u8', 'NTA_MASTER_PORT:port', 'NTA_SNAT_IPV4:a4', 'NTA_DNAT_IPV4:a4', 'NTA_SPAT_PORT:le16', 'NTA_DPAT_PORT:le16',
  'NTA_NAT_SEQ_ADJ:seqadj', 'NTA_SCTP_STATE:u8', 'NTA_SCTP_VTAG_ORIG:be32', 'NTA_SCTP_VTAG_REPL:be32', 'NTA_DCCP_STATE:u8', 'NTA_DCCP_ROLE:u8', 'NTA_ICMP_TYPE:u8', 'NTA_ICMP_CODE:u8',
  'NTA_ICMP_ID:le16', 'NTA_TCP_WSCALE_ORIG:u8', 'NTA_TCP_WSCALE_REPL:u8', 'NTA_HELPER_NAME:str', 'NTA_LABELS:labels', 'NTA_SNAT_IPV6:a6', 'NTA_DNAT_IPV6:a6', 'NTA_SYNPROXY:synproxy', 'NTA_ZONE:be16'];
const EXP = ['NTA_EXP_MASTER_IPV4:grp4', 'NTA_EXP_MASTER_IPV6:grp6', 'NTA_EXP_MASTER_L4PROTO:u8', 'NTA_EXP_MASTER_PORT:port', 'NTA_EXP_EXPECT_IPV4:grp4', 'NTA_EXP_EXPECT_IPV6:grp6',
  'NTA_EXP_EXPECT_L4PROTO:u8', 'NTA_EXP_EXPECT_PORT:port', 'NTA_EXP_MASK_IPV4:grp4', 'NTA_EXP_MASK_IPV6:grp6', 'NTA_EXP_MASK_L4PROTO:u8', 'NTA_EXP_MASK_PORT:port', 'NTA_EXP_TIMEOUT:be32',
  'NTA_EXP_FLAGS:be32', 'NTA_EXP_CLASS:be32', 'NTA_EXP_NAT_IPV4:grp4', 'NTA_EXP_NAT_PORT:port', 'NTA_EXP_NAT_L4PROTO:u8', 'NTA_EXP_NAT_DIR:be32', 'NTA_EXP_HELPER_NAME:str', 'NTA_EXP_FN:str'];
const ip6 = (d) => Array.from({ length: 8 }, (_, i) => be16(d, 2 * i).toString(16)).join(':');
function value(kind, d) {
  switch (kind) {
    case 'grp4': return d.length === 8 ? `${Array.from(d.subarray(0, 4)).join('.')} -> ${Array.from(d.subarray(4, 8)).join('.')}` : `${d.length} bytes`;
    case 'grp6': return d.length === 32 ? `${ip6(d.subarray(0, 16))} -> ${ip6(d.subarray(16, 32))}` : `${d.length} bytes`;
    case 'port': return d.length === 4 ? `${be16(d, 0)} -> ${be16(d, 2)} (network order)` : `${d.length} bytes`;
    case 'u8': return d.length === 1 ? String(d[0]) : `${d.length} bytes`;
    case 'be32': return d.length === 4 ? `${be32(d, 0)} (0x${be32(d, 0).toString(16)})` : `${d.length} bytes`;
    case 'be16': return d.length === 2 ? String(be16(d, 0)) : `${d.length} bytes`;
    case 'le16': return d.length === 2 ? `${d[0] | (d[1] << 8)} (little-endian: the sender's host order)` : `${d.length} bytes`;
    case 'a4': return d.length === 4 ? Array.from(d).join('.') : `${d.length} bytes`;
    case 'a6': return d.length === 16 ? ip6(d) : `${d.length} bytes`;
    case 'seqadj': return d.length === 24 ? `orig ${[0, 4, 8].map((i) => be32(d, i)).join('/')} reply ${[12, 16, 20].map((i) => be32(d, i)).join('/')} (pos/before/after)` : `${d.length} bytes`;
    case 'str': return JSON.stringify(String.fromCharCode(...d.filter((c) => c !== 0)));
    case 'labels': { const on = []; for (let w = 0; w * 4 < d.length; w++) for (let bit = 0; bit < 32; bit++) if (be32(d, 4 * w) & (2 ** bit)) on.push(32 * w + bit); return `labels {${on.join(',')}} (${d.length / 4} big-endian words)`; }
    case 'synproxy': return d.length === 12 ? `its ${be32(d, 0)} isn ${be32(d, 4)} tsoff ${be32(d, 8)}` : `${d.length} bytes`;
    default: return `${d.length} bytes`;
  }
}
function annotate(d) {
  const out = [];
  const line = (bytes, comment) => out.push(hex(bytes).replace(/(.{8})(?=.)/g, '$1 ').padEnd(44) + ` # ${comment}`);
  for (const [i, m] of d.msgs.entries()) {
    const b = m.bytes;
    out.push(`# -- message ${i + 1} of ${d.msgs.length}: ${TYPES[m.type] ?? `type ${m.type}`} flags ${flagNames(m.flags)}, ${m.len} bytes`);
    line(b.subarray(0, 1), `version ${m.version}, type ${m.type} (${TYPES[m.type] ?? '?'})`);
    line(b.subarray(1, 2), `flags 0x${m.flags.toString(16).padStart(2, '0')} (${flagNames(m.flags)})`);
    line(b.subarray(2, 4), `len ${m.len}`);
    line(b.subarray(4, 8), `seq ${m.seq}`);
    if (m.type === 10) {
      if (m.len >= 16) { line(b.subarray(8, 12), `from ${be32(b, 8)}`); line(b.subarray(12, 16), `to ${be32(b, 12)}`); }
      continue;
    }
    const table = m.type <= 2 ? CT : EXP;
    for (let o = 8; o + 4 <= m.len; ) {
      const len = be16(b, o), id = be16(b, o + 2);
      const [name, kind] = (table[id] ?? `unknown ${id}:raw`).split(':');
      const data = b.subarray(o + 4, o + len);
      out.push(`${hex(b.subarray(o, o + 4))} ${hex(data)}`.padEnd(44) + ` # ${name} (nta_len ${len}) = ${value(kind, data)}`);
      const next = o + ((len + 3) & ~3);
      if (next > o + len && next <= m.len) line(b.subarray(o + len, next), 'padding');
      if (len < 4) break;
      o = next;
    }
  }
  return out;
}

// Attribute lookup inside one message (for the picks).
function attrs(m) {
  const out = new Map();
  if (m.type > 5) return out;
  for (let o = 8; o + 4 <= m.len; ) {
    const len = be16(m.bytes, o), id = be16(m.bytes, o + 2);
    if (len < 4) break;
    out.set(id, m.bytes.subarray(o + 4, o + len));
    o += (len + 3) & ~3;
  }
  return out;
}
const fromA = (d) => d.src === '192.168.100.1';
const fromB = (d) => d.src === '192.168.100.2';
const one = (d) => d.msgs.length === 1 ? d.msgs[0] : undefined;
const ct = (m, type, pred) => m !== undefined && m.type === type && pred(attrs(m));
const l4 = (a) => a.get(2)?.[0];
const dport = (a) => (a.has(3) ? be16(a.get(3), 2) : undefined);

const PICKS = [
  ['sync-ctl-resync-hello.hex', 'RESYNC request with HELLO: the first message node A sends after start (StartupResync on)', (d) => fromA(d) && one(d)?.type === 10 && one(d).flags === 0x22],
  ['sync-ctl-resync.hex', 'RESYNC request without HELLO: node B after `conntrackd -n` (request resync), helloing finished', (d) => fromB(d) && one(d)?.type === 10 && one(d).flags === 0x02],
  ['sync-ctl-alive.hex', 'ALIVE keep-alive (sent every second when there is nothing to acknowledge)', (d) => one(d)?.type === 10 && one(d).flags === 0x10],
  ['sync-ctl-alive-hello.hex', 'ALIVE with HELLO from node B before any HELLO_BACK reached it', (d) => fromB(d) && one(d)?.type === 10 && one(d).flags === 0x30],
  ['sync-ctl-ack.hex', 'ACK of a window of messages', (d) => one(d)?.type === 10 && one(d).flags === 0x08],
  ['sync-ctl-ack-hello-back.hex', 'ACK carrying HELLO_BACK (answering the peer\'s HELLO), possibly with HELLO', (d) => one(d)?.type === 10 && (one(d).flags & 0x48) === 0x48],
  ['sync-ctl-nack.hex', 'datagram from node B holding a NACK for the messages the nft drop rule took away (ACK and NACK batched when both are due)', (d) => fromB(d) && d.msgs.some((m) => m.type === 10 && m.flags & 0x04)],
  ['sync-ct-new-tcp-snat.hex', 'CT_NEW for a real TCP connection A 10.0.1.1:40080 -> S 10.0.1.2:8080 through nft SNAT to 10.0.1.100:40000-40010 (S dropped the first SYN, so NEW went out alone)', (d) => fromA(d) && ct(one(d), 0, (a) => l4(a) === 6 && dport(a) === 8080 && a.has(12))],
  ['sync-ct-upd-tcp-snat.hex', 'datagram starting with the first CT_UPD for the same TCP connection (its next state; an ACK may ride along)', (d) => fromA(d) && ct(d.msgs[0], 1, (a) => l4(a) === 6 && dport(a) === 8080 && a.has(12))],
  ['sync-ct-dnat.hex', 'CT message for TCP A -> 10.0.1.200:80 DNAT-ed (output hook) to 10.0.1.2:8080, then SNAT-ed to 10.0.1.100', (d) => fromA(d) && ct(one(d), 1, (a) => l4(a) === 6 && a.has(13))],
  ['sync-ct-new-udp.hex', 'CT message (first one sent) for a real UDP exchange 10.0.1.1:40053 <-> 10.0.1.2:5353, no NAT', (d) => fromA(d) && [0, 1].some((t) => ct(one(d), t, (a) => l4(a) === 17 && dport(a) === 5353))],
  ['sync-ct-del-udp.hex', 'CT_DEL for the UDP entry after `conntrack -D` in node A (the full last state)', (d) => fromA(d) && ct(one(d), 2, (a) => l4(a) === 17 && dport(a) === 5353)],
  ['sync-ct-icmp.hex', 'CT message for a real ICMP echo 10.0.1.1 -> 10.0.1.2 id 10658 through nft SNAT to 10.0.1.100 (spurious SPAT/DPAT from the port union)', (d) => fromA(d) && [0, 1].some((t) => ct(one(d), t, (a) => l4(a) === 1))],
  ['sync-ct-ipv6-tcp.hex', 'CT message for real TCP over IPv6 [fd01::1]:40443 -> [fd01::2]:8081 through nft SNAT to fd01::100', (d) => fromA(d) && [0, 1].some((t) => ct(one(d), t, (a) => a.has(1) && l4(a) === 6 && a.has(29)))],
  ['sync-ct-icmpv6.hex', 'CT message for a real ICMPv6 echo fd01::1 -> fd01::2 id 4660', (d) => fromA(d) && [0, 1].some((t) => ct(one(d), t, (a) => a.has(1) && l4(a) === 58))],
  ['sync-ct-zone-mark-label.hex', 'CT message for real UDP 10.0.1.1:40077 -> 10.0.1.2:7777 put in zone 7 with mark 0x2a and label 5 by nft rules', (d) => fromA(d) && [0, 1].some((t) => ct(one(d), t, (a) => a.has(32) && a.has(7) && a.has(28)))],
  ['sync-ct-ftp-master.hex', 'CT message for the FTP control connection through SNAT with helper "ftp" (status has SEQ_ADJUST once PORT was rewritten, yet conntrackd sends no NTA_NAT_SEQ_ADJ)', (d) => fromA(d) && [0, 1].some((t) => ct(one(d), t, (a) => a.has(27)))],
  ['sync-ct-ftp-related.hex', 'CT message for the FTP data connection, RELATED to the control connection (NTA_MASTER_*)', (d) => fromA(d) && [0, 1].some((t) => ct(one(d), t, (a) => a.has(8)))],
  ['sync-ct-sctp.hex', 'CT message for an SCTP entry made with `conntrack -I` in node A (state and verification tags)', (d) => fromA(d) && [0, 1].some((t) => ct(one(d), t, (a) => l4(a) === 132))],
  ['sync-ct-wscale-notimeout.hex', 'CT message from node B (TCPWindowTracking on, CommitTimeout 180): window scales, no NTA_TIMEOUT; entry made with `conntrack -I`', (d) => fromB(d) && [0, 1].some((t) => ct(one(d), t, (a) => l4(a) === 6 && a.has(25)))],
  ['sync-exp-new-ftp.hex', 'EXP_NEW for the expectation the kernel FTP helper made for PORT through SNAT (NAT tuple, nat-follow-master)', (d) => fromA(d) && one(d)?.type === 3],
  ['sync-exp-del-ftp.hex', 'datagram holding the EXP_DEL sent once the FTP data connection used the expectation (batched with whatever else was due)', (d) => fromA(d) && d.msgs.some((m) => m.type === 5)],
  ['sync-dgram-bulk.hex', 'the largest datagram: several CT/EXP messages node A sent back to back in answer to RESYNC (after `conntrackd -n` on B)', null],
];

const header = (file, what, d) => [
  `# keepstate golden capture: ${file} (regenerate with scripts/capture-sync-golden.sh)`,
  `# what: ${what}`,
  `# sender: node ${fromA(d) ? 'A' : 'B'} (${d.src}) -> ${d.dst}; conntrackd config: ${fromA(d) ? env.CONF_A_DESC : env.CONF_B_DESC}`,
  `# capture: tcpdump -i sync0 -w in node A's namespace; UDP payload of frame ${d.frame}`,
  `# kernel: ${env.KERNEL}`,
  `# conntrackd: ${env.CTD_VERSION}`,
  `# conntrack: ${env.CT_VERSION}`,
  `# datagram: ${d.payload.length} bytes, ${d.msgs.length} message${d.msgs.length === 1 ? '' : 's'}`,
];
let failed = 0;
for (const [file, what, pick] of PICKS) {
  let d;
  if (pick === null) {
    d = dgrams.filter((x) => fromA(x) && x.msgs.length > 1 && x.msgs.every((m) => m.type <= 5)).sort((x, y) => y.payload.length - x.payload.length)[0];
  } else d = dgrams.find(pick);
  if (d === undefined) { console.error(`annotate: nothing for ${file}`); failed++; continue; }
  const text = [...header(file, what, d), ...annotate(d)].join('\n') + '\n';
  writeFileSync(`${outDir}/${file}.tmp`, text);
  renameSync(`${outDir}/${file}.tmp`, `${outDir}/${file}`);
  console.log(`wrote ${outDir}/${file} (frame ${d.frame}, ${d.msgs.length} message(s))`);
}
if (env.DUMP_ALL) for (const d of dgrams) console.log(d.frame, d.src, d.msgs.map((m) => `${TYPES[m.type] ?? m.type}/${flagNames(m.flags)}/${m.len}[${[...attrs(m).keys()].join(',')}]`).join(' '));
process.exit(failed === 0 ? 0 : 1);
EOF

# ---------------------------------------------------------------------------------------------
# Namespaces, links, rules
# ---------------------------------------------------------------------------------------------
for n in "$A" "$B" "$S"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip -n "$A" link add sync0 type veth peer name sync0 netns "$B"
ip -n "$A" link add data0 type veth peer name data0 netns "$S"
ip -n "$A" addr add 192.168.100.1/24 dev sync0
ip -n "$B" addr add 192.168.100.2/24 dev sync0
ip -n "$A" addr add 10.0.1.1/24 dev data0
ip -n "$A" addr add 10.0.1.100/24 dev data0
ip -n "$A" addr add fd01::1/64 dev data0 nodad
ip -n "$A" addr add fd01::100/64 dev data0 nodad
ip -n "$S" addr add 10.0.1.2/24 dev data0
ip -n "$S" addr add fd01::2/64 dev data0 nodad
for n in "$A" "$B"; do ip -n "$n" link set sync0 up; done
ip -n "$A" link set data0 up
ip -n "$S" link set data0 up
# Multicast to 225.0.0.50 leaves through sync0 (the namespaces have no default route).
ip -n "$A" route add 224.0.0.0/4 dev sync0
ip -n "$B" route add 224.0.0.0/4 dev sync0
for n in "$A" "$B"; do ip netns exec "$n" sysctl -qw net.netfilter.nf_conntrack_events=1; done

ip netns exec "$A" nft -f - <<'EOF'
table ip nat {
  chain out {
    type nat hook output priority -100; policy accept;
    ip daddr 10.0.1.200 tcp dport 80 dnat to 10.0.1.2:8080
  }
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "data0" ip daddr 10.0.1.2 tcp dport 8080 snat to 10.0.1.100:40000-40010
    oifname "data0" ip daddr 10.0.1.2 tcp dport 21 snat to 10.0.1.100
    oifname "data0" ip daddr 10.0.1.2 ip protocol icmp snat to 10.0.1.100
  }
}
table ip6 nat6 {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "data0" ip6 daddr fd01::2 tcp dport 8081 snat to fd01::100
  }
}
table inet ks {
  ct helper ftph {
    type "ftp" protocol tcp;
  }
  chain raw_out {
    type filter hook output priority raw; policy accept;
    udp dport 7777 ct zone set 7
  }
  chain raw_pre {
    type filter hook prerouting priority raw; policy accept;
    udp sport 7777 ct zone set 7
  }
  chain out {
    type filter hook output priority filter; policy accept;
    tcp dport 21 ct helper set "ftph"
    udp dport 7777 ct mark set 0x2a
    udp dport 7777 ct label set 5
  }
}
EOF
# S drops the first SYN to 8080 (rule removed below): conntrackd then sends CT_NEW alone for it.
ip netns exec "$S" nft -f - <<'EOF'
table inet gate {
  chain in {
    type filter hook input priority filter; policy accept;
    tcp dport 8080 tcp flags syn counter drop comment "first-syn"
  }
}
EOF

bg() { "$@" & PIDS+=($!); }
T="node $TMP/traffic.mjs"

# ---------------------------------------------------------------------------------------------
# Capture
# ---------------------------------------------------------------------------------------------
ip netns exec "$A" tcpdump -i sync0 -U -s 0 -w "$TMP/sync.pcap" udp port 3780 2>"$TMP/tcpdump.err" &
TCPDUMP=$!
sleep 1

# Entries in B before B starts (B's internal cache; sent on RESYNC / -B only) and servers in S.
bg ip netns exec "$S" $T tcp-server 0.0.0.0 8080
bg ip netns exec "$S" $T tcp-server :: 8081
bg ip netns exec "$S" $T udp-server 0.0.0.0 5353
bg ip netns exec "$S" $T udp-server 0.0.0.0 7777
bg ip netns exec "$S" $T ftp-server 10.0.1.2 1500 1500

ip netns exec "$B" conntrackd -C "$TMP/b.conf" >"$TMP/b.out" 2>&1 &
CTD_B=$!
sleep 1.5
ip netns exec "$A" conntrackd -C "$TMP/a.conf" >"$TMP/a.out" 2>&1 &
CTD_A=$!
sleep 3   # RESYNC|HELLO from A, B's answer, HELLO / HELLO_BACK exchange, ALIVEs

# B: a TCP entry made with conntrack -I (window scales, no timeout on the wire).
ip netns exec "$B" conntrack -I -p tcp -s 198.51.100.7 -d 203.0.113.7 --sport 41000 --dport 443 --state ESTABLISHED -t 300 -u SEEN_REPLY,ASSURED >/dev/null
sleep 1

# A: TCP through SNAT with a port range; the first SYN is dropped by S, retransmitted after 1 s.
bg ip netns exec "$A" $T tcp-client 10.0.1.1 40080 10.0.1.2 8080 2500
sleep 0.5
ip netns exec "$S" nft flush chain inet gate in
sleep 2
# A: DNAT then SNAT (S answers at once now).
bg ip netns exec "$A" $T tcp-client 10.0.1.1 40081 10.0.1.200 80 2000
sleep 1
ip netns exec "$A" $T udp-client 10.0.1.1 40053 10.0.1.2 5353
sleep 1
ip netns exec "$A" python3 "$TMP/ping.py" 4 10.0.1.2 10658
sleep 1
ip netns exec "$A" python3 "$TMP/ping.py" 6 fd01::2 4660
sleep 1
bg ip netns exec "$A" $T tcp-client fd01::1 40443 fd01::2 8081 2000
sleep 1
ip netns exec "$A" $T udp-client 10.0.1.1 40077 10.0.1.2 7777
sleep 1
ip netns exec "$A" conntrack -I -p sctp -s 192.0.2.9 -d 198.51.100.9 --sport 5000 --dport 6000 --state ESTABLISHED --orig-vtag 287454020 --reply-vtag 1432778632 -t 60 >/dev/null
sleep 1
bg ip netns exec "$A" $T ftp-client 10.0.1.1 10.0.1.2 40064 2500
sleep 4
ip netns exec "$A" conntrack -D -p udp --dport 5353 >/dev/null
sleep 1.5

# A gap: B drops what A sends for a moment (an entry made meanwhile is lost), then B NACKs.
ip netns exec "$B" nft -f - <<'EOF'
table inet lossy {
  chain in {
    type filter hook input priority filter; policy accept;
    udp dport 3780 ip saddr 192.168.100.1 drop
  }
}
EOF
ip netns exec "$A" conntrack -I -p udp -s 192.0.2.20 -d 198.51.100.20 --sport 1020 --dport 2020 -t 60 >/dev/null
sleep 0.3
ip netns exec "$B" nft delete table inet lossy
ip netns exec "$A" conntrack -I -p udp -s 192.0.2.21 -d 198.51.100.21 --sport 1021 --dport 2021 -t 60 >/dev/null
sleep 2

# B asks A for everything: A answers with a burst of full datagrams.
ip netns exec "$B" conntrackd -C "$TMP/b.conf" -n >/dev/null 2>&1 || true
sleep 3
# Idle: once nothing is left to acknowledge, both send ALIVE every second.
sleep 4

kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true; TCPDUMP=
[ -n "${KEEP_PCAP:-}" ] && cp "$TMP/sync.pcap" "$KEEP_PCAP"
for f in a b; do [ -s "$TMP/$f.out" ] && { echo "conntrackd $f said:"; cat "$TMP/$f.out"; } >&2; done

KERNEL=$KERNEL CTD_VERSION=$CTD_VERSION CT_VERSION=$CT_VERSION CONF_A_DESC=$CONF_A_DESC CONF_B_DESC=$CONF_B_DESC \
  node "$TMP/annotate.mjs" "$TMP/sync.pcap" "$OUT"
echo "done: $(ls "$OUT"/sync-*.hex | wc -l) sync golden files in $OUT"
