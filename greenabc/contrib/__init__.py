"""Integrations of greenabc with other libraries, each imported only when used.

* :mod:`greenabc.contrib.celery`: a Celery worker pool (``-P custom`` with
  ``CELERY_CUSTOM_WORKER_POOL=greenabc.contrib.celery:TaskPool``), on any
  backend. Needs the ``celery`` extra: ``pip install 'greenabc[celery]'``.

The core never imports this package.
"""
