"""Small filters for the builders' templates."""

from __future__ import annotations

import json
from typing import Any

from django import template

from ..messages import where

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "…"


@register.filter
def place(path: str) -> str:
    return where(path)


@register.filter
def get(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def split(value: str) -> list[str]:
    return str(value).split()
