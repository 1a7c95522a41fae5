"""spawn+get of many trivial tasks: greenabc's threads backend against
``concurrent.futures.ThreadPoolExecutor`` at the same worker count, as a ratio
measured in one run (target: <= 1.2x).

    python benchmarks/bench_threads.py [--tasks 100000] [--workers N] [--repeat 5] [--json]

--workers defaults to both sides' own default, min(32, cpu_count + 4). At very
few workers greenabc pays for its bound: ``spawn`` blocks while ``size`` tasks
are accepted, so each task wakes the spawning thread, where the executor
queues all 100k futures without bound.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import greenabc


def noop() -> None:
    return None


def raw_executor(tasks: int, workers: int) -> float:
    with ThreadPoolExecutor(max_workers=workers) as executor:
        started = time.perf_counter()
        futures = [executor.submit(noop) for _ in range(tasks)]
        for future in futures:
            future.result()
        return time.perf_counter() - started


def greenabc_threads(tasks: int, workers: int) -> float:
    pool = greenabc.get_pool("threads", size=workers)
    started = time.perf_counter()
    handles = [pool.spawn(noop) for _ in range(tasks)]
    for handle in handles:
        handle.get()
    elapsed = time.perf_counter() - started
    pool.close()
    return elapsed


def best(fn: Callable[[int, int], float], tasks: int, workers: int, repeat: int) -> list[float]:
    return [fn(tasks, workers) for _ in range(repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=min(32, (os.cpu_count() or 1) + 4))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    raw: list[float] = []
    ours: list[float] = []
    for _ in range(args.repeat):  # interleaved, so drift hits both alike
        raw.append(raw_executor(args.tasks, args.workers))
        ours.append(greenabc_threads(args.tasks, args.workers))
    result = {
        "tasks": args.tasks,
        "workers": args.workers,
        "raw_us_per_task": statistics.median(raw) / args.tasks * 1e6,
        "greenabc_us_per_task": statistics.median(ours) / args.tasks * 1e6,
    }
    result["ratio"] = result["greenabc_us_per_task"] / result["raw_us_per_task"]
    if args.json:
        print(json.dumps(result))
    else:
        print(f"spawn+get x{args.tasks}, {args.workers} workers (median of {args.repeat})")
        print(f"  ThreadPoolExecutor  {result['raw_us_per_task']:8.2f} us/task")
        print(f"  greenabc threads    {result['greenabc_us_per_task']:8.2f} us/task")
        print(f"  ratio               {result['ratio']:8.2f}x  (target <= 1.2x)")


if __name__ == "__main__":
    main()
