// Bench worker: N one-packet UDP flows from this namespace (the client) through the firewall, each
// to its own destination (flowDest), as fast as the socket takes them; prints "sent <n> in <ms> ms".
// Run inside the client namespace: node flows.js N [firstAddr]
import { ErrnoError, AF, inet4Sockaddr, NativeSocket, SOCK } from '../src/native/socket.js';

const PORTS_PER_ADDR = 60_000;

/** flowDest is flow i's destination: 10.235.<firstAddr + i / 60000>.1, port 1024 + i % 60000. */
export function flowDest(i: number, firstAddr = 0): { addr: string; port: number } {
  return { addr: `10.235.${firstAddr + Math.floor(i / PORTS_PER_ADDR)}.1`, port: 1024 + (i % PORTS_PER_ADDR) };
}

/** FLOW_PAYLOAD is what each flow's one datagram carries. */
export const FLOW_PAYLOAD = new Uint8Array(16);

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100_000);
  const firstAddr = Number(process.argv[3] ?? 0);
  const sock = NativeSocket.open(AF.INET, SOCK.DGRAM, 0);
  sock.bind(inet4Sockaddr('0.0.0.0', 40_000));
  const t0 = process.hrtime.bigint();
  let waits = 0;
  for (let i = 0; i < n; i++) {
    const d = flowDest(i, firstAddr);
    for (;;) {
      try {
        sock.send(FLOW_PAYLOAD, inet4Sockaddr(d.addr, d.port));
        break;
      } catch (e) {
        if (!(e instanceof ErrnoError) || (e.code !== 'EAGAIN' && e.code !== 'ENOBUFS')) throw e;
        waits++;
        await new Promise((r) => setImmediate(r)); // send buffer full: let the stack drain it
      }
    }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  sock.close();
  console.log(`sent ${n} in ${ms.toFixed(1)} ms (${waits} waits)`);
}

if (process.argv[1]?.endsWith('flows.js')) await main();
