// Sync channels without privileges: a UDP channel on loopback in this process's namespace (it sends
// to its own receive socket), and the configuration errors openChannel reports before any traffic.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConntrackdConfig, type MulticastChannel, type UdpChannel } from '../../src/config/conntrackd/index.js';
import { ChannelError, openChannel, type DatagramSource } from '../../src/sync/channel.js';

function channel(block: string): MulticastChannel | UdpChannel {
  const c = parseConntrackdConfig(`Sync {\n Mode FTFW { }\n ${block}\n}\n`, 'test.conf').config.sync?.channels[0];
  if (c === undefined || c.kind === 'tcp') throw new Error('no UDP/Multicast channel in ' + block);
  return c;
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms; // a hang guard, not a performance bound
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A port unlikely to be taken on a shared machine. */
const PORT = 20000 + (process.pid % 20000);

describe('openChannel on loopback', () => {
  it('a UDP channel to itself on lo: sizes from the interface, datagrams and counters', async () => {
    const ch = await openChannel(channel(`UDP { IPv4_address 127.0.0.1\n IPv4_Destination_Address 127.0.0.1\n Port ${PORT}\n Interface lo }`));
    try {
      assert.equal(ch.kind, 'udp');
      assert.equal(ch.family, 'ipv4');
      assert.equal(ch.device, 'lo');
      assert.equal(ch.mtu, 65536);
      assert.equal(ch.overhead, 28);
      assert.equal(ch.netns, undefined);
      const got: { d: number[]; from: DatagramSource }[] = [];
      ch.onDatagram((d, from) => got.push({ d: [...d], from }));
      ch.send(Uint8Array.of(1, 2, 3));
      ch.send(new Uint8Array(1400).fill(7));
      await until('both datagrams', () => got.length === 2);
      assert.deepEqual(got[0]!.d, [1, 2, 3]);
      assert.equal(got[1]!.d.length, 1400);
      assert.equal(got[0]!.from.address, '127.0.0.1');
      assert.notEqual(got[0]!.from.port, PORT, 'sent from the unbound send socket, not the receive socket');
      assert.deepEqual(ch.stats(), { bytesSent: 1403, bytesRecv: 1403, packetsSent: 2, packetsRecv: 2, errorsSend: 0, errorsRecv: 0, rcvQueueDrops: 0 });
    } finally {
      await ch.close();
    }
  });

  it('a missing interface is a CHANNEL_NO_INTERFACE error naming it', async () => {
    const cfg = channel(`Multicast { IPv4_address 225.0.0.50\n Interface ks-none9\n Group ${PORT} }`);
    await assert.rejects(openChannel(cfg), (e: unknown) => e instanceof ChannelError && e.code === 'CHANNEL_NO_INTERFACE' && /interface ks-none9 does not exist/.test(e.message));
  });

  it('a missing namespace is a CHANNEL_NO_NETNS error naming it', async () => {
    const cfg = channel(`Multicast { IPv4_address 225.0.0.50\n Interface lo\n Group ${PORT} }`);
    await assert.rejects(openChannel(cfg, { netns: 'ks-none-ns9' }), (e: unknown) => e instanceof ChannelError && e.code === 'CHANNEL_NO_NETNS' && e.message.includes('ks-none-ns9'));
  });

  it('a Multicast group that is no multicast address is a CHANNEL_BAD_CONFIG error', async () => {
    const cfg: MulticastChannel = { ...(channel(`Multicast { IPv4_address 225.0.0.50\n Interface lo\n Group ${PORT} }`) as MulticastChannel), group: '10.1.2.3' };
    await assert.rejects(openChannel(cfg), (e: unknown) => e instanceof ChannelError && e.code === 'CHANNEL_BAD_CONFIG' && e.message.includes('10.1.2.3'));
  });

  it('a local address the namespace does not have fails at bind, naming the address', async () => {
    const cfg = channel(`UDP { IPv4_address 192.0.2.77\n IPv4_Destination_Address 127.0.0.1\n Port ${PORT}\n Interface lo }`);
    await assert.rejects(openChannel(cfg), (e: unknown) => e instanceof ChannelError && e.code === 'CHANNEL_SOCKET' && /bind 192\.0\.2\.77:\d+: EADDRNOTAVAIL/.test(e.message));
  });
});
