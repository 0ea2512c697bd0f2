import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { CANT_CONNECT, ControlClientError, controlRequest, encodeRequest, NO_JSON, runControlRequest } from '../../src/control/client.js';
import { CTL, CTL_JSON_MAGIC } from '../../src/control/codes.js';
import { ControlError, ControlServer, type ControlConn, type ControlHandler, type ControlLogLevel } from '../../src/control/server.js';

/**
 * ControlServer and the client over a real UNIX socket in a temporary directory, with a handler
 * double at the message boundary (code → reply). Every misbehaving client is followed by a good
 * request, which must still be served. Waiting is done by polling a condition (never by sleeping
 * a fixed time); the only time limits are the server's own request time-out, set small here.
 */

const dir = mkdtempSync(join(tmpdir(), 'ks-control-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;
const freshPath = (): string => join(dir, `ctl-${++seq}`);

/** Deferred is a promise the test resolves. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** until polls `cond` on the event loop until it holds (a 10 s guard turns a hang into a failure). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > 10_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Recorder is the handler double: it records each call and answers "CODE json=BOOL\n", or what a test sets for a code. */
class Recorder implements ControlHandler {
  readonly calls: { code: number; json: boolean }[] = [];
  readonly special = new Map<number, (conn: ControlConn) => Promise<string | Uint8Array>>();
  handle(code: number, conn: ControlConn): Promise<string | Uint8Array> {
    this.calls.push({ code, json: conn.json });
    const s = this.special.get(code);
    if (s !== undefined) return s(conn);
    return Promise.resolve(conn.json ? JSON.stringify({ code }) + '\n' : `${code} json=false\n`);
  }
}

const logs: { level: ControlLogLevel; message: string }[] = [];
const logger = { log: (level: ControlLogLevel, message: string) => logs.push({ level, message }) };

let server: ControlServer;
let rec: Recorder;
let path: string;

async function start(opts: { requestTimeoutMs?: number; maxConnections?: number } = {}): Promise<void> {
  rec = new Recorder();
  path = freshPath();
  logs.length = 0;
  server = await ControlServer.listen({ path, handler: rec, logger, requestTimeoutMs: opts.requestTimeoutMs ?? 100, ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}) });
}

/** goodRequestWorks proves the server still serves a normal request. */
async function goodRequestWorks(): Promise<void> {
  const before = rec.calls.length;
  const reply = await controlRequest(path, CTL.STATS);
  assert.equal(reply.toString(), `${CTL.STATS} json=false\n`);
  assert.equal(rec.calls.length, before + 1);
}

