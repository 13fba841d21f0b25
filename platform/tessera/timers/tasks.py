"""The tick: a short periodic task, sent by beat, that does what is due.

Capabilities (durable timers, time-based segment refreshes) hang their work on
``tick_steps``; the tick itself records a heartbeat so /health can show it is alive.

Timers: the tick fires one batch of due timers. When a full batch came back (more may be
due) on PostgreSQL, it sends up to ``fan_out`` ``tessera.timers.fire_due`` tasks, one per
further batch due, so every free worker takes a share; each of them keeps firing batches for
at most ``task_seconds``. They carry no ETA or countdown, and expire like the tick, so a
backlog never piles up stale messages: the next tick sends fresh ones. On SQLite (one writer)
the tick itself keeps firing small batches for ``task_seconds`` instead.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Callable

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import service
from .conf import timer_settings
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


def _drain(batch: int, seconds: float) -> service.Outcome:
    """Fire batches until one comes back short (nothing more is due) or time is up."""
    total = service.Outcome()
    until = time.monotonic() + seconds
    while True:
        got = service.run_due(limit=batch)
        total += got
        if got.claimed < batch or time.monotonic() >= until:
            return total


@shared_task(name="tessera.timers.fire_due", acks_late=True, ignore_result=True)
def fire_due_task() -> dict[str, int]:
    """A share of a backlog of due timers, sent by the tick (safe to run twice)."""
    conf = timer_settings()
    return _drain(service.batch_size(), conf["task_seconds"]).as_dict()


def due_timers() -> dict[str, int]:
    """The tick's timer step: fire what is due; share a backlog out to more workers."""
    conf = timer_settings()
    batch = service.batch_size()
    fan_out = 0 if service.uses_sqlite() else int(conf["fan_out"])
    if fan_out <= 0:
        return {**_drain(batch, conf["task_seconds"]).as_dict(), "fanned_out": 0}
    outcome = service.run_due(limit=batch)
    sent = 0
    if outcome.claimed >= batch:
        backlog = service.due_count(cap=batch * fan_out)
        sent = min(fan_out, math.ceil(backlog / batch))
        expires = max(2 * float(settings.TESSERA_TICK_SECONDS), 10.0)
        for _ in range(sent):
            transaction.on_commit(lambda: fire_due_task.apply_async(expires=expires), robust=True)
    return {**outcome.as_dict(), "fanned_out": sent}
