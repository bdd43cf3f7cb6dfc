"""Cold starts of a Lambda function binary, measured on this machine.

A stand-in for the Lambda Runtime API on loopback serves one event to a freshly started
function binary and times process start -> the function's response. Peak RSS (VmHWM) is read
from /proc just before the process is stopped.

Usage: python bench/runtime_api.py BINARY EVENT_FILE STARTS [KEY=VALUE ...]
The environment of the function is the KEY=VALUE pairs (plus what the runtime needs).
Prints one JSON object: {"starts": [...ms...], "median_ms", "p90_ms", "peak_rss_kib": [...], "statuses": [...],
"init_median_ms", "parts_median_ms"}. The parts are the figures of the function's debug-level timing
events ("sign-up timing", "password checked and hashed"), read from its
log: where a cold request's time goes, each the median over the starts.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

binary, event_file, starts = sys.argv[1], sys.argv[2], int(sys.argv[3])
extra_env = dict(kv.split("=", 1) for kv in sys.argv[4:])
event_template = open(event_file).read()


class Runtime(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    event = b""
    done = None  # threading.Event set when the response arrives
    response = None
    served = False

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.endswith("/runtime/invocation/next"):
            self.send_error(404)
            return
        if Runtime.served:
            time.sleep(30)  # the next invocation never comes: the process is stopped first
            return
        Runtime.served = True
        Runtime.first_next = time.perf_counter()
        body = Runtime.event
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-request")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        payload = self.rfile.read(length)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if "/response" in self.path or "/error" in self.path:
            Runtime.response = (self.path, payload)
            Runtime.done.set()


TIMING_EVENTS = {"sign-up timing", "password checked and hashed"}


def one_start(i):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    port = server.server_address[1]
    Runtime.served = False
    Runtime.done = threading.Event()
    Runtime.response = None
    Runtime.event = event_template.replace("BENCH_N", f"{os.getpid()}x{i}").encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        # Warnings, and the timing events (debug) of the sign-up and the hasher.
        "RUST_LOG": "warn,shared::accounts::signup=debug,shared::password=debug",
        **extra_env,
    }
    started = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if not Runtime.done.wait(30):
        proc.kill()
        raise SystemExit(f"no response: {proc.stderr.read().decode()[-2000:]}")
    elapsed = (time.perf_counter() - started) * 1000
    init = (Runtime.first_next - started) * 1000
    rss = 0
    try:
        for line in open(f"/proc/{proc.pid}/status"):
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    proc.kill()
    out, _ = proc.communicate()
    parts = {}
    for line in out.decode(errors="replace").splitlines():
        try:
            fields = json.loads(line).get("fields", {})
        except ValueError:
            continue
        if fields.get("message") in TIMING_EVENTS:
            parts.update({k: v for k, v in fields.items() if k.endswith("_ms")})
    server.shutdown()
    server.server_close()
    path, payload = Runtime.response
    status = json.loads(payload).get("statusCode") if "/response" in path else "error"
    return elapsed, rss, status, init, parts


results = [one_start(i) for i in range(starts)]
times = sorted(r[0] for r in results)
print(json.dumps({
    "starts_ms": [round(t, 2) for t in times],
    "median_ms": round(statistics.median(times), 2),
    "p90_ms": round(times[int(len(times) * 0.9) - 1], 2),
    "peak_rss_kib": max(r[1] for r in results),
    "statuses": sorted(set(str(r[2]) for r in results)),
    "init_median_ms": round(statistics.median(r[3] for r in results), 2),
    "parts_median_ms": {
        name: round(statistics.median(r[4][name] for r in results if name in r[4]), 2)
        for name in sorted({name for r in results for name in r[4]})
    },
}))
