"""Scheduling, cancelling and firing durable timers: the only way timers change.

Claiming is ``SELECT … FOR UPDATE SKIP LOCKED`` ordered by ``due_at`` with a LIMIT on
PostgreSQL, so any number of workers split the due set without waiting for each other. SQLite
has no row locks and no SKIP LOCKED: there the claim relies on the whole-database write lock
that Tessera's settings take at the start of every transaction (``transaction_mode:
IMMEDIATE``), so two ticks take turns instead of reading the same rows; and batches are kept
small (``sqlite_batch``) so other writers get the lock between them.

Each claimed timer fires in a savepoint of its own inside the claiming transaction: success
deletes the row in the same commit as the handler's writes (a timer's effects happen once);
an exception rolls back that timer's writes only and re-arms it with backoff, until
``max_attempts`` make it ``failed`` for a person to retry.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.db import connections, router, transaction
from django.db.models import QuerySet
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from tessera import write_batch
from tessera.definitions.errors import FieldError, ValidationFailed

from .conf import timer_settings
from .handlers import handlers
from .models import Timer, TimerStatus

logger = logging.getLogger(__name__)

PURPOSE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
ERROR_CHARS = 2000


@dataclass
class Outcome:
    """What one call to the firing loop did."""

    claimed: int = 0
    fired: int = 0
    retrying: int = 0
    failed: int = 0

    def __iadd__(self, other: Outcome) -> Outcome:
        self.claimed += other.claimed
        self.fired += other.fired
        self.retrying += other.retrying
        self.failed += other.failed
        return self

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def _connection():
    return connections[router.db_for_write(Timer)]


def schedule(
    purpose: str, due_at: dt.datetime, *, owner: str, payload: dict[str, Any] | None = None
) -> Timer:
    """Add a timer, inside the caller's transaction: it exists only if the caller commits."""
    errors = []
    if not isinstance(purpose, str) or not PURPOSE.fullmatch(purpose):
        errors.append(FieldError("$.purpose", "invalid", "a purpose is a slug such as flow.wake"))
    elif purpose not in handlers:
        errors.append(
            FieldError(
                "$.purpose",
                "unknown_purpose",
                f"no timer handler for {purpose!r}; known: {', '.join(handlers.keys()) or 'none'}",
            )
        )
    if not isinstance(due_at, dt.datetime) or timezone.is_naive(due_at):
        errors.append(FieldError("$.due_at", "naive", "due_at is an aware datetime"))
    if not isinstance(owner, str) or not 0 < len(owner) <= 200:
        errors.append(FieldError("$.owner", "invalid", "owner is text of 1 to 200 characters"))
    payload = {} if payload is None else payload
    if not isinstance(payload, dict):
        errors.append(FieldError("$.payload", "type", "payload is a JSON object"))
    else:
        try:
            json.dumps(payload)
        except (TypeError, ValueError) as exc:
            errors.append(FieldError("$.payload", "not_json", f"payload is not plain JSON: {exc}"))
    if errors:
        raise ValidationFailed(errors)
    return Timer.objects.create(purpose=purpose, due_at=due_at, owner=owner, payload=payload)


def cancel(owner: str, *, purpose: str | None = None) -> int | None:
    """Delete the timers of ``owner`` (of one purpose, if given); returns how many.

    On PostgreSQL a timer that a worker is firing right now is skipped rather than waited
    for: waiting could deadlock (the firing handler may be waiting for the very run whose
    transition is cancelling), and its handler finds the owner moved on and does nothing.
    Inside ``write_batch.batch()`` the delete waits for the batch, and the count is None.
    """
    conn = _connection()
    table = conn.ops.quote_name(Timer._meta.db_table)
    where, params = "owner = %s", [owner]
    if purpose is not None:
        where, params = where + " AND purpose = %s", [*params, purpose]
    if conn.vendor == "postgresql":
        where = f"id IN (SELECT id FROM {table} WHERE {where} FOR UPDATE SKIP LOCKED)"
    return write_batch.execute(f"DELETE FROM {table} WHERE {where}", params, using=conn.alias)


def claim(*, limit: int, now: dt.datetime | None = None) -> list[int]:
    """Lock up to ``limit`` due pending timers, earliest first; returns their ids.

    Must run inside a transaction, which holds the locks until it ends: other claimers skip
    these rows (PostgreSQL) or wait for the write lock (SQLite). Only ids travel here, as in
    a hand-written ``SELECT id … FOR UPDATE SKIP LOCKED``; ``load`` reads the rows to fire.
    """
    conn = _connection()
    if not conn.in_atomic_block:
        raise TransactionManagementError("timers are claimed inside a transaction")
    query = claim_query(limit=limit, now=timezone.now() if now is None else now)
    return list(query.values_list("id", flat=True))


