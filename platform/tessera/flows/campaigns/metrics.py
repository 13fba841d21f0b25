"""How a campaign is doing: per campaign, per node and per variant, counted in the database.

- **entered**: entries (a customer entering twice counts twice); per node: runs that reached
  it; **waiting**: runs in the flow now (per node: runs resting there); **exited**: entries
  whose run has ended, for any reason (per node: runs that ended there, so a goal taking
  customers out mid-flow shows where); **converted**: entries that met the goal (in the flow,
  or inside the goal window; per node: of the runs that reached it);
  **conversion_rate** = converted / entered.
- **sent / delivered / opened / clicked** count messages (a click counts as an open too, as
  images are often blocked); **suppressed** ones were not sent (no consent, unsubscribed…).
- **uplift** of a variant: its conversion rate minus the control group's, in points, and
  relative to the control's rate.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db.models import Count, Q, Subquery

from ..graph import FlowNotFound, load
from ..models import Run, RunStatus, Step
from .models import Entry, Message, MessageStatus


def _rate(converted: int, entered: int) -> float:
    return round(converted / entered, 6) if entered else 0.0


def _messages(query) -> dict[tuple[str, ...], dict[str, int]]:
    return query.aggregate(
        sent=Count("pk", filter=Q(status=MessageStatus.SENT)),
        delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
        opened=Count("pk", filter=Q(opened_at__isnull=False) | Q(clicked_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        suppressed=Count("pk", filter=Q(status=MessageStatus.SUPPRESSED)),
        failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
    )


def _entries(query) -> dict[str, int]:
    counts = query.aggregate(
        entered=Count("pk"),
        waiting=Count("pk", filter=Q(run__status=RunStatus.ACTIVE)),
        exited=Count("pk", filter=Q(run__isnull=False) & ~Q(run__status=RunStatus.ACTIVE)),
        converted=Count("pk", filter=Q(converted_at__isnull=False)),
    )
    counts["conversion_rate"] = _rate(counts["converted"], counts["entered"])
    return counts


def campaign_metrics(key: str) -> dict[str, Any]:
    """Everything above for campaign ``key`` (all its versions together)."""
    entries = Entry.objects.filter(campaign_key=key)
    messages = Message.objects.filter(campaign_key=key)
    summary = {**_entries(entries), **_messages(messages)}
    return {
        "campaign": key,
        **summary,
        "nodes": _nodes(key),
        "variants": _variants(key, entries, messages),
    }


def _nodes(key: str) -> dict[str, dict[str, int]]:
    runs = Run.objects.filter(flow_kind="campaign", flow_key=key)
    reached = dict(
        Step.objects.filter(run__in=runs)
        .exclude(to_node="")
        .values_list("to_node")
        .annotate(n=Count("run", distinct=True))
    )
    waiting = dict(runs.filter(status=RunStatus.ACTIVE).values_list("node").annotate(n=Count("pk")))
    exited = dict(runs.exclude(status=RunStatus.ACTIVE).values_list("node").annotate(n=Count("pk")))
    converted_runs = Entry.objects.filter(
        campaign_key=key, converted_at__isnull=False, run__isnull=False
    ).values("run_id")
    converted = dict(
        Step.objects.filter(run_id__in=Subquery(converted_runs))
        .exclude(to_node="")
        .values_list("to_node")
        .annotate(n=Count("run", distinct=True))
    )
    names = set(reached) | set(waiting) | set(exited)
    with contextlib.suppress(FlowNotFound):
        names |= set(load("campaign", key).nodes)
    nodes = {
        name: {
            "entered": reached.get(name, 0),
            "waiting": waiting.get(name, 0),
            "exited": exited.get(name, 0),
            "converted": converted.get(name, 0),
            "conversion_rate": _rate(converted.get(name, 0), reached.get(name, 0)),
        }
        for name in names
    }
    by_node = (
        Message.objects.filter(campaign_key=key)
        .values("node")
        .annotate(
            sent=Count("pk", filter=Q(status=MessageStatus.SENT)),
            delivered=Count("pk", filter=Q(delivered_at__isnull=False)),
            opened=Count("pk", filter=Q(opened_at__isnull=False) | Q(clicked_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            suppressed=Count("pk", filter=Q(status=MessageStatus.SUPPRESSED)),
        )
    )
    for row in by_node:
        empty = {"entered": 0, "waiting": 0, "exited": 0, "converted": 0, "conversion_rate": 0.0}
        nodes.setdefault(row.pop("node"), empty).update(row)
    return dict(sorted(nodes.items()))


def _variants(key: str, entries, messages) -> dict[str, dict[str, Any]]:
    names = sorted(set(entries.exclude(variant="").values_list("variant", flat=True)))
    variants = {}
    for name in names:
        counts = _entries(entries.filter(variant=name))
        counts.update(_messages(messages.filter(variant=name)))
        variants[name] = counts
    control = variants.get("control")
    for name, counts in variants.items():
        if control is None or name == "control":
            continue
        base = control["conversion_rate"]
        counts["uplift"] = round(counts["conversion_rate"] - base, 6)
        counts["relative_uplift"] = round(counts["uplift"] / base, 6) if base else None
    return variants
