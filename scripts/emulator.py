"""The local AWS emulator (moto in server mode), made linearizable.

moto serves each request on its own thread, and its DynamoDB backend is not atomic under concurrency: a cancelled
TransactWriteItems restores whole-table snapshots taken when the transaction started, wiping writes that other
requests made in between, and a conditional PutItem checks and writes in two steps. Real DynamoDB makes each request
atomic, and the orchestrator's exactly-once claim rests on that. So this wrapper lets the server keep its threads
(keep-alive connections, many clients) but runs the application itself under one lock: requests take effect one at
a time, in some order, as a linearizable store would. Long polling is not used by the project (ReceiveMessage with
WaitTimeSeconds=0), so no request holds the lock while it waits.

Usage: python emulator.py HOST PORT
"""

import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def serialized(app):
    lock = threading.Lock()

    def wrapped(environ, start_response):
        with lock:
            # Materialise the response inside the lock: the body is produced by the backend call.
            return list(app(environ, start_response))

    return wrapped


def canonical_numbers():
    """DynamoDB stores a number in its plain form; moto writes the sum of `ADD` as Python prints a Decimal, so an
    addition that comes to zero at some scale is stored as `0E-8`, and the next `ADD` to it fails to parse. Numbers
    computed by `ADD` (and SET a + b) are written in their plain form here, as DynamoDB does."""
    from decimal import Decimal

    from moto.dynamodb.models.dynamo_type import DDBType, DynamoType

    def plain(d):
        return "0" if d == 0 else format(d.normalize(), "f")

    def arith(op):
        def apply(self, other):
            if self.type != other.type or self.type != DDBType.NUMBER:
                raise TypeError("Arithmetic only on two numbers.")
            return DynamoType({DDBType.NUMBER: plain(op(Decimal(self.value), Decimal(other.value)))})

        return apply

    DynamoType.__add__ = arith(lambda a, b: a + b)
    DynamoType.__sub__ = arith(lambda a, b: a - b)


def main():
    canonical_numbers()
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = serialized(DomainDispatcherApplication(create_backend_app))
    run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
