"""For adapter authors: build a whole Backend from an Engine's primitives.

An adapter implements :class:`greenabc.interfaces.Engine` and exposes a
zero-argument factory in the entry-point group ``greenabc.backends``::

    def backend() -> EngineBackend:
        return EngineBackend("mine", MyEngine(), CAPABILITIES, default_pool_size=1000)

Then ``pytest --greenabc-backend mine`` runs the conformance suite on it.
"""

from __future__ import annotations

from ._core._backend import EngineBackend
from ._core._deadlines import DeadlineHeap
from ._core._early_imports import PATCHABLE_MODULES
from ._core._exceptions import HardTimeoutInterrupt, Interrupt, KillInterrupt, ScopeInterrupt
from ._core._pool import EnginePool
from ._core._primitives import FdWaitTimedOut, boxed, unboxed
from ._core._sync import release_n
from ._core._task import Task
from ._core._timeout import EngineTimeout
from ._core._timer import EngineTimer, EngineTimerEntry
from .interfaces import PROTOCOL_VERSION, Capabilities, Engine

__all__ = [
    "PATCHABLE_MODULES",
    "PROTOCOL_VERSION",
    "Capabilities",
    "DeadlineHeap",
    "Engine",
    "EngineBackend",
    "EnginePool",
    "EngineTimeout",
    "EngineTimer",
    "EngineTimerEntry",
    "FdWaitTimedOut",
    "HardTimeoutInterrupt",
    "Interrupt",
    "KillInterrupt",
    "ScopeInterrupt",
    "Task",
    "boxed",
    "release_n",
    "unboxed",
]
