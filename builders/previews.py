"""Renderers the admin borrows to preview what it builds, filled by the apps that own them.

The operator UI registers the screen renderer at start-up (its AppConfig.ready), so the
admin shows a draft screen exactly as operators will see it without importing the UI.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.http import HttpRequest, HttpResponse

from tessera.plugins import Registry


class ScreenRenderer(Protocol):
    type: str

    def render(self, request: HttpRequest, key: str, body: dict[str, Any]) -> HttpResponse: ...


screen_previews: Registry = Registry("screen preview")
