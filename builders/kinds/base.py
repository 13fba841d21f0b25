"""The contract of a kind's builder, and the plain JSON editor every kind has."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, QueryDict

from ..messages import Message


class Builder:
    """Base of the builders; ``type`` is the definition kind it edits."""

    type: str = ""
    template: str = ""

    def new_body(self) -> dict[str, Any]:
        return {}

    def context(self, request: HttpRequest, key: str, body: dict[str, Any]) -> dict[str, Any]:
        return {}

    def apply(self, body: dict[str, Any], post: QueryDict) -> dict[str, Any]:
        """The body with the builder's controls (and the operation ``op``) applied."""
        return body

    def slot(self, message: Message) -> str | None:
        """The control an error belongs next to, or None to list it above the builder."""
        return None

    def preview(self, request: HttpRequest, key: str, body: dict[str, Any]) -> dict[str, Any]:
        """A live look at what the body does (a count, a path), shown beside the builder."""
        return {}


class JsonBuilder(Builder):
    """No visual builder: the body as JSON."""

    def __init__(self, kind: str):
        self.type = kind

    def new_body(self) -> dict[str, Any]:
        return {
            "screen": {"x-label": {"en": "", "zh": ""}, "blocks": []},
            "calendar": {
                "timezone": "Asia/Shanghai",
                "hours": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
            },
        }.get(self.type, {})
