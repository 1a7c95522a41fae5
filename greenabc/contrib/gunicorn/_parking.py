"""Idle connections parked in a selector, for engines whose tasks are OS threads.

On threads, a connection waiting for its next request in ``recv`` holds a
thread, and a hundred of them wake at once and fight over the GIL in no
order. :class:`Parking` is one thread of the worker, blocked in a selector
over the listeners and every idle connection (a new one, or one kept alive
after its response): it accepts, closes the idle ones whose ``--keep-alive``
ran out, and hands each new connection, and each parked one that has a
request to read, to ``dispatch`` (a task of the worker's Pool), in the order
the selector reports them. Only connections with a request in progress hold
a thread; a task gives its connection back with :meth:`Parking.park` when
the response is out and the connection stays open, or when a new one had
not sent its request yet.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import os
import selectors
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from gunicorn import util

#: accept() errors that say the process is short of a resource: wait, go on.
SHORT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
#: Seconds accepting pauses after such an error.
ACCEPT_PAUSE = 0.5
#: Connections accepted per readiness of a listener, at most (then the others' turn).
ACCEPT_BATCH = 64
#: Seconds a stopping worker keeps an idle connection open, at most (gthread's
#: figure): a request the client was already sending is answered, with
#: ``Connection: close``, instead of cut.
STOP_LINGER = 2.0
#: recv() flags that look at a socket without waiting or taking (0: no such flags here).
PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT if hasattr(socket, "MSG_DONTWAIT") else 0
#: Seconds between two looks at the pool while stopping (it says nothing when it empties).
STOP_POLL = 0.05


@dataclass(eq=False)
class Connection:
    """A client connection and what it keeps between two requests."""

    sock: socket.socket
    addr: Any
    listener: socket.socket
    listener_name: Any
    parser: Any = None  # gunicorn's request parser, made by the first task
    proxy_protocol_info: dict[str, Any] = field(default_factory=dict)
    #: The park this connection is in (None: a task holds it), for the deadline heap.
    ticket: int | None = None


class Parking:
    """The listeners and the idle connections in one selector, run by :meth:`run`
    on a thread of its own. ``dispatch`` runs on that thread and may block
    (a full pool); it owns the connection it is given."""

    def __init__(
        self,
        listeners: list[socket.socket],
        dispatch: Callable[[Connection], None],
        keepalive: float,
        alive: Callable[[], bool],
        idle: Callable[[], bool],
        log: Any,
    ) -> None:
        self._dispatch = dispatch
        self._alive = alive  # whether the worker still accepts (--max-requests turns it off)
        self._keepalive = keepalive or None  # 0: no keep-alive, no limit on a new connection's wait
        self._idle = idle  # whether no task is running (so none can give a connection back)
        self._log = log
        self._names = {listener: listener.getsockname() for listener in listeners}
        self._selector = selectors.DefaultSelector()
        self._accepting = False
        self._accept_again = 0.0  # when accepting resumes after a pause
        self._stopping: float | None = None  # the linger's end, once stopping
        self._closing = False
        self._done = False
        self._parked: dict[int, Connection] = {}  # fd -> connection
        self._deadlines: list[tuple[float, int, Connection]] = []  # a heap
        self._tickets = itertools.count()
        self._returned: deque[Connection] = deque()  # given back by tasks, to park
        self._asleep = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        for listener in listeners:
            listener.setblocking(False)
        self._set_accepting(True)

    # -- from any thread ---------------------------------------------------

    @property
    def held(self) -> int:
        """Connections parked or on their way to be."""
        return len(self._parked) + len(self._returned)

    def park(self, conn: Connection) -> None:
        """Take *conn* back until its next request (from the task that served it)."""
        if self._done:  # a task killed at the end, giving back late
            util.close(conn.sock)
            return
        self._returned.append(conn)
        if self._asleep:  # else the selector looks at _returned before it sleeps
            self._wake()

    def stop(self) -> None:
        """Stop accepting; keep the idle connections a little for a request on its
        way; :meth:`run` returns once nothing is parked and no task runs."""
        if self._stopping is None:
            self._stopping = monotonic() + STOP_LINGER
        self._wake()

    def close(self) -> None:
        """Close every parked connection now; :meth:`run` returns."""
        self._closing = True
        self._wake()

    # -- the selector's thread ---------------------------------------------

    def run(self) -> None:
        try:
            while not self._finished():
                self._step()
        finally:
            self._done = True
            for conn in list(self._parked.values()):
                self._drop(conn)
            while self._returned:
                util.close(self._returned.popleft().sock)
            # The wake-up pipe stays open: a late park() or close() from another
            # thread may still write to it, and the worker process ends soon.
            self._selector.close()

    def _finished(self) -> bool:
        if self._closing:
            return True
        # Only this thread dispatches: with no task running, none can give a
        # connection back, and what is parked is all there is.
        return self._stopping is not None and not self.held and self._idle()

    def _step(self) -> None:
        if self._stopping is None and not self._alive():
            self.stop()
        timeout = self._timeout()
        self._asleep = True
        if self._returned:  # a park() that came before _asleep was set did not wake us
            timeout = 0.0
        try:
            events = self._selector.select(timeout)
        finally:
            self._asleep = False
        for key, _ in events:
            if key.data is None:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            elif isinstance(key.data, Connection):
                self._ready(key.data)
            elif self._stopping is None and self._alive():
                self._accept(key.fileobj)  # type: ignore[arg-type]
            if self._closing:
                return
        while self._returned:
            self._park(self._returned.popleft())
        self._expire()

    def _timeout(self) -> float | None:
        now = monotonic()
        wake_at = [self._deadlines[0][0]] if self._deadlines else []
        if self._stopping is not None:
            wake_at.append(now + STOP_POLL)
        elif not self._accepting:
            wake_at.append(self._accept_again)
        return max(0.0, min(wake_at) - now) if wake_at else None

    def _set_accepting(self, accepting: bool) -> None:
        if accepting == self._accepting:
            return
        for listener in self._names:
            if accepting:
                self._selector.register(listener, selectors.EVENT_READ, self._names[listener])
            else:
                self._selector.unregister(listener)
        self._accepting = accepting

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                client, addr = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in SHORT_OF_RESOURCES:
                    raise
                self._log.error("accept() failed, retrying in %g s: %s", ACCEPT_PAUSE, exc)
                self._accept_again = monotonic() + ACCEPT_PAUSE
                self._set_accepting(False)
                return
            # To a task at once: the request usually came with the connection,
            # and where it did not the task parks it (its look costs a syscall,
            # which lets the GIL go: this thread is the one everything waits on).
            self._dispatch(Connection(client, addr, listener, self._names[listener]))

    def _park(self, conn: Connection) -> None:
        if self._keepalive is None and conn.parser is not None:
            util.close(conn.sock)  # no keep-alive: the task should not have given it back
            return
        limit = self._keepalive
        if self._stopping is not None:
            limit = min(limit or STOP_LINGER, STOP_LINGER)
        ticket = next(self._tickets)
        conn.ticket = ticket
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (OSError, ValueError):  # closed meanwhile
            util.close(conn.sock)
            return
        self._parked[conn.sock.fileno()] = conn
        if limit is not None:
            heapq.heappush(self._deadlines, (monotonic() + limit, ticket, conn))

    def _ready(self, conn: Connection) -> None:
        self._unpark(conn)
        self._dispatch(conn)

    def _unpark(self, conn: Connection) -> None:
        conn.ticket = None
        self._selector.unregister(conn.sock)
        del self._parked[conn.sock.fileno()]

    def _drop(self, conn: Connection) -> None:
        self._unpark(conn)
        util.close(conn.sock)

    def _expire(self) -> None:
        now = monotonic()
        if not self._accepting and self._stopping is None and now >= self._accept_again:
            self._set_accepting(True)
        if self._stopping is not None:
            self._set_accepting(False)
            if now >= self._stopping:
                for conn in list(self._parked.values()):
                    self._drop(conn)
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            _, ticket, conn = heapq.heappop(deadlines)
            if conn.ticket == ticket:  # still in the park this deadline is for
                self._drop(conn)

    def _wake(self) -> None:
        if self._done:
            return
        with contextlib.suppress(OSError):  # full (a wake-up is pending anyway)
            os.write(self._wake_w, b"\0")


def has_data(sock: socket.socket) -> bool:
    """Whether *sock* can be read at once (a request, or the end of it):
    one syscall, where parking costs two and a pass of the selector. Where
    recv() cannot look without waiting, True: the task reads, bounded by
    the keep-alive timeout, as on green engines."""
    if not PEEK:
        return True
    try:
        sock.recv(1, PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True  # the task that reads it finds the error
    return True
