"""Fixtures of the gevent adapter's tests.

Run them patched, in a process of their own::

    python -m greenabc.testing gevent adapters/gevent/tests
"""

from __future__ import annotations

import pytest

import greenabc
from greenabc.adapter import EngineBackend


@pytest.fixture(autouse=True, scope="session")
def _patched_by_greenabc() -> None:
    if greenabc.current_backend() != "gevent":
        pytest.fail(
            "these tests need a process patched for gevent before anything else is"
            " imported: run python -m greenabc.testing gevent adapters/gevent/tests"
        )


@pytest.fixture
def backend() -> EngineBackend:
    found = greenabc.get_backend("gevent")
    assert isinstance(found, EngineBackend)
    return found
