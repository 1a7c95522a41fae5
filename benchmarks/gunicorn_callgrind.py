"""Instructions per request of a gunicorn worker, by callgrind: the A/B for
the worker's hot path, whatever the load of the machine.

    python benchmarks/gunicorn_callgrind.py                      # every side, both workloads
    python benchmarks/gunicorn_callgrind.py --only threads -n 2000 --clients 20

Each side is a real gunicorn (``-w 1``) under ``valgrind --tool=callgrind``
(its forked worker too, whose counts are written when it exits), started
twice: both lives serve a warm-up, one serves N requests more, and the
difference of the worker's instructions is divided by N (boot, warm-up and
exit cancel out). The requests are for ``/`` (or ``--path /sleep``) of
``benchmarks/gunicorn_app.py``, sent by a few client threads of this
process, each on one kept-alive connection or a new connection per request.
callgrind runs one thread at a time: the figure is the work per request,
not the cost of threads fighting over the GIL. Needs ``valgrind`` on PATH; the eventlet peer
(gunicorn 25) is not measured here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDES = {  # name: (engine, gunicorn's worker options, environment)
    "greenabc threads": ("threads", ["-k", "greenabc.contrib.gunicorn.Worker"]),
    "gthread": ("threads", ["-k", "gthread", "--threads", "100"]),
    "greenabc gevent": ("gevent", ["-k", "greenabc.contrib.gunicorn.Worker"]),
    "-k gevent": ("gevent", ["-k", "gevent"]),
    "greenabc eventlet": ("eventlet", ["-k", "greenabc.contrib.gunicorn.Worker"]),
}
WARMUP = 200  # requests before the measured ones, in both lives


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_response(sock: socket.socket, buf: bytes) -> bytes:
    """Read one response with a Content-Length; return what follows it."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-response")
        rest += chunk
    return rest[length:]


def client(port: int, count: int, keepalive: bool, path: str) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    close = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    if keepalive:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            buf = b""
            for _ in range(count):
                sock.sendall(request)
                buf = read_response(sock, buf)
        return
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(close)
            read_response(sock, b"")


def load(port: int, requests: int, clients: int, keepalive: bool, path: str = "/") -> None:
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: client(port, requests // clients, keepalive, path), range(clients)))


def worker_pid(arbiter: int) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == arbiter:
                return int(entry.name)
    raise RuntimeError("no worker")


def run_once(
    name: str, keepalive: bool, requests: int, clients: int, path: str, workdir: Path
) -> int:
    """The worker's instructions in a whole life serving a warm-up and *requests*."""
    engine, args = SIDES[name]
    port = free_port()
    tag = f"{name.replace(' ', '_')}.{'ka' if keepalive else 'close'}.{requests}"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/cg.{tag}.%p",
        sys.executable, "-m", "gunicorn", "benchmarks.gunicorn_app:app", "-w", "1",
        "--no-control-socket", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
        "--timeout", "300", "--graceful-timeout", "60", *args,
    ]  # fmt: skip
    env = dict(os.environ, GREENABC_BACKEND=engine)
    with (workdir / f"{tag}.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                load(port, 20, 1, True)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{name}: no answer") from None
                time.sleep(1)
        pid = worker_pid(process.pid)
        load(port, WARMUP, clients, keepalive, path)
        if requests:
            load(port, requests, clients, keepalive, path)
        process.send_signal(signal.SIGTERM)  # the worker writes its counts as it exits
        process.wait(120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    text = (workdir / f"cg.{tag}.{pid}").read_text()
    totals = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
    if totals is None:
        raise RuntimeError(f"{name}: no totals in callgrind's output")
    return int(totals.group(1))


def measure(
    name: str, keepalive: bool, requests: int, clients: int, path: str, workdir: Path
) -> float:
    """Instructions per request: two lives, with and without *requests*."""
    with ThreadPoolExecutor(2) as pool:
        base, more = pool.map(
            lambda n: run_once(name, keepalive, n, clients, path, workdir), (0, requests)
        )
    return (more - base) / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="an engine (threads, gevent, eventlet)")
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--side", action="append", choices=SIDES, help="a side (repeatable)")
    parser.add_argument("--path", default="/", help="/ (default) or /sleep")
    args = parser.parse_args()
    names = args.side or [n for n, (e, _) in SIDES.items() if not args.only or e in args.only]
    with tempfile.TemporaryDirectory(prefix="gunicorn-callgrind-") as tmp:
        for name in names:
            figures = []
            for keepalive in (True, False):
                per = measure(name, keepalive, args.requests, args.clients, args.path, Path(tmp))
                figures.append(f"{'keep-alive' if keepalive else 'close'} {per / 1000:,.0f}k")
            print(f"{name:20} instructions per request: {', '.join(figures)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
