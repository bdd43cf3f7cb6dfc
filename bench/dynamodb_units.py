"""What each route asks of DynamoDB, counted from the store's own calls: the local server on a
table of the DynamoDB stand-in (moto) through a recording proxy on loopback, one route at a
time; each call's capacity units by DynamoDB's rules for items under 1 KB (writes) and 4 KB
(reads), which every item of this table is but a user's with large profile data:

- GetItem: 1 read unit when consistent, 0.5 when not; Query and Scan: the same for each page
  (each answer here is under 4 KB).
- PutItem, UpdateItem, DeleteItem: 1 write unit (a refused conditional write too), and 1 more
  when the item is a user or an account event: both are in the `users` index (projection ALL).
- TransactWriteItems: 2 write units for each item it names (a condition check too), and the
  index's unit for a user item.

Mails are counted from the mail log. One JSON line a route: its calls by operation, its read
and write units, its mails.

Usage: python bench/dynamodb_units.py <accounts binary> <moto endpoint>
"""

import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

binary, moto = sys.argv[1], sys.argv[2].rstrip("/")
PASSWORD = "correct horse battery staple"
calls = []
lock = threading.Lock()


def units(target, body):
    """(read units, write units) of one call."""
    op = target.split(".")[-1]
    consistent = 1.0 if body.get("ConsistentRead") else 0.5
    indexed = lambda key: key.get("sk", {}).get("S", "") == "USER" or key.get("sk", {}).get(
        "S", "").startswith("EVENT#")
    if op in ("GetItem", "Query", "Scan"):
        return consistent, 0.0
    if op == "PutItem":
        return 0.0, 1.0 + indexed(body.get("Item", {}))
    if op in ("UpdateItem", "DeleteItem"):
        return 0.0, 1.0 + indexed(body.get("Key", {}))
    if op == "TransactWriteItems":
        write = 0.0
        for item in body.get("TransactItems", []):
            (kind, what), = item.items()
            key = what.get("Item", what.get("Key", {}))
            write += 2.0 + (kind != "ConditionCheck" and indexed(key))
        return 0.0, write
    return 0.0, 0.0


class Proxy(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        target = self.headers.get("x-amz-target", "")
        if target.startswith("DynamoDB"):
            with lock:
                calls.append((target.split(".")[-1], units(target, json.loads(body or b"{}"))))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        req = urllib.request.Request(moto + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req) as r:
                status, answer, rh = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, answer, rh = e.code, e.read(), e.headers
        self.send_response(status)
        for k, v in rh.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


proxy = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Proxy)
threading.Thread(target=proxy.serve_forever, daemon=True).start()
endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"

data = tempfile.mkdtemp()
port = free_port()
base = f"http://127.0.0.1:{port}"
env = {"PATH": os.environ["PATH"], "DATA_DIR": data, "RUST_LOG": "warn", "PORT": str(port),
       "STORE": "dynamodb", "TABLE_NAME": f"units-{uuid.uuid4().hex[:8]}", "AWS_ENDPOINT_URL": endpoint,
       "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
subprocess.run([binary, "create-table"], env=env, check=True, capture_output=True)
server = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def call(method, path, body=None, token=None, form=False):
    data_ = None
    headers = {}
    if body is not None:
        if form:
            data_ = "&".join(f"{k}={v}" for k, v in body.items()).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        else:
            data_ = json.dumps(body).encode()
            headers["content-type"] = "application/json"
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data_, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def mails():
    try:
        with open(os.path.join(data, "mail.log")) as f:
            return [json.loads(l) for l in f]
    except FileNotFoundError:
        return []


def link(path):
    for mail in reversed(mails()):
        for line in mail["text"].splitlines():
            if line.startswith(f"{base}{path}?token="):
                return line[len(f"{base}{path}?token="):]
    raise SystemExit(f"no link to {path}")


def measure(route, fn, expect):
    time.sleep(0.2)
    with lock:
        calls.clear()
    sent = len(mails())
    status = fn()
    time.sleep(0.3)  # the answer is sent before nothing: but let any late call land
    with lock:
        taken = list(calls)
    ops = {}
    for op, _ in taken:
        ops[op] = ops.get(op, 0) + 1
    line = {"route": route, "status": status, "calls": ops,
            "read_units": sum(u[0] for _, u in taken), "write_units": sum(u[1] for _, u in taken),
            "mails": len(mails()) - sent}
    print(json.dumps(line), flush=True)
    assert status == expect, line


try:
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/")
            break
        except OSError:
            time.sleep(0.1)
    state = {}
    measure("POST /user", lambda: call("POST", "/user", {"username": "una", "email": "una@example.com",
                                                          "password": PASSWORD})[0], 201)
    measure("GET /activate", lambda: urllib.request.urlopen(f"{base}/activate?token={link('/activate')}").status, 200)

    def login():
        status, body = call("POST", "/auth", {"username": "una", "password": PASSWORD})
        state.update(token=body["token"], refresh=body["refresh_token"])
        return status
    measure("POST /auth", login, 200)
    measure("POST /auth (wrong password)",
            lambda: call("POST", "/auth", {"username": "una", "password": "wrong-password-1"})[0], 401)
    measure("GET /user", lambda: call("GET", "/user", token=state["token"])[0], 200)

    def refresh():
        status, body = call("POST", "/auth/token", {"grant_type": "refresh_token",
                                                     "refresh_token": state["refresh"]}, form=True)
        state.update(token=body["access_token"], refresh=body["refresh_token"])
        return status
    measure("POST /auth/token (refresh)", refresh, 200)
    time.sleep(61)  # the mail throttle: one mail a minute to an address
    measure("POST /password/forgot", lambda: call("POST", "/password/forgot", {"email": "una@example.com"})[0], 202)
    measure("POST /password/reset", lambda: call("POST", "/password/reset", {
        "token": link("/password/reset"), "password": PASSWORD + "!"})[0], 200)
finally:
    server.kill()
    proxy.shutdown()
