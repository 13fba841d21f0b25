"""Values that point at the subject record: ``{"$record": "email"}``, ``{"$now": true}``.

Params are data, never code: a value is either a literal or one of these one-key objects,
resolved when the effect is performed (``$record`` reads the subject's field, or its ``id``;
``$now`` is the current instant in the stored datetime shape).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from tessera.definitions.errors import FieldError
from tessera.definitions.object_schema import field_schema
from tessera.plugins import field_types

from .fields import object_properties, subject_errors
from .types import sub_path

RECORD, NOW = "$record", "$now"
_ID_SCHEMA = {"type": "integer"}


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in (RECORD, NOW)


def _schema_type(schema: dict[str, Any]) -> Any:
    return schema.get("type")


def reference_errors(
    value: Any,
    *,
    object_key: str | None,
    path: str,
    target: dict[str, Any] | None = None,
) -> list[FieldError]:
    """Problems with the references inside ``value`` (found at any depth).

    ``target`` is the field the value goes into, when known: a reference must then give a
    value of the same JSON type (``$now`` only into a datetime field).
    """
    if isinstance(value, list):
        return [
            e
            for i, item in enumerate(value)
            for e in reference_errors(item, object_key=object_key, path=sub_path(path, i))
        ]
    if not isinstance(value, dict):
        return []
    if not is_reference(value):
        return [
            e
            for k, item in value.items()
            for e in reference_errors(item, object_key=object_key, path=sub_path(path, k))
        ]
    if NOW in value:
        if value[NOW] is not True:
            return [FieldError(sub_path(path, NOW), "const", 'write {"$now": true}')]
        if target is not None and target.get("x-type") != "datetime":
            return [
                FieldError(
                    path,
                    "field_type",
                    f"$now is a datetime; this is a {target.get('x-type')} field",
                )
            ]
        return []
    name = value[RECORD]
    where = sub_path(path, RECORD)
    properties = object_properties(object_key)
    if properties is None:
        return subject_errors(object_key, where)
    if not isinstance(name, str):
        return [FieldError(where, "type", "a field name")]
    if name == "id":
        source = _ID_SCHEMA
    elif name in properties:
        source = field_schema(properties[name])
    else:
        known = ", ".join(["id", *sorted(properties)])
        return [
            FieldError(
                where, "unknown_field", f"{name!r} is not a field of {object_key}; fields: {known}"
            )
        ]
    if target is not None:
        wanted = _schema_type(field_schema(target))
        given = _schema_type(source)
        if wanted is not None and given is not None and wanted != given:
            return [
                FieldError(
                    where,
                    "field_type",
                    f"{name!r} holds {given} values; the target field holds {wanted}",
                )
            ]
    return []


def resolve(value: Any, data: dict[str, Any] | None, record_id: int | None) -> Any:
    """``value`` with every reference replaced: a missing field gives null."""
    if isinstance(value, list):
        return [resolve(item, data, record_id) for item in value]
    if not isinstance(value, dict):
        return value
    if not is_reference(value):
        return {k: resolve(item, data, record_id) for k, item in value.items()}
    if NOW in value:
        return field_types.get("datetime").convert(timezone.now().isoformat())
    name = value[RECORD]
    if name == "id":
        return record_id
    return (data or {}).get(name)
