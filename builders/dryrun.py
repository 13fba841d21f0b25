"""A campaign walked for one customer without doing anything: the path their run would take.

Waits are assumed to pass; a branch is decided on the customer as they are now (their
record, their events, their consent); a split picks the variant the runtime would pick for
them (the same stable hash); sends and actions are listed, never performed.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from tessera.conditions.evaluate import evaluate
from tessera.conditions.tree import parse
from tessera.definitions.errors import ValidationFailed
from tessera.flows.nodes import pick_variant
from tessera.records.models import Event, Record

MAX_STEPS = 50


def walk(key: str, body: dict[str, Any], record: Record) -> list[dict[str, str]]:
    nodes = body.get("nodes") or {}
    path: list[dict[str, str]] = []
    trigger = body.get("trigger") or {}
    path.append(
        {
            "node": "trigger",
            "type": trigger.get("type", ""),
            "text": _("enters (%(t)s)")
            % {
                "t": ", ".join(f"{k}={v}" for k, v in trigger.items() if k != "type")
                or trigger.get("type", "")
            },
        }
    )
    current, seen = body.get("start"), 0
    while current in nodes and seen < MAX_STEPS:
        seen += 1
        node = nodes[current]
        kind = node.get("type")
        if kind == "wait":
            text = _("waits %(d)s") % {
                "d": node.get("for")
                or node.get("until_field")
                or node.get("until", {}).get("time", "")
            }
            nxt = node.get("next")
        elif kind == "branch":
            taken = _branch(node, body, record)
            text = _("%(what)s → %(way)s") % {
                "what": _describe_branch(node),
                "way": _("yes") if taken else _("no"),
            }
            nxt = node.get("then") if taken else node.get("else")
        elif kind == "split":
            variants = [
                {"name": v["name"], "weight": v["weight"]} for v in node.get("variants", [])
            ]
            if "control" in node:
                variants.append({"name": "control", "weight": node["control"]["weight"]})
            chosen = pick_variant(variants, f"{key}:{current}:{record.pk}") if variants else ""
            text = _("variant %(v)s") % {"v": chosen}
            if chosen == "control":
                path.append(
                    {
                        "node": current,
                        "type": kind,
                        "text": text + " — " + _("control group: no messages, the run ends"),
                    }
                )
                break
            nxt = next((v["next"] for v in node.get("variants", []) if v["name"] == chosen), None)
        elif kind == "send":
            consent = (body.get("consent") or {}).get(node.get("channel", ""))
            allowed = consent is None or bool(record.data.get(consent))
            subject = (node.get("message") or {}).get("subject", "")
            text = (
                _("would send %(c)s: %(s)s")
                if allowed
                else _("would skip %(c)s (no consent): %(s)s")
            ) % {"c": node.get("channel"), "s": subject}
            nxt = node.get("next")
        elif kind == "action":
            text = _("would run %(a)s") % {
                "a": ", ".join(a.get("type", "") for a in node.get("actions", []))
            }
            nxt = node.get("next")
        else:
            path.append({"node": current, "type": kind or "", "text": _("ends")})
            break
        path.append({"node": current, "type": kind or "", "text": text})
        current = nxt
    return path


def _describe_branch(node: dict[str, Any]) -> str:
    if "event" in node:
        return _("had %(e)s since entering?") % {"e": node["event"].get("type")}
    if "engagement" in node:
        spec = node["engagement"]
        return _("message %(m)s %(is)s?") % {"m": spec.get("message"), "is": spec.get("is")}
    return _("meets the condition?")


def _branch(node: dict[str, Any], body: dict[str, Any], record: Record) -> bool:
    if "condition" in node:
        try:
            return evaluate(parse(node["condition"], body["object"]), record)
        except ValidationFailed:
            return False
    if "event" in node:
        return Event.objects.filter(subject=record, type=node["event"].get("type")).exists()
    return False  # an engagement cannot have happened in a dry run: nothing was sent
