"""A campaign's goal: a customer who meets it leaves the flow and counts as converted.

The goal is an event since the customer entered (``{"event": "order_placed"}``, with an
optional payload condition) or a condition on the customer (the condition language). It is
checked when the customer's events or fields change (the observer's task), before every
send (no reminder goes to someone who just bought), and by a periodic sweep for conditions
that change without a write to the customer (related records, the clock).

A conversion counts within the goal's ``within`` window from entry, even after the flow has
ended (so a control group, which gets no messages and leaves at once, is measured the same
way as the variants); without ``within``, only while the customer is in the flow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tessera.conditions.compiler import matching
from tessera.conditions.evaluate import evaluate
from tessera.records.models import Event, Record

from .. import runtime
from ..graph import Flow
from ..models import Run, RunStatus, StepKind
from .models import Entry
from .payload import payload_matches

CHUNK = 500


def goal_of(flow: Flow) -> dict[str, Any] | None:
    return flow.options.get("goal")


def event_met(goal: dict[str, Any], entry: Entry, now: dt.datetime) -> dt.datetime | None:
    """When the customer first did the goal's event since entering (None: not yet)."""
    events = Event.objects.filter(
        subject_id=entry.subject_id,
        type=goal["event"],
        occurred_at__gt=entry.entered_at,
        occurred_at__lte=entry.goal_until or now,
    ).order_by("occurred_at", "id")
    for event in events.only("payload", "occurred_at")[:1000]:
        if payload_matches(goal.get("where"), event.payload):
            return event.occurred_at
    return None


def met(flow: Flow, entry: Entry, record: Record, now: dt.datetime) -> dt.datetime | None:
    """When the goal was met for this entry, or None."""
    goal = goal_of(flow)
    if goal is None or entry.converted_at is not None:
        return None
    if entry.goal_until is not None and now > entry.goal_until and "event" not in goal:
        return None
    if "event" in goal:
        return event_met(goal, entry, now)
    return now if evaluate(goal["node"], record) else None


def mark(entry: Entry, at: dt.datetime) -> None:
    entry.converted_at = at
    entry.held = False
    Entry.objects.filter(pk=entry.pk, converted_at__isnull=True).update(converted_at=at, held=False)


def convert(entry: Entry, at: dt.datetime) -> bool:
    """Count the entry as converted and take its customer out of the flow (if still in)."""
    with transaction.atomic():
        # The run first, as every step locks it: then the entry (same order everywhere).
        run = Run.objects.select_for_update().filter(pk=entry.run_id).first()
        locked = Entry.objects.select_for_update().filter(pk=entry.pk).first()
        if locked is None or locked.converted_at is not None:
            return False
        mark(locked, at)
        if run is not None and run.status == RunStatus.ACTIVE:
            runtime.record_step(
                run, StepKind.AUTOMATIC, from_node=run.node, to_node=run.node, comment="goal met"
            )
            runtime.finish(run, RunStatus.COMPLETED)
    return True


def open_entries(key: str, subject_ids: Iterable[int], now: dt.datetime):
    """Entries of a campaign that can still convert: in the flow, or inside their window."""
    return (
        Entry.objects.filter(campaign_key=key, subject_id__in=list(subject_ids))
        .filter(converted_at__isnull=True)
        .filter(Q(goal_until__gte=now) | Q(goal_until__isnull=True, run__status=RunStatus.ACTIVE))
    )


def check_events(flow: Flow, events: list[Event]) -> int:
    """Conversions by goal events just added (``events`` of the goal's type, any order)."""
    goal = goal_of(flow)
    if not goal or "event" not in goal or not events:
        return 0
    by_subject: dict[int, list[Event]] = {}
    for event in events:
        if event.type == goal["event"] and payload_matches(goal.get("where"), event.payload):
            by_subject.setdefault(event.subject_id, []).append(event)
    if not by_subject:
        return 0
    earliest = min(e.occurred_at for found in by_subject.values() for e in found)
    converted = 0
    for entry in open_entries(flow.key, by_subject, earliest):
        times = sorted(
            e.occurred_at
            for e in by_subject[entry.subject_id]
            if e.occurred_at > entry.entered_at
            and (entry.goal_until is None or e.occurred_at <= entry.goal_until)
        )
        if times and convert(entry, times[0]):
            converted += 1
    return converted


def check_records(flow: Flow, subject_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Conversions by a condition goal among these customers (set-based, the SQL face)."""
    goal = goal_of(flow)
    if not goal or "node" not in goal:
        return 0
    now = now or timezone.now()
    ids = sorted(set(subject_ids))
    converted = 0
    for start in range(0, len(ids), CHUNK):
        entries = {e.subject_id: e for e in open_entries(flow.key, ids[start : start + CHUNK], now)}
        if not entries:
            continue
        meeting = matching(goal["node"], flow.object_key).filter(pk__in=list(entries))
        for subject_id in meeting.values_list("pk", flat=True):
            if convert(entries[subject_id], now):
                converted += 1
    return converted


def sweep(flow: Flow, now: dt.datetime | None = None) -> int:
    """Every open entry of a condition goal, checked again (related records, the clock)."""
    goal = goal_of(flow)
    if not goal or "node" not in goal:
        return 0
    now = now or timezone.now()
    ids = (
        Entry.objects.filter(campaign_key=flow.key, converted_at__isnull=True)
        .filter(Q(goal_until__gte=now) | Q(goal_until__isnull=True, run__status=RunStatus.ACTIVE))
        .values_list("subject_id", flat=True)
    )
    return check_records(flow, list(ids), now)
