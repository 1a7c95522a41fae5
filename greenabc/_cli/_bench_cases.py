"""What ``greenabc bench`` measures: greenabc's pool, Timer and timeout
scopes against the raw engine's, one backend per process, patched first, in
the rounds of ``_bench_rounds``.

``python -m greenabc._cli._bench_cases --backend NAME [--quick] [--tasks N]
[--rounds N] [--extend MODULE:FUNCTION]`` runs in a process of its own and
prints one JSON object a line: progress, then the result. ``greenabc bench``
drives it. ``--extend`` hands a :class:`Suite` to FUNCTION before the rounds:
that is how the repository's ``benchmarks/run.py`` adds its peers (Celery,
kombu, futurist, ...) to the same rounds without importing this module.
Nothing here imports an engine at import time: the engine is imported by the
cases, after patching.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._bench_rounds import Case, Metrics, Side, emit_line, run_rounds, versions

POOL_SIZE = 1000
TASK_TIMEOUT = 10.0  # a per-task limit that never expires: its bookkeeping is the cost
TIMER_WINDOW = 0.5  # timers fall due at random within this many seconds


@dataclass(frozen=True)
class Sizes:
    tasks: int
    timers: int
    scopes: int
    window: float = TIMER_WINDOW


FULL = Sizes(tasks=100_000, timers=100_000, scopes=100_000)
# The sizes of docs/benchmarks.md's run (benchmarks/run.py --quick), so that a
# quick run reads against those figures: at 5k tasks the 1000 workers a pool
# starts cost 0.2 of a greenlet per task, which the raw pools, starting one per
# task anyway, do not pay (a user's quick run disagreed with the docs so).
CLI_QUICK = Sizes(tasks=10_000, timers=10_000, scopes=20_000)
ROUNDS = 5  # quick too, as benchmarks/run.py: 3 rounds' median moved with one slow round
MIN_SCOPES = 20_000  # fewer scope entries are too short to time


def sizes_for(quick: bool, tasks: int | None) -> Sizes:
    """--quick's sizes or the full ones, with --tasks (tasks and timers) if given."""
    base = CLI_QUICK if quick else FULL
    if tasks is None:
        return base
    return Sizes(tasks, tasks, max(tasks, MIN_SCOPES), base.window)


def noop() -> None:
    return None


def default_size(backend_name: str) -> int:
    """The pool size the cases use: ThreadPoolExecutor's default worker count
    on threads (both sides' default), POOL_SIZE on the green engines."""
    if backend_name == "threads":
        return min(32, (os.cpu_count() or 1) + 4)
    return POOL_SIZE


# -- spawn+complete ------------------------------------------------------------


def _greenabc_spawn(backend: Any, n: int, timeout: float | None, size: int) -> Side:
    def run() -> Metrics:
        pool = backend.create_pool(size)
        try:
            started = time.perf_counter()
            if timeout is None:
                tasks = [pool.spawn(noop) for _ in range(n)]
            else:
                tasks = [pool.apply_async(noop, timeout=timeout) for _ in range(n)]
            for task in tasks:
                task.get()
            return {"us": (time.perf_counter() - started) / n * 1e6}
        finally:
            pool.close()

    return run


def _greenabc_apply(backend: Any, n: int, timeout: float | None, size: int) -> Side:
    def run() -> Metrics:
        pool = backend.create_pool(size)
        done: list[None] = []  # append is atomic: callbacks may run in threads

        def callback(_: object) -> None:
            done.append(None)

        try:
            started = time.perf_counter()
            apply = pool.apply_async
            for _ in range(n):
                apply(noop, callback=callback, timeout=timeout)
            pool.join()
            elapsed = time.perf_counter() - started
        finally:
            pool.close()
        assert len(done) == n, (len(done), n)
        return {"us": elapsed / n * 1e6}

    return run


def _timed(n: int, work: Callable[[], object]) -> Metrics:
    started = time.perf_counter()
    work()
    return {"us": (time.perf_counter() - started) / n * 1e6}


def _within(timeout_cls: Any, seconds: float) -> Callable[[], None]:
    """What a raw-engine user writes for a per-task limit: the engine's
    Timeout around the call (as Celery's gevent pool does)."""

    def limited() -> None:
        with timeout_cls(seconds):
            noop()

    return limited


