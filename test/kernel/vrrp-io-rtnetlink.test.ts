// The rtnetlink client (src/rtnetlink/client.ts) against the real kernel in a fresh namespace:
// VIP add/remove shows up in `ip -j addr` and is idempotent (EEXIST / EADDRNOTAVAIL are answers,
// not errors), addresses and link state read back as iproute2 reports them, a use_vmac macvlan is
// created in private mode with its MAC and deleted, and the RTNLGRP_LINK subscription reports a
// veth going down and up.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { ifNameToIndex } from '../../src/native/socket.js';
import { LinkEvents, RtnlClient } from '../../src/rtnetlink/client.js';
import { IFA_F, MACVLAN_MODE } from '../../src/rtnetlink/consts.js';
import type { LinkState } from '../../src/rtnetlink/link.js';
import { until } from '../helpers/until.js';

const skip = rootSkipReason();
const TIMEOUT = { timeout: 60_000 };

interface IpAddr {
  ifname: string;
  address?: string;
  operstate?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_data?: { mode?: string } };
  addr_info: { family: string; local: string; prefixlen: number; label?: string }[];
}

describe('rtnetlink client in a namespace', { skip }, () => {
  let a: Netns;
  let b: Netns;
  let rtnl: RtnlClient;
  let ifindex: number;

  before(() => {
    a = Netns.create('rtnl-a');
    b = Netns.create('rtnl-b');
    linkVeth({ ns: a, ifname: 'ka0', cidr: '10.231.43.1/24' }, { ns: b, ifname: 'ks0', cidr: '10.231.43.2/24' });
    rtnl = RtnlClient.open({ netns: b.name });
    ifindex = ifNameToIndex('ks0', { netns: b.name });
  });
  after(() => {
    rtnl?.close();
    a?.close();
    b?.close();
  });

  const ipAddr = (): IpAddr[] => JSON.parse(b.exec('ip', ['-j', 'addr', 'show', 'dev', 'ks0'])) as IpAddr[];
  const has = (addr: string): boolean => ipAddr()[0]!.addr_info.some((x) => x.local === addr);

  it('(c) an IPv4 VIP with a label: added, present, listed, deleted, absent', TIMEOUT, async () => {
    const vip = { ifindex, family: 'ipv4' as const, address: '10.231.43.100', prefixLen: 24, label: 'ks0:vip' };
    assert.equal(await rtnl.addAddress(vip), 'added');
    const shown = ipAddr()[0]!.addr_info.find((x) => x.local === '10.231.43.100');
    assert.deepEqual({ prefixlen: shown?.prefixlen, label: shown?.label }, { prefixlen: 24, label: 'ks0:vip' });
    assert.equal(await rtnl.addAddress(vip), 'present', 'a second add is not an error');
    const listed = await rtnl.listAddresses({ ifindex, family: 'ipv4' });
    assert.deepEqual(
      listed.map((x) => [x.local, x.prefixLen, x.label ?? null]),
      [
        ['10.231.43.2', 24, 'ks0'],
        ['10.231.43.100', 24, 'ks0:vip'],
      ],
    );
    assert.ok(listed.every((x) => (x.flags & IFA_F.PERMANENT) !== 0));
    assert.equal(await rtnl.deleteAddress(vip), 'deleted');
    assert.equal(has('10.231.43.100'), false);
    assert.equal(await rtnl.deleteAddress(vip), 'absent', 'a second delete is not an error');
    assert.equal(rtnl.stats.malformed, 0);
  });

  it('(c) an IPv6 VIP without DAD: added, present, deleted, absent', TIMEOUT, async () => {
    const vip = { ifindex, family: 'ipv6' as const, address: 'fd31:43::100', prefixLen: 64, nodad: true };
    assert.equal(await rtnl.addAddress(vip), 'added');
    assert.equal(has('fd31:43::100'), true);
    assert.equal(await rtnl.addAddress(vip), 'present');
    const mine = (await rtnl.listAddresses({ ifindex, family: 'ipv6' })).find((x) => x.address === 'fd31:43::100');
    assert.ok(mine !== undefined && ((mine.extFlags ?? mine.flags) & IFA_F.NODAD) !== 0, 'IFA_F_NODAD');
    assert.equal(await rtnl.deleteAddress(vip), 'deleted');
    assert.equal(has('fd31:43::100'), false);
    assert.equal(await rtnl.deleteAddress(vip), 'absent');
  });

  it('a refused request is a NetlinkError with the kernel errno code', TIMEOUT, async () => {
    await assert.rejects(rtnl.addAddress({ ifindex: 9999, family: 'ipv4', address: '10.1.1.1', prefixLen: 32 }), { name: 'NetlinkError', code: 'ENODEV' });
  });

  it('link state matches ip -j link', TIMEOUT, async () => {
    const s = await rtnl.linkState(ifindex);
    const ip = (JSON.parse(b.exec('ip', ['-j', 'link', 'show', 'dev', 'ks0'])) as IpAddr[])[0]!;
    assert.equal(s.ifname, 'ks0');
    assert.equal(s.operState, ip.operstate?.toLowerCase());
    assert.deepEqual([s.adminUp, s.lowerUp, s.usable], [ip.flags?.includes('UP'), ip.flags?.includes('LOWER_UP'), true]);
    const links = await rtnl.listLinks();
    assert.deepEqual(links.map((l) => l.ifname).sort(), ['ks0', 'lo']);
  });

  it('use_vmac: a private-mode macvlan with the virtual MAC is created (idempotently) and deleted', TIMEOUT, async () => {
    const spec = { name: 'vrrp.51', parentIfindex: ifindex, mac: '00:00:5e:00:01:33' };
    assert.equal(await rtnl.createMacvlan(spec), 'created');
    assert.equal(await rtnl.createMacvlan(spec), 'present');
    const vm = (JSON.parse(b.exec('ip', ['-j', '-d', 'link', 'show', 'dev', 'vrrp.51'])) as IpAddr[])[0]!;
    assert.equal(vm.address, '00:00:5e:00:01:33');
    assert.equal(vm.linkinfo?.info_kind, 'macvlan');
    assert.equal(vm.linkinfo?.info_data?.mode, 'private');
    const idx = ifNameToIndex('vrrp.51', { netns: b.name });
    const l = await rtnl.link(idx);
    assert.deepEqual([l.link, l.linkInfo?.kind, l.linkInfo?.macvlanMode, l.address], [ifindex, 'macvlan', MACVLAN_MODE.PRIVATE, '00:00:5e:00:01:33']);
    await rtnl.setLinkUp(idx, true);
    assert.equal((await rtnl.linkState(idx)).adminUp, true);
    assert.equal(await rtnl.deleteLink(idx), 'deleted');
    assert.equal(b.run('ip', ['link', 'show', 'dev', 'vrrp.51']).status !== 0, true, 'gone');
    assert.equal(await rtnl.deleteLink(idx), 'absent');
  });

  it('(e) the RTNLGRP_LINK subscription reports ks0 losing and regaining its link', TIMEOUT, async () => {
    const seen: LinkState[] = [];
    let overruns = 0;
    const ev = LinkEvents.subscribe({ netns: b.name }, { onLink: (s) => seen.push(s), onOverrun: () => overruns++ });
    try {
      a.exec('ip', ['link', 'set', 'ka0', 'down']); // the peer: ks0 loses carrier, stays admin up
      await until('ks0 reported not usable', () => seen.some((s) => s.ifname === 'ks0' && !s.usable));
      const down = seen.find((s) => s.ifname === 'ks0' && !s.usable)!;
      // A veth whose peer is down reports operstate DOWN (not LOWERLAYERDOWN: it has no lower device).
      assert.deepEqual([down.adminUp, down.running, down.operState], [true, false, 'down']);
      a.exec('ip', ['link', 'set', 'ka0', 'up']);
      await until('ks0 reported usable again', () => seen.at(-1)?.ifname === 'ks0' && seen.at(-1)?.usable === true);
      b.exec('ip', ['link', 'set', 'ks0', 'down']); // administratively down
      await until('ks0 reported admin down', () => seen.some((s) => s.ifname === 'ks0' && !s.adminUp));
      assert.equal(seen.find((s) => s.ifname === 'ks0' && !s.adminUp)?.operState, 'down');
      b.exec('ip', ['link', 'set', 'ks0', 'up']);
      assert.equal(overruns, 0);
      assert.equal(ev.stats.malformed, 0);
    } finally {
      ev.close();
    }
  });
});
