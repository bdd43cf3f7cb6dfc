"""The import's throughput and memory: `accounts import-users` of N generated users (each with
a bcrypt hash, as Supabase or Auth0 export them) into a fresh SQLite store, and into a fresh
table of the DynamoDB stand-in (moto) when its endpoint is given; each at a tenth and at the
whole count, so the peak memory of the two says whether it stays flat. One JSON line per run.

moto answers one request at a time (scripts/moto_server.py), each in a few milliseconds of
Python: its figures bound the import's own overhead, not DynamoDB's speed (M users, default N).

Usage: python bench/import.py <accounts binary> <N> [<moto endpoint> [<M>]]
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

binary, n = sys.argv[1], int(sys.argv[2])
moto = sys.argv[3] if len(sys.argv) > 3 else None
moto_n = int(sys.argv[4]) if len(sys.argv) > 4 else n
BCRYPT = "$2b$10$nmEI1wLVYiGA1c74gDbIX.UDy6szk1VJF5/kqG854qmdGhRETCPw6"


def write_file(path, count):
    with open(path, "w") as f:
        for i in range(count):
            name = f"user{i:07d}"
            line = {"username": name, "email": f"{name}@example.com", "password_hash": BCRYPT,
                    "data": {"plan": "legacy", "since": 2019}, "created_at": "2019-03-01T10:00:00Z"}
            f.write(json.dumps(line) + "\n")


def run(store, count):
    with tempfile.TemporaryDirectory() as data:
        path = os.path.join(data, "users.jsonl")
        write_file(path, count)
        env = {"PATH": os.environ["PATH"], "DATA_DIR": data, "RUST_LOG": "warn"}
        if store == "dynamodb":
            env.update({"STORE": "dynamodb", "TABLE_NAME": f"bench-import-{uuid.uuid4()}",
                        "AWS_ENDPOINT_URL": moto, "AWS_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
            subprocess.run([binary, "create-table"], env=env, check=True, capture_output=True)
        # Peak memory of this child alone (its own rusage, from wait4).
        in_flight = "16"
        started = time.monotonic()
        with open(os.path.join(data, "out"), "w+") as out:
            child = subprocess.Popen([binary, "import-users", path, "--in-flight", in_flight],
                                     env=env, stdout=out, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.monotonic() - started
            out.seek(0)
            text = out.read()
        rss_kib = usage.ru_maxrss
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"import-users failed: {text[-4000:]}")
        summary = text.strip().splitlines()[-1]
        print(json.dumps({"store": store, "users": count, "seconds": round(seconds, 2),
                          "in_flight": int(in_flight), "users_per_s": round(count / seconds),
                          "peak_rss_mib": round(rss_kib / 1024, 1),
                          "summary": summary}), flush=True)


for count in (n // 10, n):
    run("sqlite", count)
if moto:
    for count in (moto_n // 10, moto_n):
        run("dynamodb", count)
