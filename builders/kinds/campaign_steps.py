"""One campaign step as a form and back: a wait (a duration, a weekday and time, a date field),
a branch (an event since entering, a condition built like a segment's, engagement with an
earlier message), a split (variants and a control group), a send, an action list.

Controls are named ``n-<i>-…`` after the step's row; a step's condition tree is rooted at
``b<step name>`` so several branches live in one form."""

from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict

from tessera.plugins import channels

from .. import action_forms, schema_form
from ..conditions import edit, read, root_for, rows

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ENGAGEMENT = ["sent", "delivered", "opened", "clicked"]


def _wait_mode(node: dict[str, Any]) -> str:
    if "until" in node:
        return "until"
    if "until_field" in node:
        return "until_field"
    return "for"


def _branch_mode(node: dict[str, Any]) -> str:
    for mode in ("condition", "engagement", "event"):
        if mode in node:
            return mode
    return "event"


def step_context(i: int, name: str, node: dict[str, Any], cat: dict[str, Any]) -> dict[str, Any]:
    label = node.get("x-label") or {}
    until = node.get("until") or {}
    event = node.get("event") or {}
    engagement = node.get("engagement") or {}
    return {
        "i": i,
        "id": name,
        "type": node.get("type"),
        "label_en": label.get("en", ""),
        "label_zh": label.get("zh", ""),
        "next": node.get("next", ""),
        "then": node.get("then", ""),
        "else": node.get("else", ""),
        "has_next": node.get("type") in ("wait", "send", "action"),
        "wait_mode": _wait_mode(node),
        "for": node.get("for", ""),
        "weekday": until.get("weekday", ""),
        "time": until.get("time", ""),
        "until_field": node.get("until_field", ""),
        "offset_days": node.get("offset_days", ""),
        "at": node.get("at", ""),
        "branch_mode": _branch_mode(node),
        "branch_event": event.get("type", ""),
        "branch_where": json.dumps(event["where"], ensure_ascii=False) if "where" in event else "",
        "tree": rows(node["condition"], cat, root_for("b", name)) if "condition" in node else None,
        "engagement_message": engagement.get("message", ""),
        "engagement_is": engagement.get("is", "opened"),
        "variants": node.get("variants", []),
        "control": (node.get("control") or {}).get("weight", ""),
        "channel": node.get("channel", ""),
        "message": _message_controls(i, name, node),
        "actions": action_forms.rows(node.get("actions"), f"n-{i}-a", ["nodes", name, "actions"]),
        "slot": f"node:{name}",
    }


def _message_controls(i: int, name: str, node: dict[str, Any]) -> list[dict[str, Any]]:
    """A send step's message as a form generated from its channel's JSON Schema."""
    channel = node.get("channel", "")
    if node.get("type") != "send" or channel not in channels:
        return []
    message = node.get("message") if isinstance(node.get("message"), dict) else {}
    controls = schema_form.controls(channels.get(channel).params_schema, message, f"n-{i}-m-")
    for control in controls:
        control["slot"] = action_forms.slot_key(["nodes", name, "message", control["name"]])
    return controls


def _send(node: dict[str, Any], post: QueryDict, p: str) -> None:
    """The channel, and the message read back through the channel's schema; a new channel
    starts with an empty message (the old one's parts meant something else)."""
    before = node.get("channel", "")
    node["channel"] = post.get(f"{p}channel", before or "email")
    message = dict(node.get("message") or {})
    if node["channel"] != before:
        node["message"] = {}
        return
    if node["channel"] in channels:
        schema = channels.get(node["channel"]).params_schema
        described = set(schema.get("properties") or {})
        message = {k: v for k, v in message.items() if k not in described}
        message.update(schema_form.read(schema, post, f"{p}m-"))
    node["message"] = message


def _int_or_text(text: str) -> int | str:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _wait(node: dict[str, Any], post: QueryDict, p: str, date_fields: list[str]) -> None:
    mode = post.get(f"{p}wait_mode", _wait_mode(node))
    was = _wait_mode(node)
    for key in ("for", "until", "until_field", "offset_days", "at"):
        node.pop(key, None)
    if mode == "until":
        time = post.get(f"{p}time", "").strip() if was == "until" else ""
        node["until"] = {"time": time or "09:00"}
        weekday = post.get(f"{p}weekday", "") if was == "until" else ""
        if weekday in WEEKDAYS:
            node["until"] = {"weekday": weekday, **node["until"]}
    elif mode == "until_field":
        chosen = post.get(f"{p}until_field", "") if was == "until_field" else ""
        node["until_field"] = chosen or (date_fields[0] if date_fields else "")
        if was == "until_field" and post.get(f"{p}offset_days", "").strip():
            node["offset_days"] = _int_or_text(post.get(f"{p}offset_days"))
        if was == "until_field" and post.get(f"{p}at", "").strip():
            node["at"] = post.get(f"{p}at").strip()
    else:
        node["for"] = (post.get(f"{p}for", "").strip() if was == "for" else "") or "P1D"


