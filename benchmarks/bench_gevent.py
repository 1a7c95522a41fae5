"""greenabc's gevent backend against raw gevent, as ratios measured in one run.

    python benchmarks/bench_gevent.py [--repeat 5] [--json]

(a) spawn+get of 100k trivial tasks, pool size 1000, against
    ``gevent.pool.Pool`` spawn+join (target <= 1.10x);
(b) call_after+fire of 100k timers against raw ``loop.timer`` (CPU time of
    scheduling and firing; target <= 1.3x), and how late the latest fires
    (target < 100 ms): deadlines are spread over 1 s, starting after the last
    one is scheduled, so lateness measures the hub keeping up, not the loop
    that schedules;
(c) timeout scope enter+exit against ``with gevent.Timeout(10)`` (target
    <= 1.2x), for the backend's scope and for the ``greenabc.timeout`` function;
(d) peak RSS of 10k tasks sleeping 0.1 s at once against raw gevent (target
    <= 1.1x), each side in a fresh process set up alike.

Each figure is the median of --repeat runs, the two sides interleaved so
drift on a noisy machine hits both alike.
"""

from __future__ import annotations

import greenabc

greenabc.patch("gevent")  # first, as an application would

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.pool  # noqa: E402

TASKS = 100_000
POOL_SIZE = 1000
TIMERS = 100_000
TIMER_LEAD = 0.5  # s before the first deadline: more than scheduling them all takes
TIMER_SPREAD = 1.0  # s over which the deadlines are spread
SCOPES = 100_000
SLEEPERS = 10_000

backend = greenabc.get_backend("gevent")


def noop() -> None:
    return None


# -- (a) spawn+get ----------------------------------------------------------


def pool_raw() -> float:
    pool = gevent.pool.Pool(POOL_SIZE)
    started = time.perf_counter()
    for _ in range(TASKS):
        pool.spawn(noop)
    pool.join()
    return time.perf_counter() - started


def pool_greenabc() -> float:
    pool = backend.create_pool(POOL_SIZE)
    started = time.perf_counter()
    tasks = [pool.spawn(noop) for _ in range(TASKS)]
    for task in tasks:
        task.get()
    elapsed = time.perf_counter() - started
    pool.close()
    return elapsed


# -- (b) timers ---------------------------------------------------------------


class Firings:
    """The callback both sides run: counts, and keeps the worst lateness."""

    def __init__(self) -> None:
        self.left = TIMERS
        self.latest = 0.0
        self.done = gevent.event.Event()

    def fire(self, deadline: float) -> None:
        late = time.monotonic() - deadline
        if late > self.latest:
            self.latest = late
        self.left -= 1
        if not self.left:
            self.done.set()


def timers_raw() -> tuple[float, float]:
    gc.collect()  # start each side with no garbage left by the one before
    firings, loop, monotonic = Firings(), gevent.get_hub().loop, time.monotonic
    fire = firings.fire
    cpu = time.process_time()
    for n in range(TIMERS):
        delay = TIMER_LEAD + TIMER_SPREAD * n / TIMERS
        timer = loop.timer(delay)
        timer.start(fire, monotonic() + delay, update=True)
    assert firings.done.wait(TIMER_LEAD + TIMER_SPREAD + 10)
    return time.process_time() - cpu, firings.latest


def timers_greenabc() -> tuple[float, float]:
    gc.collect()  # start each side with no garbage left by the one before
    firings, timer, monotonic = Firings(), backend.create_timer(), time.monotonic
    fire, call_after = firings.fire, timer.call_after
    cpu = time.process_time()
    for n in range(TIMERS):
        delay = TIMER_LEAD + TIMER_SPREAD * n / TIMERS
        call_after(delay, fire, monotonic() + delay)
    assert firings.done.wait(TIMER_LEAD + TIMER_SPREAD + 10)
    return time.process_time() - cpu, firings.latest


# -- (c) timeout scopes -------------------------------------------------------


def scope_raw() -> float:
    timeout = gevent.Timeout
    started = time.perf_counter()
    for _ in range(SCOPES):
        with timeout(10):
            pass
    return time.perf_counter() - started


def scope_backend() -> float:
    timeout = backend.timeout
    started = time.perf_counter()
    for _ in range(SCOPES):
        with timeout(10):
            pass
    return time.perf_counter() - started


def scope_function() -> float:
    timeout = greenabc.timeout
    started = time.perf_counter()
    for _ in range(SCOPES):
        with timeout(10):
            pass
    return time.perf_counter() - started


# -- (d) memory ---------------------------------------------------------------


def nap() -> None:
    gevent.sleep(0.1)


