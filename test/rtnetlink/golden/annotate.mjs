// annotate.mjs — turns an strace hex dump of iproute2's rtnetlink socket into one annotated golden
// file (test/rtnetlink/golden/*.hex, read by parseAnnotatedHex in src/wire/hex.ts).
// Usage: node annotate.mjs <trace> <send|recv>:<N> <name> <what> <command>   (N is 1-based, fd 3 only)
// The trace comes from capture.sh: strace -f -qq -xx -s 0 -e trace=sendto,sendmsg,recvmsg,recvfrom -e write=3 -e read=3 ip ...
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const [traceFile, pick, name, what, command] = process.argv.slice(2);
const recs = [];
let cur = null;
for (let line of readFileSync(traceFile, 'utf8').split('\n')) {
  line = line.replace(/^\d+ +/, '');
  const m = /^(sendmsg|recvmsg|sendto|recvfrom)\((\d+),.*\)\s+=\s+\d+$/.exec(line);
  if (m) {
    cur = line.includes('MSG_PEEK') ? null : { dir: m[1].startsWith('send') ? 'send' : 'recv', fd: Number(m[2]), bytes: [] };
    if (cur) recs.push(cur);
    continue;
  }
  if (cur && /^ \| [0-9a-f]{5}  /.test(line)) for (const h of line.slice(10, 59).trim().split(/\s+/)) if (h) cur.bytes.push(parseInt(h, 16));
}
const le16 = (b, o) => b[o] | (b[o + 1] << 8);
const le32 = (b, o) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const msgs = [];
for (const r of recs.filter((x) => x.fd === 3)) {
  for (let o = 0; o + 16 <= r.bytes.length; ) {
    const len = le32(r.bytes, o);
    if (len < 16 || o + len > r.bytes.length) break;
    msgs.push({ dir: r.dir, bytes: r.bytes.slice(o, o + ((len + 3) & ~3)).slice(0, Math.min(r.bytes.length - o, (len + 3) & ~3)), len });
    o += (len + 3) & ~3;
  }
}
// pick: send:N | recv:N | event:N (recv with nlmsg_seq 0: a multicast notification)
const [dir, nStr] = pick.split(':');
const isEvent = (m) => m.dir === 'recv' && le32(m.bytes, 8) === 0;
const msg = msgs.filter((m) => (dir === 'event' ? isEvent(m) : m.dir === dir))[Number(nStr) - 1];
if (!msg) throw new Error(`no message ${pick} in ${traceFile}`);
const b = msg.bytes.slice(0, msg.len);

