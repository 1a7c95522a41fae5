"""Instructions per operation of greenabc's hot paths, by callgrind.

Instruction counts are the same on a loaded machine, where timings swing
±30 %: this is the A/B for changes to the core. Each case runs N operations
in a process of its own under ``valgrind --tool=callgrind``; the same
process doing nothing (case ``none``: import, patch, backend) is subtracted
and the rest divided by N::

    python benchmarks/callgrind.py                       # every case, gevent + threads
    python benchmarks/callgrind.py spawn timer -n 20000  # some cases
    python benchmarks/callgrind.py --core /tmp/oldcore   # another checkout's core

``--core DIR`` runs the same cases on the greenabc found in DIR (and its
``adapters/``), e.g. an old commit's ``git archive REV | tar -x -C DIR``:
the cases use the public API only. Needs ``valgrind`` on PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from typing import Any

#: case -> the backends it runs on
CASES = {
    "spawn": ("gevent", "eventlet"),  # spawn+complete, pool size 1000
    "spawn_timeout": ("gevent", "eventlet"),  # the same with timeout=10
    "scope": ("gevent",),  # with backend.timeout(10): pass
    "timer": ("gevent",),  # call_after(0-99 ms) and fire
    "timer_at": ("gevent",),  # call_at(start + 0-99 ms) and fire: 100 deadlines, whatever the speed
    "timer_cancel": ("gevent",),  # call_after(10 s), then cancel
    "timer_rand": ("gevent",),  # random deadlines in 0-50 ms, fired: issue 19's timer case
    "loop_timer_rand": ("gevent",),  # the same on gevent's loop.timer, for the ratio
    "queue": ("threads",),  # Queue put_nowait + get_nowait
    "stdlib_queue": ("threads",),  # the same on queue.Queue, for the ratio
    # greenabc.aio, one crossing awaited at a time (the baseline: the same
    # process with -n 0, the loop started and one crossing made)
    "aio_run": ("threads", "gevent", "eventlet"),  # aio.run(nop) from the main thread
    "aio_run_sync": ("threads", "gevent", "eventlet"),  # await aio.run_sync(noop)
    "peer_run_in_executor": ("threads",),  # await loop.run_in_executor(None, noop)
    "peer_threadsafe": ("threads",),  # run_coroutine_threadsafe(nop(), loop).result()
    "peer_hub_run_sync": ("eventlet",),  # eventlet's asyncio hub: await eventlet.spawn(noop)
    "peer_hub_run": ("eventlet",),  # eventlet's asyncio hub: spawn_for_awaitable(nop()).wait()
}

#: The cases measured against themselves with -n 0 (no "none" baseline: their
#: set-up, a loop and its thread, is not the "none" process's).
SELF_BASELINE = {case for case in CASES if case.startswith(("aio_", "peer_"))}


def _noop() -> int:
    return 1


async def _nop() -> None:
    return None


def run_aio_case(backend_name: str, case: str, n: int) -> None:
    """The greenabc.aio cases and their peers: one crossing before *n*."""
    import asyncio

    if case.startswith("peer_hub"):
        os.environ["EVENTLET_HUB"] = "asyncio"  # chosen for the whole process
        import eventlet
        from eventlet.asyncio import spawn_for_awaitable

        async def awaits_green() -> None:
            for _ in range(n + 1):
                await eventlet.spawn(_noop)

        if case == "peer_hub_run_sync":
            spawn_for_awaitable(awaits_green()).wait()
        else:
            for _ in range(n + 1):
                spawn_for_awaitable(_nop()).wait()
        return
    if case == "peer_run_in_executor":

        async def executor() -> None:
            loop = asyncio.get_running_loop()
            for _ in range(n + 1):
                await loop.run_in_executor(None, _noop)

        asyncio.run(executor())
        return
    if case == "peer_threadsafe":
        import threading

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever)
        thread.start()
        for _ in range(n + 1):
            asyncio.run_coroutine_threadsafe(_nop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        return
    import greenabc
    from greenabc import aio

    if backend_name != "threads":
        greenabc.patch(backend_name)
    if case == "aio_run":
        for _ in range(n + 1):
            aio.run(_nop, backend=backend_name)
        return

    async def awaits_green() -> None:
        for _ in range(n + 1):
            await aio.run_sync(_noop, backend=backend_name)

    aio.run(awaits_green, backend=backend_name)


def run_case(backend_name: str, case: str, n: int) -> None:
    """The measured process: *n* operations of *case*."""
    if case in SELF_BASELINE:
        run_aio_case(backend_name, case, n)
        return
    import greenabc

    if backend_name != "threads":
        greenabc.patch(backend_name)
    backend = greenabc.get_backend(backend_name)
    if case == "none":
        return
    if case in ("spawn", "spawn_timeout"):
        pool = backend.create_pool(1000)
        kw = {"timeout": 10.0} if case == "spawn_timeout" else {}
        pool.apply_async(_noop, **kw).get()
        for _ in range(n):
            pool.apply_async(_noop, **kw)
        pool.join()
    elif case == "scope":
        for _ in range(n):
            with backend.timeout(10):
                pass
    elif case == "timer":
        timer = backend.create_timer()
        fired: list[int] = []
        for i in range(n):
            timer.call_after((i % 100) / 1000, fired.append, 1)
        while len(fired) < n:
            backend.sleep(0.01)
    elif case == "timer_at":
        timer = backend.create_timer()
        fired = []
        start = time.monotonic()
        for i in range(n):
            timer.call_at(start + (i % 100) / 1000, fired.append, 1)
        while len(fired) < n:
            backend.sleep(0.01)
    elif case in ("timer_rand", "loop_timer_rand"):
        import random

        rng = random.Random(1234)  # the same delays every run
        delays = [rng.random() * 0.05 for _ in range(n)]
        fired = []
        # Deadlines from one start, so the entries share 50 buckets however
        # slowly valgrind schedules them (call_after's would spread out).
        clock = time.monotonic
        if case == "timer_rand":
            call_at = backend.create_timer().call_at

            def schedule(when: float, fn: Any, arg: int) -> None:
                call_at(when, fn, arg)
        else:
            import gevent

            loop = gevent.get_hub().loop

            def schedule(when: float, fn: Any, arg: int) -> None:
                loop.timer(max(0.0, when - clock())).start(fn, arg)

        start = clock()
        for delay in delays:
            schedule(start + delay, fired.append, 1)
        while len(fired) < n:
            backend.sleep(0.002)
    elif case == "timer_cancel":
        timer = backend.create_timer()
        entries = [timer.call_after(10 + (i % 1000) / 1000, _noop) for i in range(n)]
        for entry in entries:
            entry.cancel()
    elif case in ("queue", "stdlib_queue"):
        import queue

        q = backend.Queue() if case == "queue" else queue.Queue()
        for i in range(n):
            q.put_nowait(i)
            q.get_nowait()
    else:
        raise SystemExit(f"unknown case {case!r}")


def _instructions(backend_name: str, case: str, n: int, env: dict[str, str]) -> int:
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--run",
            backend_name,
            case,
            "-n",
            str(n),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(out.stderr)
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"of {', '.join(CASES)} (default: all)")
    parser.add_argument("-n", type=int, default=20000, help="operations per case")
    parser.add_argument("--core", help="a checkout whose greenabc (and adapters) to measure")
    parser.add_argument("--run", nargs=2, metavar=("BACKEND", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_case(*args.run, args.n)
        return
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict layouts every run
    if args.core:
        core = os.path.abspath(args.core)
        env["PYTHONPATH"] = os.pathsep.join(
            [core, f"{core}/adapters/gevent", f"{core}/adapters/eventlet"]
        )
    baselines: dict[str, int] = {}
    for case in args.cases or list(CASES):
        for backend_name in CASES[case]:
            if case in SELF_BASELINE:
                base = _instructions(backend_name, case, 0, env)
            else:
                if backend_name not in baselines:
                    baselines[backend_name] = _instructions(backend_name, "none", args.n, env)
                base = baselines[backend_name]
            total = _instructions(backend_name, case, args.n, env)
            per_op = (total - base) / args.n
            print(f"{backend_name:8} {case:14} {per_op / 1000:6.1f}k instructions/op", flush=True)


if __name__ == "__main__":
    main()
