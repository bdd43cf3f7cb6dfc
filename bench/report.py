"""Writes BENCHMARKS.md from bench/results/ (made by bench/run.sh) and bench/notes.md."""

import json
import os
import platform
import re
import subprocess
from pathlib import Path

root = Path(__file__).resolve().parent.parent
res = root / "bench" / "results"


def load(name):
    p = res / name
    return json.loads(p.read_text()) if p.exists() and p.read_text().strip() else None


def timing_row(label, c, r):
    """A table row of one wrk run: requests/s, p50, p99, errors."""
    return f"| {label} | {c} | {r['rps']:.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['errors']} |"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"


# argon2: criterion's "time: [low mid high]" lines, in order of the bench file.
argon = {}
text = (res / "argon2.txt").read_text() if (res / "argon2.txt").exists() else ""
for m in re.finditer(r"argon2id/(.+?)\n?\s+time:\s+\[([\d.]+) (\w+) ([\d.]+) (\w+) ([\d.]+) (\w+)\]", text):
    name, mid, unit = m.group(1).strip(), float(m.group(4)), m.group(5)
    argon[name] = mid * {"ms": 1.0, "µs": 0.001, "us": 0.001, "s": 1000.0}.get(unit, 1.0)
verify_ms = next((v for k, v in argon.items() if k.startswith("verify (")), None)
# One verify per core at once: the time of the batch, i.e. what a verify costs with every core busy.
parallel_ms = next((v for k, v in argon.items() if "at once" in k), None)
hash_ms = next((v for k, v in argon.items() if k.startswith("hash (worker")), None)
alloc_ms = next((v for k, v in argon.items() if "allocating" in k), None)
m = re.search(r"password strength check \(zxcvbn\)\n?\s+time:\s+\[[\d.]+ \w+ ([\d.]+) (\w+)", text)
strength_ms = float(m.group(1)) * {"ms": 1.0, "µs": 0.001, "us": 0.001}.get(m.group(2), 1.0) if m else None
cores = os.cpu_count() or 1

lines = []
w = lines.append
w("# Benchmarks")
w("")
w("Made by `bench/run.sh` (the figures) and `bench/notes.md` (what they mean); reproduce with")
w("`bench/run.sh` on an idle machine. Benchmarks are not tests: nothing here runs in CI.")
w("")
w("## The machine")
w("")
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
mem = sh("free -g | awk '/Mem:/ {print $2}'")
w(f"- {platform.machine()}, {cores} cores: {cpu}")
w(f"- {mem} GiB memory, {platform.system()} {platform.release()}")
w(f"- {sh('rustc --version')}; load generator {sh('wrk --version 2>&1 | head -1')}")
w("")
w("## The limit: argon2id at m = 19456 KiB, t = 2, p = 1")
w("")
w("| operation | time (criterion median) |")
w("|---|---|")
for k, v in argon.items():
    w(f"| {k} | {v:.2f} ms |")
if strength_ms:
    w(f"| password strength check (zxcvbn), every sign-up | {strength_ms:.2f} ms |")
if verify_ms:
    w("")
    w(f"Bound for logins on one core: 1000 / {verify_ms:.2f} ms = **{1000 / verify_ms:.0f} logins/s**; "
      f"for sign-ups ({hash_ms:.2f} ms a hash): **{1000 / hash_ms:.0f} sign-ups/s**.")
    if parallel_ms:
        w(f"On all {cores} cores at once a verify takes {parallel_ms:.2f} ms (the hashes share caches and memory "
          f"bandwidth), so the machine's bound is {cores} x 1000 / {parallel_ms:.2f} ms = **{cores * 1000 / parallel_ms:.0f} "
          f"logins/s**, not {cores} x {1000 / verify_ms:.0f} = {cores * 1000 / verify_ms:.0f}. The goals at c=16 are "
          f"judged against the naive bound (the stricter); the ratio to the measured one is beside it.")