def _gevent_spawn_sides(n: int, timeout: float | None, apply: bool, size: int) -> dict[str, Side]:
    import gevent
    import gevent.pool

    fn = noop if timeout is None else _within(gevent.Timeout, timeout)

    def spawn_join() -> Metrics:
        pool = gevent.pool.Pool(size)

        def work() -> None:
            for _ in range(n):
                pool.spawn(fn)
            pool.join()

        return _timed(n, work)

    def apply_async() -> Metrics:
        pool = gevent.pool.Pool(size)
        done: list[None] = []  # append is atomic: callbacks may run in threads

        def callback(_: object) -> None:
            done.append(None)

        def work() -> None:
            for _ in range(n):
                pool.apply_async(fn, callback=callback)
            pool.join()

        result = _timed(n, work)
        gevent.sleep(0)  # callbacks are linked: let the last run
        return result

    if apply:
        return {"gevent Pool.apply_async": apply_async}
    return {"gevent Pool.spawn": spawn_join}


def _eventlet_spawn_sides(n: int, timeout: float | None, apply: bool, size: int) -> dict[str, Side]:
    import eventlet

    fn = noop if timeout is None else _within(eventlet.Timeout, timeout)

    def spawn(method: str) -> Side:
        def run() -> Metrics:
            pool = eventlet.GreenPool(size)
            start = getattr(pool, method)

            def work() -> None:
                for _ in range(n):
                    start(fn)
                pool.waitall()

            return _timed(n, work)

        return run

    def spawn_n_callback() -> Metrics:
        pool = eventlet.GreenPool(size)
        done: list[None] = []  # append is atomic: callbacks may run in threads

        def call(cb: Callable[[object], None]) -> None:
            cb(fn())

        def callback(_: object) -> None:
            done.append(None)

        def work() -> None:
            for _ in range(n):
                pool.spawn_n(call, callback)
            pool.waitall()

        return _timed(n, work)

    if apply:
        return {"eventlet GreenPool.spawn_n+callback": spawn_n_callback}
    return {
        "eventlet GreenPool.spawn": spawn("spawn"),
        "eventlet GreenPool.spawn_n": spawn("spawn_n"),
    }


def _threads_spawn_sides(n: int, timeout: float | None, apply: bool, size: int) -> dict[str, Side]:
    from concurrent.futures import ThreadPoolExecutor

    def submit() -> Metrics:
        with ThreadPoolExecutor(max_workers=size) as executor:

            def work() -> None:
                futures = [executor.submit(noop) for _ in range(n)]
                for future in futures:
                    future.result()

            return _timed(n, work)

    def submit_callback() -> Metrics:
        done: list[None] = []  # append is atomic: callbacks may run in threads

        def callback(_: object) -> None:
            done.append(None)

        executor = ThreadPoolExecutor(max_workers=size)
        started = time.perf_counter()
        for _ in range(n):
            executor.submit(noop).add_done_callback(callback)
        executor.shutdown(wait=True)
        return {"us": (time.perf_counter() - started) / n * 1e6}

    name = "ThreadPoolExecutor" + (" (no per-task limit)" if timeout is not None else "")
    if apply:
        return {f"{name} submit+add_done_callback": submit_callback}
    return {f"{name} submit+result": submit}


SPAWN_MODES = {
    # name: (title, apply_async with a callback?, per-task timeout)
    "spawn": ("spawn+complete", False, None),
    "spawn_timeout": ("spawn+complete, per-task timeout", False, TASK_TIMEOUT),
    "apply": ("apply_async+callback", True, None),
    "apply_timeout": ("apply_async+callback, per-task timeout", True, TASK_TIMEOUT),
}


def spawn_case(backend: Any, n: int, mode: str, size: int, name: str = "") -> Case:
    """*n* tasks by *mode* (a SPAWN_MODES key) on greenabc's pool and the raw
    engine's, both at *size* (workers, on threads)."""
    raw_sides = {
        "gevent": _gevent_spawn_sides,
        "eventlet": _eventlet_spawn_sides,
        "threads": _threads_spawn_sides,
    }[backend.name]
    title, apply, timeout = SPAWN_MODES[mode]
    ours = (_greenabc_apply if apply else _greenabc_spawn)(backend, n, timeout, size)
    label = "greenabc " + ("apply_async" if apply else "spawn")
    sides = {label: ours, **raw_sides(n, timeout, apply, size)}
    full = f"{title} ({n:,} tasks, size {size})"
    short = f"{title.replace(', per-task timeout', ' +timeout')} x{n:,}"
    if size != default_size(backend.name):
        short += f" size {size}"
    return Case(name or mode, full, "us", label, sides, label=short)


# -- timers ----------------------------------------------------------------------


