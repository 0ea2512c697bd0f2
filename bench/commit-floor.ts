// Benchmark: what 100 000 NAT'd ctnetlink creates cost the kernel, and what each way of sending
// them adds — the floor under `-c` (issue 3 item 9 asks commit ≤ 0.5× conntrackd's time).
//   node dist/bench/commit-floor.js [--entries 100000] [--runs 5] [--per-send 256]
// In a namespace of its own, per run and variant, into an empty table:
//   conntrack  `conntrack -I` style requests sent by ConntrackClient.create (async, ACK per send)
//   committer  keepstated's commit path: bodies written into framed requests on this thread, sent
//              by the commit thread (src/daemon/committer.ts, src/netlink/batch-sender.ts)
//   sync       the same request bytes, pre-framed; sendmsg of --per-send messages, then the replies
//              read straight away (the kernel has handled a netlink sendmsg when the call returns)
//   restore    `conntrack -R` of the same entries (conntrack-tools 1.4.7: one create and its ACK
//              at a time)
// Prints medians and ranges; nothing is written to RESULTS.md by this one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConntrackClient } from '../src/ctnetlink/client.js';
import { IPPROTO, IPS } from '../src/ctnetlink/consts.js';
import { ctCreate } from '../src/ctnetlink/requests.js';
import type { Conntrack } from '../src/ctnetlink/types.js';
import { NativeSocket, netlinkSockaddr, AF, SOCK } from '../src/native/socket.js';
import { NLM_F, NLMSG } from '../src/netlink/consts.js';
import { HOST_LITTLE_ENDIAN } from '../src/wire/byte-order.js';
import { Committer } from '../src/daemon/committer.js';
import type { Writer } from '../src/wire/writer.js';
import { Netns } from '../lab/netns.js';
import { checkArgs, numberOption, range } from './report.js';

const args = process.argv.slice(2);
checkArgs(args, ['entries', 'runs', 'per-send', 'events'], 'usage: node dist/bench/commit-floor.js [--entries 100000] [--runs 5] [--per-send 256] [--events 0|1|2]\n');
const N = numberOption(args, 'entries', 100_000);
const RUNS = numberOption(args, 'runs', 5);
const PER_SEND = numberOption(args, 'per-send', 256);
const EVENTS = numberOption(args, 'events', 1); // net.netfilter.nf_conntrack_events, as keepstated's nodes run

