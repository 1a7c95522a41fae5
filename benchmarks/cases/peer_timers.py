"""Timer contenders beyond the raw engine's: Celery's green timers, kombu's
Timer, and Celery's thread timer (timer2) on threads.

kombu's ``Timer`` is a heap with no engine of its own: the worker's event
loop (``kombu.asynchronous.Hub.fire_timers``) drives it by iterating its
scheduler, running each due entry and polling for the delay it returns. The
driver here does exactly that in a green thread (a thread on ``threads``),
without the Hub's two limits that would make 100k timers meaningless: at most
10 entries per loop pass, and a 1 s poll when nothing is due and no I/O wakes
it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import celery_pools
from .common import Side


def _kombu_side(suite: Any) -> Side:
    from kombu.asynchronous.timer import Timer

    state: dict[str, Any] = {}

    def drive(timer: Any, stop: list[bool]) -> None:
        scheduler = iter(timer)
        sleep = suite.backend.sleep
        while not stop[0]:
            delay, entry = next(scheduler)
            if entry is None:
                sleep(min(delay, 0.001) if delay is not None else 0.001)
            else:
                entry()

    def before() -> None:
        state["timer"], state["stop"] = Timer(), [False]
        state["driver"] = suite.backend.spawn(drive, state["timer"], state["stop"])

    def after() -> None:
        state["stop"][0] = True
        state["driver"].get(5)

    def schedule(delay: float, fn: Callable[[int], None], i: int) -> object:
        return state["timer"].call_after(delay, fn, (i,))

    side: Side = suite.timer_side(schedule, before=before, after=after)
    return side


def _timer_class_side(make: Callable[[], Any], suite: Any) -> Side:
    state: dict[str, Any] = {}

    def before() -> None:
        state["timer"] = make()

    def after() -> None:
        state["timer"].stop()

    def schedule(delay: float, fn: Callable[[int], None], i: int) -> object:
        return state["timer"].call_after(delay, fn, (i,))

    side: Side = suite.timer_side(schedule, before=before, after=after)
    return side


def add_to(suite: Any) -> None:
    case = suite.case("timers")
    if not celery_pools.installed():
        case.notes["celery/kombu timers"] = "not installed"
        return
    name = suite.backend.name
    if name == "gevent":
        from celery.concurrency.gevent import Timer as CeleryTimer
    elif name == "eventlet":
        from celery.concurrency.eventlet import Timer as CeleryTimer
    else:
        from celery.utils.timer2 import Timer as CeleryTimer
    label = "celery timer2.Timer (a thread)" if name == "threads" else f"celery {name} Timer"
    case.sides[label] = _timer_class_side(CeleryTimer, suite)
    case.sides["kombu Timer (hub-driven)"] = _kombu_side(suite)
    case.notes["kombu Timer (hub-driven)"] = (
        "driven as Hub.fire_timers drives it (every due entry, then poll for the"
        " returned delay, at most 1 ms when idle), without the Hub's 10-per-pass cap"
    )