def timer_side(
    schedule: Callable[[float, Callable[[int], None], int], object],
    sizes: Sizes,
    sleep: Callable[[float], None],
    *,
    before: Callable[[], object] = noop,
    after: Callable[[], object] = noop,
) -> Side:
    """Schedule ``sizes.timers`` callbacks due at random within the window
    (the same delays for every side: one seed), each deadline read BEFORE its
    call is scheduled; then wait for all to fire, polling."""

    def run() -> Metrics:
        n, window = sizes.timers, sizes.window
        rng = random.Random(1234)  # noqa: S311 (the same delays for every side)
        delays = [rng.random() * window for _ in range(n)]
        deadlines = [0.0] * n
        fired = [0.0] * n
        count = [0]
        clock = time.monotonic

        def fire(i: int) -> None:
            fired[i] = clock()
            count[0] += 1

        before()
        cpu = time.process_time()
        started = time.perf_counter()
        for i, delay in enumerate(delays):
            deadlines[i] = clock() + delay
            schedule(delay, fire, i)
        scheduled = time.perf_counter() - started
        bound = clock() + window + 60
        while count[0] < n and clock() < bound:
            sleep(0.002)
        cpu = time.process_time() - cpu
        after()
        lates = [f - d for f, d in zip(fired, deadlines, strict=True) if f]
        last = max(range(n), key=deadlines.__getitem__)
        return {
            "schedule_us": scheduled / n * 1e6,
            "cpu_us": cpu / n * 1e6,
            "late_last_ms": (fired[last] - deadlines[last]) * 1e3 if fired[last] else float("inf"),
            "late_worst_ms": max(lates) * 1e3 if lates else float("inf"),
            "early": float(sum(1 for late in lates if late < 0)),
            "missed": float(n - len(lates)),
        }

    return run


TIMER_RATIOS = ("cpu_us", "schedule_us", "late_last_ms", "late_worst_ms")


def timer_case(backend: Any, sizes: Sizes) -> Case:
    greenabc_timer: list[Any] = []

    def schedule(delay: float, fn: Callable[[int], None], i: int) -> object:
        return greenabc_timer[0].call_after(delay, fn, i)

    def create() -> None:
        greenabc_timer[:] = [backend.create_timer()]

    def stop() -> None:
        greenabc_timer.pop().stop()

    sleep = backend.sleep
    sides = {
        "greenabc Timer.call_after": timer_side(schedule, sizes, sleep, before=create, after=stop)
    }
    if backend.name == "gevent":
        import gevent

        loop = gevent.get_hub().loop

        def loop_timer(delay: float, fn: Callable[[int], None], i: int) -> object:
            timer = loop.timer(delay)
            timer.start(fn, i)
            return timer

        clock = time.monotonic

        def fire_when_due(deadline: float, fn: Callable[[int], None], i: int) -> None:
            left = deadline - clock()
            if left > 0:  # libev's cached clock fired it early: wait the rest
                loop.timer(left).start(fire_when_due, deadline, fn, i)
            else:
                fn(i)

        def loop_timer_never_early(delay: float, fn: Callable[[int], None], i: int) -> object:
            timer = loop.timer(delay)
            timer.start(fire_when_due, clock() + delay, fn, i)
            return timer

        sides["gevent loop.timer"] = timer_side(loop_timer, sizes, sleep)
        sides["gevent loop.timer, re-armed when early"] = timer_side(
            loop_timer_never_early, sizes, sleep
        )
        sides["gevent.spawn_later"] = timer_side(gevent.spawn_later, sizes, sleep)
    elif backend.name == "eventlet":
        import eventlet
        from eventlet.hubs import get_hub

        sides["eventlet hub.schedule_call_global"] = timer_side(
            get_hub().schedule_call_global, sizes, sleep
        )
        sides["eventlet.spawn_after"] = timer_side(eventlet.spawn_after, sizes, sleep)
    title = (
        f"timers: {sizes.timers:,} due at random within {sizes.window:g} s"
        " (CPU per timer, schedule cost, lateness)"
    )
    short = f"{sizes.timers:,} timers in {sizes.window:g} s"
    return Case("timers", title, "us", "greenabc Timer.call_after", sides, TIMER_RATIOS, short)


# -- timeout scopes -------------------------------------------------------------


