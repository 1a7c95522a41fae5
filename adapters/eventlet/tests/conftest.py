"""Fixtures of the eventlet adapter's tests.

These tests run in a process patched for eventlet before anything else is
imported (``python -m greenabc.testing eventlet adapters/eventlet/tests``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

import greenabc
from greenabc_eventlet._backend import EventletBackend

RunPython = Callable[[str], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session", autouse=True)
def _patched_for_eventlet() -> None:
    if greenabc.current_backend() != "eventlet":
        pytest.exit(
            "run these tests patched for eventlet first:"
            " python -m greenabc.testing eventlet adapters/eventlet/tests",
            returncode=2,
        )


@pytest.fixture(scope="session")
def backend() -> EventletBackend:
    chosen = greenabc.get_backend("eventlet")
    assert isinstance(chosen, EventletBackend)
    return chosen


@pytest.fixture
def run_python(tmp_path: os.PathLike[str]) -> RunPython:
    """Run a snippet in a fresh, unpatched interpreter (bounded)."""

    def run(code: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GREENABC_")}
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
            check=False,
        )

    return run
