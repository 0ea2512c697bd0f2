// The syslog datagram codec against what glibc's syslog(3) sent for conntrackd 1.4.7, and the sender
// and daemon log over real AF_UNIX datagram sockets bound at temporary paths.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { openDaemonLog } from '../../src/daemon/daemon-log.js';
import {
  LOG_FACILITY,
  LOG_SEVERITY,
  SyslogSender,
  decodeSyslogMessage,
  encodeSyslogMessage,
  formatSyslogTimestamp,
  syslogLogger,
  type SyslogMessage,
} from '../../src/daemon/syslog.js';
import { AF, NativeSocket, SOCK, unixSockaddr } from '../../src/native/socket.js';
import { DecodeError } from '../../src/wire/decode-error.js';
import { GOLDEN_DIR } from '../helpers/golden.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** localDate rebuilds the local time a "Mmm dd hh:mm:ss" stamp names (any year: the stamp has none). */
function localDate(stamp: string): Date {
  const m = /^(\w{3}) ([ \d]\d) (\d\d):(\d\d):(\d\d)$/.exec(stamp);
  assert.ok(m !== null, stamp);
  return new Date(2026, MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
}

describe('syslog datagram codec', () => {
  test('the codes are <syslog.h>’s', () => {
    // LOG_DAEMON (3<<3), LOG_LOCAL0 (16<<3) … LOG_LOCAL7 (23<<3); LOG_ERR 3 … LOG_DEBUG 7
    assert.deepEqual(Object.values(LOG_FACILITY), [3, 16, 17, 18, 19, 20, 21, 22, 23]);
    assert.deepEqual(LOG_SEVERITY, { error: 3, warning: 4, notice: 5, info: 6, debug: 7 });
  });

  test('re-encodes every datagram conntrackd 1.4.7 sent through glibc, byte for byte', () => {
    const lines = readFileSync(join(GOLDEN_DIR, 'syslog-conntrackd.txt'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    assert.equal(lines.length, 7);
    for (const line of lines) {
      const raw = Buffer.from(JSON.parse(line) as string, 'utf8');
      const r = decodeSyslogMessage(raw);
      assert.equal(r.ident, 'conntrack-tools');
      const again = encodeSyslogMessage({ facility: r.facility, severity: r.severity, time: localDate(r.timestamp), ident: r.ident, pid: r.pid, message: r.message });
      assert.equal(text(again), text(raw));
    }
    // What the capture shows about conntrackd: `Syslog local3` warnings are <156> (19*8+4), notices <157>; `Syslog on` is LOG_DAEMON.
    const pris = lines.map((l) => /^"<(\d+)>/.exec(l)?.[1]);
    assert.deepEqual(pris, ['156', '157', '157', '157', '29', '29', '29']);
  });

  const base: SyslogMessage = { facility: LOG_FACILITY.daemon, severity: LOG_SEVERITY.notice, time: new Date(2026, 10, 1, 9, 5, 7), ident: 'keepstated', pid: 42, message: 'hi' };
  const cases: readonly [string, Partial<SyslogMessage>, string][] = [
    ['a day below 10 is space-padded (%e)', {}, '<29>Nov  1 09:05:07 keepstated[42]: hi'],
    ['midnight on the 31st', { time: new Date(2026, 11, 31, 0, 0, 0) }, '<29>Dec 31 00:00:00 keepstated[42]: hi'],
    ['local7 debug is the highest PRI, 191', { facility: LOG_FACILITY.local7, severity: LOG_SEVERITY.debug }, '<191>Nov  1 09:05:07 keepstated[42]: hi'],
    ['error at daemon', { severity: LOG_SEVERITY.error }, '<27>Nov  1 09:05:07 keepstated[42]: hi'],
    ['line feeds and UTF-8 are sent as they are, with no final newline', { message: 'a\nb – c' }, '<29>Nov  1 09:05:07 keepstated[42]: a\nb – c'],
    ['an empty message keeps the ": "', { message: '' }, '<29>Nov  1 09:05:07 keepstated[42]: '],
  ];
  for (const [name, over, want] of cases)
    test(name, () => {
      const m = { ...base, ...over };
      const raw = encodeSyslogMessage(m);
      assert.equal(text(raw), want);
      const r = decodeSyslogMessage(raw);
      assert.deepEqual(r, { facility: m.facility, severity: m.severity, timestamp: formatSyslogTimestamp(m.time), ident: m.ident, pid: m.pid, message: m.message });
    });

  test('out-of-range facility or severity is a RangeError', () => {
    assert.throws(() => encodeSyslogMessage({ ...base, facility: 24 }), RangeError);
    assert.throws(() => encodeSyslogMessage({ ...base, severity: 8 }), RangeError);
    assert.throws(() => encodeSyslogMessage({ ...base, severity: 1.5 }), RangeError);
  });

  const bad: readonly [string, string][] = [
    ['no PRI', 'Nov  1 09:05:07 keepstated[42]: hi'],
    ['PRI above 191', '<192>Nov  1 09:05:07 keepstated[42]: hi'],
    ['no pid', '<29>Nov  1 09:05:07 keepstated: hi'],
    ['RFC 5424', '<29>1 2026-11-01T09:05:07Z host keepstated 42 - - hi'],
    ['empty', ''],
  ];
  for (const [name, input] of bad)
    test(`decode refuses ${name}`, () => {
      assert.throws(() => decodeSyslogMessage(Buffer.from(input)), (e: unknown) => e instanceof DecodeError && e.code === 'BAD_VALUE');
    });

  test('property: decode of any bytes returns or throws DecodeError; encode → decode round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        try {
          decodeSyslogMessage(b);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 7 }),
        fc.date({ min: new Date(2000, 0, 1), max: new Date(2099, 0, 1), noInvalidDate: true }),
        fc.stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/),
        fc.integer({ min: 1, max: 4194304 }),
        fc.string({ maxLength: 200 }),
        (facility, severity, time, ident, pid, message) => {
          const m = { facility, severity, time, ident, pid, message };
          const r = decodeSyslogMessage(encodeSyslogMessage(m));
          assert.deepEqual(r, { facility, severity, timestamp: formatSyslogTimestamp(time), ident, pid, message: Buffer.from(message).toString() });
        },
      ),
    );
  });
});

