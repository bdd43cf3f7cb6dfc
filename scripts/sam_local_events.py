"""Every file of events/ through `sam local invoke`, the way docs/deploying.md shows it, while
scripts/sam-local runs (its Docker engine, image, moto server and env file). Each answer must
have the status events/expected.tsv gives for an empty store, and the shape the events test
checks (JSON errors with `error` and `message`, pages for browsers, no hash in any body).

Each event runs against an empty table of its own (`accounts-events-<n>`, made here), as the
events test gives each a fresh store: what the walk through `sam local start-api` left in
`accounts`, or an earlier event's sign-up, does not change its answer.

Usage: python3 scripts/sam_local_events.py (from the repository, with scripts/sam-local up)
"""

import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATE = ROOT / ".sam-local"
TABLE = "accounts-events-{}"


def expected():
    rows = []
    for line in (ROOT / "events" / "expected.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        file, empty, _ = line.split("\t")
        rows.append((file, int(empty)))
    return rows


def function_of(file):
    """events/get-user.other-user.json -> GetUserFunction, the template's name for it."""
    name = file.split(".")[0]
    return "".join(part.capitalize() for part in name.split("-")) + "Function"


def pages_only():
    """The routes ("GET /oauth/authorize") that answer pages only, as openapi.json says (no
    answer of theirs has a JSON body): the hosted sign-in pages'."""
    doc = json.loads((ROOT / "openapi.json").read_text())
    return {
        f"{method.upper()} {path}"
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if all("application/json" not in (r.get("content") or {})
               and "$ref" not in r for r in op["responses"].values())
    }


PAGES_ONLY = pages_only()


def check(file, status, answer, route=""):
    got = answer.get("statusCode")
    assert got == status, f"{file}: {got}, expected {status}: {answer}"
    headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    content_type = headers.get("content-type", "")
    body = answer.get("body") or ""
    assert "argon2" not in body and "password_hash" not in body, f"{file}: {body}"
    if "browser" in file or route in PAGES_ONLY:
        assert content_type.startswith("text/html"), f"{file}: {content_type}"
    elif got >= 400:
        error = json.loads(body)
        assert isinstance(error.get("error"), str) and isinstance(error.get("message"), str), (
            f"{file}: {body}"
        )
    elif got != 204:
        assert content_type == "application/json", f"{file}: {content_type}"


def main():
    rows = expected()
    files = sorted(p.name for p in (ROOT / "events").glob("*.json"))
    assert sorted(f for f, _ in rows) == files, "events/expected.tsv lists every events file"

    env = json.loads((STATE / "env.json").read_text())
    args = [a for a in (STATE / "invoke-args").read_text().split("\n") if a]
    env_file = STATE / "env-events.json"
    args[args.index("--env-vars") + 1] = str(env_file)

    def empty_table(n):
        """A new, empty table for event n, and the env file naming it."""
        table = TABLE.format(n)
        subprocess.run(
            [str(ROOT / "target/debug/accounts"), "create-table"],
            env={
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "us-east-1",
                **os.environ,
                "STORE": "dynamodb",
                "TABLE_NAME": table,
                "AWS_ENDPOINT_URL": env["Parameters"]["AWS_ENDPOINT_URL"],
            },
            check=True,
            stdout=subprocess.DEVNULL,
        )
        env["Parameters"]["TABLE_NAME"] = table
        env_file.touch(mode=0o600)
        env_file.write_text(json.dumps(env))

    sam = str(ROOT / ".venv-sam/bin/sam")
    failures = []
    started = time.monotonic()
    for n, (file, status) in enumerate(rows):
        t0 = time.monotonic()
        empty_table(n)
        run = subprocess.run(
            [sam, "local", "invoke", function_of(file), "-e", f"events/{file}", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            # SAM CLI asks STS for the account id when it finds credentials: moto answers it
            # (the real endpoint would be a request leaving the machine, and a wait).
            env={
                **os.environ,
                "SAM_CLI_TELEMETRY": "0",
                "AWS_ENDPOINT_URL_STS": env["Parameters"]["AWS_ENDPOINT_URL"],
            },
        )
        # SAM writes the function's answer alone on stdout; its own lines and the function's
        # logs go to stderr.
        lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
        try:
            route = json.loads((ROOT / "events" / file).read_text()).get("routeKey", "")
            check(file, status, json.loads(lines[-1]), route)
            print(f"  {file}: {status} ({time.monotonic() - t0:.1f} s)", flush=True)
        except (AssertionError, IndexError, ValueError) as e:
            failures.append(file)
            print(f"  {file}: FAILED {e!r}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}", flush=True)
    print(f"{len(rows) - len(failures)} of {len(rows)} events answered as expected through "
          f"`sam local invoke` in {time.monotonic() - started:.0f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
