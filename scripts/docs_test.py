"""The docs' examples, run: each shell block marked `<!-- tested: ... -->` in README.md and
docs/*.md, in order, in one bash session per file, against a fresh local server (its own
data directory, a free loopback port; the block's `B=http://127.0.0.1:3000` pointed at it), from
that server's working directory (so `.data/mail.log` is its mail log). In the README's walk
every request must succeed (curl runs with --fail-with-body there); a block that fails, or a
file whose marked blocks are gone, fails the test.

Usage: python scripts/docs_test.py <accounts binary>
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

binary = os.path.abspath(sys.argv[1])
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = "<!-- tested:"
# file, whether every request must succeed, what the output must hold
FILES = [
    ("README.md", True, ['"activated":true', '"username":"alice"']),
    ("docs/walkthrough.md", False, ['"activated":true', '"invalid_token"', '"issuer":',
                                    '"reset":true', '"token_type":"Bearer"', '"email_changed":true',
                                    '"type":"password_changed"']),
]


def blocks(path):
    lines = open(os.path.join(root, path)).read().split("\n")
    out = []
    for i, line in enumerate(lines):
        if line.startswith(MARK):
            assert lines[i + 1] == "```sh", f"{path}:{i + 2}: a marked block starts with ```sh"
            end = lines.index("```", i + 2)
            out.append("\n".join(lines[i + 2:end]))
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


failed = False
for path, strict, expected in FILES:
    found = blocks(path)
    if not found:
        print(f"{path}: no marked block")
        failed = True
        continue
    with tempfile.TemporaryDirectory() as cwd:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {"PATH": os.environ["PATH"], "HOME": cwd, "PORT": str(port), "RUST_LOG": "warn"}
        server = subprocess.Popen([binary], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/")
                    break
                except OSError:
                    time.sleep(0.05)
            script = "set -euo pipefail\n"
            if strict:
                script += 'curl() { command curl --fail-with-body "$@"; }\n'
            # The first block sets B; the later ones of the file go on in its session.
            assert "\nB=http://127.0.0.1:3000\n" in "\n" + found[0], found[0]
            for block in found:
                script += re.sub(r"^B=http://127\.0\.0\.1:3000$", f"B={base}", block, flags=re.M) + "\n"
            run = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True,
                                 text=True, timeout=300)
        finally:
            server.kill()
            server.wait()
    missing = [e for e in expected if e not in run.stdout]
    ok = run.returncode == 0 and not missing
    print(f"{'ok' if ok else 'FAILED'}: {path}, {len(found)} block(s), exit {run.returncode}"
          + (f", missing {missing}" if missing else ""))
    if not ok:
        print(run.stdout, run.stderr, sep="\n")
        failed = True
sys.exit(1 if failed else 0)
