"""Real I/O on 127.0.0.1 through greenabc pools, with the stdlib patched:
the concurrency is gevent's, the code is plain ``socket`` and ``urllib``."""

from __future__ import annotations

import http.server
import resource
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

import greenabc
from greenabc.adapter import EngineBackend

CLIENTS = 1000
SERVER_DELAY = 0.5
REQUESTS = 50


@pytest.fixture
def enough_file_descriptors() -> None:
    need = 2 * CLIENTS + 200  # both ends of each connection, plus slack
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


class EchoServer:
    """Echoes one message per connection; counts connections open at once."""

    def __init__(self, backend: EngineBackend) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(CLIENTS + 100)
        self.address = self.listener.getsockname()
        self.pool = backend.create_pool(CLIENTS + 10)
        self.open = self.most = 0
        self.everyone_connected = threading.Event()  # patched: gevent's
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.pool.spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            self.open += 1
            self.most = max(self.most, self.open)
            if self.open == CLIENTS:
                self.everyone_connected.set()
            try:
                conn.sendall(conn.recv(64))
            finally:
                self.open -= 1

    def close(self) -> None:
        self.listener.close()
        self.acceptor.join(timeout=2)
        self.pool.close(timeout=2)


def test_a_thousand_concurrent_clients_against_a_loopback_server(
    backend: EngineBackend, enough_file_descriptors: None
) -> None:
    server = EchoServer(backend)

    def client(n: int) -> bytes:
        with socket.create_connection(server.address, timeout=10) as conn:
            # Hold every connection open until all are: proves they run at once.
            assert server.everyone_connected.wait(10)
            conn.sendall(b"hello %d" % n)
            return conn.recv(64)

    try:
        with greenabc.timeout(30), backend.create_pool(CLIENTS) as clients:
            replies = clients.map(client, range(CLIENTS))
    finally:
        server.close()
    assert replies == [b"hello %d" % n for n in range(CLIENTS)]
    assert server.most == CLIENTS


class SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(SERVER_DELAY)  # patched: green
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class SlowServer(http.server.ThreadingHTTPServer):
    request_queue_size = REQUESTS + 50  # socketserver's default backlog is 5
    daemon_threads = True


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = SlowServer(("127.0.0.1", 0), SlowHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


def test_concurrent_urllib_calls_take_one_server_delay_not_their_sum(
    backend: EngineBackend, slow_server: str
) -> None:
    def fetch(n: int) -> bytes:
        with urllib.request.urlopen(f"{slow_server}/{n}", timeout=10) as response:
            body: bytes = response.read()
            return body

    started = time.monotonic()
    with greenabc.timeout(10), backend.create_pool(REQUESTS) as pool:
        bodies = pool.map(fetch, range(REQUESTS))
    elapsed = time.monotonic() - started
    assert bodies == [b"/%d" % n for n in range(REQUESTS)]
    assert SERVER_DELAY <= elapsed < 3 * SERVER_DELAY  # serially: 25 s
