#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: lint, unit tests, and (as root) the kernel
# tests in throw-away network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "test: lint"
npx eslint .
echo "test: node --test"
node scripts/run-tests.mjs all
