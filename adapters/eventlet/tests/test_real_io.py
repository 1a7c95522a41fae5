"""Real I/O on 127.0.0.1 through greenabc pools, in a patched process."""

from __future__ import annotations

import http.server
import socket
import threading
import time
import urllib.request
from collections.abc import Callable

import greenabc

Pools = Callable[[int], greenabc.Pool]
CLIENTS = 1000


def _echo(conn: socket.socket) -> None:
    with conn:
        conn.sendall(conn.recv(64))


def test_a_thousand_concurrent_clients_against_an_echo_server(make_pool: Pools) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(CLIENTS + 100)
    address = listener.getsockname()
    server = make_pool(CLIENTS + 1)
    clients = make_pool(CLIENTS)

    def accept_forever() -> None:
        while True:
            conn, _ = listener.accept()
            server.spawn(_echo, conn)

    connected = [0]
    all_connected = threading.Event()  # green: the process is patched

    def client(n: int) -> bytes:
        with socket.create_connection(address, timeout=20) as conn:
            connected[0] += 1
            if connected[0] == CLIENTS:
                all_connected.set()
            # Every client holds its connection until all are open at once.
            assert all_connected.wait(20)
            conn.sendall(b"hello %d" % n)
            return conn.recv(64)

    acceptor = server.spawn(accept_forever)
    try:
        started = time.monotonic()
        replies = clients.map(client, range(CLIENTS))
        elapsed = time.monotonic() - started
    finally:
        acceptor.kill(timeout=2)
        listener.close()
    assert replies == [b"hello %d" % n for n in range(CLIENTS)]
    assert connected[0] == CLIENTS
    assert elapsed < 20


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    DELAY = 0.5

    def do_GET(self) -> None:
        time.sleep(self.DELAY)  # green: the process is patched
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


def test_concurrent_urllib_calls_take_one_server_delay_not_their_sum(make_pool: Pools) -> None:
    requests = 50
    httpd = _Server(("127.0.0.1", 0), _SlowHandler)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    serving = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    pool = make_pool(requests)

    def fetch(n: int) -> bytes:
        with urllib.request.urlopen(f"{url}{n}", timeout=10) as response:
            body: bytes = response.read()
            return body

    try:
        started = time.monotonic()
        bodies = pool.map(fetch, range(requests))
        elapsed = time.monotonic() - started
    finally:
        httpd.shutdown()
        httpd.server_close()
        serving.join(5)
    assert bodies == [f"/{n}".encode() for n in range(requests)]
    # One delay (0.5 s) and some overhead; run one after another it would be 25 s.
    assert _SlowHandler.DELAY <= elapsed < 4 * _SlowHandler.DELAY
