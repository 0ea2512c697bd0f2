// Requests keepstate sends, compared byte for byte with what iproute2's `ip` sent for the same
// operation (test/rtnetlink/golden, captured with strace; see capture.sh there).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NLM_F } from '../../src/netlink/consts.js';
import type { NlRequest } from '../../src/netlink/conn.js';
import { RTM } from '../../src/rtnetlink/consts.js';
import {
  addressDumpRequest,
  deleteAddressRequest,
  deleteLinkRequest,
  getLinkRequest,
  newAddressRequest,
  newMacvlanRequest,
  parseCidr,
} from '../../src/rtnetlink/requests.js';
import { loadRtnlGolden } from './golden-loader.js';

/**
 * sameAsIp checks type, body and flags. NetlinkConn adds REQUEST|ACK; `ip` asks no ACK for a GET
 * (the reply answers it), so for those only REQUEST is compared.
 */
function sameAsIp(req: NlRequest, golden: string, dump = false): void {
  const g = loadRtnlGolden(golden);
  assert.equal(req.type, g.type, 'nlmsg_type');
  assert.ok(req.body instanceof Uint8Array);
  assert.deepEqual(Buffer.from(req.body).toString('hex'), Buffer.from(g.payload).toString('hex'), 'body');
  const added = dump ? NLM_F.REQUEST | NLM_F.DUMP : NLM_F.REQUEST | (g.flags & NLM_F.ACK);
  assert.equal(req.flags | added, g.flags, 'nlmsg_flags');
}

describe('rtnetlink requests match iproute2', () => {
  it('RTM_NEWADDR IPv4 with label and broadcast (ip addr add … brd + label)', () => {
    sameAsIp(newAddressRequest({ ifindex: 3, family: 'ipv4', address: '192.0.2.10', prefixLen: 24, label: 'veth0:vip', broadcast: '192.0.2.255' }), 'rtnl-newaddr-v4-req.hex');
  });
  it('RTM_NEWADDR IPv6 nodad', () => {
    sameAsIp(newAddressRequest({ ifindex: 3, family: 'ipv6', address: '2001:db8::10', prefixLen: 64, nodad: true }), 'rtnl-newaddr-v6-req.hex');
  });
  it('RTM_DELADDR IPv4', () => {
    sameAsIp(deleteAddressRequest({ ifindex: 3, family: 'ipv4', address: '192.0.2.10', prefixLen: 24 }), 'rtnl-deladdr-v4-req.hex');
  });
  it('RTM_GETADDR dump', () => {
    const g = loadRtnlGolden('rtnl-getaddr-dump-req.hex');
    const req = addressDumpRequest({ ifindex: 3 });
    assert.equal(req.type, RTM.GETADDR);
    assert.deepEqual(Buffer.from(req.body as Uint8Array), Buffer.from(g.payload));
    assert.equal(g.flags, NLM_F.REQUEST | NLM_F.DUMP);
  });
  it('RTM_GETLINK for one ifindex', () => {
    sameAsIp(getLinkRequest(3), 'rtnl-getlink-req.hex');
  });
  it('RTM_NEWLINK macvlan private with a VRRP virtual MAC', () => {
    sameAsIp(newMacvlanRequest({ name: 'vmac1', parentIfindex: 3, mac: '00:00:5e:00:01:05' }), 'rtnl-newlink-macvlan-req.hex');
  });
  it('RTM_DELLINK', () => {
    sameAsIp(deleteLinkRequest(4), 'rtnl-dellink-req.hex');
  });
});

describe('parseCidr', () => {
  const ok: [string, ReturnType<typeof parseCidr>][] = [
    ['192.0.2.10/24', { family: 'ipv4', address: '192.0.2.10', prefixLen: 24 }],
    ['192.0.2.10', { family: 'ipv4', address: '192.0.2.10', prefixLen: 32 }],
    ['2001:db8::1/64', { family: 'ipv6', address: '2001:db8::1', prefixLen: 64 }],
    ['fe80::1', { family: 'ipv6', address: 'fe80::1', prefixLen: 128 }],
  ];
  for (const [text, want] of ok) it(`accepts ${text}`, () => assert.deepEqual(parseCidr(text), want));
  for (const bad of ['192.0.2.10/33', '192.0.2/24', '1.2.3.4/24/1', '2001:db8::1/129', '1.2.3.4/x', '1.2.3.4/']) {
    it(`refuses ${bad}`, () => assert.throws(() => parseCidr(bad)));
  }
});
