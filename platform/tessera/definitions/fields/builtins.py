"""The built-in field types, registered through the same API a plugin uses."""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

from tessera.definitions.formats import (
    STORABLE_TEXT,
    is_email,
    is_phone,
    is_url,
    pattern_schema,
)
from tessera.plugins import Registries

from .base import FieldType, SqlType

MAX_SAFE_INTEGER = 2**53 - 1


class StringField(FieldType):
    type = "string"
    label = {"en": "Short text", "zh": "单行文本"}
    default_max_length = 255
    allowed_keywords = frozenset({"minLength", "maxLength"})

    def schema(self, prop):
        out = {"type": "string", "maxLength": self.default_max_length, "pattern": STORABLE_TEXT}
        out.update(self.constraints(prop))
        out["maxLength"] = min(out["maxLength"], self.default_max_length)
        if isinstance(prop.get("pattern"), str):
            # Author patterns run on RE2 through a shared format, never on Python's `re`,
            # and never under a format name that holds the author's text.
            out.update(pattern_schema(prop["pattern"]))
        return out

    def convert(self, value):
        if isinstance(value, (dict, list)):
            raise ValueError("a list or object is not text")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


class TextField(StringField):
    type = "text"
    label = {"en": "Long text", "zh": "多行文本"}
    default_max_length = 65535


class IntegerField(FieldType):
    type = "integer"
    label = {"en": "Integer", "zh": "整数"}
    sql_type = SqlType.NUMBER
    allowed_keywords = frozenset({"minimum", "maximum"})

    def schema(self, prop):
        out = {"type": "integer", "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER}
        out.update(self.constraints(prop))
        return out

    def convert(self, value):
        if isinstance(value, bool):
            raise ValueError("a boolean is not an integer")
        number = decimal.Decimal(str(value).strip())
        if number != number.to_integral_value():
            raise ValueError(f"{value!r} has a fraction")
        return int(number)


class DecimalField(FieldType):
    type = "decimal"
    label = {"en": "Decimal", "zh": "小数"}
    sql_type = SqlType.NUMBER
    allowed_keywords = frozenset({"minimum", "maximum"})

    def schema(self, prop):
        out = {"type": "number", "minimum": -1e15, "maximum": 1e15}
        out.update(self.constraints(prop))
        return out

    def convert(self, value):
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        try:
            number = decimal.Decimal(str(value).strip().replace(",", ""))
        except decimal.InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        return int(number) if number == number.to_integral_value() else float(number)


class MoneyField(DecimalField):
    type = "money"
    label = {"en": "Money", "zh": "金额"}

    def schema(self, prop):
        out = super().schema(prop)
        out.setdefault("minimum", -1e15)
        return out


class BooleanField(FieldType):
    type = "boolean"
    label = {"en": "Yes / no", "zh": "是/否"}
    sql_type = SqlType.BOOLEAN

    def schema(self, prop):
        return {"type": "boolean"}

    def convert(self, value):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "y", "是"}:
            return True
        if text in {"0", "false", "no", "n", "否"}:
            return False
        raise ValueError(f"{value!r} is not yes or no")


class DateField(FieldType):
    type = "date"
    label = {"en": "Date", "zh": "日期"}
    sql_type = SqlType.DATE

    def schema(self, prop):
        # maxLength adds nothing the format does not check; it bounds a valid record's size.
        return {"type": "string", "maxLength": 10, "format": "tessera-date"}

    def convert(self, value):
        return dt.date.fromisoformat(str(value)[:10]).isoformat()


class DateTimeField(FieldType):
    type = "datetime"
    label = {"en": "Date and time", "zh": "日期时间"}
    sql_type = SqlType.DATETIME

    def schema(self, prop):
        # 2024-01-01T10:00:00.123456+08:00 is the longest shape the format accepts.
        return {"type": "string", "maxLength": 32, "format": "tessera-datetime"}

    def convert(self, value):
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        try:
            utc = parsed.astimezone(dt.UTC)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first UTC instant
            raise ValueError(f"{value!r} is out of range once moved to UTC") from None
        # isoformat, not strftime: strftime writes year 5 as "5", which the format refuses.
        return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class EnumField(FieldType):
    type = "enum"
    label = {"en": "Choice", "zh": "单选"}

    def schema(self, prop):
        return {"type": "string", "enum": list(prop.get("enum", []))}

    def check(self, prop):
        options = prop.get("enum")
        if not isinstance(options, list) or not options:
            return [(["enum"], "required", "an enum field lists its options in 'enum'")]
        if not all(isinstance(o, str) for o in options) or len(set(options)) != len(options):
            return [(["enum"], "invalid", "options are distinct strings")]
        for i, option in enumerate(options):
            # an option no database can store could never be chosen: refuse it at save
            if not re.fullmatch(STORABLE_TEXT, option):
                return [
                    (
                        ["enum", i],
                        "invalid_text",
                        "an option cannot hold NUL or unpaired surrogates",
                    )
                ]
        return []

    def convert(self, value):
        return str(value)


