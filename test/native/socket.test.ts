import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { NLMSG, NLM_F } from '../../src/netlink/consts.js';
import { decodeMessages, encodeMessage } from '../../src/netlink/message.js';
import {
  AF,
  ErrnoError,
  IP,
  NativeSocket,
  SOCK,
  SOL_IP,
  inet4Sockaddr,
  netlinkSockaddr,
  type Datagram,
} from '../../src/native/socket.js';

const TIMEOUT = { timeout: 20_000 };
const open: NativeSocket[] = [];
after(() => {
  for (const s of open) s.close();
});

/** udp opens a UDP socket bound to 127.0.0.1 on a kernel-chosen port and returns it with its sockaddr. */
function udp(): { s: NativeSocket; addr: Uint8Array } {
  const s = NativeSocket.open(AF.INET, SOCK.DGRAM, 0);
  open.push(s);
  s.bind(inet4Sockaddr('127.0.0.1', 0));
  return { s, addr: s.getsockname() };
}

const text = (d: Datagram): string => Buffer.from(d.data).toString();

describe('NativeSocket on loopback', () => {
  test('send to self: iovec gather, recvSync, EAGAIN as null', TIMEOUT, () => {
    const { s, addr } = udp();
    assert.equal(s.recvSync(100), null);
    assert.equal(s.send([Buffer.from('ab'), Buffer.from('c'), new Uint8Array(0), Buffer.from('de')], addr), 5);
    assert.equal(Buffer.from(s.recvSync(100) ?? []).toString(), 'abcde');
    assert.equal(s.recvSync(100), null);
  });

  test('the poller delivers every datagram in order, with names, and counts them', TIMEOUT, async () => {
    const { s, addr } = udp();
    const got: string[] = [];
    const names: string[] = [];
    await new Promise<void>((resolve, reject) => {
      s.startReceiving(
        { wantName: true, slots: 4 },
        (ds) => {
          for (const d of ds) {
            got.push(text(d));
            names.push(Buffer.from(d.name ?? []).toString('hex'));
          }
          if (got.length === 50) resolve();
        },
        reject,
      );
      for (let i = 0; i < 50; i++) s.send(Buffer.from(`m${i}`), addr);
    });
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `m${i}`));
    assert.ok(names.every((n) => n === Buffer.from(addr).toString('hex')), 'source is the socket itself');
    const st = s.stats();
    assert.equal(st.datagrams, 50);
    assert.equal(st.bytes, got.join('').length);
    assert.ok(st.recvmmsgCalls >= Math.ceil(50 / 4), 'at most 4 datagrams per recvmmsg');
    s.close();
    assert.equal(s.receiving, false);
  });

  test('hold-off: after a wakeup that read something the socket rests; what came meanwhile arrives in one batch', TIMEOUT, async () => {
    const { s, addr } = udp();
    const batches: string[][] = [];
    await new Promise<void>((resolve, reject) => {
      s.startReceiving(
        { holdOffMs: 50 },
        (ds) => {
          batches.push(ds.map(text));
          // Sent while the socket rests: without the hold-off 'a' would be read alone, on a turn
          // of the loop before the 10 ms timer sends the others.
          if (batches.length === 1) {
            s.send(Buffer.from('a'), addr);
            setTimeout(() => {
              for (const m of ['b', 'c', 'd']) s.send(Buffer.from(m), addr);
            }, 10);
          }
          if (batches.flat().length === 5) resolve();
        },
        reject,
      );
      s.send(Buffer.from('first'), addr);
    });
    assert.deepEqual(batches, [['first'], ['a', 'b', 'c', 'd']]);
    await new Promise((r) => setImmediate(r)); // the second rest starts once the callback has returned
    assert.equal(s.stats().holds, 2, 'one rest after each wakeup that read something');
    s.stopReceiving();
  });

  test('hold-off: a reader that is behind (its byte budget spent before the socket was empty) does not rest', TIMEOUT, async () => {
    const { s, addr } = udp();
    const sizes: number[] = [];
    const payload = Buffer.alloc(100, 7);
    await new Promise<void>((resolve, reject) => {
      // 2 datagrams per recvmmsg, 250 bytes per callback: 4 datagrams a wakeup.
      s.startReceiving(
        { slots: 2, maxBytesPerCallback: 250, holdOffMs: 200 },
        (ds) => {
          sizes.push(ds.length);
          if (sizes.reduce((a, b) => a + b, 0) === 10) resolve();
        },
        reject,
      );
      for (let i = 0; i < 10; i++) s.send(payload, addr);
    });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(sizes, [4, 4, 2]);
    assert.equal(s.stats().holds, 1, 'a rest only once the socket was empty');
    s.stopReceiving();
  });

  test('hold-off: stopping while the socket rests ends the receiver at once (no callback later)', TIMEOUT, async () => {
    const { s, addr } = udp();
    let calls = 0;
    await new Promise<void>((resolve, reject) => {
      s.startReceiving(
        { holdOffMs: 30 },
        () => {
          calls++;
          resolve();
        },
        reject,
      );
      s.send(Buffer.from('one'), addr);
    });
    s.stopReceiving(); // inside the rest
    s.send(Buffer.from('two'), addr);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(calls, 1);
    assert.equal(Buffer.from(s.recvSync(64) ?? []).toString(), 'two', 'left queued');
  });

  test('ancillary data (IP_PKTINFO) arrives in ctrl; a small slot sets MSG_TRUNC', TIMEOUT, async () => {
    const { s, addr } = udp();
    s.setsockoptInt(SOL_IP, IP.PKTINFO, 1);
    const [d] = await new Promise<Datagram[]>((resolve, reject) => {
      s.startReceiving({ ctrlSize: 64, slotSize: 4 }, resolve, reject);
      s.send(Buffer.from('0123456789'), addr);
    });
    s.stopReceiving();
    assert.ok(d !== undefined);
    assert.equal(text(d), '0123');
    assert.equal(d.flags & 0x20, 0x20, 'MSG_TRUNC');
    // struct cmsghdr {u64 len; i32 level; i32 type} then struct in_pktinfo {i32 ifindex; ...}
    assert.ok(d.ctrl !== undefined && d.ctrl.length >= 28);
    const v = new DataView(d.ctrl.buffer, d.ctrl.byteOffset, d.ctrl.byteLength);
    assert.equal(v.getInt32(8, true), SOL_IP);
    assert.equal(v.getInt32(12, true), IP.PKTINFO);
    assert.ok(v.getInt32(16, true) > 0, 'ifindex of lo');
  });

  test('stopReceiving inside the callback: later datagrams stay queued', TIMEOUT, async () => {
    const { s, addr } = udp();
    let calls = 0;
    await new Promise<void>((resolve, reject) => {
      s.startReceiving(
        {},
        () => {
          calls++;
          s.stopReceiving();
          s.stopReceiving(); // idempotent
          resolve();
        },
        reject,
      );
      s.send(Buffer.from('first'), addr);
    });
    s.send(Buffer.from('second'), addr);
    await new Promise((r) => setImmediate(r));
    assert.equal(Buffer.from(s.recvSync(64) ?? []).toString(), 'second');
    assert.equal(calls, 1);
  });

  test('close inside the callback closes the fd; the handle outlives it safely', TIMEOUT, async () => {
    const { s, addr } = udp();
    const link = readlinkSync(`/proc/self/fd/${s.fd}`);
    assert.match(link, /^socket:/);
    await new Promise<void>((resolve, reject) => {
      s.startReceiving({}, () => {
        s.close();
        resolve();
      }, reject);
      s.send(Buffer.from('x'), addr);
      s.send(Buffer.from('y'), addr);
    });
    let now: string | undefined;
    try {
      now = readlinkSync(`/proc/self/fd/${s.fd}`);
    } catch {
      now = undefined;
    }
    assert.notEqual(now, link, 'fd closed');
    assert.equal(s.stats().datagrams >= 1, true, 'stats still readable after close');
    (globalThis as { gc?: () => void }).gc?.();
  });

  test('an error a retry cannot clear is reported and stops the receiver (ENOTCONN)', TIMEOUT, async () => {
    const s = NativeSocket.open(AF.INET, SOCK.STREAM, 0); // unconnected TCP: EPOLLHUP, recvmsg ENOTCONN
    open.push(s);
    const err = await new Promise<ErrnoError>((resolve) => s.startReceiving({}, () => {}, resolve));
    assert.equal(err.code, 'ENOTCONN');
    assert.equal(err.errno, 107);
    assert.equal(s.receiving, false);
    s.close();
  });

  test('EPOLLERR: SO_ERROR is reported, polling is re-armed, an unexplained EPOLLERR stops it', TIMEOUT, async () => {
    // IP_RECVERR on an unconnected UDP socket: a send to a closed port brings back an ICMP port
    // unreachable that sets sk_err (ECONNREFUSED, read via SO_ERROR) and also fills the error queue,
    // which keeps EPOLLERR up after SO_ERROR is cleared. Without the re-arm after the first EPOLLERR,
    // libuv would never call back again and the EIO stop could not happen.
    const { s } = udp();
    const closed = udp();
    const deadAddr = closed.addr;
    closed.s.close();
    s.setsockoptInt(SOL_IP, 11 /* IP_RECVERR */, 1);
    const errs: { code: string; receiving: boolean }[] = [];
    await new Promise<void>((resolve) => {
      s.startReceiving({}, () => {}, (e) => {
        errs.push({ code: e.code, receiving: s.receiving });
        if (!s.receiving) resolve();
      });
      s.send(Buffer.from('ping'), deadAddr);
    });
    assert.deepEqual(errs, [
      { code: 'ECONNREFUSED', receiving: true },
      { code: 'EIO', receiving: false },
    ]);
    assert.ok(s.stats().wakeups >= 17);
  });

  test('NETLINK_ROUTE dump through the poller: multipart replies end with NLMSG_DONE', TIMEOUT, async () => {
    const s = NativeSocket.open(AF.NETLINK, SOCK.RAW, 0);
    open.push(s);
    s.bind(netlinkSockaddr());
    const ifinfomsg = new Uint8Array(16); // family AF_UNSPEC: all links
    const seq = 4242;
    const types: number[] = [];
    await new Promise<void>((resolve, reject) => {
      s.startReceiving(
        {},
        (ds) => {
          for (const d of ds) {
            for (const m of decodeMessages(d.data)) {
              assert.equal(m.seq, seq);
              types.push(m.type);
              if (m.type === NLMSG.DONE) resolve();
            }
          }
        },
        reject,
      );
      s.send(encodeMessage(18 /* RTM_GETLINK */, NLM_F.REQUEST | NLM_F.DUMP, seq, 0, ifinfomsg));
    });
    s.close();
    assert.ok(types.filter((t) => t === 16 /* RTM_NEWLINK */).length >= 1, 'at least lo');
    assert.equal(types.at(-1), NLMSG.DONE);
  });
});