tokens = {}
text = (res / "tokens.txt").read_text() if (res / "tokens.txt").exists() else ""
for m in re.finditer(r"token/(.+?)\n?\s+time:\s+\[([\d.]+) (\S+) ([\d.]+) (\S+) ([\d.]+) (\S+)\]", text):
    name, mid, unit = m.group(1).strip(), float(m.group(4)), m.group(5)
    tokens[name] = mid * {"ns": 0.001, "µs": 1.0, "us": 1.0, "ms": 1000.0}.get(unit, 1.0)
if tokens:
    w("")
    w("## Token signatures: EdDSA (the default) against RS256 and HS512")
    w("")
    w("| operation | time (criterion median) |")
    w("|---|---|")
    for k, v in tokens.items():
        w(f"| {k} | {v:.1f} µs |")
    variants = [("EdDSA", "EdDSA, cache on (the default)"), ("EdDSA-nocache", "EdDSA, cache off"),
                ("RS256", "RS256, cache on"), ("RS256-nocache", "RS256, cache off"),
                ("HS512", "HS512, cache on"), ("HS512-nocache", "HS512, cache off (the seeds' way)")]
    loads = {(v, c): load(f"me-{v}-c{c}.json") for v, _ in variants for c in (1, 16)}
    homes = {c: load(f"home-tokens-c{c}.json") for c in (1, 16)}
    if any(loads.values()):
        w("")
        w("GET /user with a token, the local server signing with each, with the cache of verified tokens "
          "(`TOKEN_CACHE_ENTRIES`) and without, and anonymous GET / (wrk on loopback, one run, one after "
          "the other):")
        w("")
        w("| server | c | requests/s | p50 | p99 | errors |")
        w("|---|---|---|---|---|---|")
        for c in (1, 16):
            for v, label in variants:
                r = loads[(v, c)]
                if r:
                    w(timing_row(f"GET /user, {label}", c, r))
            if homes[c]:
                w(timing_row("GET / (anonymous)", c, homes[c]))
        w("")
        w("| goal (same run) | c | figure | met |")
        w("|---|---|---|---|")
        for c in (1, 16):
            ed, ed0, hs0, home = loads[("EdDSA", c)], loads[("EdDSA-nocache", c)], loads[("HS512-nocache", c)], homes[c]
            if ed and hs0:
                r = ed["rps"] / hs0["rps"]
                w(f"| EdDSA with the cache >= 0.9 x HS512 without it | {c} | {r:.2f} | {'yes' if r >= 0.9 else 'no'} |")
            if ed and ed0:
                w(f"| (EdDSA with the cache / without it) | {c} | {ed['rps'] / ed0['rps']:.2f} | (not a goal) |")
            if ed and home and c == 16:
                r = ed["rps"] / home["rps"]
                w(f"| EdDSA with the cache >= 0.45 x GET / | {c} | {r:.2f} | {'yes' if r >= 0.45 else 'no'} |")
    ed, hs = tokens.get("verify EdDSA"), tokens.get("verify HS512")
    if ed and hs and verify_ms:
        w("")
        cached = tokens.get("verify EdDSA, cached")
        w(f"Without the cache every authenticated request verifies its token: EdDSA adds {ed - hs:.0f} µs to "
          f"HS512's {hs:.0f} µs, {(ed - hs) / 1000:.3f} ms. With it (the default) only a token's first request "
          f"in a process does" + (f"; the others find it in {cached:.1f} µs" if cached else "") +
          f". A login signs one, next to an argon2id verify of {verify_ms:.2f} ms.")
w("")
w("## The local server under load (wrk on loopback; the server built with profile `local`)")
w("")
w("| route | c | requests/s | p50 | p99 | errors | statuses |")
w("|---|---|---|---|---|---|---|")
rows = {}
for route, label in [("home", "GET / (anonymous)"), ("me", "GET /user (token)"), ("login", "POST /auth"), ("signup", "POST /user (new user each)"), ("refresh", "POST /auth/token (a chain per connection)")]:
    for c in (1, 16):
        r = load(f"{route}-c{c}.json")
        rows[(route, c)] = r
        if r:
            w(f"| {label} | {c} | {r['rps']:.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['errors']} | {json.dumps(r['statuses'])} |")