def scope_cases(backend: Any, sizes: Sizes) -> list[Case]:
    if backend.name == "threads":
        return []  # no engine Timeout to contend
    engine = __import__(backend.name)
    n = sizes.scopes

    def scope(make: Callable[[float], Any]) -> Side:
        def run() -> Metrics:
            started = time.perf_counter()
            for _ in range(n):
                with make(10.0):
                    pass
            return {"us": (time.perf_counter() - started) / n * 1e6}

        return run

    import greenabc

    raw = {f"{backend.name}.Timeout(10)": scope(engine.Timeout)}
    named = f"greenabc.timeout(10, backend={backend.name!r})"
    return [
        Case(
            "scope",
            f"timeout scope enter+exit ({n:,})",
            "us",
            "greenabc backend.timeout(10)",
            {"greenabc backend.timeout(10)": scope(backend.timeout), **raw},
            label="timeout scope",
        ),
        Case(
            "scope_function",
            f"timeout scope enter+exit, module-level function ({n:,})",
            "us",
            "greenabc.timeout(10)",
            {"greenabc.timeout(10)": scope(greenabc.timeout), **raw},
            label="greenabc.timeout()",
        ),
        Case(
            "scope_named",
            f"timeout scope enter+exit, module-level function, backend named ({n:,})",
            "us",
            named,
            {named: scope(functools.partial(greenabc.timeout, backend=backend.name)), **raw},
            label="greenabc.timeout(backend=)",
        ),
    ]


def engine_cases(
    backend: Any, sizes: Sizes, modes: Sequence[str] = tuple(SPAWN_MODES)
) -> list[Case]:
    """The cases ``greenabc bench`` runs on one (patched) backend."""
    size = default_size(backend.name)
    return [
        *(spawn_case(backend, sizes.tasks, mode, size) for mode in modes),
        timer_case(backend, sizes),
        *scope_cases(backend, sizes),
    ]


@dataclass
class Suite:
    """What ``--extend MODULE:FUNCTION`` hands FUNCTION, after patching and
    before the rounds: the backend, the sizes, the cases so far (add sides to
    them, or cases of your own) and the means to build sides measured exactly
    as greenabc's are. Every case added runs in the same rounds, by the same
    method."""

    backend: Any
    sizes: Sizes
    cases: list[Case]
    versions: dict[str, str]

    @property
    def size(self) -> int:
        return default_size(self.backend.name)

    def case(self, name: str) -> Case | None:
        return next((case for case in self.cases if case.name == name), None)

    def add(
        self,
        name: str,
        title: str,
        ours: str,
        sides: dict[str, Side],
        *,
        unit: str = "us",
        ratio_metrics: tuple[str, ...] = ("us",),
        label: str = "",
        notes: dict[str, str] | None = None,
    ) -> Case:
        """A case of the extension's own; *ours* names greenabc's side (with
        no ratio metrics, every side is reported on its own)."""
        case = Case(name, title, unit, ours, sides, ratio_metrics, label, notes or {})
        self.cases.append(case)
        return case

    def add_spawn(self, mode: str, size: int, name: str) -> Case:
        """The spawn case *mode* (a SPAWN_MODES key) at another pool size."""
        case = spawn_case(self.backend, self.sizes.tasks, mode, size, name)
        self.cases.append(case)
        return case

    def timer_side(
        self,
        schedule: Callable[[float, Callable[[int], None], int], object],
        *,
        before: Callable[[], object] = noop,
        after: Callable[[], object] = noop,
    ) -> Side:
        """A contender for the ``timers`` case, timed as greenabc's Timer is."""
        return timer_side(schedule, self.sizes, self.backend.sleep, before=before, after=after)

    def note_versions(self, *dists: str) -> None:
        """Report these distributions' versions with the results."""
        self.versions.update(versions(dists))


def _load(spec: str) -> Callable[[Suite], object]:
    module, function = spec.split(":")  # checked by greenabc bench
    hook: Callable[[Suite], object] = getattr(importlib.import_module(module), function)
    return hook


def main(argv: Sequence[str] | None = None) -> int:
    """One backend in this process: patch, measure, print JSON lines."""
    parser = argparse.ArgumentParser(prog="python -m greenabc._cli._bench_cases")
    parser.add_argument("--backend", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--extend", action="append", default=[], metavar="MODULE:FUNCTION")
    args = parser.parse_args(argv)
    import greenabc

    if args.backend != "threads":
        greenabc.patch(args.backend)
    backend = greenabc.get_backend(args.backend)
    sizes = sizes_for(args.quick, args.tasks)
    modes = ("spawn", "spawn_timeout") if args.quick else tuple(SPAWN_MODES)
    rounds = args.rounds or ROUNDS
    suite = Suite(backend, sizes, engine_cases(backend, sizes, modes), versions())
    for spec in args.extend:
        _load(spec)(suite)
    result = run_rounds(suite.cases, rounds, emit_line)
    emit_line({"event": "result", "backend": backend.name, "versions": suite.versions, **result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
