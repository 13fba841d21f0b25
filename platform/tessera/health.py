"""/health: is the database reachable, and did the worker and the tick report recently?"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from tessera.definitions.models import DefinitionsRevision
from tessera.timers.models import Heartbeat


def health(request: HttpRequest) -> JsonResponse:
    now = timezone.now()
    stale_after = timedelta(seconds=max(30, settings.TESSERA_TICK_SECONDS * 6))
    beats = {
        hb.name: {
            "last_at": hb.last_at.isoformat(),
            "beats": hb.beats,
            "alive": now - hb.last_at < stale_after,
        }
        for hb in Heartbeat.objects.all()
    }
    body = {"database": "ok", "revision": DefinitionsRevision.current(), "processes": beats}
    return JsonResponse(body)
