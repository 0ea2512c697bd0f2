// systemd's notification protocol: the datagram codec, the socket address of $NOTIFY_SOCKET, the
// watchdog settings as sd_watchdog_enabled reads them, and SdNotifier over real AF_UNIX datagram
// sockets (a path in a temporary directory, and an abstract name).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { LogLevel, Logger } from '../../src/daemon/log.js';
import { SdNotifier, decodeNotifyMessage, encodeNotifyMessage, notifySockaddr, watchdogSetting, type NotifyState } from '../../src/daemon/sd-notify.js';
import { AF, NativeSocket, SOCK, unixSockaddr } from '../../src/native/socket.js';
import { DecodeError } from '../../src/wire/decode-error.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

/** memoryLog keeps what a Logger was given. */
function memoryLog(): Logger & { lines: [LogLevel, string][] } {
  const lines: [LogLevel, string][] = [];
  return { lines, log: (level, message) => void lines.push([level, message]) };
}

describe('sd_notify datagram codec', () => {
  test('assignments are KEY=VALUE lines joined by a line feed, with no trailing one', () => {
    assert.equal(text(encodeNotifyMessage([['READY', '1']])), 'READY=1');
    assert.equal(text(encodeNotifyMessage([['MAINPID', '4242'], ['READY', '1']])), 'MAINPID=4242\nREADY=1');
    assert.equal(text(encodeNotifyMessage([['STATUS', 'syncing: 10 000 entries = ok']])), 'STATUS=syncing: 10 000 entries = ok');
  });

  test('what systemd would not take is refused before sending', () => {
    assert.throws(() => encodeNotifyMessage([]), RangeError);
    assert.throws(() => encodeNotifyMessage([['ready', '1']]), /\[A-Z0-9_\]/);
    assert.throws(() => encodeNotifyMessage([['READY=1', '']]), RangeError);
    assert.throws(() => encodeNotifyMessage([['STATUS', 'two\nlines']]), /line feed/);
  });

  test('decode reads what systemd accepts: empty lines and a trailing line feed are skipped, "=" may appear in a value', () => {
    assert.deepEqual(decodeNotifyMessage(Buffer.from('READY=1\n\nSTATUS=a=b\n')), [
      ['READY', '1'],
      ['STATUS', 'a=b'],
    ]);
    const e = (() => {
      try {
        decodeNotifyMessage(Buffer.from('READY=1\nWATCHDOG'));
      } catch (x) {
        return x;
      }
      return undefined;
    })();
    assert.ok(e instanceof DecodeError, String(e));
    assert.equal(e.offset, 8, 'the offset of the bad line');
    assert.throws(() => decodeNotifyMessage(Buffer.from('=1')), DecodeError);
  });

  test('round trip', () => {
    const state = fc.tuple(fc.stringMatching(/^[A-Z0-9_]{1,12}$/), fc.string({ unit: 'grapheme' }).filter((v) => !v.includes('\n')));
    fc.assert(
      fc.property(fc.array(state, { minLength: 1, maxLength: 6 }), (states: NotifyState[]) => {
        assert.deepEqual(decodeNotifyMessage(encodeNotifyMessage(states)), states);
      }),
    );
  });
});

describe('NOTIFY_SOCKET addresses', () => {
  test('an absolute path is a NUL-terminated sockaddr_un, as unixSockaddr', () => {
    assert.deepEqual(notifySockaddr('/run/systemd/notify'), unixSockaddr('/run/systemd/notify'));
  });

  test('@name is the abstract name: a NUL first, the exact length, no NUL after', () => {
    const sa = notifySockaddr('@sd-notify/42');
    assert.equal(sa.length, 2 + 1 + 'sd-notify/42'.length);
    assert.deepEqual([...sa.subarray(0, 3)], [...unixSockaddr('/x').subarray(0, 2), 0]);
    assert.equal(text(sa.subarray(3)), 'sd-notify/42');
  });

  test('a relative path, a bare "@", an over-long name are refused (sd_notify: -EINVAL)', () => {
    assert.throws(() => notifySockaddr('run/notify'), /absolute path or an @abstract name/);
    assert.throws(() => notifySockaddr('@'), RangeError);
    assert.throws(() => notifySockaddr('@' + 'n'.repeat(108)), /longer than 107/);
    assert.throws(() => notifySockaddr('/' + 'p'.repeat(200)), RangeError);
  });
});

describe('watchdog settings (sd_watchdog_enabled)', () => {
  test('no WATCHDOG_USEC: off; set: on, pinging at half the interval', () => {
    assert.deepEqual(watchdogSetting({}, 10), { kind: 'off' });
    assert.deepEqual(watchdogSetting({ WATCHDOG_USEC: '60000000' }, 10), { kind: 'on', pingEveryMs: 30_000 });
    assert.deepEqual(watchdogSetting({ WATCHDOG_USEC: '1000' }, 10), { kind: 'on', pingEveryMs: 1 }, 'never below 1 ms');
    assert.deepEqual(watchdogSetting({ WATCHDOG_USEC: String(10 ** 13) }, 10), { kind: 'on', pingEveryMs: 2 ** 31 - 1 }, 'capped at what a timer takes');
  });

  test('WATCHDOG_PID: ours is on, another process’s is off', () => {
    assert.equal(watchdogSetting({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: '10' }, 10).kind, 'on');
    assert.equal(watchdogSetting({ WATCHDOG_USEC: '2000000', WATCHDOG_PID: '11' }, 10).kind, 'off');
  });

  test('values that are not numbers are invalid, with the reason', () => {
    for (const env of [{ WATCHDOG_USEC: '0' }, { WATCHDOG_USEC: '-5' }, { WATCHDOG_USEC: '1s' }, { WATCHDOG_USEC: '5', WATCHDOG_PID: 'x' }, { WATCHDOG_USEC: '5', WATCHDOG_PID: '0' }]) {
      const w = watchdogSetting(env, 10);
      assert.equal(w.kind, 'invalid', JSON.stringify(env));
    }
  });
});

