"""greenabc's gevent backend (entry point ``gevent`` in ``greenabc.backends``).

Patch first, then use the backend by name::

    import greenabc
    greenabc.patch("gevent")
    with greenabc.get_pool("gevent", size=1000) as pool:
        ...

The Pool, Timer and Timeout semantics are the core's; this package supplies
gevent's primitives (:class:`GeventEngine`), patching (:class:`GeventPatcher`)
and blocking detection (:class:`BlockingDetector`).
"""

from __future__ import annotations

from greenabc.adapter import EngineBackend
from greenabc.interfaces import Capabilities

from ._blocking import BlockingDetector, detect_blocking
from ._engine import GeventEngine
from ._patcher import GeventPatcher

__version__ = "0.1.0"

__all__ = [
    "CAPABILITIES",
    "BlockingDetector",
    "GeventEngine",
    "GeventPatcher",
    "backend",
]

CAPABILITIES = Capabilities(
    is_green=True,
    # A plain signal handler runs between two bytecodes of whatever greenlet
    # is current, maybe inside the pool's bookkeeping: it must not call into
    # the pool. A handler installed with gevent.signal_handler runs in a
    # greenlet of its own and may.
    signal_safe=False,
    can_interrupt=True,
    can_interrupt_blocking_calls=True,
    can_detect_blocking=True,
    can_patch=True,
    notes=(
        "interrupts (kill, timeouts) land when the task next yields to the hub:"
        " patched (green) blocking calls do, a CPU loop or an unpatched C call"
        " does not, and while one runs no timer fires and no timeout is reported",
        "timer callbacks run in the hub: they must be quick and must not block"
        " (spawn a greenlet for more)",
        "blocking detection uses gevent's monitor thread; a stall inside the hub"
        " itself (e.g. a blocking timer callback) is not seen",
        "signal handlers may call into a pool only if installed with gevent.signal_handler",
    ),
)


def backend() -> EngineBackend:
    """The entry-point factory of the ``gevent`` backend."""
    return EngineBackend(
        "gevent",
        GeventEngine(),
        CAPABILITIES,
        default_pool_size=1000,
        patcher=GeventPatcher(),
        blocking_detector=detect_blocking,
    )
