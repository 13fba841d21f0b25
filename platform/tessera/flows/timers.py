"""The timer that wakes a run waiting in a ``wait`` node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from .graph import load
from .models import Run, RunStatus, StepKind

if TYPE_CHECKING:
    from tessera.timers.models import Timer

WAKE = "flow.wake"
AUTO = "flow.auto"


def wake(timer: Timer) -> None:
    """Go on from the wait node, unless the run has moved since the timer was set."""
    from . import runtime

    payload = timer.payload
    run = Run.objects.select_for_update().filter(pk=payload.get("run")).first()
    if run is None or run.status != RunStatus.ACTIVE:
        return
    if run.node != payload["node"] or run.visits != payload["visit"]:
        return
    flow = load(run.flow_kind, run.flow_key, run.flow_version)
    runtime.enter(run, flow, flow.nodes[run.node].next["next"], step={"kind": StepKind.TIMER})


def auto(timer: Timer) -> None:
    """Take an automatic transition, if the run is still where the timer was set.

    A guard that does not hold (or a refusal of any kind) skips the move and says why in
    the run's history; the run stays where it is for a person to move.
    """
    from .errors import TransitionRefused
    from .service import take

    payload = timer.payload
    run = Run.objects.select_for_update().filter(pk=payload.get("run")).first()
    if run is None or run.status != RunStatus.ACTIVE or run.visits != payload["visit"]:
        return
    flow = load(run.flow_kind, run.flow_key, run.flow_version)
    chosen = flow.transitions.get(payload["transition"])
    if chosen is None:
        return
    try:
        with transaction.atomic():
            take(run, flow, chosen, kind=StepKind.AUTOMATIC, comment="automatic")
    except TransitionRefused as exc:
        from .runtime import record_step

        run.refresh_from_db()
        record_step(
            run,
            StepKind.AUTOMATIC,
            from_node=run.node,
            to_node=run.node,
            transition=chosen.name,
            comment=f"skipped: {exc}",
        )