describe('SdNotifier over real AF_UNIX datagram sockets', () => {
  let dir: string;
  let receiver: NativeSocket;
  let abstract: NativeSocket;
  const abstractName = `@keepstate-test-sd-notify-${process.pid}`;

  const drain = (s: NativeSocket): string[] => {
    const out: string[] = [];
    for (let d = s.recvSync(4096); d !== null; d = s.recvSync(4096)) out.push(text(d));
    return out;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ks-sdnotify-'));
    receiver = NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
    receiver.bind(unixSockaddr(join(dir, 'notify')));
    abstract = NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
    abstract.bind(notifySockaddr(abstractName));
  });
  after(() => {
    receiver?.close();
    abstract?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('no notifier without NOTIFY_SOCKET, with an empty one, or with Systemd off', () => {
    const log = memoryLog();
    assert.equal(SdNotifier.fromEnv({}, true, log), undefined);
    assert.equal(SdNotifier.fromEnv({ NOTIFY_SOCKET: '' }, true, log), undefined);
    assert.equal(SdNotifier.fromEnv({ NOTIFY_SOCKET: join(dir, 'notify') }, false, log), undefined);
    assert.deepEqual(log.lines, []);
  });

  test('messages reach a path and an abstract name, one datagram each', () => {
    const log = memoryLog();
    const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: join(dir, 'notify') }, true, log)!;
    assert.equal(n.notify(['READY', '1']), true);
    assert.equal(n.notify(['MAINPID', '77'], ['READY', '1']), true);
    n.close();
    assert.equal(n.notify(['STOPPING', '1']), false, 'nothing after close');
    assert.deepEqual(drain(receiver), ['READY=1', 'MAINPID=77\nREADY=1']);
    const a = SdNotifier.fromEnv({ NOTIFY_SOCKET: abstractName }, true, log)!;
    assert.equal(a.notify(['STOPPING', '1']), true);
    a.close();
    assert.deepEqual(drain(abstract), ['STOPPING=1']);
    assert.deepEqual(log.lines, []);
  });

  test('STOPPING=1 ends the watchdog: no ping follows it while the daemon cleans up', async () => {
    const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: join(dir, 'notify') }, true, memoryLog())!;
    drain(receiver);
    n.startWatchdog(watchdogSetting({ WATCHDOG_USEC: '20000' }, process.pid)); // every 10 ms
    const end = Date.now() + 20_000; // hang guard
    while (n.stats.sent === 0) {
      assert.ok(Date.now() < end, 'a first ping');
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(n.stopping(), true);
    await new Promise((r) => setTimeout(r, 50)); // five ping periods, the socket still open
    const got = drain(receiver);
    n.close();
    assert.equal(got.at(-1), 'STOPPING=1', JSON.stringify(got));
  });

  test('a socket nobody listens on: never throws, one warning, failures counted', () => {
    const log = memoryLog();
    const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: join(dir, 'nobody') }, true, log)!;
    assert.equal(n.notify(['READY', '1']), false);
    assert.equal(n.notify(['WATCHDOG', '1']), false);
    assert.deepEqual(n.stats, { sent: 0, failed: 2 });
    assert.deepEqual(log.lines, [['warning', `systemd: can't notify ${join(dir, 'nobody')} (ENOENT); further failures are not reported`]]);
    n.close();
    const bad = SdNotifier.fromEnv({ NOTIFY_SOCKET: 'relative' }, true, log)!;
    assert.equal(bad.notify(['READY', '1']), false);
    assert.match(log.lines[1]![1], /can't notify relative \(NOTIFY_SOCKET must be an absolute path/);
  });

  test('the watchdog pings WATCHDOG=1 until closed; an invalid setting is logged and pings nothing', async () => {
    const log = memoryLog();
    const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: join(dir, 'notify') }, true, log)!;
    n.startWatchdog(watchdogSetting({ WATCHDOG_USEC: '20000' }, process.pid)); // every 10 ms
    const got: string[] = [];
    const end = Date.now() + 20_000; // hang guard
    while (got.length < 3) {
      assert.ok(Date.now() < end, 'three pings');
      await new Promise((r) => setTimeout(r, 20));
      got.push(...drain(receiver));
    }
    n.close();
    assert.deepEqual(new Set(got), new Set(['WATCHDOG=1']));
    const sentAtClose = n.stats.sent;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(n.stats.sent, sentAtClose, 'no ping after close');
    drain(receiver);

    const m = SdNotifier.fromEnv({ NOTIFY_SOCKET: join(dir, 'notify') }, true, log)!;
    m.startWatchdog(watchdogSetting({ WATCHDOG_USEC: 'soon' }, process.pid));
    await new Promise((r) => setTimeout(r, 30));
    m.close();
    assert.deepEqual(drain(receiver), []);
    assert.deepEqual(log.lines, [['warning', 'failed to get watchdog details from systemd: WATCHDOG_USEC="soon" is not a positive number of microseconds']]);
  });
});
