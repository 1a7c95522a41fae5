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
