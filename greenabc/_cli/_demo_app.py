"""The demo's application: imported only after patching, as any
application should be (``socketserver`` picks its selector at import time)."""

from __future__ import annotations

import argparse
import http.server
import threading
import time
import urllib.request
from typing import Any

import greenabc

DELAY = 0.2
REQUESTS = 20


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(DELAY)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 would drop concurrent connects

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the timeout demo hangs up on purpose: no traceback for that


def _forever() -> None:
    while True:  # a runaway task: the hard timeout stops it
        time.sleep(0.01)


def run(args: argparse.Namespace) -> int:
    backend = greenabc.get_backend(args.backend)
    server = _Server(("127.0.0.1", 0), _SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"backend: {backend.name}  (available: {', '.join(greenabc.available_backends())})")

    def fetch(i: int) -> str:
        with urllib.request.urlopen(f"{base}/item/{i}", timeout=10) as response:  # noqa: S310
            return str(response.read().decode())

    with backend.create_pool(size=REQUESTS) as pool:
        started = time.monotonic()
        bodies = pool.map(fetch, range(REQUESTS))
        elapsed = time.monotonic() - started
        print(
            f"{len(bodies)} requests of {DELAY:g} s each took {elapsed:.2f} s"
            f" (one after another: {REQUESTS * DELAY:.1f} s)"
        )
        task = pool.apply_async(_forever, timeout=0.1)
        try:
            task.get(timeout=5)
        except greenabc.TaskTimedOut as exc:
            print(f"hard timeout: {exc}")
        # Decided at its deadline; its worker stops it when the interrupt
        # lands: at once on a green engine, on threads only once the thread
        # is back in Python (here, when its time.sleep returns).
        stopped = pool.join(timeout=2)
        print(f"pool stats: {pool.stats()}")
        if not stopped:
            print("(still running: a thread blocked in C is interrupted when the call returns)")
    try:
        with backend.timeout(0.1):
            fetch(99)
    except greenabc.TimeoutExpired as exc:
        print(f"greenabc.timeout: {exc}")
    server.shutdown()
    return 0
