"""Workflows as operators meet them: states in order, SLA clocks, moves, the timeline."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from tessera.flows import service as flows
from tessera.flows.graph import Flow, load
from tessera.flows.models import Run, RunStatus, Step
from tessera.records.models import Event, Record, RecordChange

from .labels import field_label, humanize, show, text


def states_in_order(flow: Flow) -> list[str]:
    """States in the order the workflow's author wrote them, so the board reads as designed."""
    return [name for name, node in flow.nodes.items() if node.type == "state"]


def state_label(flow: Flow, state: str) -> str:
    node = flow.nodes.get(state)
    return text(node.config.get("x-label") if node else None, humanize(state))


def sla_clocks(run: Run) -> list[dict[str, Any]]:
    """The run's SLA clocks: name, status (running, met, breached), due."""
    out = []
    for name, clock in sorted(((run.data or {}).get("sla") or {}).items()):
        out.append(
            {
                "name": name,
                "status": clock.get("status", ""),
                "due": clock.get("due", ""),
                "state": clock.get("state", ""),
                "settled": clock.get("settled", ""),
            }
        )
    return out


class MoveRefused(Exception):
    """A card cannot go there: no transition leads there, or it needs what a drag cannot give."""


def move(run: Run, target: str, actor, *, version: int) -> Run:
    """Take the transition that leads the run from its state to ``target``."""
    if run.status != RunStatus.ACTIVE:
        raise MoveRefused(_("This card's workflow has ended."))
    offered = [t for t in flows.available(run, actor) if t["to"] == target]
    if not offered:
        raise MoveRefused(_("No step leads from here to that column."))
    allowed = [t for t in offered if t["allowed"]]
    if not allowed:
        raise MoveRefused(_("You may not take that step."))
    simple = [t for t in allowed if not t["required_fields"] and t["comment"] != "required"]
    if not simple:
        raise MoveRefused(_("That step needs more information: open the record to take it."))
    return flows.transition(run.pk, simple[0]["name"], actor=actor, version=version)


def timeline(record: Record, body: dict[str, Any], readable: set[str], limit: int = 50):
    """Events, changes and workflow steps of a record, newest first; denied fields left out."""
    items = []
    for event in Event.objects.filter(subject=record).order_by("-occurred_at", "-id")[:limit]:
        items.append({"at": event.occurred_at, "kind": "event", "title": event.type, "lines": []})
    props = body.get("properties", {})
    changes = RecordChange.objects.filter(record_id=record.pk).select_related("actor")
    for change in changes.order_by("-at", "-id")[:limit]:
        lines = []
        for name, pair in sorted((change.changes or {}).items()):
            if name not in readable or not isinstance(pair, list | tuple) or len(pair) != 2:
                continue
            old, new = (show(props.get(name), v) for v in pair)
            lines.append(f"{field_label(body, name)}: {old or '—'} → {new or '—'}")
        items.append(
            {
                "at": change.at,
                "kind": change.action,
                "title": {
                    "create": _("Created"),
                    "update": _("Changed"),
                    "delete": _("Deleted"),
                    "migrate": _("Migrated"),
                }.get(change.action, change.action),
                "who": change.actor.get_username() if change.actor else "",
                "lines": lines,
                "comment": change.comment,
            }
        )
    steps = Step.objects.filter(run__subject=record).select_related("actor", "run")
    for step in steps.order_by("-at", "-id")[:limit]:
        flow = _flow(step.run)
        where = " → ".join(
            state_label(flow, n) if flow else n for n in (step.from_node, step.to_node) if n
        )
        title = {
            "start": _("Workflow started"),
            "transition": _("Moved"),
            "automatic": _("Moved automatically"),
            "timer": _("Timer"),
            "sla": _("SLA"),
            "assign": _("Assigned"),
            "end": _("Workflow ended"),
        }.get(step.kind, step.kind)
        lines = [where] if where else []
        if step.kind == "sla":
            lines.append(f"{step.data.get('sla', '')}: {step.data.get('event', '')}")
        items.append(
            {
                "at": step.at,
                "kind": f"step-{step.kind}",
                "title": f"{title}: {step.transition}" if step.transition else title,
                "who": step.actor.get_username() if step.actor else "",
                "lines": lines,
                "comment": step.comment,
            }
        )
    return sorted(items, key=lambda i: i["at"], reverse=True)[:limit]


def _flow(run: Run) -> Flow | None:
    try:
        return load(run.flow_kind, run.flow_key, run.flow_version)
    except Exception:  # an archived or broken version: show the raw names
        return None


def runs_of(record: Record, actor) -> list[dict[str, Any]]:
    """The record's workflow runs with their state, SLA clocks and the steps on offer."""
    out = []
    for run in Run.objects.filter(subject=record, flow_kind="workflow").order_by("-started_at"):
        flow = _flow(run)
        out.append(
            {
                "run": run,
                "label": text(getattr(flow, "options", {}).get("x-label"), run.flow_key)
                if flow
                else run.flow_key,
                "state": state_label(flow, run.node) if flow else run.node,
                "sla": sla_clocks(run),
                "transitions": [
                    {
                        **t,
                        "label_text": text(t["label"], humanize(t["name"])),
                        "to_label": state_label(flow, t["to"]) if flow else t["to"],
                    }
                    for t in flows.available(run, actor)
                    if t["allowed"]
                ]
                if run.status == RunStatus.ACTIVE
                else [],
            }
        )
    return out
