"""What a due timer does: one handler per purpose, kept in a registry.

Flows register ``flow.wake`` (and their SLA purposes) in their AppConfig.ready; a timer's
``purpose`` is the ``type`` of the handler that fires it::

    handlers.register(TimerHandler(type="flow.wake", fire=wake_run))

``fire(timer)`` runs in a transaction with the timer's row locked, inside a savepoint of its
own: if it raises, what it wrote is rolled back and the timer is retried later with backoff.
A handler may find that its owner moved on meanwhile (``cancel`` skips a timer that is being
fired, rather than wait for it): it checks the payload against the current state and does
nothing when the timer is stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tessera.plugins import Registry

if TYPE_CHECKING:
    from .models import Timer


@dataclass
class TimerHandler:
    """Fires the timers of one purpose (``type``, e.g. ``flow.wake``)."""

    type: str
    fire: Callable[[Timer], None]
    label: str = ""


handlers: Registry[TimerHandler] = Registry("timer handler")
