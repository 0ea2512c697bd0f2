#!/usr/bin/env bash
# capture-golden.sh — the recipe for test/golden/*.hex: ctnetlink messages captured from the real
# kernel and the real conntrack(8) (conntrack-tools 1.4.7) in network namespaces made for the run.
#
# The kernel has no nlmon here, so the bytes come from strace: `-e write=FD -e read=FD` prints a
# hex dump of every buffer conntrack sends to and receives from its netlink sockets. Each golden
# file holds one netlink message (nlmsghdr included), annotated field by field, with a provenance
# header: the command, how it was captured, `uname -r`, the conntrack and libnetfilter_conntrack
# versions and, for dumps, the line conntrack printed for that message (an independent decoding
# the tests compare with).
#
# Usage (root): scripts/capture-golden.sh [output-dir]   (default: test/golden)
# Needs: iproute2, nftables, conntrack, strace, node; python3 for the ICMP echo scenarios.
# Traffic only flows between the namespaces this script creates; they are deleted on exit.
set -euo pipefail

OUT=${1:-"$(cd "$(dirname "$0")/.." && pwd)/test/golden"}
mkdir -p "$OUT"
[ "$(id -u)" = 0 ] || { echo "capture-golden.sh: needs root" >&2; exit 1; }
for c in ip nft conntrack strace node; do
  command -v "$c" >/dev/null || { echo "capture-golden.sh: missing $c" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/ks-golden.XXXXXX)
SUF=$(printf '%04x' $((RANDOM % 65536)))
FW=ks-gold-fw-$SUF      # the firewall: SNAT, FTP helper, zones/marks/labels, acct + timestamps on
SRV=ks-gold-srv-$SUF    # the server side of the veth pair
PLAIN=ks-gold-pl-$SUF   # default sysctls, entries made with conntrack -I only
PIDS=()

cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  for n in "$FW" "$SRV" "$PLAIN"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

KERNEL=$(uname -r)
CT_VERSION=$(conntrack --version 2>&1 | head -n1)
NFCT_VERSION=$(dpkg-query -W -f='${Package} ${Version}' libnetfilter-conntrack3 2>/dev/null || echo 'libnetfilter_conntrack (version unknown)')
STRACE="strace -f -qq -xx -s 0 -e trace=sendto,sendmsg,recvmsg,recvfrom -e write=3,4,5 -e read=3,4,5"

