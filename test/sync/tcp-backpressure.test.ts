// The TCP link's client against a peer that accepts and then reads nothing (slow or hung), on the
// loopback: once the kernel's send buffer is full, node:net must not queue without limit. Messages
// go to the error queue (ErrorQueueLength), each counting a send error as conntrackd's EAGAIN
// does; a full queue drops its oldest; one error is reported per blocked period; once the peer
// reads again the queue is written out in order and nothing else is lost.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { parseConntrackdConfig, type TcpChannel } from '../../src/config/conntrackd/index.js';
import { openTcpChannel, type TcpSyncChannel } from '../../src/sync/tcp-channel.js';
import { until } from '../helpers/until.js';

const LEN = 1400;
const QUEUE = 8;

/** msg is message `seq`: a version-1 header of LEN bytes whose bytes 4..7 carry `seq`. */
function msg(seq: number): Uint8Array {
  const b = new Uint8Array(LEN);
  const v = new DataView(b.buffer);
  b[0] = 0x10;
  v.setUint16(2, LEN);
  v.setUint32(4, seq);
  return b;
}

function tcpConfig(port: number): TcpChannel {
  const text = `Sync {\n Mode NOTRACK { }\n TCP {\n  IPv4_address 127.0.0.1\n  IPv4_Destination_Address 127.0.0.2\n  Port ${port}\n  Interface lo\n }\n}\n`;
  const c = parseConntrackdConfig(text, 'test.conf').config.sync?.channels[0];
  assert.equal(c?.kind, 'tcp');
  return c as TcpChannel;
}

describe('TCP link client with a peer that stops reading', { timeout: 60_000 }, () => {
  let ch: TcpSyncChannel | undefined;
  const peerServer = net.createServer();
  const accepted: net.Socket[] = [];
  after(async () => {
    await ch?.close();
    for (const s of accepted) s.destroy();
    await new Promise((r) => peerServer.close(r));
  });

  it('bounds what waits in user space, counts and reports the backpressure, drops the oldest, and recovers in order', async () => {
    peerServer.on('connection', (s) => {
      s.pause(); // a peer that reads nothing: its receive buffer, then our send buffer, fill up
      accepted.push(s);
    });
    await new Promise<void>((r) => peerServer.listen(0, '127.0.0.2', r));
    const port = (peerServer.address() as net.AddressInfo).port;
    ch = await openTcpChannel(tcpConfig(port), { errorQueueLength: QUEUE });
    const errors: Error[] = [];
    ch.onError((e) => errors.push(e));
    await until('the client connection', () => ch!.connections().client);

    // Send until the channel queues (the kernel took what it could), then 50 more.
    let seq = 0;
    const before = ch.stats().errorsSend;
    while (ch.queued === 0 && seq < 50_000) ch.send(msg(seq++)); // (the kernel takes a few MB)
    assert.ok(ch.queued > 0, `the channel still writes to node:net after ${seq} messages`);
    const firstQueued = seq - 1;
    for (let i = 0; i < 50; i++) ch.send(msg(seq++));
    assert.equal(ch.queued, QUEUE, 'the error queue holds ErrorQueueLength messages, no more');
    assert.equal(ch.errorQueueDrops, 51 - QUEUE, 'the oldest were dropped to make room');
    assert.equal(ch.stats().errorsSend - before, 51, 'each message refused by the full buffer is a send error');
    assert.equal(errors.length, 1, 'one report for the blocked period');
    assert.match(errors[0]!.message, /send buffer full/);

    // The peer reads again: the queue drains; the stream holds every message but the dropped ones, in order.
    const got: number[] = [];
    let rest = Buffer.alloc(0);
    const peer = accepted[0]!;
    peer.on('data', (d: Buffer) => {
      rest = Buffer.concat([rest, d]);
      while (rest.length >= LEN) {
        got.push(rest.readUInt32BE(4));
        rest = rest.subarray(LEN);
      }
    });
    peer.resume();
    const expected = [...Array.from({ length: firstQueued }, (_, i) => i), ...Array.from({ length: QUEUE }, (_, i) => seq - QUEUE + i)];
    await until('every kept message at the peer', () => got.length >= expected.length);
    assert.equal(ch.queued, 0);
    assert.deepEqual(got.slice(0, firstQueued), expected.slice(0, firstQueued), 'what node:net took arrives whole and in order');
    assert.deepEqual(got.slice(firstQueued), expected.slice(firstQueued), 'then the newest ErrorQueueLength messages');
    // Unblocked: a new message is written at once, and a later blocked period would be reported again.
    ch.send(msg(seq));
    await until('the next message at the peer', () => got.at(-1) === seq);
    assert.equal(errors.length, 1);
  });
});
