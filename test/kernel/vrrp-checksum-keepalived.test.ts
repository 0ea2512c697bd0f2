// VRRPv3/IPv4 checksum interop with the real keepalived 2.2.7 (failover-and-peers.md §1.4): a raw
// IP-protocol-112 socket in namespace B sends higher-priority adverts, built by encodeVrrp, to a
// keepalived master in namespace A. keepalived rejects the RFC 9568 message-only checksum ("Invalid
// VRRPv3 checksum") and yields to the same advert checksummed with the IPv4 pseudo-header — which is
// why that form is encodeVrrp's default (src/vrrp/packet.ts DEFAULT_V3_IPV4_CHECKSUM).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Keepalived } from '../../lab/keepalived.js';
import { linkVeth } from '../../lab/link.js';
import { Netns, rootSkipReason } from '../../lab/netns.js';
import { inet4Sockaddr, IP, NativeSocket, SOCK, AF, SOL_IP } from '../../src/native/socket.js';
import { IPPROTO_VRRP, VRRP_MCAST_GROUP } from '../../src/vrrp/consts.js';
import { encodeVrrp, type VrrpAdvertV3 } from '../../src/vrrp/packet.js';
import { parseIPv4 } from '../../src/wire/ip.js';

const skip = rootSkipReason() ?? (Keepalived.version() === undefined ? 'keepalived is not installed (scripts/setup.sh installs it)' : undefined);

const CONF = `global_defs {
  router_id ks-vrrp-cksum
}
vrrp_instance VI_1 {
  state MASTER
  interface vr0
  version 3
  virtual_router_id 53
  priority 150
  advert_int 1
  virtual_ipaddress {
    10.231.53.100/24
  }
}
`;

describe('VRRPv3/IPv4 checksum forms against keepalived 2.2.7', { skip }, () => {
  it('keepalived drops the message-only (RFC 9568) form and accepts the pseudo-header form', async () => {
    const a = Netns.create('vrck-a');
    const b = Netns.create('vrck-b');
    let ka: Keepalived | undefined;
    let sock: NativeSocket | undefined;
    try {
      linkVeth({ ns: a, ifname: 'vr0', cidr: '10.231.53.1/24' }, { ns: b, ifname: 'vr0', cidr: '10.231.53.2/24' });
      ka = new Keepalived(a, { routerId: 'x', priority: 1, instances: [], notify: '/bin/true' });
      writeFileSync(ka.conf, CONF); // this test's own instance, not the lab's sync-group template
      ka.start();
      await ka.waitFor(/Entering MASTER STATE/);

      sock = NativeSocket.open(AF.INET, SOCK.RAW, IPPROTO_VRRP, { netns: b.name });
      sock.setsockoptInt(SOL_IP, IP.MULTICAST_TTL, 255);
      sock.setsockoptBuf(SOL_IP, IP.MULTICAST_IF, parseIPv4('10.231.53.2')!);
      const advert: VrrpAdvertV3 = { version: 3, family: 'ipv4', vrid: 53, priority: 200, maxAdvertIntCs: 100, addresses: ['10.231.53.100'] };
      const dest = inet4Sockaddr(VRRP_MCAST_GROUP.ipv4);

      sock.send(encodeVrrp(advert, { v3Ipv4Checksum: 'message-only' }), dest);
      await ka.waitFor(/Invalid VRRPv3 checksum/);
      assert.doesNotMatch(ka.output, /higher priority 200/, 'the message-only advert must not have been taken');

      sock.send(encodeVrrp(advert, { src: '10.231.53.2', dst: VRRP_MCAST_GROUP.ipv4, v3Ipv4Checksum: 'pseudo-header' }), dest);
      await ka.waitFor(/Master received advert from 10\.231\.53\.2 with higher priority 200/);
      await ka.waitFor(/Entering BACKUP STATE/, 2);
    } finally {
      sock?.close();
      if (ka !== undefined) await ka.stop();
      a.close();
      b.close();
    }
  });
});
