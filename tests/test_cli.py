"""The command line, in fresh processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import RunPython
from .test_registry import BROKEN


def greenabc_cli(
    *args: str, env: dict[str, str] | None = None, path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m greenabc ARGS`` with no $GREENABC_* but *env*, and
    *path* on PYTHONPATH."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GREENABC_")}
    full_env.update(env or {})
    if path is not None:
        full_env["PYTHONPATH"] = str(path)
    return subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-m", "greenabc", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
    )


def check_demo(result: subprocess.CompletedProcess[str], backend: str) -> None:
    assert result.returncode == 0, result.stderr
    assert f"backend: {backend}" in result.stdout
    took = re.search(r"20 requests of 0.2 s each took ([\d.]+) s", result.stdout)
    assert took is not None, result.stdout
    assert float(took.group(1)) < 2.0  # concurrent: far below the 4 s of their sum
    assert "hard timeout: task" in result.stdout
    # The timed-out task has stopped before the stats are shown (it was shown
    # as running on threads, with no word of why).
    stats = re.search(r"pool stats: (\{.*\})", result.stdout)
    assert stats is not None, result.stdout
    assert "'running': 0" in stats.group(1)
    assert "'timed_out': 1" in stats.group(1)
    assert "greenabc.timeout: timed out after 0.1 s" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", [None, "threads", "gevent", "eventlet"])
def test_demo_runs_the_requests_at_once(backend: str | None) -> None:
    result = greenabc_cli("demo", *(["--backend", backend] if backend else []))
    check_demo(result, backend or "threads")


@pytest.mark.parametrize("backend", ["gevent", "eventlet"])
def test_demo_patches_the_backend_named_by_the_environment(backend: str) -> None:
    # Unpatched, the fetches ran one after another and the hard-timeout step hung.
    result = greenabc_cli("demo", env={"GREENABC_BACKEND": backend})
    check_demo(result, backend)


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


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_backends_lists_a_broken_plugin_as_broken_and_the_others_too(
    make_plugin: Callable[..., Path], kind: str
) -> None:
    value, modules, message = BROKEN[kind]
    site = make_plugin("shaky-plugin", {kind: value}, modules)
    text = greenabc_cli("backends", "--capabilities", path=site)
    assert text.returncode == 1, text.stderr
    assert "Traceback" not in text.stderr, text.stderr
    broken = [line for line in text.stdout.splitlines() if line.startswith(f"{kind} ")]
    assert len(broken) == 1, text.stdout
    assert broken[0].startswith(f"{kind} (broken: backend '{kind}' (entry point '{value}'")
    assert message in broken[0]
    assert "threads\n    is_green: False" in text.stdout

    as_json = greenabc_cli("backends", "--capabilities", "--json", path=site)
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    assert kind in report["available"]
    assert kind not in report["capabilities"]
    assert message in report["broken"][kind]
    assert "\n" not in report["broken"][kind]
    assert set(report["capabilities"]) >= {"threads", "gevent", "eventlet"}


def test_backends_with_nothing_broken_reports_no_broken_backend() -> None:
    report = json.loads(greenabc_cli("backends", "--capabilities", "--json").stdout)
    assert report["broken"] == {}


@pytest.mark.parametrize("backend", ["gevent", "eventlet"])
def test_check_patches_the_backend_named_by_the_environment(backend: str, tmp_path: Path) -> None:
    (tmp_path / "early_mod.py").write_text("from socket import socket\n")
    clean = greenabc_cli("check", env={"GREENABC_BACKEND": backend})
    assert clean.returncode == 0, clean.stderr
    assert f"patched engine: {backend}" in clean.stdout
    early = greenabc_cli("check", "early_mod", env={"GREENABC_BACKEND": backend}, path=tmp_path)
    assert early.returncode == 1, early.stdout + early.stderr
    assert f"patched engine: {backend}" in early.stdout
    assert "early_mod.socket is the unpatched socket.socket" in early.stdout


HIDE_MODULE = """
    import runpy, sys

    class Hide:  # as if {module} were not installed
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == {module!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
    sys.argv = ["greenabc.testing", "threads", "--collect-only", "-q"]
    runpy.run_module("greenabc.testing", run_name="__main__")
"""


@pytest.mark.parametrize(
    ("module", "dist"),
    [("pytest", "pytest"), ("pytest_timeout", "pytest-timeout"), ("hypothesis", "hypothesis")],
)
def test_kit_without_its_dependencies_says_what_to_install(
    run_python: RunPython, module: str, dist: str
) -> None:
    result = run_python(HIDE_MODULE.format(module=module))
    assert result.returncode != 0, result.stdout
    assert result.stderr.splitlines() == [
        f"greenabc.testing needs {dist}: pip install 'greenabc[testing]'"
    ], result.stderr


SHOW_TIMEOUTS = """
    import sys, pytest, greenabc.testing

    class Show:
        def pytest_collection_finish(self, session):
            for item in session.items:
                marker = item.get_closest_marker("timeout")
                print("TIMEOUT", marker.args if marker else None)

    args = [str(greenabc.testing.SUITE), "-c", "pytest.ini", "-p", "no:cacheprovider"]
    sys.exit(pytest.main([*args, "--collect-only", "-q", *{extra!r}], plugins=[Show()]))
"""


@pytest.mark.parametrize(
    "extra", [[], ["--timeout", "300"], ["-o", "timeout=300"]], ids=["unset", "option", "ini"]
)
def test_kit_gives_each_suite_test_a_timeout_when_none_is_configured(
    run_python: RunPython, tmp_path: Path, extra: list[str]
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # outside the repository: no timeout
    result = run_python(SHOW_TIMEOUTS.format(extra=extra))
    assert result.returncode == 0, result.stdout + result.stderr
    timeouts = [line for line in result.stdout.splitlines() if line.startswith("TIMEOUT")]
    assert len(timeouts) > 20, result.stdout
    # The plugin's default where nothing is configured; the user's choice otherwise.
    expected = "TIMEOUT None" if extra else "TIMEOUT (60.0,)"
    assert set(timeouts) == {expected}, result.stdout


SLEEPY_SUITE = """
    import sys, pytest
    from pathlib import Path
    from greenabc.testing import plugin

    plugin.DEFAULT_TIMEOUT = 1.0
    plugin.SUITE = Path("suite")  # stands for the installed conformance suite
    sys.exit(pytest.main(["suite", "-c", "pytest.ini", "-p", "no:cacheprovider", "-q"]))
"""


def test_kit_default_timeout_fails_a_test_that_hangs(run_python: RunPython, tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_hangs.py").write_text(
        "import time\n\ndef test_hangs():\n    time.sleep(30)\n"
    )
    started = time.monotonic()
    result = run_python(SLEEPY_SUITE)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Timeout (>1.0s) from pytest-timeout" in result.stdout, result.stdout
    assert "1 failed" in result.stdout
    assert time.monotonic() - started < 25


# -- user errors: one clear line and a non-zero exit code -----------------------------


def test_version() -> None:
    result = greenabc_cli("--version")
    assert result.returncode == 0
    assert re.fullmatch(
        r"greenabc \d+\.\d+\.\d+\S*, core (compiled \(mypyc [\d.]+\)|pure Python[^\n]*)"
        r" \(Python 3\.\d+\.\d+\S*\)\n",
        result.stdout,
    ), result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("demo", "--backend", "nosuch"), "greenabc.UnknownBackendError: unknown backend 'nosuch'"),
        (("check", "--backend", "nosuch"), "greenabc.UnknownBackendError: unknown backend"),
        (("check", "no_such_module_here"), "cannot import 'no_such_module_here'"),
        (("run", "--backend", "nosuch", "x.py"), "no such script: 'x.py'"),
        (("run", "--backend", "threads", "missing.py"), "no such script: 'missing.py'"),
        (("run", "--backend", "threads", "-m", "no_such_mod"), "no module named 'no_such_mod'"),
        (("run", "missing.py"), "no such script"),
    ],
)
def test_user_error_is_one_line_and_exit_code_2(args: tuple[str, ...], message: str) -> None:
    result = greenabc_cli(*args)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_run_unknown_backend_with_an_existing_script(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text("print('ran')\n")
    result = greenabc_cli("run", "--backend", "nosuch", str(script))
    assert result.returncode == 2
    assert "greenabc.UnknownBackendError" in result.stderr
    assert "ran" not in result.stdout


def test_check_exit_codes_tell_findings_from_user_errors(tmp_path: Path) -> None:
    (tmp_path / "early_mod.py").write_text("from socket import socket\n")
    found = greenabc_cli("check", "--backend", "gevent", "early_mod", path=tmp_path)
    assert found.returncode == 1, found.stderr
    assert "early_mod" in found.stdout
    missing = greenabc_cli("check", "--backend", "gevent", "no_such_module_here")
    assert missing.returncode == 2


def test_run_help_exits_0() -> None:
    result = greenabc_cli("run", "--help")
    assert result.returncode == 0
    assert "usage: python -m greenabc run" in result.stdout


def test_kit_with_an_unknown_backend_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "greenabc.testing", "nosuch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "UnknownBackendError: unknown backend 'nosuch'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [("backends", "--capabilities"), ("check",), ("--help",)])
def test_output_piped_into_head_ends_quietly(args: tuple[str, ...]) -> None:
    # A reader that closes the pipe at once: the next write fails with EPIPE.
    command = [sys.executable, "-W", "ignore", "-m", "greenabc", *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        stderr = process.stderr.read().decode()
        process.wait(timeout=60)
    assert "BrokenPipeError" not in stderr
    assert "Traceback" not in stderr


def test_uncaught_errors_show_their_public_path(run_python: RunPython) -> None:
    result = run_python("import greenabc; greenabc.get_backend('nosuch')")
    assert result.stderr.strip().splitlines()[-1].startswith("greenabc.UnknownBackendError: ")
    pickled = run_python(
        "import pickle, greenabc\n"
        "e = pickle.loads(pickle.dumps(greenabc.TaskTimedOut(7, 1.5)))\n"
        "print(type(e).__module__, e.task_id, e.seconds, e)\n"
        "k = pickle.loads(pickle.dumps(greenabc.TaskKilled(8, 'revoked')))\n"
        "print(k.task_id, k.reason, k)"
    )
    lines = pickled.stdout.splitlines()
    assert lines[0].split()[:3] == ["greenabc", "7", "1.5"], pickled.stderr
    assert lines[1] == "8 revoked task 8 was killed: revoked"
