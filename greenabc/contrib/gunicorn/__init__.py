"""A gunicorn worker on any greenabc backend.

    GREENABC_BACKEND=eventlet gunicorn -k greenabc.contrib.gunicorn.Worker app:app

The engine comes from ``$GREENABC_BACKEND`` (also read from gunicorn's
``--env``), else the engine already patched, else ``threads``; each worker
process patches it right after the fork, and the arbiter is never patched.
``$GREENABC_REQUEST_TIMEOUT`` (seconds) limits each request. Needs the
``gunicorn`` extra: ``pip install -e '.[gunicorn]'`` from a checkout (once
published: ``pip install 'greenabc[gunicorn]'``). See docs/gunicorn.md.
"""

from ._settings import ENV_REQUEST_TIMEOUT, WorkerSettings
from ._worker import Worker

__all__ = ["ENV_REQUEST_TIMEOUT", "Worker", "WorkerSettings"]
