"""File descriptors: what ``wait_readable`` / ``wait_writable`` accept, and
waiting on one in the calling OS thread (for engines whose tasks are OS
threads)."""

from __future__ import annotations

import select

from ..interfaces import FileDescriptorLike

POLL_READ = getattr(select, "POLLIN", 1)
POLL_WRITE = getattr(select, "POLLOUT", 4)


def fileno(fd: FileDescriptorLike) -> int:
    """The fd number of an fd or of an object with ``fileno()``."""
    if isinstance(fd, int) and not isinstance(fd, bool):
        if fd < 0:
            raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
        return fd
    method = getattr(fd, "fileno", None)
    if method is None:
        raise TypeError(f"expected a file descriptor or an object with fileno(), got {fd!r}")
    return fileno(method())


def poll_fd(fd: int, events: int, timeout: float | None) -> bool:
    """Block the calling OS thread until *fd* has one of *events*; False if
    *timeout* seconds pass first."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, events)
        return bool(poller.poll(None if timeout is None else timeout * 1000))
    readable, writable, _ = select.select(  # pragma: no cover (no poll: Windows)
        [fd] if events & 1 else [], [fd] if events & 4 else [], [], timeout
    )
    return bool(readable or writable)


class FdWaitTimedOut(Exception):
    """For an adapter's fd wait to raise on timeout and catch (never escapes)."""
