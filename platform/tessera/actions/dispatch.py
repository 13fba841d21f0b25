"""Handing outbox rows to Celery: after commit, and never at the cost of the caller's work.

A dispatch that fails (the broker is down) is logged and forgotten: the row is committed and
``pending`` with no ``dispatched_at``, and the tick step sends it once the broker is back.
Messages carry no ETA or countdown: when an attempt is due is the row's business.
"""

from __future__ import annotations

import logging

from django.db import transaction

from .models import OutboxEntry

logger = logging.getLogger(__name__)

TASK = "tessera.actions.deliver"
# A down broker must not hold the caller (a web request) for long: two quick tries, then the tick.
RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def publish(entry_id: int) -> None:
    """Send one delivery task to the broker; raises when the broker cannot be reached."""
    from .tasks import deliver

    deliver.apply_async(args=(entry_id,), retry=True, retry_policy=RETRY_POLICY)


def send(entry_ids: list[int]) -> int:
    """Publish delivery tasks; on the first broker failure leave the rest to the tick.

    Returns how many were handed over.
    """
    for sent, entry_id in enumerate(entry_ids):
        try:
            publish(entry_id)
        except Exception as exc:
            waiting = entry_ids[sent:]
            logger.warning(
                "broker unreachable (%s): %d outbox entr%s wait for the tick to dispatch them",
                exc,
                len(waiting),
                "y" if len(waiting) == 1 else "ies",
            )
            OutboxEntry.objects.filter(pk__in=waiting).update(dispatched_at=None)
            return sent
    return len(entry_ids)


def send_on_commit(entry_id: int) -> None:
    """Dispatch once the caller's transaction commits (never if it rolls back)."""
    transaction.on_commit(lambda: send([entry_id]), robust=True)
