// Micro-benchmark for the ctnetlink decoder (not a test): µs per decodeConntrack on a captured
// kernel TCP entry with SNAT, counters and timestamps (test/golden/dump-ct-tcp-snat.hex), and the
// time to split and decode a 100 000-entry dump held in memory (no socket).
// Usage: node scripts/bench-decode.mjs [compiled-dir]   (default: dist; run `npm run build` first)
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const dist = resolve(root, process.argv[2] ?? 'dist');
const { parseAnnotatedHex } = await import(join(dist, 'src/wire/hex.js'));
const { decodeMessages } = await import(join(dist, 'src/netlink/message.js'));
const { decodeConntrack, encodeConntrack } = await import(join(dist, 'src/ctnetlink/conntrack.js'));

const raw = parseAnnotatedHex(readFileSync(join(root, 'test/golden/dump-ct-tcp-snat.hex'), 'utf8'));
const [msg] = decodeMessages(raw);
const payload = msg.payload;

function bench(label, n, fn) {
  fn(Math.min(n, 20000)); // warm-up
  const t0 = process.hrtime.bigint();
  fn(n);
  const ns = Number(process.hrtime.bigint() - t0);
  console.log(`${label}: ${(ns / 1e6).toFixed(1)} ms total, ${(ns / n / 1000).toFixed(3)} µs each (n=${n})`);
}

let sink = 0;
bench('decodeConntrack (TCP + SNAT + acct + timestamp)', 1_000_000, (n) => {
  for (let i = 0; i < n; i++) sink += decodeConntrack(payload).id ?? 0;
});

// A 100k-entry dump: the same entry with distinct source ports, framed as kernel messages
// (multipart, several messages per 32 KiB "datagram", like the kernel's dump batches).
const base = decodeConntrack(payload);
const entries = [];
for (let i = 0; i < 100_000; i++) {
  const port = 1024 + (i % 60000);
  entries.push(encodeConntrack({ ...base, orig: { ...base.orig, srcPort: port }, reply: { ...base.reply, dstPort: port }, id: i }));
}
const datagrams = [];
let cur = [];
let curLen = 0;
const flush = () => {
  const buf = new Uint8Array(curLen);
  let o = 0;
  for (const p of cur) {
    const dv = new DataView(buf.buffer, o);
    dv.setUint32(0, 16 + p.length, true);
    dv.setUint16(4, 0x0100, true);
    dv.setUint16(6, 0x0002, true);
    buf.set(p, o + 16);
    o += 16 + ((p.length + 3) & ~3);
  }
  datagrams.push(buf);
  cur = [];
  curLen = 0;
};
for (const p of entries) {
  const len = 16 + ((p.length + 3) & ~3);
  if (curLen + len > 32768) flush();
  cur.push(p);
  curLen += len;
}
flush();

for (let round = 0; round < 5; round++) {
  const t0 = process.hrtime.bigint();
  let count = 0;
  for (const d of datagrams) {
    for (const m of decodeMessages(d)) {
      sink += decodeConntrack(m.payload).timeout ?? 0;
      count++;
    }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`split + decode of a ${count}-entry dump (${datagrams.length} datagrams): ${ms.toFixed(1)} ms`);
}
if (sink === -1) console.log(sink);
