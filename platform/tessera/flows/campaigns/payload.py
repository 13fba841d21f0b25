"""Conditions on an event's payload: ``{"total": {"op": "gte", "value": 100}, "channel": "web"}``.

A payload has no schema, so the kind of each comparison (number, text, boolean) is taken
from the authored value; the operator is the condition language's own (``operators``
registry), so ``gte`` means here what it means in a segment. A bare value is ``eq``.
"""

from __future__ import annotations

from typing import Any

from tessera.conditions.context import Clock
from tessera.conditions.operators import BOOLEAN, NUMBER, TEXT, is_number
from tessera.definitions.errors import FieldError
from tessera.plugins import UnknownType, operators


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if is_number(value):
        return NUMBER
    if isinstance(value, list) and value and all(is_number(v) for v in value):
        return NUMBER
    return TEXT


def _fits(actual: Any, kind: str) -> bool:
    if kind == NUMBER:
        return is_number(actual)
    if kind == BOOLEAN:
        return isinstance(actual, bool)
    return isinstance(actual, str)


def _parts(spec: Any) -> tuple[str, Any]:
    if isinstance(spec, dict):
        return spec.get("op", ""), spec.get("value")
    return "eq", spec


def payload_errors(where: dict[str, Any] | None, path: str) -> list[FieldError]:
    """Problems with a payload condition at ``path`` (each key at ``path.key``)."""
    errors: list[FieldError] = []
    for key, spec in (where or {}).items():
        op, value = _parts(spec)
        try:
            operator = operators.get(op)
        except UnknownType as exc:
            errors.append(FieldError(f"{path}.{key}.op", "unknown_operator", str(exc)))
            continue
        kind = _kind(value)
        if kind not in operator.kinds:
            errors.append(
                FieldError(f"{path}.{key}.op", "wrong_type", f"{op} does not compare {kind} values")
            )
            continue
        problem = operator.value_problem(value, kind)
        if problem:
            errors.append(FieldError(f"{path}.{key}.value", "invalid_value", problem))
    return errors


def payload_matches(where: dict[str, Any] | None, payload: dict[str, Any]) -> bool:
    """Does an event's payload meet every comparison (checked at publish)?"""
    clock = Clock()
    for key, spec in (where or {}).items():
        op, value = _parts(spec)
        operator, kind = operators.get(op), _kind(value)
        actual = payload.get(key) if isinstance(payload, dict) else None
        if actual is not None and not _fits(actual, kind):
            return False  # a payload holding another type than the value never matches
        if not operator.test(actual, operator.prepare(value, kind, clock), kind):
            return False
    return True
