"""Events that trigger campaigns or meet their goals: two paths to the same idempotent work.

- **fast**: the records observer hears of committed events and enqueues ``process`` for
  those customers and types; it reads their recent events of those types.
- **backstop**: a tick step scans each campaign's events past its cursor (the broker may
  have been down, a task lost). The cursor only moves over events older than ``LAG``, so an
  event committed late by a long transaction is still seen; what is seen twice is harmless
  (an occurrence enters once, a conversion counts once).

Goals are checked before triggers, so an event never converts the entry it creates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from tessera.plugins import triggers
from tessera.records.models import Event

from ..graph import Flow
from . import catalog, entering, goals
from .models import CampaignState

RECENT = dt.timedelta(hours=1)  # the fast path looks this far back
LAG = dt.timedelta(seconds=60)  # the backstop's cursor stays this far behind
SCAN_BATCH = 2000


def handle(flow: Flow, events: list[Event]) -> dict[str, int]:
    """Goal conversions first, then trigger entries, for these events of one campaign."""
    converted = goals.check_events(flow, events)
    config = flow.options["trigger"]
    trigger = triggers.get(config["type"]) if config["type"] in triggers else None
    occurrences = []
    if trigger is not None:
        occurrences = [
            (e.subject_id, trigger.occurrence(e)) for e in events if trigger.accepts(config, e)
        ]
    admission = entering.enter(flow.key, occurrences) if occurrences else None
    return {"converted": converted, "entered": len(admission.entered) if admission else 0}


def process(object_key: str, record_ids: Iterable[int], types: Iterable[str]) -> dict[str, int]:
    """The fast path: these customers just got events of these types."""
    ids, kinds = sorted(set(record_ids)), set(types)
    totals = {"converted": 0, "entered": 0}
    since = timezone.now() - RECENT
    for key in sorted(catalog.listening(object_key, kinds)):
        flow = catalog.index().flows[key]
        wanted = catalog.event_types(flow) & kinds
        first = CampaignState.objects.filter(campaign_key=key).values_list("first_event", flat=True)
        events = list(
            Event.objects.filter(
                subject_id__in=ids,
                type__in=wanted,
                created_at__gte=since,
                id__gt=first.first() or 0,
            ).order_by("id")
        )
        for name, count in handle(flow, events).items():
            totals[name] += count
    return totals


def scan(key: str, *, now: dt.datetime | None = None) -> int:
    """The backstop for one campaign: events past its cursor; returns how many were read."""
    flow = catalog.index().flows.get(key)
    if flow is None:
        return 0
    wanted = catalog.event_types(flow)
    if not wanted:
        return 0
    now = now or timezone.now()
    with transaction.atomic():
        control = CampaignState.objects.select_for_update().filter(campaign_key=key).first()
        if control is None:
            return 0
        cursor = max(control.event_cursor, control.first_event)
        events = list(
            Event.objects.filter(
                id__gt=cursor, type__in=wanted, subject__object_key=flow.object_key
            ).order_by("id")[:SCAN_BATCH]
        )
        if not events:
            return 0
        handle(flow, events)
        settled = {e.pk for e in events if e.created_at <= now - LAG}
        # Only a prefix of settled events may move the cursor: a later event still inside
        # the lag keeps everything after it for the next scan.
        moved = cursor
        for event in events:
            if event.pk not in settled:
                break
            moved = event.pk
        if moved != control.event_cursor:
            control.event_cursor = moved
            control.save(update_fields=["event_cursor"])
    return len(events)
