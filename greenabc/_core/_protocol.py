"""The one check of the adapter protocol's version: an Engine (when its
``EngineBackend`` is built) or a Backend not built on one (when the registry
loads it) must declare ``greenabc.interfaces.PROTOCOL_VERSION`` and have
every member of it."""

from __future__ import annotations

from ..interfaces import BACKEND_MEMBERS, ENGINE_MEMBERS, PROTOCOL_VERSION
from ._exceptions import GreenabcError


class ProtocolMismatch(GreenabcError):
    """An adapter written for another version of the adapter protocol.
    *newer*: it was written for a newer greenabc than this one."""

    def __init__(self, message: str, *, newer: bool) -> None:
        super().__init__(message)
        self.newer = newer

    def upgrade(self, owner: str) -> str:
        """What to upgrade, for a message: *owner* is the adapter's
        distribution (or a description of it)."""
        if self.newer:
            return "upgrade greenabc: pip install -U greenabc"
        return f"upgrade {owner}, or use a greenabc release it supports"


def check_engine(engine: object) -> None:
    _check(engine, f"engine {type(engine).__qualname__}", ENGINE_MEMBERS, "Engine")


def check_backend(backend: object) -> None:
    _check(backend, "backend", BACKEND_MEMBERS, "Backend")


def _check(obj: object, what: str, members: frozenset[str], protocol: str) -> None:
    version = getattr(obj, "protocol_version", None)
    if version != PROTOCOL_VERSION:
        declared = (
            "declares no adapter protocol version"
            if version is None
            else f"implements adapter protocol version {version!r}"
        )
        raise ProtocolMismatch(
            f"its {what} {declared}; this greenabc implements version {PROTOCOL_VERSION}",
            newer=isinstance(version, int) and version > PROTOCOL_VERSION,
        )
    missing = sorted(name for name in members if not hasattr(obj, name))
    if missing:
        raise ProtocolMismatch(
            f"its {what} declares adapter protocol version {version} but lacks"
            f" {', '.join(missing)} (see greenabc.interfaces.{protocol})",
            newer=False,
        )
