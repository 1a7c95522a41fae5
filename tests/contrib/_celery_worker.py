"""A real ``celery worker`` subprocess for the Celery integration tests.

Each worker is ``python -m greenabc run --backend NAME -m celery -A
celery_app worker -P custom`` with greenabc's pool, on a queue of its own,
logging to a file, in a session of its own, and stopped by its pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from ._waiting import wait_for

HERE = Path(__file__).resolve().parent
START_TIMEOUT = 40.0  # a worker's start: imports, connect, ready
STOP_BOUND = 20.0  # SIGTERM, then SIGKILL after this long


class Worker:
    """One ``celery worker`` subprocess on its own queue, logging to a file."""

    def __init__(
        self,
        redis_url: str,
        backend: str,
        directory: Path,
        concurrency: int,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        app: str = "celery_app",
    ) -> None:
        self.backend = backend
        self.name = f"w{uuid.uuid4().hex[:8]}"
        self.hostname = f"{self.name}@greenabc-test"
        self.queue = f"q-{self.name}"
        self.dir = directory
        self.log_path = directory / f"{self.name}.log"
        full_env = {  # only the test apps' switch of greenabc's, to compare kombu's BRPOP
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GREENABC_") or k == "GREENABC_TEST_ATOMIC_FETCH"
        }
        full_env.update(
            {
                "CELERY_CUSTOM_WORKER_POOL": "greenabc.contrib.celery:TaskPool",
                "GREENABC_TEST_REDIS_URL": redis_url,
                "PYTHONPATH": os.pathsep.join([str(HERE), full_env.get("PYTHONPATH", "")]),
                # Celery warns that it runs as root (CI does): narrowly ignored.
                "PYTHONWARNINGS": "ignore::celery.platforms.SecurityWarning",
            }
        )
        full_env.update(env or {})
        command = [
            sys.executable,
            "-m",
            "greenabc",
            "run",
            "--backend",
            backend,
            "-m",
            "celery",
            "-A",
            app,
            "worker",
            "-P",
            "custom",
            "-c",
            str(concurrency),
            "--without-mingle",
            "--without-gossip",
            "-l",
            "info",
            "-n",
            self.hostname,
            "-Q",
            self.queue,
            *args,
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=directory,
                env=full_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"worker exited with {self.process.returncode}:\n{self.log()[-4000:]}"
                )
            return " ready." in self.log()

        wait_for(ready, START_TIMEOUT, f"worker {self.hostname} on {self.backend} to be ready")

    def path(self, name: str) -> str:
        return str(self.dir / f"{self.name}-{name}")

    def stop(self, bound: float = STOP_BOUND) -> float:
        """SIGTERM (warm shutdown), SIGKILL after *bound*; seconds it took."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(bound)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return time.monotonic() - started
