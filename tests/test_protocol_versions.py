"""Protocol versions: a version-1 adapter keeps working where the core can
supply a default, and is refused, clearly, where it cannot."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import greenabc
from greenabc import interfaces
from greenabc.adapter import Capabilities, EngineBackend

from .conftest import RunPython

#: The threads engine as an adapter written against protocol 1 has it: the
#: version-1 primitives and nothing else (delegating to the real one).
V1_ENGINE = """
from greenabc._threads import CAPABILITIES, ThreadEngine
from greenabc.adapter import EngineBackend


class V1Engine:
    protocol_version = 1

    def __init__(self):
        self._engine = ThreadEngine()

    def spawn(self, fn):
        return self._engine.spawn(fn)

    def current(self):
        return self._engine.current()

    def interrupt(self, handle, exc_type, guard):
        self._engine.interrupt(handle, exc_type, guard)

    def clear_interrupt(self, handle):
        pass

    def sleep(self, seconds):
        self._engine.sleep(seconds)

    def event(self):
        return self._engine.event()

    def lock(self):
        return self._engine.lock()

    def semaphore(self, value):
        return self._engine.semaphore(value)

    def queue(self):
        return self._engine.queue()

    def call_later(self, delay, fn, *args):
        return self._engine.call_later(delay, fn, *args)

    def monotonic(self):
        return self._engine.monotonic()


def backend():
    return EngineBackend("threads-v1", V1Engine(), CAPABILITIES, default_pool_size=8)
"""


def _v1_module() -> types.ModuleType:
    module = types.ModuleType("greenabc_v1_engine")
    exec(compile(V1_ENGINE, "<v1 engine>", "exec"), module.__dict__)
    return module


V1 = _v1_module()

GREEN = Capabilities(
    is_green=True,
    signal_safe=False,
    can_interrupt=True,
    can_interrupt_blocking_calls=False,
    can_detect_blocking=False,
    can_patch=False,
)


@pytest.fixture
def green_v1() -> EngineBackend:
    """A version-1 engine that says it is green: the core cannot run a
    blocking call in an OS thread for it, nor wait on an fd, safely."""
    backend = EngineBackend("green-v1", V1.V1Engine(), GREEN, default_pool_size=4)
    greenabc.register_backend("green-v1", lambda: backend, replace=True)
    return backend


def test_versions() -> None:
    assert interfaces.PROTOCOL_VERSION == 2
    assert {1, 2} <= interfaces.SUPPORTED_PROTOCOL_VERSIONS
    assert interfaces.BACKEND_MEMBERS[1] < interfaces.BACKEND_MEMBERS[2]
    assert greenabc.get_backend("threads").protocol_version == 2


def test_a_v1_engine_registered_at_run_time_gets_every_derived_primitive() -> None:
    greenabc.register_backend("threads-v1", V1.backend, replace=True)
    backend = greenabc.get_backend("threads-v1")
    assert isinstance(backend, EngineBackend)
    assert backend.engine_protocol_version == 1
    # All derived by the core from the version-1 primitives.
    ev = backend.Event()
    assert type(ev).__name__ == "CoreEvent"
    assert ev.wait(0.01) is False
    ev.set()
    assert ev.wait() is True
    q = backend.Queue(2)
    q.put(1)
    assert q.get(timeout=1) == 1
    with backend.Lock(), backend.RLock(), backend.Semaphore(2), backend.Condition():
        pass
    # Not green: the core supplies the rest (in place, poll).
    assert backend.to_thread(sum, [1, 2]) == 3
    assert backend.from_thread(len, "abc") == 3
    a, b = socket.socketpair()
    with a, b:
        assert backend.wait_readable(a, timeout=0.01) is False
        b.sendall(b"x")
        assert backend.wait_readable(a, timeout=1) is True
        assert backend.wait_writable(a, timeout=1) is True


def test_a_green_v1_engine_gets_the_derived_primitives(green_v1: EngineBackend) -> None:
    loc = green_v1.local()
    loc.x = 1
    assert type(loc).__name__ == "CoreLocal"
    with green_v1.create_pool(2) as pool:
        assert pool.spawn(lambda: hasattr(loc, "x")).get(timeout=5) is False
    assert loc.x == 1
    cond = green_v1.Condition()
    with cond:
        assert cond.wait(0.01) is False
    bsem = green_v1.BoundedSemaphore(1)
    with pytest.raises(ValueError):
        bsem.release()


@pytest.mark.parametrize(
    ("call", "method"),
    [
        (lambda b: b.to_thread(int), "to_thread"),
        (lambda b: b.from_thread(int), "portal"),
        (lambda b: b.wait_readable(0, timeout=0), "wait_readable"),
        (lambda b: b.wait_writable(0, timeout=0), "wait_writable"),
    ],
)
def test_a_green_v1_engine_is_refused_what_cannot_be_supplied(
    green_v1: EngineBackend, call: Callable[[Any], object], method: str
) -> None:
    with pytest.raises(greenabc.GreenabcError, match=rf"protocol 2's\s+Engine\.{method}") as info:
        call(green_v1)
    assert "green-v1" in str(info.value)


class _HalfV2(V1.V1Engine):  # type: ignore[misc, name-defined]
    protocol_version = 2

    def to_thread(self, fn: Callable[[], object]) -> object:
        return fn()


def test_an_engine_declaring_v2_without_its_methods_is_refused() -> None:
    with pytest.raises(
        greenabc.GreenabcError, match="declares protocol version 2 but lacks"
    ) as info:
        EngineBackend("half", _HalfV2(), GREEN, default_pool_size=1)
    assert "portal" in str(info.value)
    assert "wait_readable" in str(info.value)


def test_an_engine_declaring_an_unknown_version_is_refused() -> None:
    class Future(V1.V1Engine):  # type: ignore[misc, name-defined]
        protocol_version = 99

    with pytest.raises(greenabc.GreenabcError, match="protocol version 99"):
        EngineBackend("future", Future(), GREEN, default_pool_size=1)


# A whole Backend written against version 1 (not on EngineBackend).
OLD_BACKEND = """
    import greenabc._threads as t

    class Old:
        name = "old"
        protocol_version = 1
        patcher = None

        def __init__(self):
            self._real = t.backend()
            self.capabilities = self._real.capabilities

        def create_pool(self, size=None):
            return self._real.create_pool(size)

        def create_timer(self):
            return self._real.create_timer()

        def timeout(self, seconds):
            return self._real.timeout(seconds)

        def detect_blocking(self, threshold):
            return self._real.detect_blocking(threshold)

    def backend():
        return Old()

    class Liar(Old):
        protocol_version = 2

    def liar():
        return Liar()
