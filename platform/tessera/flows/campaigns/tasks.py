"""Background work of campaigns, and the tick step that picks what is due.

Every task is idempotent (entries by occurrence key, conversions once, held runs released
once), acks late and is redelivered when its worker dies, so a crash repeats work, never an
effect. The tick step only looks and enqueues (plus the cheap event backstop), so the tick
stays short; ``TESSERA_CAMPAIGNS`` in settings tunes how often (minutes).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tessera.plugins import triggers

from . import broadcasts, catalog, control, entering, events, goals, limits
from .models import CampaignState, Entry

logger = logging.getLogger(__name__)

DEFAULTS = {"date_scan_minutes": 15, "goal_sweep_minutes": 15, "window_days": 2}
TASK = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


def option(name: str) -> int:
    return int(getattr(settings, "TESSERA_CAMPAIGNS", {}).get(name, DEFAULTS[name]))


def enqueue(task: Any, *args: Any) -> None:
    """Send ``task`` after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task.delay(*args), robust=True)


@shared_task(name="tessera.campaigns.enter_batch", **TASK)
def enter_batch(key: str, subject_ids: list[int], occurrence: str) -> dict[str, Any]:
    admission = entering.enter(key, [(i, occurrence) for i in subject_ids])
    return {"entered": len(admission.entered), "skipped": dict(admission.skipped)}


@shared_task(name="tessera.campaigns.enter_broadcast_batch", **TASK)
def enter_broadcast_batch(batch_id: int) -> int:
    return broadcasts.enter_batch(batch_id)


@shared_task(name="tessera.campaigns.events", **TASK)
def process_events(object_key: str, record_ids: list[int], types: list[str]) -> dict[str, int]:
    return events.process(object_key, record_ids, types)


@shared_task(name="tessera.campaigns.goals", **TASK)
def check_goals(object_key: str, record_ids: list[int]) -> int:
    converted = 0
    for key in sorted(catalog.with_condition_goal(object_key)):
        converted += goals.check_records(catalog.index().flows[key], record_ids)
    return converted


@shared_task(name="tessera.campaigns.scheduled", **TASK)
def scheduled(key: str) -> int:
    """A scheduled trigger's work for one campaign (a date scan, a broadcast)."""
    flow = catalog.index().flows.get(key)
    if flow is None or CampaignState.objects.filter(campaign_key=key, paused=True).exists():
        return 0
    config = flow.options["trigger"]
    return triggers.get(config["type"]).tick(flow, timezone.now())


@shared_task(name="tessera.campaigns.sweep", **TASK)
def sweep(key: str) -> int:
    flow = catalog.index().flows.get(key)
    return goals.sweep(flow) if flow is not None else 0


@shared_task(name="tessera.campaigns.release", **TASK)
def release(key: str) -> int:
    """Release held runs after a resume, a batch at a time (re-sent while more are held)."""
    released = control.release_held(key)
    if released >= control.BATCH:
        release.delay(key)
    return released


def _due(last: dt.datetime | None, minutes: int, now: dt.datetime) -> bool:
    return last is None or last <= now - dt.timedelta(minutes=minutes)


def tick_step() -> dict[str, int]:
    """The tick's campaign step: event backstop inline, scheduled work and sweeps enqueued."""
    now = timezone.now()
    counts = {"scanned": 0, "scheduled": 0, "swept": 0}
    for flow in catalog.flows():
        try:
            counts["scanned"] += events.scan(flow.key, now=now)
        except Exception:
            logger.exception("campaign %s: event scan failed", flow.key)
        found = CampaignState.objects.filter(campaign_key=flow.key).first()
        if found is None or found.paused:
            continue
        config = flow.options["trigger"]
        every = 1 if config["type"] == "broadcast" else option("date_scan_minutes")
        trigger = triggers.get(config["type"]) if config["type"] in triggers else None
        if trigger is not None and trigger.scheduled and _due(found.dates_scanned_at, every, now):
            CampaignState.objects.filter(pk=found.pk).update(dates_scanned_at=now)
            enqueue(scheduled, flow.key)
            counts["scheduled"] += 1
        condition_goal = "node" in (flow.options.get("goal") or {})
        if condition_goal and _due(found.goals_swept_at, option("goal_sweep_minutes"), now):
            CampaignState.objects.filter(pk=found.pk).update(goals_swept_at=now)
            enqueue(sweep, flow.key)
            counts["swept"] += 1
        if not found.paused and Entry.objects.filter(campaign_key=flow.key, held=True).exists():
            enqueue(release, flow.key)  # a resume whose release task was lost
    counts["batches"] = broadcasts.redispatch(now)
    limits.prune_windows(now - dt.timedelta(days=option("window_days")))
    return counts
