"""Small helpers for the conformance suite. Waiting is done with
``time.sleep`` in short steps: green under a patched process, and
interruptible between steps on threads."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable

#: Generous bound for "promptly" on a noisy 2-core machine.
PROMPT = 2.0


def spin(seconds: float = 30.0) -> None:
    """Sleep in short steps (an interruptible stand-in for a long task)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.005)


def busy(seconds: float) -> None:
    """Run Python code without yielding for *seconds*: no green thread
    switches, no hub timer runs; on threads it can be interrupted."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def wait_until(predicate: Callable[[], bool], timeout: float = PROMPT) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


class Counter:
    """Counts calls and the most that ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.calls = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


class BurstHTTPServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server whose listen backlog takes a burst of
    clients: socketserver's default of 5 drops connections when accepting
    lags (a loaded machine), and each client then waits out TCP's
    retransmit, seconds, or its own timeout."""

    request_queue_size = 256
    daemon_threads = True


class SlowHandler(http.server.BaseHTTPRequestHandler):
    """Answers each GET with its own path after ``delay`` seconds (a slow
    backend service); subclass with another ``delay``."""

    delay = 0.5

    def do_GET(self) -> None:
        time.sleep(self.delay)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
