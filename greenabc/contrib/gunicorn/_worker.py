"""``greenabc.contrib.gunicorn.Worker``: gunicorn's async worker on a greenabc Pool.

HTTP is gunicorn's own (``AsyncWorker.handle`` and ``handle_request``: keep-alive,
chunked bodies, sendfile, HTTP/2, hooks, access log); this module owns how
connections are accepted and run, the heartbeat, signals and shutdown, and the
per-request time limit.

Two ways to run connections, chosen by the engine's capabilities. On a green
engine each connection is a task for its whole life, its keep-alive wait a
green ``recv``. Where tasks are OS threads, idle connections are parked in a
selector (``_parking``) and each request ready to read is a task, as
gunicorn's gthread worker does: a thread per idle connection would cost the
GIL, not only memory.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import os
import socket
import ssl
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from http import HTTPStatus
from time import monotonic
from types import FrameType, TracebackType
from typing import Any

from gunicorn import http, util
from gunicorn.arbiter import Arbiter
from gunicorn.http.body import LengthReader
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.http2.negotiation import prior_knowledge_allowed
from gunicorn.sock import is_http2_negotiated, ssl_wrap_socket
from gunicorn.workers.base_async import AsyncWorker

import greenabc

from ..._core._async_interrupt import shield_dropping, unshield
from ...interfaces import Backend, Pool, Task
from ._config import settle
from ._parking import SHORT_OF_RESOURCES, Connection, Parking, has_data
from ._settings import WorkerSettings

#: Seconds between two heartbeats at most (gunicorn's own workers use 1 s).
HEARTBEAT = 1.0
#: Seconds kept, at most, out of --graceful-timeout to stop what still runs.
STOP_RESERVE = 1.0
#: Bytes per os.sendfile call on a green socket.
SENDFILE_BLOCK = 1 << 20


@dataclass
class _Request:
    """One request in flight, for the time-limit answer and the shutdown log."""

    method: str
    uri: str
    started: float = field(default_factory=monotonic)
    response: Any = None  # gunicorn's Response once the app called start_response

    def describe(self, now: float) -> str:
        return f"{self.method} {self.uri} ({now - self.started:.1f} s)"


#: The request the current task is serving (tasks never share one).
_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "greenabc_gunicorn_request", default=None
)


class _IdleTimeout:
    """``AsyncWorker``'s wait for the next request on a kept-alive connection.
    The socket's own timeout bounds it (it works the same on every backend,
    where an interrupt would not reach a thread blocked in ``recv``); running
    out means the client had nothing more to ask, so the connection closes."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        return isinstance(exc, socket.timeout) and not isinstance(exc, greenabc.TimeoutExpired)


