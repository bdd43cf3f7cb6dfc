"""The moto server (DynamoDB and SES) for the tests, one request at a time.

moto checks a TransactWriteItems' conditions and applies its writes without a lock, so two
concurrent requests can interleave and both pass a condition that only one of them should.
DynamoDB serializes conflicting writes; serializing moto's requests models that, so the race
tests check this project's conditions rather than moto's thread safety. Connections are still
accepted concurrently.

DynamoDB makes a TransactWriteItems idempotent by its ClientRequestToken (which the AWS SDK
sets, the same on each retry of one call): a retry of a call that succeeded succeeds again and
changes nothing, for 10 minutes. moto ignores the token, so a retry after an attempt timed out
(one request at a time: a busy test run queues them) would fail its own conditions and read as
a conflict (a sign-up answered `409 username_taken`). This keeps DynamoDB's rule: a successful
call's answer is kept by its token and given again to the same request.

Usage: python scripts/moto_server.py HOST PORT
"""

import io
import json
import sys
import threading
import time

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
IDEMPOTENCY_SECS = 600
answered = {}  # ClientRequestToken -> (until, request body, status, headers, body chunks)


def transaction_token(environ):
    """A TransactWriteItems' ClientRequestToken and its body (the body put back for moto)."""
    if not environ.get("HTTP_X_AMZ_TARGET", "").endswith(".TransactWriteItems"):
        return None, None
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        return json.loads(body).get("ClientRequestToken"), body
    except ValueError:
        return None, body


def one_at_a_time(environ, start_response):
    token, body = transaction_token(environ)
    with lock:
        now = time.monotonic()
        for old in [t for t, kept in answered.items() if kept[0] < now]:
            del answered[old]
        kept = answered.get(token) if token else None
        if kept and kept[1] == body:
            start_response(kept[2], kept[3])
            return kept[4]
        seen = {}

        def remember(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        chunks = list(app(environ, remember))
        if token and seen.get("status", "").startswith("200"):
            answered[token] = (now + IDEMPOTENCY_SECS, body, seen["status"], seen["headers"], chunks)
        return chunks


run_simple(host, port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)
