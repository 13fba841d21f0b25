"""The campaign builder: the flow drawn, a palette (trigger, wait, branch, split, send,
action, goal) whose steps are inserted on any way through the flow, each step's form — an
action's parameters generated from that action's JSON Schema, a branch's condition built like
a segment's — and a dry run that walks one customer through and marks the path drawn."""

from __future__ import annotations

from collections import deque
from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from tessera.plugins import channels
from tessera.records.models import Record

from .. import action_forms, choices
from ..conditions import catalog, root_for, row_of
from ..diagram import Box, Edge, draw, shown_label
from ..dryrun import walk
from ..messages import Message
from ..paths import parts
from .base import Builder
from .campaign_steps import ENGAGEMENT, WEEKDAYS, read_step, step_context
from .campaign_trigger import GOAL_ROOT, goal_context, read_goal, read_trigger, trigger_context

PALETTE = ["wait", "branch", "split", "send", "action"]
PALETTE_LABELS = {
    "wait": _l("Wait"),
    "branch": _l("Branch"),
    "split": _l("A/B split"),
    "send": _l("Send a message"),
    "action": _l("Action"),
}
START = "__start__"


def edges(node: dict[str, Any]) -> list[tuple[str, str]]:
    kind = node.get("type")
    if kind == "branch":
        return [("then", node.get("then", "")), ("else", node.get("else", ""))]
    if kind == "split":
        return [(v.get("name", ""), v.get("next", "")) for v in node.get("variants", [])]
    if kind == "end":
        return []
    return [("next", node.get("next", ""))]


def ordered(body: dict[str, Any]) -> list[str]:
    nodes = body.get("nodes") or {}
    seen, queue, out = set(), deque([body.get("start")]), []
    while queue:
        name = queue.popleft()
        if name in seen or name not in nodes:
            continue
        seen.add(name)
        out.append(name)
        queue.extend(target for _, target in edges(nodes[name]))
    return out + [n for n in nodes if n not in seen]


def diagram(body: dict[str, Any], walked: list[str] | None = None):
    nodes = body.get("nodes") or {}
    trigger = body.get("trigger") or {}
    boxes = [Box(START, _("Trigger"), "trigger", trigger.get("event") or trigger.get("type", ""))]
    lines = [Edge(START, body.get("start", ""), "")]
    for name in ordered(body):
        node = nodes[name]
        note = (
            node.get("for")
            or node.get("channel")
            or ", ".join(a.get("type", "") for a in node.get("actions", []))
        )
        boxes.append(
            Box(
                name,
                shown_label(node.get("x-label"), name),
                node.get("type", ""),
                note or node.get("type", ""),
            )
        )
        ways = {"next": "", "then": _("yes"), "else": _("no")}
        lines += [Edge(name, target, ways.get(label, label)) for label, target in edges(node)]
    goal = body.get("goal")
    if goal:
        boxes.append(Box("__goal__", _("Goal"), "goal", goal.get("event") or _("condition")))
    return draw(START, boxes, lines, _("Campaign flow"), walked, down=True)


def default_node(kind: str, target: str) -> dict[str, Any]:
    if kind == "wait":
        return {"type": "wait", "for": "P1D", "next": target}
    if kind == "branch":
        return {"type": "branch", "event": {"type": "order_placed"}, "then": target, "else": target}
    if kind == "split":
        return {
            "type": "split",
            "variants": [
                {"name": "a", "weight": 50, "next": target},
                {"name": "b", "weight": 50, "next": target},
            ],
        }
    if kind == "send":
        return {
            "type": "send",
            "channel": "email",
            "message": {"subject": "", "body": ""},
            "next": target,
        }
    first = action_forms.types()[0] if action_forms.types() else "webhook"
    return {"type": "action", "actions": [{"type": first, "params": {}}], "next": target}


