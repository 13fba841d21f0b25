"""Record validators, compiled once per object definition version and cached.

Two engines judge every record and must agree exactly (tests/records hold them together
with a property test): fastjsonschema, generated Python code, decides quickly whether a
document is valid; jsonschema, only when it is not, says every error with its JSON path.
Both get the same format functions (tessera.definitions.formats) and neither can fetch a
``$ref``: the precise one has an empty registry, and object schemas hold no refs at all.

What keeps them in agreement (each point was a disagreement or a crash once):

- ``is_valid`` means "``validate`` would accept": the schema *and* the size and depth
  bounds, which ``errors`` reports first. A valid record can still be too large (twenty
  long texts), so the fast path counts what the schema leaves unbounded (``_Bounds``).
- Author patterns run as a format under a digest name (see formats), never pasted into
  the code fastjsonschema generates.
- fastjsonschema checks ``uniqueItems`` by recursing into the items before it checks
  their type; a list of 1,000-deep lists exhausts the stack. That is an invalid record,
  and ``errors`` names it ``too_deep``.
- Free text refuses NUL and unpaired surrogates with a standard ``pattern`` both engines
  run (jsonb cannot hold them), so SQLite and PostgreSQL refuse the same records.
"""

from __future__ import annotations

import math
from typing import Any

import fastjsonschema
from django.conf import settings
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry

from tessera.definitions.cache import RevisionCache
from tessera.definitions.errors import FieldError, ValidationFailed, json_path
from tessera.definitions.formats import PATTERN_KEYWORD, STORABLE_TEXT, formats_for
from tessera.definitions.models import Definition
from tessera.definitions.object_schema import compile_object_schema
from tessera.definitions.safety import bounds_problem, measure

from .column_validation import ColumnChecks

_EMPTY_REGISTRY: Registry = Registry()


class _Bounds:
    """Whether a document the schema accepts is also within the size and depth limits.

    A closed schema bounds most of a valid record already: a boolean is 8 bytes in
    ``measure``'s count, a string at most its ``maxLength`` + 2. Fields whose bound is
    large (texts, lists) are measured when present and the rest are counted at their
    bound, which over-estimates; only when that estimate is over the limit is the whole
    document measured. So the answer is always ``measure``'s, at a fraction of the cost.
    """

    LARGE = 1024  # bytes: a field that may be larger than this is measured, not estimated

    def __init__(self, schema: dict[str, Any], max_bytes: int, max_depth: int):
        self.max_bytes, self.max_depth = max_bytes, max_depth
        bounds = {name: _size_bound(sub) for name, sub in schema.get("properties", {}).items()}
        self.exact_only = _depth_bound(schema) > max_depth  # also when the schema is not closed
        self.estimated = 2 + sum(len(n) + 4 + b for n, b in bounds.items() if b <= self.LARGE)
        self.measured = [(n, len(n) + 4) for n, b in bounds.items() if b > self.LARGE]
        self.always = not self.exact_only and not self.measured and self.estimated <= max_bytes

    def within(self, data: Any) -> bool:
        """``data`` is valid against the schema; is it within the limits too?"""
        if self.always:
            return True
        if not self.exact_only:
            size = self.estimated
            for name, overhead in self.measured:
                if name in data:
                    value = data[name]
                    if isinstance(value, str):
                        size += overhead + len(value) + 2
                    else:
                        size += overhead + measure(value, self.max_depth)[0]
            if size <= self.max_bytes:
                return True
        size, depth = measure(data, self.max_depth)
        return depth <= self.max_depth and size <= self.max_bytes


def _size_bound(schema: Any) -> float:
    """The most ``measure`` can count for a value valid against ``schema`` (inf: unknown)."""
    if not isinstance(schema, dict):
        return math.inf
    kind = schema.get("type")
    if kind in ("integer", "number", "boolean", "null"):
        return 8
    if kind == "string":
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return 2 + max(len(o) if isinstance(o, str) else math.inf for o in schema["enum"])
        return 2 + schema.get("maxLength", math.inf)
    if kind == "array" and "items" in schema:
        return 2 + schema.get("maxItems", math.inf) * _size_bound(schema["items"])
    if kind == "object" and schema.get("additionalProperties") is False:
        properties = schema.get("properties", {})
        return 2 + sum(len(n) + 4 + _size_bound(sub) for n, sub in properties.items())
    return math.inf