/** rawClient connects (half-open allowed, like conntrackd's client) and resolves once connected; `ended` resolves with everything received when the server ends the connection. */
async function rawClient(): Promise<{ s: Socket; ended: Promise<Buffer> }> {
  const s = connect({ path, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  const ended = new Promise<Buffer>((resolve) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    const done = (): void => {
      resolve(Buffer.concat(chunks));
      s.destroy();
    };
    s.on('end', done);
    s.on('close', done);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  return { s, ended };
}

const word = (n: number): Buffer => Buffer.from(encodeRequest(n, false));

describe('request framing', () => {
  it('a request is one native-endian int32; JSON requests carry the magic in the upper 16 bits', () => {
    const le = Buffer.alloc(4);
    le.writeInt32LE(CTL.STATS);
    const native = (n: number): Buffer => {
      const b = Buffer.alloc(4);
      if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) b.writeInt32LE(n | 0);
      else b.writeInt32BE(n | 0);
      return b;
    };
    assert.deepEqual(Buffer.from(encodeRequest(CTL.STATS, false)), native(CTL.STATS));
    assert.deepEqual(Buffer.from(encodeRequest(CTL.STATS, true)), native(CTL_JSON_MAGIC | CTL.STATS));
    assert.deepEqual(Buffer.from(encodeRequest(-1, false)), native(-1));
  });
});

describe('ControlServer with the client', () => {
  before(async () => start());
  after(async () => server.close());

  it('every request code round-trips client → server → handler, text and JSON', async () => {
    for (const code of Object.values(CTL)) {
      assert.equal((await controlRequest(path, code)).toString(), `${code} json=false\n`);
      assert.deepEqual(rec.calls.at(-1), { code, json: false });
      assert.deepEqual(JSON.parse((await controlRequest(path, code, { json: true })).toString()), { code });
      assert.deepEqual(rec.calls.at(-1), { code, json: true });
    }
    assert.equal(server.stats.served, 2 * Object.keys(CTL).length);
  });

  it('a reply can be bytes, empty, or streamed to onData', async () => {
    rec.special.set(CTL.CT_DUMP_INTERNAL, () => Promise.resolve(new Uint8Array([0x61, 0x0a])));
    rec.special.set(CTL.KILL, () => Promise.resolve(''));
    assert.equal((await controlRequest(path, CTL.CT_DUMP_INTERNAL)).toString(), 'a\n');
    assert.equal((await controlRequest(path, CTL.KILL)).length, 0);
    const got: Uint8Array[] = [];
    assert.equal((await controlRequest(path, CTL.CT_DUMP_INTERNAL, { onData: (c) => got.push(c) })).length, 0);
    assert.equal(Buffer.concat(got).toString(), 'a\n');
  });

  it('a commit keeps the client waiting until the handler resolves', async () => {
    const commit = deferred<string>();
    const called = deferred<void>();
    rec.special.set(CTL.CT_COMMIT, () => {
      called.resolve();
      return commit.promise;
    });
    let settled = false;
    const req = controlRequest(path, CTL.CT_COMMIT).then((r) => {
      settled = true;
      return r;
    });
    await called.promise;
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'the client got an answer before the commit finished');
    assert.equal(server.openConnections, 1);
    commit.resolve('');
    assert.equal((await req).length, 0);
    assert.equal(settled, true);
  });

  it('a client that shuts down its sending side still gets its reply', async () => {
    const { s, ended } = await rawClient();
    s.end(word(CTL.STATS_RUNTIME));
    assert.equal((await ended).toString(), `${CTL.STATS_RUNTIME} json=false\n`);
  });
});

describe('ControlServer under bad input', () => {
  afterEach(async () => server.close());

  it('short read: the client closes after 0–3 bytes', async () => {
    await start();
    for (const n of [0, 1, 3]) {
      const { s, ended } = await rawClient();
      s.end(word(CTL.STATS).subarray(0, n));
      assert.equal((await ended).length, 0);
      await until(() => server.stats.shortRead === [0, 1, 3].indexOf(n) + 1, 'shortRead');
      assert.match(logs.at(-1)!.message, new RegExp(`short read: the client closed after ${n} of 4 bytes`));
      await goodRequestWorks();
    }
    assert.equal(rec.calls.length, 3, 'only the good requests reached the handler');
  });

  it('extra bytes in the request: rejected, never handled', async () => {
    await start();
    const { s, ended } = await rawClient();
    s.write(Buffer.concat([word(CTL.KILL), word(CTL.KILL)]));
    assert.equal((await ended).length, 0);
    assert.equal(server.stats.extraBytes, 1);
    assert.match(logs.at(-1)!.message, /request of 8 bytes \(want 4\): 1400000014000000, rejected/);
    const { s: g, ended: gEnded } = await rawClient();
    g.write('flush the table please\n');
    assert.equal((await gEnded).length, 0);
    assert.equal(server.stats.extraBytes, 2);
    assert.equal(rec.calls.length, 0);
    await goodRequestWorks();
  });

  it('bytes after an accepted request are counted and ignored; the reply still goes out', async () => {
    await start();
    const release = deferred<string>();
    const called = deferred<void>();
    rec.special.set(CTL.STATS_QUEUE, () => {
      called.resolve();
      return release.promise;
    });
    const { s, ended } = await rawClient();
    s.write(word(CTL.STATS_QUEUE));
    await called.promise;
    s.write('junk');
    await until(() => server.stats.extraBytes === 1, 'extraBytes');
    assert.match(logs.at(-1)!.message, /4 bytes after the request, ignored/);
    release.resolve('queue\n');
    assert.equal((await ended).toString(), 'queue\n');
    await goodRequestWorks();
  });

  it('unknown codes: nothing in text, a JSON error for JSON', async () => {
    await start();
    for (const code of [2, 15, 49, 1000, -1]) {
      const { s, ended } = await rawClient();
      s.write(word(code));
      assert.equal((await ended).length, 0);
      assert.match(logs.at(-1)!.message, new RegExp(`unknown request code ${code}\\b`));
    }
    assert.equal(server.stats.unknownCode, 5);
    const reply = JSON.parse((await controlRequest(path, 77, { json: true })).toString()) as { error: { code: string } };
    assert.equal(reply.error.code, 'CTL_UNKNOWN_REQUEST');
    assert.equal(server.stats.unknownCode, 6);
    assert.equal(rec.calls.length, 0);
    await goodRequestWorks();
  });

  it('a silent client is timed out; so is one that stops half-way', async () => {
    await start({ requestTimeoutMs: 30 });
    const { ended } = await rawClient();
    assert.equal((await ended).length, 0);
    assert.equal(server.stats.timeout, 1);
    assert.match(logs.at(-1)!.message, /no request within 30 ms \(0 bytes received\)/);
    const { s: half, ended: halfEnded } = await rawClient();
    half.write(word(CTL.STATS).subarray(0, 2));
    await halfEnded;
    assert.equal(server.stats.timeout, 2);
    assert.match(logs.at(-1)!.message, /\(2 bytes received\)/);
    await goodRequestWorks();
  });

  it('a client that disconnects mid-reply is counted; the server keeps serving', async () => {
    await start();
    rec.special.set(CTL.CT_DUMP_INTERNAL, () => Promise.resolve(Buffer.alloc(32 << 20, 0x61)));
    const { s } = await rawClient();
    s.write(word(CTL.CT_DUMP_INTERNAL));
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
    await until(() => server.stats.clientGone === 1, 'clientGone');
    assert.match(logs.at(-1)!.message, /went away before its reply was written/);
    assert.equal(server.stats.served, 0);
    await goodRequestWorks();
  });

  it('a client that disconnects while its request runs is counted; the late reply goes nowhere', async () => {
    await start();
    const release = deferred<string>();
    const called = deferred<void>();
    rec.special.set(CTL.ALL_COMMIT, () => {
      called.resolve();
      return release.promise;
    });
    const { s } = await rawClient();
    s.write(word(CTL.ALL_COMMIT));
    await called.promise;
    s.destroy();
    // A client's FIN may be a half-close (it still wants the reply), so the server learns the
    // client is gone when it writes the reply.
    release.resolve('late\n');
    await until(() => server.stats.clientGone === 1, 'clientGone');
    assert.match(logs.at(-1)!.message, /went away before its reply was written/);
    assert.equal(server.stats.served, 0);
    await goodRequestWorks();
  });

  it('a failing handler is counted and logged; text clients get nothing, JSON clients an error', async () => {
    await start();
    rec.special.set(CTL.CT_RESYNC_MASTER, () => Promise.reject(new Error('kernel said no')));
    rec.special.set(CTL.SEND_BULK, () => {
      throw new Error('thrown, not rejected');
    });
    assert.equal((await controlRequest(path, CTL.CT_RESYNC_MASTER)).length, 0);
    assert.match(logs.at(-1)!.message, /request CT_RESYNC_MASTER failed: kernel said no/);
    const j = JSON.parse((await controlRequest(path, CTL.CT_RESYNC_MASTER, { json: true })).toString()) as { error: { code: string; message: string } };
    assert.deepEqual(j, { error: { code: 'CTL_REQUEST_FAILED', message: 'kernel said no' } });
    assert.equal((await controlRequest(path, CTL.SEND_BULK)).length, 0);
    assert.equal(server.stats.handlerFailed, 3);
    await goodRequestWorks();
  });

  it('connections past maxConnections are refused and counted', async () => {
    await start({ maxConnections: 1, requestTimeoutMs: 60_000 });
    const hold = await rawClient();
    await until(() => server.openConnections === 1, 'the first connection');
    const { ended } = await rawClient();
    assert.equal((await ended).length, 0);
    await until(() => server.stats.rejectedBusy === 1, 'rejectedBusy');
    hold.s.destroy();
    await until(() => server.openConnections === 0, 'the first connection to close');
    await goodRequestWorks();
  });
});

describe('the socket file', () => {
  it('is created 0600, and removed on close', async () => {
    const p = freshPath();
    const srv = await ControlServer.listen({ path: p, handler: new Recorder() });
    assert.ok(lstatSync(p).isSocket());
    assert.equal(statSync(p).mode & 0o777, 0o600);
    await srv.close();
    assert.equal(existsSync(p), false);
    await srv.close(); // idempotent
  });

  it('a stale socket left by a dead process is replaced', async () => {
    const p = freshPath();
    const r = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(p)}, () => process.exit(0))`]);
    assert.equal(r.status, 0);
    assert.ok(lstatSync(p).isSocket(), 'the dead process left its socket file');
    const srv = await ControlServer.listen({ path: p, handler: new Recorder() });
    assert.equal((await controlRequest(p, CTL.STATS)).toString(), `${CTL.STATS} json=false\n`);
    await srv.close();
    assert.equal(existsSync(p), false);
  });

  it('a file that is not a socket is never removed', async () => {
    const p = freshPath();
    writeFileSync(p, 'precious');
    await assert.rejects(ControlServer.listen({ path: p, handler: new Recorder() }), (e: unknown) => e instanceof ControlError && e.code === 'CTL_PATH_NOT_SOCKET');
    assert.equal(readFileSync(p, 'utf8'), 'precious');
  });

  it('close leaves alone a socket another server has since put at the path', async () => {
    const p = freshPath();
    const first = await ControlServer.listen({ path: p, handler: new Recorder() });
    const second = await ControlServer.listen({ path: p, handler: new Recorder() }); // replaces the file, as conntrackd would
    await first.close();
    assert.ok(lstatSync(p).isSocket());
    assert.equal((await controlRequest(p, CTL.STATS)).toString(), `${CTL.STATS} json=false\n`);
    await second.close();
    assert.equal(existsSync(p), false);
  });

  it('close during a request (a -k handler closing the server) ends the client cleanly', async () => {
    const p = freshPath();
    const h = new Recorder();
    const box: { srv?: ControlServer } = {};
    h.special.set(CTL.KILL, async () => {
      await box.srv?.close();
      return 'not written';
    });
    const srv = await ControlServer.listen({ path: p, handler: h });
    box.srv = srv;
    assert.deepEqual(await runControlRequest(p, CTL.KILL, false, () => {}), { status: 0 });
    assert.equal(existsSync(p), false);
    assert.equal(srv.stats.clientGone, 0, 'shutting down is not a client going away');
    assert.deepEqual(await runControlRequest(p, CTL.STATS, false, () => {}), { status: 1, message: CANT_CONNECT });
  });

  it('a path longer than sun_path is refused', async () => {
    const p = join(dir, 'x'.repeat(120));
    await assert.rejects(ControlServer.listen({ path: p, handler: new Recorder() }), (e: unknown) => e instanceof ControlError && e.code === 'CTL_PATH_TOO_LONG');
  });
});

describe('client errors', () => {
  it("no daemon: conntrackd's message, exit status 1", async () => {
    const p = freshPath();
    await assert.rejects(controlRequest(p, CTL.STATS), (e: unknown) => e instanceof ControlClientError && e.code === 'CTL_CONNECT' && e.message === CANT_CONNECT && e.status === 1);
    assert.deepEqual(await runControlRequest(p, CTL.STATS, false, () => {}), { status: 1, message: CANT_CONNECT });
    assert.deepEqual(await runControlRequest(undefined, CTL.STATS, false, () => {}), { status: 1, message: CANT_CONNECT });
    // A socket file nobody listens on (a dead daemon's) is the same.
    const stale = freshPath();
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`]);
    assert.deepEqual(await runControlRequest(stale, CTL.STATS, false, () => {}), { status: 1, message: CANT_CONNECT });
  });

  it('status 0 once delivered, whatever the answer; a JSON request answered with nothing is an error', async () => {
    const p = freshPath();
    const h = new Recorder();
    h.special.set(CTL.STATS, () => Promise.resolve(''));
    const srv = await ControlServer.listen({ path: p, handler: h });
    try {
      const out: Uint8Array[] = [];
      assert.deepEqual(await runControlRequest(p, CTL.STATS_LINK, false, (c) => out.push(c)), { status: 0 });
      assert.equal(Buffer.concat(out).toString(), `${CTL.STATS_LINK} json=false\n`);
      assert.deepEqual(await runControlRequest(p, CTL.STATS, false, () => {}), { status: 0 });
      assert.deepEqual(await runControlRequest(p, CTL.STATS, true, () => {}), { status: 1, message: NO_JSON });
    } finally {
      await srv.close();
    }
  });

  it('a reply that does not end in time is an error when a time-out is asked for', async () => {
    const p = freshPath();
    const h = new Recorder();
    const never = deferred<string>();
    h.special.set(CTL.CT_COMMIT, () => never.promise);
    const srv = await ControlServer.listen({ path: p, handler: h });
    try {
      await assert.rejects(controlRequest(p, CTL.CT_COMMIT, { timeoutMs: 20 }), (e: unknown) => e instanceof ControlClientError && e.code === 'CTL_TIMEOUT');
    } finally {
      never.resolve('');
      await srv.close();
    }
  });
});