def _insert(nodes: dict[str, Any], start: str, after: str, kind: str) -> str:
    """Insert a new step of ``kind`` on the edge ``after`` names; returns the new start.

    ``after`` is ``__start__`` (before the first step), a step's name (its ``next``), or
    ``name.then`` / ``name.else`` / ``name.v<j>`` (a branch's or split's way out)."""
    n = len(nodes) + 1
    while f"{kind}_{n}" in nodes:
        n += 1
    new = f"{kind}_{n}"
    if after == START:
        nodes[new] = default_node(kind, start)
        return new
    name, _, way = after.partition(".")
    node = nodes.get(name)
    if node is None:
        return start
    if not way and "next" in node:
        nodes[new] = default_node(kind, node["next"])
        node["next"] = new
    elif way in ("then", "else") and node.get("type") == "branch":
        nodes[new] = default_node(kind, node.get(way, ""))
        node[way] = new
    elif way.startswith("v") and way[1:].isdigit() and int(way[1:]) < len(node.get("variants", [])):
        variant = node["variants"][int(way[1:])]
        nodes[new] = default_node(kind, variant.get("next", ""))
        variant["next"] = new
    return start


def _remove(nodes: dict[str, Any], start: str, gone: str) -> str:
    if gone not in nodes or len(nodes) <= 1:
        return start
    onward = next((t for _, t in edges(nodes[gone]) if t), "")
    del nodes[gone]
    for node in nodes.values():
        for key in ("next", "then", "else"):
            if node.get(key) == gone:
                node[key] = onward
        for variant in node.get("variants", []):
            if variant.get("next") == gone:
                variant["next"] = onward
    return onward if start == gone else start


def _rename(nodes: dict[str, Any], renames: dict[str, str]) -> None:
    """Edges follow a step that was renamed: its drop-downs still name it as it was."""
    for node in nodes.values():
        for key in ("next", "then", "else"):
            if node.get(key) in renames:
                node[key] = renames[node[key]]
        for variant in node.get("variants", []):
            if variant.get("next") in renames:
                variant["next"] = renames[variant["next"]]
        engagement = node.get("engagement")
        if isinstance(engagement, dict) and engagement.get("message") in renames:
            engagement["message"] = renames[engagement["message"]]


