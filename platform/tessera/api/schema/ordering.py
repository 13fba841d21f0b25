"""``orderBy:`` values: a field and a direction, compiled to the indexed expression."""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.db.models.expressions import RawSQL

from tessera.records.indexes import field_expression

from ..errors import denied
from .specs import ObjectSpec

SYSTEM = {"id": "id", "createdAt": "created_at", "updatedAt": "updated_at"}


def enum_values(spec: ObjectSpec) -> list[tuple[str, tuple[str, str, bool]]]:
    """(GraphQL name, (what, name, descending)) for each orderable field, both directions."""
    out = []
    for gql, column in SYSTEM.items():
        out += [
            (f"{gql}_ASC", ("column", column, False)),
            (f"{gql}_DESC", ("column", column, True)),
        ]
    for field in spec.fields.values():
        if field.orderable:
            out += [
                (f"{field.gql}_ASC", ("field", field.prop, False)),
                (f"{field.gql}_DESC", ("field", field.prop, True)),
            ]
    return out


def expressions(spec: ObjectSpec, order_by: list[Any] | None, ctx) -> list[tuple[Any, bool]]:
    """[(expression, descending)] for ``order_by``; a field the person cannot read is refused."""
    out = []
    for item in order_by or []:
        what, name, desc = item.value if hasattr(item, "value") else item
        if what == "column":
            out.append((F(name), desc))
            continue
        if ctx.policy.denied_fields(spec.key, [name]):
            raise denied(f"order {spec.key} by {name}")
        out.append((RawSQL(field_expression(name, spec.fields[name].info.sql_type), []), desc))
    return out


def apply(queryset, order: list[tuple[Any, bool]]):
    terms = [e.desc(nulls_last=True) if d else e.asc(nulls_last=True) for e, d in order]
    return queryset.order_by(*terms, "id")
