"""The eventlet Backend: the core's semantics over :mod:`._engine`."""

from __future__ import annotations

from greenabc.adapter import EngineBackend

from ._blocking import BlockingDetector
from ._capabilities import CAPABILITIES
from ._engine import EventletEngine
from ._patcher import EventletPatcher

#: eventlet's own ``GreenPool`` default.
DEFAULT_POOL_SIZE = 1000


class EventletBackend(EngineBackend):
    """The eventlet Backend: the core's Pool, Timer and timeout scope over
    eventlet's primitives."""

    def __init__(self) -> None:
        super().__init__(
            "eventlet",
            EventletEngine(),
            CAPABILITIES,
            default_pool_size=DEFAULT_POOL_SIZE,
            patcher=EventletPatcher(),
            blocking_detector=BlockingDetector,
        )
