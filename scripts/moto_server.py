"""The moto server (DynamoDB and SES) for the tests, one request at a time.

moto checks a TransactWriteItems' conditions and applies its writes without a lock, so two
concurrent requests can interleave and both pass a condition that only one of them should.
DynamoDB serializes conflicting writes; serializing moto's requests models that, so the race
tests check this project's conditions rather than moto's thread safety. Connections are still
accepted concurrently.

Usage: python scripts/moto_server.py HOST PORT
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

host, port = sys.argv[1], int(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def one_at_a_time(environ, start_response):
    with lock:
        return list(app(environ, start_response))


run_simple(host, port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler)
