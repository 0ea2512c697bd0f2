import type { TimerPort } from './router.js';

/** A timer of realTimers: cancelled also between its expiry and its callback. */
interface Pending {
  timeout: ReturnType<typeof setTimeout> | undefined;
  cancelled: boolean;
}

/**
 * realTimers is the TimerPort of a thread's event loop: performance.now() (monotonic) in µs, and
 * setTimeout, whose resolution is a millisecond — so a µs deadline is rounded to the nearest ms
 * (a 60 937.5 µs Skew_Time fires after 61 ms). Run it on a thread nothing else keeps busy.
 *
 * An expired timer's callback runs in the same loop turn but after the I/O phase (setImmediate):
 * libuv runs due timers before it polls the sockets, so an advert already waiting in a socket when
 * the process wakes late would come after Master_Down_Timer's expiry — a backup would take over
 * from a master whose advert it holds, then yield to it at once (seen in the lab when both CPUs
 * were busy with a bulk of 100 000 entries: a failback that never completed). Handled first, that
 * advert restarts the timer, which cancels the expiry.
 */
export const realTimers: TimerPort = {
  nowUs: () => Math.round(performance.now() * 1000),
  set: (us, fn) => {
    const p: Pending = { timeout: undefined, cancelled: false };
    p.timeout = setTimeout(() => {
      p.timeout = undefined;
      setImmediate(() => {
        if (!p.cancelled) fn();
      });
    }, Math.max(0, Math.round(us / 1000)));
    return p;
  },
  clear: (h) => {
    const p = h as Pending | undefined;
    if (p === undefined) return;
    p.cancelled = true;
    if (p.timeout !== undefined) clearTimeout(p.timeout);
  },
};
