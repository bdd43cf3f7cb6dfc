#!/usr/bin/env bash
# Schemathesis against the local server: every operation of openapi.json, anonymous and with a
# fixture user's token, all checks but one, a bounded number of examples per operation.
# Usage: scripts/schemathesis.sh <venv> <accounts binary>   (scripts/test calls it)
#
# Left out: positive_data_acceptance (ST202), which expects every schema-valid request to be
# accepted. Some refusals depend on what no schema can say: a password built from the
# username, an activation token that was never issued, a date with month 13.
set -euo pipefail
venv=$1 bin=$2
dir=$(mktemp -d)
free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port) upstream_port=$(free_port)
base="http://127.0.0.1:$port"
SAMPLE_UPSTREAM_PORT=$upstream_port WIDGETS_API_KEY=st-key RUST_LOG=warn "$bin" sample-upstream > "$dir/upstream.log" 2>&1 &
upstream_pid=$!
# With CORS on (a browser app's origin allowed); the first two runs send that Origin, so every
# answer passes through the CORS layer as a browser app's calls do.
app_origin="https://app.example.com"
# The server logs every request (method, path, status, microseconds; never a query, header or
# body) as JSON lines: on a failure, the slowest requests and any warning or error are printed.
# Passkeys on (a relying party on localhost), so that their routes are reached, not 503.
DATA_DIR="$dir" PORT=$port RUST_LOG=info LOG_FORMAT=json WIDGETS_API_URL="http://127.0.0.1:$upstream_port" WIDGETS_API_KEY=st-key \
    ALLOWED_ORIGINS="$app_origin" WEBAUTHN_RP_ID=localhost WEBAUTHN_ORIGINS="http://localhost:$port" \
    "$bin" > "$dir/server.log" 2>&1 &
server_pid=$!
server_report() {
    echo "--- the server's slowest requests, and its warnings and errors"
    "$venv/bin/python" - "$dir/server.log" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
requests = [l["fields"] for l in lines if l.get("fields", {}).get("message") == "request"]
for r in sorted(requests, key=lambda r: -r.get("micros", 0))[:10]:
    print(f'{r.get("micros", 0) / 1000:10.1f} ms  {r.get("status")} {r.get("method")} {r.get("path")}')
for l in lines:
    if l.get("level") in ("WARN", "ERROR"):
        print(json.dumps(l))
print(f"{len(requests)} requests logged")
EOF
}
trap 'status=$?; [ "$status" = 0 ] || server_report; kill $server_pid $upstream_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "$base/" && break; sleep 0.1; done

# The fixture user: signed up, activated from the logged mail, logged in.
password="correct horse battery staple"
# fixture_user <name>: signs up, activates from the logged mail, logs in; prints the token.
fixture_user() {
    curl -sf -o /dev/null -X POST "$base/user" -H "content-type: application/json" -d "{\"username\":\"$1\",\"email\":\"$1@example.com\",\"password\":\"$password\"}"
    curl -sf -o /dev/null "$(grep "\"to\":\"$1@example.com\"" "$dir/mail.log" | grep -o 'http[^"\\]*/activate?token=[A-Za-z0-9_-]*' | tail -1)"
    curl -sf -X POST "$base/auth" -H "content-type: application/json" -d "{\"username\":\"$1\",\"password\":\"$password\"}" |
        "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
token=$(fixture_user fixture)
# An admin for the listing: made so by the operator's command while the server runs.
fixture_user boss > /dev/null
DATA_DIR="$dir" "$bin" make-admin boss > /dev/null
admin_token=$(curl -sf -X POST "$base/auth" -H "content-type: application/json" -d "{\"username\":\"boss\",\"password\":\"$password\"}" |
    "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["token"])')

run() {
    "$venv/bin/schemathesis" run "$base/openapi.json" --checks all --exclude-checks positive_data_acceptance \
        --max-examples "${SCHEMATHESIS_EXAMPLES:-25}" --seed 1 --no-color "$@"
}
echo "--- anonymous, from a browser app's origin"
run -H "Origin: $app_origin"
echo "--- with the fixture user's token, from the same origin (its logout and "end all sessions" left out, so the token lives)"
run -H "Authorization: Bearer $token" -H "Origin: $app_origin" --exclude-operation-id logout --exclude-operation-id endAllSessions
echo "--- introspection, with the introspection key the server generated"
run -H "Authorization: Bearer $(cat "$dir/introspection-key")" --include-operation-id introspect
echo "--- the admins' listing and the OAuth clients, with an admin's token"
run -H "Authorization: Bearer $admin_token" --include-operation-id listUsers \
    --include-operation-id addClient --include-operation-id listClients --include-operation-id removeClient
