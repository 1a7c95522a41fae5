"""What only the threads backend does: one scheduler thread, C-blocked tasks."""

from __future__ import annotations

import threading
import time

import pytest

import greenabc

from .conftest import RunPython

PROMPT = 2.0


def test_one_scheduler_thread_serves_every_timer_entry() -> None:
    timer = greenabc.get_timer("threads")
    before = threading.active_count()
    fired: list[int] = []
    for i in range(500):
        timer.call_after(0.01 + i / 10000, fired.append, i)
    schedulers = [t for t in threading.enumerate() if t.name == "greenabc-scheduler"]
    assert len(schedulers) == 1
    assert threading.active_count() <= before + 1
    deadline = time.monotonic() + PROMPT
    while len(fired) < 500 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fired == list(range(500))


def test_capabilities_state_the_limits() -> None:
    caps = greenabc.get_backend("threads").capabilities
    assert not caps.is_green
    assert caps.can_interrupt
    assert not caps.can_interrupt_blocking_calls
    assert not caps.can_patch
    assert any("blocked in C" in note for note in caps.notes)


def test_patch_threads_is_a_no_op_and_bad_options_are_refused() -> None:
    assert greenabc.patch("threads") == []
    with pytest.raises(ValueError, match="standard-library module"):
        greenabc.patch("threads", sockett=False)


def test_patch_needs_a_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GREENABC_BACKEND", raising=False)
    with pytest.raises(greenabc.PatchError, match="GREENABC_BACKEND"):
        greenabc.patch()


def test_from_thread_from_a_foreign_thread_of_a_fresh_backend_calls_in_place(
    run_python: RunPython,
) -> None:
    # Every OS thread is an engine thread: no home needs to be known first.
    result = run_python(
        "import threading, greenabc\n"
        "backend = greenabc.get_backend('threads')\n"
        "got = []\n"
        "def foreign():\n"
        "    got.append(backend.from_thread(lambda: threading.current_thread().name))\n"
        "thread = threading.Thread(target=foreign, name='foreign')\n"
        "thread.start(); thread.join(10)\n"
        "print(got)\n"
    )
    assert result.stdout.strip().splitlines()[-1:] == ["['foreign']"], result.stderr
