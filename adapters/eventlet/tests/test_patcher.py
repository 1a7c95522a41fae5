"""Patching by stdlib module name over eventlet's categories."""

from __future__ import annotations

import json
import os
import time

import eventlet
import pytest
from eventlet.hubs import get_hub

import greenabc
from conftest import RunPython
from greenabc_eventlet._backend import EventletBackend
from greenabc_eventlet._patcher import EventletPatcher

DEFAULT = [
    "os",
    "queue",
    "select",
    "selectors",
    "socket",
    "ssl",
    "subprocess",
    "threading",
    "time",
]


@pytest.fixture
def patcher(backend: EventletBackend) -> EventletPatcher:
    assert isinstance(backend.patcher, EventletPatcher)
    return backend.patcher


def test_patching_again_is_idempotent_and_lists_module_names(patcher: EventletPatcher) -> None:
    assert patcher.patch() == DEFAULT
    assert greenabc.patch("eventlet") == DEFAULT


def test_is_patched_answers_by_stdlib_module_name(patcher: EventletPatcher) -> None:
    for name in DEFAULT:
        assert patcher.is_patched(name), name
    for name in ("builtins", "signal", "sys", "no_such_module"):
        assert not patcher.is_patched(name), name


def test_original_is_the_unpatched_object(patcher: EventletPatcher) -> None:
    real_sleep = patcher.original("time", "sleep")
    assert real_sleep is not time.sleep
    ran: list[int] = []
    eventlet.spawn_n(ran.append, 1)
    real_sleep(0.01)  # blocks the hub: the green thread cannot run meanwhile
    assert ran == []
    time.sleep(0.01)  # the patched one yields
    assert ran == [1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"socket": True, "ssl": False}, "patches socket and ssl together"),
        ({"threading": False, "queue": True}, "patches queue and threading together"),
        ({"select": True, "selectors": False}, "patches select and selectors together"),
        ({"signal": True}, "cannot patch 'signal'"),
        ({"sys": True}, "cannot patch 'sys'"),
        ({"socket": False}, "already patched socket"),
    ],
)
def test_requests_eventlet_cannot_honour_are_clear_errors(
    patcher: EventletPatcher, options: dict[str, bool], message: str
) -> None:
    with pytest.raises(greenabc.PatchError, match=message):
        patcher.patch(**options)


def test_modules_eventlet_cannot_patch_may_be_left_out(patcher: EventletPatcher) -> None:
    assert patcher.patch(signal=False, sys=False) == DEFAULT


def test_signal_safe_write_works_inside_the_hub(patcher: EventletPatcher) -> None:
    # A signal handler can run inside the hub, where the patched os.write
    # refuses to block (celery#10083); the saved original does not.
    read_end, write_end = os.pipe()
    outcomes: list[object] = []

    def in_the_hub() -> None:
        for write in (os.write, patcher.signal_safe_write):
            try:
                outcomes.append(write(write_end, b"x"))
            except RuntimeError as exc:
                outcomes.append(str(exc))

    try:
        get_hub().schedule_call_global(0, in_the_hub)
        eventlet.sleep(0.01)
        assert outcomes == ["do not call blocking functions from the mainloop", 1]
    finally:
        os.close(read_end)
        os.close(write_end)


def test_one_option_of_a_pair_sets_both(run_python: RunPython) -> None:
    result = run_python(
        """
        import json, greenabc
        patched = greenabc.patch("eventlet", socket=False, threading=False)
        patcher = greenabc.get_backend("eventlet").patcher
        names = ["socket", "ssl", "threading", "queue", "select", "time"]
        print(json.dumps([patched, {n: patcher.is_patched(n) for n in names}]))
        """
    )
    assert result.returncode == 0, result.stderr
    patched, state = json.loads(result.stdout)
    assert patched == ["os", "select", "selectors", "subprocess", "time"]
    assert state == {
        "socket": False,
        "ssl": False,
        "threading": False,
        "queue": False,
        "select": True,
        "time": True,
    }
