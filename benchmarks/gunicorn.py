"""greenabc's gunicorn worker against gunicorn's own, with wrk: one command.

    python benchmarks/gunicorn.py [--quick] [--rounds N] [--write] [--only ENGINE ...]
    python benchmarks/gunicorn.py --report-only   # the page again, from the last results

Installs ``wrk`` with apt-get when it is missing. The servers are real
gunicorn processes (``-w 1``, ``--no-control-socket``, no access log, a free
127.0.0.1 port) serving ``benchmarks/gunicorn_app.py``; each is always stopped
by its process group (SIGTERM, then SIGKILL). The sides, per engine:

- gevent: ``-k greenabc.contrib.gunicorn.Worker`` with ``GREENABC_BACKEND=gevent``
  against ``-k gevent``;
- threads: the same worker on ``threads`` against ``-k gthread --threads N``,
  N = wrk's connections (100): both park idle connections in a selector and
  run ready requests on threads (greenabc up to ``--worker-connections``), so
  both sides can have every connection's request in flight;
- eventlet: the worker on ``eventlet`` against gunicorn 25.3's ``-k eventlet``
  (removed in gunicorn 26), from a virtualenv of its own made under /tmp with
  the same eventlet; if that cannot be installed, greenabc runs alone.

The workloads: ``/`` (hello world) and ``/sleep`` (a patched 10 ms sleep),
each with keep-alive (wrk's default) and with ``Connection: close`` (a new
connection per request), wrk with one thread and 100 connections (one
thread: on a 2-core machine wrk and the worker each get a core, instead of
two wrk threads taking CPU from the server they measure). In each round,
the engines come in a shuffled order; an engine's servers (greenabc's and
its peer's) are started side by side, and each workload, in a shuffled
order, runs against each of them back to back, in a shuffled order (so the
two figures of a ratio are seconds apart, whatever else the machine does
meanwhile): a warm-up, then ``wrk --latency`` (requests/s, p50, p99), with
the worker's CPU time read from /proc around it (CPU per request: what the
worker pays, less sensitive to the other load on the machine). Ratios
greenabc / peer are taken within each round; the summary is the median and
min-max of those per-round ratios, never a ratio of medians.

Results go to benchmarks/gunicorn_results.json; --write then puts the
generated section "gunicorn worker" into docs/benchmarks.md, between markers
of its own (report.py's block is left alone).

(This file is named for what it measures; it is run as a script, never
imported, and the servers run with the repository's root as their directory,
so it never shadows the ``gunicorn`` package.)
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    DASH,
    cpu_seconds,
    fmt,
    last_line,
    machine,
    package_version,
    ratio,
    spread,
    stat_fields,
    write_block,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "gunicorn_results.json"
PAGE = ROOT / "docs" / "benchmarks.md"
BEGIN_PREFIX = "<!-- generated-gunicorn: begin"  # not report.py's "<!-- generated: begin"
BEGIN = f"{BEGIN_PREFIX} (benchmarks/gunicorn.py; edit the generator, not this block) -->"
END = "<!-- generated-gunicorn: end -->"

APP = "benchmarks.gunicorn_app:app"
ENGINES = ("gevent", "threads", "eventlet")
OURS = "greenabc"
WORKLOADS: dict[str, tuple[str, bool]] = {  # name: (path, Connection: close)
    "hello, keep-alive": ("/", False),
    "hello, Connection: close": ("/", True),
    "sleep 10 ms, keep-alive": ("/sleep", False),
    "sleep 10 ms, Connection: close": ("/sleep", True),
}
GUNICORN_25 = "25.3.0"  # the last gunicorn with -k eventlet
ENV_25 = Path(tempfile.gettempdir()) / "greenabc-bench-gunicorn25"
START_TIMEOUT = 30.0  # s for a server to answer its first request
STOP_TIMEOUT = 10.0  # s after SIGTERM before SIGKILL
GRACEFUL = 2  # --graceful-timeout: wrk has closed its connections by then


@dataclass(frozen=True)
class Side:
    """One gunicorn configuration: its python, worker options and environment."""

    engine: str
    name: str
    python: str
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Load:
    """wrk's options."""

    threads: int
    connections: int
    duration: int  # s: wrk takes whole seconds
    warmup: int


