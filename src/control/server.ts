import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { endianness } from 'node:os';
import { dirname, join } from 'node:path';
import { ctlName, decodeRequestWord, isCtlCode, isKsCode } from './codes.js';

/**
 * ControlServer is the daemon's end of conntrackd's control socket (conntrackd-protocol.md §4.1): a
 * UNIX SOCK_STREAM socket where each connection carries one request — exactly one native-endian
 * int32 — and gets one reply, written before the server closes the connection (for a commit, only
 * once the handler's promise resolves, so `-c` blocks until the commit is done). What a request
 * does is the injected ControlHandler's business; the server only frames, guards and counts.
 *
 * Bad input never crashes the server and never reaches the handler: a connection that closes
 * before 4 bytes (short read), sends more than 4 bytes at once (extra bytes: a conntrackd client
 * sends exactly 4), names a code conntrackd does not define, stays silent past `requestTimeoutMs`,
 * or goes away before its reply is written is counted in `stats` and logged with the reason. Bytes
 * arriving after a request was accepted are counted and ignored (the request still runs, as
 * conntrackd, which reads only 4 bytes, would do).
 *
 * JSON (keepstate's `--json`): a request word carrying CTL_JSON_MAGIC (codes.ts) gets the
 * handler's reply with `conn.json` set, and its errors as a JSON object
 * `{"error":{"code","message"}}` instead of conntrackd's silence.
 */

/** ControlConn is what the handler learns about the connection a request came on. */
export interface ControlConn {
  /** json: the client asked for a JSON reply (`--json`). */
  readonly json: boolean;
}

/**
 * ControlHandler is the port to the daemon: it runs one request and resolves with the reply to
 * write (possibly empty, as most of conntrackd's actions answer nothing). A rejection is counted
 * and logged; the client then gets nothing (or a JSON error).
 */
export interface ControlHandler {
  handle(code: number, conn: ControlConn): Promise<string | Uint8Array>;
}

/** ControlLogLevel is a subset of the daemon's log levels (structurally compatible with daemon/log.ts's Logger). */
export type ControlLogLevel = 'notice' | 'warning' | 'error' | 'debug';

/** ControlLogger is the logging port. */
export interface ControlLogger {
  log(level: ControlLogLevel, message: string): void;
}

/** ControlStats count what the server saw; every rejected connection increments exactly one reason. */
export interface ControlStats {
  accepted: number; // connections accepted
  served: number; // replies written completely
  shortRead: number; // closed by the client before a whole request (0–3 bytes)
  extraBytes: number; // more than 4 bytes in the request (rejected), or bytes after it (ignored, not a rejection)
  unknownCode: number; // a code conntrackd 1.4.7 does not define
  timeout: number; // no complete request within requestTimeoutMs
  clientGone: number; // the client went away before its reply was written
  handlerFailed: number; // the handler rejected
  rejectedBusy: number; // refused: maxConnections connections were open
}

/** ControlErrorCode: why the server could not start. */
export type ControlErrorCode = 'CTL_PATH_TOO_LONG' | 'CTL_PATH_NOT_SOCKET' | 'CTL_LISTEN';

