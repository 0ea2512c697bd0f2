// Child of sched.test.ts: asks for SCHED_RR 10 on its own thread and prints the outcome and what
// /proc then says: "ok <policy> <rt_priority>" or "<errno code> <policy> <rt_priority>".
import { readFileSync } from 'node:fs';
import { SCHED, setThreadScheduler } from '../../src/native/sched.js';
import { ErrnoError } from '../../src/native/socket.js';

let outcome = 'ok';
try {
  setThreadScheduler(0, SCHED.RR, 10);
} catch (e) {
  outcome = e instanceof ErrnoError ? e.code : String(e);
}
const stat = readFileSync('/proc/thread-self/stat', 'utf8');
const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
process.stdout.write(`${outcome} ${f[38]} ${f[37]}\n`);
