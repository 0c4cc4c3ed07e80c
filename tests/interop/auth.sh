#!/usr/bin/env bash
# Auth interop: the auth-http example, configured through environment variables alone,
# against an independent issuer (oauth2-mock-server on loopback), driven by an independent
# client (the MCP Inspector CLI) with the issuer's tokens.
#
#   tests/interop/auth.sh path/to/auth-http path/to/node_modules
#
# Needs `node` (22) and `mcp-inspector` on PATH, `oauth2-mock-server` 9.3.0 in the given
# node_modules, and python3 ($PYTHON). .ci/run installs them.
set -uo pipefail
bin=${1:?usage: auth.sh path/to/auth-http path/to/node_modules}
modules=${2:?usage: auth.sh path/to/auth-http path/to/node_modules}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '     %s\n' "$2"; }

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_for_port() {
  for _ in $(seq 1 100); do
    if "$py" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $1)))"; then return 0; fi
    sleep 0.1
  done
  return 1
}

idp_port=$(free_port)
NODE_PATH="$modules" node "$here/oauth2_mock.mjs" "$idp_port" >/dev/null 2>&1 &
idp_pid=$!
port=$(free_port)
# The mock names itself by `localhost`; tokens carry that issuer.
issuer="http://localhost:$idp_port"
audience="http://127.0.0.1:$port/mcp"
workdir=$(mktemp -d)
(cd "$workdir" && PLATFORM_TRANSPORT__KIND=http PLATFORM_TRANSPORT__BIND="127.0.0.1:$port" \
  PLATFORM_TRANSPORT__DRAIN_DELAY=0s PLATFORM_AUTH__JWT__ISSUER="$issuer" \
  PLATFORM_AUTH__JWT__AUDIENCE="$audience" exec "$bin" 2>"$workdir/server.log") &
server_pid=$!
trap 'kill "$server_pid" "$idp_pid" 2>/dev/null; rm -rf "$workdir"' EXIT
wait_for_port "$idp_port" || { echo "the mock issuer did not start"; exit 1; }
wait_for_port "$port" || { echo "auth-http did not start"; cat "$workdir/server.log"; exit 1; }

# token SUBJECT ROLES [AUDIENCE]: a client_credentials token from the mock issuer.
token() {
  "$py" - "$issuer/token" "$1" "$2" "${3:-$audience}" <<'PY'
import json, sys, urllib.parse, urllib.request
url, sub, roles, aud = sys.argv[1:5]
body = urllib.parse.urlencode({"grant_type": "client_credentials", "aud": aud, "sub": sub, "roles": roles, "scope": "mcp"}).encode()
print(json.load(urllib.request.urlopen(urllib.request.Request(url, data=body)))["access_token"])
PY
}

# inspector EXPECTED_EXIT CHECK NAME TOKEN ARGS...: one Inspector CLI call over HTTP.
inspector() {
  local want=$1 check=$2 name=$3 tok=$4
  shift 4
  local auth=()
  [ -n "$tok" ] && auth=(--header "Authorization: Bearer $tok")
  for era in legacy modern; do
    local out rc
    out=$(timeout 60 mcp-inspector --cli --protocol-era "$era" "$audience" --transport http \
      "${auth[@]}" --stored-auth-only "$@" --format json 2>/dev/null)
    rc=$?
    if [ "$rc" -ne "$want" ]; then
      fail "inspector $era: $name" "exit $rc, expected $want: $out"
      continue
    fi
    if [ -z "$check" ] || printf '%s' "$out" | "$py" -c "import json,sys; r=json.load(sys.stdin)['result']; sys.exit(0 if ($check) else 1)"; then
      pass "inspector $era: $name"
    else
      fail "inspector $era: $name" "$out"
    fi
  done
}

alice=$(token alice "") || { echo "no token from the mock issuer"; exit 1; }
root=$(token root "admin")
elsewhere=$(token alice "" "https://other.example/mcp")

inspector 0 "r['content'][0]['text'] == 'alice'" "whoami names the token's subject" "$alice" \
  --method tools/call --tool-name whoami
inspector 0 "[t['name'] for t in r['tools']] == ['whoami']" "a caller without the admin role does not see reset_cache" \
  "$alice" --method tools/list
inspector 0 "r['content'][0]['text'].startswith('cache reset by root')" "an admin resets the cache" "$root" \
  --method tools/call --tool-name reset_cache
inspector 3 "" "no token: authentication required" "" --method tools/list
inspector 3 "" "a token for another resource is refused" "$elsewhere" --method tools/list

# The 401 challenge and the metadata, as a client discovers the issuer.
if out=$("$py" - "$audience" "$issuer" "$port" <<'PY' 2>&1
import json, sys, urllib.error, urllib.request
audience, issuer, port = sys.argv[1:4]
req = urllib.request.Request(audience, data=b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
                             headers={"content-type": "application/json", "accept": "application/json, text/event-stream"})
try:
    urllib.request.urlopen(req)
    sys.exit("no 401")
except urllib.error.HTTPError as e:
    assert e.code == 401, e.code
    challenge = e.headers["www-authenticate"]
    url = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
    assert f'resource_metadata="{url}"' in challenge, challenge
doc = json.load(urllib.request.urlopen(url))
assert doc["resource"] == audience and doc["authorization_servers"] == [issuer], doc
PY
); then
  pass "401 challenge points at the protected resource metadata, which names the issuer"
else
  fail "401 challenge and metadata" "$out"
fi
if grep -q "eyJ" "$workdir/server.log"; then
  fail "no token material in the server's log" "$(grep -m1 eyJ "$workdir/server.log" | cut -c1-80)"
else
  pass "no token material in the server's log"
fi

echo "auth interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
