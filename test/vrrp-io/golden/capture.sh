#!/usr/bin/env bash
# capture.sh — the recipe for test/vrrp-io/golden/*.hex: the gratuitous ARP and unsolicited NA that
# keepalived sends when it becomes master, captured with tcpdump on the peer end of a veth pair in
# namespaces made for the run. Prints the frames; the .hex files hold one frame each, annotated.
# Usage (root): test/vrrp-io/golden/capture.sh     Needs: ip, keepalived, tcpdump.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "capture.sh: needs root" >&2; exit 1; }
TMP=$(mktemp -d /tmp/ks-garp-golden.XXXXXX)
S=$(printf '%04x' $((RANDOM % 65536)))
A=ks-garp-a-$S; B=ks-garp-b-$S
cleanup() { set +e; [ -n "${KA:-}" ] && kill "$KA"; [ -n "${TD:-}" ] && kill -INT "$TD"; wait 2>/dev/null; ip netns del "$A"; ip netns del "$B"; rm -rf "$TMP"; }
trap cleanup EXIT
ip netns add "$A"; ip netns add "$B"
for n in "$A" "$B"; do ip netns exec "$n" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; done
ip link add kag0 netns "$A" address 02:00:00:00:00:0a type veth peer name ksg0 netns "$B"
ip -n "$A" addr add 10.231.45.1/24 dev kag0; ip -n "$A" addr add fd31:45::1/64 dev kag0 nodad
ip -n "$A" link set kag0 up; ip -n "$B" link set ksg0 up; ip -n "$A" link set lo up
cat >"$TMP/k.conf" <<'CONF'
global_defs {
  router_id ks-garp
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 1
}
vrrp_instance V4 {
  state MASTER
  interface kag0
  virtual_router_id 51
  priority 255
  advert_int 1
  virtual_ipaddress {
    10.231.45.100/24 dev kag0
  }
}
vrrp_instance V6 {
  state MASTER
  interface kag0
  virtual_router_id 52
  priority 255
  advert_int 1
  virtual_ipaddress {
    fd31:45::100/64 dev kag0
  }
}
CONF
ip netns exec "$B" tcpdump -i ksg0 -U -n -w "$TMP/c.pcap" 'arp or (icmp6 and ip6[40] == 136)' 2>/dev/null & TD=$!
sleep 1
ip netns exec "$A" keepalived -n -P -l -D -G -f "$TMP/k.conf" -p "$TMP/k.pid" -r "$TMP/v.pid" >/dev/null 2>&1 & KA=$!
sleep 4
kill "$KA"; wait "$KA" 2>/dev/null || true; KA=
sleep 1
kill -INT "$TD"; wait "$TD" 2>/dev/null || true; TD=
echo "# kernel: $(uname -r)"
echo "# keepalived: $(keepalived --version 2>&1 | head -n1)"
echo "# tcpdump: $(tcpdump --version 2>&1 | head -n1)"
tcpdump -r "$TMP/c.pcap" -n -e -xx 2>/dev/null
