"""The numbers behind charts and KPI tiles: one grouped SQL query over the rows a person
may read, on PostgreSQL and SQLite alike (the same field expressions the indexes use)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, FloatField, Max, Min, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from tessera.definitions.fields.base import SqlType
from tessera.records.indexes import field_expression

from .labels import option_label, show
from .query import BlockProblem, ObjectView, sql_type, titles

NUMERIC = {"integer", "decimal", "money"}
FUNCS = {"sum": Sum, "avg": Avg, "min": Min, "max": Max}
BUCKETS = {"day": 10, "month": 7, "year": 4}


def _measure_expr(view: ObjectView, measure: Any):
    measure = measure if isinstance(measure, dict) else {"aggregate": "count"}
    aggregate = measure.get("aggregate", "count")
    if aggregate == "count":
        return Count("id")
    name = measure.get("field")
    if name not in view.props or view.props[name]["x-type"] not in NUMERIC:
        raise BlockProblem(f"{aggregate} needs a number field of {view.key}, not {name!r}")
    if name not in view.readable:
        raise BlockProblem("no_access")
    expr = RawSQL(field_expression(name, SqlType.NUMBER), [])
    return FUNCS[aggregate](Cast(expr, FloatField()))


def total(view: ObjectView, queryset: QuerySet, measure: Any) -> float:
    value = queryset.aggregate(v=_measure_expr(view, measure))["v"]
    return float(value or 0)


def grouped(view: ObjectView, queryset: QuerySet, block: dict[str, Any]) -> list[tuple[str, float]]:
    name = block.get("group_by")
    if name not in view.props:
        raise BlockProblem(f"group_by names no field of {view.key}: {name!r}")
    if name not in view.readable:
        raise BlockProblem("no_access")
    prop = view.props[name]
    kind = sql_type(prop)
    if kind is SqlType.NONE:
        raise BlockProblem(f"{name!r} holds lists: a chart cannot group by it")
    expr = field_expression(name, kind)
    bucket = block.get("bucket")
    if kind in (SqlType.DATE, SqlType.DATETIME) and bucket in BUCKETS:
        expr = f"substr({expr}, 1, {BUCKETS[bucket]})"
    rows = (
        queryset.order_by()
        .annotate(g=RawSQL(expr, []))
        .values("g")
        .annotate(v=_measure_expr(view, block.get("measure")))
        .values_list("g", "v")
    )
    values: dict[Any, float] = {}
    for group, value in rows:
        if isinstance(group, Decimal):
            group = float(group)
        values[group] = values.get(group, 0.0) + float(value or 0)
    if block.get("stages"):
        keys: list[Any] = list(block["stages"])
    elif kind in (SqlType.DATE, SqlType.DATETIME):
        keys = sorted((k for k in values if k is not None), key=str)
    else:
        keys = sorted(values, key=lambda k: -values[k])[: block.get("limit") or 12]
    names = {}
    if prop["x-type"] == "relation":
        ids = {int(k) for k in keys if isinstance(k, int | float)}
        names = titles((prop.get("x-relation") or {}).get("object", ""), ids, view.policy)
    out = []
    for key in keys:
        if key is None:
            label = "—"
        elif prop["x-type"] == "relation":
            label = names.get(int(key), f"#{key}")
        elif prop["x-type"] == "enum":
            label = option_label(prop, key)
        elif prop["x-type"] == "boolean":
            label = show(prop, key in (True, 1, "1", "true"))
        else:
            label = str(key)
        out.append((label, values.get(key, 0.0)))
    return out
