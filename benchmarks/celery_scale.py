"""Several Celery workers on one broker: greenabc's pool against Celery's own.

    python benchmarks/celery_scale.py [--tasks 30000] [--rounds 3] [--only ENGINE ...] [--write]
    python benchmarks/celery_scale.py --quick          # 3,000 tasks, 1 round (~5 min)
    python benchmarks/celery_scale.py --report-only    # the page block again, from the last results

One redis-server (``greenabc.testing._redis.RedisServer``: a free loopback
port, stopped by its pid) is broker and result backend. Per engine, two
sides of 3 real ``celery worker`` processes each, ``-c 200``, every side on
one queue of its own that its 3 workers share:

- greenabc: ``python -m greenabc run --backend ENGINE -m celery ... -P custom``
  with ``CELERY_CUSTOM_WORKER_POOL=greenabc.contrib.celery:TaskPool``;
- Celery's own: ``python -m celery ... -P ENGINE`` (``gevent``, ``eventlet``,
  ``threads``).

The tasks are the tests' ``t.mixed`` (tests/contrib/celery_app.py), in a
fixed pattern of ten: 7 sleep 10 ms, 2 burn the CPU about 2 ms (a
pure-Python loop), 1 returns a 100 kB string. This process sends them by
name, keeping at most one side's total concurrency (3 x 200) in flight, and
learns of each completion from the result backend's publish (one
``PSUBSCRIBE celery-task-meta-*``: no per-task subscription, no polling), so
its own broker traffic is the sends only. Per side and run:

- tasks/s: tasks over the span from the first send to the last ``date_done``;
- worker CPU: user + system time of the side's 3 processes (/proc), summed;
- broker commands per task: the delta of Redis's ``total_commands_processed``
  (and ``INFO commandstats``, per command) over the run, sends included;
- p50 / p99 latency: from the send to the task's ``date_done`` (the worker's
  stamp as it stores the result).

Method as in gunicorn.py: in each round the engines come in a shuffled
order; an engine's 6 workers are started side by side, then each side, in a
shuffled order, gets a warm-up (one window of tasks) and its run, seconds
apart; the workers are stopped by their pids (SIGTERM, SIGKILL after 20 s)
whatever happens. Ratios greenabc / Celery are taken within the round; the
summary gives their median and min-max. Results go to
benchmarks/celery_scale_results.json; ``--write`` puts the generated block
into docs/celery.md between its markers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from harness import (
    DASH,
    X,
    cpu_seconds,
    fmt,
    machine,
    package_version,
    ratio,
    spread,
    write_block,
)

from greenabc.testing._redis import RedisServer, redis_server

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
APP_DIR = ROOT / "tests" / "contrib"  # celery_app.py, with t.mixed
RESULTS = HERE / "celery_scale_results.json"
PAGE = ROOT / "docs" / "celery.md"
BEGIN_PREFIX = "<!-- generated-celery-scale: begin"
BEGIN = f"{BEGIN_PREFIX} (benchmarks/celery_scale.py; edit the generator, not this block) -->"
END = "<!-- generated-celery-scale: end -->"

ENGINES = ("gevent", "eventlet", "threads")
OURS = "greenabc"
MIX = ("sleep",) * 7 + ("cpu",) * 2 + ("big",)
RESULT_PREFIX = "celery-task-meta-"
START_TIMEOUT = 120.0  # s for a side's workers to answer a ping (a loaded machine)
STALL_TIMEOUT = 120.0  # s without a completion before a run is given up
STOP_BOUND = 20.0  # s after SIGTERM before SIGKILL


@dataclass(frozen=True)
class Side:
    engine: str
    name: str
    prefix: tuple[str, ...]  # the command up to "celery"
    pool: str  # -P


def sides(engine: str) -> list[Side]:
    ours = (sys.executable, "-m", "greenabc", "run", "--backend", engine, "-m", "celery")
    return [
        Side(engine, OURS, ours, "custom"),
        Side(engine, f"celery -P {engine}", (sys.executable, "-m", "celery"), engine),
    ]


class Workers:
    """A side's worker processes on one queue, each in a session of its own."""

    def __init__(self, side: Side, url: str, count: int, concurrency: int, logs: Path) -> None:
        slug = re.sub(r"\W+", "-", f"{side.engine} {side.name}")
        self.side = side
        self.queue = f"scale-{slug}"
        self.hostnames = [f"{slug}-{n}@scale" for n in range(1, count + 1)]
        env = {  # only the test app's switch of greenabc's, to compare kombu's BRPOP
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GREENABC_") or k == "GREENABC_TEST_ATOMIC_FETCH"
        }
        env.update(
            {
                "CELERY_CUSTOM_WORKER_POOL": "greenabc.contrib.celery:TaskPool",
                "GREENABC_TEST_REDIS_URL": url,
                "PYTHONPATH": str(APP_DIR),
                "PYTHONWARNINGS": "ignore::celery.platforms.SecurityWarning",
            }
        )
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        for hostname in self.hostnames:
            command = [*side.prefix, "-A", "celery_app", "worker", "-P", side.pool]
            command += ["-c", str(concurrency), "-Q", self.queue, "-n", hostname, "-l", "warning"]
            command += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
            log = logs / f"{hostname.split('@')[0]}.log"
            self.logs.append(log)
            with log.open("ab") as out:
                self.processes.append(
                    subprocess.Popen(
                        command,
                        cwd=APP_DIR,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    def wait_ready(self, client: Celery) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        waiting = set(self.hostnames)
        while waiting:
            for process, log in zip(self.processes, self.logs, strict=True):
                if process.poll() is not None:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"a worker exited with {process.returncode}: {tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no ping from {sorted(waiting)} in {START_TIMEOUT:.0f} s")
            for reply in client.control.ping(sorted(waiting), timeout=1.0) or []:
                waiting -= set(reply)

    def cpu(self) -> float:
        return sum(cpu_seconds(process.pid) for process in self.processes)

    def stop(self) -> None:
        """SIGTERM to each, SIGKILL to each one's session after the bound."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_BOUND
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(deadline - time.monotonic(), 0.1))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# -- one run ---------------------------------------------------------------------------


def commands(server: redis.Redis) -> tuple[int, dict[str, int]]:
    """Redis's total command count, and the count per command."""
    total = int(server.info("stats")["total_commands_processed"])
    stats = server.info("commandstats")
    return total, {key.removeprefix("cmdstat_"): int(v["calls"]) for key, v in stats.items()}


def run_tasks(
    client: Celery, server: redis.Redis, workers: Workers, count: int, window: int
) -> dict[str, Any]:
    """Send *count* tasks of the mix to the side's queue, at most *window* in
    flight, until each has stored its result; the figures of the run."""
    pubsub = server.pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe(RESULT_PREFIX + "*")
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    failed: list[str] = []
    total0, per0 = commands(server)
    cpu0, sender0 = workers.cpu(), time.process_time()
    progress = time.monotonic()
    with contextlib.ExitStack() as stack:
        stack.callback(pubsub.close)
        producer = stack.enter_context(client.producer_or_acquire())
        while len(done) + len(failed) < count:
            while len(sent) < count and len(sent) - len(done) - len(failed) < window:
                task_id = str(uuid.uuid4())
                sent[task_id] = time.time()
                kind = MIX[len(sent) % len(MIX)]
                client.send_task(
                    "t.mixed", (kind,), queue=workers.queue, task_id=task_id, producer=producer
                )
            message = next_message(pubsub, 1.0)
            while message is not None:
                task_id = message["channel"].decode()[len(RESULT_PREFIX) :]
                if task_id in sent and task_id not in done:
                    meta = json.loads(message["data"])
                    if meta["status"] == "SUCCESS":
                        done[task_id] = datetime.fromisoformat(meta["date_done"]).timestamp()
                    else:
                        failed.append(f"{task_id}: {meta['status']} {meta['result']}")
                    progress = time.monotonic()
                message = next_message(pubsub, 0)
            if time.monotonic() - progress > STALL_TIMEOUT:
                raise RuntimeError(
                    f"{len(done)} of {count} done, none for {STALL_TIMEOUT:.0f} s"
                    f" ({len(failed)} failed)"
                )
    cpu, sender = workers.cpu() - cpu0, time.process_time() - sender0
    total1, per1 = commands(server)
    delete_results(server)
    if failed:
        raise RuntimeError(f"{len(failed)} tasks failed, e.g. {failed[0]}")
    latencies = sorted((done[task_id] - sent[task_id]) * 1000 for task_id in done)
    wall = max(done.values()) - min(sent.values())
    deltas = {name: per1.get(name, 0) - per0.get(name, 0) for name in per1}
    top = sorted(((n, d) for n, d in deltas.items() if d), key=lambda nd: -nd[1])
    return {
        "tasks": count,
        "wall_s": wall,
        "tasks_per_s": count / wall,
        "cpu_s": cpu,
        "cpu_ms_per_task": cpu / count * 1000,
        "sender_cpu_s": sender,
        "commands_per_task": (total1 - total0) / count,
        "per_command": {name: d / count for name, d in top[:12]},
        "p50_ms": statistics.median(latencies),
        "p99_ms": statistics.quantiles(latencies, n=100)[98],
    }


def next_message(pubsub: Any, timeout: float) -> dict[str, Any] | None:
    """The next whole message, if one starts within *timeout*. redis-py's
    non-blocking read applies the timeout to the whole message too, and gives
    up on a 100 kB one half arrived: once bytes are there, read blocking."""
    if not pubsub.connection.can_read(timeout=timeout):
        return None
    message: dict[str, Any] | None = pubsub.get_message(timeout=None)
    return message


def delete_results(server: redis.Redis) -> None:
    """The results stored so far (outside the timed span): 100 kB each add up."""
    batch: list[bytes] = []
    for key in server.scan_iter(match=RESULT_PREFIX + "*", count=1000):
        batch.append(key)
        if len(batch) == 1000:
            server.unlink(*batch)
            batch.clear()
    if batch:
        server.unlink(*batch)


# -- rounds ----------------------------------------------------------------------------


Measured = dict[str, Any] | str  # a run's figures, or what went wrong


def run_engine(
    engine: str, options: argparse.Namespace, url: str, logs: Path, rng: random.Random
) -> dict[str, Measured]:
    """The engine's two sides started side by side; each, in a shuffled order,
    gets a warm-up window and then its run."""
    window = options.workers * options.concurrency
    found: dict[str, Measured] = {}
    client = Celery("greenabc-scale-client", broker=url)  # no result backend: no subscriptions
    server = redis.Redis.from_url(url)
    with contextlib.ExitStack() as stack:
        stack.callback(client.close)
        stack.callback(server.close)
        ready: dict[str, Workers] = {}
        for side in sides(engine):
            workers = Workers(side, url, options.workers, options.concurrency, logs)
            stack.callback(workers.stop)
            ready[side.name] = workers
        for name, workers in list(ready.items()):
            try:
                workers.wait_ready(client)
            except RuntimeError as exc:
                print(f"  {engine} / {name}: {exc}", file=sys.stderr)
                found[name] = f"error: {exc}"
                del ready[name]
        order = list(ready)
        rng.shuffle(order)
        for name in order:
            try:
                run_tasks(client, server, ready[name], min(window, options.tasks), window)
                found[name] = run_tasks(client, server, ready[name], options.tasks, window)
            except (RuntimeError, redis.RedisError, OSError) as exc:
                print(f"  {engine} / {name}: {exc}", file=sys.stderr)
                found[name] = f"error: {exc}"
                delete_results(server)
                continue
            m = found[name]
            assert isinstance(m, dict)
            print(
                f"  {engine:8} {name:18} {m['tasks_per_s']:7.0f} tasks/s"
                f" CPU {m['cpu_s']:6.1f} s, {m['commands_per_task']:5.1f} commands/task,"
                f" p99 {m['p99_ms']:7.0f} ms (sender CPU {m['sender_cpu_s']:.1f} s,"
                f" wall {m['wall_s']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    return found


def run_rounds(
    options: argparse.Namespace,
    rng: random.Random,
    measured: list[dict[str, Any]],
    save: Callable[[], object],
) -> None:
    """The rounds, into *measured*; *save* after each engine, so that a run
    stopped early still leaves its figures."""
    engines = list(options.only or ENGINES)
    with tempfile.TemporaryDirectory(prefix="greenabc-celery-scale-") as tmp:
        logs = Path(tmp)
        with RedisServer(logs) as broker:
            # The one subscriber reads 100 kB results: never cut it off as slow.
            redis.Redis.from_url(broker.url).config_set(
                "client-output-buffer-limit", "pubsub 0 0 0"
            )
            for number in range(1, options.rounds + 1):
                rng.shuffle(engines)
                this: dict[str, Any] = {}
                measured.append(this)
                for engine in engines:
                    print(f"[round {number}/{options.rounds}] {engine}", file=sys.stderr)
                    this[engine] = run_engine(engine, options, broker.url, logs, rng)
                    save()


# -- summary ---------------------------------------------------------------------------

KEYS = (
    "tasks_per_s",
    "cpu_s",
    "cpu_ms_per_task",
    "sender_cpu_s",
    "commands_per_task",
    "p50_ms",
    "p99_ms",
)
RATIOS = ("tasks_per_s", "cpu_ms_per_task", "commands_per_task", "p99_ms")


def summarize(measured: list[dict[str, Any]], engines: list[str]) -> list[dict[str, Any]]:
    rows = []
    for engine in engines:
        names = [side.name for side in sides(engine)]
        got = {name: [r[engine][name] for r in measured if engine in r] for name in names}
        per_side: dict[str, Any] = {}
        for name in names:
            ok = [g for g in got[name] if isinstance(g, dict)]
            per_side[name] = {k: spread([g[k] for g in ok]) for k in KEYS}
            per_side[name]["errors"] = [g for g in got[name] if not isinstance(g, dict)]
            per_side[name]["per_command"] = ok[-1]["per_command"] if ok else {}
        peer = names[1]
        pairs = [
            (r[engine][OURS], r[engine][peer])
            for r in measured
            if engine in r
            and isinstance(r[engine].get(OURS), dict)
            and isinstance(r[engine].get(peer), dict)
        ]
        ratios = {k: spread([a[k] / b[k] for a, b in pairs if b[k]]) for k in RATIOS}
        rows.append({"engine": engine, "peer": peer, "sides": per_side, "ratios": ratios})
    return rows


def print_summary(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        ours, theirs, r = row["sides"][OURS], row["sides"][row["peer"]], row["ratios"]
        print(
            f"{row['engine']:8} tasks/s {fmt(ours['tasks_per_s'], '.0f')} vs"
            f" {fmt(theirs['tasks_per_s'], '.0f')} ({ratio(r['tasks_per_s'])}),"
            f" CPU/task {ratio(r['cpu_ms_per_task'])}, p99 {ratio(r['p99_ms'])},"
            f" commands/task {ratio(r['commands_per_task'])}".replace("**", "")
        )


# -- the page --------------------------------------------------------------------------


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| engine | peer | tasks/s greenabc / peer | ratio | worker CPU (3 processes)"
        " greenabc / peer | CPU per task, ratio | p50 greenabc / peer | p99 greenabc / peer"
        " | p99 ratio | broker commands per task greenabc / peer | sender CPU |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ours, theirs, r = row["sides"][OURS], row["sides"][row["peer"]], row["ratios"]
        lines.append(
            f"| {row['engine']} | `{row['peer']}`"
            f" | {fmt(ours['tasks_per_s'], ',.0f')} / {fmt(theirs['tasks_per_s'], ',.0f')}"
            f" | {ratio(r['tasks_per_s'])}"
            f" | {fmt(ours['cpu_s'], '.1f')} / {fmt(theirs['cpu_s'], '.1f')} s"
            f" | {ratio(r['cpu_ms_per_task'])}"
            f" | {fmt(ours['p50_ms'], ',.0f')} / {fmt(theirs['p50_ms'], ',.0f')} ms"
            f" | {fmt(ours['p99_ms'], ',.0f')} / {fmt(theirs['p99_ms'], ',.0f')} ms"
            f" | {ratio(r['p99_ms'])}"
            f" | {fmt(ours['commands_per_task'], '.1f')} /"
            f" {fmt(theirs['commands_per_task'], '.1f')}"
            f" | {fmt(ours['sender_cpu_s'], '.1f')} / {fmt(theirs['sender_cpu_s'], '.1f')} s |"
        )
    return lines


def breakdown(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for row in rows:
        for name, side in row["sides"].items():
            calls = ", ".join(f"{c} {n:.2f}" for c, n in list(side["per_command"].items())[:12])
            if calls:
                out.append(f"- {row['engine']}, `{name}`: {calls}")
    return out


def troubles(rows: list[dict[str, Any]]) -> list[str]:
    return [
        f"- {row['engine']}, `{name}`: {error}"
        for row in rows
        for name, side in row["sides"].items()
        for error in dict.fromkeys(side["errors"])
    ]


def rounds_text(results: dict[str, Any]) -> str:
    done, planned = results["rounds_done"], results["rounds"]
    if done == planned:
        return f"{planned} rounds"
    return f"{planned} rounds planned, stopped after {done} whole ones (and part of the next)"


def block(results: dict[str, Any]) -> str:
    m, v, o = results["machine"], results["versions"], results["options"]
    window = o["workers"] * o["concurrency"]
    out = [
        BEGIN,
        "### Several workers, one broker (`benchmarks/celery_scale.py`)",
        "",
        f"{o['workers']} workers with greenabc's pool and {o['workers']} with Celery's own,"
        f" `-c {o['concurrency']}` each, on one redis-server (broker and result backend),"
        f" each side's workers sharing one queue; {o['tasks']:,} tasks a run. Reproduce with:",
        "",
        "```sh",
        ".venv/bin/pip install -e '.[dev]' -e adapters/gevent -e adapters/eventlet",
        f".venv/bin/{results['command']}",
        "```",
        "",
        "The tasks (`t.mixed` in tests/contrib/celery_app.py), in a fixed pattern of ten:"
        " 7 sleep 10 ms (`time.sleep`, patched on gevent and eventlet), 2 burn the CPU about"
        " 2 ms (a pure-Python loop), 1 returns a 100 kB string. The sender keeps at most"
        f" {window} tasks in flight (the side's total concurrency) and learns of each"
        " completion from the result backend's publish (one `PSUBSCRIBE`), so its own"
        " broker traffic is the sends only; its CPU time over the run is the last column"
        " (set against the run's wall time, tasks / tasks/s, it shows whether the sender"
        " was the limit). *tasks/s*: the tasks over the span from the"
        " first send to the last `date_done`. *Worker CPU*: user + system time of the"
        " side's processes (/proc), summed. *Latency*: from the send to the task's"
        " `date_done` (the worker's stamp as it stores the result). *Broker commands per"
        " task*: the delta of Redis's `total_commands_processed` over the run, over the"
        " tasks, the sender's included (a `MULTI`...`EXEC` transaction is one round trip"
        " for several commands; the breakdown below shows them). Workers run with"
        " `--without-mingle --without-gossip --without-heartbeat -l warning`.",
        "",
        f"{rounds_text(results)}. In each round the engines come in a shuffled order; an"
        " engine's two sides are started side by side, and each side, in a shuffled order,"
        " gets a warm-up (one window of tasks) and then its run. Ratios greenabc / peer are"
        f" taken within the round: median and min{DASH}max; absolute figures are medians of"
        " the rounds. Above 1 for tasks/s, below 1 for CPU, p99 and commands, is greenabc"
        " ahead.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']};"
        f" the run took {m.get('minutes', 0):.1f} min, load average {m['load_before']:.1f}"
        f" before and {m.get('load_after', 0):.1f} after. **A shared 2-core VM**: the"
        " sender, the broker and the workers share two cores with each other and with"
        " whatever else ran; read the ratios and their spread.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        *table(results["rows"]),
        "",
        f"Broker commands per task by command (the last round, {X} per task):",
        "",
        *breakdown(results["rows"]),
        "",
    ]
    found = troubles(results["rows"])
    if found:
        out += ["Runs that failed:", "", *found, ""]
    out.append(END)
    return "\n".join(out) + "\n"


# -- the command -----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 tasks, 1 round")
    parser.add_argument("--tasks", type=int, help="tasks per run (30,000; --quick: 3,000)")
    parser.add_argument("--rounds", type=int, help="rounds (3; --quick: 1)")
    parser.add_argument("--workers", type=int, default=3, help="workers per side (3)")
    parser.add_argument("--concurrency", type=int, default=200, help="-c per worker (200)")
    parser.add_argument("--only", action="append", choices=ENGINES, help="an engine (repeatable)")
    parser.add_argument("--seed", type=int, help="the shuffles' seed (random)")
    parser.add_argument("--write", action="store_true", help="then update docs/celery.md")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--report-only", action="store_true", help="measure nothing: write --out into the page"
    )
    options = parser.parse_args()
    if options.report_only:
        write_block(PAGE, BEGIN_PREFIX, END, block(json.loads(options.out.read_text())))
        return 0
    options.tasks = options.tasks or (3000 if options.quick else 30_000)
    options.rounds = options.rounds or (1 if options.quick else 3)
    started = time.monotonic()
    info = machine()
    seed = options.seed if options.seed is not None else random.randrange(2**32)
    command = f"python benchmarks/celery_scale.py --tasks {options.tasks}"
    command += f" --rounds {options.rounds}"
    if (options.workers, options.concurrency) != (3, 200):
        command += f" --workers {options.workers} --concurrency {options.concurrency}"
    command += "".join(f" --only {e}" for e in options.only or [])
    packages = ("greenabc", "celery", "kombu", "redis", "gevent", "eventlet", "greenlet")
    versions = {name: package_version(name) for name in packages}
    versions["redis-server"] = redis_version()
    engines = list(options.only or ENGINES)
    measured: list[dict[str, Any]] = []
    results: dict[str, Any] = {}

    def save() -> None:
        info["load_after"] = os.getloadavg()[0]
        info["minutes"] = (time.monotonic() - started) / 60
        results.update(
            {
                "command": command + " --write",
                "rounds": options.rounds,
                "rounds_done": sum(len(r) == len(engines) for r in measured),
                "seed": seed,
                "options": {k: getattr(options, k) for k in ("tasks", "workers", "concurrency")},
                "machine": info,
                "versions": versions,
                "rows": summarize(measured, engines),
                "measured": measured,
            }
        )
        options.out.write_text(json.dumps(results, indent=1) + "\n")

    run_rounds(options, random.Random(seed), measured, save)
    print_summary(results["rows"])
    print(f"results: {options.out} ({info['minutes']:.1f} min)", file=sys.stderr)
    if options.write:
        write_block(PAGE, BEGIN_PREFIX, END, block(results))
    return 1 if troubles(results["rows"]) else 0


def redis_version() -> str:
    path = redis_server()
    if path is None:
        return "?"
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    found = re.search(r"v=(\S+)", out.stdout)
    return found.group(1) if found else "?"


if __name__ == "__main__":
    sys.exit(main())
