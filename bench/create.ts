// Bench worker: creates N TCP entries in this process's namespace with the batched client, as fast
// as it can, and prints "created <ok> in <ms> ms". Run inside a namespace: node create.js N [offset]
import { ConntrackClient } from '../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../src/ctnetlink/consts.js';
import type { Conntrack } from '../src/ctnetlink/types.js';

/** benchEntry is entry i of the benchmark table: the same addresses and ports as bench/restore lines. */
export function benchEntry(i: number): Conntrack {
  const src = `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`;
  const sport = 1024 + (i % 50_000);
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '172.16.0.1', proto: IPPROTO.TCP, srcPort: sport, dstPort: 80 },
    reply: { family: 'ipv4', src: '172.16.0.1', dst: src, proto: IPPROTO.TCP, srcPort: 80, dstPort: sport },
    status: IPS.ASSURED | IPS.SEEN_REPLY,
    timeout: 600,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}

/** restoreLine is entry i in `conntrack -R` syntax. */
export function restoreLine(i: number): string {
  const e = benchEntry(i);
  return `-I -s ${e.orig!.src} -d 172.16.0.1 -p tcp --sport ${e.orig!.srcPort} --dport 80 --state ESTABLISHED -t 600 -u ASSURED,SEEN_REPLY`;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100_000);
  const offset = Number(process.argv[3] ?? 0);
  const entries = Array.from({ length: n }, (_, i) => benchEntry(offset + i));
  const client = ConntrackClient.open();
  const t0 = process.hrtime.bigint();
  const results = await client.create(entries);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  client.close();
  const ok = results.filter((r) => r.ok).length;
  console.log(`created ${ok} in ${ms.toFixed(1)} ms`);
  if (ok !== n) process.exitCode = 1;
}

if (process.argv[1]?.endsWith('create.js')) await main();
