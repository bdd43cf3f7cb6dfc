#!/usr/bin/env bash
# The benchmarks (not tests: never in CI, never failing a build). Writes bench/results/*.json
# and BENCHMARKS.md. Loopback only; each load run is bounded (DURATION seconds, default 10).
# Usage: bench/run.sh        (root or sudo for apt-get install wrk, once)
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
mkdir -p "$out"
duration=${DURATION:-10}
starts=${STARTS:-20}
stages=" ${STAGES:-argon2 tokens rs256 load events cold import units sizes profiles} "   # a subset re-runs only those stages
want() { [[ "$stages" == *" $1 "* ]]; }

if ! command -v wrk >/dev/null || ! command -v zip >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk zip >/dev/null
fi
if [ ! -x .venv/bin/python ] || ! cmp -s scripts/requirements-test.txt .venv/.requirements; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet -r scripts/requirements-test.txt
    cp scripts/requirements-test.txt .venv/.requirements
fi
free_port() { .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

password="correct horse battery staple"
# start_server <data dir> [VAR=value ...]: the local server on a free port with those variables,
# a user "bench" signed up, activated from the mail log and logged in. Sets server (its pid),
# base and token; the EXIT trap stops it (and moto, when one runs).
start_server() {
    local data=$1; shift
    local port; port=$(free_port)
    base="http://127.0.0.1:$port"
    env "$@" DATA_DIR="$data" PORT=$port RUST_LOG=warn "${accounts_bin:-target/local/accounts}" > "$data/server.log" 2>&1 &
    server=$!
    trap 'kill $server ${moto:-} 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do curl -sf -o /dev/null "$base/" && break; sleep 0.1; done
    curl -sf -o /dev/null -X POST "$base/user" -H "content-type: application/json" -d "{\"username\":\"bench\",\"email\":\"bench@example.com\",\"password\":\"$password\"}"
    curl -sf -o /dev/null "$(grep -o 'http[^"\\]*/activate?token=[A-Za-z0-9_-]*' "$data/mail.log" | tail -1)"
    token=$(curl -sf -X POST "$base/auth" -H "content-type: application/json" -d "{\"username\":\"bench\",\"password\":\"$password\"}" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["token"])')
}

# Fifteen more users on the server started in <data dir> for the login runs (bench1 .. bench15;
# login.lua cycles through them).
more_users() {
    for i in $(seq 1 15); do
        curl -sf -o /dev/null -X POST "$base/user" -H "content-type: application/json" -d "{\"username\":\"bench$i\",\"email\":\"bench$i@example.com\",\"password\":\"$password\"}"
        curl -sf -o /dev/null "$(grep -o 'http[^"\\]*/activate?token=[A-Za-z0-9_-]*' "$1/mail.log" | tail -1)"
    done
}

echo "==> native builds: the server (profile local, as the README runs it), two functions (release, as shipped)"
cargo build --profile local --locked -p accounts
if want cold; then cargo build --release --locked -p functions --bin signup --bin me; fi

if want argon2; then
echo "==> argon2id at the service's parameters (criterion)"
cargo bench --profile local --locked -p shared --bench argon2 -- --noplot > "$out/argon2.txt" 2>&1
fi

