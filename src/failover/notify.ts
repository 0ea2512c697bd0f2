import { spawn } from 'node:child_process';
import { openSync, writeSync, closeSync, constants } from 'node:fs';
import type { NotifyFifo, Notifies, ScriptCommand } from '../config/keepalived/types.js';
import type { NotifyState } from '../vrrp/fsm.js';

/**
 * Notifications after a state change, as keepalived makes them (keepalived.conf(5), notify.c):
 * the state's own script (notify_master …) with its arguments, then the generic `notify` script
 * with "INSTANCE"|"GROUP", the name, the state and the priority appended, and a line
 * `INSTANCE "name" STATE priority` on the notify FIFO. Scripts run detached and are not waited
 * for: they are never in the takeover's path (the takeover is done when they start).
 */

/** NotifyLog receives what happened to a script (exit status, spawn errors). */
export type NotifyLog = (level: 'info' | 'warning', message: string) => void;

/** fifoLine is the notify FIFO line keepalived writes for a state change. */
export function fifoLine(kind: 'INSTANCE' | 'GROUP', name: string, state: NotifyState, priority: number): string {
  return `${kind} "${name}" ${state} ${priority}\n`;
}

/** scriptFor picks the script a state runs (notify_master, notify_backup, notify_fault, notify_stop). */
function scriptFor(n: Notifies, state: NotifyState): ScriptCommand | undefined {
  switch (state) {
    case 'MASTER':
      return n.master;
    case 'BACKUP':
      return n.backup;
    case 'FAULT':
      return n.fault;
    case 'STOP':
      return n.stop;
  }
}

/** Notifier runs the notify scripts and writes the FIFO lines of instances and groups. */
export class Notifier {
  constructor(
    private readonly log: NotifyLog,
    private readonly fifos: readonly NotifyFifo[] = [],
  ) {}

  /** notify runs what `n` configures for `state` of instance or group `name`. */
  notify(kind: 'INSTANCE' | 'GROUP', name: string, n: Notifies, state: NotifyState, priority: number): void {
    const own = scriptFor(n, state);
    if (own !== undefined) this.run(own.argv);
    if (n.generic !== undefined) this.run([...n.generic.argv, kind, name, state, String(priority)]);
    for (const f of this.fifos) this.writeFifo(f.path, fifoLine(kind, name, state, priority));
  }

  private run(argv: readonly string[]): void {
    const [cmd, ...args] = argv;
    if (cmd === undefined) return;
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', (e) => this.log('warning', `notify script ${cmd}: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (code !== 0) this.log('warning', `notify script ${cmd} exited with ${signal ?? code}`);
    });
    child.unref();
  }

  /** writeFifo writes one line if a reader has the FIFO open (O_NONBLOCK: never wait for one). */
  private writeFifo(path: string, line: string): void {
    let fd: number | undefined;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      writeSync(fd, line);
    } catch (e) {
      this.log('warning', `notify FIFO ${path}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}
