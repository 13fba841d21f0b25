"""The tick: a short periodic task, sent by beat, that does what is due.

Later capabilities (durable timers, time-based segment refreshes) hang their work on
``tick_steps``; the tick itself records a heartbeat so /health can show it is alive.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from celery import shared_task
from django.db.models import F
from django.utils import timezone

from .models import Heartbeat

tick_steps: list[Callable[[], object]] = []


def beat(name: str, **detail: object) -> None:
    now = timezone.now()
    updated = Heartbeat.objects.filter(name=name).update(
        beats=F("beats") + 1, last_at=now, detail=detail
    )
    if not updated:
        Heartbeat.objects.get_or_create(
            name=name, defaults={"beats": 1, "last_at": now, "detail": detail}
        )


@shared_task(name="tessera.timers.tick", acks_late=True)
def tick() -> dict[str, object]:
    results = {}
    for step in tick_steps:
        results[getattr(step, "__name__", repr(step))] = step()
    beat("tick", host=socket.gethostname(), pid=os.getpid())
    return results


@shared_task(name="tessera.timers.ping")
def ping(token: str = "") -> dict[str, object]:
    """Answered by a worker: proves a real worker process took a task from the broker."""
    beat("worker", host=socket.gethostname(), pid=os.getpid())
    return {"token": token, "pid": os.getpid()}
