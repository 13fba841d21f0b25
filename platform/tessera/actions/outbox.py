"""The outbox's life cycle: write a row, claim it, perform it, record how it went.

Two ways through:

- **transactional** types (database-only effects) are performed inside the transaction that
  writes the row (``create``), or, on a retry, inside the transaction that locks it
  (``deliver``). The effect and ``sent`` commit together: exactly once.
- **the others** are claimed with one conditional UPDATE that commits before the send
  (``pending`` and due, or ``sending`` with an expired lease → ``sending`` with a new lease
  and claim token), performed outside any transaction, then marked in a short transaction
  that names the claim token. The only window for a duplicate is a crash after the receiver
  got the effect and before that last commit; the effect carries the outbox key, so the
  receiver can tell.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from tessera.definitions.errors import ValidationFailed
from tessera.plugins import actions as action_types
from tessera.records.service import RecordNotFound

from . import dispatch
from .conf import OutboxSettings, outbox_settings
from .models import OutboxEntry, OutboxStatus
from .types import ActionType, Effect, PermanentFailure, RetryLater, Skip

logger = logging.getLogger(__name__)

FINAL = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SKIPPED)
PERMANENT = (PermanentFailure, ValidationFailed, RecordNotFound)
ERROR_CHARS = 4000


class CannotRetry(Exception):
    """A person asked to retry an entry that must not be performed again (or is in flight)."""


def backoff(attempts: int, conf: OutboxSettings) -> float:
    """Seconds before the next attempt: doubling from ``backoff_seconds``, capped, jittered.

    The jitter (±10 %) keeps a batch that failed together from retrying in one burst.
    """
    delay = conf.backoff_seconds * (2 ** max(attempts - 1, 0))
    return min(delay, conf.backoff_max_seconds) * random.uniform(0.9, 1.1)


def effect_of(entry: OutboxEntry) -> Effect:
    return Effect(
        key=entry.key,
        type=entry.type,
        params=entry.params,
        object_key=entry.object_key or None,
        record_id=entry.record_id,
        context=entry.context,
        attempt=entry.attempts,
    )


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]


def outcome_of_failure(entry: OutboxEntry, exc: Exception, now: dt.datetime) -> dict[str, Any]:
    """The row's fields after a failed attempt: skipped, failed for good, or due again later."""
    conf = outbox_settings()
    text = _error_text(exc)
    if isinstance(exc, Skip):
        return {"status": OutboxStatus.SKIPPED, "last_error": text, "done_at": now}
    if isinstance(exc, PERMANENT):
        return {"status": OutboxStatus.FAILED, "last_error": text, "done_at": now}
    if entry.attempts >= conf.max_attempts:
        return {
            "status": OutboxStatus.FAILED,
            "last_error": f"gave up after {entry.attempts} attempts; last: {text}"[:ERROR_CHARS],
            "done_at": now,
        }
    delay = backoff(entry.attempts, conf)
    if isinstance(exc, RetryLater) and exc.after is not None:
        delay = max(delay, min(exc.after, conf.backoff_max_seconds))
    return {
        "status": OutboxStatus.PENDING,
        "last_error": text,
        "next_attempt_at": now + dt.timedelta(seconds=delay),
        "dispatched_at": None,  # the tick sends it when it is due
    }


def _success(result: Any, now: dt.datetime) -> dict[str, Any]:
    return {"status": OutboxStatus.SENT, "result": result, "last_error": "", "done_at": now}


def perform_in_transaction(entry: OutboxEntry, action_type: ActionType) -> None:
    """Perform a transactional effect inside the current transaction and save the outcome.

    A failing effect is rolled back to a savepoint, so the caller's own work still commits
    and the row says what went wrong.
    """
    try:
        with transaction.atomic():
            result = action_type.perform(effect_of(entry))
    except Exception as exc:
        logger.warning("action %s (%s) failed: %s", entry.type, entry.key, exc)
        fields = outcome_of_failure(entry, exc, timezone.now())
    else:
        fields = _success(result, timezone.now())
    fields.update(lease_until=None, claim="")
    for name, value in fields.items():
        setattr(entry, name, value)
    entry.save()  # pending again (a passing failure): the tick dispatches it when it is due


def create(
    key: str,
    action: dict[str, Any],
    action_type: ActionType,
    *,
    object_key: str | None,
    record_id: int | None,
    context: dict[str, Any],
) -> OutboxEntry:
    """Write the row (once per key) and perform or dispatch it; inside the caller's transaction."""
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                entry = OutboxEntry.objects.create(
                    key=key,
                    type=action_type.type,
                    params=action.get("params") or {},
                    object_key=object_key or "",
                    record_id=record_id,
                    context=context,
                    next_attempt_at=now,
                    dispatched_at=None if action_type.transactional else now,
                )
        except IntegrityError:
            # Another transaction wrote this key first (and has committed: the unique index
            # made us wait for it). Its row is the one effect.
            return OutboxEntry.objects.get(key=key)
        if action_type.transactional:
            entry.attempts = 1
            perform_in_transaction(entry, action_type)
        else:
            dispatch.send_on_commit(entry.pk)
    return entry


def _claimable(now: dt.datetime) -> Q:
    return Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=OutboxStatus.SENDING, lease_until__lt=now
    )


def deliver(entry_id: int) -> None:
    """Perform one entry if it is due and nobody holds it; a no-op otherwise (duplicates)."""
    entry = OutboxEntry.objects.filter(pk=entry_id).only("type", "status").first()
    if entry is None or entry.status in FINAL:
        return
    try:
        action_type = action_types.get(entry.type)
    except LookupError as exc:  # the plugin is not installed (here, or any more)
        _deliver_unknown(entry_id, exc)
        return
    if action_type.transactional:
        _deliver_in_transaction(entry_id, action_type)
    else:
        _deliver_outside(entry_id, action_type)