/** ControlError is a failure to set up the control socket. */
export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(
    readonly code: ControlErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** ControlServerOptions configure a ControlServer. */
export interface ControlServerOptions {
  /** path: the UNIX socket path (General { UNIX { Path } }); at most 107 bytes. */
  readonly path: string;
  readonly handler: ControlHandler;
  readonly logger?: ControlLogger;
  /** requestTimeoutMs: how long a client may take to send its request (default 5000). */
  readonly requestTimeoutMs?: number;
  /** maxConnections: connections open at once; more are refused and counted (default 128). */
  readonly maxConnections?: number;
  /** mode: the socket file's permissions (default 0o600, what conntrackd's umask(0177) gives). */
  readonly mode?: number;
}

/** UNIX_PATH_MAX is sizeof(sun_path): the path and its NUL. */
const UNIX_PATH_MAX = 108;
const REQUEST_BYTES = 4;
const LITTLE_ENDIAN = endianness() === 'LE';

const NO_LOGGER: ControlLogger = { log() {} };

type Phase = 'reading' | 'running' | 'replying' | 'done';

export class ControlServer {
  readonly stats: ControlStats = {
    accepted: 0,
    served: 0,
    shortRead: 0,
    extraBytes: 0,
    unknownCode: 0,
    timeout: 0,
    clientGone: 0,
    handlerFailed: 0,
    rejectedBusy: 0,
  };
  private readonly conns = new Set<Socket>();
  private closing: Promise<void> | undefined;
  private readonly logger: ControlLogger;
  private readonly timeoutMs: number;

  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly handler: ControlHandler,
    private readonly inode: { dev: number; ino: number } | undefined,
    opts: ControlServerOptions,
  ) {
    this.logger = opts.logger ?? NO_LOGGER;
    this.timeoutMs = opts.requestTimeoutMs ?? 5000;
  }

  /**
   * listen creates the socket at `opts.path`: a stale socket file left there is replaced (only a
   * socket: any other file is an error, never deleted), as conntrackd unlinks its path before
   * binding. Exclusivity between daemons is the lock file's job, as in conntrackd.
   */
  static async listen(opts: ControlServerOptions): Promise<ControlServer> {
    const path = opts.path;
    if (Buffer.byteLength(path) >= UNIX_PATH_MAX) throw new ControlError('CTL_PATH_TOO_LONG', `UNIX socket path is longer than ${UNIX_PATH_MAX - 1} bytes: ${path}`);
    checkReplaceable(path);
    // Bind under a temporary name in the same directory, then rename into place: the path never
    // points to nothing while a stale socket is replaced, the permissions are set before anyone can
    // connect, and libuv (which unlinks the name it bound when the server closes) cannot remove a
    // socket that a later server put at `path`. Without room for the temporary name, bind directly.
    const tmp = join(dirname(path), `.ks-${randomBytes(4).toString('hex')}`);
    const direct = Buffer.byteLength(tmp) >= UNIX_PATH_MAX;
    if (direct) removeStaleSocket(path);
    const server = createServer({ allowHalfOpen: true });
    server.maxConnections = opts.maxConnections ?? 128;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => reject(new ControlError('CTL_LISTEN', `can't open unix socket ${path}: ${e.message}`, { cause: e }));
      server.once('error', onError);
      server.listen({ path: direct ? path : tmp, backlog: 100 }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    let inode: { dev: number; ino: number } | undefined;
    try {
      chmodSync(direct ? path : tmp, opts.mode ?? 0o600);
      if (!direct) {
        checkReplaceable(path);
        renameSync(tmp, path);
      }
      const st = statSync(path);
      inode = { dev: st.dev, ino: st.ino };
    } catch (e) {
      server.close();
      if (e instanceof ControlError) throw e;
      throw new ControlError('CTL_LISTEN', `can't set up unix socket ${path}: ${(e as Error).message}`, { cause: e });
    }
    const self = new ControlServer(path, server, opts.handler, inode, opts);
    server.on('connection', (s) => self.onConnection(s));
    server.on('drop', () => {
      self.stats.rejectedBusy++;
      self.logger.log('warning', `control: connection refused, ${server.maxConnections} connections already open`);
    });
    server.on('error', (e) => self.logger.log('error', `control: socket error: ${e.message}`));
    return self;
  }

  /** ref / unref keep (or stop keeping) the event loop alive for the listening socket. */
  ref(): void {
    this.server.ref();
  }
  unref(): void {
    this.server.unref();
  }

  /** openConnections is how many client connections are open now. */
  get openConnections(): number {
    return this.conns.size;
  }

  /**
   * close stops accepting, removes the socket file (if it is still the one this server created)
   * and drops the connections still open: their clients see the end of the reply (a `-k` client
   * gets its empty reply this way, as conntrackd's exit closes it). Idempotent.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closing = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.conns) s.destroy();
    });
    try {
      const st = lstatSync(this.path);
      if (this.inode !== undefined && st.dev === this.inode.dev && st.ino === this.inode.ino) unlinkSync(this.path);
    } catch {
      // already gone
    }
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private onConnection(s: Socket): void {
    if (this.closing !== undefined) {
      s.destroy();
      return;
    }
    this.stats.accepted++;
    this.conns.add(s);
    let phase: Phase = 'reading';
    let got: Buffer = Buffer.alloc(0);
    let json = false;
    let extraLogged = false;
    const timer = setTimeout(() => {
      if (phase !== 'reading') return;
      phase = 'done';
      this.stats.timeout++;
      this.logger.log('warning', `control: no request within ${this.timeoutMs} ms (${got.length} bytes received), connection closed`);
      s.destroy();
    }, this.timeoutMs);
    timer.unref();

    const finish = (): void => {
      clearTimeout(timer);
      this.conns.delete(s);
    };
    s.on('close', () => {
      if ((phase === 'running' || phase === 'replying') && this.closing === undefined) {
        this.stats.clientGone++;
        this.logger.log('warning', `control: client went away before its reply was ${phase === 'running' ? 'ready' : 'written'}`);
      }
      phase = 'done';
      finish();
    });
    s.on('error', () => {
      // EPIPE / ECONNRESET: counted through 'close', which always follows.
    });
    s.on('end', () => {
      // The client's write side is closed. Before a whole request that is a short read; after it,
      // a client that shut down its sending side still gets its reply (allowHalfOpen).
      if (phase !== 'reading') return;
      phase = 'done';
      this.stats.shortRead++;
      this.logger.log('warning', `control: short read: the client closed after ${got.length} of ${REQUEST_BYTES} bytes`);
      s.destroy();
    });
    s.on('data', (chunk: Buffer) => {
      if (phase !== 'reading') {
        if (phase === 'done') return;
        if (!extraLogged) {
          extraLogged = true;
          this.stats.extraBytes++;
          this.logger.log('warning', `control: ${chunk.length} bytes after the request, ignored`);
        }
        return;
      }
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      if (got.length < REQUEST_BYTES) return;
      clearTimeout(timer);
      if (got.length > REQUEST_BYTES) {
        phase = 'done';
        this.stats.extraBytes++;
        this.logger.log('warning', `control: request of ${got.length} bytes (want ${REQUEST_BYTES}): ${hexPrefix(got)}, rejected`);
        s.destroy();
        return;
      }
      const word = LITTLE_ENDIAN ? got.readInt32LE(0) : got.readInt32BE(0);
      const req = decodeRequestWord(word);
      json = req.json;
      if (!isCtlCode(req.code) && !(req.json && isKsCode(req.code))) {
        this.stats.unknownCode++;
        this.logger.log('warning', `control: unknown request code ${req.code} (0x${(word >>> 0).toString(16).padStart(8, '0')})`);
        phase = 'done'; // rejected: counted once, whatever happens to the connection now
        this.reply(s, json ? jsonError('CTL_UNKNOWN_REQUEST', `unknown request code ${req.code}`) : '', false, () => {});
        return;
      }
      phase = 'running';
      this.run(s, req.code, json, (p) => (phase = p));
    });
  }

  private run(s: Socket, code: number, json: boolean, setPhase: (p: Phase) => void): void {
    let reply: Promise<string | Uint8Array>;
    try {
      reply = this.handler.handle(code, { json });
    } catch (e) {
      reply = Promise.reject(e);
    }
    reply.then(
      (out) => {
        if (s.destroyed) return; // counted as clientGone by 'close'
        setPhase('replying');
        this.reply(s, out, true, () => setPhase('done'));
      },
      (e: unknown) => {
        this.stats.handlerFailed++;
        const msg = e instanceof Error ? e.message : String(e);
        this.logger.log('error', `control: request ${ctlName(code) ?? code} failed: ${msg}`);
        setPhase('done'); // counted once, whatever happens to the connection now
        if (s.destroyed) return;
        this.reply(s, json ? jsonError('CTL_REQUEST_FAILED', msg) : '', false, () => {});
      },
    );
  }

  /** reply writes the reply and ends the connection; `done` runs once it is flushed (phase 'done' before 'close'). */
  private reply(s: Socket, out: string | Uint8Array, count: boolean, done: () => void): void {
    s.end(out, (err?: Error | null) => {
      if (err !== undefined && err !== null) return; // EPIPE and the like: 'close' counts clientGone
      done();
      if (count) this.stats.served++;
      s.destroy();
    });
  }
}

/** checkReplaceable throws unless `path` is free or a socket (a stale one is replaced, anything else never). */
function checkReplaceable(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ControlError('CTL_LISTEN', `can't inspect ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!st.isSocket()) throw new ControlError('CTL_PATH_NOT_SOCKET', `${path} exists and is not a socket; not removing it`);
}

/** removeStaleSocket unlinks a socket file at `path` (after checkReplaceable). */
function removeStaleSocket(path: string): void {
  checkReplaceable(path);
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ControlError('CTL_LISTEN', `can't remove ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function hexPrefix(b: Buffer): string {
  const shown = b.subarray(0, 16).toString('hex');
  return b.length > 16 ? `${shown}…` : shown;
}

function jsonError(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } }) + '\n';
}
