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
