"""The timer handler the worker tests fire, and its registration in the test worker.

The test worker imports this module at start-up (``celery worker --include
tests.timers.worker_handlers``), which registers ``test.worker`` there as an app would in its
``ready()``; the test process registers the same handler only for the test's length.
"""

from __future__ import annotations

import time
from pathlib import Path

from tessera.timers.handlers import TimerHandler, handlers
from tessera.timers.models import Timer
from tessera.timers.tasks import beat


def record_firing(timer: Timer) -> None:
    """One Heartbeat row per timer, counted up per firing: a double firing shows as 2."""
    beat(f"timer-{timer.pk}", owner=timer.owner)


def record_slowly(timer: Timer) -> None:
    """Note the start outside the database (a file), then take a while, then record it."""
    with Path(timer.payload["log"]).open("a") as log:
        log.write(f"{timer.pk}\n")
    time.sleep(timer.payload["sleep"])
    record_firing(timer)


WORKER_HANDLER = TimerHandler(type="test.worker", fire=record_firing)
SLOW_HANDLER = TimerHandler(type="test.worker.slow", fire=record_slowly)


def register() -> None:
    for handler in (WORKER_HANDLER, SLOW_HANDLER):
        if handler.type not in handlers:
            handlers.register(handler)
