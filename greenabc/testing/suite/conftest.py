from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

import greenabc


@pytest.fixture
def pool(greenabc_backend: greenabc.Backend) -> Iterator[greenabc.Pool]:
    p = greenabc_backend.create_pool(4)
    yield p
    p.close(timeout=2)


@pytest.fixture
def timer(greenabc_backend: greenabc.Backend) -> Iterator[greenabc.Timer]:
    t = greenabc_backend.create_timer()
    yield t
    t.stop()


@pytest.fixture
def run(greenabc_backend_name: str) -> Callable[..., Any]:
    """greenabc.aio.run on the backend under test."""
    from greenabc import aio

    return partial(aio.run, backend=greenabc_backend_name)


@pytest.fixture
def run_sync(greenabc_backend_name: str) -> Callable[..., Any]:
    """greenabc.aio.run_sync on the backend under test."""
    from greenabc import aio

    return partial(aio.run_sync, backend=greenabc_backend_name)


@pytest.fixture
def aio_bridge(greenabc_backend: greenabc.Backend) -> None:
    """Skip greenabc.aio's tests on a backend that declares it cannot run
    the bridge (test_capabilities.py checks that declaration)."""
    if not greenabc_backend.capabilities.can_bridge_asyncio:
        pytest.skip(f"{greenabc_backend.name} declares can_bridge_asyncio=False")
