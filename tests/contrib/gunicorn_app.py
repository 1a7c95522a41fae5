"""The WSGI application the gunicorn worker's tests serve (``gunicorn_app:app``).

Routes: ``/pid``, ``/sleep?s=`` (``time.sleep``: green where patched),
``/steps?s=`` (short sleeps: an interrupt lands between them on threads too),
``/spin?s=`` (never yields), ``/echo`` (the request body back), ``/stream?mb=``
(a streamed body), ``/file?mb=`` (``wsgi.file_wrapper``), ``/late?s=`` (the
response begins, then the app sleeps), ``/raise?NAME`` (raises SystemExit,
KeyboardInterrupt or RuntimeError), ``/environ`` (a few environ values).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

CHUNK = 64 * 1024


def _number(environ: dict[str, Any], name: str, default: float) -> float:
    return float(parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])[0])


def stream(megabytes: float) -> Iterator[bytes]:
    left = int(megabytes * 1024 * 1024)
    block = 0
    while left > 0:
        size = min(CHUNK, left)
        yield bytes([block % 251]) * size
        left -= size
        block += 1


def _late(seconds: float) -> Iterator[bytes]:
    yield b"started\n"
    for _ in range(int(seconds / 0.01)):
        time.sleep(0.01)
    yield b"finished\n"


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    path = environ["PATH_INFO"]
    headers = [("Content-Type", "application/octet-stream")]
    if path == "/sleep":
        time.sleep(_number(environ, "s", 0.5))
    elif path == "/steps":
        for _ in range(int(_number(environ, "s", 1.0) / 0.01)):
            time.sleep(0.01)
    elif path == "/spin":
        deadline = time.monotonic() + _number(environ, "s", 1.0)
        while time.monotonic() < deadline:
            pass
    elif path == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]
    elif path == "/stream":
        start_response("200 OK", headers)
        return stream(_number(environ, "mb", 10))
    elif path == "/file":
        handle = tempfile.TemporaryFile()  # noqa: SIM115 (the server closes it: wsgi.file_wrapper)
        for chunk in stream(_number(environ, "mb", 1)):
            handle.write(chunk)
        size = handle.tell()
        handle.seek(0)
        start_response("200 OK", [*headers, ("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](handle, CHUNK)
    elif path == "/late":
        start_response("200 OK", headers)
        return _late(_number(environ, "s", 5))
    elif path == "/raise":
        raise {"SystemExit": SystemExit, "KeyboardInterrupt": KeyboardInterrupt}.get(
            environ.get("QUERY_STRING", ""), RuntimeError
        )("raised by the application")
    elif path == "/environ":
        keys = ("SERVER_SOFTWARE", "REMOTE_PORT", "wsgi.url_scheme", "wsgi.multithread")
        body = json.dumps({key: environ.get(key) for key in keys}).encode()
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]
    body = f"{os.getpid()}".encode()
    start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
    return [body]