"""


def test_the_registry_checks_a_backend_against_its_declared_version(
    make_plugin: Callable[..., Path], run_python: RunPython
) -> None:
    site = make_plugin(
        "greenabc-old", {"old": "oldmod:backend", "liar": "oldmod:liar"}, {"oldmod": OLD_BACKEND}
    )
    result = run_python(
        """
        import greenabc
        old = greenabc.get_backend("old")          # version 1: accepted
        with old.create_pool(1) as pool:
            print("pool", pool.spawn(int, "7").get(timeout=5))
        try:
            greenabc.Event()                       # the default backend is "old"
        except greenabc.GreenabcError as exc:
            print("event:", exc)
        try:
            greenabc.get_backend("liar")
        except greenabc.GreenabcError as exc:
            print("liar:", exc)
        """,
        site,
        env={"GREENABC_BACKEND": "old"},
    )
    assert result.returncode == 0, result.stderr
    assert "pool 7" in result.stdout
    assert "protocol version 1, which has no Event" in result.stdout
    assert "liar:" in result.stdout
    assert "declares protocol version 2 but lacks" in result.stdout
    assert "Event" in result.stdout.split("liar:")[1]


def test_the_conformance_kit_passes_on_a_v1_engine(make_plugin: Callable[..., Path]) -> None:
    """The primitives' conformance tests, run on the version-1 threads engine:
    every primitive the core derives, and the defaults it supplies."""
    site = make_plugin("greenabc-threads-v1", {"threads-v1": "v1engine:backend"}, {})
    (site / "v1engine.py").write_text(textwrap.dedent(V1_ENGINE))
    env = {"PYTHONPATH": str(site)}
    import os

    env.update({k: v for k, v in os.environ.items() if k != "PYTHONPATH" and "GREENABC" not in k})
    result = subprocess.run(
        [sys.executable, "-m", "greenabc.testing", "threads-v1", "-q", "-k", "primitives"],
        capture_output=True,
        text=True,
        timeout=55,
        env=env,
        cwd=site,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
