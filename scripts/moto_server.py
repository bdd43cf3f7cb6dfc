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

moto backs up every table a TransactWriteItems names (a deep copy, to roll a failed one
back), so each transaction costs time in proportion to its table: an import of many users
slowed to a few a second. This keeps a copy of the items the transaction names instead (and the
length of the table's stream), and puts those back on failure: the same rollback, at the cost
of the transaction's own items.

Usage: python scripts/moto_server.py HOST PORT
"""

import copy
import io
import json
import sys
import threading
import time

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple



class _TablesNotCopied:
    """The `copy` module as moto's transaction sees it: a Table "copied" is the table itself."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_transact_write_items = DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    """moto's own, rolled back item by item (requests run one at a time: see below)."""
    saved, streams = [], {}
    for entry in transact_items:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        op = next(iter(entry.values()))
        table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        attrs = (op.get("Item") or op.get("Key")) if table is not None else None
        if not attrs or table.hash_key_attr not in attrs:
            continue
        hash_value = DynamoType(attrs[table.hash_key_attr])
        if table.range_key_attr is not None:
            if table.range_key_attr not in attrs:
                continue
            range_value = DynamoType(attrs[table.range_key_attr])
            current = table.items.get(hash_value, {}).get(range_value)
        else:
            range_value = None
            current = table.items.get(hash_value)
        saved.append((table, hash_value, range_value, copy.deepcopy(current)))
        if table.stream_shard is not None:
            streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
    dynamodb_models.copy = _TablesNotCopied()
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for table, hash_value, range_value, item in reversed(saved):
            if range_value is None:
                if item is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = item
            elif item is None:
                table.items.get(hash_value, {}).pop(range_value, None)
                if hash_value in table.items and not table.items[hash_value]:
                    del table.items[hash_value]
            else:
                table.items[hash_value][range_value] = item
        for shard, length in streams.values():
            del shard.items[length:]
        raise
    finally:
        dynamodb_models.copy = copy


DynamoDBBackend.transact_write_items = transact_write_items

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