class MultiEnumField(EnumField):
    type = "multi_enum"
    label = {"en": "Multiple choice", "zh": "多选"}
    sql_type = SqlType.NONE

    def schema(self, prop):
        return {
            "type": "array",
            "items": {"type": "string", "enum": list(prop.get("enum", []))},
            "uniqueItems": True,
            "maxItems": len(prop.get("enum", [])) or 1,
        }

    def convert(self, value):
        return value if isinstance(value, list) else [str(value)]


class EmailField(FieldType):
    type = "email"
    label = {"en": "Email", "zh": "邮箱"}

    def schema(self, prop):
        return {
            "type": "string",
            "maxLength": 254,
            "pattern": STORABLE_TEXT,
            "format": "tessera-email",
        }

    def convert(self, value):
        text = str(value).strip().lower()
        if not is_email(text):
            raise ValueError(f"{value!r} is not an email address")
        return text


class PhoneField(FieldType):
    type = "phone"
    label = {"en": "Phone", "zh": "电话"}

    def schema(self, prop):
        return {"type": "string", "maxLength": 32, "format": "tessera-phone"}

    def convert(self, value):
        text = str(value).strip()
        if not is_phone(text):
            raise ValueError(f"{value!r} is not a phone number")
        return text


class UrlField(FieldType):
    type = "url"
    label = {"en": "Link", "zh": "链接"}

    def schema(self, prop):
        return {
            "type": "string",
            "maxLength": 2048,
            "pattern": STORABLE_TEXT,
            "format": "tessera-url",
        }

    def convert(self, value):
        text = str(value).strip()
        if not is_url(text):
            raise ValueError(f"{value!r} is not an http(s) link")
        return text


class RelationField(FieldType):
    """A reference to one record of another object, stored as that record's id."""

    type = "relation"
    label = {"en": "Link to record", "zh": "关联记录"}
    sql_type = SqlType.NUMBER

    def schema(self, prop):
        return {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER}

    def check(self, prop):
        rel = prop.get("x-relation")
        if not isinstance(rel, dict) or not isinstance(rel.get("object"), str):
            return [(["x-relation"], "required", "a relation names its target: {'object': key}")]
        return []

    def convert(self, value):
        return IntegerField().convert(value)


class ListField(FieldType):
    """A list of values of one other field type (``items`` is itself a field)."""

    type = "list"
    label = {"en": "List", "zh": "列表"}
    sql_type = SqlType.NONE
    allowed_keywords = frozenset({"minItems", "maxItems", "uniqueItems"})

    def schema(self, prop):
        from tessera.definitions.object_schema import field_schema

        out: dict[str, Any] = {"type": "array", "maxItems": 1000}
        out.update(self.constraints(prop))
        out["maxItems"] = min(out["maxItems"], 1000)
        items = prop.get("items")
        if isinstance(items, dict):
            out["items"] = field_schema(items)
        return out

    def check(self, prop):
        items = prop.get("items")
        if not isinstance(items, dict) or "x-type" not in items:
            return [(["items"], "required", "a list says the field type of its items")]
        if items.get("x-type") == "list":
            return [(["items", "x-type"], "invalid", "a list of lists is not supported")]
        return []

    def convert(self, value):
        return value if isinstance(value, list) else [value]


BUILTIN_FIELD_TYPES = [
    StringField(),
    TextField(),
    IntegerField(),
    DecimalField(),
    MoneyField(),
    BooleanField(),
    DateField(),
    DateTimeField(),
    EnumField(),
    MultiEnumField(),
    EmailField(),
    PhoneField(),
    UrlField(),
    RelationField(),
    ListField(),
]


def register(registries: Registries) -> None:
    for field_type in BUILTIN_FIELD_TYPES:
        registries.field_types.register(field_type)
