"""Pausing, resuming and archiving a campaign without losing anyone's place.

- **pause**: nobody new enters; runs keep waiting where they are, and a run that reaches a
  send or action node stops *before* it (``held``): nothing is sent while paused. Goals still
  take customers out (that sends nothing).
- **resume**: held runs enter their node again (a fresh visit, so a fresh outbox key), in
  batches, then everything goes on as before; deferred sends and waits were never lost.
- **archive**: the published version is archived (the definition's own history): nobody new
  enters, customers already in finish on the version they started (runs are pinned to it).
  Pause first to stop them too.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tessera.definitions import service as definitions

from .. import runtime
from ..graph import load
from ..models import Run, RunStatus, StepKind
from .models import CampaignState, Entry

BATCH = 200


def pause(key: str) -> CampaignState:
    with transaction.atomic():
        found, _ = CampaignState.objects.select_for_update().get_or_create(campaign_key=key)
        if not found.paused:
            found.paused, found.paused_at = True, timezone.now()
            found.save(update_fields=["paused", "paused_at"])
    return found


def resume(key: str, *, batches: bool = True) -> CampaignState:
    """Lift the pause, then release held runs (a task, or here when ``batches`` is False)."""
    with transaction.atomic():
        found, _ = CampaignState.objects.select_for_update().get_or_create(campaign_key=key)
        found.paused, found.paused_at = False, None
        found.save(update_fields=["paused", "paused_at"])
        if batches:
            from .tasks import release

            transaction.on_commit(lambda: release.delay(key), robust=True)
    if not batches:
        while release_held(key):
            pass
    return found


def release_held(key: str, limit: int = BATCH) -> int:
    """Enter the node again for up to ``limit`` held runs; returns how many were released."""
    with transaction.atomic():
        if CampaignState.objects.filter(campaign_key=key, paused=True).exists():
            return 0
        held = list(
            Entry.objects.filter(campaign_key=key, held=True)
            .order_by("pk")
            .values_list("pk", "run_id")[:limit]
        )
        for entry_id, run_id in held:
            run = Run.objects.select_for_update().filter(pk=run_id).first()
            # Under the run's lock: a second release (a repeated task) finds it released.
            if not Entry.objects.filter(pk=entry_id, held=True).update(held=False):
                continue
            if run is None or run.status != RunStatus.ACTIVE:
                continue
            flow = load(run.flow_kind, run.flow_key, run.flow_version)
            step = {"kind": StepKind.AUTOMATIC, "comment": "resumed"}
            runtime.enter(run, flow, run.node, step=step)
    return len(held)


def archive(key: str):
    """Archive the published version: no new entries; runs in flight finish on their version."""
    return definitions.archive("campaign", key)
