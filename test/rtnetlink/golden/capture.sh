#!/usr/bin/env bash
# capture.sh — the recipe for test/rtnetlink/golden/rtnl-*.hex: rtnetlink messages that iproute2's
# `ip` sends and the kernel answers, captured with strace in a network namespace made for the run
# (no nlmon on the test kernel). annotate.mjs picks one message per file and writes it as annotated hex.
# Usage (root): test/rtnetlink/golden/capture.sh [output-dir]   Needs: ip, strace, node.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
[ "$(id -u)" = 0 ] || { echo "capture.sh: needs root" >&2; exit 1; }
TMP=$(mktemp -d /tmp/ks-rtnl-golden.XXXXXX)
NS=ks-rtnl-gold-$(printf '%04x' $((RANDOM % 65536)))
cleanup() { set +e; [ -n "${MON:-}" ] && kill "$MON" 2>/dev/null; wait 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
ip netns add "$NS"
X="ip netns exec $NS"
ST="strace -f -qq -xx -s 0 -e trace=sendto,sendmsg,recvmsg,recvfrom -e write=3 -e read=3"
$X ip link add veth0 type veth peer name veth1
$X ip link set veth0 address 02:00:00:00:00:01
$X ip link set veth1 address 02:00:00:00:00:02
$X ip link set veth0 up
$X ip link set veth1 up
cd "$TMP"
run() { local trace=$1; shift; $X $ST -o "$trace" "$@" >/dev/null 2>&1 || true; }
gold() { node "$HERE/annotate.mjs" "$1" "$2" "$3" "$4" "$5" >"$OUT/$3"; }

C1='ip addr add 192.0.2.10/24 brd + dev veth0 label veth0:vip'; run a.trace $C1
C2='ip addr add 192.0.2.10/24 dev veth0'; run b.trace $C2
C3='ip -6 addr add 2001:db8::10/64 dev veth0 nodad'; run c.trace $C3
C4='ip -j addr show dev veth0'; run d.trace $C4
C5='ip addr del 192.0.2.10/24 dev veth0'; run e.trace $C5
C6='ip addr del 192.0.2.10/24 dev veth0'; run f.trace $C6
C7='ip -j -d link show dev veth0'; run g.trace $C7
C8='ip link add link veth0 name vmac1 address 00:00:5e:00:01:05 type macvlan mode private'; run h.trace $C8
C9='ip link del vmac1'; run i.trace $C9
# ip monitor ends by itself (timeout) so that strace has flushed the trace when it exits.
$X $ST -o m.trace timeout 3 ip monitor link >/dev/null 2>&1 & MON=$!
sleep 1
$X ip link set veth1 down
wait "$MON" 2>/dev/null || true; MON=

gold a.trace send:1 rtnl-newaddr-v4-req.hex 'RTM_NEWADDR request: IPv4 address with label and broadcast' "$C1"
gold b.trace recv:1 rtnl-ack-eexist.hex 'NLMSG_ERROR EEXIST with ext-ack message: the address is already there' "$C2 (a second time)"
gold c.trace send:1 rtnl-newaddr-v6-req.hex 'RTM_NEWADDR request: IPv6 address with IFA_F_NODAD' "$C3"
gold d.trace send:2 rtnl-getaddr-dump-req.hex 'RTM_GETADDR dump request' "$C4"
gold d.trace recv:2 rtnl-newaddr-v4-dump.hex 'RTM_NEWADDR dump reply: the IPv4 address added with a label' "$C4"
gold d.trace recv:3 rtnl-newaddr-v6-dump.hex 'RTM_NEWADDR dump reply: the IPv6 address added with nodad' "$C4"
gold e.trace send:1 rtnl-deladdr-v4-req.hex 'RTM_DELADDR request: IPv4 address' "$C5"
gold f.trace recv:1 rtnl-ack-eaddrnotavail.hex 'NLMSG_ERROR EADDRNOTAVAIL: deleting an address that is not there' "$C6 (a second time)"
gold d.trace send:1 rtnl-getlink-req.hex 'RTM_GETLINK request for one ifindex (ip addr show asks for the link first)' "$C4"
gold g.trace recv:2 rtnl-newlink-veth.hex 'RTM_NEWLINK reply: a veth that is up (IFF_UP, IFF_RUNNING, operstate UP)' "$C7"
gold h.trace send:2 rtnl-newlink-macvlan-req.hex 'RTM_NEWLINK create request: macvlan in private mode with a VRRP virtual MAC' "$C8"
gold i.trace send:2 rtnl-dellink-req.hex 'RTM_DELLINK request by name' "$C9"
gold m.trace event:1 rtnl-newlink-event-down.hex 'RTM_NEWLINK event (RTNLGRP_LINK): the veth peer was set down, so veth0 lost carrier' "ip monitor link, while: ip link set veth1 down"
