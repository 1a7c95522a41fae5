"""``python -m greenabc demo``: 20 slow HTTP requests on one backend, at once.

A loopback HTTP server answers each request after DELAY seconds; a pool
fetches them all with plain ``urllib``. Concurrent, they take about one
DELAY, not their sum. Then a timeout and a hard task timeout, on the same
backend.
"""

from __future__ import annotations

import os

from . import parser as cli_parser


def main(argv: list[str]) -> int:
    parser = cli_parser("demo")
    parser.add_argument(
        "--backend", default=None, help="backend name (default: $GREENABC_BACKEND, else threads)"
    )
    args = parser.parse_args(argv)
    import greenabc
    from greenabc._core._registry import ENV_BACKEND

    if args.backend is not None or os.environ.get(ENV_BACKEND):
        greenabc.patch(args.backend)  # first: green backends need patched sockets
    from . import _demo_app

    return _demo_app.run(args)
