// Child process for the ref/unref tests in socket.test.ts: it starts a UDP receiver on loopback and
// prints "ready <port>". In mode "ref" it waits for one datagram, prints "got" and closes; in mode
// "unref" it unrefs the receiver, so the process must exit on its own without receiving anything.
import { AF, NativeSocket, SOCK, inet4Sockaddr } from '../../src/native/socket.js';

const mode = process.argv[2];
const s = NativeSocket.open(AF.INET, SOCK.DGRAM, 0);
s.bind(inet4Sockaddr('127.0.0.1', 0));
s.startReceiving(
  {},
  () => {
    process.stdout.write('got\n');
    s.close();
  },
  (e) => {
    process.stdout.write(`error ${e.code}\n`);
    s.close();
  },
);
if (mode === 'unref') s.unref();
const name = s.getsockname();
process.stdout.write(`ready ${(name[2]! << 8) | name[3]!}\n`);
