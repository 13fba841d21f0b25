"""What a screen block must get right beyond its meta-schema, in the author's words.

The meta-schema says a block's shape; these checks say whether it fits what is published:
the object exists, its columns and fields are fields of it, the segment and the workflow run
on the same object, a sum adds up a number field, a filter is a condition of that object.
Each problem is keyed by the block's JSON key, so the screen builder shows it next to the
control that sets that key.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from tessera.conditions.tree import parse
from tessera.definitions.errors import ValidationFailed

from .choices import body_of

NUMERIC = {"integer", "decimal", "money"}
LIST_KEYS = ("fields", "columns", "card_fields")


def block_problems(block: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    object_key = block.get("object")
    workflow = block.get("workflow")
    if block.get("type") == "kanban":
        wf = body_of("workflow", workflow) if isinstance(workflow, str) else None
        if wf is None:
            out["workflow"] = _("Choose a published workflow: its states are the columns.")
            return out
        if object_key and object_key != wf.get("object"):
            out["object"] = _("The workflow runs on %(o)s.") % {"o": wf.get("object")}
        object_key = wf.get("object")
    body = body_of("object", object_key) if isinstance(object_key, str) else None
    if body is None:
        out["object"] = _("Choose a published object.")
        return out
    props = body.get("properties", {})
    for key in LIST_KEYS:
        names = block.get(key) or []
        unknown = [n for n in names if n not in props]
        if unknown:
            out[key] = _("%(object)s has no field %(names)s. Its fields: %(known)s.") % {
                "object": object_key,
                "names": ", ".join(unknown),
                "known": ", ".join(props),
            }
    segment = block.get("segment")
    if segment:
        seg = body_of("segment", segment)
        if seg is None:
            out["segment"] = _("Choose a published segment.")
        elif seg.get("object") != object_key:
            out["segment"] = _("This segment selects %(o)s records.") % {"o": seg.get("object")}
    sort = block.get("sort")
    if isinstance(sort, dict) and sort.get("field") not in props:
        out["sort"] = _("Sort by a field of %(object)s.") % {"object": object_key}
    measure = block.get("measure")
    if isinstance(measure, dict) and measure.get("aggregate", "count") != "count":
        prop = props.get(measure.get("field") or "")
        if prop is None or prop.get("x-type") not in NUMERIC:
            out["measure"] = _("A sum, average, minimum or maximum needs a number field.")
    if block.get("type") == "chart" and block.get("group_by") not in props:
        out["group_by"] = _("Group by a field of %(object)s.") % {"object": object_key}
    if block.get("filter"):
        try:
            parse(block["filter"], object_key, path=["filter"])
        except ValidationFailed as exc:
            out["filter"] = "; ".join(e.message for e in exc.errors[:3])
    return out
