"""One adapter protocol, one integer version, checked when a backend loads:
an adapter written for another version is refused, naming what to upgrade."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import greenabc
from greenabc import interfaces
from greenabc.adapter import (
    EngineBackend,
    GreenEngineBase,
    OSThreadEngineBase,
    send_async_interrupt,
)

from .conftest import RunPython

#: A naive thread engine written against greenabc.adapter alone, as source to
#: declare any version with (the kit's whole run on a naive thread engine is
#: tools/run_tests.py's, on tests/naive_engine).
NAIVE_ENGINE = """
import threading

from greenabc.adapter import EngineBackend, OSThreadEngineBase
from greenabc.interfaces import Capabilities


class NaiveEngine(OSThreadEngineBase):
    protocol_version = {version}

    def spawn(self, fn):
        thread = threading.Thread(target=fn, daemon=True)
        thread.start()
        return thread.ident

    def call_later(self, delay, fn, *args):
        timer = threading.Timer(delay, fn, args)
        timer.daemon = True
        timer.start()
        return timer


CAPABILITIES = Capabilities(
    is_green=False,
    signal_safe=False,
    can_interrupt=True,
    can_interrupt_blocking_calls=False,
    can_detect_blocking=False,
    can_patch=False,
)


def backend():
    return EngineBackend("naive", NaiveEngine(), CAPABILITIES, default_pool_size=8)
"""


def naive_module(version: int = interfaces.PROTOCOL_VERSION) -> str:
    return NAIVE_ENGINE.format(version=version)


def test_one_version() -> None:
    assert interfaces.PROTOCOL_VERSION == 3
    threads = greenabc.get_backend("threads")
    assert threads.protocol_version == interfaces.PROTOCOL_VERSION
    assert isinstance(threads, EngineBackend)
    assert threads.engine.protocol_version == interfaces.PROTOCOL_VERSION
    for gone in ("SUPPORTED_PROTOCOL_VERSIONS", "ENGINE_V2_METHODS", "EngineV1"):
        assert not hasattr(interfaces, gone)


def _load(factory: Callable[[], object], name: str) -> str:
    greenabc.register_backend(name, factory, replace=True)  # type: ignore[arg-type]
    with pytest.raises(greenabc.GreenabcError) as info:
        greenabc.get_backend(name)
    return str(info.value)


def _naive_engine_class(version: object) -> type[OSThreadEngineBase]:
    namespace: dict[str, object] = {}
    exec(compile(naive_module(), "<naive engine>", "exec"), namespace)
    engine_class: type[OSThreadEngineBase] = namespace["NaiveEngine"]  # type: ignore[assignment]
    engine_class.protocol_version = version  # type: ignore[assignment]
    return engine_class


def _backend_of(engine_class: type[OSThreadEngineBase]) -> Callable[[], EngineBackend]:
    caps = greenabc.get_backend("threads").capabilities
    return lambda: EngineBackend("x", engine_class(), caps, default_pool_size=1)


def test_an_engine_written_for_an_older_version_is_refused() -> None:
    message = _load(_backend_of(_naive_engine_class(2)), "older")
    assert "implements adapter protocol version 2" in message
    assert "this greenabc implements version 3" in message
    assert "upgrade the adapter that provides it" in message
    assert "'older'" in message


def test_an_engine_written_for_a_newer_version_is_refused() -> None:
    message = _load(_backend_of(_naive_engine_class(99)), "newer")
    assert "implements adapter protocol version 99" in message
    assert "upgrade greenabc: pip install -U greenabc" in message


def test_an_engine_declaring_no_version_is_refused() -> None:
    engine_class = _naive_engine_class(3)
    del engine_class.protocol_version
    message = _load(_backend_of(engine_class), "undeclared")
    assert "declares no adapter protocol version" in message
    assert "upgrade the adapter that provides it" in message


def test_an_engine_lacking_members_is_refused() -> None:
    class Partial:  # not on a base class: only some of the protocol
        protocol_version = 3

        def spawn(self, fn: Callable[[], object]) -> object:
            return None

    caps = greenabc.get_backend("threads").capabilities

    def factory() -> EngineBackend:
        return EngineBackend("partial", Partial(), caps, default_pool_size=1)  # type: ignore[arg-type]

    message = _load(factory, "partial")
    assert "declares adapter protocol version 3 but lacks" in message
    for member in ("checkpoint", "core_lock", "portal", "wait_readable"):
        assert member in message


def test_a_base_class_names_what_an_engine_must_still_implement() -> None:
    class Half(GreenEngineBase):
        protocol_version = 3

    with pytest.raises(TypeError, match="abstract") as info:
        Half()  # type: ignore[abstract]
    for member in ("spawn", "interrupt", "call_later", "core_queue", "to_thread", "portal"):
        assert member in str(info.value)
    assert "checkpoint" not in str(info.value)  # the base's
    assert "Event" not in str(info.value)  # derived by the base


OLD_BACKEND = """
    import greenabc._threads as t

    class Old:  # a whole Backend (not on EngineBackend) written for version 2
        name = "old"
        protocol_version = 2
        patcher = None

        def __init__(self):
            self._real = t.backend()
            self.capabilities = self._real.capabilities

        def create_pool(self, size=None):
            return self._real.create_pool(size)

    def backend():
        return Old()
"""


def test_the_registry_names_the_distribution_to_upgrade(
    make_plugin: Callable[..., Path], run_python: RunPython
) -> None:
    site = make_plugin(
        "greenabc-old",
        {"old": "oldmod:backend", "older-engine": "enginemod:backend"},
        {"oldmod": OLD_BACKEND, "enginemod": naive_module(version=2)},
    )
    result = run_python(
        """
        import greenabc
        for name in ("old", "older-engine"):
            try:
                greenabc.get_backend(name)
            except greenabc.GreenabcError as exc:
                print(name, "->", exc)
        """,
        site,
    )
    assert result.returncode == 0, result.stderr
    old, engine = result.stdout.splitlines()
    assert "old -> backend 'old' (entry point 'oldmod:backend' of distribution" in old
    assert "its backend implements adapter protocol version 2" in old
    assert "upgrade the distribution 'greenabc-old'" in old
    assert "its engine NaiveEngine implements adapter protocol version 2" in engine
    assert "upgrade the distribution 'greenabc-old'" in engine


def test_checkpoint_raises_an_interrupt_already_sent_on_os_threads() -> None:
    class Sent(BaseException):
        pass

    engine = greenabc.get_backend("threads").engine  # type: ignore[attr-defined]
    with pytest.raises(Sent):
        send_async_interrupt(threading.get_ident(), Sent)
        engine.checkpoint()
