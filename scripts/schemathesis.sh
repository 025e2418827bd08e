#!/usr/bin/env bash
# Property-based HTTP testing of the API against docs/openapi.yaml with
# schemathesis (PyPI), on the built worker in workerd. Fails on any 5xx and
# any response outside the documented envelope/schemas.
#   MAX_EXAMPLES=100 bash scripts/schemathesis.sh [extra schemathesis flags]
set -euo pipefail
cd "$(dirname "$0")/.."
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
venv=.venv-schemathesis
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'schemathesis==4.32.5'
fi
log=$(mktemp)
node scripts/serve-local.mjs > "$log" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do grep -q '"url"' "$log" && break; sleep 0.2; done
url=$(node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").split("\n").find(x=>x.includes("\"url\""));console.log(JSON.parse(l).url)' "$log")
token=$(node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").split("\n").find(x=>x.includes("\"url\""));console.log(JSON.parse(l).token)' "$log")
"$venv/bin/schemathesis" run docs/openapi.yaml --url "$url" \
  --header "Token: $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${MAX_EXAMPLES:-100}" "$@"
