// Filter's Mark on real traffic: an nftables `ct mark set` rule chooses which connections are
// replicated (ct_sync's cmarkbit). UDP datagrams sent in the node's namespace make two flows; the
// rule marks one; only that one reaches the internal cache.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IPPROTO } from '../../src/ctnetlink/consts.js';
import { nft } from '../../lab/link.js';
import { rootSkipReason } from '../../lab/netns.js';
import { startSoloNode, type SoloNode } from '../../lab/solo-node.js';

const FILTER = '\n  Filter From Userspace {\n    Mark Accept { 0x10/0xff }\n  }';
const RULES = `table inet ks_mark {
  chain out {
    type filter hook output priority 0;
    udp dport 5353 ct mark set 0x10
  }
}
`;

describe('Filter Mark chosen by an nftables rule on real traffic', { skip: rootSkipReason(), timeout: 60_000 }, () => {
  let solo: SoloNode | undefined;
  before(async () => {
    solo = await startSoloNode('fm', '10.238.0', (c) => c.replace('General {', `General {${FILTER}`));
    nft(solo.a, RULES);
  });
  after(async () => {
    await solo?.close();
  });

  it('replicates the flow the rule marked and not the other', async () => {
    const { a, node } = solo!;
    // One datagram to each port from the namespace (the flows exist once the datagrams leave).
    a.exec('python3', ['-c', 'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor p in (5353,7777): s.sendto(b"x",("127.0.0.1",p))']);
    const ports = (): number[] =>
      [...node.replicator.internal.live()]
        .map((o) => o.ct)
        .filter((ct) => ct.orig?.proto === IPPROTO.UDP)
        .map((ct) => ct.orig?.dstPort ?? 0);
    const end = Date.now() + 20_000; // hang guard
    // Both events handled: the marked flow cached, the other either filtered or (if the filter were broken) cached.
    const settled = (): boolean => ports().includes(5353) && (node.replicator.internal.stats.filtered > 0 || ports().includes(7777));
    while (!settled() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const kernel = a.exec('conntrack', ['-L', '-p', 'udp']);
    assert.match(kernel, /dport=7777/, 'the unmarked flow is in the kernel');
    assert.match(kernel, /dport=5353 .*mark=16/, 'the rule marked the other');
    assert.deepEqual(ports(), [5353], 'only the marked flow is replicated');
    assert.ok(node.replicator.internal.stats.filtered > 0, 'the other was filtered');
  });
});