if want tokens; then
echo "==> token signatures, EdDSA against RS256 and HS512 (criterion)"
cargo bench --profile local --locked -p shared --bench tokens -- --noplot > "$out/tokens.txt" 2>&1
echo "==> GET /user under load: each algorithm with the cache of verified tokens and without, and GET / (wrk, ${duration} s per run)"
# One run, one after the other: the ratios compare figures of the same minutes.
for variant in "EdDSA|" "EdDSA-nocache|TOKEN_CACHE_ENTRIES=0" "RS256|JWT_ALGORITHM=RS256" \
               "RS256-nocache|JWT_ALGORITHM=RS256 TOKEN_CACHE_ENTRIES=0" "HS512|JWT_ALGORITHM=HS512" \
               "HS512-nocache|JWT_ALGORITHM=HS512 TOKEN_CACHE_ENTRIES=0"; do
    label=${variant%%|*}
    tdir=$(mktemp -d)
    # shellcheck disable=SC2086 # the settings are words
    start_server "$tdir" ${variant#*|}
    for c in 1 16; do
        t=$(( c < 2 ? c : 2 ))
        wrk -t$t -c$c -d${duration}s -s bench/common.lua -H "Authorization: Bearer $token" "$base/user" | tail -1 > "$out/me-$label-c$c.json"
        if [ "$label" = EdDSA ]; then
            wrk -t$t -c$c -d${duration}s -s bench/common.lua "$base/" | tail -1 > "$out/home-tokens-c$c.json"
        fi
    done
    kill $server; trap - EXIT; rm -rf "$tdir"
done
fi

dir=$(mktemp -d)
if want rs256; then
# RS256 against EdDSA, same run, in turns: logins (an RSA signature each, beside argon2id) and
# GET /user (the cache of verified tokens on, as by default: a token's signature is checked once).
echo "==> POST /auth and GET /user, RS256 against EdDSA (wrk, ${duration} s per run, 2 rounds in turns)"
cat bench/common.lua bench/login.lua > "$dir/login.lua"
: > "$out/rs256.jsonl"
for round in 1 2; do
    for variant in "EdDSA|JWT_ALGORITHM=EdDSA" "RS256|JWT_ALGORITHM=RS256"; do
        rdir=$(mktemp -d)
        # shellcheck disable=SC2086 # the settings are words
        start_server "$rdir" ${variant#*|}
        more_users "$rdir"
        for c in 1 16; do
            t=$(( c < 2 ? c : 2 ))
            r=$(wrk -t$t -c$c -d${duration}s -s "$dir/login.lua" "$base/auth" | tail -1)
            echo "{\"variant\": \"${variant%%|*}\", \"route\": \"login\", \"round\": $round, \"c\": $c, \"run\": $r}" >> "$out/rs256.jsonl"
            r=$(wrk -t$t -c$c -d${duration}s -s bench/common.lua -H "Authorization: Bearer $token" "$base/user" | tail -1)
            echo "{\"variant\": \"${variant%%|*}\", \"route\": \"me\", \"round\": $round, \"c\": $c, \"run\": $r}" >> "$out/rs256.jsonl"
        done
        kill $server; trap - EXIT; rm -rf "$rdir"
    done
done
fi

if want load; then
echo "==> the local server under load (wrk, ${duration} s per run)"
start_server "$dir"
more_users "$dir"
cat bench/common.lua bench/login.lua > "$dir/login.lua"
cat bench/common.lua bench/signup.lua > "$dir/signup.lua"
cat bench/common.lua bench/refresh.lua > "$dir/refresh.lua"
for c in 1 16; do
    t=$(( c < 2 ? c : 2 ))
    wrk -t$t -c$c -d${duration}s -s bench/common.lua "$base/" | tail -1 > "$out/home-c$c.json"
    wrk -t$t -c$c -d${duration}s -s bench/common.lua -H "Authorization: Bearer $token" "$base/user" | tail -1 > "$out/me-c$c.json"
    wrk -t$t -c$c -d${duration}s -s "$dir/login.lua" "$base/auth" | tail -1 > "$out/login-c$c.json"
    BENCH_PREFIX="c${c}r$RANDOM" wrk -t$t -c$c -d${duration}s -s "$dir/signup.lua" "$base/user" | tail -1 > "$out/signup-c$c.json"
    # Refreshes: one sign-in per connection (a thread each, so each chain is sequential).
    : > "$dir/refresh-tokens"
    for _ in $(seq 1 "$c"); do
        curl -sf -X POST "$base/auth" -H "content-type: application/json" -d "{\"username\":\"bench\",\"password\":\"$password\"}" |
            .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])' >> "$dir/refresh-tokens"
    done
    REFRESH_TOKENS="$dir/refresh-tokens" wrk -t$c -c$c -d${duration}s -s "$dir/refresh.lua" "$base/auth/token" | tail -1 > "$out/refresh-c$c.json"
