/**
 * DAEMON_NODE_FLAGS are the node/V8 flags keepstated's daemon is started with: bin/keepstated.js's
 * `#!` line, packaging/keepstated.service, the `-d` child, the lab and the benchmarks pass them.
 * V8 reads them once, at start: they cannot be set from inside (v8.setFlagsFromString of
 * --single-threaded-gc aborts at the next full collection).
 *
 * --single-threaded-gc: garbage collection on the JS thread alone, no helper threads. When these
 * were measured the daemon's young objects mostly survived (every new entry had an object in the
 * cache; since the caches keep records alone, they mostly die young — not measured again), and its JS thread runs at real-time
 * priority (Scheduler, RR 99 by default, as conntrackd) while V8's helper threads do not: a parallel
 * scavenge waits for helpers that may not run, and concurrent marking costs more CPU than it saves
 * on 2 CPUs shared with the kernel's packet and conntrack work. Measured (bench/replication.ts,
 * 100 000-entry batched-create burst, 3 runs): sender 9.8 → 7.4 µs an entry, receiver 6.6 → 4.4;
 * bench/pipeline.ts (no daemon, no real-time priority): ~15 % less on both sides. The failover
 * process runs with --single-threaded for the same kind of reason (src/failover/host.ts).
 *
 * --max-semi-space-size=4 (MiB; V8's default grows to 16): every young collection now pauses the
 * JS thread, for as long as it takes to copy what survives, which is nearly all of the young
 * generation. With 16 MiB the pauses let a 2 MiB event socket buffer (NetlinkBufferSize of the
 * upstream example) overrun in 2 of 3 bursts of 100 000; with 4 MiB in none of 3, and the CPU per
 * entry did not grow (same benchmark: second burst 1.03× conntrackd's sender, 1.02× receiver).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--single-threaded-gc', '--max-semi-space-size=4'];

/** missingDaemonFlags are the DAEMON_NODE_FLAGS a process started with `execArgv` lacks (by name: a value of its own is kept). */
export function missingDaemonFlags(execArgv: readonly string[]): string[] {
  const name = (f: string): string => f.split('=')[0]!.replaceAll('_', '-');
  const given = new Set(execArgv.map(name));
  return DAEMON_NODE_FLAGS.filter((f) => !given.has(name(f)));
}
