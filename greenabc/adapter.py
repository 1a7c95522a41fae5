"""For adapter authors: build a whole Backend from an Engine.

An adapter implements :class:`greenabc.interfaces.Engine`, usually by
subclassing :class:`GreenEngineBase` (green threads of one OS thread) or
:class:`OSThreadEngineBase` (OS threads), and exposes a zero-argument factory
in the entry-point group ``greenabc.backends``::

    def backend() -> EngineBackend:
        return EngineBackend("mine", MyEngine(), CAPABILITIES, default_pool_size=1000)

Then ``python -m greenabc.testing mine`` runs the conformance suite on it.
This module exports only what adapters use; greenabc's own backends (threads,
gevent, eventlet) import nothing else of greenabc but ``greenabc.interfaces``.
"""

from __future__ import annotations

from ._core._async_interrupt import ASYNC_INTERRUPTS, send_async_interrupt
from ._core._backend import EngineBackend
from ._core._deadlines import DeadlineHeap
from ._core._early_imports import PATCHABLE_MODULES
from ._core._engine_bases import GreenEngineBase, OSThreadEngineBase
from ._core._exceptions import GreenabcError, PatchError
from ._core._fd import FdWaitTimedOut
from ._core._outcome import boxed, unboxed
from ._core._sync import release_n
from .signals import hub_blocked

__all__ = [
    "ASYNC_INTERRUPTS",
    "PATCHABLE_MODULES",
    "DeadlineHeap",
    "EngineBackend",
    "FdWaitTimedOut",
    "GreenEngineBase",
    "GreenabcError",
    "OSThreadEngineBase",
    "PatchError",
    "boxed",
    "hub_blocked",
    "release_n",
    "send_async_interrupt",
    "unboxed",
]
