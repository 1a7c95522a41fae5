"""Integrations of greenabc with other libraries, each imported only when used.

* :mod:`greenabc.contrib.celery`: a Celery worker pool (``-P custom`` with
  ``CELERY_CUSTOM_WORKER_POOL=greenabc.contrib.celery:TaskPool``), on any
  backend. Needs the ``celery`` extra: ``pip install -e '.[celery]'`` from a
  checkout (once published: ``pip install 'greenabc[celery]'``).
* :mod:`greenabc.contrib.gunicorn`: a gunicorn worker
  (``-k greenabc.contrib.gunicorn.Worker``) on any backend. Needs the
  ``gunicorn`` extra: ``pip install -e '.[gunicorn]'`` from a checkout (once
  published: ``pip install 'greenabc[gunicorn]'``).

The core never imports this package.
"""
