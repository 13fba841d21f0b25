"""Which GraphQL scalar carries the values of a field, from its field type's JSON Schema."""

from __future__ import annotations

from typing import Any

import graphene

from ..scalars import JSON, BigInt, Date, DateTime, Decimal

INT32 = 2**31 - 1


def scalar_for(x_type: str, json_type: str, prop: dict[str, Any]) -> Any:
    if x_type == "date":
        return Date
    if x_type == "datetime":
        return DateTime
    if json_type == "string":
        return graphene.String
    if json_type == "integer":
        low, high = prop.get("minimum", -(2**53)), prop.get("maximum", 2**53)
        fits = isinstance(low, int) and isinstance(high, int) and -INT32 - 1 <= low <= high <= INT32
        return graphene.Int if fits else BigInt
    if json_type == "number":
        return Decimal
    if json_type == "boolean":
        return graphene.Boolean
    return JSON
