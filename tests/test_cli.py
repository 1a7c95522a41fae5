"""The command line, in fresh processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest


def greenabc_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-m", "greenabc", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("backend", [None, "threads", "gevent", "eventlet"])
def test_demo_runs_the_requests_at_once(backend: str | None) -> None:
    result = greenabc_cli("demo", *(["--backend", backend] if backend else []))
    assert result.returncode == 0, result.stderr
    assert f"backend: {backend or 'threads'}" in result.stdout
    took = re.search(r"20 requests of 0.2 s each took ([\d.]+) s", result.stdout)
    assert took is not None, result.stdout
    assert float(took.group(1)) < 2.0  # concurrent: far below the 4 s of their sum
    assert "hard timeout: task" in result.stdout
    assert "greenabc.timeout: timed out after 0.1 s" in result.stdout
    assert "Traceback" not in result.stderr


def test_backends_lists_what_is_installed_with_capabilities() -> None:
    result = greenabc_cli("backends", "--capabilities", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["available"]) >= {"threads", "gevent", "eventlet"}
    assert report["capabilities"]["threads"]["is_green"] is False
    assert report["capabilities"]["gevent"]["is_green"] is True


def test_unknown_command_and_help() -> None:
    bad = greenabc_cli("frobnicate")
    assert bad.returncode == 2
    assert "one of: demo, backends, run, check" in bad.stderr
    assert greenabc_cli("--help").returncode == 0
