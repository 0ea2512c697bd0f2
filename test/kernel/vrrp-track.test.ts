// track_interface and track_script moving mastership, in namespaces, with keepstated's failover
// manager (FailoverNode: the FailoverManager keepstated's failover thread runs):
//
//   (a) keepstated (fw1, priority 150) and the real keepalived 2.2.7 (fw2, priority 100) share VRID 81
//       on lan0; fw1 tracks a link up0. Taking up0 down puts fw1 in FAULT (unweighted) or drops
//       it to 90 (weight -60): keepalived takes over; up0 back up and fw1 takes over again.
//   (b) two keepstated nodes; fw1 (150) tracks a vrrp_script (weight -60) that tests a file the test
//       creates and removes: without the file fw1 advertises 90 and fw2 (100) takes over, and back.
//
//   fw1 lan0 ── veth ── lan0 fw2        fw1: up0 ── veth ── up0p (both in fw1; up0 tracked)
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Keepalived, killProcessesIn } from '../../lab/keepalived.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { until } from '../helpers/until.js';
import { FailoverNode, hasAddress } from './vrrp-track-node.js';

const rootSkip = rootSkipReason();
const kaSkip = rootSkip ?? (Keepalived.version() === undefined ? 'keepalived is not installed (scripts/setup.sh installs it)' : undefined);
const VIP = '10.243.1.100';

/** instance is one VRRPv3 instance on lan0 with 100 ms adverts (fast elections), body lines added. */
function instance(priority: number, body = ''): string {
  return `vrrp_instance VI_1 {
  state BACKUP
  interface lan0
  virtual_router_id 81
  version 3
  priority ${priority}
  advert_int 0.1
  virtual_ipaddress {
    ${VIP}/24 dev lan0
  }
${body}}
`;
}

function pair(): { fw1: Netns; fw2: Netns } {
  const fw1 = Netns.create('vtr1');
  let fw2: Netns | undefined;
  try {
    fw2 = Netns.create('vtr2');
    linkVeth({ ns: fw1, ifname: 'lan0', cidr: '10.243.1.1/24' }, { ns: fw2, ifname: 'lan0', cidr: '10.243.1.2/24' });
    // up0: a veth pair inside fw1 (no dummy module needed); the test sets up0 down and up.
    fw1.exec('ip', ['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0p']);
    fw1.exec('ip', ['link', 'set', 'up0p', 'up']);
    fw1.exec('ip', ['link', 'set', 'up0', 'up']);
    return { fw1, fw2 };
  } catch (e) {
    fw1.close();
    fw2?.close();
    throw e;
  }
}

describe('track_interface moves mastership between keepstated and keepalived', { skip: kaSkip, timeout: 180_000 }, () => {
  let fw1: Netns, fw2: Netns;
  let ka: Keepalived;
  let node: FailoverNode | undefined;

  before(() => {
    ({ fw1, fw2 } = pair());
    ka = new Keepalived(fw2, { routerId: 'fw2', priority: 100, notify: '/bin/true', instances: [] });
    writeFileSync(ka.conf, `global_defs {\n  router_id fw2\n}\n${instance(100)}`);
  });

  after(async () => {
    await node?.stop();
    await ka?.stop();
    for (const ns of [fw1, fw2]) {
      if (ns === undefined) continue;
      killProcessesIn(ns);
      ns.close();
    }
  });

  const diag = (): string => `\n--- keepstated:\n${node?.log ?? ''}\n--- keepalived:\n${ka.output}`;
  const wait = (what: string, cond: () => boolean): Promise<void> =>
    until(what, cond).catch((e: unknown) => assert.fail(`${e instanceof Error ? e.message : String(e)}${diag()}`));

  for (const variant of [
    { label: 'unweighted: FAULT while up0 is down', track: 'up0', down: { role: 'fault', effective: 150, why: /^FAULT: track_interface up0 down \(FAULT\)$/ } },
    { label: 'weight -60: priority 90 while up0 is down', track: 'up0 weight -60', down: { role: 'backup', effective: 90, why: /^track_interface up0 down \(-60\)$/ } },
  ] as const) {
    it(variant.label, async () => {
      node = await FailoverNode.start(fw1, instance(150, `  track_interface {\n    ${variant.track}\n  }\n`));
      ka.start();
      try {
        await wait('keepstated master', () => node!.role('VI_1') === 'master' && hasAddress(fw1, VIP));
        await ka.waitFor(/\(VI_1\) Entering BACKUP STATE/);
        const ok = node.status('VI_1');
        assert.equal(ok.priority.effective, 150);
        assert.equal(ok.priority.why, undefined);
        assert.deepEqual(ok.tracking.map((t) => `${t.name}:${t.state}:${t.effect}`), ['up0:up:0', 'lan0:up:0']);

        fw1.exec('ip', ['link', 'set', 'up0', 'down']);
        await wait('keepalived took over', () => hasAddress(fw2, VIP) && !hasAddress(fw1, VIP));
        await ka.waitFor(/\(VI_1\) Entering MASTER STATE/);
        await wait(`keepstated ${variant.down.role}`, () => node!.role('VI_1') === variant.down.role);
        const down = node.status('VI_1');
        assert.equal(down.priority.effective, variant.down.effective);
        assert.match(down.priority.why ?? '', variant.down.why);

        fw1.exec('ip', ['link', 'set', 'up0', 'up']);
        await wait('keepstated master again', () => node!.role('VI_1') === 'master' && hasAddress(fw1, VIP));
        await ka.waitFor(/\(VI_1\) Entering BACKUP STATE/, 2);
        await wait('keepalived released the VIP', () => !hasAddress(fw2, VIP));
        assert.equal(node.status('VI_1').priority.effective, 150);
        assert.equal(node.status('VI_1').priority.why, undefined);
      } finally {
        await node.stop();
        node = undefined;
        await ka.stop();
        ka = new Keepalived(fw2, { routerId: 'fw2', priority: 100, notify: '/bin/true', instances: [] });
        writeFileSync(ka.conf, `global_defs {\n  router_id fw2\n}\n${instance(100)}`);
      }
    });
  }
});

