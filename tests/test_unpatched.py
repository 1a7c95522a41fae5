"""A green backend used in a process its engine has not patched: a warning
that says what to do, and deadlines that hold all the same."""

from __future__ import annotations

import pytest

from .conftest import RunPython

USE_UNPATCHED = """
    import time, warnings, greenabc
    name = {name!r}
    if {patch}:
        greenabc.patch(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pool = greenabc.get_pool(name, 4)
        greenabc.get_timer(name).stop()
        with greenabc.timeout(5, backend=name):
            pass
        pool.spawn(int).get(5)
    ours = [str(w.message) for w in caught if issubclass(w.category, greenabc.PatchWarning)]
    print(len(ours))
    print(ours[0] if ours else "-")
    started = time.monotonic()
    task = pool.apply_async(time.sleep, (0.5,), timeout=0.1)
    try:
        task.get(5)
        print("success")
    except greenabc.TaskTimedOut:
        print("timed out", pool.stats()["timed_out"])
"""


@pytest.mark.parametrize("name", ["gevent", "eventlet"])
def test_green_backend_used_unpatched_warns_once_and_still_times_out(
    run_python: RunPython, name: str
) -> None:
    result = run_python(USE_UNPATCHED.format(name=name, patch=False))
    count, message, outcome = result.stdout.splitlines()
    assert count == "1", result.stderr
    assert f"greenabc.patch({name!r})" in message
    assert f"greenabc run --backend {name}" in message
    # time.sleep is not green here: it blocks past the deadline, which still decides.
    assert outcome == "timed out 1"


@pytest.mark.parametrize(
    ("name", "patch"), [("gevent", True), ("eventlet", True), ("threads", False)]
)
def test_patched_or_threads_backend_does_not_warn(
    run_python: RunPython, name: str, patch: bool
) -> None:
    result = run_python(USE_UNPATCHED.format(name=name, patch=patch))
    assert result.stdout.splitlines() == ["0", "-", "timed out 1"], result.stderr


@pytest.mark.parametrize("name", ["gevent", "eventlet"])
def test_an_executor_of_an_unpatched_green_backend_is_refused(
    run_python: RunPython, name: str
) -> None:
    # It used to warn, then hang forever on its first future.
    result = run_python(
        f"""
        import warnings, greenabc
        from greenabc.futures import Executor
        warnings.simplefilter("error", greenabc.PatchWarning)  # refused before it warns
        try:
            Executor(backend={name!r})
        except greenabc.PatchError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert f"Executor(backend={name!r}) needs a process that {name} has patched" in result.stdout
    assert f"greenabc.patch({name!r})" in result.stdout
    assert f"greenabc run --backend {name}" in result.stdout


@pytest.mark.parametrize("name", ["gevent", "eventlet"])
def test_a_bad_pool_size_is_refused_before_the_patch_warning(
    run_python: RunPython, name: str
) -> None:
    result = run_python(
        f"""
        import warnings, greenabc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                greenabc.get_pool({name!r}, size=-1)
            except ValueError as exc:
                print(exc)
        print([str(w.message)[:40] for w in caught if w.category is greenabc.PatchWarning])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["size must be at least 1, got -1", "[]"]


@pytest.mark.parametrize(
    "call", ["greenabc.get_pool('gevent')", "greenabc.get_backend('gevent').create_pool(2)"]
)
def test_the_patch_warning_names_the_callers_line(run_python: RunPython, call: str) -> None:
    result = run_python(
        f"""
        import warnings, greenabc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            {call}
        print(caught[0].filename, caught[0].lineno)
        """
    )
    assert result.stdout.split() == ["<string>", "5"], result.stdout + result.stderr
