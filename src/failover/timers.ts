import type { TimerPort } from './router.js';

/**
 * realTimers is the TimerPort of a thread's event loop: performance.now() (monotonic) in µs, and
 * setTimeout, whose resolution is a millisecond — so a µs deadline is rounded to the nearest ms
 * (a 60 937.5 µs Skew_Time fires after 61 ms). Run it on a thread nothing else keeps busy.
 */
export const realTimers: TimerPort = {
  nowUs: () => Math.round(performance.now() * 1000),
  set: (us, fn) => setTimeout(fn, Math.max(0, Math.round(us / 1000))),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
