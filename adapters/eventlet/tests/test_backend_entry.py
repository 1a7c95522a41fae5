"""Import hygiene, the entry point, and capabilities."""

from __future__ import annotations

import json
from importlib import metadata

import greenabc
from conftest import RunPython
from greenabc_eventlet._backend import EventletBackend
from greenabc_eventlet._capabilities import CAPABILITIES


def test_importing_the_adapter_or_listing_backends_imports_no_eventlet(
    run_python: RunPython,
) -> None:
    result = run_python(
        """
        import json, sys, warnings
        warnings.simplefilter("error")  # an eventlet import would warn, hence fail
        import greenabc, greenabc_eventlet
        names = greenabc.available_backends()
        print(json.dumps([names, "eventlet" in sys.modules]))
        """
    )
    assert result.returncode == 0, result.stderr
    names, imported = json.loads(result.stdout)
    assert "eventlet" in names
    assert imported is False


def test_choosing_eventlet_imports_it_and_its_warning_is_not_hidden(
    run_python: RunPython,
) -> None:
    result = run_python(
        """
        import json, sys, warnings
        import greenabc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            backend = greenabc.get_backend("eventlet")
        kinds = sorted({type(w.message).__name__ for w in caught})
        filters = [f for f in warnings.filters if "Eventlet" in str(f[2])]
        print(json.dumps([backend.name, "eventlet" in sys.modules, kinds, len(filters)]))
        """
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["eventlet", True, ["EventletDeprecationWarning"], 0]


def test_the_registry_finds_eventlet_through_its_entry_point() -> None:
    (entry,) = (
        ep
        for ep in metadata.entry_points(group=greenabc.ENTRY_POINT_GROUP)
        if ep.name == "eventlet"
    )
    assert entry.value == "greenabc_eventlet:backend"
    assert entry.dist is not None
    assert entry.dist.name == "greenabc-eventlet"
    assert isinstance(greenabc.get_backend("eventlet"), EventletBackend)


def test_capabilities_state_what_eventlet_can_do(backend: EventletBackend) -> None:
    assert backend.capabilities is CAPABILITIES
    assert CAPABILITIES.is_green
    assert CAPABILITIES.can_interrupt
    assert CAPABILITIES.can_patch
    assert CAPABILITIES.can_detect_blocking
    assert not CAPABILITIES.signal_safe
    assert CAPABILITIES.can_interrupt_blocking_calls  # patched calls wait in the hub
    assert backend.create_pool().size == 1000