const hex = (a) => a.map((x) => x.toString(16).padStart(2, '0')).join('');
const out = [];
const line = (bytes, note, ind = '') => out.push(`${(ind + hex(bytes)).padEnd(44)} # ${note}`);
const IFA = { 1: 'IFA_ADDRESS', 2: 'IFA_LOCAL', 3: 'IFA_LABEL', 4: 'IFA_BROADCAST', 5: 'IFA_ANYCAST', 6: 'IFA_CACHEINFO', 7: 'IFA_MULTICAST', 8: 'IFA_FLAGS', 9: 'IFA_RT_PRIORITY', 10: 'IFA_TARGET_NETNSID', 11: 'IFA_PROTO' };
const IFLA = { 1: 'IFLA_ADDRESS', 2: 'IFLA_BROADCAST', 3: 'IFLA_IFNAME', 4: 'IFLA_MTU', 5: 'IFLA_LINK', 6: 'IFLA_QDISC', 7: 'IFLA_STATS', 10: 'IFLA_MASTER', 13: 'IFLA_TXQLEN', 14: 'IFLA_MAP', 16: 'IFLA_OPERSTATE', 17: 'IFLA_LINKMODE', 18: 'IFLA_LINKINFO', 23: 'IFLA_STATS64', 26: 'IFLA_AF_SPEC', 27: 'IFLA_GROUP', 29: 'IFLA_EXT_MASK', 30: 'IFLA_PROMISCUITY', 31: 'IFLA_NUM_TX_QUEUES', 32: 'IFLA_NUM_RX_QUEUES', 33: 'IFLA_CARRIER', 35: 'IFLA_CARRIER_CHANGES', 39: 'IFLA_PROTO_DOWN', 40: 'IFLA_GSO_MAX_SEGS', 41: 'IFLA_GSO_MAX_SIZE', 43: 'IFLA_XDP', 47: 'IFLA_CARRIER_UP_COUNT', 48: 'IFLA_CARRIER_DOWN_COUNT', 50: 'IFLA_MIN_MTU', 51: 'IFLA_MAX_MTU', 52: 'IFLA_PROP_LIST', 54: 'IFLA_PERM_ADDRESS', 58: 'IFLA_GRO_MAX_SIZE', 59: 'IFLA_TSO_MAX_SIZE', 60: 'IFLA_TSO_MAX_SEGS', 61: 'IFLA_ALLMULTI', 63: 'IFLA_GSO_IPV4_MAX_SIZE', 64: 'IFLA_GRO_IPV4_MAX_SIZE', 66: 'IFLA_MAX_PACING_OFFLOAD_HORIZON', 67: 'IFLA_NETNS_IMMUTABLE', 68: 'IFLA_HEADROOM', 69: 'IFLA_TAILROOM' };
const INFO = { 1: 'IFLA_INFO_KIND', 2: 'IFLA_INFO_DATA', 3: 'IFLA_INFO_XSTATS', 4: 'IFLA_INFO_SLAVE_KIND', 5: 'IFLA_INFO_SLAVE_DATA' };
const MACVLAN = { 1: 'IFLA_MACVLAN_MODE', 2: 'IFLA_MACVLAN_FLAGS' };
const NLMSGERR = { 1: 'NLMSGERR_ATTR_MSG', 2: 'NLMSGERR_ATTR_OFFS' };
function attrs(o, end, names, ind, nest) {
  while (o + 4 <= end) {
    const len = le16(b, o), type = le16(b, o + 2), t = type & 0x3fff;
    const nm = names[t] ?? `attr ${t}`;
    const pl = b.slice(o + 4, o + len);
    const isStr = /IFNAME|LABEL|QDISC|KIND|MSG$/.test(nm);
    const sub = nest[t];
    if (sub) {
      line(b.slice(o, o + 4), `${nm}${type & 0x8000 ? ' NESTED' : ''}, nla_len ${len}`, ind);
      attrs(o + 4, o + len, sub.names, ind + '  ', sub.nest ?? {});
    } else {
      const note = isStr ? `${nm} = "${Buffer.from(pl).toString('latin1').replace(/\0+$/, '')}"` : `${nm}, nla_len ${len}`;
      line(b.slice(o, o + 4), note, ind);
      for (let i = 0; i < pl.length; i += 16) line(pl.slice(i, i + 16), i === 0 ? `  payload` : '  …', ind + '  ');
    }
    const padEnd = Math.min(end, o + ((len + 3) & ~3));
    if (padEnd > o + len) line(b.slice(o + len, padEnd), 'padding', ind);
    o = padEnd;
  }
}
const type = le16(b, 4);
line(b.slice(0, 4), `nlmsg_len = ${le32(b, 0)}`);
line(b.slice(4, 6), `nlmsg_type = ${type}`);
line(b.slice(6, 8), `nlmsg_flags = 0x${le16(b, 6).toString(16).padStart(4, '0')}`);
line(b.slice(8, 12), 'nlmsg_seq');
line(b.slice(12, 16), 'nlmsg_pid');
if (type === 2) {
  line(b.slice(16, 20), `nlmsgerr.error = ${(le32(b, 16) | 0)}`);
  const capped = (le16(b, 6) & 0x100) !== 0;
  const reqLen = capped ? 16 : le32(b, 20);
  line(b.slice(20, 36), 'nlmsgerr.msg: the request\'s nlmsghdr');
  for (let i = 36; i < 20 + reqLen; i += 16) line(b.slice(i, Math.min(20 + reqLen, i + 16)), "  the request's body (no NLM_F_CAPPED: echoed whole)");
  attrs(20 + ((reqLen + 3) & ~3), b.length, NLMSGERR, '', {});
} else if (type >= 20 && type <= 23) {
  line(b.slice(16, 20), `ifaddrmsg: family ${b[16]}, prefixlen ${b[17]}, flags 0x${b[18].toString(16)}, scope ${b[19]}`);
  line(b.slice(20, 24), `ifa_index = ${le32(b, 20)}`);
  attrs(24, b.length, IFA, '', {});
} else if (type >= 16 && type <= 19) {
  line(b.slice(16, 20), `ifinfomsg: family ${b[16]}, pad, ifi_type ${le16(b, 18)}`);
  line(b.slice(20, 24), `ifi_index = ${le32(b, 20)}`);
  line(b.slice(24, 28), `ifi_flags = 0x${le32(b, 24).toString(16)}`);
  line(b.slice(28, 32), `ifi_change = 0x${le32(b, 28).toString(16)}`);
  attrs(32, b.length, IFLA, '', { 18: { names: INFO, nest: { 2: { names: MACVLAN } } } });
}
const tail = msg.bytes.slice(msg.len);
if (tail.length) line(tail, 'padding');
const kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
const ipv = execFileSync('ip', ['-V'], { encoding: 'utf8' }).trim();
console.log(`# keepstate golden capture: ${name} (regenerate with test/rtnetlink/golden/capture.sh)
# what: ${what}
# command: ${command}
# capture: strace -f -qq -xx -s 0 -e trace=sendto,sendmsg,recvmsg,recvfrom -e write=3 -e read=3 (iproute2's rtnl socket is fd 3)
# kernel: ${kernel}
# iproute2: ${ipv}
# message: ${pick} of the trace (${dir === 'send' ? 'ip -> kernel' : dir === 'event' ? 'kernel -> ip, multicast' : 'kernel -> ip'})
${out.join('\n')}`);
