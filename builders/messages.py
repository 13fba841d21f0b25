"""Definition errors for people: where (in their words) and what, in their language.

The store names every problem by JSON path and rule (``$.properties.email['x-type']``,
``unknown_type``). The builders put each one next to the control it concerns; what is left
is shown with the place spelled out ("Field “email”, type") rather than as a path alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from tessera.definitions.errors import FieldError

from .paths import parts

KEY_WORDS = {
    "x-type": _l("type"),
    "x-label": _l("label"),
    "x-relation": _l("relation"),
    "x-unique": _l("unique"),
    "x-index": _l("index"),
    "enum": _l("options"),
    "required": _l("required fields"),
    "condition": _l("condition"),
    "object": _l("object"),
    "states": _l("states"),
    "transitions": _l("transitions"),
    "nodes": _l("steps"),
    "trigger": _l("trigger"),
    "goal": _l("goal"),
    "blocks": _l("blocks"),
    "params": _l("settings"),
}

CODES = {
    "unknown_type": _l("This field type is not installed."),
    "unknown_object": _l("This object is not published."),
    "unknown_field": _l("There is no such field."),
    "unknown_state": _l("There is no such state."),
    "unknown_node": _l("There is no such step."),
    "unreachable": _l("Nothing leads here."),
    "no_way_out": _l("Nothing leads out of this state, and it is not final."),
    "required": _l("This is required."),
    "property_name": _l("Use lower-case letters, digits and _, starting with a letter."),
    "not_indexable": _l("This type of field cannot be indexed or unique."),
    "keyword_not_allowed": _l("This setting does not apply to this type of field."),
    "unknown_operator": _l("This comparison does not exist."),
    "operator_kind": _l("This comparison does not fit this type of field."),
    "duration": _l("Write a duration such as PT4H (4 hours) or P7D (7 days)."),
    "unknown_segment": _l("This segment is not published."),
    "wrong_object": _l("This segment is about other records."),
    "unknown_trigger": _l("This trigger type is not installed."),
    "unknown_action": _l("This action is not installed."),
    "unknown_channel": _l("This channel is not installed."),
    "unknown_calendar": _l("This business calendar is not published."),
    "unknown_key": _l("This setting is not known here."),
    "additionalProperties": _l("This setting is not known here."),
    "too_late": _l("The reminder must come before the breach."),
    "loop_without_wait": _l("This loop has no wait: a customer would go round it at once."),
    "no_end": _l("No way from here reaches an end."),
    "not_a_send": _l("Choose a step that sends a message."),
    "no_goal_window": _l("A control group is compared on the goal: give the goal a time window."),
    "duplicate": _l("This name is taken."),
    "automatic": _l("An automatic transition cannot ask a person for anything."),
    "enum": _l("Choose one of the offered values."),
    "type": _l("This is the wrong kind of value."),
    "minLength": _l("This cannot be empty."),
    "minItems": _l("Add at least one."),
    "minimum": _l("This number is too small."),
    "maximum": _l("This number is too large."),
    "pattern": _l("This is not written in the expected form."),
    "invalid": _l("This value is not valid."),
}
# a pattern that only asks for an ISO duration: say so in words rather than as a regex
DURATION_PATTERNS = ("'^P'", "'^PT(")


@dataclass
class Message:
    """An error for a person: where and what; ``path`` and ``code`` stay for the curious."""

    where: str
    text: str
    path: str
    code: str


def where(path: str) -> str:
    out = []
    items = parts(path)
    i = 0
    while i < len(items):
        item = items[i]
        nxt = items[i + 1] if i + 1 < len(items) else None
        if item == "properties" and isinstance(nxt, str):
            out.append(_("Field “%(name)s”") % {"name": nxt})
            i += 2
            continue
        if item == "states" and isinstance(nxt, str):
            out.append(_("State “%(name)s”") % {"name": nxt})
            i += 2
            continue
        if item == "transitions" and isinstance(nxt, str):
            out.append(_("Transition “%(name)s”") % {"name": nxt})
            i += 2
            continue
        if item == "nodes" and isinstance(nxt, str):
            out.append(_("Step “%(name)s”") % {"name": nxt})
            i += 2
            continue
        if item == "blocks" and isinstance(nxt, int):
            out.append(_("Block %(n)s") % {"n": nxt + 1})
            i += 2
            continue
        if isinstance(item, int):
            out.append(_("item %(n)s") % {"n": item + 1})
        elif item in ("all", "any"):
            out.append(_("all of") if item == "all" else _("any of"))
        else:
            out.append(str(KEY_WORDS.get(item, item)))
        i += 1
    return " › ".join(out) or _("The definition")


def describe(error: FieldError) -> Message:
    code = error.code
    if code == "pattern" and any(p in error.message for p in DURATION_PATTERNS):
        code = "duration"
    text = CODES.get(code)
    # the engine's message names the offending value; keep it after the plain sentence
    full = f"{text} ({error.message})" if text and error.message else (text or error.message)
    return Message(where(error.path), str(full), error.path, error.code)
