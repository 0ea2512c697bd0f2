import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** PollStats are the poller's counters since pollStart (all monotonically increasing). */
export interface PollStats {
  readonly wakeups: number; // uv_poll callbacks
  readonly recvmmsgCalls: number;
  readonly datagrams: number;
  readonly bytes: number; // payload bytes handed to JS
  readonly enobufs: number; // receive-queue overruns reported (both the recvmmsg and the EPOLLERR path)
  readonly holds?: number; // hold-off periods started (absent from an addon built before hold-off)
}

declare const pollHandleBrand: unique symbol;
/** PollHandle is the opaque native poller (a napi External); only the poll* functions accept it. */
export interface PollHandle {
  readonly [pollHandleBrand]: true;
}

/**
 * PollCallback receives one packed batch per wakeup (see batch.ts for the layout): `errno` 0 with a
 * batch of `count` datagrams, or a positive errno with a null batch. `count` -1 means the poller hit an
 * error a retry cannot clear (EBADF, EINVAL...) and has stopped itself.
 */
export type PollCallback = (errno: number, batch: Buffer | null, count: number) => void;

/**
 * NativeBinding is the addon's surface (native/keepstate.c). Numbers are plain C ints; sockaddrs and
 * option values are bytes built in TypeScript. Failing syscalls throw an Error carrying
 * {code: 'EBADF', errno: 9 (positive), syscall: 'bind'}; socket.ts turns it into ErrnoError.
 */
export interface NativeBinding {
  socket(domain: number, type: number, protocol: number): number; // adds SOCK_NONBLOCK|SOCK_CLOEXEC
  close(fd: number): void;
  bind(fd: number, sockaddr: Uint8Array): void;
  getsockname(fd: number): Buffer;
  setsockopt(fd: number, level: number, name: number, value: number | Uint8Array): void;
  getsockopt(fd: number, level: number, name: number): number;
  getsockopt(fd: number, level: number, name: number, len: number): Buffer;
  sendto(fd: number, data: Uint8Array | readonly Uint8Array[], dest: Uint8Array | null, flags: number): number;
  recv(fd: number, size: number): Buffer | null; // null: nothing queued (EAGAIN)
  ifNameToIndex(name: string): number;
  setns(fd: number, nstype: number): void; // moves only the calling (JS) thread
  pollStart(
    fd: number,
    slots: number,
    slotSize: number,
    ctrlSize: number,
    wantName: boolean,
    maxBytesPerCallback: number,
    cb: PollCallback,
    holdMs?: number, // hold-off after a wakeup that read something (0: none); an older addon ignores it
  ): PollHandle;
  pollStop(handle: PollHandle): void; // safe inside the callback; idempotent
  pollRef(handle: PollHandle, ref: boolean): void;
  pollStats(handle: PollHandle): PollStats;
  // sched_setscheduler(2) on one thread (tid 0: the calling one). Optional: an addon built before it
  // was added still loads (sched.ts then reports it as stale instead of every socket user failing).
  schedSetScheduler?: (tid: number, policy: number, priority: number) => void;
  schedSetDeadline?: (tid: number, runtimeUs: number, deadlineUs: number, periodUs: number, flags: number) => void; // sched_setattr(2), SCHED_DEADLINE
  attachFilter?: (fd: number, program: Uint8Array) => void; // SO_ATTACH_FILTER (classic BPF)
}

const FUNCTIONS = [
  'socket',
  'close',
  'bind',
  'getsockname',
  'setsockopt',
  'getsockopt',
  'sendto',
  'recv',
  'ifNameToIndex',
  'setns',
  'pollStart',
  'pollStop',
  'pollRef',
  'pollStats',
] as const satisfies readonly (keyof NativeBinding)[];

/** packageRoot is the nearest ancestor of this module holding native/binding.gyp (from src/ or a dist folder). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'native', 'binding.gyp'))) return dir;
    const up = dirname(dir);
    if (up === dir) return dirname(dirname(dirname(fileURLToPath(import.meta.url))));
    dir = up;
  }
}

function isBinding(x: unknown): x is NativeBinding {
  if (typeof x !== 'object' || x === null) return false;
  const rec = x as Record<string, unknown>;
  return FUNCTIONS.every((name) => typeof rec[name] === 'function');
}

/**
 * NativeUnavailableError says, in one sentence, why the addon cannot be used here (not Linux, not
 * built, stale build) and how to fix it. Callers print its message as it is.
 */
export class NativeUnavailableError extends Error {
  override readonly name = 'NativeUnavailableError';
}

function load(): NativeBinding {
  const root = packageRoot();
  if (process.platform !== 'linux') {
    throw new NativeUnavailableError(`keepstate's native socket addon exists only on Linux (this is ${process.platform}).`);
  }
  const file = join(root, 'native', 'build', 'Release', 'keepstate.node');
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(file);
  } catch (e) {
    const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new NativeUnavailableError(
      `keepstate's native addon could not be loaded (${reason}): run \`npm install\` in ${root} on Linux with a C compiler.`,
      { cause: e },
    );
  }
  if (!isBinding(loaded)) {
    const missing = FUNCTIONS.filter((n) => typeof (loaded as Record<string, unknown> | null)?.[n] !== 'function');
    throw new NativeUnavailableError(
      `keepstate's native addon at ${file} is stale (missing ${missing.join(', ')}): run \`npm install\` in ${root} to rebuild it.`,
    );
  }
  return loaded;
}

let cached: NativeBinding | undefined;

/**
 * nativeBinding loads native/build/Release/keepstate.node once (this is the only module that does)
 * and checks its shape; it throws a one-sentence Error saying how to fix a missing or stale build.
 */
export function nativeBinding(): NativeBinding {
  cached ??= load();
  return cached;
}
