"""The library-authors example, ``greenabc.testing.broadcast_hub``, run on
the backend under test: one library, written once, on every engine."""

from __future__ import annotations

import socket
import time

import greenabc

from ..broadcast_hub import BroadcastHub
from .test_primitives import start_os_thread

MESSAGES = 50


def read_lines(conn: socket.socket, until: int) -> list[bytes]:
    """Lines from *conn* until *until* ``msg`` lines have come (or it closes)."""
    buffer = b""
    lines: list[bytes] = []
    while sum(line.startswith(b"msg ") for line in lines) < until:
        chunk = conn.recv(65536)
        if not chunk:
            break
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        lines.extend(complete)
    return lines


def test_broadcast_hub_fans_out_to_every_client(greenabc_backend: greenabc.Backend) -> None:
    count = 100 if greenabc_backend.capabilities.is_green else 20
    hub = BroadcastHub(
        queue_size=MESSAGES + 10, heartbeat=0.05, max_clients=count, backend=greenabc_backend
    )
    hub.start()
    readers = greenabc_backend.create_pool(count)
    try:
        conns = [socket.create_connection(hub.address, timeout=20) for _ in range(count)]
        deadline = time.monotonic() + 20
        while hub.clients < count and time.monotonic() < deadline:
            greenabc_backend.sleep(0.01)
        assert hub.clients == count
        tasks = [readers.spawn(read_lines, conn, MESSAGES) for conn in conns]
        greenabc_backend.sleep(0.15)  # a few heartbeats first
        for n in range(MESSAGES - 1):
            assert hub.publish(b"m%d" % n) == count
        # The last one from a foreign OS thread, through from_thread.
        done = greenabc_backend.Event()
        took: list[int] = []

        def foreign() -> None:
            took.append(hub.publish_threadsafe(b"m%d" % (MESSAGES - 1)))
            greenabc_backend.from_thread(done.set)

        start_os_thread(greenabc_backend, foreign)
        assert done.wait(20)
        assert took == [count]
        expected = [b"msg m%d" % n for n in range(MESSAGES)]
        for task in tasks:
            lines = task.get(timeout=30)
            assert [line for line in lines if line != b"ping"] == expected  # in order, all
            assert b"ping" in lines  # the heartbeat reached everyone
        assert hub.dropped == 0
    finally:
        hub.close(timeout=10)
        readers.close(timeout=10)
    for conn in conns:
        conn.settimeout(10)
        while conn.recv(4096):  # a heartbeat may still be on its way: read to the end
            pass  # the hub closed it: recv returned b"" (a hang fails on the timeout)
        conn.close()
    assert hub.clients == 0


def test_a_slow_client_loses_messages_not_the_others(greenabc_backend: greenabc.Backend) -> None:
    hub = BroadcastHub(queue_size=2, heartbeat=60, max_clients=4, backend=greenabc_backend)
    # Not started: nobody writes, so the queues fill (as behind a stalled socket).
    conn = socket.create_connection(hub.address, timeout=10)
    try:
        hub._pool.spawn(hub._accept_loop)
        deadline = time.monotonic() + 10
        while hub.clients < 1 and time.monotonic() < deadline:
            greenabc_backend.sleep(0.01)
        assert hub.clients == 1
        client = next(iter(hub._clients.values()))
        # Fill its queue directly past the writer: publish never blocks.
        got = 0
        for n in range(200):
            got += hub.publish(b"x%d" % n)
        assert hub.sent == got and hub.sent + hub.dropped == 200
        assert client.outbox.qsize() <= 2
    finally:
        hub.close(timeout=10)
        conn.close()