def _branch(
    node: dict[str, Any],
    old: dict[str, Any],
    post: QueryDict,
    p: str,
    orig: str,
    op: str,
    cat: dict[str, Any],
    same_object: bool,
) -> None:
    node["then"], node["else"] = post.get(f"{p}then", ""), post.get(f"{p}else", "")
    mode = post.get(f"{p}branch_mode", _branch_mode(old))
    was = _branch_mode(old)
    for key in ("event", "condition", "engagement"):
        node.pop(key, None)
    if mode == "condition":
        root = root_for("b", orig)
        if was == "condition" and f"c{root}.kind" in post and same_object:
            tree = read(post, cat, root)
        else:
            tree = old.get("condition") if was == "condition" and same_object else {"all": []}
        node["condition"] = edit(tree, op, cat, root)
    elif mode == "engagement":
        message = post.get(f"{p}engagement_message", "") if was == "engagement" else ""
        chosen = post.get(f"{p}engagement_is", "") if was == "engagement" else ""
        node["engagement"] = {
            "message": message,
            "is": chosen if chosen in ENGAGEMENT else "opened",
        }
    else:
        before = old.get("event") or {}
        kind = (post.get(f"{p}branch_event", "").strip() if was == "event" else "") or (
            before.get("type") or "order_placed"
        )
        event: dict[str, Any] = {"type": kind}
        where = post.get(f"{p}branch_where", "").strip() if was == "event" else ""
        if where:
            try:
                event["where"] = json.loads(where)
            except ValueError:
                event["where"] = where  # the check names it, next to this step
        node["event"] = event


def _split(node: dict[str, Any], post: QueryDict, p: str, name: str, op: str) -> None:
    variants = []
    for j, variant in enumerate(node.get("variants", [])):
        if op == f"v-remove:{name}:{j}" and len(node["variants"]) > 1:
            continue
        weight = post.get(f"{p}v{j}-weight", str(variant.get("weight", 1))).strip()
        variants.append(
            {
                "name": post.get(f"{p}v{j}-name", variant.get("name", "")).strip(),
                "weight": int(weight) if weight.isdigit() else weight,
                "next": post.get(f"{p}v{j}-next", variant.get("next", "")),
            }
        )
    if op == f"v-add:{name}" and len(variants) < 10:
        taken = {v["name"] for v in variants}
        letter = next(c for c in "abcdefghijk" if c not in taken)
        onward = variants[-1]["next"] if variants else ""
        variants.append({"name": letter, "weight": 50, "next": onward})
    node["variants"] = variants
    control = post.get(f"{p}control", "").strip()
    node.pop("control", None)
    if control:
        node["control"] = {"weight": int(control) if control.isdigit() else control}


def read_step(
    old: dict[str, Any],
    post: QueryDict,
    i: int,
    op: str,
    cat: dict[str, Any],
    same_object: bool,
) -> dict[str, Any]:
    """The step row ``i`` describes; ``old`` is the step as it was (kept where no control is)."""
    p = f"n-{i}-"
    orig = post.get(f"{p}orig", "")
    node = dict(old or {"type": post.get(f"{p}type", "end")})
    kind = node.get("type")
    label = {k: post.get(f"{p}label_{k}", "").strip() for k in ("en", "zh")}
    label = {k: v for k, v in label.items() if v}
    node.pop("x-label", None)
    if label:
        node["x-label"] = label
    if f"{p}next" in post:
        node["next"] = post.get(f"{p}next")
    if kind == "wait":
        date_fields = [f["name"] for f in cat["fields"] if f["kind"] in ("date", "datetime")]
        _wait(node, post, p, date_fields)
    elif kind == "branch":
        _branch(node, old or {}, post, p, orig, op, cat, same_object)
    elif kind == "split":
        _split(node, post, p, orig, op)
    elif kind == "send":
        _send(node, post, p)
    elif kind == "action":
        node["actions"] = action_forms.read(node.get("actions"), post, f"{p}a")
    return node