describe('ref/unref', () => {
  const child = fileURLToPath(new URL('./holder-child.js', import.meta.url));
  const run = (mode: 'ref' | 'unref', poke: boolean): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve, reject) => {
      const c = spawn(process.execPath, [child, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
      let out = '';
      c.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /ready (\d+)/.exec(out);
        if (poke && m !== null && !out.includes('poked')) {
          out += 'poked\n';
          const { s } = udp();
          s.send(Buffer.from('hi'), inet4Sockaddr('127.0.0.1', Number(m[1])));
        }
      });
      c.on('error', reject);
      c.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });

  test('a started receiver keeps the process alive until it gets its datagram', TIMEOUT, async () => {
    const r = await run('ref', true);
    assert.equal(r.code, 0);
    assert.match(r.out, /ready \d+\npoked\ngot\n/);
  });

  test('an unref-ed receiver lets the process exit by itself', TIMEOUT, async () => {
    const r = await run('unref', false);
    assert.equal(r.code, 0, 'exited on its own (a kill would give null)');
    assert.doesNotMatch(r.out, /got/);
  });
});

describe('worker_threads', () => {
  test('terminating a worker with a running receiver tears it down cleanly', TIMEOUT, async () => {
    for (let i = 0; i < 5; i++) {
      const w = new Worker(new URL('./worker-child.js', import.meta.url));
      const [first] = (await new Promise((resolve, reject) => {
        w.once('message', (m: unknown) => resolve([m]));
        w.once('error', reject);
      })) as [unknown];
      assert.equal(typeof first, 'number', 'the worker received datagrams');
      assert.equal(await w.terminate(), 1);
    }
  });
});