done
echo "RSS of the server after the load: $(grep VmHWM /proc/$server/status)" > "$out/server-rss.txt"
kill $server; trap - EXIT
fi

if want events; then
# Account events put one more write on every login (the event, on the store the login uses):
# the same login run against the server of the release before them, built from git, in turns.
before=${EVENTS_BASE_REV:-5b11dfd}
echo "==> POST /auth with account events against $before, before them (wrk, ${duration} s per run, 3 rounds in turns)"
tree=$(mktemp -d)
git worktree add -q --detach "$tree" "$before"
(cd "$tree" && CARGO_TARGET_DIR="$OLDPWD/target" cargo build -q --profile local --locked -p accounts)
cp target/local/accounts "$dir/accounts-before"
git worktree remove --force "$tree"
rm -f target/local/accounts   # so that this build puts this release's binary back
cargo build -q --profile local --locked -p accounts
cmp -s target/local/accounts "$dir/accounts-before" && { echo "the two servers are one binary"; exit 1; }
cat bench/common.lua bench/login.lua > "$dir/login.lua"
: > "$out/login-events.jsonl"
for round in 1 2 3; do
    for variant in "before|$dir/accounts-before" "with|target/local/accounts"; do
        edir=$(mktemp -d)
        accounts_bin=${variant#*|} start_server "$edir"
        more_users "$edir"
        for c in 1 16; do
            t=$(( c < 2 ? c : 2 ))
            r=$(wrk -t$t -c$c -d${duration}s -s "$dir/login.lua" "$base/auth" | tail -1)
            echo "{\"variant\": \"${variant%%|*}\", \"round\": $round, \"c\": $c, \"run\": $r}" >> "$out/login-events.jsonl"
        done
        kill $server; trap - EXIT; rm -rf "$edir"
    done
done
fi

if want cold; then
echo "==> cold starts of the signup and me functions against moto (${starts} each)"
moto_port=$(free_port)
.venv/bin/python scripts/moto_server.py 127.0.0.1 "$moto_port" > "$dir/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
secret=$(head -c 48 /dev/urandom | base64 -w0)
# HS512 here, so that the functions and the local server share the token's key through one line.
cloud="STORE=dynamodb TABLE_NAME=bench MAIL=ses SENDER_EMAIL=bench@sender.example.com PUBLIC_BASE_URL=https://bench.example.com JWT_ALGORITHM=HS512 JWT_SECRET=$secret AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"
env STORE=dynamodb TABLE_NAME=bench DATA_DIR="$dir" target/local/accounts create-table
.venv/bin/python -c "import boto3; boto3.client('ses', endpoint_url='$AWS_ENDPOINT_URL', region_name='us-east-1').verify_email_identity(EmailAddress='bench@sender.example.com')"
# A user and a token on that table, through the local server on DynamoDB (mail logged).
mkdir -p "$dir/cloud"
start_server "$dir/cloud" STORE=dynamodb TABLE_NAME=bench JWT_ALGORITHM=HS512 JWT_SECRET="$secret"
kill $server
sed "s/REPLACE_WITH_TOKEN/$token/" events/me.json > "$dir/me.json"
sed 's/alice/bBENCH_N/g' events/signup.json > "$dir/signup.json"
.venv/bin/python bench/runtime_api.py target/release/me "$dir/me.json" "$starts" $cloud > "$out/cold-me.json"
.venv/bin/python bench/runtime_api.py target/release/signup "$dir/signup.json" "$starts" $cloud > "$out/cold-signup.json"
kill $moto; trap - EXIT
fi

if want import; then
echo "==> imported users: the first login's check of each foreign hash (criterion), and accounts import-users of ${IMPORT_USERS:-100000} users into SQLite and moto"
cargo bench --profile local --locked -p shared --bench imported -- --noplot > "$out/imported.txt" 2>&1
moto_port=$(free_port)
.venv/bin/python scripts/moto_server.py 127.0.0.1 "$moto_port" > "$dir/moto-import.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" && break; sleep 0.1; done
.venv/bin/python bench/import.py target/local/accounts "${IMPORT_USERS:-100000}" "http://127.0.0.1:$moto_port" > "$out/import.jsonl"
kill $moto; trap - EXIT
fi

if want units; then
echo "==> each route's DynamoDB calls and capacity units, counted through a recording proxy (for the cost table)"
[ -x target/local/accounts ] || cargo build --profile local --locked --bin accounts
moto_port=$(free_port)
.venv/bin/python scripts/moto_server.py 127.0.0.1 "$moto_port" > "$dir/moto-units.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" && break; sleep 0.1; done
.venv/bin/python bench/dynamodb_units.py target/local/accounts "http://127.0.0.1:$moto_port" > "$out/units.jsonl"
kill $moto; trap - EXIT
fi

if want sizes; then
echo "==> sizes of the deployable bootstraps (cargo lambda, arm64, the release profile as committed)"
# What `sam build` ships: the same command and profile (scripts/test builds with faster, larger
# settings; this rebuilds with the committed ones). Needs .venv-sam (scripts/test makes it).
functions=$(ls functions/src/bin | sed 's/\.rs$//')
PATH="$PWD/.venv-sam/bin:$PATH" cargo lambda build --release --arm64 --locked -p functions -p publisher
: > "$out/sizes.txt"
for f in $functions; do
    b=${CARGO_TARGET_DIR:-target}/lambda/$f/bootstrap
    z=$(mktemp -u).zip
    (cd "$(dirname "$b")" && zip -q -9 "$z" bootstrap)
    echo "$f $(stat -c %s "$b") $(stat -c %s "$z")" >> "$out/sizes.txt"
    rm -f "$z"
done
fi

if want profiles; then
echo "==> the release profile: bootstrap sizes and argon2 under other settings (slow: whole builds)"
# Each variant: cargo --config overrides on top of Cargo.toml's release profile; its own target
# directory; arm64 bootstraps of three functions, and the argon2 bench (bench inherits release).
variants=(
    "as committed (3 at the top, dependencies s, fat LTO, 1 unit)|"
    "all 3, thin LTO, 4 units (the first profile)|opt-level=3 lto=\"thin\" codegen-units=4 package.\"*\".opt-level=3"
    "all s, fat LTO, 1 unit|opt-level=\"s\""
    "all s, no LTO, 1 unit|opt-level=\"s\" lto=false"
)
: > "$out/profiles.txt"
for variant in "${variants[@]}"; do
    label=${variant%%|*}
    configs=()
    set -f  # the settings hold a literal "*"
    for kv in ${variant#*|}; do configs+=(--config "profile.release.$kv"); done
    set +f
    target="target/profile-$(echo "$label" | tr -c 'a-z0-9' '-')"
    cargo bench --locked "${configs[@]}" --target-dir "$target" -p shared --bench argon2 -- --noplot 'verify' > "$target.argon2.txt" 2>&1
    argon=$(grep -A1 '^argon2id/verify (worker pool' "$target.argon2.txt" | grep -o 'time: *\[[^]]*\]' | awk '{print $4 " " $5}')
    row="$label|$argon"
    for f in me signup widgets; do
        env PATH="$PWD/.venv-sam/bin:$PATH" CARGO_TARGET_DIR="$target" \
            cargo lambda build --release --arm64 --locked "${configs[@]}" -p functions --bin $f
        b=$target/lambda/$f/bootstrap
        z=$(mktemp -u).zip
        (cd "$(dirname "$b")" && zip -q -9 "$z" bootstrap)
        row="$row|$f|$(stat -c %s "$b")|$(stat -c %s "$z")"
        rm -f "$z"
    done
    echo "$row" >> "$out/profiles.txt"
done
fi

.venv/bin/python bench/report.py
echo "==> BENCHMARKS.md written"
