"""The campaign builder: the flow drawn, a palette that inserts steps (wait, branch, split,
send, action) into it, trigger and goal settings, each step's form — an action's parameters
generated from that action's JSON Schema — and a dry run that walks one customer through."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _

from tessera.plugins import actions, channels, triggers
from tessera.records.models import Record

from .. import choices, schema_form
from ..diagram import Box, Edge, draw
from ..dryrun import walk
from ..messages import Message
from ..paths import parts
from .base import Builder

PALETTE = ["wait", "branch", "split", "send", "action"]
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


def diagram(body: dict[str, Any]):
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
                (node.get("x-label") or {}).get("en") or name,
                node.get("type", ""),
                note or node.get("type", ""),
            )
        )
        lines += [
            Edge(name, target, label if label != "next" else "") for label, target in edges(node)
        ]
    goal = body.get("goal")
    if goal:
        boxes.append(Box("__goal__", _("Goal"), "goal", goal.get("event") or _("condition")))
    return draw(START, boxes, lines, _("Campaign flow"))


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
    first = actions.keys()[0] if actions.keys() else "webhook"
    return {"type": "action", "actions": [{"type": first, "params": {}}], "next": target}


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
        names = ordered(body)
        rows = []
        for i, name in enumerate(names):
            node = nodes[name]
            row = {
                "i": i,
                "id": name,
                "type": node.get("type"),
                "label_en": (node.get("x-label") or {}).get("en", ""),
                "next": node.get("next", ""),
                "then": node.get("then", ""),
                "else": node.get("else", ""),
                "for": node.get("for", ""),
                "channel": node.get("channel", ""),
                "subject": (node.get("message") or {}).get("subject", ""),
                "body": (node.get("message") or {}).get("body", ""),
                "variants": node.get("variants", []),
                "control": (node.get("control") or {}).get("weight", ""),
                "branch_event": (node.get("event") or {}).get("type", ""),
                "condition": json.dumps(node["condition"], ensure_ascii=False)
                if "condition" in node
                else "",
                "has_next": node.get("type") in ("wait", "send", "action"),
            }
            row["actions"] = []
            for j, action in enumerate(node.get("actions", [])):
                try:
                    schema = actions.get(action.get("type", "")).params_schema
                except Exception:
                    schema = {"type": "object"}
                row["actions"].append(
                    {
                        "j": j,
                        "type": action.get("type", ""),
                        "controls": schema_form.controls(
                            schema, action.get("params") or {}, f"n-{i}-a{j}-p-"
                        ),
                    }
                )
            rows.append(row)
        trigger = body.get("trigger") or {}
        goal = body.get("goal") or {}
        label = body.get("x-label") or {}
        return {
            "objects": choices.objects(),
            "object": body.get("object", ""),
            "label_en": label.get("en", ""),
            "label_zh": label.get("zh", ""),
            "trigger_type": trigger.get("type", ""),
            "trigger_types": triggers.keys(),
            "trigger_rest": json.dumps(
                {k: v for k, v in trigger.items() if k != "type"}, ensure_ascii=False
            ),
            "goal_event": goal.get("event", ""),
            "goal_within": goal.get("within", ""),
            "reentry": body.get("reentry", ""),
            "rows": rows,
            "node_ids": names,
            "palette": PALETTE,
            "action_types": actions.keys(),
            "channel_types": channels.keys(),
            "diagram": diagram(body),
        }

    def apply(self, body: dict[str, Any], post: QueryDict) -> dict[str, Any]:
        if "n-count" not in post:
            return body
        old = body.get("nodes") or {}
        nodes: dict[str, Any] = {}
        for i in range(min(int(post.get("n-count") or 0), 200)):
            p = f"n-{i}-"
            name, orig = post.get(f"{p}id", "").strip(), post.get(f"{p}orig", "")
            if not name:
                continue
            node = dict(old.get(orig) or {"type": post.get(f"{p}type", "end")})
            kind = node.get("type")
            label = post.get(f"{p}label_en", "").strip()
            node.pop("x-label", None)
            if label:
                node["x-label"] = {**((old.get(orig) or {}).get("x-label") or {}), "en": label}
            if f"{p}next" in post:
                node["next"] = post.get(f"{p}next")
            if kind == "wait" and post.get(f"{p}for"):
                node["for"] = post.get(f"{p}for").strip()
            elif kind == "branch":
                node["then"], node["else"] = post.get(f"{p}then", ""), post.get(f"{p}else", "")
                condition = post.get(f"{p}condition", "").strip()
                for k in ("event", "condition", "engagement"):
                    if k != "engagement" or condition or post.get(f"{p}branch_event"):
                        node.pop(k, None)
                if condition:
                    try:
                        node["condition"] = json.loads(condition)
                    except ValueError:
                        node["condition"] = {"invalid": condition}
                elif post.get(f"{p}branch_event", "").strip():
                    before = (old.get(orig) or {}).get("event") or {}
                    chosen_type = post.get(f"{p}branch_event").strip()
                    node["event"] = (
                        before if before.get("type") == chosen_type else {"type": chosen_type}
                    )
            elif kind == "split":
                variants = []
                for j, variant in enumerate(node.get("variants", [])):
                    weight = post.get(f"{p}v{j}-weight", str(variant.get("weight", 1)))
                    variants.append(
                        {
                            "name": post.get(f"{p}v{j}-name", variant.get("name", "")).strip(),
                            "weight": int(weight) if weight.isdigit() else 1,
                            "next": post.get(f"{p}v{j}-next", variant.get("next", "")),
                        }
                    )
                node["variants"] = variants
                control = post.get(f"{p}control", "").strip()
                node.pop("control", None)
                if control.isdigit():
                    node["control"] = {"weight": int(control)}
            elif kind == "send":
                node["channel"] = post.get(f"{p}channel", node.get("channel", "email"))
                message = dict(node.get("message") or {})
                message["subject"] = post.get(f"{p}subject", "")
                message["body"] = post.get(f"{p}body", "")
                node["message"] = message
            elif kind == "action":
                chosen = []
                for j, action in enumerate(node.get("actions", [])):
                    new_type = post.get(f"{p}a{j}-type", action.get("type", ""))
                    params: dict[str, Any] = {}
                    if new_type == action.get("type") and new_type in actions:
                        params = schema_form.read(
                            actions.get(new_type).params_schema, post, f"{p}a{j}-p-"
                        )
                    chosen.append({"type": new_type, "params": params})
                node["actions"] = chosen
            nodes[name] = node
        start = body.get("start")
        renames = {
            post.get(f"n-{i}-orig"): post.get(f"n-{i}-id", "").strip()
            for i in range(int(post.get("n-count") or 0))
        }
        start = renames.get(start) or start
        op = post.get("op", "")
        if op.startswith("n-insert:"):
            _, after, kind = op.split(":", 2)
            n = len(nodes) + 1
            while f"{kind}_{n}" in nodes:
                n += 1
            new = f"{kind}_{n}"
            if after == START:
                nodes[new] = default_node(kind, start)
                start = new
            elif after in nodes and "next" in nodes[after]:
                nodes[new] = default_node(kind, nodes[after]["next"])
                nodes[after]["next"] = new
        elif op.startswith("n-remove:"):
            gone = op.split(":", 1)[1]
            if gone in nodes and len(nodes) > 1:
                onward = next((t for _, t in edges(nodes[gone]) if t), "")
                del nodes[gone]
                for node in nodes.values():
                    for key in ("next", "then", "else"):
                        if node.get(key) == gone:
                            node[key] = onward
                    for variant in node.get("variants", []):
                        if variant.get("next") == gone:
                            variant["next"] = onward
                if start == gone:
                    start = onward
        out = {k: v for k, v in body.items() if k not in ("nodes", "start")}
        out["object"] = post.get("k-object", body.get("object", ""))
        label = {k: post.get(f"k-label_{k}", "").strip() for k in ("en", "zh")}
        label = {k: v for k, v in label.items() if v}
        out.pop("x-label", None)
        if label:
            out["x-label"] = label
        trigger = {"type": post.get("k-trigger_type", "event")}
        try:
            rest = json.loads(post.get("k-trigger_rest") or "{}")
            if isinstance(rest, dict):
                trigger.update({k: v for k, v in rest.items() if k != "type"})
        except ValueError:
            trigger["invalid"] = post.get("k-trigger_rest")
        out["trigger"] = trigger
        goal = dict(body.get("goal") or {})
        if post.get("k-goal_event", "").strip():
            goal["event"] = post.get("k-goal_event").strip()
            goal.pop("condition", None)
        elif "condition" not in goal:
            goal = {}
        goal.pop("within", None)
        if goal and post.get("k-goal_within", "").strip():
            goal["within"] = post.get("k-goal_within").strip()
        out.pop("goal", None)
        if goal:
            out["goal"] = goal
        out["start"] = start
        out["nodes"] = nodes
        return out

    def slot(self, message: Message) -> str | None:
        items = parts(message.path)
        if len(items) >= 2 and items[0] == "nodes" and isinstance(items[1], str):
            return f"node:{items[1]}"
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
        customers = [
            (r.pk, str(r.data.get(title) or f"#{r.pk}") if title else f"#{r.pk}") for r in people
        ]
        out: dict[str, Any] = {"kind": "campaign", "customers": customers}
        chosen = request.POST.get("dry-record")
        if request.POST.get("op") == "dryrun" and chosen:
            record = policy.rows(
                object_key, Record.objects.filter(object_key=object_key, pk=chosen)
            ).first()
            out["chosen"] = chosen
            if record is None:
                out["error"] = _("No such customer, or not one you may see.")
            else:
                out["path"] = walk(key, body, record)
        return out
