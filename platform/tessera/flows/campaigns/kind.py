"""The ``campaign`` kind: what publishing checks, and its compilation to the flow graph.

Checks (on every draft save and at publish), each at its JSON path: the object is published;
the trigger type is installed and its settings valid; the goal's event or condition is valid;
every node's settings are (durations, fields of the right type, conditions, the channel and
its message, every action's type and parameters); every edge leads to a node; every node is
reachable from ``start``; from every node some path reaches an ``end``; every loop waits.
"""

from __future__ import annotations

from typing import Any

from tessera.actions import service as outbox
from tessera.actions.fields import check_field, object_properties
from tessera.conditions.tree import parse
from tessera.definitions.durations import parse_duration
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.kinds import KindHandler
from tessera.definitions.models import Definition
from tessera.plugins import UnknownType, channels, triggers

from ..graph import Flow, FlowKind, Node
from . import graph_checks
from .payload import payload_errors
from .zones import is_zone

TEXT_TYPES = {"string", "text", "enum"}
HOLDOUT = "$holdout"  # the node a split's control group goes to: no messages, run ends


def edges(node: dict[str, Any]) -> dict[str, str]:
    """A definition node's outgoing edges, label → target."""
    kind = node["type"]
    if kind == "branch":
        return {"then": node["then"], "else": node["else"]}
    if kind == "split":
        return {v["name"]: v["next"] for v in node["variants"]}
    if kind == "end":
        return {}
    return {"next": node["next"]}


def _duration(value: str, path: str) -> list[FieldError]:
    try:
        parse_duration(value)
    except ValueError as exc:
        return [FieldError(path, "duration", str(exc))]
    return []


def _condition(tree: Any, object_key: str, path: list[str | int]) -> list[FieldError]:
    try:
        parse(tree, object_key, path=path)
    except ValidationFailed as exc:
        return exc.errors
    return []


def check(body: dict[str, Any], key: str) -> list[FieldError]:
    object_key = body["object"]
    if object_properties(object_key) is None:
        return [FieldError("$.object", "unknown_object", f"{object_key!r} is not published")]
    errors = _trigger(body["trigger"], object_key)
    errors += _settings(body, object_key)
    nodes: dict[str, dict[str, Any]] = body["nodes"]
    for name, node in nodes.items():
        errors += _node(name, node, nodes, body, object_key)
    if body["start"] not in nodes:
        errors.append(FieldError("$.start", "unknown_node", f"no node {body['start']!r}"))
    elif not any(e.code == "unknown_node" for e in errors):
        graph = {name: set(edges(node).values()) for name, node in nodes.items()}
        waits = {name for name, node in nodes.items() if node["type"] == "wait"}
        ends = {name for name, node in nodes.items() if node["type"] == "end"}
        errors += graph_checks.problems(body["start"], graph, waits, ends)
    return errors


def _trigger(config: dict[str, Any], object_key: str) -> list[FieldError]:
    try:
        trigger = triggers.get(config["type"])
    except UnknownType as exc:
        return [FieldError("$.trigger.type", "unknown_trigger", str(exc))]
    return trigger.check(config, object_key=object_key, path="$.trigger")


