"""Patching through greenabc, keyed by standard-library module name."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time

import gevent.socket
import pytest
from gevent import monkey

import greenabc
from greenabc._core._patching import PATCHABLE_MODULES
from greenabc.adapter import EngineBackend
from greenabc_gevent import GeventPatcher

DEFAULT = ["os", "queue", "select", "selectors", "signal", "socket", "ssl", "subprocess"]
DEFAULT += ["threading", "time"]


def test_this_process_was_patched_with_the_defaults(backend: EngineBackend) -> None:
    assert backend.patcher is not None
    assert backend.patcher.patch() == sorted(DEFAULT)  # again: idempotent, and no warning
    assert greenabc.patch("gevent") == sorted(DEFAULT)
    assert socket.socket is gevent.socket.socket


def test_is_patched_is_keyed_by_stdlib_module_name(backend: EngineBackend) -> None:
    assert backend.patcher is not None
    for name in DEFAULT:
        assert backend.patcher.is_patched(name), name
    assert not backend.patcher.is_patched("sys")  # off unless asked for, as in patch_all
    assert not backend.patcher.is_patched("no_such_module")


def test_original_is_the_object_before_patching(backend: EngineBackend) -> None:
    assert backend.patcher is not None
    real_sleep = backend.patcher.original("time", "sleep")
    assert real_sleep is not time.sleep
    assert real_sleep is monkey.get_original("time", "sleep")
    assert backend.patcher.original("socket", "socket") is not socket.socket
    assert backend.patcher.original("time", "monotonic") is time.monotonic  # never patched


def test_unknown_options_are_refused_with_the_names_there_are() -> None:
    with pytest.raises(ValueError, match="one of") as info:
        GeventPatcher().patch(sockets=False)
    assert "'socket'" in str(info.value)


def test_another_engine_cannot_be_patched_on_top() -> None:
    with pytest.raises(greenabc.PatchError, match="'gevent' is already patched"):
        greenabc.patch("eventlet")


def _patch_in_a_fresh_process(**options: bool) -> dict[str, object]:
    code = textwrap.dedent(
        f"""
        import json
        from greenabc_gevent import GeventPatcher
        from gevent import monkey
        patched = GeventPatcher().patch(**{options!r})
        dns = monkey.is_object_patched("socket", "getaddrinfo")
        print(json.dumps({{"patched": patched, "dns": dns}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize(
    ("options", "off"),
    [
        ({"ssl": False, "subprocess": False}, {"ssl", "subprocess"}),
        ({"socket": False}, {"socket"}),
        ({"threading": False, "queue": False}, {"threading", "queue"}),
        ({"selectors": False}, {"selectors"}),
        ({"select": False}, {"select"}),
    ],
)
def test_options_map_onto_patch_all(options: dict[str, bool], off: set[str]) -> None:
    result = _patch_in_a_fresh_process(**options)
    assert result["patched"] == sorted(set(DEFAULT) - off)
    assert result["dns"] is ("socket" not in off)  # gevent's dns follows socket


def test_sys_and_builtins_are_accepted_but_gevent_patches_nothing_for_them() -> None:
    result = _patch_in_a_fresh_process(sys=True, builtins=True)
    assert result["patched"] == sorted(DEFAULT)


def test_every_option_name_is_a_stdlib_module_name() -> None:
    for name in PATCHABLE_MODULES:
        assert name in sys.stdlib_module_names