def claim_query(*, limit: int, now: dt.datetime) -> QuerySet[Timer]:
    """The claiming query: a range scan of the partial index ``timer_due``, rows locked."""
    return (
        Timer.objects.select_for_update(skip_locked=True)
        .filter(status=TimerStatus.PENDING, due_at__lte=now)
        .order_by("due_at", "id")[:limit]
    )


def load(ids: list[int]) -> list[Timer]:
    """The claimed timers (locked by this transaction), in firing order."""
    return list(Timer.objects.filter(pk__in=ids).order_by("due_at", "id")) if ids else []


def due_count(*, cap: int, now: dt.datetime | None = None) -> int:
    """How many timers are due, counting no further than ``cap`` (an index range scan)."""
    now = timezone.now() if now is None else now
    return Timer.objects.filter(status=TimerStatus.PENDING, due_at__lte=now)[:cap].count()


def backoff(attempts: int) -> dt.timedelta:
    conf = timer_settings()
    seconds = conf["backoff_seconds"] * 2 ** max(0, attempts - 1)
    return dt.timedelta(seconds=min(seconds, conf["backoff_max_seconds"]))


def _fail(timer: Timer, error: str, now: dt.datetime, max_attempts: int) -> bool:
    """Count a failed attempt; returns whether the timer is now ``failed`` for good."""
    timer.attempts += 1
    timer.last_error = error[:ERROR_CHARS]
    if timer.attempts >= max_attempts:
        timer.status = TimerStatus.FAILED
    else:
        timer.due_at = now + backoff(timer.attempts)
    timer.save(update_fields=["attempts", "last_error", "status", "due_at"])
    return timer.status == TimerStatus.FAILED


def _fire_one_batch(size: int, now: dt.datetime | None) -> Outcome:
    outcome = Outcome()
    max_attempts = timer_settings()["max_attempts"]
    with transaction.atomic():
        claimed = load(claim(limit=size, now=now))
        outcome.claimed = len(claimed)
        at = timezone.now() if now is None else now
        done = []
        for timer in claimed:
            if timer.purpose not in handlers:
                # Counted as an attempt, not failed at once: during a rolling deploy an old
                # worker may meet a purpose that only the new code knows.
                error = (
                    f"no timer handler for purpose {timer.purpose!r}: no installed app or "
                    f"plugin registers it (known: {', '.join(handlers.keys()) or 'none'})"
                )
            else:
                try:
                    with transaction.atomic():
                        handlers.get(timer.purpose).fire(timer)
                except Exception as exc:
                    logger.warning("timer %s (%s) failed", timer.pk, timer.purpose, exc_info=True)
                    error = f"{type(exc).__name__}: {exc}"
                else:
                    done.append(timer.pk)
                    continue
            if _fail(timer, error, at, max_attempts):
                outcome.failed += 1
            else:
                outcome.retrying += 1
        if done:
            Timer.objects.filter(pk__in=done).delete()
        outcome.fired = len(done)
    return outcome


def uses_sqlite() -> bool:
    return _connection().vendor == "sqlite"


def batch_size() -> int:
    """Timers per claiming transaction on this database."""
    conf = timer_settings()
    return conf["sqlite_batch"] if uses_sqlite() else conf["batch"]


def run_due(*, limit: int = 500, now: dt.datetime | None = None) -> Outcome:
    """Claim and fire up to ``limit`` due timers, one transaction per batch."""
    total, size = Outcome(), batch_size()
    while total.claimed < limit:
        wanted = min(size, limit - total.claimed)
        got = _fire_one_batch(wanted, now)
        total += got
        if got.claimed < wanted:
            break
    return total


def fire_due(*, limit: int = 500, now: dt.datetime | None = None) -> int:
    """Claim due timers and fire them; returns how many fired (their handler succeeded)."""
    return run_due(limit=limit, now=now).fired


def retry(timer_id: int) -> None:
    """A person re-arms a failed timer: due now, attempts counted from zero.

    A timer that is pending already is left as it is (a second click changes nothing);
    Timer.DoesNotExist if there is no such timer (it fired, or its owner cancelled it).
    """
    with transaction.atomic():
        timer = Timer.objects.select_for_update().get(pk=timer_id)
        if timer.status != TimerStatus.FAILED:
            return
        timer.status = TimerStatus.PENDING
        timer.attempts = 0
        timer.last_error = ""
        timer.due_at = timezone.now()
        timer.save(update_fields=["status", "attempts", "last_error", "due_at"])
