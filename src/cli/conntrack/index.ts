import { readFileSync } from 'node:fs';
import { INVOCATION } from './errors.js';
import { loadLabelMap } from './labels.js';
import { FdSink } from './output.js';
import { runConntrack, type RunIo } from './run.js';

/**
 * conntrackMain runs `keepstate conntrack <args>` against the running kernel and returns the exit
 * status. The kernel client and the event socket are imported on first use, so `-h`, `-V` and
 * argument errors never load the native addon.
 */
export async function conntrackMain(args: readonly string[]): Promise<number> {
  const sink = new FdSink();
  const kernelMod = import('./kernel.js');
  // The import is awaited only where a kernel is needed; keep its rejection from going unhandled.
  kernelMod.catch(() => undefined);
  let kernel: typeof import('./kernel.js') | undefined;
  let events: typeof import('../../ctnetlink/events.js') | undefined;
  let progname: typeof import('./progname.js') | undefined;
  // Resolve the kernel-side modules before the run unless the command is only -h/-V (their
  // argument checks print the same either way).
  const needsKernel = !args.every((a) => /^(-h|--help|-V|--version|--h.*|--v.*)$/.test(a));
  if (needsKernel) [kernel, events, progname] = await Promise.all([kernelMod, import('../../ctnetlink/events.js'), import('./progname.js')]);
  const stopHandlers = new Set<() => void>();
  const onSignal = (): void => {
    for (const h of stopHandlers) h();
  };
  const io: RunIo = {
    sink,
    argv0: INVOCATION,
    parse: {
      stderr: (s) => sink.err(s),
      loadLabels: () => loadLabelMap(),
      protocols: () => readFileSync('/etc/protocols', 'latin1'),
      env: process.env,
    },
    openKernel: () => {
      if (kernel === undefined) throw new Error('kernel module not loaded');
      return kernel.ClientKernel.open();
    },
    subscribe: (groups, rcvbufBytes) => {
      if (events === undefined) throw new Error('events module not loaded');
      // conntrack(8) leaves net.netfilter.nf_conntrack_events alone, and so does -E.
      return events.subscribe({ groups, enableEvents: false, ...(rcvbufBytes !== undefined ? { rcvbufBytes } : {}) });
    },
    onStop: (h) => {
      if (stopHandlers.size === 0) {
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      }
      stopHandlers.add(h);
      return () => {
        stopHandlers.delete(h);
        if (stopHandlers.size === 0) {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      };
    },
    nowMs: () => performance.timeOrigin + performance.now(),
    readFile: (p) => readFileSync(p, 'latin1'),
    progname: (pid) => progname?.progname(pid),
  };
  return runConntrack(args, io);
}
