"""The workflow builder: states and transitions as two tables, the same as a drawn diagram,
with each state's first SLA rule editable inline (further rules and actions are kept)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _

from .. import choices
from ..diagram import Box, Edge, draw
from ..messages import Message
from ..paths import parts
from .base import Builder


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.replace("，", ",").split(",") if n.strip()]


def diagram(body: dict[str, Any]):
    states = body.get("states") or {}
    boxes = []
    for name, state in states.items():
        sla = (state.get("sla") or [{}])[0] if state.get("sla") else {}
        note = f"SLA {sla.get('within', '')}" if sla else (_("final") if state.get("final") else "")
        boxes.append(
            Box(
                name,
                (state.get("x-label") or {}).get("en") or name,
                "final" if state.get("final") else "state",
                note,
            )
        )
    edges = []
    for name, t in (body.get("transitions") or {}).items():
        for source in t.get("from", []):
            if source in states and t.get("to") in states:
                edges.append(Edge(source, t["to"], name))
    return draw(body.get("initial", ""), boxes, edges, _("Workflow diagram"))


class WorkflowBuilder(Builder):
    type = "workflow"
    template = "builders/kinds/workflow.html"

    def new_body(self) -> dict[str, Any]:
        objects = choices.objects()
        return {
            "object": objects[0][0] if objects else "ticket",
            "initial": "new",
            "states": {"new": {}, "done": {"final": True}},
            "transitions": {"finish": {"from": ["new"], "to": "done"}},
        }

    def context(self, request: HttpRequest, key: str, body: dict[str, Any]) -> dict[str, Any]:
        states = []
        for name, state in (body.get("states") or {}).items():
            sla = (state.get("sla") or [{}])[0] if state.get("sla") else {}
            label = state.get("x-label") or {}
            states.append(
                {
                    "name": name,
                    "label_en": label.get("en", ""),
                    "label_zh": label.get("zh", ""),
                    "final": bool(state.get("final")),
                    "sla_name": sla.get("name", ""),
                    "sla_within": sla.get("within", ""),
                    "sla_remind": sla.get("remind_before", ""),
                }
            )
        transitions = []
        for name, t in (body.get("transitions") or {}).items():
            label = t.get("x-label") or {}
            transitions.append(
                {
                    "name": name,
                    "from": t.get("from", []),
                    "to": t.get("to", ""),
                    "roles": ", ".join(t.get("roles", [])),
                    "required": ", ".join(t.get("required_fields", [])),
                    "comment": t.get("comment") == "required",
                    "label_en": label.get("en", ""),
                    "label_zh": label.get("zh", ""),
                    "after": t.get("after", ""),
                }
            )
        object_body = choices.body_of("object", body.get("object", "")) or {}
        return {
            "objects": choices.objects(),
            "calendars": choices.published("calendar"),
            "object": body.get("object", ""),
            "fields": list(object_body.get("properties", {})),
            "initial": body.get("initial", ""),
            "state_field": body.get("state_field", ""),
            "start": body.get("start", "on_create"),
            "calendar": body.get("calendar", ""),
            "states": states,
            "transitions": transitions,
            "diagram": diagram(body),
        }

    def apply(self, body: dict[str, Any], post: QueryDict) -> dict[str, Any]:
        if "w-object" not in post:
            return body
        old_states, old_transitions = body.get("states") or {}, body.get("transitions") or {}
        states: dict[str, Any] = {}
        for i in range(min(int(post.get("st-count") or 0), 200)):
            p = f"st-{i}-"
            name = post.get(f"{p}name", "").strip()
            if not name or f"{p}name" not in post:
                continue
            state = dict(old_states.get(post.get(f"{p}orig", ""), {}))
            label = {k: post.get(f"{p}label_{k}", "").strip() for k in ("en", "zh")}
            label = {k: v for k, v in label.items() if v}
            state.pop("x-label", None)
            if label:
                state["x-label"] = label
            state.pop("final", None)
            if post.get(f"{p}final") == "on":
                state["final"] = True
            rules = list(state.get("sla") or [])
            within = post.get(f"{p}sla_within", "").strip()
            if within:
                rule = dict(rules[0]) if rules else {}
                rule["name"] = post.get(f"{p}sla_name", "").strip() or rule.get("name") or "respond"
                rule["within"] = within
                remind = post.get(f"{p}sla_remind", "").strip()
                rule.pop("remind_before", None)
                if remind:
                    rule["remind_before"] = remind
                rules = [rule, *rules[1:]]
            elif rules:
                rules = rules[1:]
            state.pop("sla", None)
            if rules:
                state["sla"] = rules
            states[name] = state
        transitions: dict[str, Any] = {}
        for i in range(min(int(post.get("tr-count") or 0), 200)):
            p = f"tr-{i}-"
            name = post.get(f"{p}name", "").strip()
            if not name or f"{p}name" not in post:
                continue
            t = dict(old_transitions.get(post.get(f"{p}orig", ""), {}))
            t["from"] = post.getlist(f"{p}from")
            t["to"] = post.get(f"{p}to", "")
            for key, field in (("roles", "roles"), ("required_fields", "required")):
                t.pop(key, None)
                if _names(post.get(f"{p}{field}", "")):
                    t[key] = _names(post.get(f"{p}{field}", ""))
            t.pop("comment", None)
            if post.get(f"{p}comment") == "on":
                t["comment"] = "required"
            label = {k: post.get(f"{p}label_{k}", "").strip() for k in ("en", "zh")}
            label = {k: v for k, v in label.items() if v}
            t.pop("x-label", None)
            if label:
                t["x-label"] = label
            after = post.get(f"{p}after", "").strip()
            t.pop("after", None)
            if after:
                t["after"] = after
            transitions[name] = {"from": t.pop("from"), "to": t.pop("to"), **t}
        op = post.get("op", "")
        if op == "add-state":
            n = len(states) + 1
            while f"state_{n}" in states:
                n += 1
            states[f"state_{n}"] = {}
        elif op == "add-transition":
            n = len(transitions) + 1
            while f"step_{n}" in transitions:
                n += 1
            first = next(iter(states), "")
            transitions[f"step_{n}"] = {"from": [first] if first else [], "to": first}
        elif op.startswith("remove-state:"):
            states.pop(op.split(":", 1)[1], None)
        elif op.startswith("remove-transition:"):
            transitions.pop(op.split(":", 1)[1], None)
        out = {k: v for k, v in body.items() if k not in ("states", "transitions")}
        out["object"] = post.get("w-object", "")
        for key in ("initial", "state_field", "calendar"):
            value = post.get(f"w-{key}", "").strip()
            out.pop(key, None)
            if value:
                out[key] = value
        start = post.get("w-start")
        if start in ("on_create", "manual") and (start != "on_create" or "start" in body):
            out["start"] = start
        out["states"] = states
        if transitions:
            out["transitions"] = transitions
        return out

    def slot(self, message: Message) -> str | None:
        items = parts(message.path)
        if len(items) >= 2 and items[0] in ("states", "transitions") and isinstance(items[1], str):
            return f"{items[0][:-1]}:{items[1]}"
        if items and items[0] in ("initial", "state_field", "object", "calendar"):
            return items[0]
        return None
