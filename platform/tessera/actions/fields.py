"""Checks an action type makes against the object it runs on: fields exist, values fit.

Public for action plugins: ``check_field`` and ``value_errors`` turn "this field does not
exist" and "this value does not fit that field" into FieldErrors at the param's JSON path.
"""

from __future__ import annotations

from typing import Any

from tessera.definitions.cache import published
from tessera.definitions.errors import FieldError
from tessera.records.validation import validator_for_version

from .types import sub_path


def object_properties(object_key: str | None) -> dict[str, dict[str, Any]] | None:
    """The fields of the published object ``object_key`` (None if it is not published)."""
    if not object_key:
        return None
    definition = published("object", object_key)
    return None if definition is None else definition.body.get("properties", {})


def subject_errors(object_key: str | None, path: str) -> list[FieldError]:
    """An action that works on the subject record needs one, of a published object."""
    if not object_key:
        return [FieldError(path, "no_subject", "this action needs a subject record")]
    if object_properties(object_key) is None:
        return [FieldError(path, "unknown_object", f"{object_key!r} is not a published object")]
    return []


def check_field(
    object_key: str | None, name: Any, path: str, *, x_types: set[str] | None = None
) -> list[FieldError]:
    """``name`` is a field of the object (of one of ``x_types`` when given); errors at ``path``."""
    properties = object_properties(object_key)
    if properties is None:
        return subject_errors(object_key, path)
    if name not in properties:
        known = ", ".join(sorted(properties))
        return [
            FieldError(
                path, "unknown_field", f"{name!r} is not a field of {object_key}; fields: {known}"
            )
        ]
    x_type = properties[name]["x-type"]
    if x_types is not None and x_type not in x_types:
        wanted = " or ".join(sorted(x_types))
        return [
            FieldError(path, "field_type", f"{name!r} is a {x_type} field; this needs {wanted}")
        ]
    return []


def value_errors(object_key: str, values: dict[str, Any], path: str) -> list[FieldError]:
    """Whether each value fits its field, by the object's own validator.

    ``path`` is where ``values`` sits; an error on field ``f`` lands at ``path.f…``. Missing
    required fields are not reported here (a partial change is fine); fields that do not
    exist are (``additionalProperties``).
    """
    definition = published("object", object_key)
    if definition is None:
        return subject_errors(object_key, path)
    validator = validator_for_version(object_key, definition.version)
    found = []
    for error in validator.errors(values):
        if error.code == "required":
            continue
        # the validator's paths start at "$" (the record); ours continue from ``path``
        found.append(FieldError(path + error.path[1:], error.code, error.message))
    return found


def required_fields(object_key: str) -> list[str]:
    definition = published("object", object_key)
    return [] if definition is None else list(definition.body.get("required", []))


__all__ = [
    "check_field",
    "object_properties",
    "required_fields",
    "sub_path",
    "subject_errors",
    "value_errors",
]
