"""The ``colour`` field type: a colour written as ``#rrggbb``."""

from __future__ import annotations

import re
from typing import Any

from tessera.definitions.fields import FieldType, SqlType

_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


class ColourField(FieldType):
    """A colour as six hex digits after a ``#``, such as ``#1e90ff``; indexable as text."""

    type = "colour"
    label = {"en": "Colour", "zh": "颜色"}
    sql_type = SqlType.TEXT

    def schema(self, prop: dict[str, Any]) -> dict[str, Any]:
        # The same JSON Schema runs in both of Tessera's validators, so keep to plain keywords.
        return {"type": "string", "maxLength": 7, "pattern": "^#[0-9a-fA-F]{6}$"}

    def convert(self, value: Any) -> str:
        """Text stored under another type (``"ABC"``, ``"#AbCdEf"``) becomes ``#aabbcc``."""
        match = _HEX.fullmatch(str(value).strip()) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{value!r} is not a hex colour such as #1e90ff")
        digits = match.group(1).lower()
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return "#" + digits
