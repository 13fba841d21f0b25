"""The contract every field type fulfils, built-in or from a plugin.

A field type turns the author's property (``{"x-type": "email", "x-unique": true}``) into
the JSON Schema that validates stored values, says how an index on it is typed, and
converts values when a published change moves a field from one type to another. It is the
Wagtail block contract (to_python / get_prep_value / clean) applied to JSON values.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class SqlType(enum.Enum):
    """How a value is compared in SQL; decides the cast of an expression index."""

    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"  # ISO text: sorts as dates do
    DATETIME = "datetime"  # UTC ISO text with a fixed shape: sorts as instants do
    NONE = "none"  # lists and objects: not indexable with one expression


class FieldType:
    """Base of all field types. Subclasses set ``type`` and override what differs."""

    type: ClassVar[str]
    label: ClassVar[dict[str, str]] = {}
    sql_type: ClassVar[SqlType] = SqlType.TEXT
    # Author keywords this type accepts on top of the x- ones (constraints that narrow).
    allowed_keywords: ClassVar[frozenset[str]] = frozenset()

    def schema(self, prop: dict[str, Any]) -> dict[str, Any]:
        """The JSON Schema fragment that validates one value of this field."""
        raise NotImplementedError

    def check(self, prop: dict[str, Any]) -> list[tuple[list[str | int], str, str]]:
        """Problems with the author's property as (relative path, code, message)."""
        return []

    def convert(self, value: Any) -> Any:
        """Convert a value stored under another type; raise ValueError if it cannot be."""
        return value

    def constraints(self, prop: dict[str, Any]) -> dict[str, Any]:
        """The author's narrowing keywords, copied onto the generated schema."""
        return {k: v for k, v in prop.items() if k in self.allowed_keywords}
