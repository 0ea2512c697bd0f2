// From the wire to the kernel: entries decoded from datagrams the real conntrackd sent (golden
// captures), put into an external cache, planned for commit and created in a fresh namespace's
// kernel — with the NAT binding and the reply tuple the sender's kernel had.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConntrackClient } from '../../src/ctnetlink/client.js';
import { IPS } from '../../src/ctnetlink/consts.js';
import { ExternalCache, ctKey } from '../../src/engine/cache.js';
import { planCommit } from '../../src/engine/commit.js';
import { decodeDatagram } from '../../src/sync/index.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { nft } from '../../lab/link.js';
import { loadSyncGolden } from '../sync/golden-sync.js';

const skip = rootSkipReason();

describe('commit of entries received from a real conntrackd', { skip }, () => {
  let ns: Netns;
  let ct: ConntrackClient;
  before(() => {
    ns = Netns.create('commit');
    // The receiving firewall has NAT configured, as the sender had (the binding needs the NAT hooks).
    nft(ns, 'table ip nat {\n chain post { type nat hook postrouting priority 100; }\n chain pre { type nat hook prerouting priority -100; }\n}\n');
    ct = ConntrackClient.open({ netns: ns.name });
  });
  after(() => {
    ct?.close();
    ns?.close();
  });

  it('recreates an SNAT-ed TCP connection with its NAT port, and an UDP flow, from captured datagrams', async () => {
    const cache = new ExternalCache(1000);
    for (const name of ['sync-ct-new-tcp-snat.hex', 'sync-ct-new-udp.hex']) {
      const d = decodeDatagram(loadSyncGolden(name).raw);
      assert.equal(d.errors.length, 0, `${name} decodes`);
      for (const m of d.messages) if (m.kind === 'ct') assert.ok(cache.apply(m.op, m.ct, 0));
    }
    const plan = planCommit(cache.values(), { nowMs: 1000 });
    const results = await ct.create(plan);
    assert.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.error.code)),
      plan.map(() => 'ok'),
    );
    let natted = 0;
    for (const want of plan) {
      const got = await ct.get(want);
      assert.equal(ctKey(got), ctKey(want));
      if (want.natSrc === undefined) {
        assert.deepEqual(got.reply, want.reply);
        continue;
      }
      natted++;
      // The kernel derived the NAT'd reply from the binding and marked the entry for rewriting.
      assert.ok(((got.status ?? 0) & IPS.SRC_NAT) !== 0, 'IPS_SRC_NAT is set: packets will be rewritten');
      assert.ok(((got.status ?? 0) & IPS.SRC_NAT_DONE) !== 0, 'IPS_SRC_NAT_DONE is set');
      assert.equal(got.reply?.dst, want.natSrc.minIp, 'replies go to the SNAT address');
      assert.equal(got.reply?.dstPort, want.natSrc.minPort, 'and to the same NAT port the old master chose');
    }
    assert.equal(natted, 1, 'the SNAT-ed capture was among them');
  });
});
