"""The backend as the registry and users see it."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import greenabc
import greenabc_gevent
from greenabc.adapter import EngineBackend
from greenabc_gevent import CAPABILITIES, GeventEngine, GeventPatcher


def test_the_registry_finds_gevent_through_its_entry_point() -> None:
    found = {ep.name: ep for ep in metadata.entry_points(group=greenabc.ENTRY_POINT_GROUP)}
    assert found["gevent"].value == "greenabc_gevent:backend"
    assert found["gevent"].dist is not None
    assert found["gevent"].dist.name == "greenabc-gevent"
    assert "gevent" in greenabc.available_backends()


def test_the_backend_is_built_from_gevents_primitives(backend: EngineBackend) -> None:
    assert backend.name == "gevent"
    assert isinstance(backend.engine, GeventEngine)
    assert isinstance(backend.patcher, GeventPatcher)
    assert backend.default_pool_size == 1000
    assert backend.create_pool().size == 1000


def test_capabilities_state_what_gevent_can_do(backend: EngineBackend) -> None:
    caps = backend.capabilities
    assert caps is CAPABILITIES
    assert caps.as_dict() == {
        "is_green": True,
        "signal_safe": False,
        "can_interrupt": True,
        "can_interrupt_blocking_calls": True,
        "can_detect_blocking": True,
        "can_patch": True,
        "can_bridge_asyncio": True,
        "notes": list(caps.notes),
    }
    assert any("hub" in note for note in caps.notes)


def test_the_package_is_typed() -> None:
    assert Path(greenabc_gevent.__file__).with_name("py.typed").is_file()