w("")
w("Goals, as ratios in the same run:")
w("")
w("| goal | figure | met |")
w("|---|---|---|")
def ratio(a, b):
    return a / b if a and b else None
for c in (1, 16):
    h, m, l, s = (rows.get((k, c)) for k in ("home", "me", "login", "signup"))
    if h and m:
        r = ratio(m["rps"], h["rps"])
        w(f"| GET /user >= 0.6 x GET / (c={c}) | {r:.3f} | {'yes' if r >= 0.6 else 'no'} |")
    # The bound at concurrency c: min(c, cores) hashes at a time, each taking what one takes
    # alone (c=1) or what one takes with every core busy (measured, when c >= cores).
    lanes = min(c, cores)
    slow = parallel_ms / verify_ms if (parallel_ms and verify_ms and lanes == cores and cores > 1) else 1.0
    if l and verify_ms:
        naive = lanes * 1000 / verify_ms
        r = l["rps"] / naive
        extra = f"; {l['rps'] * verify_ms * slow / (lanes * 1000):.2f} of the measured {lanes * 1000 / (verify_ms * slow):.0f}/s" if slow != 1.0 else ""
        w(f"| login >= 0.9 x argon2 bound (c={c}: {lanes} x 1000 / {verify_ms:.2f} ms = {naive:.0f}/s) | {r:.3f}{extra} | {'yes' if r >= 0.9 else 'no'} |")
    if s and hash_ms:
        naive = lanes * 1000 / hash_ms
        r = s["rps"] / naive
        extra = f"; {s['rps'] * hash_ms * slow / (lanes * 1000):.2f} of the measured {lanes * 1000 / (hash_ms * slow):.0f}/s" if slow != 1.0 else ""
        w(f"| sign-up >= 0.9 x argon2 bound (c={c}: {lanes} x 1000 / {hash_ms:.2f} ms = {naive:.0f}/s) | {r:.3f}{extra} | {'yes' if r >= 0.9 else 'no'} |")
        if strength_ms:
            b = lanes * 1000 / (hash_ms * slow + strength_ms)
            w(f"| (sign-up against argon2 + the strength check, c={c}: {b:.0f}/s) | {s['rps'] / b:.2f} | (not a goal) |")
m16 = rows.get(("me", 16))
if m16:
    w(f"| p99 of GET /user at c=16 < 5 ms | {m16['p99_ms']:.2f} ms | {'yes' if m16['p99_ms'] < 5 else 'no'} |")
for c in (1, 16):
    m, f = rows.get(("me", c)), rows.get(("refresh", c))
    if m and f:
        w(f"| (a refresh against GET /user, c={c}: one conditional write and one signature more) | {f['rps'] / m['rps']:.2f} | (not a goal) |")
rss = (res / "server-rss.txt").read_text().strip() if (res / "server-rss.txt").exists() else ""
if rss:
    w("")
    w(rss.replace("VmHWM:", "peak (VmHWM)"))
