"""Previews the definitions area opens: a screen's draft rendered as operators will see it."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from tessera.definitions import service

from ..access import VIEW_DEFINITIONS, admin_view
from ..previews import screen_previews


@admin_view(VIEW_DEFINITIONS)
@require_safe
def screen(request: HttpRequest, key: str) -> HttpResponse:
    definition = service.draft("screen", key) or service.current("screen", key)
    if definition is None or "screen" not in screen_previews:
        raise Http404("no such screen")
    return screen_previews.get("screen").render(request, key, definition.body)
