"""A broadcast hub: a small library written once on greenabc's primitives.

It fans every published message out to all connected TCP clients, each with a
bounded queue of its own (a slow client loses messages, it never stalls the
others or grows memory) and a heartbeat line so clients can tell a quiet hub
from a dead one. It never names an engine: the application chooses gevent,
eventlet or threads (``greenabc.patch(...)``, ``$GREENABC_BACKEND``), and the
same code runs on each. It ships with the conformance kit, which runs it on
the backend under test (test_example_broadcast.py); it is the example of
docs/library-authors.md (docs/examples/broadcast_hub.py links here).

Wire format: one line per message, ``msg <payload>\\n``; heartbeats are
``ping\\n``.

    hub = BroadcastHub(queue_size=100, heartbeat=1.0)
    hub.start()
    print("listening on", hub.address)
    hub.publish(b"hello")                      # from the engine
    greenabc.from_thread(hub.publish, b"hi")   # from a foreign OS thread
    hub.close()
"""

from __future__ import annotations

import contextlib
import queue
import socket
from typing import Any

import greenabc

_STOP = object()


class _Client:
    __slots__ = ("conn", "outbox", "peer")

    def __init__(self, conn: socket.socket, peer: Any, outbox: Any) -> None:
        self.conn = conn
        self.peer = peer
        self.outbox = outbox


class BroadcastHub:
    """Fan messages out to every connected client.

    *backend* is for code that holds one; by default the application's
    (``greenabc.get_backend()``). *max_clients* bounds the green threads
    (or threads) the hub runs: one writer per client, plus two.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        queue_size: int = 100,
        heartbeat: float = 1.0,
        max_clients: int = 100,
        backend: greenabc.Backend | None = None,
    ) -> None:
        self._g = backend if backend is not None else greenabc.get_backend()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(max_clients)
        self.address: tuple[str, int] = self._listener.getsockname()
        self.queue_size = queue_size
        self.heartbeat = heartbeat
        self._pool = self._g.create_pool(max_clients + 2)
        self._lock = self._g.Lock()
        self._clients: dict[int, _Client] = {}
        self._closed = self._g.Event()
        self.sent = 0  # messages queued for a client
        self.dropped = 0  # messages a full client queue did not take

    # -- the public API ---------------------------------------------------------

    def start(self) -> None:
        self._pool.spawn(self._accept_loop)
        self._pool.spawn(self._heartbeat_loop)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def publish(self, payload: bytes) -> int:
        """Queue *payload* for every client; returns how many took it."""
        return self._fan_out(b"msg " + payload + b"\n")

    def publish_threadsafe(self, payload: bytes) -> int:
        """``publish`` from an OS thread outside the engine (a C library's
        callback, a to_thread worker)."""
        return self._g.from_thread(self.publish, payload)

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, tell every writer to finish, wait for them."""
        self._closed.set()
        with self._lock:
            clients = list(self._clients.values())
        for client in clients:
            self._stop(client)
        self._pool.close(timeout=timeout)
        self._listener.close()

    # -- the green threads ------------------------------------------------------

    def _fan_out(self, line: bytes) -> int:
        with self._lock:
            clients = list(self._clients.values())
        took = 0
        for client in clients:
            try:
                client.outbox.put_nowait(line)
            except queue.Full:  # a slow client: drop, never block the others
                pass
            else:
                took += 1
        with self._lock:
            self.sent += took
            self.dropped += len(clients) - took
        return took

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            # Wait in the engine, a bounded while, so close() is noticed.
            if not self._g.wait_readable(self._listener, timeout=0.1):
                continue
            try:
                conn, peer = self._listener.accept()
            except OSError:
                continue
            client = _Client(conn, peer, self._g.Queue(maxsize=self.queue_size))
            with self._lock:
                self._clients[id(client)] = client
            self._pool.spawn(self._writer, client)

    def _writer(self, client: _Client) -> None:
        try:
            while True:
                line = client.outbox.get()
                if line is _STOP:
                    return
                client.conn.sendall(line)
        except OSError:
            pass  # the client went away
        finally:
            with self._lock:
                self._clients.pop(id(client), None)
            client.conn.close()

    def _heartbeat_loop(self) -> None:
        while not self._closed.wait(self.heartbeat):
            self._fan_out(b"ping\n")

    @staticmethod
    def _stop(client: _Client) -> None:
        while True:  # make room for the stop mark in a full queue
            try:
                client.outbox.put_nowait(_STOP)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    client.outbox.get_nowait()


if __name__ == "__main__":  # pragma: no cover - a demo: python broadcast_hub.py
    hub = BroadcastHub(heartbeat=0.5)
    hub.start()
    print(f"broadcast hub on {hub.address[0]}:{hub.address[1]} (backend {hub._g.name})")
    try:
        n = 0
        while True:
            greenabc.sleep(1.0)
            n += 1
            print(f"published to {hub.publish(b'tick %d' % n)} client(s)")
    except KeyboardInterrupt:
        hub.close()