# ---------------------------------------------------------------------------------------------
# Helpers written to $TMP: the strace-dump annotator and the traffic makers.
# ---------------------------------------------------------------------------------------------
cat >"$TMP/annotate.mjs" <<'EOF'
// Reads an strace -e read/write hex dump, splits it into netlink messages, picks one and prints it
// as annotated hex (src/wire/hex.ts parseAnnotatedHex). argv: trace pick kind stdoutFile
// pick: send:N | recv:N | recv:type=0x0100,flags=0x0600,attr=14:N  (N is 1-based)
import { readFileSync } from 'node:fs';
const [traceFile, pick, kindHint, stdoutFile] = process.argv.slice(2);
const recs = [];
let cur = null;
for (let line of readFileSync(traceFile, 'utf8').split('\n')) {
  line = line.replace(/^\d+ +/, '');
  const m = /^(sendto|sendmsg|recvmsg|recvfrom)\(/.exec(line);
  if (m) { cur = { dir: m[1].startsWith('send') ? 'send' : 'recv', bytes: [] }; recs.push(cur); continue; }
  if (cur && /^ \| [0-9a-f]{5}  /.test(line)) {
    for (const h of line.slice(10, 59).trim().split(/\s+/)) if (h) cur.bytes.push(parseInt(h, 16));
  }
}
const le16 = (b, o) => b[o] | (b[o + 1] << 8);
const le32 = (b, o) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const msgs = [];
for (const r of recs) {
  const b = r.bytes;
  for (let o = 0; o + 16 <= b.length; ) {
    const len = le32(b, o);
    if (len < 16 || o + len > b.length) break;
    msgs.push({ dir: r.dir, bytes: b.slice(o, o + len) });
    o += (len + 3) & ~3;
  }
}
const topAttrs = (m) => { const s = []; const b = m.bytes; for (let o = 20; o + 4 <= b.length; ) { const l = le16(b, o); if (l < 4) break; s.push(le16(b, o + 2) & 0x3fff); o += (l + 3) & ~3; } return s; };
const parts = pick.split(':');
const dir = parts[0];
const n = Number(parts[parts.length - 1]);
const filt = {};
if (parts.length === 3) for (const kv of parts[1].split(',')) { const [k, v] = kv.split('='); filt[k] = Number(v); }
const candidates = msgs.filter((m) => m.dir === dir && (dir === 'send' || le16(m.bytes, 4) >= 0x10));
const matching = candidates.filter((m) =>
  (filt.type === undefined || le16(m.bytes, 4) === filt.type) &&
  (filt.flags === undefined || (le16(m.bytes, 6) & 0xff00) === filt.flags) &&
  (filt.attr === undefined || topAttrs(m).includes(filt.attr)));
const chosen = matching[n - 1];
if (!chosen) { console.error(`annotate: no message ${pick} in ${traceFile} (${candidates.length} candidates)`); process.exit(1); }
const chosenIndex = candidates.indexOf(chosen);

const N = (s) => Object.fromEntries(s.split(' ').map((x, i) => [i + 1, x]));
const CTX = {
  ct: N('CTA_TUPLE_ORIG>tuple CTA_TUPLE_REPLY>tuple CTA_STATUS CTA_PROTOINFO>protoinfo CTA_HELP>help CTA_NAT_SRC>nat CTA_TIMEOUT CTA_MARK CTA_COUNTERS_ORIG>counters CTA_COUNTERS_REPLY>counters CTA_USE CTA_ID CTA_NAT_DST>nat CTA_TUPLE_MASTER>tuple CTA_SEQ_ADJ_ORIG>seqadj CTA_SEQ_ADJ_REPLY>seqadj CTA_SECMARK CTA_ZONE CTA_SECCTX>secctx CTA_TIMESTAMP>timestamp CTA_MARK_MASK CTA_LABELS:bytes CTA_LABELS_MASK:bytes CTA_SYNPROXY>synproxy CTA_FILTER>filter CTA_STATUS_MASK CTA_TIMESTAMP_EVENT'),
  tuple: N('CTA_TUPLE_IP>ip CTA_TUPLE_PROTO>proto CTA_TUPLE_ZONE'),
  ip: N('CTA_IP_V4_SRC:ip4 CTA_IP_V4_DST:ip4 CTA_IP_V6_SRC:ip6 CTA_IP_V6_DST:ip6'),
  proto: N('CTA_PROTO_NUM CTA_PROTO_SRC_PORT CTA_PROTO_DST_PORT CTA_PROTO_ICMP_ID CTA_PROTO_ICMP_TYPE CTA_PROTO_ICMP_CODE CTA_PROTO_ICMPV6_ID CTA_PROTO_ICMPV6_TYPE CTA_PROTO_ICMPV6_CODE'),
  protoinfo: N('CTA_PROTOINFO_TCP>tcp CTA_PROTOINFO_DCCP>dccp CTA_PROTOINFO_SCTP>sctp'),
  tcp: N('CTA_PROTOINFO_TCP_STATE CTA_PROTOINFO_TCP_WSCALE_ORIGINAL CTA_PROTOINFO_TCP_WSCALE_REPLY CTA_PROTOINFO_TCP_FLAGS_ORIGINAL:bytes CTA_PROTOINFO_TCP_FLAGS_REPLY:bytes'),
  dccp: N('CTA_PROTOINFO_DCCP_STATE CTA_PROTOINFO_DCCP_ROLE CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ CTA_PROTOINFO_DCCP_PAD'),
  sctp: N('CTA_PROTOINFO_SCTP_STATE CTA_PROTOINFO_SCTP_VTAG_ORIGINAL CTA_PROTOINFO_SCTP_VTAG_REPLY'),
  help: N('CTA_HELP_NAME:str CTA_HELP_INFO:bytes'),
  nat: N('CTA_NAT_V4_MINIP:ip4 CTA_NAT_V4_MAXIP:ip4 CTA_NAT_PROTO>protonat CTA_NAT_V6_MINIP:ip6 CTA_NAT_V6_MAXIP:ip6'),
  protonat: N('CTA_PROTONAT_PORT_MIN CTA_PROTONAT_PORT_MAX'),
  counters: N('CTA_COUNTERS_PACKETS CTA_COUNTERS_BYTES CTA_COUNTERS32_PACKETS CTA_COUNTERS32_BYTES CTA_COUNTERS_PAD'),
  seqadj: N('CTA_SEQADJ_CORRECTION_POS CTA_SEQADJ_OFFSET_BEFORE CTA_SEQADJ_OFFSET_AFTER'),
  secctx: N('CTA_SECCTX_NAME:str'),
  timestamp: N('CTA_TIMESTAMP_START CTA_TIMESTAMP_STOP CTA_TIMESTAMP_PAD'),
  synproxy: N('CTA_SYNPROXY_ISN CTA_SYNPROXY_ITS CTA_SYNPROXY_TSOFF'),
  filter: N('CTA_FILTER_ORIG_FLAGS CTA_FILTER_REPLY_FLAGS'),
  exp: N('CTA_EXPECT_MASTER>tuple CTA_EXPECT_TUPLE>tuple CTA_EXPECT_MASK>tuple CTA_EXPECT_TIMEOUT CTA_EXPECT_ID CTA_EXPECT_HELP_NAME:str CTA_EXPECT_ZONE CTA_EXPECT_FLAGS CTA_EXPECT_CLASS CTA_EXPECT_NAT>expnat CTA_EXPECT_FN:str'),
  expnat: N('CTA_EXPECT_NAT_DIR CTA_EXPECT_NAT_TUPLE>tuple'),
  stats: N('CTA_STATS_SEARCHED CTA_STATS_FOUND CTA_STATS_NEW CTA_STATS_INVALID CTA_STATS_IGNORE CTA_STATS_DELETE CTA_STATS_DELETE_LIST CTA_STATS_INSERT CTA_STATS_INSERT_FAILED CTA_STATS_DROP CTA_STATS_EARLY_DROP CTA_STATS_ERROR CTA_STATS_SEARCH_RESTART CTA_STATS_CLASH_RESOLVE CTA_STATS_CHAIN_TOOLONG'),
  global: N('CTA_STATS_GLOBAL_ENTRIES CTA_STATS_GLOBAL_MAX_ENTRIES'),
  expstats: N('CTA_STATS_EXP_NEW CTA_STATS_EXP_CREATE CTA_STATS_EXP_DELETE'),
};
const hex = (a) => a.map((x) => x.toString(16).padStart(2, '0')).join('');
const be = (a) => a.reduce((v, x) => v * 256n + BigInt(x), 0n);
const out = [];
const line = (bytes, comment, ind = 0) => out.push(`${' '.repeat(ind)}${hex(bytes)}`.padEnd(44) + ` # ${comment}`);
function value(kind, d) {
  if (kind === 'ip4' && d.length === 4) return d.join('.');
  if (kind === 'ip6' && d.length === 16) return Array.from({ length: 8 }, (_, i) => ((d[2 * i] << 8) | d[2 * i + 1]).toString(16)).join(':');
  if (kind === 'str') return JSON.stringify(String.fromCharCode(...d.filter((c) => c !== 0)));
  if (kind === 'bytes' || ![1, 2, 4, 8].includes(d.length)) return `${d.length} bytes`;
  const v = be(d);
  return `${v} (0x${v.toString(16)})`;
}
function attrs(b, start, end, ctx, ind) {
  for (let o = start; o + 4 <= end; ) {
    const len = le16(b, o), full = le16(b, o + 2), type = full & 0x3fff;
    const spec = (CTX[ctx] ?? {})[type] ?? `unknown type ${type}`;
    const [name, sub] = spec.split('>');
    const [label, kind] = name.split(':');
    const flags = `${full & 0x8000 ? ' NESTED' : ''}${full & 0x4000 ? ' NET_BYTEORDER' : ''}`;
    if (sub !== undefined) {
      line(b.slice(o, o + 4), `${label}${flags}, nla_len ${len}`, ind);
      attrs(b, o + 4, o + len, sub, ind + 2);
    } else {
      const d = b.slice(o + 4, o + len);
      out.push(`${' '.repeat(ind)}${hex(b.slice(o, o + 4))} ${hex(d)}`.padEnd(44) + ` # ${label}${flags} = ${value(kind, d)}`);
    }
    const next = o + ((len + 3) & ~3);
    if (next > o + len && next <= end) line(b.slice(o + len, next), 'padding', ind);
    o = next;
  }
}
const b = chosen.bytes;
const type = le16(b, 4), subsys = type >> 8, msg = type & 0xff;
let kind = kindHint;
if (kind === 'auto') kind = subsys === 1 ? ({ 4: 'stats', 5: 'global' })[msg] ?? 'ct' : subsys === 2 ? 'exp' : 'none';
line(b.slice(0, 4), `nlmsg_len = ${le32(b, 0)}`);
line(b.slice(4, 6), `nlmsg_type = 0x${type.toString(16).padStart(4, '0')} (subsystem ${subsys}, message ${msg})`);
line(b.slice(6, 8), `nlmsg_flags = 0x${le16(b, 6).toString(16).padStart(4, '0')}`);
line(b.slice(8, 12), 'nlmsg_seq');
line(b.slice(12, 16), 'nlmsg_pid');
if (b.length >= 20) {
  line(b.slice(16, 20), `nfgenmsg: family ${b[16]}, version ${b[17]}, res_id ${(b[18] << 8) | b[19]}`);
  attrs(b, 20, b.length, kind, 0);
}
const header = (process.env.GOLDEN_HEADER ?? '').split('\n').filter(Boolean).map((l) => `# ${l}`);
header.push(`# message: ${pick} of the trace (${chosen.dir === 'send' ? 'conntrack -> kernel' : 'kernel -> conntrack'})`);
if (stdoutFile && chosen.dir === 'recv') {
  const lines = readFileSync(stdoutFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const l = lines[chosenIndex];
  if (l !== undefined) header.push(`# conntrack-output: ${l.trim()}`);
}
console.log([...header, ...out].join('\n'));
EOF

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
    hdr = struct.pack('!BBHHH', 8, 0, 0, ident, 1)
    data = hdr + payload
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

# ---------------------------------------------------------------------------------------------
# Namespaces
# ---------------------------------------------------------------------------------------------
for n in "$FW" "$SRV" "$PLAIN"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip -n "$FW" link add veth-a type veth peer name veth-b netns "$SRV"
ip -n "$FW" addr add 10.0.0.1/24 dev veth-a
ip -n "$FW" addr add 10.0.0.100/24 dev veth-a
ip -n "$FW" addr add fd00::1/64 dev veth-a nodad
ip -n "$SRV" addr add 10.0.0.2/24 dev veth-b
ip -n "$SRV" addr add fd00::2/64 dev veth-b nodad
ip -n "$FW" link set veth-a up
ip -n "$SRV" link set veth-b up
ip netns exec "$FW" sysctl -qw net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1 net.netfilter.nf_conntrack_events=1
ip netns exec "$FW" nft -f - <<'EOF'
table ip nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "veth-a" ip daddr 10.0.0.2 tcp dport { 21, 8080 } snat to 10.0.0.100
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
# conntrack -I with --src-nat needs NAT active in the namespace, and --label-add needs the labels
# extension, which the kernel attaches to new entries only while some rule uses connlabels.
ip netns exec "$PLAIN" nft -f - <<'EOF'
table ip nat {
  chain post {
    type nat hook postrouting priority srcnat; policy accept;
  }
}
table inet lbl {
  chain out {
    type filter hook output priority filter; policy accept;
    meta mark 0x7e57 ct label set 127
  }
}
EOF

bg() { "$@" & PIDS+=($!); }

# trace NS NAME conntrack-args... : run conntrack under strace, keep trace and stdout.
trace() {
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" $STRACE -o "$TMP/$name.strace" conntrack "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || true
  printf '%s\n' "conntrack $*" >"$TMP/$name.cmd"
}

# trace_labels: trace with /etc/xtables/connlabel.conf present, in a private mount namespace
# (an overlay on /etc that only this command sees) so conntrack can name label 5 "golden".
trace_labels() {
  local ns=$1 name=$2; shift 2
  mkdir -p "$TMP/ov-u" "$TMP/ov-w"
  unshare -m bash -c 'mount --make-rprivate / && mount -t overlay overlay -o "lowerdir=/etc,upperdir=$0/ov-u,workdir=$0/ov-w" /etc && mkdir -p /etc/xtables && printf "5 golden\n" >/etc/xtables/connlabel.conf && exec "$@"' \
    "$TMP" ip netns exec "$ns" $STRACE -o "$TMP/$name.strace" conntrack "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || true
  printf '%s\n' "conntrack $* (with /etc/xtables/connlabel.conf: \"5 golden\")" >"$TMP/$name.cmd"
}

# emit FILE NAME PICK KIND SETUP-DESCRIPTION
emit() {
  local file=$1 name=$2 pick=$3 kind=$4 what=$5
  GOLDEN_HEADER="keepstate golden capture: $file (regenerate with scripts/capture-golden.sh)
what: $what
command: $(cat "$TMP/$name.cmd")
capture: $STRACE
kernel: $KERNEL
conntrack: $CT_VERSION; $NFCT_VERSION" node "$TMP/annotate.mjs" "$TMP/$name.strace" "$pick" "$kind" "$TMP/$name.out" >"$OUT/$file.tmp"
  mv "$OUT/$file.tmp" "$OUT/$file"
  echo "wrote $OUT/$file"
}

flush() { ip netns exec "$1" conntrack -F >/dev/null 2>&1 || true; ip netns exec "$1" conntrack -F expect >/dev/null 2>&1 || true; }

# ---------------------------------------------------------------------------------------------
# Entries made with conntrack -I (namespace PLAIN: no accounting, no timestamps)
# ---------------------------------------------------------------------------------------------
P=$PLAIN
TCP4=(-p tcp -s 192.0.2.1 -d 198.51.100.1 --sport 40000 --dport 80)
flush $P
trace $P create-tcp -I "${TCP4[@]}" --state ESTABLISHED -t 120 -u SEEN_REPLY,ASSURED -m 42
emit req-ct-create-tcp.hex create-tcp send:1 ct 'create request for an established TCP entry with a mark'
trace $P get-tcp -G "${TCP4[@]}"
emit req-ct-get-tcp.hex get-tcp send:1 ct 'get request by original tuple'
emit get-ct-tcp.hex get-tcp recv:1 ct 'GET reply for the entry made by req-ct-create-tcp (ctnetlink_fill_info layout, no acct)'
trace $P update-mark -U "${TCP4[@]}" -m 43
emit req-ct-update-mark.hex update-mark send:type=256:1 ct 'update request conntrack -U sends after dumping the matching entry: the new mark'
trace_labels $P update-labels -U "${TCP4[@]}" --label-add golden
emit req-ct-update-labels.hex update-labels send:type=256:1 ct 'update request adding connlabel 5 (CTA_LABELS + CTA_LABELS_MASK)'
trace $P dump-tcp -L -o id
emit dump-ct-tcp-labelled.hex dump-tcp recv:1 ct 'dump reply: the entry after the mark and label updates'
trace $P delete-tcp -D "${TCP4[@]}"
emit req-ct-delete-tcp.hex delete-tcp send:type=258:1 ct 'delete request conntrack sends after dumping the matching entry (whole entry, libnetfilter_conntrack order)'

flush $P
trace $P create-snat -I "${TCP4[@]}" --state ESTABLISHED -t 120 -u SEEN_REPLY,ASSURED --src-nat 203.0.113.5
emit req-ct-create-snat.hex create-snat send:1 ct 'create request with a source NAT binding (CTA_NAT_SRC)'
trace $P dump-snat -L -o id
emit dump-ct-created-snat.hex dump-snat recv:1 ct 'dump reply: the entry created with --src-nat (reply tuple rewritten)'

flush $P
trace $P create-dirzone -I -p udp -s 192.0.2.7 -d 198.51.100.7 --sport 1053 --dport 53 -t 60 --orig-zone 3
emit req-ct-create-dirzone.hex create-dirzone send:1 ct 'create request with a directional zone (CTA_TUPLE_ZONE in the original tuple; the kernel accepts one directional zone per entry)'
trace $P dump-dirzone -L -o id
emit dump-ct-dirzone.hex dump-dirzone recv:1 ct 'dump reply: UDP entry in zone 3 for the original direction only'

flush $P
trace $P create-icmp -I -p icmp -s 192.0.2.8 -d 198.51.100.8 --icmp-type 8 --icmp-code 0 --icmp-id 1234 -t 30
emit req-ct-create-icmp.hex create-icmp send:1 ct 'create request for ICMP echo (libnetfilter_conntrack puts code, type, id)'
trace $P dump-icmp-created -L -o id
emit dump-ct-icmp-created.hex dump-icmp-created recv:1 ct 'dump reply: ICMP entry (the kernel puts id, type, code)'

flush $P
trace $P create-icmpv6 -I -p icmpv6 -s 2001:db8::1 -d 2001:db8::2 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 99 -t 30
emit req-ct-create-icmpv6.hex create-icmpv6 send:1 ct 'create request for ICMPv6 echo'
trace $P dump-icmpv6-created -L -f ipv6 -o id
emit dump-ct-icmpv6-created.hex dump-icmpv6-created recv:1 ct 'dump reply: ICMPv6 entry'

flush $P
trace $P create-sctp -I -p sctp -s 192.0.2.9 -d 198.51.100.9 --sport 5000 --dport 6000 --state ESTABLISHED --orig-vtag 287454020 --reply-vtag 1432778632 -t 60
emit req-ct-create-sctp.hex create-sctp send:1 ct 'create request for SCTP with verification tags'
trace $P dump-sctp -L -o id
emit dump-ct-sctp.hex dump-sctp recv:1 ct 'dump reply: SCTP entry with CTA_PROTOINFO_SCTP'

flush $P
trace $P create-gre -I -p gre -s 192.0.2.10 -d 198.51.100.10 --srckey 0x1234 --dstkey 0x5678 -t 60
emit req-ct-create-gre.hex create-gre send:1 ct 'create request for GRE (keys in CTA_PROTO_SRC_PORT / DST_PORT)'
trace $P dump-gre -L -o id
emit dump-ct-gre.hex dump-gre recv:1 ct 'dump reply: GRE entry'

flush $P
trace $P create-udplite -I -p udplite -s 192.0.2.11 -d 198.51.100.11 --sport 7000 --dport 7001 -t 60
emit req-ct-create-udplite.hex create-udplite send:1 ct 'create request for UDP-Lite'
trace $P dump-udplite -L -o id
emit dump-ct-udplite.hex dump-udplite recv:1 ct 'dump reply: UDP-Lite entry'

flush $P
trace $P create-tcp6 -I -p tcp -s 2001:db8::10 -d 2001:db8::20 --sport 40001 --dport 443 --state ESTABLISHED -t 300 -u SEEN_REPLY,ASSURED
emit req-ct-create-ipv6-tcp.hex create-tcp6 send:1 ct 'create request for an IPv6 TCP entry'

# requests without entries
trace $P dump-all -L
emit req-ct-dump.hex dump-all send:1 ct 'dump request, no filter'
trace $P dump-ipv6 -L -f ipv6
emit req-ct-dump-ipv6.hex dump-ipv6 send:1 ct 'dump request for IPv6 only (nfgen_family)'
trace $P dump-mark -L -m 42/0xff
emit req-ct-dump-mark.hex dump-mark send:1 ct 'dump request filtered by the kernel on CTA_MARK / CTA_MARK_MASK'
trace $P dump-status -L -u ASSURED
emit req-ct-dump-status.hex dump-status send:1 ct 'dump request filtered by the kernel on CTA_STATUS / CTA_STATUS_MASK'
trace $P flush-all -F
emit req-ct-flush.hex flush-all send:1 ct 'flush request'
trace $P exp-dump -L expect
emit req-exp-dump.hex exp-dump send:1 exp 'expectation dump request (conntrack sends AF_INET)'
trace $P exp-flush -F expect
emit req-exp-flush.hex exp-flush send:1 exp 'expectation flush request'
trace $P stats-cpu -S
emit req-ct-stats-cpu.hex stats-cpu send:1 none 'per-CPU statistics request (a dump)'
trace $P stats-global -C
emit req-ct-stats.hex stats-global send:1 none 'global statistics request (conntrack -C)'
trace $P exp-stats -S expect
emit req-exp-stats-cpu.hex exp-stats send:1 none 'per-CPU expectation statistics request'

# ---------------------------------------------------------------------------------------------
# Real traffic through namespace FW (SNAT, FTP helper, zone/mark/label rules, acct + timestamps)
# ---------------------------------------------------------------------------------------------
T="node $TMP/traffic.mjs"
bg ip netns exec "$SRV" $T tcp-server 0.0.0.0 8080
bg ip netns exec "$SRV" $T tcp-server :: 8081
bg ip netns exec "$SRV" $T udp-server 0.0.0.0 5353
bg ip netns exec "$SRV" $T udp-server 0.0.0.0 7777
sleep 1

flush "$FW"
bg ip netns exec "$FW" $T tcp-client 10.0.0.1 40080 10.0.0.2 8080 4000
sleep 1.5
trace "$FW" dump-tcp-snat -L -o id
emit dump-ct-tcp-snat.hex dump-tcp-snat recv:1 ct 'dump reply: real TCP connection 10.0.0.1:40080 -> 10.0.0.2:8080 through an nftables SNAT rule (to 10.0.0.100), acct + timestamps on'
wait "${PIDS[-1]}" || true

flush "$FW"
ip netns exec "$FW" $T udp-client 10.0.0.1 40053 10.0.0.2 5353
trace "$FW" dump-udp -L -o id
emit dump-ct-udp.hex dump-udp recv:1 ct 'dump reply: real UDP exchange 10.0.0.1:40053 <-> 10.0.0.2:5353'

if command -v python3 >/dev/null; then
  flush "$FW"
  ip netns exec "$FW" python3 "$TMP/ping.py" 4 10.0.0.2 19283
  trace "$FW" dump-icmp -L -o id
  emit dump-ct-icmp.hex dump-icmp recv:1 ct 'dump reply: real ICMP echo 10.0.0.1 -> 10.0.0.2, id 19283'
  flush "$FW"
  ip netns exec "$FW" python3 "$TMP/ping.py" 6 fd00::2 4660
  trace "$FW" dump-icmpv6 -L -f ipv6 -o id
  emit dump-ct-icmpv6.hex dump-icmpv6 recv:1 ct 'dump reply: real ICMPv6 echo fd00::1 -> fd00::2, id 4660'
else
  echo "python3 missing: skipping the ICMP echo captures" >&2
fi

flush "$FW"
bg ip netns exec "$FW" $T tcp-client fd00::1 40443 fd00::2 8081 4000
sleep 1.5
trace "$FW" dump-tcp6 -L -f ipv6 -o id
emit dump-ct-ipv6-tcp.hex dump-tcp6 recv:1 ct 'dump reply: real TCP over IPv6 [fd00::1]:40443 -> [fd00::2]:8081'
wait "${PIDS[-1]}" || true

flush "$FW"
ip netns exec "$FW" $T udp-client 10.0.0.1 40077 10.0.0.2 7777
trace "$FW" dump-zone -L -o id,labels
emit dump-ct-zone-mark-label.hex dump-zone recv:1 ct 'dump reply: UDP entry put in zone 7 with mark 0x2a and label 5 by nftables rules'

# Events: NEW, UPDATE and DESTROY of one TCP connection through SNAT (DESTROY forced by conntrack -D).
flush "$FW"
ip netns exec "$FW" $STRACE -o "$TMP/events.strace" timeout -s INT 6 conntrack -E -o id >"$TMP/events.out" 2>/dev/null &
PIDS+=($!)
EVPID=$!
sleep 1
ip netns exec "$FW" $T tcp-client 10.0.0.1 40081 10.0.0.2 8080 300
sleep 0.5
ip netns exec "$FW" conntrack -D -p tcp --sport 40081 >/dev/null 2>&1 || true
wait "$EVPID" || true
printf '%s\n' 'conntrack -E -o id (during a TCP connection through SNAT, then conntrack -D of it)' >"$TMP/events.cmd"
: >"$TMP/events.out"
emit event-ct-new.hex events recv:type=256,flags=1536:1 ct 'NEW event (IPCTNL_MSG_CT_NEW with NLM_F_CREATE|NLM_F_EXCL)'
emit event-ct-update.hex events recv:type=256,flags=0:1 ct 'UPDATE event (IPCTNL_MSG_CT_NEW, no flags)'
emit event-ct-destroy.hex events recv:type=258:1 ct 'DESTROY event (IPCTNL_MSG_CT_DELETE) with counters and timestamps'

# FTP through SNAT with the kernel FTP helper: expectation, its events, master with seqadj, RELATED child.
flush "$FW"
bg ip netns exec "$SRV" $T ftp-server 10.0.0.2 3000 4000
sleep 0.5
ip netns exec "$FW" $STRACE -o "$TMP/expevents.strace" timeout -s INT 9 conntrack -E expect -o id >"$TMP/expevents.out" 2>/dev/null &
PIDS+=($!)
EXPEVPID=$!
sleep 1
bg ip netns exec "$FW" $T ftp-client 10.0.0.1 10.0.0.2 40064 7000
FTPCLI=$!
sleep 1.5
trace "$FW" dump-exp-ftp -L expect -o id
emit dump-exp-ftp.hex dump-exp-ftp recv:1 exp 'expectation dump: made by the FTP helper for PORT 10,0,0,1,156,128 mangled by NAT (CTA_EXPECT_NAT, expectfn)'
trace "$FW" dump-ftp-master -L -o id
emit dump-ct-ftp-master.hex dump-ftp-master recv:1 ct 'dump reply: FTP control connection with helper "ftp", SNAT and sequence adjustment (PORT grew by 2 bytes)'
sleep 2.5
trace "$FW" dump-ftp-related -L -o id
emit dump-ct-ftp-related.hex dump-ftp-related recv:attr=14:1 ct 'dump reply: FTP data connection, RELATED to the control connection (CTA_TUPLE_MASTER)'
wait "$EXPEVPID" || true
printf '%s\n' 'conntrack -E expect -o id (during the FTP session)' >"$TMP/expevents.cmd"
: >"$TMP/expevents.out"
emit event-exp-new.hex expevents recv:type=512,flags=1536:1 exp 'expectation NEW event from the FTP helper'
emit event-exp-destroy.hex expevents recv:type=514:1 exp 'expectation DESTROY event (the data connection arrived)'

# conntrack -I expect against the FTP control connection (it still has its helper).
trace "$FW" create-exp -I expect -s 10.0.0.1 -d 10.0.0.2 -p tcp --sport 40021 --dport 21 --tuple-src 10.0.0.2 --tuple-dst 10.0.0.1 --tuple-port-src 0 --tuple-port-dst 40099 --mask-src 255.255.255.255 --mask-dst 255.255.255.255 --mask-port-src 0 --mask-port-dst 65535 -t 200
emit req-exp-create.hex create-exp send:1 exp 'expectation create request. conntrack 1.4.7 sends the expected tuple with CTA_PROTO_NUM 0x9c (the high byte of --sport 40021) and no ports: its own bug, kept as captured'
trace "$FW" dump-exp-user -L expect -o id
emit dump-exp-userspace.hex dump-exp-user recv:1 exp 'expectation dump: the expectation made by req-ct-create-exp (flags NF_CT_EXPECT_USERSPACE, no NAT)'
wait "$FTPCLI" || true

trace "$FW" stats-cpu -S
emit stats-ct-cpu.hex stats-cpu recv:1 stats 'per-CPU statistics answer for CPU 0 (nfgenmsg res_id = CPU)'
trace "$FW" stats-global -C
emit stats-ct-global.hex stats-global recv:1 global 'global statistics answer: entries and nf_conntrack_max'
trace "$FW" exp-stats -S expect
emit stats-exp-cpu.hex exp-stats recv:1 expstats 'per-CPU expectation statistics answer (sent under subsystem CTNETLINK, message 3)'

echo "done: $(ls "$OUT"/*.hex | wc -l) golden files in $OUT"
