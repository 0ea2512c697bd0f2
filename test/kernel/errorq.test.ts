// `-s queue`'s errorq is the TCP links' real error queue: what a NOTRACK node over TCP holds while
// its peer does not answer (nothing listens in the peer's namespace), as conntrackd's errorq.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPPROTO, IPS, TCP_CONNTRACK } from '../../src/ctnetlink/consts.js';
import type { Conntrack } from '../../src/ctnetlink/types.js';
import { syncConf } from '../../lab/conntrackd.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason();
/** The daemon of this build (bin/keepstated.js runs dist/'s): a launcher in the test's directory imports it. */
const MAIN = new URL('../../src/daemon/main.js', import.meta.url).href;

function entry(i: number): Conntrack {
  const src = `10.92.0.${i}`;
  return {
    family: 'ipv4',
    orig: { family: 'ipv4', src, dst: '203.0.113.9', proto: IPPROTO.TCP, srcPort: 1024 + i, dstPort: 443 },
    reply: { family: 'ipv4', src: '203.0.113.9', dst: src, proto: IPPROTO.TCP, srcPort: 443, dstPort: 1024 + i },
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 3600,
    protoinfo: { tcp: { state: TCP_CONNTRACK.ESTABLISHED } },
  };
}


describe('-s queue: errorq holds what a TCP link could not send', { skip, timeout: 120_000 }, () => {
  let a: Netns, b: Netns;
  let dir = '';
  let bin = '';
  let conf = '';
  let up = false;
  const ks = (...args: string[]): { status: number; stdout: string; stderr: string } => a.run(process.execPath, [bin, '-C', conf, ...args]);

  before(() => {
    a = Netns.create('eqa');
    b = Netns.create('eqb');
    linkVeth({ ns: a, ifname: 'sync0', cidr: '10.238.0.1/24' }, { ns: b, ifname: 'sync0', cidr: '10.238.0.2/24' });
    a.sysctl('net.netfilter.nf_conntrack_events', 1);
    dir = mkdtempSync(join(tmpdir(), 'ks-eq-'));
    conf = join(dir, 'a.conf');
    writeFileSync(conf, syncConf(dir, { kind: 'tcp', self: '10.238.0.1', peer: '10.238.0.2', device: 'sync0', port: 3790 }, '', undefined, 'NOTRACK { }'));
    bin = join(dir, 'keepstated.mjs');
    writeFileSync(bin, `import { main } from '${MAIN}';\nmain(process.argv.slice(2)).then((s) => process.exit(s), (e) => { console.error(e); process.exit(1); });\n`);
  });

  after(() => {
    if (up) ks('-k');
    a?.close();
    b?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('counts the datagrams waiting for the peer', async () => {
    const r = ks('-d');
    assert.equal(r.status, 0, r.stderr);
    up = true;
    const errorq = (): number => Number(/queue errorq:\ncurrent elements:\s+(\d+)\n/.exec(ks('-s', 'queue').stdout)?.[1] ?? NaN);
    // (ALIVE messages, one a second, queue up too: the figure only grows while nobody listens.)
    const k = ConntrackClient.open({ netns: a.name });
    try {
      assert.equal((await k.create([1, 2, 3].map(entry))).filter((x) => x.ok).length, 3);
    } finally {
      k.close();
    }
    await until('a datagram in the error queue', () => errorq() > 0);
    // One reading for both figures: an ALIVE a second joins the error queue between two readings.
    const q = ks('-s', 'queue').stdout;
    const allocated = Number(/allocated queue nodes:\s+(\d+)/.exec(q)?.[1]);
    const waiting = Number(/queue errorq:\ncurrent elements:\s+(\d+)\n/.exec(q)?.[1]);
    assert.ok(waiting > 0 && allocated >= waiting, q);
    assert.equal(ks('-k').status, 0);
    up = false;
  });
});
