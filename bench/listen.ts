// Bench worker: subscribes to NEW events with the default buffer we ship, prints "ready", counts
// NEW events until it has N (or the guard expires), then prints one JSON line of results.
import { DEFAULT_EVENT_RCVBUF, subscribe } from '../src/ctnetlink/events.js';

const n = Number(process.argv[2] ?? 100_000);
const guardMs = Number(process.argv[3] ?? 60_000);
const stream = subscribe({ groups: ['new'] });
let received = 0;
let overruns = 0;
let first = 0n;
let last = 0n;
const guard = setTimeout(() => stream.close(), guardMs);
console.log('ready');
for await (const b of stream) {
  if (b.kind === 'overrun') {
    overruns++;
    continue;
  }
  if (first === 0n) first = process.hrtime.bigint();
  received += b.events.length;
  last = process.hrtime.bigint();
  if (received >= n) break;
}
clearTimeout(guard);
stream.close();
console.log(
  JSON.stringify({
    received,
    overruns,
    spanMs: Number(last - first) / 1e6,
    rcvbufRequested: DEFAULT_EVENT_RCVBUF,
    maxRssKiB: process.resourceUsage().maxRSS,
  }),
);
