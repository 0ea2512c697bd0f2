/**
 * DAEMON_NODE_FLAGS are the node/V8 flags keepstated's daemon is started with: bin/keepstated.js's
 * `#!` line, packaging/keepstated.service, the `-d` child, the lab and the benchmarks pass them.
 * V8 reads them once, at start: they cannot be set from inside (v8.setFlagsFromString of
 * --single-threaded-gc aborts at the next full collection).
 *
 * --single-threaded-gc: garbage collection on the JS thread alone, no helper threads. The daemon's
 * young objects mostly survive (every new entry is cached), and its JS thread runs at real-time
 * priority (Scheduler, RR 99 by default, as conntrackd) while V8's helper threads do not: a parallel
 * scavenge waits for helpers that may not run, and concurrent marking costs more CPU than it saves
 * on 2 CPUs shared with the kernel's packet and conntrack work. Measured (bench/replication.ts,
 * 100 000-entry batched-create burst, 3 runs): sender 9.8 → 7.4 µs an entry, receiver 6.6 → 4.4;
 * bench/pipeline.ts (no daemon, no real-time priority): ~15 % less on both sides. The failover
 * process runs with --single-threaded for the same kind of reason (src/failover/host.ts).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** missingDaemonFlags are the DAEMON_NODE_FLAGS a process started with `execArgv` lacks. */
export function missingDaemonFlags(execArgv: readonly string[]): string[] {
  return DAEMON_NODE_FLAGS.filter((f) => !execArgv.includes(f));
}
