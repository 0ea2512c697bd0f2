#!/usr/bin/env bash
# Sets everything up, then runs the demo (lab/demo.ts): the HALF firewall pair with keepstated on
# both firewalls in fresh network namespaces, 1 000 idle + 20 sending TCP connections through the
# NAT, the master failed twice (all links down; kill -9 of its keepstated with its links down) and
# brought back each time, with a report after each event. Everything is deleted at the end, also
# on Ctrl-C or failure. Options go to the demo: --connections N, --sending M, --advert SEC.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces)" >&2; exit 1; }
exec node dist/lab/demo.js "$@"
