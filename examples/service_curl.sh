#!/bin/sh
# Ask a running `policyengine serve` for decisions with nothing but curl.
#
#   policyengine serve --journal decisions.db &        # listens on 127.0.0.1:8181
#   examples/service_curl.sh                           # or: POLICYENGINE_URL=… POLICYENGINE_TOKEN=… examples/service_curl.sh
#
# Prints the outcome and decision id of one demand, the problem a malformed
# request gets, and Russia's market outcome.  Exits non-zero if the service
# does not answer as documented in docs/service.md.
set -eu
URL="${POLICYENGINE_URL:-http://127.0.0.1:8181}"
AUTH=""
if [ -n "${POLICYENGINE_TOKEN:-}" ]; then AUTH="Authorization: Bearer $POLICYENGINE_TOKEN"; fi

post() {  # post PATH BODY: the answer's body, then its status on a line of its own
    curl -sS -X POST "$URL$1" -H 'Content-Type: application/json' ${AUTH:+-H "$AUTH"} \
        --data-binary "$2" -w '\n%{http_code}\n'
}

echo "== one demand"
answer=$(post /v1/decide '{"jurisdiction":"RU","demand":{"kind":"key_disclosure","category":"all_users","legal_basis":"statute"}}')
status=$(printf '%s\n' "$answer" | tail -n 1)
body=$(printf '%s\n' "$answer" | sed '$d')
[ "$status" = 200 ] || { echo "expected 200, got $status: $body" >&2; exit 1; }
printf '%s\n' "$body" | grep -o '"outcome":"[a-z]*"' | head -n 1
printf '%s\n' "$body" | grep -o '"decision_id":[^,]*' | head -n 1

echo "== a malformed request"
answer=$(post /v1/decide '{"jurisdiction":')
status=$(printf '%s\n' "$answer" | tail -n 1)
[ "$status" = 400 ] || { echo "expected 400, got $status" >&2; exit 1; }
printf '%s\n' "$answer" | sed '$d' | grep -o '"code": "[a-z.-]*"'

echo "== Russia's market"
curl -sS "$URL/v1/markets/RU" ${AUTH:+-H "$AUTH"} | grep -o '"outcome":"[a-z]*"' | head -n 1
