"""greenabc's eventlet backend against raw eventlet, as ratios measured in one run.

    python benchmarks/bench_eventlet.py [--repeat 5] [--scale 1.0] [--json]

(a) spawn+get of 100k trivial tasks, size 1000, vs ``GreenPool`` spawn+waitall
    (target <= 1.10x);
(b) call_after+fire of 100k timers vs ``hub.schedule_call_global``, in CPU
    time; deadlines spread over 2 to 4 s out, so none is due before all are
    scheduled; the latest timer must be < 100 ms late (target <= 1.3x);
(c) timeout scope enter+exit vs ``with eventlet.Timeout(10)`` (target <= 1.2x);
(d) 10k tasks sleeping 0.1 s at once: peak RSS, each side in a fresh
    subprocess (target <= 1.1x).

Both sides run in one process patched with ``greenabc.patch("eventlet")``,
interleaved, and each figure is the median of the repeats (for (d) the least
of them: RSS is not noise-prone the same way).
"""

from __future__ import annotations

import greenabc

greenabc.patch("eventlet")

import argparse  # noqa: E402 (patch first)
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import eventlet  # noqa: E402
from eventlet.hubs import get_hub  # noqa: E402

BACKEND = greenabc.get_backend("eventlet")
TARGETS = {"spawn+get": 1.10, "timers": 1.3, "timeout scope": 1.2, "peak RSS": 1.1}
LATE_LIMIT = 0.1


def noop() -> None:
    return None


# -- (a) spawn+get -----------------------------------------------------------


def spawn_raw(tasks: int) -> float:
    started = time.perf_counter()
    pool = eventlet.GreenPool(1000)
    for _ in range(tasks):
        pool.spawn(noop)
    pool.waitall()
    return time.perf_counter() - started


def spawn_greenabc(tasks: int) -> float:
    started = time.perf_counter()
    pool = BACKEND.create_pool(1000)
    handles = [pool.spawn(noop) for _ in range(tasks)]
    for handle in handles:
        handle.get()
    elapsed = time.perf_counter() - started
    pool.close()
    return elapsed


# -- (b) timers ----------------------------------------------------------------


def _timer_run(schedule: Callable[..., object], count: int) -> tuple[float, float]:
    """CPU seconds to schedule and fire *count* timers, and the latest one's lateness."""
    # Due 2 to 4 s out: after all are scheduled, and at a rate the hub can keep up with.
    delays = [2.0 + random.random() * 2.0 for _ in range(count)]
    deadlines = [0.0] * count
    state = {"left": count, "late": 0.0}
    done = eventlet.Event()
    clock = time.monotonic

    def fire(n: int) -> None:
        late = clock() - deadlines[n]
        if late > state["late"]:
            state["late"] = late
        state["left"] -= 1
        if not state["left"]:
            done.send()

    cpu = time.process_time()
    for n, delay in enumerate(delays):
        schedule(delay, fire, n)
        # Read after scheduling: a collector pause inside schedule() delays
        # the hub's deadline too, so it must not count as lateness.
        deadlines[n] = clock() + delay
    done.wait()
    return time.process_time() - cpu, state["late"]


def timers_raw(count: int) -> tuple[float, float]:
    return _timer_run(get_hub().schedule_call_global, count)


def timers_greenabc(count: int) -> tuple[float, float]:
    timer = BACKEND.create_timer()
    try:
        return _timer_run(timer.call_after, count)
    finally:
        timer.stop()


# -- (c) timeout scope ---------------------------------------------------------


def scope_raw(count: int) -> float:
    timeout = eventlet.Timeout
    started = time.perf_counter()
    for _ in range(count):
        with timeout(10):
            pass
    elapsed = time.perf_counter() - started
    eventlet.sleep(0)
    return elapsed


def scope_greenabc(count: int) -> float:
    timeout = BACKEND.timeout
    started = time.perf_counter()
    for _ in range(count):
        with timeout(10):
            pass
    elapsed = time.perf_counter() - started
    eventlet.sleep(0)
    return elapsed


def scope_top_level(count: int) -> float:
    timeout = greenabc.timeout
    started = time.perf_counter()
    for _ in range(count):
        with timeout(10, backend="eventlet"):
            pass
    elapsed = time.perf_counter() - started
    eventlet.sleep(0)
    return elapsed


# -- (d) peak RSS, in a child process of its own per side ---------------------


def rss_child(side: str, tasks: int) -> dict[str, int]:
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if side == "raw":
        pool = eventlet.GreenPool(tasks)
        for _ in range(tasks):
            pool.spawn(eventlet.sleep, 0.1)
        pool.waitall()
    else:
        ours = BACKEND.create_pool(tasks)
        handles = [ours.spawn(time.sleep, 0.1) for _ in range(tasks)]
        for handle in handles:
            handle.get()
        ours.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"baseline_kib": baseline, "peak_kib": peak}


