"""Form blocks: a record's fields as inputs generated from the object's schema; errors
come back next to the inputs they concern, nothing is lost from what was typed."""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _

from ..labels import field_label, object_label, option_label, text
from ..query import BlockProblem, ObjectView, titles
from .base import BlockContext, BlockType

INPUTS = {
    "email": "email",
    "phone": "tel",
    "url": "url",
    "integer": "number",
    "decimal": "number",
    "money": "number",
    "date": "date",
    "datetime": "datetime-local",
}
RELATION_CHOICES = 200


def widget(prop: dict[str, Any]) -> str:
    kind = prop["x-type"]
    if prop.get("x-widget") == "textarea" or kind == "text":
        return "textarea"
    if kind in ("enum",):
        return "select"
    if kind == "multi_enum":
        return "checkboxes"
    if kind == "boolean":
        return "checkbox"
    if kind == "relation":
        return "relation"
    if kind == "list":
        return "lines"
    return "input"


def parse_value(prop: dict[str, Any], values: list[str]) -> Any:
    """What a person typed, as the JSON value the object stores; raw text when it is not one
    (the record's validation then says what is wrong with it, next to the input)."""
    kind = prop["x-type"]
    raw = values[-1].strip() if values else ""
    if kind == "multi_enum":
        return [v for v in values if v] or None
    if kind == "boolean":
        return raw in ("on", "true", "1")
    if raw == "":
        return None
    if kind == "list":
        items = [line.strip() for line in raw.splitlines() if line.strip()]
        item_type = (prop.get("items") or {}).get("x-type")
        if item_type in ("integer", "relation"):
            return [int(i) if i.lstrip("-").isdigit() else i for i in items]
        return items
    if kind in ("integer", "relation"):
        return int(raw) if raw.lstrip("-").isdigit() else raw
    if kind in ("decimal", "money"):
        try:
            number = float(raw.replace(",", ""))
        except ValueError:
            return raw
        return int(number) if number.is_integer() else number
    if kind == "datetime" and len(raw) == 16:
        return raw + ":00"
    return raw


def form_value(prop: dict[str, Any], value: Any) -> Any:
    if value is None:
        return ""
    if prop["x-type"] == "list" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if prop["x-type"] == "datetime" and isinstance(value, str):
        return value[:16]
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def inputs(view: ObjectView, names: list[str], data: dict[str, Any], errors: dict[str, str]):
    required = set(view.body.get("required", []))
    out = []
    for name in names:
        prop = view.props[name]
        entry = {
            "name": name,
            "label": field_label(view.body, name),
            "help": text(prop.get("x-help")),
            "widget": widget(prop),
            "type": INPUTS.get(prop["x-type"], "text"),
            "required": name in required,
            "value": form_value(prop, data.get(name)),
            "raw": data.get(name),
            "error": errors.get(name, ""),
            "options": [(o, option_label(prop, o)) for o in prop.get("enum", [])],
        }
        if entry["widget"] == "relation":
            target = (prop.get("x-relation") or {}).get("object", "")
            from tessera.records.models import Record

            ids = list(
                view.policy.rows(target, Record.objects.filter(object_key=target))
                .order_by("-id")
                .values_list("pk", flat=True)[:RELATION_CHOICES]
            )
            entry["options"] = sorted(titles(target, set(ids), view.policy).items())
        if prop["x-type"] in ("decimal", "money"):
            entry["step"] = "any"
        out.append(entry)
    return out


class FormBlock(BlockType):
    type = "form"
    template = "frontend/blocks/form.html"

    def fields(self, ctx: BlockContext) -> tuple[ObjectView, list[str]]:
        view = ObjectView.of(ctx.block.get("object"), ctx.policy)
        if not ctx.policy.can(view.key, "create"):
            raise BlockProblem("no_access")
        names = [n for n in view.writable(ctx.block.get("fields")) if n in view.readable]
        return view, names

    def context(self, ctx: BlockContext, data=None, errors=None, saved=None) -> dict[str, Any]:
        view, names = self.fields(ctx)
        return {
            "title": self.title(
                ctx, _("New %(object)s") % {"object": object_label(view.body, view.key)}
            ),
            "inputs": inputs(view, names, data or {}, errors or {}),
            "form_errors": (errors or {}).get("", ""),
            "submit_url": ctx.url("submit"),
            "saved": saved,
            "preview": ctx.preview,
        }
