"""The timer that wakes a run waiting in a ``wait`` node."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .graph import load
from .models import Run, RunStatus, StepKind

if TYPE_CHECKING:
    from tessera.timers.models import Timer

WAKE = "flow.wake"


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
