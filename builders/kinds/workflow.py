"""The workflow builder: states and transitions as tables and as a drawn diagram; SLA rules
with their reminders and escalations; each transition's guard built with the same condition
builder as segments; actions (on entering or leaving a state, on a transition, on an SLA's
reminder or breach) as forms generated from each action's JSON Schema."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .. import action_forms, choices
from ..conditions import catalog, edit, read, root_for, row_of, rows
from ..diagram import Box, Edge, draw, shown_label
from ..messages import Message
from ..paths import parts
from .base import Builder

MAX_ROWS = 200


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.replace("，", ",").split(",") if n.strip()]


def diagram(body: dict[str, Any]):
    states = body.get("states") or {}
    boxes = []
    for name, state in states.items():
        rules = state.get("sla") or []
        note = (
            "SLA " + " / ".join(str(r.get("within", "")) for r in rules[:2])
            if rules
            else (_("final") if state.get("final") else "")
        )
        boxes.append(
            Box(
                name,
                shown_label(state.get("x-label"), name),
                "final" if state.get("final") else "state",
                note,
            )
        )
    edges = []
    for name, t in (body.get("transitions") or {}).items():
        label = name + (" [if]" if "guard" in t else "") + (" ⏱" if "after" in t else "")
        for source in t.get("from", []):
            if source in states and t.get("to") in states:
                edges.append(Edge(source, t["to"], label))
    return draw(body.get("initial", ""), boxes, edges, _("Workflow diagram"))


def _keep_order(chosen: list[str], before: Any) -> list[str]:
    """A multiple choice read back in the order it was written, new picks after.

    The options follow the states' order, which PostgreSQL's jsonb does not keep as written;
    without this, opening and saving a workflow would reorder its lists."""
    before = before if isinstance(before, list) else []
    return [s for s in before if s in chosen] + [s for s in chosen if s not in before]


def _int(text: str | None) -> int:
    return min(int(text), MAX_ROWS) if text and text.isdigit() else 0


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
        cat = catalog(body.get("object", ""), get_language() or "en")
        states, slas = [], []
        for i, (name, state) in enumerate((body.get("states") or {}).items()):
            label = state.get("x-label") or {}
            states.append(
                {
                    "i": i,
                    "name": name,
                    "label_en": label.get("en", ""),
                    "label_zh": label.get("zh", ""),
                    "final": bool(state.get("final")),
                    "on_enter": action_forms.rows(
                        state.get("on_enter"), f"st-{i}-enter-", ["states", name, "on_enter"]
                    ),
                    "on_exit": action_forms.rows(
                        state.get("on_exit"), f"st-{i}-exit-", ["states", name, "on_exit"]
                    ),
                }
            )
            for index, rule in enumerate(state.get("sla") or []):
                k = len(slas)
                here = ["states", name, "sla", index]
                business = rule.get("business_hours")
                slas.append(
                    {
                        "k": k,
                        "state": name,
                        "index": index,
                        "name": rule.get("name", ""),
                        "within": rule.get("within", ""),
                        "remind": rule.get("remind_before", ""),
                        "business": "" if business is None else ("yes" if business else "no"),
                        "until": rule.get("until") or [],
                        "flag_field": rule.get("flag_field", ""),
                        "on_remind": action_forms.rows(
                            rule.get("on_remind"), f"sla-{k}-remind-", [*here, "on_remind"]
                        ),
                        "on_breach": action_forms.rows(
                            rule.get("on_breach"), f"sla-{k}-breach-", [*here, "on_breach"]
                        ),
                        "slot": f"sla:{name}:{index}",
                    }
                )
        transitions = []
        for i, (name, t) in enumerate((body.get("transitions") or {}).items()):
            label = t.get("x-label") or {}
            transitions.append(
                {
                    "i": i,
                    "name": name,
                    "from": t.get("from", []),
                    "to": t.get("to", ""),
                    "roles": ", ".join(t.get("roles", [])),
                    "required": ", ".join(t.get("required_fields", [])),
                    "comment": t.get("comment") == "required",
                    "label_en": label.get("en", ""),
                    "label_zh": label.get("zh", ""),
                    "after": t.get("after", ""),
                    "guarded": "guard" in t,
                    "guard": rows(t["guard"], cat, root_for("g", name)) if "guard" in t else None,
                    "actions": action_forms.rows(
                        t.get("actions"), f"tr-{i}-act-", ["transitions", name, "actions"]
                    ),
                }
            )
        return {
            "objects": choices.objects(),
            "calendars": choices.published("calendar"),
            "object": body.get("object", ""),
            "fields": [f["name"] for f in cat["fields"]],
            "catalog": cat,
            "segments": choices.segments(),
            "initial": body.get("initial", ""),
            "state_field": body.get("state_field", ""),
            "start": body.get("start", "on_create"),
            "calendar": body.get("calendar", ""),
            "states": states,
            "slas": slas,
            "transitions": transitions,
            "diagram": diagram(body),
        }

    def apply(self, body: dict[str, Any], post: QueryDict) -> dict[str, Any]:
        if "w-object" not in post:
            return body
        op = post.get("op", "")
        object_key = post.get("w-object", "")
        cat = catalog(object_key, get_language() or "en")
        old_states, old_transitions = body.get("states") or {}, body.get("transitions") or {}
        renamed: dict[str, str] = {}
        states: dict[str, Any] = {}
        for i in range(_int(post.get("st-count"))):
            p = f"st-{i}-"
            name, orig = post.get(f"{p}name", "").strip(), post.get(f"{p}orig", "")
            if not name or f"{p}name" not in post:
                continue
            renamed[orig] = name
            state = dict(old_states.get(orig, {}))
            label = {k: post.get(f"{p}label_{k}", "").strip() for k in ("en", "zh")}
            label = {k: v for k, v in label.items() if v}
            state.pop("x-label", None)
            if label:
                state["x-label"] = label
            state.pop("final", None)
            if post.get(f"{p}final") == "on":
                state["final"] = True
            for key, short in (("on_enter", "enter"), ("on_exit", "exit")):
                items = action_forms.read(state.get(key), post, f"{p}{short}-")
                state.pop(key, None)
                if items:
                    state[key] = items
            states[name] = state

        def moved(name: str) -> str:
            return renamed.get(name, name)

        if "sla-count" in post:
            self._read_slas(post, op, old_states, states, moved)
        transitions: dict[str, Any] = {}
        for i in range(_int(post.get("tr-count"))):
            p = f"tr-{i}-"
            name, orig = post.get(f"{p}name", "").strip(), post.get(f"{p}orig", "")
            if not name or f"{p}name" not in post:
                continue
            t = dict(old_transitions.get(orig, {}))
            t["from"] = _keep_order(
                [moved(s) for s in post.getlist(f"{p}from")],
                [moved(s) for s in t.get("from") or []],
            )
            t["to"] = moved(post.get(f"{p}to", ""))
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
            guard = t.pop("guard", None)
            if post.get(f"{p}guard_on") == "on":
                root = root_for("g", orig)
                if f"c{root}.kind" in post and object_key == body.get("object"):
                    guard = read(post, cat, root)
                elif guard is None or object_key != body.get("object"):
                    guard = {"all": []}  # another object's fields mean nothing here
                t["guard"] = edit(guard, op, cat, root)
            items = action_forms.read(t.pop("actions", None), post, f"{p}act-")
            if items:
                t["actions"] = items
            transitions[name] = {"from": t.pop("from"), "to": t.pop("to"), **t}
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
        out["object"] = object_key
        for key in ("initial", "state_field", "calendar"):
            value = post.get(f"w-{key}", "").strip()
            out.pop(key, None)
            if value:
                out[key] = moved(value) if key == "initial" else value
        start = post.get("w-start")
        if start in ("on_create", "manual") and (start != "on_create" or "start" in body):
            out["start"] = start
        out["states"] = states
        if transitions:
            out["transitions"] = transitions
        return out

    def _read_slas(self, post: QueryDict, op: str, old_states, states, moved) -> None:
        """SLA rules from their cards, in card order per state; add/remove applied."""
        rules: dict[str, list[dict[str, Any]]] = {}
        for k in range(_int(post.get("sla-count"))):
            p = f"sla-{k}-"
            if op == f"remove-sla:{k}" or f"{p}state" not in post:
                continue
            source = old_states.get(post.get(f"{p}orig_state", ""), {})
            index = post.get(f"{p}orig_index", "")
            old = source.get("sla") or []
            rule = dict(old[int(index)]) if index.isdigit() and int(index) < len(old) else {}
            rule["name"] = post.get(f"{p}name", "").strip()
            rule["within"] = post.get(f"{p}within", "").strip()
            for key, field in (("remind_before", "remind"), ("flag_field", "flag_field")):
                rule.pop(key, None)
                if post.get(f"{p}{field}", "").strip():
                    rule[key] = post.get(f"{p}{field}").strip()
            rule.pop("business_hours", None)
            if post.get(f"{p}business") in ("yes", "no"):
                rule["business_hours"] = post.get(f"{p}business") == "yes"
            until = _keep_order(
                [moved(s) for s in post.getlist(f"{p}until")],
                [moved(s) for s in rule.pop("until", None) or []],
            )
            if until:
                rule["until"] = until
            for key, short in (("on_remind", "remind-"), ("on_breach", "breach-")):
                items = action_forms.read(rule.get(key), post, f"{p}{short}")
                rule.pop(key, None)
                if items:
                    rule[key] = items
            rules.setdefault(moved(post.get(f"{p}state", "")), []).append(rule)
        if op == "add-sla" and states:
            first = next((n for n, s in states.items() if not s.get("final")), next(iter(states)))
            taken = {r.get("name") for r in rules.get(first, [])}
            name = next(
                n
                for n in ("respond", "resolve", *[f"sla_{i}" for i in range(2, 99)])
                if n not in taken
            )
            rules.setdefault(first, []).append({"name": name, "within": "PT4H"})
        for name, state in states.items():
            state.pop("sla", None)
            if rules.get(name):
                state["sla"] = rules[name]

    def slot(self, message: Message) -> str | None:
        items = parts(message.path)
        in_actions = action_forms.slot(items)
        if in_actions:
            return in_actions
        if len(items) >= 3 and items[0] == "transitions" and items[2] == "guard":
            return row_of(
                message.path, ("transitions", items[1], "guard"), root_for("g", str(items[1]))
            )
        if (
            len(items) >= 4
            and items[0] == "states"
            and items[2] == "sla"
            and isinstance(items[3], int)
        ):
            return f"sla:{items[1]}:{items[3]}"
        if len(items) >= 2 and items[0] in ("states", "transitions") and isinstance(items[1], str):
            return f"{items[0][:-1]}:{items[1]}"
        if items and items[0] in ("initial", "state_field", "object", "calendar"):
            return items[0]
        return None