def rss(side: str, tasks: int) -> dict[str, int]:
    command = [sys.executable, __file__, "--rss-child", side, "--tasks", str(tasks)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    result: dict[str, int] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- the run ---------------------------------------------------------------------


def median_pair(
    raw: Callable[[int], Any], ours: Callable[[int], Any], n: int, repeat: int
) -> tuple[list[Any], list[Any]]:
    raws, ourss = [], []
    for _ in range(repeat):  # interleaved, so drift hits both alike
        raws.append(raw(n))
        ourss.append(ours(n))
    return raws, ourss


def run(repeat: int, scale: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    n = int(100_000 * scale)

    raw, ours = median_pair(spawn_raw, spawn_greenabc, n, repeat)
    rows.append(
        row(
            "spawn+get",
            "us/task",
            statistics.median(raw) / n * 1e6,
            statistics.median(ours) / n * 1e6,
        )
    )

    raw, ours = median_pair(timers_raw, timers_greenabc, n, repeat)
    timer_row = row(
        "timers",
        "us/timer (CPU)",
        statistics.median(r[0] for r in raw) / n * 1e6,
        statistics.median(o[0] for o in ours) / n * 1e6,
    )
    timer_row["raw_latest_late_ms"] = max(r[1] for r in raw) * 1e3
    timer_row["greenabc_latest_late_ms"] = max(o[1] for o in ours) * 1e3
    timer_row["ok"] = timer_row["ok"] and timer_row["greenabc_latest_late_ms"] < LATE_LIMIT * 1e3
    rows.append(timer_row)

    raw, ours = median_pair(scope_raw, scope_greenabc, n, repeat)
    top = [scope_top_level(n) for _ in range(repeat)]
    scope_row = row(
        "timeout scope",
        "us/scope",
        statistics.median(raw) / n * 1e6,
        statistics.median(ours) / n * 1e6,
    )
    scope_row["greenabc_timeout_top_level_us"] = statistics.median(top) / n * 1e6
    rows.append(scope_row)

    tasks = int(10_000 * scale)
    raw_rss = [rss("raw", tasks) for _ in range(repeat)]
    our_rss = [rss("greenabc", tasks) for _ in range(repeat)]
    rss_row = row(
        "peak RSS",
        "MiB",
        min(r["peak_kib"] for r in raw_rss) / 1024,
        min(o["peak_kib"] for o in our_rss) / 1024,
    )
    rss_row["raw_growth_mib"] = min(r["peak_kib"] - r["baseline_kib"] for r in raw_rss) / 1024
    rss_row["greenabc_growth_mib"] = min(o["peak_kib"] - o["baseline_kib"] for o in our_rss) / 1024
    rows.append(rss_row)
    return rows


def row(name: str, unit: str, raw: float, ours: float) -> dict[str, Any]:
    ratio = ours / raw
    return {
        "benchmark": name,
        "unit": unit,
        "raw": raw,
        "greenabc": ours,
        "ratio": ratio,
        "target": TARGETS[name],
        "ok": ratio <= TARGETS[name],
    }


def print_table(rows: list[dict[str, Any]], repeat: int, scale: float) -> None:
    print(
        f"greenabc eventlet vs raw eventlet {eventlet.__version__}, median of {repeat},"
        f" scale {scale:g}"
    )
    print(f"{'benchmark':<15}{'unit':<16}{'raw':>10}{'greenabc':>10}{'ratio':>8}{'target':>9}  ok")
    for r in rows:
        print(
            f"{r['benchmark']:<15}{r['unit']:<16}{r['raw']:>10.2f}{r['greenabc']:>10.2f}"
            f"{r['ratio']:>7.2f}x{r['target']:>8.2f}x  {'yes' if r['ok'] else 'NO'}"
        )
    timers = next(r for r in rows if r["benchmark"] == "timers")
    scope = next(r for r in rows if r["benchmark"] == "timeout scope")
    memory = next(r for r in rows if r["benchmark"] == "peak RSS")
    print(
        f"latest timer late: raw {timers['raw_latest_late_ms']:.1f} ms,"
        f" greenabc {timers['greenabc_latest_late_ms']:.1f} ms (limit {LATE_LIMIT * 1e3:g} ms)"
    )
    print(
        f"greenabc.timeout(10, backend='eventlet') with the registry look-up:"
        f" {scope['greenabc_timeout_top_level_us']:.2f} us/scope"
    )
    print(
        f"RSS growth over the patched baseline: raw {memory['raw_growth_mib']:.1f} MiB,"
        f" greenabc {memory['greenabc_growth_mib']:.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the task counts")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rss-child", choices=["raw", "greenabc"], help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        print(json.dumps(rss_child(args.rss_child, args.tasks)))
        return
    rows = run(args.repeat, args.scale)
    if args.json:
        print(json.dumps(rows))
    else:
        print_table(rows, args.repeat, args.scale)
    sys.exit(0 if all(r["ok"] for r in rows) else 1)


if __name__ == "__main__":
    main()
