"""The timer handler the worker tests fire, and its registration in the test worker.

The test worker imports this module at start-up (``celery worker --include
tests.timers.worker_handlers``), which registers ``test.worker`` there as an app would in its
``ready()``; the test process registers the same handler only for the test's length.
"""

from __future__ import annotations

from tessera.timers.handlers import TimerHandler, handlers
from tessera.timers.models import Timer
from tessera.timers.tasks import beat


def record_firing(timer: Timer) -> None:
    """One Heartbeat row per timer, counted up per firing: a double firing shows as 2."""
    beat(f"timer-{timer.pk}", owner=timer.owner)


WORKER_HANDLER = TimerHandler(type="test.worker", fire=record_firing)


def register() -> None:
    if WORKER_HANDLER.type not in handlers:
        handlers.register(WORKER_HANDLER)