def _settings(body: dict[str, Any], object_key: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if body.get("reentry") == "once_per_period" and "reentry_period" not in body:
        errors.append(
            FieldError("$.reentry_period", "required", "once_per_period needs the period")
        )
    if "reentry_period" in body:
        errors += _duration(body["reentry_period"], "$.reentry_period")
    zone = body.get("time_zone", {})
    if "field" in zone:
        errors += check_field(object_key, zone["field"], "$.time_zone.field", x_types=TEXT_TYPES)
    if "default" in zone and not is_zone(zone["default"]):
        errors.append(
            FieldError("$.time_zone.default", "unknown_zone", f"{zone['default']!r} is no zone")
        )
    for channel, field in body.get("consent", {}).items():
        path = f"$.consent.{channel}"
        if channel not in channels:
            errors.append(FieldError(path, "unknown_channel", f"no channel {channel!r}"))
        errors += check_field(object_key, field, path, x_types={"boolean"})
    goal = body.get("goal")
    if goal:
        if "where" in goal and "event" not in goal:
            errors.append(FieldError("$.goal.where", "no_event", "where belongs to an event goal"))
        errors += payload_errors(goal.get("where"), "$.goal.where")
        if "condition" in goal:
            errors += _condition(goal["condition"], object_key, ["goal", "condition"])
        if "within" in goal:
            errors += _duration(goal["within"], "$.goal.within")
    return errors


def _node(
    name: str,
    node: dict[str, Any],
    nodes: dict[str, dict[str, Any]],
    body: dict[str, Any],
    object_key: str,
) -> list[FieldError]:
    base = f"$.nodes.{name}"
    errors = [
        FieldError(
            f"{base}.{label if label in ('then', 'else', 'next') else 'variants'}",
            "unknown_node",
            f"no node {target!r}",
        )
        for label, target in edges(node).items()
        if target not in nodes
    ]
    kind = node["type"]
    if kind == "wait":
        if "for" in node:
            errors += _duration(node["for"], f"{base}.for")
        if "until_field" in node:
            errors += check_field(
                object_key, node["until_field"], f"{base}.until_field", x_types={"date", "datetime"}
            )
        elif "offset_days" in node or "at" in node:
            errors.append(FieldError(base, "until_field", "offset_days and at go with until_field"))
    elif kind == "branch":
        if "condition" in node:
            errors += _condition(node["condition"], object_key, ["nodes", name, "condition"])
        if "event" in node:
            errors += payload_errors(node["event"].get("where"), f"{base}.event.where")
        if "engagement" in node:
            target = node["engagement"]["message"]
            if nodes.get(target, {}).get("type") != "send":
                errors.append(
                    FieldError(
                        f"{base}.engagement.message", "not_a_send", f"{target!r} is not a send node"
                    )
                )
    elif kind == "split":
        names = [v["name"] for v in node["variants"]]
        for i, variant in enumerate(names):
            if variant in names[:i] or variant == "control":
                errors.append(
                    FieldError(
                        f"{base}.variants[{i}].name",
                        "duplicate",
                        f"{variant!r} is taken (control is the hold-out group's name)",
                    )
                )
        if "control" in node and "within" not in body.get("goal", {}):
            errors.append(
                FieldError(
                    f"{base}.control",
                    "no_goal_window",
                    "a control group is compared on the goal: give the goal a 'within' window",
                )
            )
    elif kind == "send":
        errors += _send(node, base, body, object_key)
    elif kind == "action":
        for i, action in enumerate(node["actions"]):
            errors += outbox.check(action, object_key=object_key, path=f"{base}.actions[{i}]")
    return errors


def _send(node: dict[str, Any], base: str, body: dict[str, Any], object_key: str):
    try:
        channel = channels.get(node["channel"])
    except UnknownType as exc:
        return [FieldError(f"{base}.channel", "unknown_channel", str(exc))]
    errors = channel.check(node["message"], object_key=object_key, path=f"{base}.message")
    to = node.get("to") or channel.default_address_field
    errors += check_field(object_key, to, f"{base}.to", x_types=set(channel.address_types))
    return errors


def compile_campaign(definition: Definition) -> Flow:
    body = definition.body
    object_key = body["object"]
    nodes: dict[str, Node] = {}
    for name, node in body["nodes"].items():
        nodes[name] = _compiled_node(name, node, object_key)
        if node["type"] == "split" and "control" in node:
            nodes[HOLDOUT] = Node(HOLDOUT, "campaign_holdout")
    goal = dict(body.get("goal") or {})
    if "condition" in goal:
        goal["node"] = parse(goal["condition"], object_key, path=["goal", "condition"])
    return Flow(
        kind="campaign",
        key=definition.key,
        version=definition.version,
        object_key=object_key,
        start=body["start"],
        nodes=nodes,
        options={
            "trigger": body["trigger"],
            "reentry": body.get("reentry", "once"),
            "reentry_period": body.get("reentry_period"),
            "time_zone": body.get("time_zone", {}),
            "consent": body.get("consent", {}),
            "goal": goal or None,
            "published_at": definition.published_at,
        },
    )


def _compiled_node(name: str, node: dict[str, Any], object_key: str) -> Node:
    kind, out = node["type"], edges(node)
    config = {k: v for k, v in node.items() if k not in ("type", "next", "then", "else")}
    if kind == "wait":
        field = object_properties(object_key).get(node.get("until_field", ""), {})
        simple = "for" in node or (
            field.get("x-type") == "datetime" and "offset_days" not in node and "at" not in node
        )
        return Node(name, "wait" if simple else "campaign_wait", config, out)
    if kind == "branch":
        if "condition" in node:
            condition = parse(node["condition"], object_key, path=["nodes", name, "condition"])
            return Node(name, "branch", {"condition": condition}, out)
        return Node(name, "campaign_branch", config, out)
    if kind == "split":
        if "control" in node:
            out = {**out, "control": HOLDOUT}
        return Node(name, "campaign_split", config, out)
    if kind == "send":
        return Node(name, "campaign_send", config, out)
    if kind == "action":
        return Node(name, "campaign_action", config, out)
    return Node(name, "end", config, out)


def before_publish(previous: Definition | None, pending: Definition, migration: Any) -> None:
    """The campaign's state row; its first publish fixes which events may trigger it."""
    from django.db.models import Max

    from tessera.records.models import Event

    from .models import CampaignState

    if not CampaignState.objects.filter(campaign_key=pending.key).exists():
        last = Event.objects.aggregate(m=Max("id"))["m"] or 0
        CampaignState.objects.create(campaign_key=pending.key, first_event=last, event_cursor=last)


CAMPAIGN_KIND = KindHandler(type="campaign", check=check, before_publish=before_publish)
CAMPAIGN_FLOW = FlowKind(type="campaign", compile=compile_campaign)
