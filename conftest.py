"""Plain ``pytest`` at the repository root.

It runs what one process can: the core tests and the conformance suite on the
``threads`` backend. Each green adapter's tests need their engine patched
before anything else is imported, so they run in a process of their own:
``python tools/run_tests.py`` runs every suite (``--only gevent`` one of
them). Here they are left out, and the summary says so in one line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
ADAPTER_TESTS = {name: ROOT / "adapters" / name / "tests" for name in ("gevent", "eventlet")}
_LEFT_OUT: set[str] = set()


def _backend(config: pytest.Config) -> str | None:
    name: str | None = config.getoption("--greenabc-backend", None)
    return name


def _adapter_of(path: Path) -> str | None:
    for name, tests in ADAPTER_TESTS.items():
        if path == tests or path.is_relative_to(tests):
            return name
    return None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    name = _adapter_of(collection_path)
    if name is not None and _backend(config) != name:
        _LEFT_OUT.add(name)
        return True
    return None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _LEFT_OUT:
        names = " and ".join(sorted(_LEFT_OUT))
        terminalreporter.write_line(
            f"not run here: the {names} suites (each needs its engine patched first,"
            " in a process of its own): python tools/run_tests.py"
        )
