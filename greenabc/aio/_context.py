"""What crosses with a call, in a context variable: the link between the
loop and the engine thread on the far side, so a nested call goes back the
way it came."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from .._core._backend import EngineBackend
from .._core._exceptions import GreenabcError
from .._core._registry import get_backend
from ._link import Link

#: Set in the context of a coroutine that ``run`` started (the engine thread
#: it came from) and of a function that ``run_sync`` runs (the loop that
#: awaits it).
origin: ContextVar[Link] = ContextVar("greenabc_aio_origin")

#: greenabc.current_task()'s cell in a coroutine: no task (a coroutine is not
#: one, even if the context it copied was a task's). Never written.
NO_TASK: list[Any] = [None]


def engine_backend(name: str | None, came_from: Link | None) -> EngineBackend:
    """The backend *name*; by default the one the call came from, else
    ``greenabc.get_backend()``'s."""
    if came_from is not None and (name is None or name == came_from.backend.name):
        return came_from.backend
    backend = get_backend(name)
    if not backend.capabilities.can_bridge_asyncio:
        raise GreenabcError(
            f"greenabc.aio: the {backend.name!r} backend declares can_bridge_asyncio=False"
        )
    if not isinstance(backend, EngineBackend):
        raise GreenabcError(f"greenabc.aio needs a backend built on greenabc.adapter: {backend!r}")
    return backend