class CampaignBuilder(Builder):
    type = "campaign"
    template = "builders/kinds/campaign.html"

    def new_body(self) -> dict[str, Any]:
        objects = choices.objects()
        return {
            "object": "customer"
            if any(k == "customer" for k, _ in objects)
            else (objects[0][0] if objects else "customer"),
            "x-label": {"en": "", "zh": ""},
            "trigger": {"type": "event", "event": "signed_up"},
            "start": "done",
            "nodes": {"done": {"type": "end"}},
        }

    def context(self, request: HttpRequest, key: str, body: dict[str, Any]) -> dict[str, Any]:
        nodes = body.get("nodes") or {}
        cat = catalog(body.get("object", ""), get_language() or "en")
        names = ordered(body)
        steps = [step_context(i, name, nodes[name], cat) for i, name in enumerate(names)]
        label = body.get("x-label") or {}
        return {
            "objects": choices.objects(),
            "object": body.get("object", ""),
            "label_en": label.get("en", ""),
            "label_zh": label.get("zh", ""),
            **trigger_context(body.get("trigger") or {}),
            **goal_context(body.get("goal"), cat),
            "reentry": body.get("reentry", ""),
            "rows": steps,
            "node_ids": names,
            "send_ids": [n for n in names if nodes[n].get("type") == "send"],
            "palette": [(kind, PALETTE_LABELS[kind]) for kind in PALETTE],
            "channel_types": channels.keys(),
            "catalog": cat,
            "segments": choices.segments(),
            "fields": [f["name"] for f in cat["fields"]],
            "date_fields": [f["name"] for f in cat["fields"] if f["kind"] in ("date", "datetime")],
            "weekdays": WEEKDAYS,
            "engagement_kinds": ENGAGEMENT,
            "diagram": diagram(body),
        }

    def apply(self, body: dict[str, Any], post: QueryDict) -> dict[str, Any]:
        if "n-count" not in post:
            return body
        op = post.get("op", "")
        object_key = post.get("k-object", body.get("object", ""))
        same_object = object_key == body.get("object")
        cat = catalog(object_key, get_language() or "en")
        old = body.get("nodes") or {}
        nodes: dict[str, Any] = {}
        renames: dict[str, str] = {}
        for i in range(min(int(post.get("n-count") or 0), 200)):
            name = post.get(f"n-{i}-id", "").strip()
            orig = post.get(f"n-{i}-orig", "")
            if not name:
                continue
            if orig and orig != name:
                renames[orig] = name
            nodes[name] = read_step(old.get(orig), post, i, op, cat, same_object)
        _rename(nodes, renames)
        start = renames.get(body.get("start"), body.get("start"))
        if op.startswith("n-insert:"):
            _, after, kind = op.split(":", 2)
            if kind in PALETTE:
                start = _insert(nodes, start, after, kind)
        elif op.startswith("n-remove:"):
            start = _remove(nodes, start, op.split(":", 1)[1])
        out = {k: v for k, v in body.items() if k not in ("nodes", "start")}
        out["object"] = object_key
        label = {k: post.get(f"k-label_{k}", "").strip() for k in ("en", "zh")}
        label = {k: v for k, v in label.items() if v}
        out.pop("x-label", None)
        if label:
            out["x-label"] = label
        out["trigger"] = read_trigger(body.get("trigger") or {}, post)
        goal = read_goal(body.get("goal"), post, cat, same_object)
        out.pop("goal", None)
        if goal:
            out["goal"] = goal
        out["start"] = start
        out["nodes"] = nodes
        return out

    def slot(self, message: Message) -> str | None:
        items = parts(message.path)
        in_actions = action_forms.slot(items)
        if in_actions:
            return in_actions
        if len(items) >= 4 and items[0] == "nodes" and items[2] == "message":
            return action_forms.slot_key(items[:4])
        if len(items) >= 3 and items[0] == "nodes" and items[2] == "condition":
            root = root_for("b", str(items[1]))
            return row_of(message.path, ("nodes", items[1], "condition"), root)
        if len(items) >= 2 and items[:2] == ["goal", "condition"]:
            return row_of(message.path, ("goal", "condition"), GOAL_ROOT)
        if len(items) >= 2 and items[0] == "nodes" and isinstance(items[1], str):
            return f"node:{items[1]}"
        if len(items) >= 2 and items[0] == "trigger":
            return f"trigger:{items[1]}"
        if items and items[0] in ("trigger", "goal", "start", "object"):
            return items[0]
        return None

    def preview(self, request: HttpRequest, key: str, body: dict[str, Any]) -> dict[str, Any]:
        from tessera.api.permissions import Policy

        object_key = body.get("object", "")
        policy = Policy.for_user(request.user)
        people = policy.rows(object_key, Record.objects.filter(object_key=object_key)).order_by(
            "-id"
        )[:50]
        object_body = choices.body_of("object", object_key) or {}
        title = object_body.get("x-title-field")
        if title and policy.denied_fields(object_key, [title]):
            title = None
        customers = [
            (r.pk, str(r.data.get(title) or f"#{r.pk}") if title else f"#{r.pk}") for r in people
        ]
        out: dict[str, Any] = {"kind": "campaign", "customers": customers}
        chosen = request.POST.get("dry-record")
        if request.POST.get("op") == "dryrun" and chosen:
            record = (
                policy.rows(
                    object_key, Record.objects.filter(object_key=object_key, pk=chosen)
                ).first()
                if str(chosen).isdigit()
                else None
            )
            out["chosen"] = chosen
            if record is None:
                out["error"] = _("No such customer, or not one you may see.")
            else:
                out["path"] = walk(key, body, record)
                trail = [START if s["node"] == "trigger" else s["node"] for s in out["path"]]
                out["diagram"] = diagram(body, trail)
        return out
