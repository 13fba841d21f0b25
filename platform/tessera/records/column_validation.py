"""Which of many records a schema accepts, judged a field at a time over all of them.

An import validates thousands of records of one object at once. fastjsonschema judges a
record at a time in generated Python: about 26 ``isinstance`` calls and a dozen branches
for an eight-field customer, the largest part of an import's Python time once the cells
are converted. Most of those questions have one answer for a whole column, asked in C:
are all the names ``str`` (``set(map(type, values))``), is the longest at most 80
characters (``max(map(len, values))``), is every level one of the options (a set
inclusion), is any text unstorable (one regular expression over the joined texts).

So ``ColumnChecks`` only ever *proves* records valid: a record is left "unsure" as soon as
one of its values is not covered by a column-wide answer, and the caller asks the record
validator about exactly those. The answer for every record is therefore the record
validator's own (tests/records/test_validator_agreement.py holds the two together).
Keywords it does not know are checked value by value with that property's own compiled
fastjsonschema validator, so a plugin's field type loses nothing but speed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from decimal import Decimal
from itertools import repeat
from math import isnan
from typing import Any

import fastjsonschema

from tessera.definitions.formats import COLUMN_FORMATS, FORMATS, STORABLE_TEXT

_ABSENT = object()  # a field a row does not hold
ColumnCheck = Callable[[list[Any]], bool]
ValueCheck = Callable[[Any], bool]

# Keywords that do not constrain a value (fastjsonschema ignores them as well).
_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default"})
_NUMBER_TYPES = {"integer": frozenset({int}), "number": frozenset({int, float})}
# fastjsonschema reads an unescaped ``$`` in a pattern as the end of the text (``\Z``),
# with this very expression (fastjsonschema.draft04.DOLLAR_FINDER); so do the checks here.
_DOLLAR = re.compile(r"(?<!\\)\$")
_STORABLE = re.compile(_DOLLAR.sub(r"\\Z", STORABLE_TEXT))


class ColumnChecks:
    """The column-wide checks of one closed object schema (``compile_object_schema``'s)."""

    def __init__(self, schema: dict[str, Any], formats: dict[str, Callable[[str], Any]]):
        self.properties: dict[str, Any] = schema["properties"]
        self.names = frozenset(self.properties)
        self.required: list[str] = list(schema.get("required", []))
        self.checks: list[tuple[str, ColumnCheck, ValueCheck]] = []
        for name, sub in self.properties.items():
            one = _value_check(sub, formats)
            column = _column_check(sub, formats) or (lambda values, one=one: all(map(one, values)))
            self.checks.append((name, column, one))

    @classmethod
    def of(
        cls, schema: dict[str, Any], formats: dict[str, Callable[[str], Any]]
    ) -> ColumnChecks | None:
        """The checks for ``schema``, or None when its top level is not the closed object."""
        plain = {"type", "properties", "additionalProperties", "required"}
        if (
            set(schema) - _ANNOTATIONS > plain
            or schema.get("type") != "object"
            or schema.get("additionalProperties") is not False
            or not isinstance(schema.get("properties"), dict)
            or not all(isinstance(sub, dict) for sub in schema["properties"].values())
            or not all(isinstance(n, str) for n in schema.get("required", []))
        ):
            return None
        return cls(schema, formats)

    def unsure(self, rows: list[Any]) -> set[int]:
        """The positions of the rows not proven valid (by the schema alone: no size bounds)."""
        if set(map(type, rows)) != {dict}:
            return set(range(len(rows)))
        unsure: set[int] = set()
        present = set().union(*rows)
        if not present <= self.names:
            names = self.names
            unsure.update(i for i, row in enumerate(rows) if not row.keys() <= names)
        for name in self.required:
            if not all(map(operator.contains, rows, repeat(name))):
                unsure.update(i for i, row in enumerate(rows) if name not in row)
        for name, column, one in self.checks:
            if name not in present:
                continue
            values = list(map(dict.get, rows, repeat(name), repeat(_ABSENT)))
            if _ABSENT in values:
                values = [v for v in values if v is not _ABSENT]
            try:
                fine = column(values)
            except (TypeError, ValueError, ArithmeticError):  # unhashable, uncomparable
                fine = False
            if not fine:
                unsure.update(i for i, row in enumerate(rows) if name in row and not one(row[name]))
        return unsure


def _value_check(sub: dict[str, Any], formats: dict[str, Callable[[str], Any]]) -> ValueCheck:
    """One value against one property's schema: that property's own fastjsonschema code."""
    validate = fastjsonschema.compile(sub, formats=formats, use_default=False)

    def one(value: Any) -> bool:
        try:
            validate(value)
        except fastjsonschema.JsonSchemaException:
            return False
        except RecursionError:
            return False
        return True

    return one


def _column_check(
    sub: dict[str, Any], formats: dict[str, Callable[[str], Any]]
) -> ColumnCheck | None:
    """All of a column's values against ``sub`` in C-level passes; None if ``sub`` is not plain.

    True means every value is valid; False only that one may not be (ask value by value).
    """
    kind = sub.get("type")
    # x- keywords are Tessera's notes (the pattern a format stands for): not JSON Schema's.
    keywords = {k for k in sub if not k.startswith("x-")} - _ANNOTATIONS - {"type"}
    steps: list[ColumnCheck] = []
    if kind == "string":
        steps.append(lambda values: set(map(type, values)) == {str})
        for keyword in keywords:
            step = _string_step(keyword, sub[keyword], formats)
            if step is None:
                return None
            steps.append(step)
    elif kind in _NUMBER_TYPES:
        allowed = _NUMBER_TYPES[kind]

        def numbers(values: list[Any]) -> bool:
            # NaN compares false both ways: min() and max() could pass over a value below
            # the minimum beside one. (fastjsonschema accepts NaN itself; value by value.)
            types = set(map(type, values))
            return types <= allowed and (float not in types or not any(map(isnan, values)))

        steps.append(numbers)
        for keyword in keywords:
            step = _number_step(keyword, sub[keyword])
            if step is None:
                return None
            steps.append(step)
    elif kind == "boolean" and not keywords:
        steps.append(lambda values: set(map(type, values)) == {bool})
    else:
        return None
    return lambda values: all(step(values) for step in steps)


def _string_step(
    keyword: str, bound: Any, formats: dict[str, Callable[[str], Any]]
) -> ColumnCheck | None:
    """A check of a column of ``str`` values (the type step runs first)."""
    if keyword == "maxLength" and _is_number(bound):
        return lambda values: max(map(len, values)) <= bound
    if keyword == "minLength" and _is_number(bound):
        return lambda values: min(map(len, values)) >= bound
    if keyword == "pattern" and bound == STORABLE_TEXT:
        # One character class over the whole text: the joined column matches it exactly
        # when every value does.
        return lambda values: _STORABLE.search("".join(values)) is not None
    if keyword == "pattern" and isinstance(bound, str):
        search = re.compile(_DOLLAR.sub(r"\\Z", bound)).search
        return lambda values: all(map(search, set(values)))
    if keyword == "format" and isinstance(bound, str) and bound in formats:
        check = formats[bound]
        every = COLUMN_FORMATS.get(bound)
        if every is not None and getattr(FORMATS.get(bound), "on_strings", None) is check:
            return every
        return lambda values: all(map(check, set(values)))
    if keyword == "enum" and isinstance(bound, list) and all(type(o) is str for o in bound):
        options = frozenset(bound)
        return lambda values: options.issuperset(values)
    return None


def _number_step(keyword: str, bound: Any) -> ColumnCheck | None:
    """A check of a column of ``int`` (and ``float``) values, never ``bool``."""
    if not _is_number(bound):
        return None
    if keyword == "minimum":
        return lambda values: not min(values) < bound
    if keyword == "maximum":
        return lambda values: not max(values) > bound
    if keyword == "exclusiveMinimum":
        return lambda values: not min(values) <= bound
    if keyword == "exclusiveMaximum":
        return lambda values: not max(values) >= bound
    return None


def _is_number(value: Any) -> bool:
    return type(value) in (int, float, Decimal)
