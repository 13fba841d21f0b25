"""Typed ``filter:`` inputs become condition trees; one path narrows every record query.

The filter a client sends is turned into the condition language (the same JSON a segment
holds), parsed against the object, checked against the person's readable fields, compiled
to SQL by ``tessera.conditions``. A segment key and a raw ``condition`` join with AND.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from django.db.models import QuerySet

from tessera.conditions.compiler import compile_condition
from tessera.conditions.tree import parse
from tessera.definitions.errors import ValidationFailed

from ..errors import api_error, denied
from .common import OPS
from .specs import ObjectSpec

MAX_FILTER_NODES = 200


def _value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items() if v is not None}
    return value


def field_leaves(path: str, ops: dict[str, Any]) -> list[dict[str, Any]]:
    leaves = []
    for key, value in ops.items():
        if value is None:
            continue
        if key == "is_empty":
            leaves.append({"field": path, "op": "is_empty" if value else "is_set"})
        elif key == "anniversary_within":
            leaves.append({"field": path, "op": key, "value": {"next": value}})
        else:
            leaves.append({"field": path, "op": OPS[key], "value": _value(value)})
    return leaves


def to_condition(
    objects: dict[str, ObjectSpec], key: str, given: dict[str, Any], prefix: str = ""
) -> dict[str, Any]:
    """A filter input (nested all/any/not, fields, relations) → a condition tree."""
    spec = objects[key]
    parts: list[dict[str, Any]] = []
    for name, value in given.items():
        if value is None:
            continue
        if name in ("all", "any"):
            parts.append({name: [to_condition(objects, key, v, prefix) for v in value]})
        elif name == "not":
            parts.append({"not": to_condition(objects, key, value, prefix)})
        elif name == "id" and prefix:
            parts.extend(field_leaves(prefix.rstrip("."), value))
        elif name.startswith("r_") and name[2:] in spec.info.incoming and not prefix:
            parts.extend(_related(objects, spec, name[2:], value))
        else:
            field = spec.fields.get(name[2:]) if name.startswith("f_") else None
            if field is None:
                raise api_error("invalid_filter", f"{key} has no field {name!r}")
            if field.shape == "relation" and not prefix:
                parts.append(to_condition(objects, field.target, value, f"{field.prop}."))
            else:
                parts.extend(field_leaves(prefix + field.prop, value))
    if len(parts) == 1:
        return parts[0]
    return {"all": parts}


def _related(objects, spec: ObjectSpec, name: str, value: dict[str, Any]) -> list[dict[str, Any]]:
    incoming = spec.info.incoming[name]
    base: dict[str, Any] = {"metric": f"{name}.count"}
    if value.get("where"):
        base["where"] = to_condition(objects, incoming.source, value["where"])
    if value.get("window"):
        base["window"] = value["window"]
    counts = {k: v for k, v in (value.get("count") or {}).items() if v is not None}
    if not counts:
        counts = {"gte": 1}
    return [{**base, "op": op, "value": number} for op, number in counts.items()]


def combined(
    objects: dict[str, ObjectSpec],
    key: str,
    filter: dict[str, Any] | None = None,
    condition: Any = None,
    segment: str | None = None,
) -> dict[str, Any] | None:
    parts = []
    if filter:
        parts.append(to_condition(objects, key, filter))
    if condition is not None:
        parts.append(condition)
    if segment is not None:
        parts.append({"segment": segment})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"all": parts}


def narrowing(key: str, tree: dict[str, Any] | None, ctx):
    """A function narrowing a queryset of ``key`` records to ``tree``, checked; or None."""
    if tree is None:
        return None
    try:
        node = parse(tree, key, path=["filter"])
    except ValidationFailed as exc:
        raise api_error("invalid_filter", "; ".join(str(e) for e in exc.errors[:10])) from None
    problems = ctx.policy.condition_problems(node, key)
    if problems:
        raise denied("filter on " + ", ".join(sorted(set(problems))))
    compiled = compile_condition(node, key)

    def narrow(queryset: QuerySet) -> QuerySet:
        return compiled.apply(queryset)

    return narrow
