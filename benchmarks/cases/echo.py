"""1,000 loopback echo clients at once against an echo server in the same
process: wall time and peak RSS, one side per process. Every connection is a
task on the side's pool (the server's handlers and the clients alike); the
sockets are the patched stdlib's on both sides. 127.0.0.1 only; every socket
has a timeout, so nothing can hang."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

MESSAGES = 10
PAYLOAD = b"x" * 64
IO_TIMEOUT = 20.0
SIDES = ("greenabc", "raw")


def _handler(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(IO_TIMEOUT)
        while data := conn.recv(4096):
            conn.sendall(data)


def _client(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as sock:
        for _ in range(MESSAGES):
            sock.sendall(PAYLOAD)
            got = b""
            while len(got) < len(PAYLOAD):
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("server closed early")
                got += chunk


def _spawners(backend: Any, side: str, size: int) -> tuple[Callable[..., Any], Callable[[], None]]:
    """(spawn, wait for all) for the side's pool."""
    if side == "greenabc":
        pool = backend.create_pool(size)

        def join() -> None:
            pool.join(60)
            pool.close()

        return pool.spawn, join
    if backend.name == "gevent":
        import gevent.pool

        gpool = gevent.pool.Pool(size)
        return gpool.spawn, lambda: gpool.join(timeout=60)
    import eventlet

    epool = eventlet.GreenPool(size)
    return epool.spawn, epool.waitall


def run(backend: Any, side: str, clients: int) -> float:
    """Wall seconds for *clients* clients to each do MESSAGES round trips."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(clients + 100)
    listener.settimeout(IO_TIMEOUT)
    port = listener.getsockname()[1]
    spawn, join = _spawners(backend, side, 2 * clients + 1)

    def accept() -> None:
        for _ in range(clients):
            conn, _ = listener.accept()
            spawn(_handler, conn)

    started = time.perf_counter()
    acceptor = backend.spawn(accept)
    client_tasks = [spawn(_client, port) for _ in range(clients)]
    acceptor.get(60)
    join()
    elapsed = time.perf_counter() - started
    listener.close()
    for task in client_tasks:  # a failed client raises here, on every engine
        (task.get if hasattr(task, "get") else task.wait)()
    return elapsed
