"""A Timer's entry: the deadline structure's entry itself (see ``_timer.py``).

A module of its own because it subclasses ``list``, which mypyc does not
compile as a native class: ``_timer`` is compiled, this stays interpreted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._timer import EngineTimer


class EngineTimerEntry(list):  # type: ignore[type-arg]
    """One scheduled call (see ``greenabc.interfaces.TimerEntry``): the
    structure's entry ``[when, state, fn, args]`` itself."""

    __slots__ = ("_timer", "cancelled", "interval")
    _timer: EngineTimer
    cancelled: bool
    interval: float | None

    @property
    def deadline(self) -> float:
        return float(self[0])

    def __repr__(self) -> str:
        kind = f"every {self.interval:g} s" if self.interval is not None else "once"
        state = " cancelled" if self.cancelled else ""
        return f"<greenabc TimerEntry at {self.deadline:.3f} {kind}{state}>"

    def cancel(self) -> None:
        """Stop this entry; a repeating entry never fires again."""
        self.cancelled = True  # first: a repeating entry filed again reads it after
        self._timer._deadlines.cancel(self)

    __eq__ = object.__eq__  # an entry is itself, not its contents
    __hash__ = object.__hash__  # type: ignore[assignment]
