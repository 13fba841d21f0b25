"""The KPI and chart blocks of a screen, evaluated: each one is data, an aggregate over records.

A block names an ``object``, a ``measure`` (``{"aggregate": "count"}`` or ``sum`` / ``avg`` /
``min`` / ``max`` of a number field), and narrows it with ``filter`` (the condition language)
and ``segment``, exactly as GraphQL's ``<object>Aggregate(condition:, segment:)`` does; a
chart adds ``group_by`` (and ``bucket`` for a date); a rate or a per-customer value divides
by another measure in ``divided_by``. A block with ``campaign`` reads that campaign's
counts (entered, sent, opened, clicked, converted, per variant) instead.

The operator UI renders the same blocks; this module is what ``tessera_setup_demo`` prints
and what the tests check against a computation of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Max, Min, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Substr

from tessera.conditions.compiler import matching
from tessera.conditions.tree import parse
from tessera.definitions.cache import published
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.fields.base import SqlType
from tessera.plugins import field_types
from tessera.records.indexes import field_expression
from tessera.records.models import Record

AGGREGATES = {"sum": Sum, "avg": Avg, "min": Min, "max": Max}
BUCKETS = {"day": 10, "month": 7, "year": 4}
MAX_GROUPS = 1000


@dataclass
class Value:
    """One evaluated block: a number (KPI) or groups (chart), with what it was made of."""

    key: str
    type: str
    label: dict[str, str]
    format: str = "number"
    value: float | None = None
    groups: list[tuple[str | None, float | None]] = field(default_factory=list)
    parts: tuple[float | None, float | None] | None = None  # numerator, denominator


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    return float(value)


def _records(object_key: str, spec: dict[str, Any], path: list[str | int]):
    parts = []
    if spec.get("filter") is not None:
        parts.append(spec["filter"])
    if spec.get("segment"):
        parts.append({"segment": spec["segment"]})
    if not parts:
        return Record.objects.filter(object_key=object_key)
    tree = parts[0] if len(parts) == 1 else {"all": parts}
    return matching(parse(tree, object_key, path=path), object_key)


def _metric(object_key: str, measure: dict[str, Any]):
    aggregate = measure.get("aggregate", "count")
    if aggregate == "count":
        return Count("id")
    expr = RawSQL(field_expression(measure["field"], SqlType.NUMBER), [])
    return AGGREGATES[aggregate](expr)


def measure(spec: dict[str, Any], path: list[str | int] | None = None) -> float | None:
    """The value of one measure: ``{"object", "measure", "filter"?, "segment"?}``."""
    object_key = spec["object"]
    qs = _records(object_key, spec, [*(path or []), "filter"])
    return _number(qs.aggregate(v=_metric(object_key, spec.get("measure") or {}))["v"])


def groups(spec: dict[str, Any], path: list[str | int] | None = None):
    """``[(group key, value)]`` of a chart, ordered by key (by value, largest first, with
    ``limit``)."""
    object_key, name = spec["object"], spec["group_by"]
    prop = published("object", object_key).body["properties"][name]
    sql_type = field_types.get(prop["x-type"]).sql_type
    key: Any = RawSQL(field_expression(name, sql_type), [])
    if spec.get("bucket"):
        key = Substr(RawSQL(field_expression(name, SqlType.TEXT), []), 1, BUCKETS[spec["bucket"]])
    qs = _records(object_key, spec, [*(path or []), "filter"])
    rows = qs.annotate(_key=key).values("_key").annotate(v=_metric(object_key, spec["measure"]))
    rows = list(rows.order_by("_key")[: MAX_GROUPS + 1])
    out = [(None if r["_key"] is None else str(r["_key"]), _number(r["v"])) for r in rows]
    if spec.get("limit"):
        out = sorted(out, key=lambda kv: (-(kv[1] or 0), kv[0] or ""))[: spec["limit"]]
    return out


def campaign_counts(key: str) -> dict[str, Any]:
    from tessera.flows.campaigns.metrics import campaign_metrics

    return campaign_metrics(key)


def evaluate(block: dict[str, Any], path: list[str | int] | None = None) -> Value:
    """Evaluate one KPI or chart block."""
    path = path or []
    out = Value(
        key=block.get("key", ""),
        type=block["type"],
        label=block.get("label", {}),
        format=block.get("format", "number"),
    )
    if block.get("campaign"):
        counts = campaign_counts(block["campaign"])
        stages = block.get("stages") or ["entered", "sent", "opened", "clicked", "converted"]
        out.groups = [(s, _number(counts.get(s))) for s in stages]
        return out
    if block["type"] == "chart" and block.get("group_by"):
        out.groups = groups(block, path)
        return out
    top = measure(block, path)
    below = block.get("divided_by")
    if below is None:
        out.value = top
        return out
    bottom = measure(below, [*path, "divided_by"])
    out.parts = (top, bottom)
    out.value = None if not bottom or top is None else top / bottom
    return out


def evaluate_screen(screen_key: str) -> list[Value]:
    """Every KPI and chart block of a published screen, in order."""
    definition = published("screen", screen_key)
    if definition is None:
        raise LookupError(f"no published screen {screen_key!r}")
    return [
        evaluate(block, ["blocks", i])
        for i, block in enumerate(definition.body["blocks"])
        if block["type"] in ("kpi", "chart") and (block.get("measure") or block.get("campaign"))
    ]


def check(body: dict[str, Any]) -> list[FieldError]:
    """What would stop a screen's KPI and chart blocks from being evaluated, by JSON path."""
    errors: list[FieldError] = []
    for i, block in enumerate(body.get("blocks", [])):
        if block.get("type") not in ("kpi", "chart") or block.get("campaign"):
            continue
        base = f"$.blocks[{i}]"
        specs = [(base, block)]
        if block.get("divided_by"):
            specs.append((f"{base}.divided_by", block["divided_by"]))
        for where, spec in specs:
            errors += _spec_errors(where, spec)
        if block["type"] == "chart" and block.get("group_by"):
            definition = published("object", block.get("object", ""))
            if definition and block["group_by"] not in definition.body["properties"]:
                errors.append(
                    FieldError(f"{base}.group_by", "unknown_field", f"no field {block['group_by']}")
                )
    return errors


def _spec_errors(where: str, spec: dict[str, Any]) -> list[FieldError]:
    definition = published("object", spec.get("object", ""))
    if definition is None:
        return [FieldError(f"{where}.object", "unknown_object", f"{spec.get('object')!r}")]
    errors = []
    m = spec.get("measure") or {}
    if m.get("aggregate", "count") != "count":
        prop = definition.body["properties"].get(m.get("field", ""))
        if prop is None or field_types.get(prop["x-type"]).sql_type is not SqlType.NUMBER:
            errors.append(
                FieldError(f"{where}.measure.field", "not_a_number", f"{m.get('field')!r}")
            )
    for name, tree in (("filter", spec.get("filter")), ("segment", spec.get("segment"))):
        if tree is None:
            continue
        try:
            parse(tree if name == "filter" else {"segment": tree}, spec["object"], path=[name])
        except ValidationFailed as exc:
            errors += [FieldError(where + e.path[1:], e.code, e.message) for e in exc.errors]
    return errors
