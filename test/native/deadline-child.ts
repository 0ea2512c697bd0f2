// Child of sched.test.ts: puts its own thread under SCHED_DEADLINE (1 ms every 5 ms, the SCHED_FLAG
// bits of argv[2]), then starts a child of its own, and prints "<outcome> <policy> <spawn>": the
// outcome (ok or the errno code), the policy /proc then shows, and the policy of the spawned child
// ("EAGAIN" when the kernel refused the fork).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setThreadDeadline } from '../../src/native/sched.js';
import { ErrnoError } from '../../src/native/socket.js';

let outcome = 'ok';
try {
  setThreadDeadline(0, { runtimeUs: 1000, deadlineUs: 5000, periodUs: 5000, flags: Number(process.argv[2] ?? 0) });
} catch (e) {
  outcome = e instanceof ErrnoError ? e.code : String(e);
}
const policy = (stat: string): string => stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38] ?? '?';
const r = spawnSync('cat', ['/proc/self/stat'], { encoding: 'utf8' });
const spawned = r.error !== undefined ? ((r.error as NodeJS.ErrnoException).code ?? 'error') : policy(r.stdout);
process.stdout.write(`${outcome} ${policy(readFileSync('/proc/thread-self/stat', 'utf8'))} ${spawned}\n`);
