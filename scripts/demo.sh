#!/usr/bin/env bash
# Sets everything up, then runs the demo: for now a short guided run of `keepstate conntrack` in a
# scratch network namespace, removed again at the end (also on Ctrl-C or failure).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces)" >&2; exit 1; }

ns="ks-demo-$$"
events_pid=""
cleanup() { [ -n "$events_pid" ] && kill "$events_pid" 2>/dev/null; ip netns del "$ns" 2>/dev/null; rm -f "/tmp/$ns.events"; }
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ks() { printf '$ keepstate conntrack %s\n' "$*"; ip netns exec "$ns" node bin/keepstate.js conntrack "$@"; }

say "A scratch namespace ($ns) with an empty conntrack table"
ks -C

say "Watch events in the background from the start"
# The kernel's default (2, "auto") gives an entry made while nobody listens no events, ever —
# not even UPDATE or DESTROY later. A firewall sets it to 1 at boot; so do we, before anything.
ip netns exec "$ns" sysctl -qw net.netfilter.nf_conntrack_events=1
ip netns exec "$ns" node bin/keepstate.js conntrack -E > "/tmp/$ns.events" 2>&1 &
events_pid=$!
sleep 0.5

say "Create two entries (TCP ESTABLISHED and UDP), one with a mark"
ks -I -s 192.0.2.10 -d 198.51.100.1 -p tcp --sport 40000 --dport 443 --state ESTABLISHED -u ASSURED -t 600 -m 7
ks -I -s 192.0.2.11 -d 198.51.100.53 -p udp --sport 5353 --dport 53 -t 30

say "List them: default format, extended, and JSON"
ks -L
ks -L -o extended,id
ks -L -o json -p tcp

say "Filter by mark, then update the TCP entry's mark and timeout"
ks -L -m 7
ks -U -s 192.0.2.10 -d 198.51.100.1 -p tcp --sport 40000 --dport 443 -m 9 -t 1200
ks -G -s 192.0.2.10 -d 198.51.100.1 -p tcp --sport 40000 --dport 443

say "Delete the UDP entry, count, and show the kernel's per-CPU statistics"
ks -D -p udp --dport 53
ks -C
ks -S

sleep 0.3
kill -INT "$events_pid" 2>/dev/null || true
wait "$events_pid" 2>/dev/null || true
events_pid=""
say "What the event listener saw"
cat "/tmp/$ns.events"

say "Flush, and remove the namespace"
ks -F
echo "done."