# -- setting up -------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: apt-get install -y wrk", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    for step in (install, ["apt-get", "update", "-q"], install):
        with contextlib.suppress(OSError):
            subprocess.run(step, env=env, stdout=subprocess.DEVNULL, check=False)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("wrk could not be installed (apt-get install -y wrk needs root): install it first")


def gunicorn_25(path: Path) -> tuple[str | None, str]:
    """The python of a virtualenv with gunicorn 25.3 and this environment's
    eventlet, made when missing; else None and why."""
    python = path / "bin" / "python"
    pins = [f"gunicorn=={GUNICORN_25}", f"eventlet=={package_version('eventlet')}"]
    probe = [str(python), "-c", "import eventlet, gunicorn; print(gunicorn.__version__)"]
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
        have = subprocess.run(probe, capture_output=True, text=True, check=False)
        if have.stdout.strip() != GUNICORN_25:
            print(f"[eventlet] pip install {' '.join(pins)} into {path}", file=sys.stderr)
            done = subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *pins],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            if done.returncode:
                return None, f"pip install {' '.join(pins)} failed: {last_line(done.stderr)}"
        return str(python), f"gunicorn {GUNICORN_25} in its own virtualenv ({path})"
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"no virtualenv for gunicorn {GUNICORN_25}: {exc}"


def sides(engines: list[str], gthreads: int, env_25: Path) -> tuple[list[Side], dict[str, str]]:
    ours = ("-k", "greenabc.contrib.gunicorn.Worker")
    found: list[Side] = []
    notes: dict[str, str] = {}
    for engine in engines:
        found.append(Side(engine, OURS, sys.executable, ours, {"GREENABC_BACKEND": engine}))
        if engine == "gevent":
            found.append(Side(engine, "gunicorn -k gevent", sys.executable, ("-k", "gevent")))
        elif engine == "threads":
            peer = ("-k", "gthread", "--threads", str(gthreads))
            name = f"gunicorn -k gthread --threads {gthreads}"
            found.append(Side(engine, name, sys.executable, peer))
        else:
            python, why = gunicorn_25(env_25)
            notes[engine] = why
            if python is not None:
                name = f"gunicorn {GUNICORN_25} -k eventlet"
                found.append(Side(engine, name, python, ("-k", "eventlet")))
    return found, notes


# -- one server ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A gunicorn arbiter with one worker, in a process group of its own."""

    def __init__(self, side: Side, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = {k: v for k, v in os.environ.items() if k != "GREENABC_BACKEND"}
        env.update(side.env)
        command = [side.python, "-m", "gunicorn", APP, "-w", "1", "--no-control-socket"]
        command += ["-b", f"127.0.0.1:{self.port}", "--graceful-timeout", str(GRACEFUL)]
        command += ["--log-level", "warning", *side.args]
        # Root as the directory (gunicorn puts it on sys.path): benchmarks.gunicorn_app.
        # Its log (and the engines' warnings) go to a file, read when it fails.
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self) -> int:
        """Wait for a 200 on ``/``; return the worker's pid."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.process.returncode}: {self.tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/")
                status = conn.getresponse().status
                conn.close()
            except OSError:
                time.sleep(0.1)
                continue
            if status != 200:
                raise RuntimeError(f"GET / answered {status}: {self.tail()}")
            [worker] = children(self.process.pid)
            return worker
        raise RuntimeError(f"no answer within {START_TIMEOUT:.0f} s: {self.tail()}")

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL if it is not gone in time."""
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            print(f"  gunicorn {group} ignored SIGTERM: SIGKILL", file=sys.stderr)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # the worker too, whatever the arbiter did
        self.process.wait()

    def tail(self) -> str:
        try:
            return last_line(self.log.read_text())
        except OSError:
            return "no log"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
    return found


