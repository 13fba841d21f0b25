"""The admin's preview of a screen page: the draft's blocks rendered as operators see them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tessera.api.permissions import Policy
from tessera.definitions.cache import one_revision

from .labels import text


class ScreenPreview:
    """Renders a screen body that is not published yet, with the previewing person's rights."""

    type = "screen"

    def render(self, request: HttpRequest, key: str, body: dict[str, Any]) -> HttpResponse:
        from .views import _render_blocks

        policy = Policy.for_user(request.user)
        with one_revision():
            blocks = _render_blocks(request, key, body, policy, preview=True)
        title = text(body.get("x-label"), key)
        return render(
            request,
            "frontend/preview.html",
            {"blocks": blocks, "title": title, "languages": settings.LANGUAGES},
        )
