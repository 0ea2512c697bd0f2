// The commit's sender (src/netlink/batch-sender.ts) against the kernel: batches that span several
// sendmsg calls (by count and by bytes), refused messages reported with their index and errno,
// everything else created.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPCTNL_MSG_CT, IPPROTO, IPS, NFNL_SUBSYS } from '../../src/ctnetlink/consts.js';
import { nfMsgType } from '../../src/ctnetlink/nfgenmsg.js';
import { ctCreate } from '../../src/ctnetlink/requests.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { BatchSender } from '../../src/netlink/batch-sender.js';
import { NLM_F } from '../../src/netlink/consts.js';
import { Writer } from '../../src/wire/writer.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';

const skip = rootSkipReason();

function udp(i: number): Conntrack {
  const src = `10.9.${(i >> 8) & 255}.${i & 255}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '198.51.100.7', proto: IPPROTO.UDP, srcPort: 5000, dstPort: 53 },
    reply: { family: 'ipv4', src: '198.51.100.7', dst: src, proto: IPPROTO.UDP, srcPort: 53, dstPort: 5000 },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY,
    timeout: 600,
  };
}

/** frame writes the requests as netlink messages with seq = index, as the committer does. */
function frame(bodies: readonly Uint8Array[], type: number, flags: number): { buf: Uint8Array; ends: Uint32Array } {
  const w = new Writer(1024);
  const ends = new Uint32Array(bodies.length);
  bodies.forEach((b, i) => {
    const at = w.length;
    w.u32ne(0).u16ne(type).u16ne(flags | NLM_F.REQUEST).u32ne(i).u32ne(0).bytes(b);
    w.setU32ne(at, w.length - at);
    w.align4();
    ends[i] = w.length;
  });
  return { buf: w.finish(), ends };
}

describe('BatchSender', { skip }, () => {
  let ns: Netns;
  let ct: ConntrackClient;
  before(() => {
    ns = Netns.create('bsend');
    ct = ConntrackClient.open({ netns: ns.name });
  });
  after(() => {
    ct?.close();
    ns?.close();
  });

  it('creates 3000 entries over several sends and reports the refused ones by index', async () => {
    const N = 3000;
    const bodies = Array.from({ length: N }, (_, i) => ctCreate(udp(i)).body);
    // Entries 1500 and 2999 exist already: their creates fail with EEXIST; a truncated body fails too.
    await ct.create([udp(1500), udp(2999)]);
    bodies[7] = bodies[7]!.subarray(0, 4); // struct nfgenmsg only: no tuple
    const { buf, ends } = frame(bodies, nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.NEW), NLM_F.CREATE | NLM_F.EXCL);
    const sender = BatchSender.open(12, 'create', { netns: ns.name });
    try {
      const failures = await sender.send(buf, ends);
      assert.deepEqual(
        failures.map((f) => [f.i, f.code]).sort((a, b) => Number(a[0]) - Number(b[0])),
        [
          [7, 'EINVAL'],
          [1500, 'EEXIST'],
          [2999, 'EEXIST'],
        ],
      );
      assert.equal((await ct.count()).entries, N - 1); // all but the truncated one
    } finally {
      sender.close();
    }
  });

  it('deletes in batches and reports the missing ones (ENOENT)', async () => {
    const bodies = Array.from({ length: 2100 }, (_, i) => ctCreate(udp(i)).body);
    const { buf, ends } = frame(bodies, nfMsgType(NFNL_SUBSYS.CTNETLINK, IPCTNL_MSG_CT.DELETE), 0);
    const sender = BatchSender.open(12, 'delete', { netns: ns.name });
    try {
      const failures = await sender.send(buf, ends);
      assert.deepEqual(
        failures.map((f) => [f.i, f.code]),
        [[7, 'ENOENT']],
      );
      assert.equal((await ct.count()).entries, 3000 - 1 - 2099);
    } finally {
      sender.close();
    }
  });
});