/** entry i: an established TCP connection 10.1.x.y:port → 198.51.100.1:443, SNAT'd to 192.0.2.z:port. */
function entry(i: number): Conntrack {
  const src = `10.1.${(i >> 8) & 255}.${i & 255}`;
  const sport = 1024 + (i >> 16);
  const nport = 1024 + (i % 60_000);
  const natIp = `192.0.2.${1 + Math.floor(i / 60_000)}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '198.51.100.1', proto: IPPROTO.TCP, srcPort: sport, dstPort: 443 },
    reply: { family: 'ipv4', src: '198.51.100.1', dst: src, proto: IPPROTO.TCP, srcPort: 443, dstPort: sport },
    status: IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED,
    timeout: 432_000,
    protoinfo: { tcp: { state: 3, flagsOrig: { flags: 0x08, mask: 0x08 }, flagsReply: { flags: 0x08, mask: 0x08 } } },
    natSrc: { minIp: natIp, maxIp: natIp, minPort: nport, maxPort: nport },
  };
}

/** restoreLine is entry i as a `conntrack -R` line (conntrack -I's options). */
function restoreLine(ct: Conntrack): string {
  const o = ct.orig!;
  const nat = ct.natSrc!;
  return `-I -p tcp -s ${o.src} -d ${o.dst} --sport ${o.srcPort} --dport ${o.dstPort} --state ESTABLISHED -t 432000 -u SEEN_REPLY,ASSURED --src-nat ${nat.minIp}:${nat.minPort}`;
}

/** frame writes every request as a netlink message, NLM_F_ACK on the last of each send. */
function frame(reqs: readonly { type: number; flags: number; body: Uint8Array }[], perSend: number): { buf: Uint8Array; ends: number[] } {
  const total = reqs.reduce((s, r) => s + 16 + ((r.body.length + 3) & ~3), 0);
  const buf = new Uint8Array(total);
  const dv = new DataView(buf.buffer);
  const ends: number[] = [];
  let o = 0;
  reqs.forEach((r, i) => {
    const last = (i + 1) % perSend === 0 || i === reqs.length - 1;
    dv.setUint32(o, 16 + r.body.length, HOST_LITTLE_ENDIAN);
    dv.setUint16(o + 4, r.type, HOST_LITTLE_ENDIAN);
    dv.setUint16(o + 6, r.flags | NLM_F.REQUEST | (last ? NLM_F.ACK : 0), HOST_LITTLE_ENDIAN);
    dv.setUint32(o + 8, i + 1, HOST_LITTLE_ENDIAN);
    buf.set(r.body, o + 16);
    o += 16 + ((r.body.length + 3) & ~3);
    if (last) ends.push(o);
  });
  return { buf, ends };
}

/** sendSync sends the framed batches and reads each one's replies at once; returns the error count. */
async function sendSync(netns: string, f: { buf: Uint8Array; ends: number[] }): Promise<number> {
  const sock = NativeSocket.open(AF.NETLINK, SOCK.RAW, 12, { netns });
  try {
    sock.bind(netlinkSockaddr(0, 0));
    let errors = 0;
    let start = 0;
    for (const end of f.ends) {
      sock.send(f.buf.subarray(start, end));
      start = end;
      for (let acked = false; !acked; ) {
        const d = sock.recvSync(65536);
        if (d === null) {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
        for (let o = 0; o + 16 <= d.length; ) {
          const len = dv.getUint32(o, HOST_LITTLE_ENDIAN);
          if (dv.getUint16(o + 4, HOST_LITTLE_ENDIAN) === NLMSG.ERROR) {
            if (dv.getInt32(o + 16, HOST_LITTLE_ENDIAN) !== 0) errors++;
            else acked = true;
          }
          o += (len + 3) & ~3;
        }
      }
    }
    return errors;
  } finally {
    sock.close();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const ns = Netns.create('cfloor');
  const cleanups: (() => void)[] = [() => ns.close()];
  const onSignal = (): void => {
    for (const c of cleanups) c();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  try {
    ns.sysctl('net.netfilter.nf_conntrack_events', EVENTS);
    const cts = Array.from({ length: N }, (_, i) => entry(i));
    const reqs = cts.map(ctCreate);
    const framed = frame(reqs, PER_SEND);
    const dir = mkdtempSync(join(tmpdir(), 'ks-cfloor-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const saveFile = join(dir, 'entries.save');
    writeFileSync(saveFile, cts.map(restoreLine).join('\n') + '\n');
    const client = ConntrackClient.open({ netns: ns.name });
    const times: Record<string, number[]> = { conntrack: [], committer: [], sync: [], restore: [] };
    const committer = await Committer.start(ns.name);
    cleanups.unshift(() => void committer.close());
    const payloads = reqs.map((r) => r.body);
    const flush = async (): Promise<void> => {
      await client.flush();
      const left = (await client.count()).entries;
      if (left !== 0) throw new Error(`table not empty after flush: ${left}`);
    };
    const check = async (label: string): Promise<void> => {
      const n = (await client.count()).entries;
      if (n !== N) throw new Error(`${label}: ${n} entries in the table, want ${N}`);
    };
    for (let run = 0; run < RUNS; run++) {
      await flush();
      let t0 = performance.now();
      const results = await client.create(cts);
      times.conntrack!.push(performance.now() - t0);
      const bad = results.find((r) => !r.ok);
      if (bad !== undefined && !bad.ok) throw new Error(`conntrack: a create failed: ${bad.error.message}`);
      await check('conntrack');


      await flush();
      t0 = performance.now();
      const cf = await committer.run('create', payloads.map((p) => (w: Writer) => void w.bytes(p)));
      times.committer!.push(performance.now() - t0);
      if (cf.length !== 0) throw new Error(`committer: ${cf.length} creates failed`);
      await check('committer');

      await flush();
      t0 = performance.now();
      const errors = await sendSync(ns.name, framed);
      times.sync!.push(performance.now() - t0);
      if (errors !== 0) throw new Error(`sync: ${errors} creates failed`);
      await check('sync');

      await flush();
      t0 = performance.now();
      const r = spawnSync('ip', ['netns', 'exec', ns.name, 'conntrack', '-R', saveFile], { encoding: 'utf8' });
      times.restore!.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`conntrack -R: ${r.stderr}`);
      await check('restore');
    }
    client.close();
    for (const [k, v] of Object.entries(times)) {
      console.log(`${k.padEnd(10)} ${N} creates: median ${median(v).toFixed(0)} ms, range ${range(v, 0)} ms, ${((median(v) * 1000) / N).toFixed(2)} µs/entry`);
    }
  } finally {
    for (const c of cleanups) c();
  }
}

await main();