class Worker(AsyncWorker):  # type: ignore[misc]
    """gunicorn's worker on a greenabc backend: ``-k greenabc.contrib.gunicorn.Worker``.

    Each connection is a task of :attr:`pool` (``--worker-connections`` at
    once, on threads too); the heartbeat runs on the engine, so a worker whose
    hub is blocked is killed by the arbiter after ``--timeout``.
    """

    settings: WorkerSettings
    backend: Backend
    alive: bool
    sockets: list[socket.socket]
    wsgi: Callable[..., Any]
    #: The pool serving the connections (its ``stats()``, ``greenabc.signals``).
    pool: Pool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._quitting = False
        self._reopen_logs = False
        self._in_flight: dict[int, _Request] = {}
        self._parking: Parking | None = None  # where tasks are OS threads

    # -- boot ------------------------------------------------------------

    def init_process(self) -> None:
        try:
            self.settings = WorkerSettings.from_env({**os.environ, **(self.cfg.env or {})})
            self.backend = greenabc.get_backend(self.settings.backend)
            with warnings.catch_warnings():
                # The arbiter imported socket, ssl and threading: expected here.
                warnings.simplefilter("ignore", greenabc.PatchWarning)
                greenabc.patch(self.settings.backend)
        except (greenabc.GreenabcError, ValueError) as exc:
            # One line, and an exit code that makes the arbiter stop rather than
            # fork a worker that fails the same way, again and again.
            self.log.error("greenabc worker cannot start: %s", str(exc).splitlines()[0])
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
        self.sockets = [_reopened(listener) for listener in self.sockets]
        settle(self.cfg)
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = _noting_the_response(self.wsgi)

    # -- the main loop ---------------------------------------------------

    def run(self) -> None:
        self.log.info(
            "greenabc worker on %s: %d connections at once%s",
            self.backend.name,
            self.worker_connections,
            ""
            if self.settings.request_timeout is None
            else f", {self.settings.request_timeout:g} s per request",
        )
        self.pool = self.backend.create_pool(self.worker_connections)
        if self.backend.capabilities.is_green:
            for listener in self.sockets:
                # A timeout, not setblocking(False): a non-blocking eventlet socket's
                # accept() returns the raw socket, whose recv would block the hub.
                listener.settimeout(HEARTBEAT)
            front = [self.backend.spawn(self._accept, listener) for listener in self.sockets]
        else:
            self._parking = Parking(
                self.sockets,
                self._dispatch,
                self.cfg.keepalive,
                alive=lambda: self.alive,
                idle=lambda: self.pool.join(timeout=0),
                log=self.log,
            )
            front = [self.backend.spawn(self._parking.run)]
        while self.alive:
            self.notify()
            self._wait_for_signals(min(HEARTBEAT, self.timeout))
            if self.alive and any(task.ready() for task in front):
                self.log.error("greenabc worker stopped accepting: %r", _failure(front))
                self.alive = False
        if self._quitting:
            self.cfg.worker_int(self)
            self.pool.close(timeout=0)
            if self._parking is not None:
                self._parking.close()
        else:
            self._shut_down(front)

    def notify(self) -> None:
        super().notify()
        if self.ppid != os.getppid():
            self.log.info("Parent changed, shutting down: %s", self)
            self.alive = False

    def _wait_for_signals(self, seconds: float) -> None:
        # gunicorn's base worker writes every signal to PIPE (set_wakeup_fd):
        # the wait ends at once, and the flags the handlers set are acted on here,
        # outside the handler, where blocking calls are safe on every engine.
        # One read: eventlet's os.read waits instead of raising EAGAIN.
        if self.backend.wait_readable(self.PIPE[0], seconds):
            with contextlib.suppress(BlockingIOError):
                os.read(self.PIPE[0], 4096)
        if self._reopen_logs:
            self._reopen_logs = False
            self.log.reopen_files()

    def _accept(self, listener: socket.socket) -> None:
        while self.alive:
            try:
                client, addr = listener.accept()
            except (TimeoutError, InterruptedError):  # nothing for a heartbeat: alive?
                continue
            except OSError as exc:
                if not self.alive:
                    return
                if exc.errno not in SHORT_OF_RESOURCES:
                    raise
                self.log.error("accept() failed, retrying in 0.5 s: %s", exc)
                self.backend.sleep(0.5)
                continue
            try:
                self.pool.spawn(self._serve, listener, client, addr)  # waits for a free slot
            except greenabc.PoolClosed:
                util.close(client)
                return

    def _serve(self, listener: socket.socket, client: socket.socket, addr: Any) -> None:
        # Until a request arrives, the connection waits at most --keep-alive seconds.
        client.setblocking(True)
        client.settimeout(self.cfg.keepalive or None)
        if self.cfg.is_ssl:
            try:
                client = ssl_wrap_socket(client, self.cfg)
            except OSError as exc:  # ssl.SSLError is one
                self.log.debug("TLS handshake with %s failed: %s", addr, exc)
                util.close(client)
                return
        if not hasattr(type(client), "sendfile"):
            # eventlet's green socket hands sendfile() to the non-blocking socket
            # under it, where the stdlib refuses it: gunicorn's sendfile failed.
            client.sendfile = functools.partial(_sendfile, self.backend, client)  # type: ignore[method-assign]
        self.handle(listener, client, addr)

    def timeout_ctx(self) -> _IdleTimeout:
        return _IdleTimeout()

    # -- connections parked between requests (OS-thread engines) -----------

    def _dispatch(self, conn: Connection) -> None:
        """On the parking's thread: *conn* is new, or parked with a request to
        read; a task serves it."""
        try:
            self.pool.spawn(self._serve_ready, conn)  # waits for a free slot
        except greenabc.PoolClosed:
            util.close(conn.sock)

    def _serve_ready(self, conn: Connection) -> None:
        """A task: serve what *conn* has ready, then park it or close it."""
        parking = self._parking
        assert parking is not None
        if conn.parser is None and not has_data(conn.sock):
            parking.park(conn)  # new, and nothing to read yet: it waits in the selector
            return
        keep = False
        try:
            keep = self._serve_requests(conn)
        finally:
            if keep:
                parking.park(conn)
            else:
                util.close(conn.sock)

    def _serve_requests(self, conn: Connection) -> bool:
        """``AsyncWorker.handle`` for a connection that goes back to the parking
        between requests: serve the requests it has ready; True to park it."""
        if conn.parser is None and not self._open(conn):
            return False
        sock, addr = conn.sock, conn.addr
        keepalive = self.cfg.keepalive or None
        req = None
        try:
            try:
                if conn.parser is None:
                    if isinstance(sock, ssl.SSLSocket) and not self.cfg.do_handshake_on_connect:
                        sock.do_handshake()
                    if is_http2_negotiated(sock) or prior_knowledge_allowed(self.cfg, addr):
                        self.handle(conn.listener, sock, addr)  # gunicorn's own, to the end
                        return False
                    conn.parser = http.get_parser(self.cfg, sock, addr)
                while True:
                    req = None
                    if sock.gettimeout() != keepalive:
                        # Each settimeout() is a syscall that lets the GIL go: one per request.
                        sock.settimeout(keepalive)
                    with self.timeout_ctx():  # a request that stalls half-way
                        req = next(conn.parser)
                    if not req:
                        return False
                    if self._try_h2c_upgrade(conn.listener, req, conn.parser, sock, addr):
                        return False
                    if req.proxy_protocol_info:
                        conn.proxy_protocol_info = req.proxy_protocol_info
                    else:
                        req.proxy_protocol_info = conn.proxy_protocol_info
                    self.handle_request(conn.listener_name, req, sock, addr)
                    if not self.cfg.keepalive:
                        return False
                    if _body_left(req) and not conn.parser.finish_body(
                        deadline=monotonic() + self.cfg.keepalive
                    ):
                        return False  # where the next request starts is unknown
                    if not _buffered(conn):
                        return True  # the selector tells when the next one comes
            except http.errors.NoMoreData as exc:
                self.log.debug("Ignored premature client disconnection. %s", exc)
            except StopIteration as exc:
                self.log.debug("Closing connection. %s", exc)
            except (ssl.SSLError, OSError):
                raise
            except Exception as exc:
                self.handle_error(req, sock, addr, exc)
        except ssl.SSLError as exc:
            if exc.args[0] != ssl.SSL_ERROR_EOF:
                self.log.debug("Error processing SSL request.")
                self.handle_error(req, sock, addr, exc)
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.exception("Socket error processing request.")
        except BaseException as exc:
            self.handle_error(req, sock, addr, exc)
        return False

    def _open(self, conn: Connection) -> bool:
        """A new connection's first task: its keep-alive timeout and TLS."""
        conn.sock.settimeout(self.cfg.keepalive or None)
        if self.cfg.is_ssl:
            try:
                conn.sock = ssl_wrap_socket(conn.sock, self.cfg)
            except OSError as exc:  # ssl.SSLError is one
                self.log.debug("TLS handshake with %s failed: %s", conn.addr, exc)
                return False
        return True

    # -- one request -----------------------------------------------------

    def handle_request(self, listener_name: Any, req: Any, sock: socket.socket, addr: Any) -> bool:
        request = _Request(req.method, req.uri)
        key = id(request)
        self._in_flight[key] = request
        token = _current.set(request)
        sock.settimeout(None)  # the request itself is bounded by its time limit, if any
        limit = self.settings.request_timeout
        try:
            if limit is None:
                return bool(super().handle_request(listener_name, req, sock, addr))
            scope = self.backend.timeout(limit)
            try:
                with scope:
                    return bool(super().handle_request(listener_name, req, sock, addr))
            except greenabc.TimeoutExpired:
                if not scope.expired:
                    raise  # the application's own
                self._overran(request, req, sock, addr, limit)
                raise StopIteration from None  # AsyncWorker.handle closes the connection
        except BaseException:
            # Killed (graceful timeout, quick exit): a 503 where nothing of the
            # response has gone out yet, and the task ends as killed.
            if _doomed() and (request.response is None or not request.response.headers_sent):
                self._answer_killed(request, req, sock, addr)
            raise
        finally:
            _current.reset(token)
            del self._in_flight[key]
            if self._parking is None:  # parked, the socket needs no timeout until it is ready
                sock.settimeout(self.cfg.keepalive or None)

    def _overran(
        self, request: _Request, req: Any, sock: socket.socket, addr: Any, limit: float
    ) -> None:
        response = request.response
        if response is not None and response.headers_sent:
            self.log.warning(
                "Request %s overran its %g s limit after its response began: connection closed",
                request.describe(monotonic()),
                limit,
            )
            _close(sock)
            return
        self.log.warning(
            "Request %s overran its %g s limit: answered 503", request.describe(monotonic()), limit
        )
        self._answer(request, req, sock, addr, 503, f"The request took over {limit:g} s.")

    def _answer_killed(self, request: _Request, req: Any, sock: socket.socket, addr: Any) -> None:
        # On threads the kill is re-sent every 10 ms and lands at any bytecode:
        # the 503 goes out shielded (on a green engine only a switch lets one in).
        shielded = not self.backend.capabilities.is_green
        if shielded:
            shield_dropping()
        try:
            self._answer(request, req, sock, addr, 503, "The server is shutting down.")
        finally:
            if shielded:
                unshield()

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        if not _doomed():  # a kill was answered where it landed
            super().handle_error(req, client, addr, exc)

    def _answer(
        self, request: _Request, req: Any, sock: socket.socket, addr: Any, status: int, text: str
    ) -> None:
        """Send a short error response and log it as gunicorn logs its own."""
        reason = HTTPStatus(status).phrase
        host, port = addr or ("", -1)  # no address on a UNIX socket
        environ = default_environ(req, sock, self.cfg)
        environ.update(REMOTE_ADDR=host, REMOTE_PORT=str(port))
        response = Response(req, sock, self.cfg)
        response.status = f"{status} {reason}"
        response.response_length = len(text)
        self.log.access(response, req, environ, timedelta(seconds=monotonic() - request.started))
        try:
            util.write_error(sock, status, reason, text)
        except OSError:
            self.log.debug("Failed to send the %d response.", status)

    # -- shutting down ---------------------------------------------------

    def _shut_down(self, front: list[Task[None]]) -> None:
        """Stop accepting, let the connections finish for --graceful-timeout
        (heartbeat going on), then stop the rest, saying what they were.
        *front*: the acceptors, or the parking's thread (it ends when no
        connection is left)."""
        # The arbiter SIGKILLs at --graceful-timeout: stop the rest a little
        # before, so that they get their 503 and the log says what they were.
        graceful = self.cfg.graceful_timeout
        reserve = min(STOP_RESERVE, graceful / 4)
        sigkill = monotonic() + graceful  # the arbiter's clock started a little earlier
        deadline = sigkill - reserve
        if self._parking is not None:
            self._parking.stop()
        running = self._connections()
        if running:
            self.log.info(
                "Graceful shutdown: %d connections open, %d requests in flight: %s",
                running,
                len(self._in_flight),
                _listing(tuple(self._in_flight.values())),
            )
        while (left := deadline - monotonic()) > 0:
            self.notify()
            step = min(HEARTBEAT, left)
            accepting = [task for task in front if not task.ready()]
            if accepting:  # one may hold a connection it accepted, waiting for a slot
                accepting[0].wait(step)
            elif self.pool.join(timeout=step):
                break
        if left := self._connections():
            self.log.warning(
                "Worker graceful timeout (pid:%s): stopping %d connections, %d requests: %s",
                self.pid,
                left,
                len(self._in_flight),
                _listing(tuple(self._in_flight.values())),
            )
        self.pool.close(timeout=0)  # an acceptor still waiting for a slot gets PoolClosed
        # The killed answer their 503 on their way out (on threads the kill
        # lands at a bytecode boundary, late on a loaded machine): wait for
        # that, out of the reserve, short of the SIGKILL.
        self.pool.join(timeout=max(0.0, sigkill - reserve / 4 - monotonic()))
        if self._parking is not None:
            self._parking.close()

    def _connections(self) -> int:
        """Connections open: served by a task, or parked."""
        parked = 0 if self._parking is None else self._parking.held
        return self.pool.stats()["running"] + parked

    # -- signals (gunicorn's handlers, moved out of the signal handler) ----

    def handle_quit(self, sig: int, frame: FrameType | None) -> None:
        self._quitting = True
        self.alive = False

    def handle_usr1(self, sig: int, frame: FrameType | None) -> None:
        self._reopen_logs = True


