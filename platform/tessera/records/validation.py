"""Record validators, compiled once per object definition version and cached.

Two engines judge every record and must agree exactly (tests/records hold them together
with a property test): fastjsonschema, generated Python code, decides quickly whether a
document is valid; jsonschema, only when it is not, says every error with its JSON path.
Both get the same format functions (tessera.definitions.formats) and neither can fetch a
``$ref``: the precise one has an empty registry, and object schemas hold no refs at all.
"""

from __future__ import annotations

import functools
from typing import Any

import fastjsonschema
from django.conf import settings
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry

from tessera.definitions.errors import FieldError, ValidationFailed, json_path
from tessera.definitions.formats import formats_for
from tessera.definitions.models import Definition
from tessera.definitions.object_schema import compile_object_schema
from tessera.definitions.safety import bounds_problem

_EMPTY_REGISTRY: Registry = Registry()


class RecordValidator:
    """Validates a record's ``data`` against one version of an object definition."""

    def __init__(self, schema: dict[str, Any]):
        self.schema = schema
        formats = formats_for(schema)
        self._fast = fastjsonschema.compile(schema, formats=formats, use_default=False)
        checker = FormatChecker(formats=())
        for name, check in formats.items():
            checker.checks(name)(check)
        self._precise = Draft202012Validator(
            schema, registry=_EMPTY_REGISTRY, format_checker=checker
        )
        limits = settings.TESSERA_LIMITS
        self._max_bytes, self._max_depth = limits["record_bytes"], limits["record_depth"]

    def is_valid(self, data: Any) -> bool:
        try:
            self._fast(data)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def errors(self, data: Any) -> list[FieldError]:
        """Every error, each naming the JSON path of the value and the rule it breaks."""
        problem = bounds_problem(
            data, max_bytes=self._max_bytes, max_depth=self._max_depth, what="record"
        )
        if problem:
            return [problem]
        found = []
        for error in self._precise.iter_errors(data):
            path = list(error.absolute_path)
            if error.validator == "required":
                missing = error.message.split("'")[1] if "'" in error.message else ""
                path.append(missing)
                message = "this field is required"
            elif error.validator == "additionalProperties":
                message = error.message
            else:
                message = error.message
            found.append(FieldError(json_path(path), str(error.validator), message))
        return sorted(found, key=lambda e: e.path)

    def validate(self, data: Any) -> None:
        """Raise ValidationFailed unless ``data`` is valid; the common case costs one call."""
        if self.is_valid(data):
            if bounds_problem(data, max_bytes=self._max_bytes, max_depth=self._max_depth) is None:
                return
        errors = self.errors(data)
        if not errors:  # both engines must agree; reaching here would be a bug in one of them
            raise AssertionError("fast and precise validators disagree")
        raise ValidationFailed(errors)


@functools.lru_cache(maxsize=512)
def validator_for_version(object_key: str, version: int) -> RecordValidator:
    """Published versions never change, so (key, version) is a safe cache key."""
    body = Definition.objects.values_list("body", flat=True).get(
        kind="object", key=object_key, version=version
    )
    return RecordValidator(compile_object_schema(body))
