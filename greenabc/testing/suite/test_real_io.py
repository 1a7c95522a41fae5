"""Real I/O on 127.0.0.1 through greenabc pools: plain ``socket`` and
``urllib``, concurrent through the backend (patched, on a green engine)."""

from __future__ import annotations

import resource
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

import greenabc

from . import _helpers

SERVER_DELAY = 0.5
REQUESTS = 50


@pytest.fixture
def clients(greenabc_backend: greenabc.Backend) -> int:
    """1,000 clients on a green backend; 100 OS threads will do on threads."""
    count = 1000 if greenabc_backend.capabilities.is_green else 100
    need = 2 * count + 200  # both ends of each connection, plus slack
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"needs {need} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    return count


class EchoServer:
    """Echoes one message per connection; counts connections open at once."""

    def __init__(self, backend: greenabc.Backend, clients: int) -> None:
        self.clients = clients
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(clients + 100)
        self.address = self.listener.getsockname()
        self.pool = backend.create_pool(clients + 10)
        self.lock = threading.Lock()
        self.open = self.most = 0
        self.everyone_connected = threading.Event()
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
            with self.lock:
                self.open += 1
                self.most = max(self.most, self.open)
                if self.open == self.clients:
                    self.everyone_connected.set()
            try:
                conn.sendall(conn.recv(64))
            finally:
                with self.lock:
                    self.open -= 1

    def close(self) -> None:
        # shutdown() wakes an accept() blocked in another thread; close() alone may not
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.acceptor.join(timeout=2)
        self.pool.close(timeout=2)


def test_many_concurrent_clients_against_a_loopback_server(
    greenabc_backend: greenabc.Backend, clients: int
) -> None:
    server = EchoServer(greenabc_backend, clients)

    def client(n: int) -> bytes:
        with socket.create_connection(server.address, timeout=20) as conn:
            # Hold every connection open until all are: proves they run at once.
            assert server.everyone_connected.wait(20)
            conn.sendall(b"hello %d" % n)
            return conn.recv(64)

    try:
        with greenabc_backend.create_pool(clients) as pool:
            replies = pool.map(client, range(clients))
    finally:
        server.close()
    assert replies == [b"hello %d" % n for n in range(clients)]
    assert server.most == clients


class SlowHandler(_helpers.SlowHandler):
    delay = SERVER_DELAY


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = _helpers.BurstHTTPServer(("127.0.0.1", 0), SlowHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)


def test_concurrent_urllib_calls_take_one_server_delay_not_their_sum(
    greenabc_backend: greenabc.Backend, slow_server: str
) -> None:
    def fetch(n: int) -> bytes:
        with urllib.request.urlopen(f"{slow_server}/{n}", timeout=10) as response:
            body: bytes = response.read()
            return body

    started = time.monotonic()
    with greenabc_backend.create_pool(REQUESTS) as pool:
        bodies = pool.map(fetch, range(REQUESTS))
    elapsed = time.monotonic() - started
    assert bodies == [b"/%d" % n for n in range(REQUESTS)]
    assert SERVER_DELAY <= elapsed < 3 * SERVER_DELAY  # one after another: 25 s