def _claim(entry_id: int, now: dt.datetime) -> str | None:
    """Take the row for one attempt: committed before the effect, visible to every worker."""
    token = uuid.uuid4().hex
    lease = dt.timedelta(seconds=outbox_settings().lease_seconds)
    with transaction.atomic():
        taken = OutboxEntry.objects.filter(_claimable(now), pk=entry_id).update(
            status=OutboxStatus.SENDING,
            claim=token,
            lease_until=now + lease,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
    return token if taken else None


def _deliver_outside(entry_id: int, action_type: ActionType) -> None:
    token = _claim(entry_id, timezone.now())
    if token is None:
        return
    entry = OutboxEntry.objects.get(pk=entry_id)
    try:
        result = action_type.perform(effect_of(entry))
    except Exception as exc:
        logger.warning(
            "action %s (%s) attempt %d failed: %s", entry.type, entry.key, entry.attempts, exc
        )
        fields = outcome_of_failure(entry, exc, timezone.now())
    else:
        fields = _success(result, timezone.now())
    now = timezone.now()
    # The crash window: the effect happened, this commit has not. Keep it to one UPDATE.
    with transaction.atomic():
        marked = OutboxEntry.objects.filter(
            pk=entry_id, claim=token, status=OutboxStatus.SENDING
        ).update(**fields, lease_until=None, updated_at=now)
    if not marked:
        logger.error(
            "outbox %s: the lease ran out before attempt %d finished; another worker may have "
            "performed it too (the receiver sees the same key %r)",
            entry_id,
            entry.attempts,
            entry.key,
        )


def _deliver_in_transaction(entry_id: int, action_type: ActionType) -> None:
    now = timezone.now()
    with transaction.atomic():
        entry = OutboxEntry.objects.select_for_update().filter(_claimable(now), pk=entry_id).first()
        if entry is None:
            return
        entry.attempts += 1
        perform_in_transaction(entry, action_type)


def _deliver_unknown(entry_id: int, exc: Exception) -> None:
    """Count an attempt and back off: the plugin may be on its way (a rolling deploy)."""
    now = timezone.now()
    with transaction.atomic():
        entry = OutboxEntry.objects.select_for_update().filter(_claimable(now), pk=entry_id).first()
        if entry is None:
            return
        entry.attempts += 1
        for name, value in outcome_of_failure(entry, exc, now).items():
            setattr(entry, name, value)
        entry.lease_until, entry.claim = None, ""
        entry.save()


def retry(entry_id: int) -> OutboxEntry:
    """Put a failed or skipped entry back in line with a fresh set of attempts."""
    now = timezone.now()
    with transaction.atomic():
        entry = OutboxEntry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            raise CannotRetry(f"no outbox entry {entry_id}")
        if entry.status == OutboxStatus.SENT:
            raise CannotRetry(f"{entry.key} was sent; retrying would perform it twice")
        if entry.status == OutboxStatus.SENDING and entry.lease_until and entry.lease_until > now:
            raise CannotRetry(f"{entry.key} is being sent right now")
        entry.status = OutboxStatus.PENDING
        entry.attempts = 0
        entry.next_attempt_at = now
        entry.lease_until, entry.claim, entry.done_at = None, "", None
        entry.dispatched_at = now
        entry.save()
        dispatch.send_on_commit(entry.pk)
    return entry


def redispatch_due() -> int:
    """Tick step: send the entries that are due and not in flight to the broker again.

    Due: ``pending`` past ``next_attempt_at``, or ``sending`` past its lease (its worker died).
    Not in flight: never dispatched (the broker was down), or dispatched before the lease
    ran out, or longer ago than ``redispatch_seconds`` (its message may be lost). A message
    sent twice is harmless: the second finds the row claimed or done.
    """
    conf = outbox_settings()
    now = timezone.now()
    stale = now - dt.timedelta(seconds=conf.redispatch_seconds)
    quiet = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale)
    due = (Q(status=OutboxStatus.PENDING, next_attempt_at__lte=now) & quiet) | (
        Q(status=OutboxStatus.SENDING, lease_until__lt=now)
        & (quiet | Q(dispatched_at__lt=F("lease_until")))
    )
    ids = list(
        OutboxEntry.objects.filter(due)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[: conf.tick_batch]
    )
    if not ids:
        return 0
    OutboxEntry.objects.filter(pk__in=ids).update(dispatched_at=now)
    return dispatch.send(ids)


def purge_finished(now: dt.datetime | None = None) -> int:
    """Delete ``sent`` and ``skipped`` entries finished more than ``retention_days`` ago.

    The outbox is on the path of every flow step; left alone it grows by every e-mail and
    webhook ever sent. A key is only ever asked for again while its step's transaction is
    being retried, minutes after it was made, so forgetting it weeks later sends nothing
    twice. ``failed`` entries are never purged: they wait for a person. Deletes in batches
    so a first purge of a large table does not hold one long transaction.
    """
    conf = outbox_settings()
    if conf.retention_days <= 0:
        return 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=conf.retention_days)
    finished = OutboxEntry.objects.filter(
        status__in=[OutboxStatus.SENT, OutboxStatus.SKIPPED], done_at__lt=cutoff
    )
    purged = 0
    while True:
        ids = list(finished.order_by("done_at").values_list("pk", flat=True)[: conf.purge_batch])
        if not ids:
            return purged
        purged += OutboxEntry.objects.filter(pk__in=ids).delete()[0]
