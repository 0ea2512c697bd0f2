import { execFileSync } from 'node:child_process';
import { closeSync, constants, lstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { spawnHere, type ScriptHandle, type SpawnScript } from './script-spawn.js';
import type { NotifyFifo, Notifies, ScriptCommand } from '../config/keepalived/types.js';
import type { NotifyState } from '../vrrp/fsm.js';
import type { ScriptUsers } from './script-user.js';

/**
 * Notifications after a state change, as keepalived 2.2.7 makes them (keepalived.conf(5),
 * vrrp_notify.c, lib/notify.c): the state's own script (notify_master …) with its arguments, then
 * the generic `notify` script with "INSTANCE"|"GROUP", the name, the state and the priority
 * appended, and a line `INSTANCE "name" STATE priority` on each notify FIFO. Scripts run detached
 * and are not waited for: they are never in the takeover's path (the takeover is done when they
 * start).
 */

/** NotifyLog receives what happened to a script (exit status, spawn errors). */
export type NotifyLog = (level: 'info' | 'warning', message: string) => void;

/**
 * FifoEvent is a FIFO line's third word: a state, or one of keepalived's events —
 * MASTER_RX_LOWER_PRI (a master heard a lower priority), MASTER_PRIORITY / BACKUP_PRIORITY (the
 * effective priority changed, with notify_priority_changes).
 */
export type FifoEvent = NotifyState | 'DELETED' | 'MASTER_RX_LOWER_PRI' | 'MASTER_PRIORITY' | 'BACKUP_PRIORITY';

/** fifoLine is the notify FIFO line keepalived writes (`%s "%s" %s %d\n`; a group's priority is 0). */
export function fifoLine(kind: 'INSTANCE' | 'GROUP', name: string, event: FifoEvent, priority: number): string {
  return `${kind} "${name}" ${event} ${priority}\n`;
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

/** FIFO_MODE is the mode keepalived creates a missing FIFO with (S_IRUSR|S_IWUSR|S_IRGRP|S_IROTH). */
export const FIFO_MODE = 0o644;

/**
 * FifoChannel is one open notify FIFO (notify_fifo or vrrp_notify_fifo), as lib/notify.c
 * fifo_open does it: create the FIFO if missing (mode 0644, chown to the configured user/group),
 * start the fifo script with the path as its last argument, then open the FIFO read-write and
 * non-blocking — so that a write never waits for, nor fails for want of, a reader. keepalived
 * starts the script once and only logs when it ends; so does this.
 */
class FifoChannel {
  private fd: number | undefined;
  private created = false;
  private script: ScriptHandle | undefined;
  private writeFailures = 0;

  constructor(
    private readonly f: NotifyFifo,
    private readonly log: NotifyLog,
    private readonly users: ScriptUsers | undefined,
    private readonly spawn: SpawnScript,
  ) {}

  open(): void {
    const path = this.f.path;
    let exists = false;
    try {
      exists = lstatSync(path).isFIFO();
      if (!exists) {
        this.log('warning', `notify FIFO ${path} exists and is not a FIFO: not used`);
        return;
      }
    } catch {
      // missing: create it below
    }
    if (!exists) {
      try {
        execFileSync('mkfifo', ['-m', FIFO_MODE.toString(8), path], { stdio: 'pipe' });
        this.created = true;
      } catch (e) {
        this.log('warning', `unable to create notify FIFO ${path}: ${messageOf(e)}`);
        return;
      }
      if (this.f.user !== undefined || this.f.group !== undefined) chownByName(path, this.f.user, this.f.group, this.log);
    }
    if (this.f.script !== undefined) this.startScript(this.f.script);
    try {
      this.fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch (e) {
      this.log('warning', `unable to open notify FIFO ${path}: ${messageOf(e)}`);
      if (this.created) unlinkQuietly(path);
      this.created = false;
    }
  }

  private startScript(s: ScriptCommand): void {
    const [cmd, ...args] = s.argv;
    if (cmd === undefined) return;
    const runAs = this.users === undefined ? {} : this.users.runAs(s, `notify FIFO script ${cmd}`);
    if (runAs === undefined) return;
    const child = this.spawn(cmd, [...args, this.f.path], { detached: false, ...runAs });
    child.onError((message) => this.log('warning', `notify FIFO script ${cmd}: ${message}`));
    child.onExit((code, signal) => {
      if (this.script === child) this.script = undefined;
      this.log('info', `notify FIFO script ${cmd} terminated (${signal ?? `exit ${String(code)}`})`);
    });
    this.script = child;
  }

  write(line: string): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, line);
    } catch (e) {
      // keepalived ignores a failed write (EAGAIN: the reader is behind by a pipe's worth).
      if (this.writeFailures++ === 0) this.log('warning', `notify FIFO ${this.f.path}: ${messageOf(e)} (line dropped; later failures are not logged)`);
    }
  }

  /**
   * close unlinks the FIFO first if it was created here (so a script that reopens it in a loop
   * cannot), closes it, and ends the script this channel started (keepalived leaves it to read
   * end-of-file; a script started by a process that is gone would otherwise linger).
   */
  close(): void {
    if (this.created) unlinkQuietly(this.f.path);
    this.created = false;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    const s = this.script;
    this.script = undefined;
    if (s?.running === true) s.signal('SIGTERM');
  }
}

