"""A campaign's trigger and goal as forms: one set of controls per trigger type (an event and
its payload, a segment entered or left, a date field coming round, a broadcast), the goal as
an event or as a condition built with the segments' condition builder.

A trigger type a plugin adds without a form here is edited as a small JSON box, so nothing
is out of reach."""

from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict
from django.utils.translation import get_language

from tessera.plugins import triggers

from ..conditions import edit, read, rows

# per trigger type: (setting, control kind); kinds: text, segment, date_field, int, yesno, json
TRIGGER_FORMS: dict[str, list[tuple[str, str]]] = {
    "event": [("event", "text"), ("where", "json")],
    "segment_entered": [("segment", "segment")],
    "segment_exited": [("segment", "segment")],
    "date_field": [
        ("field", "date_field"),
        ("offset_days", "int"),
        ("at", "text"),
        ("annual", "yesno"),
    ],
    "broadcast": [("segment", "segment"), ("at", "text"), ("every", "text")],
}
GOAL_ROOT = "goal"


def _shown(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "json":
        return json.dumps(value, ensure_ascii=False)
    if kind == "yesno":
        return "yes" if value else "no"
    return str(value)


def trigger_context(trigger: dict[str, Any]) -> dict[str, Any]:
    kind = trigger.get("type", "")
    form = TRIGGER_FORMS.get(kind)
    lang = "zh" if (get_language() or "en").startswith("zh") else "en"
    installed = triggers.keys()  # a Registry iterates over its items, not its keys
    labels = {t.type: (t.label or {}).get(lang) or t.type for t in triggers}
    settings = [
        {"key": key, "kind": control, "value": _shown(trigger.get(key), control)}
        for key, control in form or []
    ]
    return {
        "trigger_type": kind,
        "trigger_types": [(t, labels.get(t, t)) for t in installed],
        "trigger_settings": settings,
        "trigger_has_form": form is not None,
        "trigger_rest": json.dumps(
            {k: v for k, v in trigger.items() if k != "type"}, ensure_ascii=False
        ),
    }


def _read_value(raw: str, kind: str) -> tuple[bool, Any]:
    """(present, value) of one control; an empty control leaves the setting out."""
    raw = raw.strip()
    if not raw:
        return False, None
    if kind == "int":
        return True, int(raw) if raw.lstrip("-").isdigit() else raw
    if kind == "yesno":
        return raw in ("yes", "no"), raw == "yes"
    if kind == "json":
        try:
            return True, json.loads(raw)
        except ValueError:
            return True, raw  # the trigger's own check names it, next to this control
    return True, raw


def read_trigger(old: dict[str, Any], post: QueryDict) -> dict[str, Any]:
    kind = post.get("k-trigger_type", old.get("type", "event"))
    if kind != old.get("type"):
        return {"type": kind}  # another type's settings mean nothing here
    form = TRIGGER_FORMS.get(kind)
    out: dict[str, Any] = {"type": kind}
    if form is None:
        try:
            rest = json.loads(post.get("k-trigger_rest") or "{}")
        except ValueError:
            return {**old, "invalid": post.get("k-trigger_rest")}
        if isinstance(rest, dict):
            out.update({k: v for k, v in rest.items() if k != "type"})
        return out
    known = {key for key, _ in form}
    out.update({k: v for k, v in old.items() if k not in known and k != "type"})
    for key, control in form:
        if f"k-tr-{key}" not in post:
            if key in old:
                out[key] = old[key]
            continue
        present, value = _read_value(post.get(f"k-tr-{key}", ""), control)
        if present:
            out[key] = value
    return out


def goal_context(goal: dict[str, Any] | None, cat: dict[str, Any]) -> dict[str, Any]:
    goal = goal or {}
    mode = "condition" if "condition" in goal else ("event" if goal else "")
    return {
        "goal_mode": mode,
        "goal_event": goal.get("event", ""),
        "goal_where": json.dumps(goal["where"], ensure_ascii=False) if "where" in goal else "",
        "goal_within": goal.get("within", ""),
        "goal_tree": rows(goal["condition"], cat, GOAL_ROOT) if "condition" in goal else None,
    }


def read_goal(
    old: dict[str, Any] | None, post: QueryDict, cat: dict[str, Any], same_object: bool
) -> dict[str, Any] | None:
    if "k-goal_mode" not in post:
        return old
    old = old or {}
    mode = post.get("k-goal_mode", "")
    if not mode:
        return None
    goal: dict[str, Any] = {}
    if mode == "event":
        goal["event"] = post.get("k-goal_event", "").strip() or old.get("event") or "order_placed"
        present, where = _read_value(post.get("k-goal_where", ""), "json")
        if present:
            goal["where"] = where
    else:
        if f"c{GOAL_ROOT}.kind" in post and same_object:
            tree = read(post, cat, GOAL_ROOT)
        else:
            tree = old.get("condition") if same_object and "condition" in old else {"all": []}
        goal["condition"] = edit(tree, post.get("op", ""), cat, GOAL_ROOT)
    within = post.get("k-goal_within", "").strip()
    if within:
        goal["within"] = within
    return goal
