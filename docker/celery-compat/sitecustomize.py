"""Compatibility of the locked pair celery 5.7.0 / apache-airflow-providers-celery 3.26.0 (found by the native
production topology: without this, ``airflow celery worker`` and the scheduler's CeleryExecutor cannot import).

The provider does ``from celery.backends.database import retry``; celery 5.7 removed that decorator. Python
imports this module at start-up when its folder is on PYTHONPATH (the native topology puts it there for
Airflow's components); it restores ``retry`` with celery 5.6's behaviour: a call that raises one of the
backend's retryable database errors is tried again, up to ``max_retries`` (default 3) times in all.
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


_install()
