"""The Celery task that performs one outbox entry.

``acks_late`` with ``reject_on_worker_lost``: a worker killed in the middle of a delivery
does not ack its message, so the broker hands it out again; the row's claim and lease make
that second delivery a no-op unless the first one died before finishing.
"""

from __future__ import annotations

from celery import shared_task

from . import outbox


@shared_task(
    name="tessera.actions.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def deliver(entry_id: int) -> None:
    outbox.deliver(entry_id)


@shared_task(name="tessera.actions.purge", ignore_result=True)
def purge() -> int:
    """Beat runs this hourly: finished outbox entries past their retention are deleted."""
    return outbox.purge_finished()
