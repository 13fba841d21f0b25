"""The walker: enters nodes, follows their edges until a node waits, and writes the history.

Every call happens inside the caller's transaction with the run's row locked, so a run is
always either wholly at its old node or wholly at its new one. Effects leave through the
outbox keyed by (run, visit, phase, index): a replayed step finds its effects already there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from tessera import write_batch
from tessera.records.models import Record
from tessera.records.service import update as update_record

from .graph import Flow, Node
from .models import Run, RunStatus, Step, StepKind

# What walking a run changes on its row (the rest is fixed when it starts; migrating a run to
# another version saves it whole): the update sends these only.
MOVED = (
    "node",
    "status",
    "version",
    "visits",
    "assignee",
    "data",
    "error",
    "updated_at",
    "ended_at",
)

# A flow whose automatic nodes loop forever (branch → action → branch…) is stopped here.
MAX_HOPS = 200


@dataclass
class Outcome:
    """What a node decided: follow an edge, wait where it is, or end the run."""

    follow: str | None = None
    wait: bool = False
    end: bool = False


WAIT = Outcome(wait=True)
END = Outcome(end=True)


def follow(label: str = "next") -> Outcome:
    return Outcome(follow=label)


@dataclass
class Visit:
    """One entry of a run into a node: what a node type sees when it runs."""

    run: Run
    flow: Flow
    node: Node
    actor: Any = None
    now: dt.datetime = field(default_factory=timezone.now)
    subject: Record | None = None  # the record as this step last wrote or read it

    @property
    def number(self) -> int:
        return self.run.visits

    def record(self) -> Record:
        if self.subject is None:
            self.subject = Record.objects.get(pk=self.run.subject_id)
        return self.subject

    def set_fields(self, changes: dict[str, Any], comment: str = "") -> Record:
        """Write fields of the subject record as part of this step (validated, versioned)."""
        record = Record.objects.select_for_update().get(pk=self.run.subject_id)
        self.subject = update_record(
            record.object_key,
            record.pk,
            changes,
            version=record.version,
            actor=self.actor,
            comment=comment or f"{self.flow.kind} {self.flow.key}: {self.node.id}",
            locked=record,
        )
        return self.subject

    def run_actions(self, actions: list[dict[str, Any]] | tuple, phase: str) -> None:
        run_actions(self.run, self.flow, actions, key=f"{self.number}:{phase}", actor=self.actor)


def run_actions(
    run: Run, flow: Flow, actions: list[dict[str, Any]] | tuple, *, key: str, actor: Any = None
) -> None:
    """Hand each action to the outbox under a key unique to this run, visit and phase."""
    if not actions:
        return
    from tessera.actions import service as outbox

    context = {
        "run": run.pk,
        "flow_kind": flow.kind,
        "flow": flow.key,
        "flow_version": flow.version,
        "node": run.node,
        "actor": getattr(actor, "pk", None),
    }
    for index, action in enumerate(actions):
        outbox.enqueue(
            f"run:{run.pk}:{key}:{index}",
            dict(action),
            object_key=run.object_key,
            record_id=run.subject_id,
            context=context,
        )


# Steps of many runs walked in one transaction (campaigns entering a batch of customers),
# written in one INSERT when the batch is done instead of one per node; see buffered_steps.
_step_buffer: ContextVar[list[Step] | None] = ContextVar("tessera_step_buffer", default=None)


@contextmanager
def buffered_steps() -> Iterator[list[Step]]:
    """Collect the steps recorded inside the block; bulk-insert them when it ends normally.

    The caller owns the list: after a failed walk it removes that walk's steps
    (``del steps[mark:]``) so history shows only what committed.
    """
    if _step_buffer.get() is not None:
        yield _step_buffer.get()
        return
    steps: list[Step] = []
    token = _step_buffer.set(steps)
    try:
        yield steps
    finally:
        _step_buffer.reset(token)
    Step.objects.bulk_create(steps, batch_size=1000)


def record_step(run: Run, kind: str, *, actor: Any = None, **fields: Any) -> Step:
    step = Step(
        run=run,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        at=timezone.now(),
        **fields,
    )
    buffer = _step_buffer.get()
    if buffer is not None:
        buffer.append(step)
    else:
        write_batch.insert(step)
    return step


def enter(
    run: Run,
    flow: Flow,
    node_id: str,
    *,
    actor: Any = None,
    step: dict[str, Any] | None = None,
    record: Record | None = None,
) -> Run:
    """Move ``run`` into ``node_id`` and on through automatic nodes until one waits or ends.

    ``step`` describes the move into the first node (kind, transition, comment…) for history;
    the automatic moves after it are written as ``automatic`` steps.
    """
    from tessera.plugins import node_types

    step = dict(step or {"kind": StepKind.AUTOMATIC})
    run.version += 1  # whoever loaded the run before this move must reload it
    for _ in range(MAX_HOPS):
        node = flow.nodes[node_id]
        from_node = run.node
        run.node = node_id
        run.visits += 1
        record_step(run, from_node=from_node, to_node=node_id, actor=actor, **step)
        visit = Visit(run, flow, node, actor=actor, subject=record)
        outcome = node_types.get(node.type).enter(visit)
        record = None  # actions may have written it since: the next node reads it afresh
        if outcome.end:
            return finish(run, RunStatus.COMPLETED, actor=actor)
        if outcome.wait:
            write_batch.update(run, MOVED)
            return run
        node_id = node.next[outcome.follow or "next"]
        step = {"kind": StepKind.AUTOMATIC}
    return finish(
        run, RunStatus.FAILED, actor=actor, error=f"more than {MAX_HOPS} automatic steps in a row"
    )


def finish(run: Run, status: str, *, actor: Any = None, error: str = "") -> Run:
    """End the run: no more timers, history says how it ended."""
    from tessera.timers import service as timers

    run.status = status
    run.error = error
    if not run.ended_at:
        run.version += 1
    run.ended_at = timezone.now()
    write_batch.update(run, MOVED)
    timers.cancel(run.timer_owner)
    for name in list((run.data or {}).get("sla", {})):
        timers.cancel(f"{run.timer_owner}:sla:{name}")
    record_step(
        run, StepKind.END, from_node=run.node, actor=actor, data={"status": status}, comment=error
    )
    return run
