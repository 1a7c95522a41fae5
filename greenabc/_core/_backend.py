"""EngineBackend: a whole Backend built from an Engine's primitives."""

from __future__ import annotations

from collections.abc import Callable

from ..interfaces import PROTOCOL_VERSION, Cancellable, Capabilities, Engine, Patcher, TimeoutScope
from ._exceptions import GreenabcError
from ._pool import EnginePool
from ._timeout import EngineTimeout
from ._timer import EngineTimer
from ._validate import check_seconds, check_size


class EngineBackend:
    """The Backend an adapter returns: Pool, Timer and Timeout semantics come
    from the core, the primitives from *engine*.

    *blocking_detector*, if given, is called with a threshold in seconds and
    returns a handle whose ``cancel()`` stops detection.
    """

    protocol_version = PROTOCOL_VERSION

    def __init__(
        self,
        name: str,
        engine: Engine,
        capabilities: Capabilities,
        *,
        default_pool_size: int,
        patcher: Patcher | None = None,
        blocking_detector: Callable[[float], Cancellable] | None = None,
    ) -> None:
        self.name = name
        self.engine = engine
        self.capabilities = capabilities
        self.default_pool_size = check_size(default_pool_size, "default_pool_size")
        self.patcher = patcher
        self._blocking_detector = blocking_detector
        self._scope_lock = engine.lock()

    def __repr__(self) -> str:
        return f"<greenabc Backend {self.name!r}>"

    def create_pool(self, size: int | None = None) -> EnginePool:
        return EnginePool(self.engine, self.default_pool_size if size is None else size, self.name)

    def create_timer(self) -> EngineTimer:
        return EngineTimer(self.engine)

    def timeout(self, seconds: float | None) -> TimeoutScope:
        return EngineTimeout(self.engine, self._scope_lock, seconds)

    def detect_blocking(self, threshold: float) -> Cancellable:
        threshold = check_seconds(threshold, "threshold")
        if self._blocking_detector is None:
            raise GreenabcError(
                f"the {self.name!r} backend cannot detect a blocked hub"
                " (capabilities.can_detect_blocking is False); use a green backend"
            )
        return self._blocking_detector(threshold)
