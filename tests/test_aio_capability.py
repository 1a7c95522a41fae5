"""A backend that declares ``can_bridge_asyncio=False``: greenabc.aio refuses
it at once, and the kit's check of the flag (test_capabilities.py) passes on
it while the kit's aio tests are skipped."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import greenabc
from greenabc._threads import CAPABILITIES, ThreadEngine
from greenabc.adapter import EngineBackend

NAME = "threads-no-aio"


def _backend() -> EngineBackend:
    engine = ThreadEngine()
    capabilities = dataclasses.replace(CAPABILITIES, can_bridge_asyncio=False)
    return EngineBackend(
        NAME, engine, capabilities, default_pool_size=8, deadlines=engine.scheduler
    )


@pytest.fixture
def registered() -> Iterator[str]:
    """The backend registered in this process for one test, then removed (the
    other tests list the registry)."""
    from greenabc._core._registry import _registry

    greenabc.register_backend(NAME, _backend, replace=True)
    try:
        yield NAME
    finally:
        _registry._runtime.pop(NAME, None)
        _registry._loaded.pop(NAME, None)


def test_both_calls_refuse_a_backend_that_declares_it_cannot(registered: str) -> None:
    from greenabc import aio

    async def answer() -> int:
        return 42

    with pytest.raises(greenabc.GreenabcError, match="can_bridge_asyncio=False"):
        aio.run(answer, backend=NAME)

    async def through_green() -> int:
        return int(await aio.run_sync(int, "7", backend=NAME))

    with pytest.raises(greenabc.GreenabcError, match="can_bridge_asyncio=False"):
        asyncio.run(through_green())


KIT = f"""
import sys
import greenabc
sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
from tests.test_aio_capability import NAME, _backend
greenabc.register_backend(NAME, _backend, replace=True)
from greenabc.testing.__main__ import main
sys.exit(main([NAME, "-q", "-p", "no:cacheprovider", "-k", "aio or can_bridge_asyncio"]))
"""


def test_the_kit_checks_the_flag_and_skips_the_aio_tests() -> None:
    out = subprocess.run(
        [sys.executable, "-c", KIT], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # test_can_bridge_asyncio passes (the refusal); every aio test is skipped.
    assert re.search(r"\b1 passed, [1-9]\d* skipped", out.stdout), out.stdout[-3000:]