def _noting_the_response(app: Callable[..., Any]) -> Callable[..., Any]:
    """The WSGI app, recording the Response of the request it serves (so that
    a time limit or a kill knows whether anything was sent)."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = _current.get()
        if request is not None:
            request.response = getattr(start_response, "__self__", None)
        return app(environ, start_response)

    return wsgi


def _sendfile(
    backend: Backend, sock: socket.socket, file: Any, offset: int = 0, count: int | None = None
) -> int:
    """``socket.sendfile`` for a socket whose fd is non-blocking under a green
    engine: ``os.sendfile`` (zero copy), waiting on the engine when the socket
    is full. Returns the bytes sent; the file's position ends after them."""
    total = 0
    try:
        while count is None or total < count:
            size = SENDFILE_BLOCK if count is None else min(SENDFILE_BLOCK, count - total)
            try:
                sent = os.sendfile(sock.fileno(), file.fileno(), offset + total, size)
            except BlockingIOError:
                backend.wait_writable(sock, sock.gettimeout())
                continue
            if not sent:
                break  # end of the file
            total += sent
        return total
    finally:
        file.seek(offset + total)


def _buffered(conn: Connection) -> bool:
    """Whether *conn* holds bytes of its next request already read from the
    socket (pipelined, or read ahead with a body): the selector would not
    see them."""
    sock = conn.sock
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    return bool(conn.parser.unreader.buf.seek(0, os.SEEK_END))


