"""The built-in node types, registered in ``tessera.plugins.node_types`` like a plugin's.

``state`` waits for a person (workflows), ``wait`` for a time, ``branch`` picks an edge by a
condition, ``split`` by a weighted hash stable per subject, ``action`` hands an effect to the
outbox, ``end`` ends the run. Campaigns add their node types to the same registry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from tessera.conditions.evaluate import evaluate
from tessera.definitions.durations import parse_duration

from . import sla
from .runtime import END, WAIT, Outcome, Visit, follow
from .timers import AUTO, WAKE


class NodeType:
    """What a node of this type does when a run enters it."""

    type: str = ""

    def enter(self, visit: Visit) -> Outcome:
        raise NotImplementedError


class StateNode(NodeType):
    """A workflow state: mirrored on the record, actions on entry, SLA clocks, then wait."""

    type = "state"

    def enter(self, visit: Visit) -> Outcome:
        config, flow = visit.node.config, visit.flow
        state_field = flow.options.get("state_field")
        if state_field and visit.record().data.get(state_field) != visit.node.id:
            visit.set_fields({state_field: visit.node.id})
        sla.settle(visit.run, visit.node.id, now=visit.now)
        visit.run_actions(config.get("on_enter", []), "enter")
        if config.get("final"):
            return END
        sla.arm(visit, config.get("sla", []))
        _arm_automatic(visit)
        return WAIT


def _arm_automatic(visit: Visit) -> None:
    """Timers for the transitions the system takes after a while (``after``)."""
    from tessera.timers import service as timers

    for t in visit.flow.transitions_from(visit.node.id):
        if t.after:
            timers.schedule(
                AUTO,
                visit.now + parse_duration(t.after),
                owner=visit.run.timer_owner,
                payload={"run": visit.run.pk, "visit": visit.number, "transition": t.name},
            )


class WaitNode(NodeType):
    """Wait for a duration (``for``) or until a date-time field of the subject (``until_field``)."""

    type = "wait"

    def enter(self, visit: Visit) -> Outcome:
        from django.utils.dateparse import parse_datetime

        config = visit.node.config
        if "for" in config:
            due = visit.now + parse_duration(config["for"])
        else:
            value = visit.record().data.get(config["until_field"])
            due = parse_datetime(value) if isinstance(value, str) else None
            if due is None:  # no date to wait for: go on at once
                return follow()
        return schedule_wake(visit, due)


def schedule_wake(visit: Visit, due: dt.datetime) -> Outcome:
    """Wait for the wake timer (``flow.wake``), which follows ``next`` when due."""
    from tessera.timers import service as timers

    if due <= visit.now:
        return follow()
    timers.schedule(
        WAKE,
        due,
        owner=visit.run.timer_owner,
        payload={"run": visit.run.pk, "visit": visit.number, "node": visit.node.id},
    )
    return WAIT


class BranchNode(NodeType):
    """Follow ``then`` when the subject meets the condition, ``else`` otherwise."""

    type = "branch"

    def enter(self, visit: Visit) -> Outcome:
        matched = evaluate(visit.node.config["condition"], visit.record())
        return follow("then" if matched else "else")


class SplitNode(NodeType):
    """Weighted A/B/n: the same subject always takes the same variant of the same node."""

    type = "split"

    def enter(self, visit: Visit) -> Outcome:
        variants: list[dict[str, Any]] = visit.node.config["variants"]
        chosen = pick_variant(variants, f"{visit.flow.key}:{visit.node.id}:{visit.run.subject_id}")
        visit.run.data.setdefault("variants", {})[visit.node.id] = chosen
        return follow(chosen)


def pick_variant(variants: list[dict[str, Any]], seed: str) -> str:
    total = sum(int(v["weight"]) for v in variants)
    point = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") % total
    for variant in variants:
        point -= int(variant["weight"])
        if point < 0:
            return variant["name"]
    return variants[-1]["name"]


class ActionNode(NodeType):
    """Hand the node's actions to the outbox and go on."""

    type = "action"

    def enter(self, visit: Visit) -> Outcome:
        visit.run_actions(visit.node.config.get("actions", []), "action")
        return follow()


class EndNode(NodeType):
    type = "end"

    def enter(self, visit: Visit) -> Outcome:
        return END


BUILTIN_NODE_TYPES = [StateNode(), WaitNode(), BranchNode(), SplitNode(), ActionNode(), EndNode()]
