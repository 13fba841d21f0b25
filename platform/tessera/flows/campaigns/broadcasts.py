"""The broadcast trigger: everyone in a segment at once, once or every period.

The tick finds the latest occurrence that is due (``at``, then every ``every``; without
``at``, the moment the campaign was published). In one transaction it writes the
``Broadcast`` row (its unique key is what makes an occurrence go out once) and the
segment's members (read through the condition language, as a segment filter) in
``BroadcastBatch`` rows of ``BATCH``; after the commit one ``enter_broadcast_batch`` task per
batch goes to the workers. A batch is marked done in the transaction that enters its
customers under the occurrence key ``broadcast:<time>``; a batch not done a while after it
was sent (its worker died, the broker lost it) is sent again by the tick. An explicit ``at``
that had already passed when the campaign was published is not sent; occurrences are never
back-filled.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tessera.conditions.compiler import matching
from tessera.conditions.tree import parse
from tessera.definitions.durations import iso_datetime, parse_duration

from ..graph import Flow
from . import entering
from .models import Broadcast, BroadcastBatch

logger = logging.getLogger(__name__)

BATCH = 500
REDISPATCH_SECONDS = 120  # TESSERA_CAMPAIGNS["redispatch_seconds"] overrides
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


def send(batch_ids: list[int]) -> int:
    """Hand batches to the workers (after the commit); the row remembers when."""
    from .tasks import enter_broadcast_batch

    def go() -> None:
        sent = []
        try:
            for batch_id in batch_ids:
                enter_broadcast_batch.delay(batch_id)
                sent.append(batch_id)
        except Exception:
            logger.exception("broadcast: the broker refused; the tick sends the rest again")
        if sent:
            BroadcastBatch.objects.filter(pk__in=sent).update(dispatched_at=timezone.now())

    transaction.on_commit(go, robust=True)
    return len(batch_ids)


def start_due(flow: Flow, now: dt.datetime) -> int:
    """Write a due occurrence and its batches; returns the audience size (0: nothing new)."""
    occurrence = occurrence_due(flow, now)
    if occurrence is None:
        return 0
    with transaction.atomic():
        broadcast, created = Broadcast.objects.get_or_create(
            campaign_key=flow.key, occurrence=occurrence, defaults={"created_at": now}
        )
        if not created:
            return 0
        ids = members(flow)
        batch = int(getattr(settings, "TESSERA_CAMPAIGNS", {}).get("batch") or BATCH)
        batches = BroadcastBatch.objects.bulk_create(
            [
                BroadcastBatch(broadcast=broadcast, subject_ids=ids[i : i + batch])
                for i in range(0, len(ids), batch)
            ]
        )
        broadcast.audience, broadcast.dispatched_at = len(ids), now
        broadcast.save(update_fields=["audience", "dispatched_at"])
        send([b.pk for b in batches])
    return len(ids)


def enter_batch(batch_id: int) -> int:
    """Enter one batch's customers, once: the row is locked and marked in the same commit."""
    with transaction.atomic():
        # of=("self",): a FOR UPDATE over the join would lock the broadcast's row as well, and
        # every batch of the broadcast would wait for the one before it (one worker at a time).
        batch = (
            BroadcastBatch.objects.select_for_update(of=("self",))
            .select_related("broadcast")
            .filter(pk=batch_id, done_at__isnull=True)
            .first()
        )
        if batch is None:
            return 0
        key = occurrence_key(batch.broadcast.occurrence)
        admission = entering.enter(
            batch.broadcast.campaign_key, [(i, key) for i in batch.subject_ids]
        )
        batch.done_at = timezone.now()
        batch.save(update_fields=["done_at"])
    return len(admission.entered)


def redispatch(now: dt.datetime | None = None) -> int:
    """Tick step: batches sent a while ago (or never) and still not done go out again."""
    now = now or timezone.now()
    seconds = getattr(settings, "TESSERA_CAMPAIGNS", {}).get("redispatch_seconds")
    stale = now - dt.timedelta(seconds=float(seconds or REDISPATCH_SECONDS))
    with transaction.atomic():
        ids = list(
            BroadcastBatch.objects.filter(done_at__isnull=True, dispatched_at__lt=stale)
            .order_by("pk")
            .values_list("pk", flat=True)[:1000]
        )
        ids += list(
            BroadcastBatch.objects.filter(
                done_at__isnull=True,
                dispatched_at__isnull=True,
                broadcast__created_at__lt=stale,
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:1000]
        )
        return send(ids) if ids else 0
