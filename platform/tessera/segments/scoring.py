"""What RFM scoring and lifecycle stages share: their settings documents and output fields.

Settings are JSON documents stored per object (``ScoringSettings``), checked when saved
with errors at JSON paths, as a definition would be. Saving bumps the definitions
revision, since the freshness index (which writes re-check lifecycle stages) is built
from them. Both write to fields the object must declare; ``field_problem`` says precisely
what is missing or cannot hold the values before anything is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from jsonschema import Draft202012Validator, FormatChecker

from tessera.definitions.cache import published
from tessera.definitions.durations import is_duration
from tessera.definitions.errors import FieldError, ValidationFailed, json_path
from tessera.definitions.formats import formats_for
from tessera.definitions.models import DefinitionsRevision
from tessera.definitions.object_schema import field_schema

from .models import ScoringSettings

Check = Callable[[str, dict[str, Any]], list[FieldError]]


@dataclass
class Outcome:
    """What one scoring run did: records looked at, records whose fields changed."""

    considered: int = 0
    changed: int = 0
    events: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def schema_errors(schema: dict[str, Any], body: Any) -> list[FieldError]:
    validator = Draft202012Validator(schema)
    errors = [
        FieldError(json_path(list(e.absolute_path)), str(e.validator), e.message)
        for e in validator.iter_errors(body)
    ]
    return sorted(errors, key=lambda e: (e.path, e.code))


def duration_errors(body: dict[str, Any], keys: Iterable[str]) -> list[FieldError]:
    return [
        FieldError(f"$.{key}", "invalid", f"{body[key]!r} is not a duration such as P1D or PT1H")
        for key in keys
        if key in body and not is_duration(body[key])
    ]


def object_problem(object_key: str) -> list[FieldError]:
    if published("object", object_key) is None:
        return [
            FieldError("$.object", "unknown_object", f"{object_key!r} is not a published object")
        ]
    return []


def field_problem(
    object_key: str, name: str, values: list[Any], what: str, hint: str
) -> str | None:
    """Why field ``name`` of ``object_key`` cannot hold every one of ``values``, or None."""
    definition = published("object", object_key)
    prop = (definition.body.get("properties", {}) if definition else {}).get(name)
    if prop is None:
        return (
            f"{object_key} has no field {name!r} to hold {what}: declare it in the "
            f"{object_key} object ({hint}) and publish it, or name another field here"
        )
    schema = field_schema(prop)
    checker = FormatChecker(formats=())
    for fmt, check in formats_for(schema).items():
        checker.checks(fmt)(check)
    validator = Draft202012Validator(schema, format_checker=checker)
    refused = [v for v in values if not validator.is_valid(v)]
    if refused:
        return (
            f"field {name!r} of {object_key} ({prop['x-type']}) cannot hold {what} "
            f"{', '.join(map(repr, refused))}: make it {hint}"
        )
    return None


def configure(kind: str, object_key: str, body: Any, check: Check) -> ScoringSettings:
    """Check and save the settings of ``kind`` for ``object_key``; ValidationFailed if wrong."""
    errors = object_problem(object_key) or check(object_key, body)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        item, _ = ScoringSettings.objects.update_or_create(
            kind=kind, object_key=object_key, defaults={"body": body}
        )
        DefinitionsRevision.bump()
    return item


def settings_of(kind: str, object_key: str) -> ScoringSettings:
    item = ScoringSettings.objects.filter(kind=kind, object_key=object_key).first()
    if item is None:
        raise LookupError(f"{object_key} has no {kind} settings")
    return item
