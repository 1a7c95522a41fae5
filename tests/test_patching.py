"""Patching and diagnostics on the real engines, each case in a fresh process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import RunPython

ENGINES = ["gevent", "eventlet"]
OTHER = {"gevent": "eventlet", "eventlet": "gevent"}
DIRECT = {
    "gevent": "from gevent import monkey; monkey.patch_all()",
    "eventlet": "import eventlet; eventlet.monkey_patch()",
}

EARLY = """
from socket import socket
from time import sleep
from threading import Lock
from select import select
from queue import SimpleQueue
"""


@pytest.fixture
def early(tmp_path: Path) -> Path:
    """A directory holding ``earlymod``, which takes stdlib objects by name."""
    site = tmp_path / "early"
    site.mkdir()
    (site / "earlymod.py").write_text(EARLY)
    return site


def found(output: str) -> set[str]:
    return {line.split()[1] for line in output.splitlines() if line.startswith("FINDING ")}


@pytest.mark.parametrize("engine", ENGINES)
def test_early_imports_are_found_by_identity_and_warned_once(
    run_python: RunPython, early: Path, engine: str
) -> None:
    result = run_python(
        f"""
        import warnings
        import earlymod
        import greenabc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            greenabc.patch({engine!r})
            greenabc.patch({engine!r})  # idempotent: no second warning
        for f in greenabc.check_patching():
            print("FINDING", f"{{f.module}}.{{f.attribute}}", f.original)
        print("WARNINGS", sum(issubclass(w.category, greenabc.PatchWarning) for w in caught))
        print("PATCHED", greenabc.current_backend())
        """,
        early,
    )
    assert result.returncode == 0, result.stderr
    hits = found(result.stdout)
    assert {"earlymod.socket", "earlymod.sleep", "earlymod.Lock", "earlymod.select"} <= hits
    assert not any(hit.startswith("greenabc") for hit in hits), hits
    assert "FINDING earlymod.sleep time.sleep" in result.stdout
    early_count = sum(1 for hit in hits if hit.startswith("earlymod."))
    warned = int(result.stdout.split("WARNINGS ")[1].split()[0])
    assert warned == len(hits) >= early_count
    assert f"PATCHED {engine}" in result.stdout


@pytest.mark.parametrize("engine", ENGINES)
def test_imports_after_patching_are_not_findings(
    run_python: RunPython, early: Path, engine: str
) -> None:
    result = run_python(
        f"""
        import greenabc
        greenabc.patch({engine!r})
        import earlymod
        for f in greenabc.check_patching():
            print("FINDING", f"{{f.module}}.{{f.attribute}}", f.original)
        """,
        early,
    )
    assert result.returncode == 0, result.stderr
    assert found(result.stdout) == set()


@pytest.mark.parametrize("engine", ENGINES)
def test_patched_directly_by_the_engine_is_recognised(run_python: RunPython, engine: str) -> None:
    result = run_python(
        f"""
        {DIRECT[engine]}
        import greenabc
        print("CURRENT", greenabc.current_backend(), greenabc.get_backend().name)
        try:
            greenabc.patch({OTHER[engine]!r})
        except greenabc.PatchError as exc:
            print("REFUSED", exc)
        print("AGAIN", greenabc.patch({engine!r}) is not None)
        """
    )
    assert result.returncode == 0, result.stderr
    assert f"CURRENT {engine} {engine}" in result.stdout
    assert f"REFUSED cannot patch {OTHER[engine]!r}: {engine!r} is already patched" in result.stdout
    assert "AGAIN True" in result.stdout


def test_gevent_patched_directly_still_finds_early_imports(
    run_python: RunPython, early: Path
) -> None:
    result = run_python(
        f"""
        import earlymod
        {DIRECT["gevent"]}
        import greenabc
        for f in greenabc.check_patching():
            print("FINDING", f"{{f.module}}.{{f.attribute}}", f.original)
        """,
        early,
    )
    assert result.returncode == 0, result.stderr
    assert {"earlymod.socket", "earlymod.sleep", "earlymod.Lock"} <= found(result.stdout)


@pytest.mark.parametrize("engine", ENGINES)
def test_second_engine_is_refused(run_python: RunPython, engine: str) -> None:
    result = run_python(
        f"""
        import greenabc
        greenabc.patch({engine!r})
        try:
            greenabc.patch({OTHER[engine]!r})
        except greenabc.PatchError as exc:
            print("REFUSED", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert f"{engine!r} is already patched" in result.stdout


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GREENABC_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "greenabc", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=full_env,
    )


