"""The broadcast trigger: everyone in a segment at once, once or every period.

The tick finds the latest occurrence that is due (``at``, then every ``every``; without
``at``, the moment the campaign was published) and writes a ``Broadcast`` row for it: the
row's unique key is what makes an occurrence go out once. The segment's members (read
through the condition language, as a segment filter) are then handed to workers in batches
of ``BATCH`` (``enter_batch`` tasks, sent after the commit), each entering its customers
under the occurrence key ``broadcast:<time>``, so a batch delivered twice enters nobody
twice. A fan-out the broker never got (``dispatched_at`` still empty) is sent again by a
later tick. An explicit ``at`` that had already passed when the campaign was published is
not sent; occurrences are never back-filled.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from tessera.conditions.compiler import matching
from tessera.conditions.tree import parse
from tessera.definitions.durations import iso_datetime, parse_duration

from ..graph import Flow
from .models import Broadcast

logger = logging.getLogger(__name__)

BATCH = 500
REDISPATCH = dt.timedelta(minutes=2)
MAX_STEPS = 100_000


def occurrence_due(flow: Flow, now: dt.datetime) -> dt.datetime | None:
    config = flow.options["trigger"]
    published = flow.options["published_at"]
    first = (
        dt.datetime.fromisoformat(config["at"].replace("Z", "+00:00"))
        if "at" in config
        else published
    )
    if first > now:
        return None
    occurrence = first
    if config.get("every"):
        every = parse_duration(config["every"])
        for _ in range(MAX_STEPS):
            following = occurrence + every
            if following > now:
                break
            occurrence = following
    if "at" in config and occurrence < published:
        return None
    return occurrence


def members(flow: Flow) -> list[int]:
    """The segment's members now, by id (its condition; a static segment's snapshot)."""
    node = parse({"segment": flow.options["trigger"]["segment"]}, flow.object_key)
    return list(matching(node, flow.object_key).order_by("pk").values_list("pk", flat=True))


def occurrence_key(occurrence: dt.datetime) -> str:
    return f"broadcast:{iso_datetime(occurrence)}"


def fan_out(broadcast: Broadcast, ids: list[int]) -> None:
    """Send the batches once the row commits; mark it dispatched when all are handed over."""
    from .tasks import enter_batch

    key = occurrence_key(broadcast.occurrence)

    def send() -> None:
        try:
            for start in range(0, len(ids), BATCH):
                enter_batch.delay(broadcast.campaign_key, ids[start : start + BATCH], key)
        except Exception:
            logger.exception("broadcast %s: the broker refused; the tick sends it again", key)
            return
        Broadcast.objects.filter(pk=broadcast.pk).update(dispatched_at=timezone.now())

    transaction.on_commit(send, robust=True)


def start_due(flow: Flow, now: dt.datetime) -> int:
    """Hand out a due occurrence (or one whose hand-out was lost); returns the audience size."""
    occurrence = occurrence_due(flow, now)
    with transaction.atomic():
        broadcast = None
        if occurrence is not None:
            broadcast, created = Broadcast.objects.get_or_create(
                campaign_key=flow.key, occurrence=occurrence, defaults={"created_at": now}
            )
            if not created and (broadcast.dispatched_at or broadcast.created_at > now - REDISPATCH):
                broadcast = None
        if broadcast is None:
            broadcast = (
                Broadcast.objects.filter(
                    campaign_key=flow.key,
                    dispatched_at__isnull=True,
                    created_at__lt=now - REDISPATCH,
                )
                .order_by("occurrence")
                .first()
            )
        if broadcast is None:
            return 0
        ids = members(flow)
        broadcast.audience = len(ids)
        broadcast.save(update_fields=["audience"])
        fan_out(broadcast, ids)
    return len(ids)
