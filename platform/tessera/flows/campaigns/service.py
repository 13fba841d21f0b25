"""What the admin, GraphQL, commands and tests call for campaigns: one thin facade.

::

    from tessera.flows.campaigns import service as campaigns

    campaigns.enter("welcome", [(customer.pk, "manual:2026-11-02")])
    campaigns.pause("birthday"); campaigns.resume("birthday")
    campaigns.set_limits("email", cap=2, per="P7D", quiet_hours=("21:00", "08:00"))
    campaigns.metrics("abandoned-cart")["conversion_rate"]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from tessera.plugins import triggers

from . import catalog, control, engagement, events, goals, limits
from .entering import Admission
from .entering import enter as _enter
from .metrics import campaign_metrics
from .models import CampaignState

set_limits = limits.set_limits
pause = control.pause
archive = control.archive
unsubscribe = engagement.unsubscribe
is_unsubscribed = engagement.is_unsubscribed


def enter(
    key: str, occurrences: Iterable[tuple[int, str]], *, now: dt.datetime | None = None
) -> Admission:
    """Let customers in by hand (or from a trigger): ``[(customer id, occurrence key)]``."""
    return _enter(key, occurrences, now=now)


def resume(key: str, *, batches: bool = True) -> CampaignState:
    return control.resume(key, batches=batches)


def metrics(key: str) -> dict[str, Any]:
    return campaign_metrics(key)


def run_scheduled(key: str, *, now: dt.datetime | None = None) -> int:
    """Do a scheduled trigger's work now (what the tick enqueues): a date scan, a broadcast."""
    flow = catalog.index().flows[key]
    config = flow.options["trigger"]
    return triggers.get(config["type"]).tick(flow, now or timezone.now())


def scan_events(key: str, *, now: dt.datetime | None = None) -> int:
    """The event backstop for one campaign, now (what the tick runs)."""
    return events.scan(key, now=now)


def sweep_goals(key: str, *, now: dt.datetime | None = None) -> int:
    return goals.sweep(catalog.index().flows[key], now)