# -- wrk ---------------------------------------------------------------------------------

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def wrk(binary: str, port: int, path: str, close: bool, load: Load, seconds: int) -> str:
    command = [binary, f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds}s"]
    command += ["--latency", "--timeout", "10s"]  # slow answers count, not vanish
    command += ["-H", "Connection: close"] if close else []
    command.append(f"http://127.0.0.1:{port}{path}")
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode:
        raise RuntimeError(f"wrk exited {done.returncode}: {last_line(done.stderr or done.stdout)}")
    return done.stdout


def wrk_version(binary: str) -> str:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False).stdout
    words = out.split()  # "wrk debian/4.1.0-3+b2 [epoll] Copyright ..."
    return words[1].split("/")[-1] if len(words) > 1 else "?"


def parse_wrk(text: str) -> dict[str, float]:
    """requests/s, p50 and p99 in ms, and the request and error counts."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    count = re.search(r"^\s*(\d+) requests in", text, re.M)
    if rps is None or count is None:
        raise RuntimeError(f"unexpected wrk output: {text!r}")
    out = {"rps": float(rps.group(1)), "requests": float(count.group(1))}
    for pct, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M):
        out[f"p{pct}_ms"] = float(value) * UNITS[unit]
    errors = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = float(sum(map(int, errors.groups()))) if errors else 0.0
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = float(bad.group(1)) if bad else 0.0
    return out


# -- rounds ---------------------------------------------------------------------------


Measured = dict[str, float] | str  # wrk's figures, or what went wrong


def measure(server: Server, worker: int, workload: str, load: Load, binary: str) -> Measured:
    """A warm-up, then one wrk run, with the worker's CPU time around it."""
    path, close = WORKLOADS[workload]
    try:
        wrk(binary, server.port, path, close, load, load.warmup)
        cpu = cpu_seconds(worker)
        result = parse_wrk(wrk(binary, server.port, path, close, load, load.duration))
        cpu = cpu_seconds(worker) - cpu
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
        print(f"  {workload}: {exc}", file=sys.stderr)
        return f"error: {exc}"
    result["cpu_us_per_request"] = cpu / max(result["requests"], 1) * 1e6
    return result


def run_engine(
    group: list[Side], load: Load, binary: str, logs: Path, rng: random.Random
) -> dict[str, dict[str, Measured]]:
    """The engine's servers (greenabc and its peers) started side by side and
    idle but for the run at hand; each workload, in a shuffled order, runs
    against each of them back to back, in a shuffled order, so that the two
    figures a ratio divides were taken seconds apart."""
    found: dict[str, dict[str, Measured]] = {side.name: {} for side in group}
    with contextlib.ExitStack() as stack:
        ready: dict[str, tuple[Server, int]] = {}
        for side in group:
            log = logs / (re.sub(r"\W+", "-", f"{side.engine} {side.name}") + ".log")
            server = stack.enter_context(Server(side, log))
            try:
                ready[side.name] = (server, server.wait_ready())
            except (RuntimeError, OSError, ValueError) as exc:
                print(f"  {side.engine} / {side.name}: {exc}", file=sys.stderr)
                found[side.name] = {name: f"error: {exc}" for name in WORKLOADS}
        workloads = list(WORKLOADS)
        rng.shuffle(workloads)
        for workload in workloads:
            order = list(ready)
            rng.shuffle(order)
            for name in order:
                server, worker = ready[name]
                found[name][workload] = measure(server, worker, workload, load, binary)
    return found


def run_rounds(
    all_sides: list[Side], load: Load, rounds: int, binary: str, rng: random.Random
) -> list[dict[str, Any]]:
    engines = list(dict.fromkeys(side.engine for side in all_sides))
    measured: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="greenabc-bench-gunicorn-") as tmp:
        for number in range(1, rounds + 1):
            rng.shuffle(engines)
            this: dict[str, Any] = {}
            for engine in engines:
                group = [side for side in all_sides if side.engine == engine]
                print(f"[round {number}/{rounds}] {engine}", file=sys.stderr, flush=True)
                this[engine] = run_engine(group, load, binary, Path(tmp), rng)
            measured.append(this)
    return measured