TARGET = """
from socket import socket as first_import  # the target's very first import
import sys
import greenabc
print("ARGV", sys.argv[1:])
print("NAME", __name__)
print("ENGINE", greenabc.current_backend())
print("EARLY", [f.module for f in greenabc.check_patching() if f.module != "__main__"])
print("GREEN", first_import.__module__.split(".")[0])
sys.exit(7)
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_run_script_patches_first_and_passes_argv_and_exit_code(
    tmp_path: Path, engine: str
) -> None:
    script = tmp_path / "app.py"
    script.write_text(TARGET)
    result = run_cli("run", "--backend", engine, str(script), "x", "--flag", cwd=tmp_path)
    assert result.returncode == 7, result.stderr
    assert "ARGV ['x', '--flag']" in result.stdout
    assert "NAME __main__" in result.stdout
    assert f"ENGINE {engine}" in result.stdout
    assert "EARLY []" in result.stdout
    assert f"GREEN {engine}" in result.stdout


@pytest.mark.parametrize("engine", ENGINES)
def test_run_module_patches_first_and_passes_argv_and_exit_code(
    tmp_path: Path, engine: str
) -> None:
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(TARGET)
    result = run_cli("run", f"--backend={engine}", "-m", "mypkg", "y", cwd=tmp_path)
    assert result.returncode == 7, result.stderr
    assert "ARGV ['y']" in result.stdout
    assert "NAME __main__" in result.stdout
    assert f"GREEN {engine}" in result.stdout


def test_run_without_a_target_explains_usage(tmp_path: Path) -> None:
    result = run_cli("run", "--backend", "threads", cwd=tmp_path)
    assert result.returncode != 0
    assert "usage: python -m greenabc run" in result.stderr


@pytest.mark.parametrize("engine", ENGINES)
def test_check_command_reports_and_exits_1_on_early_imports(
    tmp_path: Path, early: Path, engine: str
) -> None:
    env = {"PYTHONPATH": str(early)}
    bad = run_cli("check", "--backend", engine, "earlymod", cwd=tmp_path, env=env)
    assert bad.returncode == 1, bad.stderr
    assert f"patched engine: {engine}" in bad.stdout
    assert "earlymod.sleep is the unpatched time.sleep" in bad.stdout
    assert "greenabc: 0.1.0" in bad.stdout
    good = run_cli("check", "--backend", engine, cwd=tmp_path, env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "imported too early: nothing" in good.stdout


BLOCKING = """
import logging, sys, time
import greenabc
greenabc.patch({engine!r})
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger("greenabc.blocking").addHandler(Keep())
logging.getLogger("greenabc.blocking").setLevel(logging.WARNING)
signalled = []
def on_blocked(sender, **kw):
    signalled.append((sender, kw["seconds"]))
greenabc.signals.hub_blocked.connect(on_blocked)
original_sleep = greenabc.get_backend().patcher.original("time", "sleep")
def block_the_hub_here():
    original_sleep(0.6)
pool = greenabc.get_pool(size=2)
pool.spawn(block_the_hub_here).get(timeout=10)
for _ in range(100):  # let the detector report
    time.sleep(0.02)
pool.close(1)
print("RECORDS", len(records))
print("NAMED", sum("block_the_hub_here" in r for r in records))
print("SIGNALLED", len(signalled), all(s[0] == {engine!r} and s[1] >= 0.1 for s in signalled))
print("FIRST", records[0].splitlines()[0] if records else "")
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_blocking_threshold_in_the_environment_starts_detection_at_patch(
    run_python: RunPython, engine: str
) -> None:
    # What a detector reports is the conformance kit's (test_blocking.py);
    # here: patch() starts one from $GREENABC_BLOCKING_THRESHOLD.
    env = {"GREENABC_BLOCKING_THRESHOLD": "0.2"}
    result = run_python(textwrap.dedent(BLOCKING).format(engine=engine), env=env)
    assert result.returncode == 0, result.stderr
    assert "RECORDS 1" in result.stdout, result.stdout + result.stderr
    assert "NAMED 1" in result.stdout
    assert "SIGNALLED 1 True" in result.stdout
    assert "blocked" in result.stdout.split("FIRST ")[1]


def test_threads_backend_refuses_blocking_detection_clearly() -> None:
    import greenabc

    with pytest.raises(greenabc.GreenabcError, match="cannot detect a blocked hub"):
        greenabc.detect_blocking(0.5, backend="threads")
