#!/usr/bin/env bash
# Interop: independent MCP clients drive the quickstart binary over stdio and streamable
# HTTP, in both eras.
#
#   tests/interop/run.sh path/to/quickstart [path/to/conformance-fixture]
#
# With the conformance fixture, the Python client also checks progress notifications over
# HTTP in every era (the fixture's `test_tool_with_progress`).
#
# Needs `mcp-inspector` (npm @modelcontextprotocol/inspector 2.12.0, on Node 22) on PATH and
# a Python with `mcp` 2.3.0 and `opentelemetry-proto` in $PYTHON (default python3). .ci/run
# installs both.
set -uo pipefail
bin=${1:?usage: run.sh path/to/quickstart [path/to/conformance-fixture]}
fixture=${2:-}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0

# Wait (up to 10 s) until a server listens on 127.0.0.1:$port.
wait_for_port() {
  for _ in $(seq 1 100); do
    if "$py" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)))"; then return; fi
    sleep 0.1
  done
}

pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '     %s\n' "$2"; }

# The server the Inspector talks to: the binary (stdio) or, once set, an HTTP URL.
target=("$bin")
transport=stdio

# inspector ERA EXPECTED_EXIT PYTHON_CHECK NAME ARGS...: run one Inspector CLI call and check
# its exit code and JSON output (the check is a Python expression over `r`, the parsed result).
inspector() {
  local era=$1 want=$2 check=$3 name=$4
  shift 4
  local out rc
  out=$(timeout 60 mcp-inspector --cli --protocol-era "$era" "${target[@]}" "$@" --format json 2>/dev/null)
  rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "inspector $transport $era: $name" "exit $rc, expected $want: $out"
    return
  fi
  if printf '%s' "$out" | "$py" -c "import json,sys; r=json.load(sys.stdin)['result']; sys.exit(0 if ($check) else 1)"; then
    pass "inspector $transport $era: $name"
  else
    fail "inspector $transport $era: $name" "$out"
  fi
}

checks() {
for era in legacy modern auto; do
  inspector "$era" 0 "[t['name'] for t in r['tools']] == ['add'] and r['tools'][0]['annotations']['readOnlyHint']" \
    "tools/list" --method tools/list
  inspector "$era" 0 "r['structuredContent'] == {'result': 42} and r['content'][0]['text'] == '42'" \
    "tools/call structured output" --method tools/call --tool-name add --tool-arg a=2 --tool-arg b=40
  inspector "$era" 5 "r['isError'] and '\`b\`' in r['content'][0]['text']" \
    "tools/call bad argument is a tool error" --method tools/call --tool-name add --tool-args-json '{"a":2,"b":"x"}'
  inspector "$era" 0 "r['resourceTemplates'][0]['uriTemplate'] == 'notes://{id}' and r['resourceTemplates'][0]['name'] == 'note'" \
    "resources/templates/list" --method resources/templates/list
  inspector "$era" 0 "json.loads(r['contents'][0]['text']) == {'id': 1, 'text': 'Buy milk'}" \
    "resources/read" --method resources/read --uri notes://1
  inspector "$era" 0 "'Rust' in r['messages'][0]['content']['text']" \
    "prompts/get" --method prompts/get --prompt-name summarise --prompt-args topic=Rust
done
}

checks
# The Inspector's portability lint of the tool schemas (exit 6 on errors).
inspector legacy 0 "len(r['tools']) == 1" "tools/list --strict schema lint" --method tools/list --strict

# Protocol errors (an unknown tool is a JSON-RPC error, not a tool result) are checked by the
# Python client below: the Inspector resolves tool names itself before calling.
if out=$("$py" "$here/python_client.py" "$bin" 2>&1); then
  pass "python mcp client, stdio: legacy, auto and 2026-07-28"
else
  fail "python mcp client, stdio" "$(printf '%s' "$out" | grep -v ' INFO ' | tail -5)"
fi

# Trace context: the Python client's traceparent (in `_meta`) is the parent of the span the
# server exports over OTLP, in both eras.
if out=$("$py" "$here/python_trace.py" "$bin" 2>&1); then
  pass "python mcp client, stdio: its traceparent in _meta parents the exported server span (legacy and 2026-07-28)"
else
  fail "python mcp client, stdio: trace context" "$(printf '%s' "$out" | grep -v ' INFO ' | tail -5)"
fi

# The same over streamable HTTP, on a free loopback port.
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
url="http://127.0.0.1:$port/mcp"
# No drain delay: nothing balances load here, and the script waits for the exit.
PLATFORM_TRANSPORT__DRAIN_DELAY=0s "$bin" serve --transport http --bind "127.0.0.1:$port" 2>/dev/null &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null' EXIT
wait_for_port
target=("$url" --transport http)
transport=http
checks
if out=$("$py" "$here/python_client.py" "$url" 2>&1); then
  pass "python mcp client, http: legacy, auto and 2026-07-28"
else
  fail "python mcp client, http" "$(printf '%s' "$out" | grep -v ' INFO ' | tail -5)"
fi
kill -TERM "$server_pid" 2>/dev/null
wait "$server_pid" 2>/dev/null

if [ -n "$fixture" ]; then
  PLATFORM_TRANSPORT__DRAIN_DELAY=0s PORT=$port "$fixture" 2>/dev/null &
  server_pid=$!
  wait_for_port
  if out=$("$py" "$here/python_progress.py" "$url" 2>&1); then
    pass "python mcp client, http: progress in legacy, auto and 2026-07-28"
  else
    fail "python mcp client, http: progress" "$(printf '%s' "$out" | grep -v ' INFO ' | tail -5)"
  fi
  kill -TERM "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
fi

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
