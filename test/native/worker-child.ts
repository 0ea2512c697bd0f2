// Worker for socket.test.ts: runs a receiver on loopback inside a worker_thread and reports its first
// batch; the test then terminates the worker while the receiver is still running.
import { parentPort } from 'node:worker_threads';
import { AF, NativeSocket, SOCK, inet4Sockaddr } from '../../src/native/socket.js';

const s = NativeSocket.open(AF.INET, SOCK.DGRAM, 0);
s.bind(inet4Sockaddr('127.0.0.1', 0));
const self = s.getsockname();
s.startReceiving(
  {},
  (ds) => parentPort?.postMessage(ds.length),
  (e) => parentPort?.postMessage(e.code),
);
setInterval(() => s.send(Buffer.from('tick'), self), 1);