def sleepers(side: str) -> int:
    """Peak RSS (KiB) of a process that runs SLEEPERS naps at once (this runs
    in the fresh process, after the same imports and patching on both sides)."""
    if side == "raw":
        raw = gevent.pool.Pool(SLEEPERS)
        for _ in range(SLEEPERS):
            raw.spawn(nap)
        raw.join()
    else:
        pool = backend.create_pool(SLEEPERS)
        tasks = [pool.spawn(nap) for _ in range(SLEEPERS)]
        for task in tasks:
            task.get()
        pool.close()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def sleepers_in_a_fresh_process(side: str) -> int:
    out = subprocess.run(
        [sys.executable, __file__, "--sleepers", side],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(out.stdout)


# -- the run --------------------------------------------------------------------


def interleaved(repeat: int, *sides: Callable[[], Any]) -> list[list[Any]]:
    results: list[list[Any]] = [[] for _ in sides]
    for _ in range(repeat):
        for i, side in enumerate(sides):
            results[i].append(side())
    return results


def measure(repeat: int) -> dict[str, Any]:
    median = statistics.median
    raw, ours = interleaved(repeat, pool_raw, pool_greenabc)
    spawn = {"raw_us": median(raw) / TASKS * 1e6, "greenabc_us": median(ours) / TASKS * 1e6}
    raw_t, ours_t = interleaved(max(3, repeat // 2), timers_raw, timers_greenabc)
    timers = {
        "raw_us": median(cpu for cpu, _ in raw_t) / TIMERS * 1e6,
        "greenabc_us": median(cpu for cpu, _ in ours_t) / TIMERS * 1e6,
        "raw_latest_late_ms": max(late for _, late in raw_t) * 1e3,
        "greenabc_latest_late_ms": max(late for _, late in ours_t) * 1e3,
    }
    raw_s, backend_s, function_s = interleaved(repeat, scope_raw, scope_backend, scope_function)
    scopes = {
        "raw_us": median(raw_s) / SCOPES * 1e6,
        "greenabc_us": median(backend_s) / SCOPES * 1e6,
        "greenabc_function_us": median(function_s) / SCOPES * 1e6,
    }
    raw_m, ours_m = interleaved(
        repeat, *(lambda s=s: sleepers_in_a_fresh_process(s) for s in ("raw", "greenabc"))
    )
    memory = {"raw_kib": median(raw_m), "greenabc_kib": median(ours_m)}
    for result, key in ((spawn, "us"), (timers, "us"), (scopes, "us"), (memory, "kib")):
        result["ratio"] = result[f"greenabc_{key}"] / result[f"raw_{key}"]
    scopes["function_ratio"] = scopes["greenabc_function_us"] / scopes["raw_us"]
    return {
        "repeat": repeat,
        "spawn_get": spawn,
        "timers": timers,
        "timeout_scope": scopes,
        "rss": memory,
    }


def show(r: dict[str, Any]) -> None:
    s, t, c, m = r["spawn_get"], r["timers"], r["timeout_scope"], r["rss"]
    us, ms, mib = "{:.2f} us".format, "{:.1f} ms".format, "{:.1f} MiB".format
    rows = [
        ("(a) spawn+get, size 1000", us(s["raw_us"]), us(s["greenabc_us"]), s["ratio"], "<= 1.10x"),
        ("(b) call_after+fire (CPU)", us(t["raw_us"]), us(t["greenabc_us"]), t["ratio"], "<= 1.3x"),
        (
            "    latest timer late by",
            ms(t["raw_latest_late_ms"]),
            ms(t["greenabc_latest_late_ms"]),
            None,
            "< 100 ms",
        ),
        ("(c) timeout scope", us(c["raw_us"]), us(c["greenabc_us"]), c["ratio"], "<= 1.2x"),
        ("    via greenabc.timeout()", "", us(c["greenabc_function_us"]), c["function_ratio"], ""),
        (
            "(d) peak RSS, 10k sleeping",
            mib(m["raw_kib"] / 1024),
            mib(m["greenabc_kib"] / 1024),
            m["ratio"],
            "<= 1.1x",
        ),
    ]
    print(f"greenabc gevent backend vs raw gevent {gevent.__version__} (median of {r['repeat']})")
    print(f"{'':28} {'raw gevent':>12} {'greenabc':>12} {'ratio':>7}  target")
    for name, raw, ours, ratio, target in rows:
        shown = "" if ratio is None else f"{ratio:.2f}x"
        print(f"{name:28} {raw:>12} {ours:>12} {shown:>7}  {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sleepers", choices=["raw", "greenabc"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sleepers:
        print(sleepers(args.sleepers))
        return
    result = measure(args.repeat)
    if args.json:
        print(json.dumps(result))
    else:
        show(result)


if __name__ == "__main__":
    main()
