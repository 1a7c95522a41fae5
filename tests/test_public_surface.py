"""Guards the public surface: a name added or lost here is a decision."""

from __future__ import annotations

import greenabc
from greenabc import adapter, aio, interfaces, signals
from greenabc._core._exceptions import Interrupt

PUBLIC = {
    "ENTRY_POINT_GROUP",
    "Backend",
    "BackendConflictWarning",
    "BackendUnavailableError",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Lock",
    "Queue",
    "RLock",
    "Semaphore",
    "from_thread",
    "local",
    "sleep",
    "to_thread",
    "wait_readable",
    "wait_writable",
    "Finding",
    "GreenabcError",
    "PatchError",
    "PatchWarning",
    "Pool",
    "PoolClosed",
    "SoftTimeout",
    "Task",
    "TaskKilled",
    "TaskTimedOut",
    "TimeoutExpired",
    "Timer",
    "TimerEntry",
    "TimeoutScope",
    "UnknownBackendError",
    "__version__",
    "available_backends",
    "check_patching",
    "current_backend",
    "current_task",
    "detect_blocking",
    "get_backend",
    "get_pool",
    "get_timer",
    "patch",
    "register_backend",
    "signals",
    "spawn",
    "timeout",
}


def test_all_is_the_public_surface() -> None:
    assert set(greenabc.__all__) == PUBLIC
    for name in greenabc.__all__:
        assert hasattr(greenabc, name), name


def test_submodule_alls_resolve() -> None:
    for module in (interfaces, adapter, signals, aio):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_error_hierarchy() -> None:
    for name in ("UnknownBackendError", "BackendUnavailableError", "PatchError", "TimeoutExpired"):
        assert issubclass(getattr(greenabc, name), greenabc.GreenabcError)
    assert issubclass(greenabc.UnknownBackendError, LookupError)
    assert issubclass(greenabc.TimeoutExpired, TimeoutError)
    assert issubclass(greenabc.SoftTimeout, Exception)
    assert not issubclass(Interrupt, Exception)
    assert issubclass(greenabc.PatchWarning, Warning)


def test_entry_point_group_name() -> None:
    assert greenabc.ENTRY_POINT_GROUP == "greenabc.backends"


def test_aio_surface() -> None:
    assert set(aio.__all__) == {"CANCEL_GRACE", "run", "run_sync"}
