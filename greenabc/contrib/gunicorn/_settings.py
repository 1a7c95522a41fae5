"""What the worker reads from its environment, checked before it patches."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ... import current_backend
from ..._core._registry import ENV_BACKEND

#: Seconds a request may take, from its first byte read to its last written.
ENV_REQUEST_TIMEOUT = "GREENABC_REQUEST_TIMEOUT"


@dataclass(frozen=True)
class WorkerSettings:
    """The backend a worker runs on and its per-request time limit."""

    backend: str
    request_timeout: float | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerSettings:
        """Read ``$GREENABC_BACKEND`` (else the patched engine, else
        ``threads``) and ``$GREENABC_REQUEST_TIMEOUT`` (unset, empty or 0: no
        limit). Raises ``ValueError`` naming the variable when one is bad."""
        backend = env.get(ENV_BACKEND, "").strip() or current_backend() or "threads"
        raw = env.get(ENV_REQUEST_TIMEOUT, "").strip()
        try:
            limit = float(raw) if raw else 0.0
        except ValueError:
            limit = math.nan
        if not (0 <= limit < math.inf):  # also NaN
            raise ValueError(
                f"${ENV_REQUEST_TIMEOUT} must be a number of seconds (0 or unset: no"
                f" limit), got {raw!r}"
            )
        return cls(backend, limit or None)
