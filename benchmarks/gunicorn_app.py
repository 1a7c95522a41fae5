"""The WSGI application benchmarks/gunicorn.py serves (stdlib only, so that
gunicorn 25's environment, without greenabc, can serve it too).

``/``: a 13-byte hello. ``/sleep``: the same after ``time.sleep(0.01)``, which
the worker's engine has patched (gevent, eventlet), or which blocks one thread
(threads, gthread): it shows how many requests a worker keeps in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

BODY = b"Hello, world!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]
SLEEP = 0.01  # s


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/sleep":
        time.sleep(SLEEP)
    start_response("200 OK", HEADERS)
    return [BODY]
