#!/usr/bin/env bash
# Property-based HTTP testing of the API against docs/openapi.yaml with
# schemathesis (PyPI), on the built worker in workerd (loopback only). Fails
# on any 5xx, any response outside the documented envelope/schemas, and any
# /api/* answer that is an internal error dressed as an envelope.
#   MAX_EXAMPLES=100 bash scripts/schemathesis.sh [extra schemathesis flags]
# Two passes: every operation but logout, then logout alone (it revokes the
# one token, which would turn the rest of the run into 1001s).
# The worker's log lines are kept in tests/output/schemathesis-worker.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
venv=.venv-schemathesis
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'schemathesis==4.32.5'
fi
mkdir -p tests/output
log=tests/output/schemathesis-worker.log
hooks=$(mktemp -d)
node scripts/serve-local.mjs > "$log" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$hooks"' EXIT
for _ in $(seq 1 150); do grep -q '"token"' "$log" && break; sleep 0.2; done
line=$(grep -m1 '"token"' "$log")
url=$(node -e 'console.log(JSON.parse(process.argv[1]).url)' "$line")
token=$(node -e 'console.log(JSON.parse(process.argv[1]).token)' "$line")
case "$url" in http://127.0.0.1:*|http://localhost:*|http://\[::1\]:*) ;; *) echo "not loopback: $url" >&2; exit 1 ;; esac

# The contract, checked directly on every /api/* response.
cat > "$hooks/envelope_hooks.py" <<'EOF'
import json
import schemathesis

@schemathesis.check
def api_envelope(ctx, response, case):
    """/api/*: HTTP 200, application/json, {code, msg, data?}, no internal error."""
    # CORS preflights (OPTIONS, from the coverage phase) are answered 204
    # without a body, as browsers require; everything else is an envelope.
    if not case.path.startswith("/api/") or case.method.upper() == "OPTIONS":
        return None
    assert response.status_code == 200, f"HTTP {response.status_code} on {case.path}"
    ctype = response.headers.get("content-type", [""])
    ctype = ctype[0] if isinstance(ctype, list) else ctype
    assert ctype.startswith("application/json"), f"Content-Type {ctype!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict), "body is not an object"
    assert set(body) <= {"code", "msg", "data"}, f"extra keys {sorted(set(body) - {'code', 'msg', 'data'})}"
    assert body.get("code") in (0, -1, 1001, 1002), f"code {body.get('code')!r}"
    assert isinstance(body.get("msg"), str) and body["msg"], "msg missing or empty"
    if body["code"] != 0:
        assert body.get("data") is None, "data on an error"
    msg = body["msg"]
    assert "Internal error" not in msg and "服务内部错误" not in msg, f"internal error: {msg}"
    return None
EOF
export PYTHONPATH="$hooks${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=envelope_hooks

run() {
  "$venv/bin/schemathesis" run docs/openapi.yaml --url "$url" \
    --header "Token: $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,api_envelope \
    --max-examples "${MAX_EXAMPLES:-100}" "$@"
}
status=0
echo "== pass 1: all operations but logout"
run --exclude-path /api/user/logout "$@" || status=1
echo "== pass 2: logout"
run --include-path /api/user/logout "$@" || status=1

# What the worker saw: requests per route/status/code, and any 5xx or
# internal error (a bug even when the envelope hid it).
sleep 0.5
node - "$log" <<'EOF' || status=1
const lines = require('fs').readFileSync(process.argv[2], 'utf8').split('\n');
const counts = new Map(); let bad = 0;
for (const l of lines) {
  if (!l.startsWith('{"request_id"')) continue;
  const r = JSON.parse(l);
  const k = `${r.method} ${r.route} HTTP ${r.status}${r.code === undefined || r.code === null ? '' : ` code ${r.code}`}`;
  counts.set(k, (counts.get(k) ?? 0) + 1);
  if (r.status >= 500 || /panic|internal/i.test(r.error ?? '')) { bad++; console.log('BUG', l); }
}
console.log('\nworker log: requests by route / status / code');
for (const [k, v] of [...counts].sort()) console.log(`  ${String(v).padStart(6)}  ${k}`);
console.log(`  total ${[...counts.values()].reduce((a, b) => a + b, 0)}, 5xx or internal: ${bad}`);
process.exit(bad ? 1 : 0);
EOF
exit $status
