"""People's words for definitions: labels in the active language, values as they read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import get_language


def lang() -> str:
    """``zh`` or ``en``: the key of an ``x-label`` for the active language."""
    return "zh" if (get_language() or "en").lower().startswith("zh") else "en"


def text(label: Any, default: str = "") -> str:
    """An ``{"en", "zh"}`` label in the active language, else the other one, else ``default``."""
    if not isinstance(label, dict):
        return default
    first = lang()
    other = "en" if first == "zh" else "zh"
    return label.get(first) or label.get(other) or default


def humanize(name: str) -> str:
    return name.replace("_", " ").capitalize()


def object_label(body: dict[str, Any] | None, key: str, plural: bool = False) -> str:
    if not body:
        return humanize(key)
    if plural and body.get("x-label-plural"):
        return text(body["x-label-plural"], humanize(key))
    return text(body.get("x-label"), humanize(key))


def field_label(body: dict[str, Any] | None, name: str) -> str:
    prop = (body or {}).get("properties", {}).get(name) or {}
    return text(prop.get("x-label"), humanize(name))


def option_label(prop: dict[str, Any], option: Any) -> str:
    labels = prop.get("x-enum-labels") or {}
    return text(labels.get(option), str(option)) if isinstance(option, str) else str(option)


def show(prop: dict[str, Any] | None, value: Any) -> str:
    """A stored value as a person reads it (enum labels, dates, money, yes/no)."""
    from django.utils.translation import gettext as _

    if value is None or value == "" or value == []:
        return ""
    kind = (prop or {}).get("x-type")
    if kind in ("enum",):
        return option_label(prop, value)
    if kind == "multi_enum" and isinstance(value, list):
        return ", ".join(option_label(prop, v) for v in value)
    if kind == "boolean":
        return _("Yes") if value else _("No")
    if kind == "money":
        try:
            return formats.number_format(Decimal(str(value)), 2, use_l10n=True, force_grouping=True)
        except (InvalidOperation, ValueError):
            return str(value)
    if kind == "datetime" and isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return formats.date_format(timezone.localtime(moment), "Y-m-d H:i")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
