"""Aggregates for dashboards: count, sum and average, grouped by a field or a date bucket.

One GROUP BY query over the records the person may read, narrowed by the same filter
inputs as connections. A grouping or summed field the person cannot read is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Substr

from tessera.definitions.fields.base import SqlType
from tessera.records.indexes import field_expression
from tessera.records.models import Record

from ..errors import api_error, denied
from ..loaders import DENIED
from . import filtering
from .specs import ObjectSpec

MAX_GROUPS = 1000


def number(object_key: str, name: str):
    def resolve(root, info):
        value = root.get(name)
        if value is DENIED:
            raise denied(f"read {object_key}.{name}")
        return value

    return resolve


def resolve_groups(build, spec: ObjectSpec, ctx, args: dict[str, Any]) -> list[dict[str, Any]]:
    ctx.require(spec.key, "read")
    tree = filtering.combined(
        build.objects, spec.key, args.get("filter"), args.get("condition"), args.get("segment")
    )
    narrow = filtering.narrowing(spec.key, tree, ctx)
    qs = ctx.policy.rows(spec.key, Record.objects.filter(object_key=spec.key))
    if narrow:
        qs = narrow(qs)
    numbers = [f.prop for f in spec.fields.values() if f.kind == "number" and f.shape == "scalar"]
    readable = [n for n in numbers if not ctx.policy.denied_fields(spec.key, [n])]
    metrics: dict[str, Any] = {"_count": Count("id")}
    for name in readable:
        expr = RawSQL(field_expression(name, SqlType.NUMBER), [])
        metrics[f"_sum_{name}"] = Sum(expr)
        metrics[f"_avg_{name}"] = Avg(expr)
    group_by = args.get("group_by")
    if group_by is None:
        rows = [qs.aggregate(**metrics)]
        kind = None
    else:
        name = group_by.value if hasattr(group_by, "value") else group_by
        if ctx.policy.denied_fields(spec.key, [name]):
            raise denied(f"group {spec.key} by {name}")
        field = spec.fields[name]
        key_expr: Any = RawSQL(field_expression(name, field.info.sql_type), [])
        bucket = args.get("bucket")
        if bucket is not None:
            if field.kind not in ("date", "datetime"):
                raise api_error("invalid_bucket", f"{name} is not a date; it has no buckets")
            key_expr = Substr(RawSQL(field_expression(name, SqlType.TEXT), []), 1, bucket.value)
        kind = field.kind
        rows = list(
            qs.annotate(_key=key_expr)
            .values("_key")
            .annotate(**metrics)
            .order_by("_key")[: MAX_GROUPS + 1]
        )
        if len(rows) > MAX_GROUPS:
            raise api_error("too_many_groups", f"more than {MAX_GROUPS} groups; narrow the filter")
    hidden = {n: DENIED for n in numbers if n not in readable}
    return [
        {
            "key": _key(row.get("_key"), kind),
            "count": row["_count"],
            "sum": {**{n: _num(row[f"_sum_{n}"]) for n in readable}, **hidden},
            "avg": {**{n: _num(row[f"_avg_{n}"]) for n in readable}, **hidden},
        }
        for row in rows
    ]


def _num(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(round(value, 6))
    return value


def _key(value: Any, kind: str | None) -> str | None:
    if value is None:
        return None
    if kind == "boolean":
        return "true" if value in (True, 1, "1", "true") else "false"
    if isinstance(value, (Decimal, float)):
        number = Decimal(str(value))
        return str(int(number)) if number == number.to_integral_value() else str(number)
    return str(value)