/** Notifier runs the notify scripts and writes the FIFO lines of instances and groups. */
export class Notifier {
  private readonly fifos: FifoChannel[];

  constructor(
    private readonly log: NotifyLog,
    fifos: readonly NotifyFifo[] = [],
    /** Whom each script runs as (script_user); undefined: as this process. */
    private readonly users?: ScriptUsers,
    /** How scripts are started (the failover process: its script runner). */
    private readonly spawn: SpawnScript = spawnHere,
  ) {
    this.fifos = fifos.map((f) => new FifoChannel(f, log, users, spawn));
  }

  /** open creates and opens the FIFOs and starts their scripts (before the first transition). */
  open(): void {
    for (const f of this.fifos) f.open();
  }

  /** notify runs what `n` configures for `state` of instance or group `name`. */
  notify(kind: 'INSTANCE' | 'GROUP', name: string, n: Notifies, state: NotifyState, priority: number): void {
    const own = scriptFor(n, state);
    if (own !== undefined) this.run(own);
    if (n.generic !== undefined) this.run(n.generic, [kind, name, state, String(priority)]);
    this.fifo(kind, name, state, priority);
  }

  /**
   * masterRxLowerPriority is keepalived's send_event_notify: a master heard a lower priority —
   * notify_master_rx_lower_pri (no extra arguments) and a MASTER_RX_LOWER_PRI FIFO line.
   */
  masterRxLowerPriority(name: string, n: Notifies, priority: number): void {
    if (n.masterRxLowerPri !== undefined) this.run(n.masterRxLowerPri);
    this.fifo('INSTANCE', name, 'MASTER_RX_LOWER_PRI', priority);
  }

  /** priorityChanged is the FIFO line of notify_priority_changes (no script is run for it). */
  priorityChanged(name: string, master: boolean, priority: number): void {
    this.fifo('INSTANCE', name, master ? 'MASTER_PRIORITY' : 'BACKUP_PRIORITY', priority);
  }

  /** close closes the FIFOs (unlinking the ones created here) and ends their scripts. */
  close(): void {
    for (const f of this.fifos) f.close();
  }

  private fifo(kind: 'INSTANCE' | 'GROUP', name: string, event: FifoEvent, priority: number): void {
    if (this.fifos.length === 0) return;
    const line = fifoLine(kind, name, event, priority);
    for (const f of this.fifos) f.write(line);
  }

  private run(script: ScriptCommand, extra: readonly string[] = []): void {
    const [cmd, ...args] = script.argv;
    if (cmd === undefined) return;
    const runAs = this.users === undefined ? {} : this.users.runAs(script, `notify script ${cmd}`);
    if (runAs === undefined) return;
    const child = this.spawn(cmd, [...args, ...extra], { detached: true, ...runAs });
    child.onError((message) => this.log('warning', `notify script ${cmd}: ${message}`));
    child.onExit((code, signal) => {
      if (code !== 0) this.log('warning', `notify script ${cmd} exited with ${signal ?? code}`);
    });
  }
}

/** chownByName gives a created FIFO the configured owner (`notify_fifo PATH [USER [GROUP]]`). */
function chownByName(path: string, user: string | undefined, group: string | undefined, log: NotifyLog): void {
  const owner = `${user ?? ''}${group !== undefined ? `:${group}` : ''}`;
  try {
    execFileSync('chown', ['-h', '--', owner, path], { stdio: 'pipe' });
  } catch (e) {
    log('warning', `failed to set owner ${owner} of notify FIFO ${path}: ${messageOf(e)}`);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