# -- summary ---------------------------------------------------------------------------


KEYS = ("rps", "p50_ms", "p99_ms", "cpu_us_per_request", "socket_errors", "non_2xx")


def summarize(measured: list[dict[str, Any]], all_sides: list[Side]) -> list[dict[str, Any]]:
    rows = []
    for engine in dict.fromkeys(side.engine for side in all_sides):
        names = [side.name for side in all_sides if side.engine == engine]
        peers = [name for name in names if name != OURS]
        for workload in WORKLOADS:
            per_side: dict[str, Any] = {}
            for name in names:
                got = [r[engine][name][workload] for r in measured if engine in r]
                ok = [g for g in got if isinstance(g, dict)]
                per_side[name] = {k: spread([g[k] for g in ok if k in g]) for k in KEYS}
                per_side[name]["errors"] = [g for g in got if not isinstance(g, dict)]
            ratios: dict[str, Any] = {}
            for peer in peers:
                pairs = [
                    (r[engine][OURS][workload], r[engine][peer][workload])
                    for r in measured
                    if isinstance(r[engine][OURS][workload], dict)
                    and isinstance(r[engine][peer][workload], dict)
                ]
                ratios[peer] = {
                    k: spread([ours[k] / theirs[k] for ours, theirs in pairs if theirs.get(k)])
                    for k in ("rps", "p99_ms", "cpu_us_per_request")
                }
            rows.append(
                {"engine": engine, "workload": workload, "sides": per_side, "ratios": ratios}
            )
    return rows


