"""A GraphQL request's time limit, handed to PostgreSQL for the statements the request runs.

The resolvers look at the deadline between steps (``RequestContext.check_deadline``), but
one statement that runs long (a lock waited for, a scan the planner got wrong) would go
past it unseen, holding a worker. On PostgreSQL the time left becomes the connection's
``statement_timeout``, so such a statement is cancelled at the deadline and the request
answers with the same ``timeout`` error as one stopped between steps
(``is_cancelled_statement``).

``statement_timeout`` counts from each statement's start, so the setting is renewed when
the one in force would let a statement run more than ``SLACK`` seconds past the deadline:
a request pays one ``SET`` at its first statement and at most one a second after that.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from django.db import connection

logger = logging.getLogger(__name__)

SLACK = 1.0  # seconds a statement may run past the deadline before the setting is renewed
QUERY_CANCELED = "57014"


class _Limiter:
    """A ``connection.execute_wrapper`` that keeps ``statement_timeout`` within the deadline."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.set_at: float | None = None

    def __call__(self, execute, sql, params, many, context):
        now = time.monotonic()
        if self.set_at is None or now - self.set_at > SLACK:
            milliseconds = max(int((self.deadline - now) * 1000), 1)
            context["connection"].connection.execute(f"SET statement_timeout = {milliseconds}")
            self.set_at = now
        return execute(sql, params, many, context)


@contextlib.contextmanager
def statements_until(deadline: float) -> Iterator[None]:
    """Within the block, no PostgreSQL statement runs past ``deadline`` (+ ``SLACK``)."""
    if connection.vendor != "postgresql":
        yield
        return
    limiter = _Limiter(deadline)
    try:
        with connection.execute_wrapper(limiter):
            yield
    finally:
        if limiter.set_at is not None and connection.connection is not None:
            try:
                connection.connection.execute("RESET statement_timeout")
            except Exception:  # an aborted transaction: its rollback undoes the SET anyway
                logger.debug("statement_timeout not reset", exc_info=True)


def is_cancelled_statement(error: BaseException | None) -> bool:
    """Was ``error`` PostgreSQL cancelling a statement at its time limit?"""
    while error is not None:
        if getattr(error, "sqlstate", None) == QUERY_CANCELED:
            return True
        error = error.__cause__
    return False
