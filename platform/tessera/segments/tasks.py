"""The background work of segments: re-checks after writes, and the periodic steps.

Writes enqueue ``recheck`` (from the records observer, after commit). The tick runs two
cheap steps that only *pick* what is due and enqueue it, so the tick itself stays short:

- ``time_step``: dynamic segments whose condition moves with the clock (windows, ``within``,
  relative dates, anniversaries) or reaches two relations away, at most once per
  ``refresh`` (the segment's own, or ``TESSERA_SEGMENTS["refresh_minutes"]``, 15);
- ``scoring_step``: RFM scoring and lifecycle stages of each object, at most once per
  their settings' ``every`` (default one day for RFM, one hour for lifecycle).

Every task is idempotent (it computes what *is*, and writes only the difference), so
at-least-once delivery is harmless.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tessera.definitions.durations import parse_duration

from . import freshness, lifecycle, membership, rfm, writes
from .models import ScoringSettings, SegmentState

logger = logging.getLogger(__name__)


def enqueue(task: Any, *args: Any) -> None:
    """Send ``task`` once the current transaction commits (at once outside of one)."""
    transaction.on_commit(lambda: task.delay(*args), robust=True)


@shared_task(name="tessera.segments.recheck", acks_late=True, ignore_result=True)
def recheck(targets: dict[str, list[int]], lookups: list[list[Any]] | None = None) -> dict:
    """Re-check records for watchers (``segment:key`` / ``lifecycle:object``)."""
    wanted: dict[str, set[int]] = {key: set(ids) for key, ids in targets.items()}
    for key, link, target_ids in lookups or []:
        found = freshness.watcher(key)
        if found is not None:
            wanted.setdefault(key, set()).update(
                writes.pointing_at(found.reads.object_key, link, target_ids)
            )
    done = {}
    for key, ids in sorted(wanted.items()):
        kind, _, name = key.partition(":")
        if kind == freshness.SEGMENT:
            delta = membership.recheck(name, ids)
            done[key] = [len(delta.entered), len(delta.exited)]
        elif kind == freshness.LIFECYCLE:
            done[key] = lifecycle.recheck(name, ids)
    return done


@shared_task(name="tessera.segments.refresh", acks_late=True, ignore_result=True)
def refresh_segment(key: str) -> list[int] | None:
    if membership.compiled(key) is None:
        SegmentState.objects.filter(segment_key=key).update(queued_at=None)
        return None
    delta = membership.refresh(key)
    return [len(delta.entered), len(delta.exited)]


@shared_task(name="tessera.segments.refresh_dependents", acks_late=True, ignore_result=True)
def refresh_dependents(key: str) -> list[str]:
    """Recompute the dynamic segments that use ``key`` (after it was published or refreshed)."""
    keys = membership.dependents(key)
    for dependent in keys:
        membership.refresh(dependent)
    return keys


@shared_task(name="tessera.segments.score", acks_late=True, ignore_result=True)
def score(kind: str, object_key: str) -> dict[str, int]:
    if kind == ScoringSettings.Kind.RFM:
        return rfm.score(object_key).as_dict()
    return lifecycle.assign(object_key).as_dict()


def _every(text: str | None, default: dt.timedelta) -> dt.timedelta:
    if not text:
        return default
    now = timezone.now()
    return now + parse_duration(text) - now


def time_step() -> list[str]:
    """Enqueue a full refresh of the time-based segments that are due (the stalest first)."""
    now = timezone.now()
    default = dt.timedelta(minutes=membership.option("refresh_minutes", 15))
    states = {s.segment_key: s for s in SegmentState.objects.all()}
    due = []
    for segment in membership.all_compiled():
        if segment.mode != "dynamic" or not segment.reads.periodic:
            continue
        every = _every(segment.refresh, default)
        state = states.get(segment.key)
        last = state.refreshed_at if state else None
        queued = state.queued_at if state else None
        if (last is None or last <= now - every) and (queued is None or queued <= now - every):
            due.append((last or dt.datetime.min.replace(tzinfo=dt.UTC), segment.key))
    picked = [key for _, key in sorted(due)[: membership.option("max_per_tick", 20)]]
    for key in picked:
        SegmentState.objects.update_or_create(segment_key=key, defaults={"queued_at": now})
        enqueue(refresh_segment, key)
    return picked


DEFAULT_EVERY = {
    ScoringSettings.Kind.RFM: dt.timedelta(days=1),
    ScoringSettings.Kind.LIFECYCLE: dt.timedelta(hours=1),
}


def scoring_step() -> list[str]:
    """Enqueue RFM scoring and lifecycle stages of the objects that are due."""
    now = timezone.now()
    picked = []
    for item in ScoringSettings.objects.order_by("kind", "object_key"):
        every = _every(item.body.get("every"), DEFAULT_EVERY[item.kind])
        due = item.last_run_at is None or item.last_run_at <= now - every
        free = item.queued_at is None or item.queued_at <= now - every
        if due and free:
            updated = (
                ScoringSettings.objects.filter(pk=item.pk)
                .filter(Q(queued_at__isnull=True) | Q(queued_at__lte=now - every))
                .update(queued_at=now)
            )
            if updated:
                enqueue(score, item.kind, item.object_key)
                picked.append(f"{item.kind}:{item.object_key}")
    return picked
