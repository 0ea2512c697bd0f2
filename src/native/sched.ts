import { nativeBinding, NativeUnavailableError } from './binding.js';
import { toErrnoError } from './socket.js';

/** SCHED holds the SCHED_* scheduling policies of include/uapi/linux/sched.h. */
export const SCHED = { OTHER: 0, FIFO: 1, RR: 2 } as const;

/** SchedPolicy is one of the SCHED values. */
export type SchedPolicy = (typeof SCHED)[keyof typeof SCHED];

/**
 * setThreadScheduler calls sched_setscheduler(2) for one thread: `tid` 0 is the calling (JS) thread,
 * any other value a thread id of this process (a /proc/self/task entry). `priority` is 1..99 for FIFO
 * and RR, 0 for OTHER. Throws ErrnoError (EPERM without CAP_SYS_NICE or a large enough RLIMIT_RTPRIO,
 * EINVAL for a priority the policy refuses, ESRCH for a thread that is gone), or
 * NativeUnavailableError when the addon is missing or was built without this function.
 */
export function setThreadScheduler(tid: number, policy: SchedPolicy, priority: number): void {
  if (!Number.isInteger(tid) || tid < 0 || tid > 0x7fffffff) throw new RangeError(`bad thread id: ${tid}`);
  if (!Number.isInteger(priority) || priority < 0 || priority > 99) throw new RangeError(`scheduler priority must be an integer in 0..99, got ${priority}`);
  const fn = nativeBinding().schedSetScheduler;
  if (fn === undefined)
    throw new NativeUnavailableError("keepstate's native addon predates schedSetScheduler: run `npm install` (scripts/build-native.mjs) to rebuild it.");
  try {
    fn(tid, policy, priority);
  } catch (e) {
    throw toErrnoError(e);
  }
}

/** SCHED_FLAG_* of include/uapi/linux/sched.h that setThreadDeadline may pass. */
export const SCHED_FLAG = { RESET_ON_FORK: 0x01, RECLAIM: 0x02 } as const;

/** DeadlineReservation is a SCHED_DEADLINE reservation: `runtimeUs` of CPU in every `periodUs`, used by `deadlineUs` after each period's start. */
export interface DeadlineReservation {
  readonly runtimeUs: number;
  readonly deadlineUs: number;
  readonly periodUs: number;
  /** SCHED_FLAG bits, or-ed. */
  readonly flags: number;
}

/**
 * setThreadDeadline puts one thread (`tid` 0: the calling one) under SCHED_DEADLINE with
 * sched_setattr(2). A deadline thread runs before every real-time (FIFO/RR) thread and is not
 * stopped by the real-time throttling or the fair server that stop those. Throws RangeError
 * unless 0 < runtime ≤ deadline ≤ period, ErrnoError (EPERM without CAP_SYS_NICE or when the
 * thread's CPU affinity is not its whole root domain, EBUSY when admission control refuses the
 * bandwidth), or NativeUnavailableError for an addon that predates it.
 */
export function setThreadDeadline(tid: number, r: DeadlineReservation): void {
  if (!Number.isInteger(tid) || tid < 0 || tid > 0x7fffffff) throw new RangeError(`bad thread id: ${tid}`);
  const us = [r.runtimeUs, r.deadlineUs, r.periodUs];
  if (!us.every((v) => Number.isInteger(v) && v > 0 && v <= 0x7fffffff) || r.runtimeUs > r.deadlineUs || r.deadlineUs > r.periodUs)
    throw new RangeError(`SCHED_DEADLINE needs 0 < runtime <= deadline <= period (µs), got ${us.join(' / ')}`);
  if (!Number.isInteger(r.flags) || r.flags < 0 || r.flags > 0xff) throw new RangeError(`bad SCHED_FLAG bits: ${r.flags}`);
  const fn = nativeBinding().schedSetDeadline;
  if (fn === undefined)
    throw new NativeUnavailableError("keepstate's native addon predates schedSetDeadline: run `npm install` (scripts/build-native.mjs) to rebuild it.");
  try {
    fn(tid, r.runtimeUs, r.deadlineUs, r.periodUs, r.flags);
  } catch (e) {
    throw toErrnoError(e);
  }
}