def _depth_bound(schema: Any) -> float:
    """The deepest a value valid against ``schema`` can be, counting itself (inf: unknown)."""
    if not isinstance(schema, dict):
        return math.inf
    kind = schema.get("type")
    if kind in ("integer", "number", "boolean", "null", "string"):
        return 1
    if kind == "array" and "items" in schema:
        return 1 + _depth_bound(schema["items"])
    if kind == "object" and schema.get("additionalProperties") is False:
        return 1 + max(map(_depth_bound, schema.get("properties", {}).values()), default=0)
    return math.inf


class RecordValidator:
    """Validates a record's ``data`` against one version of an object definition."""

    def __init__(self, schema: dict[str, Any]):
        self.schema = schema
        formats = formats_for(schema)
        # fastjsonschema calls a format only on strings, so it gets the functions without
        # their is-it-a-string wrapper (jsonschema calls them on every type).
        unwrapped = {name: getattr(check, "on_strings", check) for name, check in formats.items()}
        self._fast = fastjsonschema.compile(schema, formats=unwrapped, use_default=False)
        checker = FormatChecker(formats=())
        for name, check in formats.items():
            checker.checks(name)(check)
        self._precise = Draft202012Validator(
            schema, registry=_EMPTY_REGISTRY, format_checker=checker
        )
        limits = settings.TESSERA_LIMITS
        self._max_bytes, self._max_depth = limits["record_bytes"], limits["record_depth"]
        self._bounds = _Bounds(schema, self._max_bytes, self._max_depth)
        self._columns = ColumnChecks.of(schema, unwrapped)

    def is_valid(self, data: Any) -> bool:
        """Whether ``validate`` accepts ``data``: the schema, then the size and depth bounds."""
        try:
            self._fast(data)
        except fastjsonschema.JsonSchemaException:
            return False
        except RecursionError:  # uniqueItems over deeply nested items; errors() says too_deep
            return False
        return self._bounds.within(data)

    def valid_rows(self, rows: list[Any]) -> list[bool]:
        """``[self.is_valid(row) for row in rows]``, judged a field at a time where it can be.

        For the many records of an import chunk: the column checks prove most rows valid
        at once, and only the rest go through ``is_valid`` (see ``column_validation``).
        """
        if self._columns is None or len(rows) < 2:
            return list(map(self.is_valid, rows))
        unsure = self._columns.unsure(rows)
        within = self._bounds.within
        if self._bounds.always and not unsure:
            return [True] * len(rows)
        return [self.is_valid(row) if i in unsure else within(row) for i, row in enumerate(rows)]

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
            code, message = str(error.validator), error.message
            if error.validator == "required":
                missing = error.message.split("'")[1] if "'" in error.message else ""
                path.append(missing)
                message = "this field is required"
            elif error.validator == "pattern" and error.validator_value == STORABLE_TEXT:
                code = "invalid_text"
                message = "text cannot hold NUL characters or unpaired surrogates"
            elif (
                error.validator == "format"
                and isinstance(error.schema, dict)
                and (PATTERN_KEYWORD in error.schema)
            ):
                code = "pattern"
                message = f"does not match the pattern {error.schema[PATTERN_KEYWORD]!r}"
            found.append(FieldError(json_path(path), code, message))
        return sorted(found, key=lambda e: e.path)

    def validate(self, data: Any) -> None:
        """Raise ValidationFailed unless ``data`` is valid; the common case costs one call."""
        if self.is_valid(data):
            return
        errors = self.errors(data)
        if not errors:  # both engines must agree; reaching here would be a bug in one of them
            raise AssertionError("fast and precise validators disagree")
        raise ValidationFailed(errors)


_validators = RevisionCache()


def validator_for_version(object_key: str, version: int) -> RecordValidator:
    """The compiled validator of one published version, kept until the next publish.

    Keyed by the revision token, not by (key, version) alone: a publish that was rolled back
    leaves its version number free for another body, and its validator must not be reused.
    """

    def build() -> RecordValidator:
        body = Definition.objects.values_list("body", flat=True).get(
            kind="object", key=object_key, version=version
        )
        return RecordValidator(compile_object_schema(body))

    return _validators.get((object_key, version), build)