rs_runs = res / "rs256.jsonl"
if rs_runs.exists() and rs_runs.read_text().strip():
    runs = [json.loads(l) for l in rs_runs.read_text().splitlines() if l.strip()]
    w("")
    w("## RS256 against EdDSA: logins and GET /user")
    w("")
    w("The local server signing with each (`JWT_ALGORITHM`), the cache of verified tokens on (the")
    w("default), in turns: EdDSA, RS256, EdDSA, RS256. Logins cycle through 16 users (an argon2id")
    w("verify and a signature each); GET /user presents one token. Medians of the rounds.")
    w("")
    w("| route | algorithm | c | rounds | requests/s (median) | p50 (median) | p99 (median) | statuses |")
    w("|---|---|---|---|---|---|---|---|")
    med = {}
    for route, label in (("login", "POST /auth"), ("me", "GET /user")):
        for c in (1, 16):
            for variant in ("EdDSA", "RS256"):
                rs = [r["run"] for r in runs if r["variant"] == variant and r["c"] == c and r["route"] == route]
                if not rs:
                    continue
                mid = lambda k: sorted(r[k] for r in rs)[len(rs) // 2]
                med[(route, variant, c)] = mid("rps")
                statuses = sorted({s for r in rs for s in r["statuses"]})
                w(f"| {label} | {variant} | {c} | {len(rs)} | {mid('rps'):.1f} | {mid('p50_ms'):.2f} ms | "
                  f"{mid('p99_ms'):.2f} ms | {', '.join(statuses)} |")
    w("")
    w("| ratio (RS256 / EdDSA, same run) | c | figure |")
    w("|---|---|---|")
    for route, label in (("login", "POST /auth"), ("me", "GET /user")):
        for c in (1, 16):
            if (route, "EdDSA", c) in med and (route, "RS256", c) in med:
                w(f"| {label} | {c} | {med[(route, 'RS256', c)] / med[(route, 'EdDSA', c)]:.3f} |")
    sign_rs, sign_ed = tokens.get("sign RS256"), tokens.get("sign EdDSA")
    if sign_rs and sign_ed and verify_ms:
        w("")
        w(f"An RSA-2048 signature costs {sign_rs:.0f} µs against Ed25519's {sign_ed:.0f} µs: a login "
          f"pays {(sign_rs - sign_ed) / 1000:.2f} ms more, beside an argon2id verify of {verify_ms:.2f} ms.")

events_runs = res / "login-events.jsonl"
if events_runs.exists() and events_runs.read_text().strip():
    runs = [json.loads(l) for l in events_runs.read_text().splitlines() if l.strip()]
    w("")
    w("## Account events on the login path")
    w("")
    w("Each login records one event (one more write to the store the login uses). The same login run")
    w("(16 users in turn, wrk, the local server on its embedded store) against the server of the")
    w("release before events, built from git, in turns: before, with, before, with, ... Medians of")
    w("the rounds.")
    w("")
    w("| server | c | rounds | requests/s (median) | p99 (median) | statuses |")
    w("|---|---|---|---|---|---|")
    med = {}
    for variant in ("before", "with"):
        for c in (1, 16):
            rs = [r["run"] for r in runs if r["variant"] == variant and r["c"] == c]
            if not rs:
                continue
            rps = sorted(r["rps"] for r in rs)[len(rs) // 2]
            p99 = sorted(r["p99_ms"] for r in rs)[len(rs) // 2]
            med[(variant, c)] = rps
            statuses = sorted({s for r in rs for s in r["statuses"]})
            label = "before events" if variant == "before" else "with events"
            w(f"| {label} | {c} | {len(rs)} | {rps:.1f} | {p99:.2f} ms | {', '.join(statuses)} |")
    w("")
    w("| goal | figure | met |")
    w("|---|---|---|")
    for c in (1, 16):
        if ("before", c) in med and ("with", c) in med:
            r = med[("with", c)] / med[("before", c)]
            w(f"| login with events >= 0.95 x before them (c={c}) | {r:.3f} | {'yes' if r >= 0.95 else 'no'} |")
w("")
w("## Cold starts (a function binary, the Lambda Runtime API stood in for on loopback)")
w("")
w("From process start to the function's response, against the moto server (DynamoDB and SES),")
w("x86_64 release build of this machine; peak RSS is the process's VmHWM.")
w("")
w("| function | starts | median to response | p90 | median init (start to first `next`) | peak RSS | statuses | goal |")
w("|---|---|---|---|---|---|---|---|")
for fn in ("me", "signup"):
    r = load(f"cold-{fn}.json")
    if r:
        goal = "median <= 30 ms; RSS <= 32 MB" if fn == "me" else "median <= 40 ms"
        init = f"{r['init_median_ms']:.1f} ms" if "init_median_ms" in r else "?"
        w(f"| {fn} | {len(r['starts_ms'])} | {r['median_ms']:.1f} ms | {r['p90_ms']:.1f} ms | {init} | {r['peak_rss_kib'] / 1024:.1f} MiB | {', '.join(r['statuses'])} | {goal} |")
w("")
parts = (load("cold-signup.json") or {}).get("parts_median_ms")
if parts:
    # The function's own debug timing events (bench/runtime_api.py), medians over the starts.
    w("Where a cold sign-up's time goes after init (medians; the check and hash run on the hashing")
    w("thread while the two name lookups run on the store, then the insert, then the mail):")
    w("")
    w("| strength check | argon2 hash | check and hash, from the request (thread start, memory) | name lookups | insert (store) | mail (SES) |")
    w("|---|---|---|---|---|---|")
    w("| " + " | ".join(f"{parts.get(k, float('nan')):.1f} ms" for k in
                      ("check_ms", "hash_ms", "check_and_hash_ms", "lookups_ms", "store_ms", "mail_ms")) + " |")
    w("")
w("## Imported users: the first login, and the import")
w("")
imported = {}
text = (res / "imported.txt").read_text() if (res / "imported.txt").exists() else ""
for m in re.finditer(r"imported/(.+?)\n?\s+time:\s+\[([\d.]+) (\w+) ([\d.]+) (\w+) ([\d.]+) (\w+)\]", text):
    imported[m.group(1).strip()] = m.group(4) + " " + m.group(5)
if imported:
    w("One check of a password against a hash another system made, then the dummy argon2id check")
    w("(`shared/benches/imported.rs`, criterion medians, one core): a first login pays it once,")
    w("then the argon2id hash that replaces it. Right and wrong passwords cost the same.")
    w("")
    w("| check | time |")
    w("|---|---|")
    for name, t in imported.items():
        w(f"| {name} | {t} |")
    w("")
runs = [json.loads(line) for line in (res / "import.jsonl").read_text().splitlines() if line.strip()] \
    if (res / "import.jsonl").exists() else []
if runs:
    w("`accounts import-users` (profile `local`) of generated users, each with a bcrypt hash, into a")
    w("fresh store (`bench/import.py`); peak RSS of the process at a tenth and at the whole count")
    w("(flat: the file is read as it goes). moto answers one request at a time in Python and")
    w("slows as its table grows (2 GB of Python objects at 400,000 items): its figure is moto's,")
    w("not DynamoDB's. Two writes a user: the user with its two claims in one TransactWriteItems,")
    w("and its `user_imported` event; on DynamoDB each is one round trip, 16 in flight.")
    w("")
    w("| store | users | in flight | time | users/s | peak RSS |")
    w("|---|---|---|---|---|---|")
    for r in runs:
        w(f"| {r['store']} | {r['users']:,} | {r['in_flight']} | {r['seconds']:.1f} s | {r['users_per_s']:,} | {r['peak_rss_mib']:.1f} MiB |")
    w("")
units = [json.loads(line) for line in (res / "units.jsonl").read_text().splitlines() if line.strip()] \
    if (res / "units.jsonl").exists() else []
if units:
    w("## What each route asks of DynamoDB, and what a month costs")
    w("")
    w("Each route's calls to the table, counted from the store's own requests (the local server on")
    w("moto through a recording proxy, `bench/dynamodb_units.py`), and their capacity units by")
    w("DynamoDB's rules for small items (1 read unit a consistent read, 0.5 an eventual one; 1")
    w("write unit a write, 2 an item of a transaction, 1 more for a user or an event: both are in")
    w("the `users` index):")
    w("")
    w("| route | calls | read units | write units | mails |")
    w("|---|---|---|---|---|")
    for u in units:
        calls = ", ".join(f"{op} {n}" for op, n in u["calls"].items())
        w(f"| {u['route']} | {calls} | {u['read_units']:g} | {u['write_units']:g} | {u['mails']} |")
    w("")
    by = {u["route"]: u for u in units}
    # The month of one active user (assumed; change them to yours): a tenth of them new, 8
    # sign-ins and 1 wrong password, 10 refreshes (24-hour access tokens), 30 reads of GET /user,
    # one in twenty resetting a password. Durations: argon2id as measured here on one core,
    # scaled to a 1024 MB function's 0.58 vCPU, plus the round trips; the others as waits on
    # DynamoDB (about 5 ms each) and SES; 5% of invocations cold (+100 ms, billed).
    argon_ms = (verify_ms or 17.0) * 1769 / 1024
    mix = [  # route, per active user a month, memory MB, warm duration ms
        ("POST /user", 0.1, 1024, argon_ms + 40),
        ("GET /activate", 0.1, 256, 20),
        ("POST /auth", 8, 1024, argon_ms + 25),
        ("POST /auth (wrong password)", 1, 1024, argon_ms + 20),
        ("POST /auth/token (refresh)", 10, 256, 15),
        ("GET /user", 30, 256, 10),
        ("POST /password/forgot", 0.05, 256, 250),
        ("POST /password/reset", 0.05, 1024, argon_ms + 45),
    ]
    price = {  # us-east-1 list prices, USD
        "lambda_gb_s": 0.0000133334, "lambda_request": 0.20e-6, "api_request": 1.00e-6,
        "rru": 0.125e-6, "wru": 0.625e-6, "storage_gb": 0.25 + 0.20,  # table + point-in-time recovery
        "mail": 0.10e-3, "bus_event": 1.00e-6, "log_gb": 0.50, "metric": 0.30, "alarm_metric": 0.10,
        "dashboard": 3.00, "secret": 0.40, "trace": 5.00e-6,
    }
    events_per_user = 0.1 * 2 + 8 + 1 + 0.05 * 2  # signed_up, activated, logged_in, login_failed, the reset's two
    alarm_metrics = 20 + 2 * 38  # the stack's alarms, and each function's (FunctionAlarms)

    def month(mau):
        req = sum(n for _, n, _, _ in mix) * mau
        gb_s = sum(n * mem / 1024 * (ms + 0.05 * 100) / 1000 for _, n, mem, ms in mix) * mau
        events = events_per_user * mau
        gb_s += events * 0.25 * 0.030  # the publisher: 30 ms at 256 MB an event, at worst one a batch
        rru = sum(n * by[r]["read_units"] for r, n, _, _ in mix if r in by) * mau
        wru = sum(n * by[r]["write_units"] for r, n, _, _ in mix if r in by) * mau
        mails = sum(n * by[r]["mails"] for r, n, _, _ in mix if r in by) * mau
        stored_gb = mau * (2 * 1.5 + 3 * events_per_user * 2 * 0.6) / 1e6  # users, 90 days of events, index copies
        logs_gb = req * 1.8 / 1e6  # about 1.5 KB of function log and 0.3 KB of access log a request
        traces = max(0.0, min(req, 2.6e6 + 0.05 * max(0.0, req - 2.6e6)) - 1e5)  # X-Ray: 1/s, then 5%
        costs = {
            "Lambda": gb_s * price["lambda_gb_s"] + (req + events) * price["lambda_request"],
            "HTTP API": req * price["api_request"],
            "DynamoDB": rru * price["rru"] + wru * price["wru"] + stored_gb * price["storage_gb"],
            "SES": mails * price["mail"],
            "EventBridge": events * price["bus_event"],
            "CloudWatch": logs_gb * price["log_gb"] + 16 * price["metric"] + alarm_metrics * price["alarm_metric"]
            + price["dashboard"],
            "X-Ray": traces * price["trace"],
            "Secrets Manager": 3 * price["secret"],
        }
        lite = sum(max(0, min(mau, hi) - lo) * p for lo, hi, p in
                   ((10_000, 100_000, 0.0055), (100_000, 1_000_000, 0.0046), (1_000_000, 10_000_000, 0.00325)))
        return req, costs, {"Lite": lite, "Essentials": max(0, mau - 10_000) * 0.015, "Plus": mau * 0.02}

    w("What a month costs at 10,000, 100,000 and 1,000,000 monthly active users, from those units")
    w("and this mix a user a month (assumed: change it to yours in `bench/report.py`): a tenth of")
    w("the users new (sign-up and activation), 8 sign-ins and 1 wrong password, 10 refreshes")
    w("(24-hour access tokens), 30 `GET /user`, one in twenty resetting a password. Lambda")
    w(f"GB-seconds at each function's memory: argon2id {verify_ms or 17.0:.1f} ms on a core here, so about")
    w(f"{argon_ms:.0f} ms at 1024 MB (0.58 vCPU), plus about 5 ms a DynamoDB round trip; 5% of")
    w("invocations cold (+100 ms). us-east-1 list prices, no free tier but Cognito's (arm64 Lambda")
    w("0.0000133334 USD a GB-second and 0.20 a million requests; HTTP API 1.00 a million; DynamoDB")
    w("on demand 0.125 a million read units, 0.625 a million write units, 0.25 a GB-month and 0.20")
    w("for point-in-time recovery; SES 0.10 a thousand mails; EventBridge 1.00 a million events;")
    w("CloudWatch Logs 0.50 a GB, 0.30 a custom metric, 0.10 an alarm's metric, 3.00 the")
    w("dashboard; X-Ray 5.00 a million traces past 100,000, sampled at 1/s and 5%; Secrets")
    w("Manager 0.40 a secret). Cognito's user pools as published (feature plans of November 2024):")
    w("Lite and Essentials free to 10,000 active users, then Lite 0.0055 to 100,000, 0.0046 to")
    w("1,000,000; Essentials 0.015 (passkeys, mailed codes, hosted pages: the features this")
    w("service has); Plus 0.02 from the first (threat protection); their mail and Lambda triggers")
    w("are billed besides.")
    w("")
    sizes_ = (10_000, 100_000, 1_000_000)
    rows = [month(m) for m in sizes_]
    w("| USD a month | " + " | ".join(f"{m:,} users" for m in sizes_) + " |")
    w("|---|" + "---|" * len(sizes_))
    w("| requests | " + " | ".join(f"{r[0] / 1e6:.1f} M" for r in rows) + " |")
    for part in rows[0][1]:
        w(f"| {part} | " + " | ".join(f"{r[1][part]:,.2f}" for r in rows) + " |")
    w("| **this service** | " + " | ".join(f"**{sum(r[1].values()):,.2f}**" for r in rows) + " |")
    for plan in ("Lite", "Essentials", "Plus"):
        w(f"| Cognito {plan} | " + " | ".join(f"{r[2][plan]:,.2f}" for r in rows) + " |")
    w("")
w("## Deployable sizes (cargo lambda build --release --arm64, as sam build runs it)")
w("")
sizes = (res / "sizes.txt").read_text().split("\n") if (res / "sizes.txt").exists() else []
sizes = [s.split() for s in sizes if s.strip()]
if sizes:
    w("| function | bootstrap | zipped | goal |")
    w("|---|---|---|---|")
    for name, raw, z in sizes:
        w(f"| {name} | {int(raw) / 1e6:.1f} MB | {int(z) / 1e6:.1f} MB | zipped <= 4 MB |")
else:
    w("(not measured: run `STAGES=sizes bench/run.sh`)")
w("")
profiles = (res / "profiles.txt").read_text().split("\n") if (res / "profiles.txt").exists() else []
profiles = [p.split("|") for p in profiles if p.strip()]
if profiles:
    w("## The release profile: sizes and argon2 against the settings")
    w("")
    w("Each row a whole build of the code as committed, with the release settings shown (`cargo")
    w("--config` overrides; `STAGES=profiles bench/run.sh`, about 15 minutes a row here): arm64")
    w("bootstraps and their zips (`zip -9`), and one argon2id verify (criterion, x86_64, this")
    w("machine, the bench profile inheriting release). \"3 at the top\" is the profile's own")
    w("opt-level, which also governs the LTO stage; \"dependencies\" is `[profile.release.package.\"*\"]`;")
    w("argon2 and blake2 stay at opt-level 3 in every row.")
    w("")
    names = profiles[0][2::3]
    w("| settings | argon2id verify | " + " | ".join(f"{n}: bootstrap / zipped" for n in names) + " |")
    w("|---|---|" + "---|" * len(names))
    for row in profiles:
        cells = [f"{int(row[i + 1]) / 1e6:.2f} / {int(row[i + 2]) / 1e6:.2f} MB" for i in range(2, len(row) - 2, 3)]
        w(f"| {row[0]} | {row[1] or 'not measured'} | " + " | ".join(cells) + " |")
    w("")
notes = root / "bench" / "notes.md"
if notes.exists():
    w(notes.read_text().rstrip())
    w("")
(root / "BENCHMARKS.md").write_text("\n".join(lines) + "\n")
