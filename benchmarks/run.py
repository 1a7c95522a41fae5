"""Every benchmark, every peer, one command (pyperf-style rounds).

    python benchmarks/run.py [--quick] [--rounds N] [--write] [--only ENGINE ...]

Each engine (threads, gevent, eventlet) runs in a process of its own, patched
first; in it, each round runs every case's sides (greenabc and its peers) in a
shuffled order, and each round's ratio greenabc / peer is taken within that
round. The summary is the median and min-max of those per-round ratios, never
a ratio of medians. The cases are ``greenabc bench``'s (in the package,
``greenabc/_cli/_bench_cases.py``) plus the peers in ``benchmarks/cases/``:
Celery's pools and timers, kombu's Timer, futurist, the executor, the floor.
Peak-RSS cases (10k sleepers, 1,000 echo clients) run one side per process,
the sides' order shuffled each round. The primitives are bench_primitives.py's
cases, run by it with the same number of rounds.

Results go to benchmarks/results.json; --write then runs report.py, which
regenerates the generated block of docs/benchmarks.md and docs/img/*.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
ENGINES = ("threads", "gevent", "eventlet")
RSS_CASES = {"sleepers": 10_000, "echo": 1_000}  # tasks / clients, quick or not
CHILD_TIMEOUT = 1800


# -- in an engine's process ---------------------------------------------------------


def _patch(engine: str) -> Any:
    import greenabc

    if engine != "threads":
        greenabc.patch(engine)
    return greenabc.get_backend(engine)


def child(engine: str, rounds: int, quick: bool) -> None:
    backend = _patch(engine)
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.cases import celery_pools, executor, floor, futurist_pools, peer_timers
    from greenabc._cli import _bench_cases as bc

    sizes = bc.QUICK if quick else bc.FULL
    size = bc._thread_workers() if engine == "threads" else bc.POOL_SIZE
    cases = bc.engine_cases(backend, sizes)
    by_name = {case.name: case for case in cases}
    celery_pools.add_to(by_name, engine, sizes.tasks, size)
    futurist_pools.add_to(by_name, engine, sizes.tasks, size)
    peer_timers.add_to(by_name["timers"], backend, sizes)
    small = sizes.tasks // 4  # the slowest peers: fewer tasks, the same per-task figure
    cases += celery_pools.greenabc_vs_celery(engine, small, size)
    cases += executor.cases(engine, small, size)
    if engine == "threads":
        cases += floor.cases(sizes.tasks)
    result = bc.run_rounds(cases, rounds, bc.emit_line, seed=rounds)
    bc.emit_line({"event": "result", "backend": engine, "versions": bc.versions(), **result})


def rss_child(engine: str, case: str, side: str) -> None:
    backend = _patch(engine)
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.cases import echo, sleepers

    module = {"sleepers": sleepers, "echo": echo}[case]
    wall = module.run(backend, side, RSS_CASES[case])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"wall_s": wall, "rss_mib": rss}))


# -- the parent ------------------------------------------------------------------------


def _say(text: str) -> None:
    end = "\r" if sys.stderr.isatty() else "\n"
    print(f"{text:78}", end=end, file=sys.stderr, flush=True)


def run_engine(engine: str, rounds: int, quick: bool) -> dict[str, Any] | None:
    command = [sys.executable, __file__, "--child", engine, "--rounds", str(rounds)]
    command += ["--quick"] if quick else []
    env = {k: v for k, v in os.environ.items() if k != "GREENABC_BACKEND"}
    result = None
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            if event["event"] == "progress":
                _say(f"[{engine}] {event['step']}/{event['steps']} {event['label']}")
            elif event["event"] == "error":
                print(
                    f"\n[{engine}] {event['case']}: {event['side']}: {event['error']}",
                    file=sys.stderr,
                )
            elif event["event"] == "result":
                result = event
        process.wait(CHILD_TIMEOUT)
    print(file=sys.stderr)
    if process.returncode or result is None:
        print(f"[{engine}] failed: exit {process.returncode}", file=sys.stderr)
        return None
    return result


def run_rss(engines: list[str], rounds: int) -> dict[str, Any]:
    """One side per process; sides shuffled each round; per-round ratios."""
    from greenabc._cli._bench_cases import Case, summarise

    order = random.Random(rounds)
    found: dict[str, Any] = {}
    for engine in (e for e in engines if e != "threads"):  # 10k OS threads: not measured
        runs: dict[str, dict[str, list[dict[str, float]]]] = {
            case: {side: [] for side in ("greenabc", "raw")} for case in RSS_CASES
        }
        for r in range(rounds):
            for case in RSS_CASES:
                sides = ["greenabc", "raw"]
                order.shuffle(sides)
                for side in sides:
                    _say(f"[{engine}] {case} r{r + 1} {side} (own process)")
                    out = subprocess.run(
                        [sys.executable, __file__, "--rss", engine, case, side],
                        capture_output=True,
                        text=True,
                        timeout=300,
                    )
                    if out.returncode:
                        last = (out.stderr.strip().splitlines() or ["?"])[-1]
                        print(f"\n[{engine}] {case} {side}: {last}", file=sys.stderr)
                        runs[case][side].append({"error": 1.0})
                    else:
                        runs[case][side].append(json.loads(out.stdout.strip().splitlines()[-1]))
        titles = {
            "sleepers": f"{RSS_CASES['sleepers']:,} tasks sleeping 0.1 s at once",
            "echo": f"{RSS_CASES['echo']:,} loopback echo clients x 10 round trips",
        }
        cases = []
        for case, per_side in runs.items():
            raw_name = {"gevent": "gevent.pool.Pool", "eventlet": "eventlet.GreenPool"}[engine]
            shell = Case(case, titles[case], "s", "greenabc", {}, ("wall_s", "rss_mib"), case)
            cases.append(
                summarise(shell, {"greenabc": per_side["greenabc"], raw_name: per_side["raw"]})
            )
        found[engine] = {"rounds": rounds, "cases": cases}
    print(file=sys.stderr)
    return found


def run_primitives(engines: list[str], rounds: int) -> dict[str, Any]:
    found = {}
    for engine in engines:
        _say(f"[{engine}] primitives (bench_primitives.py, {rounds} rounds)")
        out = subprocess.run(
            [
                sys.executable,
                str(HERE / "bench_primitives.py"),
                *("--backend", engine, "--rounds", str(rounds), "--json"),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if out.returncode == 0:
            found[engine] = json.loads(out.stdout)
        else:
            print(f"\n[{engine}] primitives failed: {out.stderr.strip()[-300:]}", file=sys.stderr)
    print(file=sys.stderr)
    return found


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_before": os.getloadavg()[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k tasks and timers, not 100k")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", action="append", choices=ENGINES, help="an engine (repeatable)")
    parser.add_argument("--write", action="store_true", help="then regenerate docs/benchmarks.md")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--rss", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rounds, args.quick)
        return 0
    if args.rss:
        rss_child(*args.rss)
        return 0
    engines = args.only or list(ENGINES)
    started = time.monotonic()
    info = machine()
    results: dict[str, Any] = {"engines": {}, "machine": info, "quick": args.quick}
    for engine in engines:
        found = run_engine(engine, args.rounds, args.quick)
        if found is not None:
            results["engines"][engine] = found
    results["rss"] = run_rss(engines, args.rounds)
    results["primitives"] = run_primitives(engines, args.rounds)
    info["load_after"] = os.getloadavg()[0]
    info["minutes"] = (time.monotonic() - started) / 60
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    command += f" --rounds {args.rounds}" if args.rounds != 5 else ""
    results["command"] = command + " --write"
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results: {args.out} ({info['minutes']:.1f} min)", file=sys.stderr)
    if args.write:
        import report

        report.write(results)
    return 0 if len(results["engines"]) == len(engines) else 1


if __name__ == "__main__":
    sys.exit(main())