def _body_left(req: Any) -> bool:
    """Whether the request's body may still have bytes on the socket (the
    parser then drains them, with I/O, before the next request)."""
    reader = getattr(getattr(req, "body", None), "reader", None)
    return not (isinstance(reader, LengthReader) and reader.length == 0)


def _failure(tasks: list[Task[None]]) -> BaseException | str:
    """Why the first of *tasks* that ended did (it was to run until the end)."""
    for task in tasks:
        if task.ready():
            try:
                task.get(0)
            except BaseException as exc:
                return exc
            return "it returned"
    return "unknown"


def _doomed() -> bool:
    """Whether the current task was killed: its outcome is decided while it
    still runs, and what it raises now is the kill's interrupt."""
    task = greenabc.current_task()
    return task is not None and task.ready()


def _listing(requests: Iterable[_Request]) -> str:
    # Callers pass a tuple: taken at once, while request threads add and remove.
    now = monotonic()
    return "; ".join(request.describe(now) for request in requests) or "none"


def _reopened(listener: Any) -> socket.socket:
    """A socket object of the (maybe patched) socket module on the fd of
    gunicorn's listener, so that what accept() returns is green where the
    engine is."""
    return socket.socket(listener.FAMILY, socket.SOCK_STREAM, fileno=listener.sock.detach())


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    util.close(sock)
