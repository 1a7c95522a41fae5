"""greenabc.contrib.gunicorn, for real: a gunicorn arbiter started as a
subprocess on a free loopback port, with ``-k greenabc.contrib.gunicorn.Worker``
on gevent, eventlet and threads, always stopped by its process group.

This process is the core tests' (unpatched, threads): it is the HTTP client.
The application is ``gunicorn_app.py`` beside this file.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("gunicorn", reason="the gunicorn extra is not installed")

from ._waiting import free_port, wait_for
from .gunicorn_app import stream

HERE = Path(__file__).resolve().parent
BACKENDS = ["gevent", "eventlet", "threads"]
GREEN = {"gevent", "eventlet"}
WORKER = "greenabc.contrib.gunicorn.Worker"
START_TIMEOUT = 30.0  # the arbiter and its first worker, up and answering
BLOCKED_HUB = 0.5  # s: a green worker's hub blocked this long fails the test


class Server:
    """One gunicorn arbiter (its own process group) and what it logged."""

    def __init__(
        self, backend: str, directory: Path, *args: str, launcher: list[str], **env: str
    ) -> None:
        self.port = free_port()
        self.log_path = directory / f"gunicorn-{self.port}.log"
        command = [
            *launcher,
            "-k", WORKER,
            "-b", f"127.0.0.1:{self.port}",
            "--no-control-socket",
            "--chdir", str(HERE),
            "--graceful-timeout", "10",
            *args,
            "gunicorn_app:app",
        ]  # fmt: skip
        environment = dict(os.environ, GREENABC_BACKEND=backend, **env)
        environment.pop("PYTHONWARNINGS", None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, env=environment, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def connection(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
        connection = self.connection(timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def wait_ready(self) -> int:
        """The pid of the worker that answered first."""

        def answer() -> int | None:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited ({self.process.returncode}):\n{self.log}")
            try:
                return int(self.get("/pid", timeout=5)[1])
            except OSError:
                return None

        return int(wait_for(answer, START_TIMEOUT, f"gunicorn to answer:\n{self.log}"))

    def signal(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"gunicorn still runs after {timeout:g} s:\n{self.log}") from None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole group (workers included)."""
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(5)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers; stop them after the test, then check that no green
    worker's hub was blocked (each reports it: ``$GREENABC_BLOCKING_THRESHOLD``)
    unless the test blocks it on purpose (``may_block=True``)."""
    servers: list[tuple[Server, bool]] = []

    def start(
        backend: str,
        *args: str,
        ready: bool = True,
        launcher: list[str] | None = None,
        may_block: bool = False,
        **env: str,
    ) -> Server:
        launcher = launcher or [sys.executable, "-m", "gunicorn"]
        env.setdefault("GREENABC_BLOCKING_THRESHOLD", str(BLOCKED_HUB))
        server = Server(backend, tmp_path, *args, launcher=launcher, **env)
        servers.append((server, may_block))
        if ready:
            server.wait_ready()
        return server

    yield start
    for server, _ in servers:
        server.stop()
    for server, may_block in servers:
        blocked = [
            line for line in server.log.splitlines() if " hub " in line and "blocked" in line
        ]
        assert may_block or not blocked, "\n".join(blocked)


def _raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send *data* on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _status(answer: Callable[[], tuple[int, bytes]]) -> int | str:
    try:
        return answer()[0]
    except (OSError, http.client.HTTPException) as exc:
        return repr(exc)


# --------------------------------------------------------------------------
# Serving


@pytest.mark.timeout(90)
def test_many_slow_requests_at_once(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend, "--worker-connections", "1000", "--backlog", "1024")
    started = time.monotonic()
    with ThreadPoolExecutor(400) as client:
        answers = list(client.map(lambda _: server.get("/sleep?s=0.5"), range(400)))
    elapsed = time.monotonic() - started
    assert [status for status, _ in answers] == [200] * 400
    assert len({body for _, body in answers}) == 1  # one worker served them all
    assert elapsed < 3.0, f"400 requests of 0.5 s took {elapsed:.2f} s on one worker"


def test_worker_connections_bound_the_pool(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend, "--worker-connections", "4")
    started = time.monotonic()
    with ThreadPoolExecutor(8) as client:
        answers = list(client.map(lambda _: server.get("/sleep?s=0.5"), range(8)))
    elapsed = time.monotonic() - started
    assert [status for status, _ in answers] == [200] * 8
    assert elapsed >= 0.95, "8 requests of 0.5 s at 4 at once take two rounds"


def test_request_bodies(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend)
    body = os.urandom(1024 * 1024)
    connection = server.connection()
    try:
        connection.request("POST", "/echo", body=body)
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, body)
        chunks = [body[i : i + 100_000] for i in range(0, len(body), 100_000)]
        connection.request("POST", "/echo", body=iter(chunks), encode_chunked=True)
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, body)
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/stream?mb=10", "/file?mb=10"])
def test_large_responses(serve: Callable[..., Server], backend: str, path: str) -> None:
    server = serve(backend)
    status, body = server.get(path)
    assert status == 200
    expected = hashlib.sha256(b"".join(stream(10))).hexdigest()
    assert (len(body), hashlib.sha256(body).hexdigest()) == (10 * 1024 * 1024, expected)


def test_a_malformed_request_gets_400_and_the_worker_serves_on(
    serve: Callable[..., Server], backend: str
) -> None:
    server = serve(backend)
    pid = server.wait_ready()
    answer = _raw(server.port, b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert server.get("/pid") == (200, str(pid).encode())


def test_keep_alive_serves_many_requests_on_one_connection(
    serve: Callable[..., Server], backend: str
) -> None:
    server = serve(backend, "--keep-alive", "5")
    connection = server.connection()
    try:
        ports = set()
        for _ in range(20):
            connection.request("GET", "/environ")
            response = connection.getresponse()
            assert response.status == 200
            ports.add(json.loads(response.read())["REMOTE_PORT"])
        assert len(ports) == 1
    finally:
        connection.close()


def test_an_idle_kept_alive_connection_is_closed_after_keep_alive(
    serve: Callable[..., Server], backend: str
) -> None:
    server = serve(backend, "--keep-alive", "1")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /pid HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        idle = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 200 ")
    assert 0.8 <= idle < 5.0, f"closed after {idle:.2f} s with --keep-alive 1"


def test_environ_and_several_addresses(
    serve: Callable[..., Server], backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "g.sock"
    server = serve(backend, "-b", f"unix:{path}")
    environ = json.loads(server.get("/environ")[1])
    assert environ["SERVER_SOFTWARE"].startswith("gunicorn/")
    assert environ["wsgi.url_scheme"] == "http"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(b"GET /pid HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200 ") or answer.startswith(b"HTTP/1.1 200 ")


def test_tls(serve: Callable[..., Server], backend: str, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command makes the test certificate; it is not on PATH")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = serve(backend, "--certfile", str(cert), "--keyfile", str(key), ready=False)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False

    def get() -> tuple[int, bytes] | None:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=context, timeout=10
        )
        try:
            connection.request("GET", "/environ")
            response = connection.getresponse()
            return response.status, response.read()
        except OSError:
            return None
        finally:
            connection.close()

    status, body = wait_for(get, START_TIMEOUT, f"an HTTPS answer:\n{server.log}")
    assert status == 200
    assert json.loads(body)["wsgi.url_scheme"] == "https"
    # A client that is not speaking TLS costs one connection, not the worker.
    with contextlib.suppress(ConnectionResetError):
        _raw(server.port, b"GET / HTTP/1.0\r\n\r\n")
    assert wait_for(get, 10, "an HTTPS answer after a plain-text client")[0] == 200


@pytest.mark.parametrize("what", ["SystemExit", "KeyboardInterrupt", "RuntimeError"])
def test_an_application_that_raises_gets_500_and_the_worker_serves_on(
    serve: Callable[..., Server], backend: str, what: str
) -> None:
    server = serve(backend)
    pid = server.wait_ready()
    assert server.get(f"/raise?{what}")[0] == 500
    assert server.get("/pid") == (200, str(pid).encode())


def test_a_client_gone_mid_response_costs_nothing(
    serve: Callable[..., Server], backend: str
) -> None:
    server = serve(backend)
    pid = server.wait_ready()
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /stream?mb=50 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536)
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    assert server.get("/pid") == (200, str(pid).encode())
    assert "Traceback" not in server.log


def test_idle_connections_give_their_slot_back(serve: Callable[..., Server], backend: str) -> None:
    # Four silent clients take the four slots; --keep-alive bounds their wait.
    server = serve(backend, "--worker-connections", "4", "--keep-alive", "1")
    silent = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(4)]
    try:
        time.sleep(0.2)
        started = time.monotonic()
        assert server.get("/pid", 10)[0] == 200
        assert time.monotonic() - started < 5.0
        assert all(sock.recv(1) == b"" for sock in silent), "closed by the server"
    finally:
        for sock in silent:
            sock.close()


def test_idle_connections_do_not_block_the_others(
    serve: Callable[..., Server], backend: str
) -> None:
    # Each silent connection waits for its request; none may stall the engine.
    server = serve(backend, "--keep-alive", "3")
    silent = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)]
    try:
        time.sleep(0.3)
        started = time.monotonic()
        assert server.get("/pid", 30)[0] == 200
        assert time.monotonic() - started < 1.5
    finally:
        for sock in silent:
            sock.close()


def test_gunicorn_limits_and_reuse_port(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend, "--limit-request-line", "100", "--reuse-port")
    answer = _raw(server.port, b"GET /" + b"a" * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:100]
    assert server.get("/pid")[0] == 200


def test_statsd_sees_the_requests(serve: Callable[..., Server], backend: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as statsd:
        statsd.bind(("127.0.0.1", 0))
        statsd.settimeout(10)
        address = f"127.0.0.1:{statsd.getsockname()[1]}"
        server = serve(backend, "--statsd-host", address, "--statsd-prefix", "t.")
        server.get("/environ")
        received: list[bytes] = []
        while b"t.gunicorn.request.status.200:1|c|@1.0" not in received:
            received.append(statsd.recv(65536))
        assert any(line.startswith(b"t.gunicorn.request.duration:") for line in received)


# --------------------------------------------------------------------------
# The arbiter's contract


def test_sigterm_lets_requests_in_flight_finish(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend)
    with ThreadPoolExecutor(20) as client:
        answers = [client.submit(server.get, "/sleep?s=1.5") for _ in range(20)]
        time.sleep(0.5)  # all twenty are in the worker by now
        server.signal(signal.SIGTERM)
        assert [answer.result()[0] for answer in answers] == [200] * 20
    assert server.wait_exit(10) == 0
    assert "Graceful shutdown: 20 connections open, 20 requests in flight" in server.log


def test_graceful_timeout_stops_what_still_runs_and_says_what(
    serve: Callable[..., Server], backend: str
) -> None:
    server = serve(backend, "--graceful-timeout", "1")
    with ThreadPoolExecutor(3) as client:
        answers = [client.submit(server.get, "/steps?s=20") for _ in range(3)]
        time.sleep(0.5)
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait_exit(10) == 0
        assert [_status(answer.result) for answer in answers] == [503] * 3, server.log
    assert time.monotonic() - started < 6.0
    assert "Worker graceful timeout" in server.log
    assert "GET /steps?s=20" in server.log
    assert "Traceback" not in server.log


def test_sigquit_exits_at_once(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend)
    with ThreadPoolExecutor(2) as client:
        answers = [client.submit(server.get, "/steps?s=20") for _ in range(2)]
        time.sleep(0.5)
        started = time.monotonic()
        server.signal(signal.SIGQUIT)
        server.wait_exit(10)
        assert time.monotonic() - started < 5.0
        for answer in answers:
            try:
                status = answer.result()[0]
            except OSError:
                continue  # the connection closed: also a quick exit
            assert status == 503


@pytest.mark.timeout(90)
def test_a_request_that_never_yields(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend, "--timeout", "3", may_block=True)
    pid = server.wait_ready()
    with ThreadPoolExecutor(1) as client:
        spinning = client.submit(_status, lambda: server.get("/spin?s=8", 60))
        time.sleep(0.5)
        if backend in GREEN:
            # The hub is blocked: no heartbeat, so the arbiter replaces the worker.
            started = time.monotonic()
            new = wait_for(lambda: int(server.get("/pid", 30)[1]) != pid, 30, "a new worker")
            assert new and time.monotonic() - started < 3 + 8
            assert "WORKER TIMEOUT" in server.log
            # The arbiter's SIGABRT lands in the spinning request: a 500, or
            # the connection cut by the SIGKILL that follows.
            assert spinning.result() != 200
        else:
            # A thread spins; the others serve meanwhile, the worker stays.
            for _ in range(5):
                status, body = server.get("/pid", 5)
                assert (status, int(body)) == (200, pid)
            assert spinning.result() == 200
            assert "WORKER TIMEOUT" not in server.log


@pytest.mark.timeout(120)
def test_max_requests_recycles_workers_losing_nothing(
    serve: Callable[..., Server], backend: str
) -> None:
    server = serve(backend, "-w", "2", "--max-requests", "40", "--max-requests-jitter", "10")
    with ThreadPoolExecutor(8) as client:
        answers = list(client.map(lambda _: server.get("/pid"), range(400)))
    assert [status for status, _ in answers] == [200] * 400
    assert len({body for _, body in answers}) > 2, "workers were recycled"
    assert "Autorestarting worker after current request" in server.log


@pytest.mark.timeout(120)
def test_hup_under_traffic_loses_no_request(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend, "-w", "2")
    stop = threading.Event()
    failures: list[BaseException] = []
    pids: set[bytes] = set()

    def hammer() -> int:
        count = 0
        while not stop.is_set():
            try:
                status, body = server.get("/pid", 20)
                assert status == 200, status
                pids.add(body)
                count += 1
            except BaseException as exc:
                failures.append(exc)
        return count

    with ThreadPoolExecutor(6) as client:
        counts = [client.submit(hammer) for _ in range(6)]
        time.sleep(1.0)
        before = set(pids)
        server.signal(signal.SIGHUP)
        time.sleep(4.0)
        stop.set()
        total = sum(count.result() for count in counts)
    assert not failures, failures[:3]
    assert total > 100
    assert pids - before, "new workers answered after the HUP"


def test_sigwinch_is_ignored(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend)
    pid = server.wait_ready()
    os.kill(pid, signal.SIGWINCH)
    time.sleep(0.3)
    assert server.get("/pid") == (200, str(pid).encode())


def test_sigusr1_reopens_the_log(
    serve: Callable[..., Server], backend: str, tmp_path: Path
) -> None:
    access = tmp_path / "access.log"
    server = serve(backend, "--access-logfile", str(access))
    server.get("/pid")
    wait_for(lambda: "GET /pid" in access.read_text(), 10, "the access log line")
    access.rename(tmp_path / "access.log.1")
    server.signal(signal.SIGUSR1)
    wait_for(access.exists, 10, "the arbiter to reopen its log")

    def logged() -> bool:
        server.get("/environ")
        return "GET /environ" in access.read_text()

    wait_for(logged, 10, "the worker to write to the reopened log")


def test_the_worker_exits_when_its_arbiter_dies(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend)
    pid = server.wait_ready()
    server.signal(signal.SIGKILL)
    server.process.wait(5)

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, 10, "the orphaned worker to exit")


@pytest.mark.timeout(90)
def test_a_worker_killed_with_sigkill_is_replaced(
    serve: Callable[..., Server], backend: str
) -> None:
    """SIGKILL of the worker while 20 kept-alive connections sit idle (parked,
    on threads) and 5 requests are in flight: their clients learn it at once
    (the kernel closes the sockets), not after the requests' 5 s; the arbiter
    boots a new worker, which serves; and the server still stops cleanly."""
    server = serve(backend)
    pid = server.wait_ready()
    idle = [server.connection(10) for _ in range(20)]
    for conn in idle:
        conn.request("GET", "/pid")
        assert conn.getresponse().read() == str(pid).encode()
    with ThreadPoolExecutor(5) as client:
        slow = [client.submit(_status, lambda: server.get("/sleep?s=5", 20)) for _ in range(5)]
        time.sleep(0.5)
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        outcomes = [answer.result() for answer in slow]
        assert time.monotonic() - killed < 3.0
    assert all(isinstance(outcome, str) for outcome in outcomes), outcomes
    for conn in idle:
        with pytest.raises((OSError, http.client.HTTPException)):
            conn.request("GET", "/pid")
            conn.getresponse().read()
        conn.close()

    def new_worker() -> int | None:
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, body = server.get("/pid", 5)
            if status == 200 and int(body) != pid:
                return int(body)
        return None

    wait_for(new_worker, 30, "a new worker to serve")
    server.signal(signal.SIGTERM)
    assert server.wait_exit(15) == 0
    assert "Traceback" not in server.log


def test_hooks_run_around_each_request(
    serve: Callable[..., Server], backend: str, tmp_path: Path
) -> None:
    record = tmp_path / "hooks.txt"
    config = tmp_path / "conf.py"
    config.write_text(
        "def pre_request(worker, req):\n"
        f"    open({str(record)!r}, 'a').write('pre ' + req.path + '\\n')\n"
        f"    open({str(record)!r}, 'a').write(type(worker.cfg).__name__ + '\\n')\n"
        "def post_request(worker, req, environ, resp):\n"
        f"    open({str(record)!r}, 'a').write('post ' + resp.status + '\\n')\n"
    )
    server = serve(backend, "-c", str(config))
    server.get("/environ")
    wait_for(lambda: "post 200 OK" in record.read_text(), 10, "the post_request hook")
    assert "pre /environ" in record.read_text()
    assert "SettledConfig" in record.read_text()  # the worker's settings are read once


def test_a_setting_changed_in_a_running_worker_is_seen(
    serve: Callable[..., Server], backend: str, tmp_path: Path
) -> None:
    # The worker keeps each setting it has read (SettledConfig); Config.set() drops it.
    config = tmp_path / "conf.py"
    config.write_text(
        "def post_worker_init(worker):\n"
        "    assert worker.cfg.keepalive == 2  # read, so kept\n"
        "    worker.cfg.set('keepalive', 0)\n"
    )
    server = serve(backend, "-c", str(config))
    answer = _raw(server.port, b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n", timeout=1.5)
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"\r\nconnection: close\r\n" in answer.lower()  # keep-alive 0: closed at once


# --------------------------------------------------------------------------
# Idle connections parked in a selector (engines whose tasks are OS threads)

KEPT = b"GET /environ HTTP/1.1\r\nHost: x\r\n\r\n"


def _response(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read one response with a Content-Length: (its head, its body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(
        next(
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        ).split(b":")[1]
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed mid-response"
        body += chunk
    return head, body


def _kept_alive(port: int, count: int) -> list[socket.socket]:
    """*count* connections, each served one request and left open, idle."""
    kept = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        kept.append(sock)
        sock.sendall(KEPT)
        head, _ = _response(sock)
        assert head.startswith(b"HTTP/1.1 200 "), head
    return kept


def _closed_by_server(sock: socket.socket) -> bool:
    with contextlib.suppress(ConnectionResetError):
        return sock.recv(1) == b""
    return True


def _threads_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


@pytest.mark.timeout(120)
def test_idle_kept_alive_connections_hold_no_thread(serve: Callable[..., Server]) -> None:
    # 500 idle connections on a worker of 50 slots: parked, they hold none.
    server = serve("threads", "--worker-connections", "50", "--keep-alive", "60")
    pid = server.wait_ready()
    kept = _kept_alive(server.port, 500)
    try:
        assert _threads_of(pid) < 100, "an idle connection holds no thread"
        for _ in range(20):  # other connections are served at once
            started = time.monotonic()
            assert server.get("/pid", 10) == (200, str(pid).encode())
            assert time.monotonic() - started < 2.0
        for sock in kept[::25]:  # and the parked ones are still served, in place
            sock.sendall(KEPT)
            head, body = _response(sock)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert json.loads(body)["REMOTE_PORT"] == str(sock.getsockname()[1])
    finally:
        for sock in kept:
            sock.close()


def test_keep_alive_closes_parked_idle_connections(serve: Callable[..., Server]) -> None:
    server = serve("threads", "--keep-alive", "1")
    kept = _kept_alive(server.port, 50)
    silent = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(50)]
    started = time.monotonic()
    try:
        assert all(_closed_by_server(sock) for sock in kept + silent)
        assert time.monotonic() - started < 6.0, "closed after --keep-alive 1"
        assert server.get("/pid")[0] == 200
    finally:
        for sock in kept + silent:
            sock.close()


def test_graceful_shutdown_with_parked_connections(serve: Callable[..., Server]) -> None:
    # A long --keep-alive does not hold the shutdown: parked connections
    # linger 2 s for a request on its way (answered, Connection: close), then close.
    server = serve("threads", "--keep-alive", "60", "--graceful-timeout", "30")
    kept = _kept_alive(server.port, 100)
    try:
        with ThreadPoolExecutor(5) as client:
            answers = [client.submit(server.get, "/sleep?s=1") for _ in range(5)]
            time.sleep(0.3)
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            kept[0].sendall(KEPT)
            head, _ = _response(kept[0])
            assert head.startswith(b"HTTP/1.1 200 ")
            assert [answer.result()[0] for answer in answers] == [200] * 5
        assert server.wait_exit(15) == 0
        assert time.monotonic() - started < 10.0, "not the 60 s of --keep-alive"
        assert all(_closed_by_server(sock) for sock in kept)
        assert "Traceback" not in server.log
    finally:
        for sock in kept:
            sock.close()


@pytest.mark.timeout(90)
def test_parked_connections_are_served_beside_a_request_that_never_yields(
    serve: Callable[..., Server],
) -> None:
    server = serve("threads", "--keep-alive", "30", "--timeout", "3")
    pid = server.wait_ready()
    kept = _kept_alive(server.port, 20)
    try:
        with ThreadPoolExecutor(1) as client:
            spinning = client.submit(_status, lambda: server.get("/spin?s=6", 60))
            time.sleep(0.5)
            for sock in kept:  # the selector's thread and the tasks get the GIL in turn
                started = time.monotonic()
                sock.sendall(KEPT)
                head, _ = _response(sock)
                assert head.startswith(b"HTTP/1.1 200 ")
                assert time.monotonic() - started < 2.0
            assert not spinning.done(), "served while it spun"
            assert spinning.result() == 200
        assert int(server.get("/pid")[1]) == pid
        assert "WORKER TIMEOUT" not in server.log
    finally:
        for sock in kept:
            sock.close()


# --------------------------------------------------------------------------
# What gunicorn's own workers do not have


def test_the_per_request_time_limit(serve: Callable[..., Server], backend: str) -> None:
    server = serve(backend, GREENABC_REQUEST_TIMEOUT="0.5")
    started = time.monotonic()
    status = server.get("/steps?s=10")[0]
    assert status == 503
    assert time.monotonic() - started < 5.0
    assert server.get("/sleep?s=0.1")[0] == 200  # within the limit, served
    # Once the response began, the only honest answer is a cut connection.
    connection = server.connection()
    try:
        connection.request("GET", "/late?s=10")
        response = connection.getresponse()
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead):
            response.read()
    finally:
        connection.close()
    log = server.log
    assert "Request GET /steps?s=10" in log and "overran its 0.5 s limit: answered 503" in log
    assert "overran its 0.5 s limit after its response began: connection closed" in log


def test_greenabc_signals_fire_with_the_workers_pool(
    serve: Callable[..., Server], backend: str, tmp_path: Path
) -> None:
    record = tmp_path / "signals.txt"
    config = tmp_path / "conf.py"
    config.write_text(
        "import greenabc\n"
        "def post_worker_init(worker):\n"
        "    def preshutdown(pool):\n"
        f"        open({str(record)!r}, 'a').write(str(pool is worker.pool) + '\\n')\n"
        "    greenabc.signals.pool_preshutdown.connect(preshutdown, weak=False)\n"
    )
    server = serve(backend, "-c", str(config))
    server.signal(signal.SIGTERM)
    server.wait_exit(15)
    assert record.read_text().splitlines() == ["True"]  # one pool: the worker's


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GREENABC_BACKEND": "no-such-engine"}, "no-such-engine"),
        ({"GREENABC_REQUEST_TIMEOUT": "soon"}, "$GREENABC_REQUEST_TIMEOUT must be a number"),
    ],
)
def test_bad_settings_stop_at_boot_with_one_line(
    serve: Callable[..., Server], env: dict[str, str], message: str
) -> None:
    server = serve(env.pop("GREENABC_BACKEND", "threads"), ready=False, **env)
    assert server.wait_exit(30) == 3  # gunicorn's "worker failed to boot": no respawn loop
    errors = [line for line in server.log.splitlines() if "greenabc worker cannot start" in line]
    assert len(errors) == 1 and message in errors[0], server.log
    assert "Traceback" not in server.log


def test_greenabc_run_leaves_the_arbiter_unpatched(serve: Callable[..., Server]) -> None:
    launcher = [sys.executable, "-m", "greenabc", "run", "--backend", "gevent", "-m", "gunicorn"]
    server = serve("threads", launcher=launcher)  # --backend wins over $GREENABC_BACKEND
    assert "greenabc worker on gevent" in server.log
    assert "gunicorn's arbiter is left unpatched" in server.log