describe('track_script with a weight moves mastership between two keepstated nodes', { skip: rootSkip, timeout: 120_000 }, () => {
  let fw1: Netns, fw2: Netns;
  let dir: string;
  const nodes: FailoverNode[] = [];

  before(() => {
    ({ fw1, fw2 } = pair());
    dir = mkdtempSync(join(tmpdir(), 'ks-vtr-'));
  });

  after(async () => {
    for (const n of nodes) await n.stop();
    for (const ns of [fw1, fw2]) {
      if (ns === undefined) continue;
      killProcessesIn(ns);
      ns.close();
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('the script failing drops fw1 to 90 and fw2 (100) takes over; succeeding again, fw1 (150) preempts', async () => {
    const flag = join(dir, 'healthy');
    const chk = join(dir, 'chk.sh');
    writeFileSync(chk, `#!/bin/sh\ntest -e ${flag}\n`);
    chmodSync(chk, 0o755);
    writeFileSync(flag, '');
    const fw1Conf = `vrrp_script chk_up {\n  script "${chk}"\n  interval 1\n  weight -60\n}\n${instance(150, '  track_script {\n    chk_up\n  }\n')}`;
    const a = await FailoverNode.start(fw1, fw1Conf);
    nodes.push(a);
    await until('fw1 master', () => a.role('VI_1') === 'master');
    const b = await FailoverNode.start(fw2, instance(100));
    nodes.push(b);
    const diag = (): string => `\n--- fw1:\n${a.log}\n--- fw2:\n${b.log}`;
    const wait = (what: string, cond: () => boolean): Promise<void> =>
      until(what, cond).catch((e: unknown) => assert.fail(`${e instanceof Error ? e.message : String(e)}${diag()}`));
    await wait('fw2 backup', () => b.role('VI_1') === 'backup' && b.status('VI_1').master?.priority === 150);
    assert.deepEqual(a.status('VI_1').tracking.find((t) => t.kind === 'track_script'), { kind: 'track_script', name: 'chk_up', weight: -60, reverse: false, state: 'up', effect: 0 });

    rmSync(flag);
    await wait('fw2 took over', () => b.role('VI_1') === 'master' && a.role('VI_1') === 'backup');
    await wait('VIP moved to fw2', () => hasAddress(fw2, VIP) && !hasAddress(fw1, VIP));
    const low = a.status('VI_1');
    assert.equal(low.priority.effective, 90);
    assert.equal(low.priority.why, 'track_script chk_up failed (-60)');
    assert.match(a.log, /VRRP_Script\(chk_up\) failed \(exited with status 1\)/);
    assert.match(a.log, /Changing effective priority from 150 to 90/);

    writeFileSync(flag, '');
    await wait('fw1 preempted', () => a.role('VI_1') === 'master' && b.role('VI_1') === 'backup');
    await wait('VIP back on fw1', () => hasAddress(fw1, VIP) && !hasAddress(fw2, VIP));
    assert.equal(a.status('VI_1').priority.effective, 150);
    assert.match(b.status('VI_1').timeline.map((t) => (t.entry.step === 'transition' ? `${t.entry.to}:${t.entry.reason}` : '')).join(' '), /master:preempt.*backup:higher-priority/);
  });
});
