// use_vmac's pure parts (names, MACs, the kernel settings keepalived 2.2.7 makes in
// vrrp_if_config.c) and VmacHost's bookkeeping of shared settings, over an in-memory /proc/sys.
// The macvlan itself is tested against the kernel and keepalived in test/kernel/vrrp-vmac-keepalived.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VmacHost, igmpRules, parentSettings, vmacAddress, vmacName, vmacSettings, type SysctlPort } from '../../src/failover/vmac.js';

describe('vmacAddress / vmacName', () => {
  it('is 00:00:5e:00:01:<VRID> for IPv4, 00:00:5e:00:02:<VRID> for IPv6, vrrp.<VRID> by default', () => {
    assert.equal(vmacAddress('ipv4', 51), '00:00:5e:00:01:33');
    assert.equal(vmacAddress('ipv6', 1), '00:00:5e:00:02:01');
    assert.equal(vmacAddress('ipv4', 255), '00:00:5e:00:01:ff');
    assert.equal(vmacName(51), 'vrrp.51');
    assert.equal(vmacName(51, 'vmac51'), 'vmac51');
  });

  it('takes a configured MAC; with 5 octets the VRID is the sixth (keepalived.conf(5))', () => {
    assert.equal(vmacAddress('ipv4', 7, '02:AA:0:0:1:2'), '02:aa:00:00:01:02');
    assert.equal(vmacAddress('ipv4', 7, '02:aa:00:00:01'), '02:aa:00:00:01:07');
    assert.throws(() => vmacAddress('ipv4', 7, '02:aa:00:00'), RangeError);
    assert.throws(() => vmacAddress('ipv4', 0), RangeError);
  });
});

describe('vmacSettings / parentSettings', () => {
  it('IPv4: arp_ignore, accept_local, rp_filter, promote_secondaries on the macvlan, IPv6 off; arp_ignore and arp_filter on the parent', () => {
    assert.deepEqual(
      vmacSettings('ipv4', 'vrrp.5').map((s) => `${s.path}=${s.value}`),
      ['net/ipv4/conf/vrrp.5/arp_ignore=1', 'net/ipv4/conf/vrrp.5/accept_local=1', 'net/ipv4/conf/vrrp.5/rp_filter=0', 'net/ipv4/conf/vrrp.5/promote_secondaries=1', 'net/ipv6/conf/vrrp.5/disable_ipv6=1'],
    );
    assert.deepEqual(parentSettings('eth0').map((s) => `${s.path}=${s.value}`), ['net/ipv4/conf/eth0/arp_ignore=1', 'net/ipv4/conf/eth0/arp_filter=1']);
  });

  it('IPv6: no generated link-local address', () => {
    assert.deepEqual(vmacSettings('ipv6', 'vrrp.5'), [{ path: 'net/ipv6/conf/vrrp.5/addr_gen_mode', value: 1 }]);
  });
});

describe('igmpRules', () => {
  it('moves IGMP reports (IPv4) / MLDv2 reports (IPv6) of the macvlan onto the parent and drops its router solicitations', () => {
    const v4 = igmpRules('ipv4', 'vrrp.5', 'eth0');
    assert.equal(v4.table, 'ip keepstated_vmac_vrrp_5');
    assert.match(v4.ruleset, /^table ip keepstated_vmac_vrrp_5 \{/);
    assert.match(v4.ruleset, /oifname "vrrp\.5" ip protocol igmp dup to ip daddr device "eth0" drop/);
    const v6 = igmpRules('ipv6', 'vrrp.5', 'eth0');
    assert.equal(v6.table, 'ip6 keepstated_vmac_vrrp_5');
    assert.match(v6.ruleset, /oifname "vrrp\.5" icmpv6 type mld2-listener-report dup to ip6 daddr device "eth0" drop/);
    assert.match(v6.ruleset, /oifname "vrrp\.5" icmpv6 type nd-router-solicit drop/);
  });
});

/** memSysctl is /proc/sys as a map (keys are paths); list gives the interfaces under net/ipv4/conf. */
function memSysctl(init: Record<string, number>): SysctlPort & { values: Map<string, number> } {
  const values = new Map(Object.entries(init));
  return {
    values,
    read: (p) => values.get(p),
    write: (p, v) => void values.set(p, v),
    list: (d) => [...new Set([...values.keys()].filter((k) => k.startsWith(`${d}/`)).map((k) => k.slice(d.length + 1).split('/')[0]!))],
    nft: () => undefined,
  };
}

describe('VmacHost', () => {
  it('sets the parent once for several macvlans and puts it back after the last', () => {
    const sys = memSysctl({ 'net/ipv4/conf/eth0/arp_ignore': 0, 'net/ipv4/conf/eth0/arp_filter': 0 });
    const h = new VmacHost(sys, () => undefined);
    h.holdParent('eth0');
    h.holdParent('eth0');
    assert.equal(sys.values.get('net/ipv4/conf/eth0/arp_ignore'), 1);
    assert.equal(sys.values.get('net/ipv4/conf/eth0/arp_filter'), 1);
    h.releaseParent('eth0');
    assert.equal(sys.values.get('net/ipv4/conf/eth0/arp_ignore'), 1, 'still used by the second');
    h.releaseParent('eth0');
    assert.equal(sys.values.get('net/ipv4/conf/eth0/arp_ignore'), 0);
    assert.equal(sys.values.get('net/ipv4/conf/eth0/arp_filter'), 0);
  });

  it('leaves values that were already right alone (nothing to put back)', () => {
    const sys = memSysctl({ 'net/ipv4/conf/eth0/arp_ignore': 1, 'net/ipv4/conf/eth0/arp_filter': 0 });
    const h = new VmacHost(sys, () => undefined);
    h.holdParent('eth0');
    sys.values.set('net/ipv4/conf/eth0/arp_ignore', 2); // someone else's change meanwhile
    h.releaseParent('eth0');
    assert.equal(sys.values.get('net/ipv4/conf/eth0/arp_ignore'), 2);
    assert.equal(sys.values.get('net/ipv4/conf/eth0/arp_filter'), 0);
  });

  it('all.rp_filter on: default and lower interfaces are raised to it, all goes to 0; all and default come back at the end', () => {
    const sys = memSysctl({ 'net/ipv4/conf/all/rp_filter': 2, 'net/ipv4/conf/default/rp_filter': 0, 'net/ipv4/conf/eth0/rp_filter': 1, 'net/ipv4/conf/eth1/rp_filter': 2 });
    const h = new VmacHost(sys, () => undefined);
    h.holdRpFilter();
    assert.deepEqual(Object.fromEntries(sys.values), { 'net/ipv4/conf/all/rp_filter': 0, 'net/ipv4/conf/default/rp_filter': 2, 'net/ipv4/conf/eth0/rp_filter': 2, 'net/ipv4/conf/eth1/rp_filter': 2 });
    h.releaseRpFilter();
    assert.equal(sys.values.get('net/ipv4/conf/all/rp_filter'), 2);
    assert.equal(sys.values.get('net/ipv4/conf/default/rp_filter'), 0);
  });

  it('all.rp_filter off: nothing changes', () => {
    const sys = memSysctl({ 'net/ipv4/conf/all/rp_filter': 0, 'net/ipv4/conf/eth0/rp_filter': 1 });
    const h = new VmacHost(sys, () => undefined);
    h.holdRpFilter();
    h.releaseRpFilter();
    assert.deepEqual(Object.fromEntries(sys.values), { 'net/ipv4/conf/all/rp_filter': 0, 'net/ipv4/conf/eth0/rp_filter': 1 });
  });
});
