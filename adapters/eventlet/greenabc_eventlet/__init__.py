"""The eventlet backend of greenabc (distribution ``greenabc-eventlet``).

Chosen by name, ``greenabc.get_backend("eventlet")``, through the entry point
``eventlet`` of the group ``greenabc.backends``. Importing this package does
not import eventlet (which warns with ``EventletDeprecationWarning`` when
imported): only calling :func:`backend`, i.e. choosing eventlet, does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._backend import EventletBackend

__all__ = ["backend"]


def backend() -> EventletBackend:
    """The entry-point factory: the eventlet Backend (imports eventlet)."""
    from ._backend import EventletBackend

    return EventletBackend()
