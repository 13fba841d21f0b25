"""What the builders offer in their drop-downs: the published definitions of each kind and
the fields of an object, labelled in the person's language."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language

from tessera.definitions.models import Definition, Status


def _label(body: dict[str, Any], fallback: str) -> str:
    label = body.get("x-label") if isinstance(body, dict) else None
    if not isinstance(label, dict):
        return fallback
    first = "zh" if (get_language() or "en").startswith("zh") else "en"
    return label.get(first) or label.get("en") or label.get("zh") or fallback


def published(kind: str) -> list[tuple[str, str]]:
    rows = Definition.objects.filter(kind=kind, status=Status.PUBLISHED).values_list("key", "body")
    return sorted(((key, f"{_label(body, key)} ({key})") for key, body in rows), key=lambda c: c[1])


def objects() -> list[tuple[str, str]]:
    return published("object")


def segments() -> list[tuple[str, str]]:
    return published("segment")


def workflows() -> list[tuple[str, str]]:
    return published("workflow")


def body_of(kind: str, key: str) -> dict[str, Any] | None:
    return (
        Definition.objects.filter(kind=kind, key=key, status=Status.PUBLISHED)
        .values_list("body", flat=True)
        .first()
    )
