"""Celery worker throughput: greenabc's pool against Celery's own green pools.

    .venv/bin/python benchmarks/bench_celery.py [--tasks 5000] [--concurrency 500]
                                                [--rounds 3]

Starts a redis-server on a free loopback port (broker and result backend),
then for each pool a real ``celery worker`` (-c 500, one queue of its own),
sends N tasks of ``time.sleep(0.01)`` and waits for every result. Measures
the wall time from the first send to the last result, and the worker
process's CPU time (user + system) over the same span.

The method is run.py's: in each round every pool runs once, in a shuffled
order, and the ratio greenabc / Celery's own pool on the same engine is taken
within the round; the summary is the median and min-max of those per-round
ratios. It stays a script of its own because its sides are whole worker
processes fed through a Redis server (redis-server on PATH, minutes a round),
not work a benchmark process can run. Not a timed test: figures go in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis
from celery import Celery
from celery.result import ResultSet

APP = """
import time
from celery import Celery
import os
url = os.environ["BENCH_REDIS_URL"]
app = Celery("bench", broker=url, backend=url)
app.conf.broker_connection_retry_on_startup = True

@app.task(name="bench.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds
"""

GREENABC = "greenabc.contrib.celery:TaskPool"
POOLS = {
    "greenabc gevent": ["-m", "greenabc", "run", "--backend", "gevent", "-m", "celery"],
    "celery -P gevent": ["-m", "celery"],
    "greenabc eventlet": ["-m", "greenabc", "run", "--backend", "eventlet", "-m", "celery"],
    "celery -P eventlet": ["-m", "celery"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_one(
    name: str, url: str, workdir: Path, tasks: int, concurrency: int
) -> tuple[float, float]:
    queue = "bench-" + name.replace(" ", "-").replace("-P-", "")
    pool = ["-P", "custom"] if name.startswith("greenabc") else ["-P", name.split()[-1]]
    command = [
        sys.executable,
        *POOLS[name],
        "-A",
        "bench_app",
        "worker",
        *pool,
        "-c",
        str(concurrency),
        "--without-mingle",
        "--without-gossip",
        "-l",
        "warning",
        "-Q",
        queue,
        "-n",
        f"{queue}@bench",
    ]
    env = dict(os.environ, BENCH_REDIS_URL=url, CELERY_CUSTOM_WORKER_POOL=GREENABC)
    env["PYTHONPATH"] = str(workdir)
    env.pop("GREENABC_BACKEND", None)
    log = open(workdir / f"{queue}.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    client = Celery("bench-client", broker=url, backend=url)
    try:
        # Ready once it answers a ping; then one warm-up task.
        deadline = time.monotonic() + 60
        while not client.control.ping([f"{queue}@bench"], timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"{name}: the worker did not start (see {log.name})")
        client.send_task("bench.sleep", (0,), queue=queue).get(timeout=30)
        proc = psutil.Process(worker.pid)
        cpu0 = sum(proc.cpu_times()[:2])
        started = time.monotonic()
        results = [client.send_task("bench.sleep", (0.01,), queue=queue) for _ in range(tasks)]
        ResultSet(results).join_native(timeout=600)
        wall = time.monotonic() - started
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        return wall, cpu
    finally:
        client.close()
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", action="append", choices=sorted(POOLS), default=None)
    options = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not on PATH (apt-get install redis-server)")
    names = options.only or list(POOLS)
    order = random.Random(options.seed)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "bench_app.py").write_text(APP)
        port = free_port()
        server = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            ping = redis.Redis(port=port)
            for _ in range(100):
                try:
                    ping.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.05)
            url = f"redis://127.0.0.1:{port}/0"
            print(
                f"{options.tasks} tasks of sleep(0.01) at -c {options.concurrency},"
                f" redis on loopback, {os.cpu_count()} CPUs, Python {sys.version.split()[0]},"
                f" {options.rounds} rounds"
            )
            print(
                f"{'round':<6} {'pool':<20} {'wall (s)':>9} {'tasks/s':>8} {'worker CPU (s)':>15}"
            )
            for r in range(options.rounds):
                shuffled = list(names)
                order.shuffle(shuffled)
                for name in shuffled:
                    wall, cpu = run_one(name, url, workdir, options.tasks, options.concurrency)
                    runs[name].append((wall, cpu))
                    print(
                        f"{r + 1:<6} {name:<20} {wall:>9.2f} {options.tasks / wall:>8.0f}"
                        f" {cpu:>15.2f}"
                    )
        finally:
            server.terminate()
            server.wait(10)
    print("\nper-round ratios greenabc / celery, median (min-max)")
    for engine in ("gevent", "eventlet"):
        ours, theirs = runs.get(f"greenabc {engine}"), runs.get(f"celery -P {engine}")
        if not ours or not theirs:
            continue
        wall = [a[0] / b[0] for a, b in zip(ours, theirs, strict=True)]
        cpu = [a[1] / b[1] for a, b in zip(ours, theirs, strict=True)]
        print(f"{engine:<9} wall {spread(wall)}, worker CPU {spread(cpu)}")


if __name__ == "__main__":
    main()
