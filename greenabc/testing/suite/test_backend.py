"""The Backend itself: interfaces, capabilities, version, registry."""

from __future__ import annotations

import json

import pytest

import greenabc
from greenabc import interfaces


def test_backend_satisfies_the_interfaces(greenabc_backend: greenabc.Backend) -> None:
    assert isinstance(greenabc_backend, interfaces.Backend)
    assert greenabc_backend.protocol_version == interfaces.PROTOCOL_VERSION
    pool = greenabc_backend.create_pool(1)
    assert isinstance(pool, interfaces.Pool)
    task = pool.spawn(int)
    assert isinstance(task, interfaces.Task)
    pool.close()
    timer = greenabc_backend.create_timer()
    assert isinstance(timer, interfaces.Timer)
    assert isinstance(timer.call_after(10, int), interfaces.TimerEntry)
    timer.stop()
    assert isinstance(greenabc_backend.timeout(1), interfaces.TimeoutScope)


def test_capabilities_are_data(greenabc_backend: greenabc.Backend) -> None:
    caps = greenabc_backend.capabilities
    assert isinstance(caps, interfaces.Capabilities)
    assert json.loads(json.dumps(caps.as_dict()))["is_green"] == caps.is_green
    assert (greenabc_backend.patcher is not None) == caps.can_patch


def test_found_by_name_in_the_registry(
    greenabc_backend: greenabc.Backend, greenabc_backend_name: str
) -> None:
    assert greenabc_backend.name == greenabc_backend_name
    assert greenabc.get_backend(greenabc_backend_name) is greenabc_backend
    assert greenabc_backend_name in greenabc.available_backends()


def test_the_patched_backend_is_the_default(greenabc_backend: greenabc.Backend) -> None:
    if greenabc_backend.capabilities.can_patch:
        assert greenabc.current_backend() == greenabc_backend.name
        assert greenabc.get_backend() is greenabc_backend
    else:
        assert greenabc.current_backend() is None


def test_blocking_detection_matches_capabilities(greenabc_backend: greenabc.Backend) -> None:
    if greenabc_backend.capabilities.can_detect_blocking:
        greenabc_backend.detect_blocking(1.0).cancel()
    else:
        with pytest.raises(greenabc.GreenabcError, match="cannot detect"):
            greenabc_backend.detect_blocking(1.0)
