#!/usr/bin/env bash
# Installs what keepstate needs on a Debian machine (run as root) and builds it:
# Debian packages (iproute2, nftables, conntrack-tools' conntrack and conntrackd, keepalived, tcpdump,
# a C toolchain), npm dependencies, the native addon (node-gyp against the local Node headers) and the
# TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip || need_pkgs+=(iproute2)
have nft || need_pkgs+=(nftables)
have conntrack || need_pkgs+=(conntrack)
have tcpdump || need_pkgs+=(tcpdump)
have make || need_pkgs+=(make)
have g++ || need_pkgs+=(g++)
have python3 || need_pkgs+=(python3)
have sysctl || need_pkgs+=(procps)
[ -x /usr/bin/time ] || need_pkgs+=(time)
have conntrackd || need_pkgs+=(conntrackd) # the incumbent: interop and comparison tests
have keepalived || need_pkgs+=(keepalived) # VRRP calling primary-backup.sh in test/kernel/primary-backup.test.ts
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need_pkgs[*]}; run as root so apt-get can install them" >&2
    exit 1
  fi
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Debian's conntrackd and keepalived packages start their services on install; tests run them only
  # inside their own namespaces, so forbid service starts while installing (policy-rc.d exit 101).
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

if ! have node || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: keepstate needs Node.js >= 20 (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

echo "setup: npm ci (builds the native addon)"
npm ci --no-audit --no-fund
test -f native/build/Release/keepstate.node || { echo "setup: the native addon did not build" >&2; exit 1; }
echo "setup: compiling TypeScript"
npx tsc -p tsconfig.json