def print_summary(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        ours = row["sides"][OURS]
        head = f"{row['engine']:8} {row['workload']:32}"
        line = (
            f"{head} greenabc {fmt(ours['rps'], '.0f')} req/s p99 {fmt(ours['p99_ms'], '.1f')} ms"
        )
        for peer, r in row["ratios"].items():
            theirs = row["sides"][peer]
            line += (
                f" | {peer}: {fmt(theirs['rps'], '.0f')} req/s"
                f" p99 {fmt(theirs['p99_ms'], '.1f')} ms"
                f" | req/s ratio {ratio(r['rps'])}"
            )
        print(line.replace("**", ""))


# -- the page ---------------------------------------------------------------------------


def met(r: dict[str, Any]) -> str:
    if not r["rps"] or not r["p99_ms"]:
        return f"{DASH}"
    fast = r["rps"]["median"] >= 1.0
    steady = r["p99_ms"]["median"] <= 1.0
    if fast and steady:
        return "yes"
    return "**no** (" + ", ".join(w for w, ok in (("req/s", fast), ("p99", steady)) if not ok) + ")"


def table(results: dict[str, Any]) -> list[str]:
    lines = [
        f"| engine | workload | peer | req/s greenabc / peer | req/s ratio (min{DASH}max)"
        " | p99 greenabc / peer | p99 ratio | p50 greenabc / peer"
        " | worker CPU per request, ratio | target met? |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        ours = row["sides"][OURS]
        if not row["ratios"]:
            lines.append(
                f"| {row['engine']} | {row['workload']} | (none) | {fmt(ours['rps'], ',.0f')}"
                f" | | {fmt(ours['p99_ms'], '.1f')} ms | | {fmt(ours['p50_ms'], '.1f')} ms"
                f" | {fmt(ours['cpu_us_per_request'], '.0f')} µs | |"
            )
        for peer, r in row["ratios"].items():
            theirs = row["sides"][peer]
            lines.append(
                f"| {row['engine']} | {row['workload']} | `{peer}`"
                f" | {fmt(ours['rps'], ',.0f')} / {fmt(theirs['rps'], ',.0f')}"
                f" | {ratio(r['rps'])}"
                f" | {fmt(ours['p99_ms'], '.1f')} / {fmt(theirs['p99_ms'], '.1f')} ms"
                f" | {ratio(r['p99_ms'])}"
                f" | {fmt(ours['p50_ms'], '.1f')} / {fmt(theirs['p50_ms'], '.1f')} ms"
                f" | {fmt(ours['cpu_us_per_request'], '.0f')} / "
                f"{fmt(theirs['cpu_us_per_request'], '.0f')} µs,"
                f" {ratio(r['cpu_us_per_request']).replace('**', '')}"
                f" | {met(r)} |"
            )
    return lines


def troubles(results: dict[str, Any]) -> list[str]:
    found = []
    for row in results["rows"]:
        for name, side in row["sides"].items():
            where = f"{row['engine']}, {row['workload']}, `{name}`"
            for error in dict.fromkeys(side["errors"]):
                found.append(f"- {where}: {error}")
            errors, bad = side["socket_errors"], side["non_2xx"]
            if (errors and errors["max"]) or (bad and bad["max"]):
                found.append(
                    f"- {where}: wrk counted up to {errors['max'] if errors else 0:.0f} socket"
                    f" errors and {bad['max'] if bad else 0:.0f} non-2xx answers in a round"
                )
    return found


def block(results: dict[str, Any]) -> str:
    m, load, v = results["machine"], results["load"], results["versions"]
    notes = results["notes"]
    out = [
        BEGIN,
        "## gunicorn worker",
        "",
        "`greenabc.contrib.gunicorn.Worker` against gunicorn's own workers, served by real"
        " gunicorn processes and loaded with `wrk`. Reproduce with one command (it installs"
        " `wrk` with apt-get when missing, and gunicorn 25 for the eventlet peer in a"
        " virtualenv of its own under /tmp):",
        "",
        "```sh",
        ".venv/bin/pip install -e '.[dev]' -e adapters/gevent -e adapters/eventlet",
        f".venv/bin/{results['command']}",
        "```",
        "",
        f"Each server: `-w 1 --no-control-socket`, no access log, keep-alive 2 s (the"
        f" default), `--worker-connections 1000` (the default) on a free 127.0.0.1 port,"
        f" serving `benchmarks/gunicorn_app.py`: `/` answers a 13-byte hello, `/sleep` the same"
        f" after a 10 ms `time.sleep` (patched on gevent and eventlet; on threads it holds a"
        f" thread). wrk {v.get('wrk', '?')}: `-t{load['threads']} -c{load['connections']}"
        f" -d{load['duration']:g}s --latency --timeout 10s` after a {load['warmup']:g} s"
        f" warm-up, with keep-alive (wrk's default) and with `-H 'Connection: close'` (a new"
        f" connection per request); one wrk thread, so that on this 2-core machine wrk and"
        f" the worker each have a core. The threads peer is `-k gthread --threads"
        f" {results['gthread_threads']}`: as many threads as wrk has connections. Both"
        f" park idle connections in a selector and run each ready request on a thread"
        f" (greenabc's worker up to `--worker-connections` at once), so each side can"
        f" have every connection's request in flight.",
        "",
        f"Eventlet: {notes.get('eventlet', 'not measured')}; gunicorn 26 removed"
        " `-k eventlet`, so that peer runs from gunicorn 25.3, the last release with it,"
        " with the same eventlet and Python.",
        "",
        f"{results['rounds']} rounds. In each round the engines come in a shuffled order; an"
        " engine's two servers (greenabc's and its peer's) are started side by side, and each"
        " workload, in a shuffled order, runs against both back to back, in a shuffled order,"
        " so that the two figures a ratio divides were taken seconds apart (the idle server"
        " waits in epoll meanwhile). The ratios greenabc /"
        " peer are taken within the round, and the table gives their median and"
        f" min{DASH}max (never a ratio of medians); absolute figures are medians of the rounds."
        " Above 1 for requests/s, below 1 for p99 and CPU, is greenabc ahead. *Worker CPU per"
        " request* is the worker process's user + system time (/proc) during the wrk run over"
        " the requests served: what the worker pays, whatever else the machine was doing."
        f" The target (issue 16): req/s ratio {chr(0x2265)} 1.0 with a p99 ratio"
        f" {chr(0x2264)} 1.0.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']};"
        f" the run took {m.get('minutes', 0):.1f} min, load average {m['load_before']:.1f}"
        f" before and {m.get('load_after', 0):.1f} after. **A shared 2-core VM**: wrk and the"
        " worker share the two cores with each other and with whatever else ran, so absolute"
        " figures are noisy; read the ratios and their spread.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        *table(results),
        "",
    ]
    found = troubles(results)
    if found:
        out += ["Errors and non-2xx answers:", "", *found, ""]
    out.append(END)
    return "\n".join(out) + "\n"


def write(results: dict[str, Any]) -> None:
    write_block(PAGE, BEGIN_PREFIX, END, block(results))


# -- the command -------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 2 s runs (~3 min)")
    parser.add_argument("--rounds", type=int, help="rounds (5; --quick: 2)")
    parser.add_argument("--duration", type=int, help="s per wrk run (5; --quick: 2)")
    parser.add_argument("--warmup", type=int, help="s of warm-up per run (1; --quick: 1)")
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads (1)")
    parser.add_argument("--connections", type=int, default=100, help="wrk's connections (100)")
    parser.add_argument("--gthread-threads", type=int, help="gthread's --threads (= connections)")
    parser.add_argument("--only", action="append", choices=ENGINES, help="an engine (repeatable)")
    parser.add_argument("--seed", type=int, help="the shuffles' seed (random)")
    parser.add_argument("--eventlet-env", type=Path, default=ENV_25, help=f"({ENV_25})")
    parser.add_argument("--write", action="store_true", help="then update docs/benchmarks.md")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--report-only", action="store_true", help="measure nothing: write --out into the page"
    )
    args = parser.parse_args()
    if args.report_only:
        write(json.loads(args.out.read_text()))
        return 0
    rounds = args.rounds or (2 if args.quick else 5)
    load = Load(
        threads=args.threads,
        connections=args.connections,
        duration=args.duration or (2 if args.quick else 5),
        warmup=args.warmup or 1,
    )
    gthreads = args.gthread_threads or args.connections
    binary = ensure_wrk()
    started = time.monotonic()
    info = machine()
    all_sides, notes = sides(args.only or list(ENGINES), gthreads, args.eventlet_env)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    measured = run_rounds(all_sides, load, rounds, binary, random.Random(seed))
    info["load_after"] = os.getloadavg()[0]
    info["minutes"] = (time.monotonic() - started) / 60
    versions = {
        "wrk": wrk_version(binary),
        **{name: package_version(name) for name in ("greenabc", "gunicorn", "gevent", "eventlet")},
        "greenlet": package_version("greenlet"),
    }
    peer_25 = next((s.python for s in all_sides if s.python != sys.executable), None)
    if peer_25:
        versions["gunicorn (eventlet peer)"] = package_version("gunicorn", peer_25)
    command = "python benchmarks/gunicorn.py" + (" --quick" if args.quick else "")
    command += f" --rounds {rounds}" if args.rounds else ""
    command += "".join(f" --only {e}" for e in args.only or [])
    results = {
        "command": command + " --write",
        "rounds": rounds,
        "seed": seed,
        "load": asdict(load),
        "gthread_threads": gthreads,
        "machine": info,
        "versions": versions,
        "notes": notes,
        "rows": summarize(measured, all_sides),
        "measured": measured,
    }
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print_summary(results["rows"])
    print(f"results: {args.out} ({info['minutes']:.1f} min)", file=sys.stderr)
    if args.write:
        write(results)
    failed = any(side["errors"] for row in results["rows"] for side in row["sides"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
