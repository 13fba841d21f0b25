"""The blocks of a screen page's StreamField, each writing one block of the screen JSON.

A screen page is the Wagtail way to build a screen: its body is a StreamField of these
blocks, and publishing the page publishes the ``screen`` definition the operator UI renders.
Every block knows the JSON it stands for (``definition``) and the problems it has against
what is published (``clean`` puts them next to the controls).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from . import choices
from .screen_checks import block_problems


def names(text: str) -> list[str]:
    return [n.strip() for n in (text or "").replace("，", ",").split(",") if n.strip()]


class ScreenBlock(blocks.StructBlock):
    """Base: a label in both languages; subclasses add their settings."""

    type_name = ""
    # a problem at a JSON key is shown next to this child block
    error_children: dict[str, str] = {}

    def definition(self, value) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type_name}
        label = {k: value.get(f"label_{k}") for k in ("en", "zh") if value.get(f"label_{k}")}
        if label:
            out["label"] = label
        return out

    def clean(self, value):
        value = super().clean(value)
        problems = block_problems(self.definition(value))
        if problems:
            errors = {}
            for key, message in problems.items():
                child = self.error_children.get(key, key)
                if child not in self.child_blocks:
                    child = next(iter(self.child_blocks))
                errors[child] = ValidationError(message)
            raise blocks.StructBlockValidationError(block_errors=errors)
        return value


def _object():
    return blocks.ChoiceBlock(choices=choices.objects, label=_("Object"))


def _segment():
    return blocks.ChoiceBlock(
        choices=choices.segments,
        required=False,
        label=_("Segment"),
        help_text=_("Only the records in this segment."),
    )


def _label_blocks():
    return [
        ("label_en", blocks.CharBlock(required=False, label=_("Title (English)"))),
        ("label_zh", blocks.CharBlock(required=False, label=_("Title (Chinese)"))),
    ]


def _common(value, out: dict[str, Any]) -> dict[str, Any]:
    for key in ("object", "segment"):
        if value.get(key):
            out[key] = value[key]
    return out


class TableBlock(ScreenBlock):
    type_name = "table"
    error_children = {"sort": "sort_field", "filter": "filter"}

    def __init__(self, **kwargs):
        super().__init__(
            [
                *_label_blocks(),
                ("object", _object()),
                (
                    "columns",
                    blocks.CharBlock(
                        required=False,
                        label=_("Columns"),
                        help_text=_("Field names, separated by commas (empty: the first few)."),
                    ),
                ),
                ("segment", _segment()),
                (
                    "filter",
                    blocks.TextBlock(
                        required=False,
                        label=_("Filter (condition JSON)"),
                        help_text=_(
                            'For example {"field": "city", "op": "eq", "value": "Hangzhou"}'
                        ),
                    ),
                ),
                ("sort_field", blocks.CharBlock(required=False, label=_("Sort by"))),
                ("sort_desc", blocks.BooleanBlock(required=False, label=_("Largest first"))),
                (
                    "page_size",
                    blocks.IntegerBlock(
                        required=False, min_value=1, max_value=200, label=_("Rows per page")
                    ),
                ),
            ],
            **kwargs,
        )

    def definition(self, value):
        out = _common(value, super().definition(value))
        if names(value.get("columns")):
            out["columns"] = names(value["columns"])
        if value.get("filter"):
            try:
                out["filter"] = json.loads(value["filter"])
            except ValueError:
                out["filter"] = {"invalid": value["filter"]}
        if value.get("sort_field"):
            out["sort"] = {"field": value["sort_field"], "desc": bool(value.get("sort_desc"))}
        if value.get("page_size"):
            out["page_size"] = value["page_size"]
        return out

    class Meta:
        icon = "table"
        label = _("Table")


class FormBlock(ScreenBlock):
    type_name = "form"

    def __init__(self, **kwargs):
        super().__init__(
            [
                *_label_blocks(),
                ("object", _object()),
                (
                    "fields",
                    blocks.CharBlock(
                        required=False,
                        label=_("Fields"),
                        help_text=_("Field names, separated by commas (empty: every field)."),
                    ),
                ),
            ],
            **kwargs,
        )

    def definition(self, value):
        out = _common(value, super().definition(value))
        if names(value.get("fields")):
            out["fields"] = names(value["fields"])
        return out

    class Meta:
        icon = "form"
        label = _("Form")


class KanbanBlock(ScreenBlock):
    type_name = "kanban"

    def __init__(self, **kwargs):
        super().__init__(
            [
                *_label_blocks(),
                (
                    "workflow",
                    blocks.ChoiceBlock(
                        choices=choices.workflows,
                        label=_("Workflow"),
                        help_text=_("Its states are the columns; dragging a card takes the step."),
                    ),
                ),
                ("segment", _segment()),
                ("card_fields", blocks.CharBlock(required=False, label=_("Fields on the cards"))),
            ],
            **kwargs,
        )

    def definition(self, value):
        out = super().definition(value)
        workflow = value.get("workflow")
        body = choices.body_of("workflow", workflow) if workflow else None
        if body:
            out["object"] = body.get("object")
        if workflow:
            out["workflow"] = workflow
        if value.get("segment"):
            out["segment"] = value["segment"]
        if names(value.get("card_fields")):
            out["card_fields"] = names(value["card_fields"])
        return out

    class Meta:
        icon = "list-ul"
        label = _("Kanban")


class RecordBlock(ScreenBlock):
    type_name = "record"

    def __init__(self, **kwargs):
        super().__init__(
            [
                *_label_blocks(),
                ("object", _object()),
                ("fields", blocks.CharBlock(required=False, label=_("Fields"))),
                (
                    "timeline",
                    blocks.BooleanBlock(required=False, default=True, label=_("Timeline")),
                ),
                (
                    "transitions",
                    blocks.BooleanBlock(required=False, default=True, label=_("Workflow buttons")),
                ),
                (
                    "related",
                    blocks.CharBlock(
                        required=False,
                        label=_("Related lists"),
                        help_text=_("Related names such as orders (empty: all)."),
                    ),
                ),
            ],
            **kwargs,
        )

    def definition(self, value):
        out = _common(value, super().definition(value))
        if names(value.get("fields")):
            out["fields"] = names(value["fields"])
        out["timeline"] = bool(value.get("timeline"))
        out["transitions"] = bool(value.get("transitions"))
        if names(value.get("related")):
            out["related"] = names(value["related"])
        return out

    class Meta:
        icon = "doc-full"
        label = _("Record detail")


AGGREGATES = [
    ("count", _("Count")),
    ("sum", _("Sum")),
    ("avg", _("Average")),
    ("min", _("Minimum")),
    ("max", _("Maximum")),
]


class ChartBlock(ScreenBlock):
    type_name = "chart"
    error_children = {"measure": "measure_field"}

    def __init__(self, **kwargs):
        super().__init__(
            [
                *_label_blocks(),
                ("object", _object()),
                (
                    "chart",
                    blocks.ChoiceBlock(
                        choices=[
                            ("bar", _("Bar")),
                            ("line", _("Line")),
                            ("pie", _("Pie")),
                            ("funnel", _("Funnel")),
                        ],
                        default="bar",
                        label=_("Chart"),
                    ),
                ),
                ("group_by", blocks.CharBlock(label=_("Group by field"))),
                (
                    "bucket",
                    blocks.ChoiceBlock(
                        choices=[("day", _("Day")), ("month", _("Month")), ("year", _("Year"))],
                        required=False,
                        label=_("Period (date fields)"),
                    ),
                ),
                (
                    "aggregate",
                    blocks.ChoiceBlock(choices=AGGREGATES, default="count", label=_("Measure")),
                ),
                ("measure_field", blocks.CharBlock(required=False, label=_("Of field"))),
                ("segment", _segment()),
                ("stages", blocks.CharBlock(required=False, label=_("Funnel stages in order"))),
            ],
            **kwargs,
        )

    def definition(self, value):
        out = _common(value, super().definition(value))
        out["chart"] = value.get("chart") or "bar"
        if value.get("group_by"):
            out["group_by"] = value["group_by"].strip()
        if value.get("bucket"):
            out["bucket"] = value["bucket"]
        measure = {"aggregate": value.get("aggregate") or "count"}
        if value.get("measure_field"):
            measure["field"] = value["measure_field"].strip()
        out["measure"] = measure
        if names(value.get("stages")):
            out["stages"] = names(value["stages"])
        return out

    class Meta:
        icon = "pick"
        label = _("Chart")


class KpiBlock(ScreenBlock):
    type_name = "kpi"
    error_children = {"measure": "measure_field"}

    def __init__(self, **kwargs):
        super().__init__(
            [
                *_label_blocks(),
                ("object", _object()),
                (
                    "aggregate",
                    blocks.ChoiceBlock(choices=AGGREGATES, default="count", label=_("Measure")),
                ),
                ("measure_field", blocks.CharBlock(required=False, label=_("Of field"))),
                ("segment", _segment()),
                (
                    "format",
                    blocks.ChoiceBlock(
                        choices=[
                            ("number", _("Number")),
                            ("money", _("Money")),
                            ("percent", _("Percent")),
                        ],
                        default="number",
                        label=_("Format"),
                    ),
                ),
            ],
            **kwargs,
        )

    def definition(self, value):
        out = _common(value, super().definition(value))
        measure = {"aggregate": value.get("aggregate") or "count"}
        if value.get("measure_field"):
            measure["field"] = value["measure_field"].strip()
        out["measure"] = measure
        out["format"] = value.get("format") or "number"
        return out

    class Meta:
        icon = "order"
        label = _("KPI tile")


SCREEN_BLOCKS = [
    ("table", TableBlock()),
    ("form", FormBlock()),
    ("kanban", KanbanBlock()),
    ("record", RecordBlock()),
    ("chart", ChartBlock()),
    ("kpi", KpiBlock()),
]


def screen_blocks(stream) -> list[dict[str, Any]]:
    """The ``blocks`` of a screen definition, from a StreamField value."""
    return [child.block.definition(child.value) for child in stream]


def stream_data(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A screen definition's blocks as StreamField data: to open a pack's screen as a page."""
    out = []
    for block in body.get("blocks", []):
        kind = block.get("type")
        if kind not in dict(SCREEN_BLOCKS):
            continue
        label = block.get("label") or {}
        value: dict[str, Any] = {"label_en": label.get("en", ""), "label_zh": label.get("zh", "")}
        for key in (
            "object",
            "segment",
            "workflow",
            "chart",
            "group_by",
            "bucket",
            "format",
            "page_size",
        ):
            if key in block:
                value[key] = block[key]
        for key in ("columns", "fields", "card_fields", "related", "stages"):
            if key in block:
                value[key] = ", ".join(block[key])
        if "filter" in block:
            value["filter"] = json.dumps(block["filter"], ensure_ascii=False)
        if isinstance(block.get("sort"), dict):
            value["sort_field"] = block["sort"].get("field", "")
            value["sort_desc"] = bool(block["sort"].get("desc"))
        if isinstance(block.get("measure"), dict):
            value["aggregate"] = block["measure"].get("aggregate", "count")
            value["measure_field"] = block["measure"].get("field", "")
        for key in ("timeline", "transitions"):
            if key in block:
                value[key] = bool(block[key])
        out.append({"type": kind, "value": value})
    return out