describe('SyslogSender over AF_UNIX datagram sockets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-syslog-'));
  const sockets: NativeSocket[] = [];
  after(() => {
    for (const s of sockets) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let n = 0;
  /** receiver binds a datagram socket at a fresh path in `dir`, as a syslog daemon binds /dev/log. */
  const receiver = (): { s: NativeSocket; path: string } => {
    const path = join(dir, `log${n++}`);
    const s = NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
    sockets.push(s);
    s.bind(unixSockaddr(path));
    return { s, path };
  };
  const at = new Date(2026, 10, 21, 13, 17, 7);

  test('unixSockaddr: family, path, NUL; impossible paths are RangeErrors', () => {
    assert.deepEqual([...unixSockaddr('/a')], [...new Uint8Array(new Uint16Array([AF.UNIX]).buffer), 0x2f, 0x61, 0]);
    assert.throws(() => unixSockaddr(''), RangeError);
    assert.throws(() => unixSockaddr('/a\0b'), RangeError);
    assert.throws(() => unixSockaddr('/' + 'x'.repeat(107)), RangeError);
    assert.equal(unixSockaddr('/' + 'x'.repeat(106)).length, 2 + 108);
  });

  test('each line is one datagram in syslog(3) form with the configured facility', () => {
    const { s, path } = receiver();
    const sender = new SyslogSender({ facility: 'local3', path, pid: 4242, now: () => at });
    assert.equal(sender.send('warning', 'scheduler configuration failed'), true);
    assert.equal(sender.send('notice', 'initialization completed'), true);
    assert.equal(text(s.recvSync(4096)!), '<156>Nov 21 13:17:07 keepstated[4242]: scheduler configuration failed');
    assert.equal(text(s.recvSync(4096)!), '<157>Nov 21 13:17:07 keepstated[4242]: initialization completed');
    assert.equal(s.recvSync(4096), null);
    assert.deepEqual(sender.stats, { sent: 2, failed: 0, lastError: undefined });
    sender.close();
    assert.equal(sender.send('notice', 'after close'), false);
    assert.equal(s.recvSync(4096), null);
  });

  test('no socket at the path: lines are counted as lost, reported once, never thrown; a receiver bound later gets the next line', () => {
    const path = join(dir, 'not-yet');
    const reasons: string[] = [];
    const sender = new SyslogSender({ facility: 'daemon', path, onFirstFailure: (r) => reasons.push(r) });
    assert.equal(sender.send('notice', 'one'), false);
    assert.equal(sender.send('error', 'two'), false);
    assert.deepEqual(sender.stats, { sent: 0, failed: 2, lastError: 'ENOENT' });
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /^syslog: can't send to .*not-yet \(ENOENT: no syslog daemon listening\)/);
    const s = NativeSocket.open(AF.UNIX, SOCK.DGRAM, 0);
    sockets.push(s);
    s.bind(unixSockaddr(path));
    assert.equal(sender.send('notice', 'three'), true);
    assert.equal(decodeSyslogMessage(s.recvSync(4096)!).message, 'three');
    assert.equal(reasons.length, 1);
    sender.close();
  });

  test('an impossible path fails each send (counted, reported once), not the constructor', () => {
    const reasons: string[] = [];
    const sender = new SyslogSender({ facility: 'daemon', path: '/' + 'x'.repeat(200), onFirstFailure: (r) => reasons.push(r) });
    assert.equal(sender.send('notice', 'x'), false);
    assert.equal(sender.send('notice', 'y'), false);
    assert.equal(sender.stats.failed, 2);
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /not a usable AF_UNIX socket path/);
    sender.close();
  });

  test('a socket file nobody listens on any more is ECONNREFUSED', () => {
    const { s, path } = receiver();
    s.close(); // the file stays, as after a syslog daemon crashed
    const sender = new SyslogSender({ facility: 'daemon', path });
    assert.equal(sender.send('notice', 'x'), false);
    assert.equal(sender.stats.lastError, 'ECONNREFUSED');
    sender.close();
  });

  test('a receiver that does not read: the sender never blocks, the overflow is EAGAIN and counted', () => {
    const { s, path } = receiver();
    const sender = new SyslogSender({ facility: 'daemon', path });
    let sent = 0;
    while (sender.send('info', `line ${sent}`)) {
      sent++;
      assert.ok(sent < 100_000, 'the receive queue never filled');
    }
    assert.ok(sent > 0);
    assert.deepEqual(sender.stats, { sent, failed: 1, lastError: 'EAGAIN' });
    let got = 0;
    while (s.recvSync(4096) !== null) got++;
    assert.equal(got, sent, 'every line the sender counted as sent arrived');
    sender.close();
  });

  test('syslogLogger drops debug lines unless asked for them', () => {
    const { s, path } = receiver();
    const sender = new SyslogSender({ facility: 'daemon', path });
    syslogLogger(sender).log('debug', 'hidden');
    syslogLogger(sender, { debug: true }).log('debug', 'shown');
    const r = decodeSyslogMessage(s.recvSync(4096)!);
    assert.deepEqual([r.severity, r.message], [LOG_SEVERITY.debug, 'shown']);
    assert.equal(s.recvSync(4096), null);
    sender.close();
  });

  test('openDaemonLog: every line goes to LogFile and syslog; a lost syslog is one warning in the file, then a count at close', () => {
    const { s, path } = receiver();
    const file = join(dir, 'daemon.log');
    const dl = openDaemonLog({ logFile: file, syslogFacility: 'local0' }, { syslogPath: path });
    dl.log.log('notice', '-- starting in daemon mode --');
    dl.log.log('error', 'boom');
    const r1 = decodeSyslogMessage(s.recvSync(4096)!);
    const r2 = decodeSyslogMessage(s.recvSync(4096)!);
    assert.deepEqual([r1.facility * 8 + r1.severity, r1.message, r1.pid], [133, '-- starting in daemon mode --', process.pid]);
    assert.deepEqual([r2.facility * 8 + r2.severity, r2.message], [131, 'boom']);
    assert.match(readFileSync(file, 'utf8'), /\[notice\] -- starting in daemon mode --\n.*\[ERROR\] boom\n$/);
    dl.close();

    const lostFile = join(dir, 'lost.log');
    const lost = openDaemonLog({ logFile: lostFile, syslogFacility: 'daemon' }, { syslogPath: join(dir, 'nobody') });
    for (const m of ['a', 'b', 'c']) lost.log.log('notice', m);
    assert.deepEqual(lost.syslog, { sent: 0, failed: 3, lastError: 'ENOENT' });
    lost.close();
    const lines = readFileSync(lostFile, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 5);
    assert.match(lines[1]!, /\[warning\] syslog: can't send to .*nobody \(ENOENT/);
    assert.match(lines[4]!, /\[notice\] syslog: 3 of 3 lines could not be sent to .*nobody \(last error ENOENT\)$/);

    const off = openDaemonLog({ logFile: join(dir, 'off.log'), syslogFacility: undefined });
    assert.equal(off.syslog, undefined);
    off.close();
  });
});
