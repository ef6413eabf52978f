"""Compatibility of the locked pair celery 5.7.0 / apache-airflow-providers-celery 3.26.0 (found by the native
production topology: without this, ``airflow celery worker`` and the scheduler's CeleryExecutor cannot import).

Two breaks, both repaired here. Python imports this module at start-up when its folder is on PYTHONPATH (the
native topology puts it there for Airflow's components).

- The provider does ``from celery.backends.database import retry``; celery 5.7 removed that decorator. It is
  restored with celery 5.6's behaviour: a call that raises one of the backend's retryable database errors is
  tried again, up to ``max_retries`` (default 3) times in all.
- The provider's bulk state fetch hands celery rows whose ``result`` is still encoded (bytes); celery 5.7's
  ``exception_to_python`` then raises ``TypeError`` and the scheduler exits, again at every start while the
  row is there (seen with a task that raised in a worker). Encoded results are decoded first.
Remove it once the lock pairs versions that import (celery < 5.7, or a provider that supports 5.7).
"""

from __future__ import annotations

import functools


def _install() -> None:
    try:
        import celery.backends.database as database
    except ImportError:  # no celery, or no SQLAlchemy: nothing to repair
        return
    if hasattr(database, "retry"):
        return

    def retry(fun):
        @functools.wraps(fun)
        def _inner(*args, **kwargs):
            max_retries = kwargs.pop("max_retries", 3)
            for attempt in range(max_retries):
                try:
                    return fun(*args, **kwargs)
                except database.RETRYABLE_DB_ERRORS:
                    if attempt + 1 >= max_retries:
                        raise
            return None

        return _inner

    database.retry = retry
    from celery.backends.base import Backend

    original = Backend.exception_to_python

    def exception_to_python(self, exc):
        if isinstance(exc, (bytes, bytearray)):
            exc = self.decode(exc)
        return original(self, exc)

    Backend.exception_to_python = exception_to_python


_install()
