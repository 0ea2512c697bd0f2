import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { describe, test } from 'node:test';
import { nativeBinding } from '../../src/native/binding.js';
import { AF, ErrnoError, NativeSocket, SOCK, SOL_SOCKET, inet4Sockaddr, netlinkSockaddr } from '../../src/native/socket.js';

const isErrno = (code: string, syscall?: string) => (e: unknown): boolean => {
  assert.ok(e instanceof ErrnoError, `expected ErrnoError, got ${String(e)}`);
  assert.equal(e.code, code);
  assert.equal(e.errno, (constants.errno as Record<string, number>)[code]);
  if (syscall !== undefined) assert.equal(e.syscall, syscall);
  return true;
};

describe('native binding', () => {
  test('loads and exposes every function', () => {
    const b = nativeBinding();
    for (const name of ['socket', 'close', 'bind', 'getsockname', 'setsockopt', 'getsockopt', 'sendto', 'recv',
      'ifNameToIndex', 'setns', 'pollStart', 'pollStop', 'pollRef', 'pollStats'] as const) {
      assert.equal(typeof b[name], 'function', name);
    }
    assert.equal(nativeBinding(), b, 'loaded once');
  });

  test('raw binding errors carry {code, errno, syscall}', () => {
    const b = nativeBinding();
    const fd = b.socket(AF.INET, SOCK.DGRAM, 0);
    b.close(fd);
    assert.throws(
      () => b.bind(fd, inet4Sockaddr('127.0.0.1')),
      (e: unknown) => {
        const x = e as { code?: unknown; errno?: unknown; syscall?: unknown };
        return e instanceof Error && x.code === 'EBADF' && x.errno === constants.errno.EBADF && x.syscall === 'bind';
      },
    );
  });

  test('argument type errors are TypeErrors, not crashes', () => {
    const b = nativeBinding();
    assert.throws(() => (b.socket as unknown as (x: string) => number)('x'), TypeError);
    assert.throws(() => (b.bind as unknown as (fd: number, x: number[]) => void)(0, [1, 2]), TypeError);
    assert.throws(() => (b.sendto as unknown as (...a: unknown[]) => number)(0, 'str', null, 0), TypeError);
  });

  test('socket() of an unknown family is EAFNOSUPPORT', () => {
    assert.throws(() => NativeSocket.open(4000, SOCK.DGRAM, 0), isErrno('EAFNOSUPPORT', 'socket'));
  });

  test('bind on a closed fd is EBADF; so is any use of a closed NativeSocket', () => {
    const s = NativeSocket.open(AF.NETLINK, SOCK.RAW, 0);
    nativeBinding().close(s.fd); // behind the wrapper's back: the kernel answers EBADF
    assert.throws(() => s.bind(netlinkSockaddr()), isErrno('EBADF', 'bind'));
    assert.throws(() => s.send(new Uint8Array(16)), isErrno('EBADF', 'sendmsg'));
    const t = NativeSocket.open(AF.INET, SOCK.DGRAM, 0);
    t.close();
    t.close(); // idempotent
    assert.throws(() => t.getsockname(), isErrno('EBADF'));
  });

  test('an unknown socket option is ENOPROTOOPT', () => {
    using s = NativeSocket.open(AF.INET, SOCK.DGRAM, 0);
    assert.throws(() => s.setsockoptInt(SOL_SOCKET, 9999, 1), isErrno('ENOPROTOOPT', 'setsockopt'));
    assert.throws(() => s.getsockoptInt(SOL_SOCKET, 9999), isErrno('ENOPROTOOPT', 'getsockopt'));
  });

  test('send without a destination on an unconnected UDP socket is EDESTADDRREQ', () => {
    using s = NativeSocket.open(AF.INET, SOCK.DGRAM, 0);
    assert.throws(() => s.send(new Uint8Array(4)), isErrno('EDESTADDRREQ', 'sendmsg'));
  });

  test('ifNameToIndex: lo exists, a name that is too long is ENODEV', () => {
    assert.equal(typeof nativeBinding().ifNameToIndex('lo'), 'number');
    assert.throws(() => nativeBinding().ifNameToIndex('x'.repeat(40)), (e: unknown) => (e as { code?: string }).code === 'ENODEV');
    assert.throws(() => nativeBinding().ifNameToIndex('nosuchif0'), (e: unknown) => (e as { code?: string }).code === 'ENODEV');
  });

  test('argument ranges are checked in TypeScript', () => {
    using s = NativeSocket.open(AF.INET, SOCK.DGRAM, 0);
    assert.throws(() => s.recvSync(0), RangeError);
    assert.throws(() => s.startReceiving({ slots: 0 }, () => {}, () => {}), RangeError);
    using n = NativeSocket.open(AF.NETLINK, SOCK.RAW, 0);
    assert.throws(() => n.startReceiving({ slotSize: 4096 }, () => {}, () => {}), RangeError, 'netlink slots below 32 KiB');
    assert.equal(n.receiving, false);
  });
});
