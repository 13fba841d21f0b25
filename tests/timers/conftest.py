"""Timers under test: handlers that record what fired, a clock the test moves, calendars.

``recorder`` registers the ``test.record`` purpose for the test: each firing is remembered in
memory *and* written to the database (a Heartbeat row per timer), so a test can tell a timer
that fired twice, or whose writes were rolled back. ``clock`` stops ``timezone.now`` where the
test says, so the tick and ``fire_due`` see the same time as the test.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tessera.timers.handlers import TimerHandler, handlers
from tessera.timers.models import Heartbeat, Timer
from tessera.timers.tasks import beat

on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL: set DATABASE_URL=postgres://…",
)

T0 = dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.UTC)  # a Monday

BERLIN: dict[str, Any] = {
    "x-label": {"en": "Support, Berlin"},
    "timezone": "Europe/Berlin",
    "hours": {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    # Good Friday and Easter Monday 2024, around the switch to summer time (Sunday 31 March)
    "holidays": ["2024-03-29", "2024-04-01", "2024-12-25", "2024-12-26"],
}
SHANGHAI: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "hours": {
        **{day: [["09:00", "12:00"], ["13:00", "18:00"]] for day in ("mon", "tue", "wed", "thu")},
        "fri": [["09:00", "12:00"], ["13:00", "17:00"]],
        "sat": [["10:00", "16:00"]],
    },
    "holidays": [f"2024-10-0{d}" for d in range(1, 8)],
}
NEW_YORK_NIGHTS: dict[str, Any] = {
    "timezone": "America/New_York",
    # open around the clock on weekends, nights on weekdays: DST changes fall inside hours
    "hours": {
        **{day: [["00:00", "06:00"], ["20:00", "24:00"]] for day in ("mon", "tue", "wed", "thu")},
        "fri": [["00:00", "06:00"], ["20:00", "24:00"]],
        "sat": [["00:00", "24:00"]],
        "sun": [["00:00", "24:00"]],
    },
    "holidays": ["2024-07-04"],
}


@dataclass
class Recorder:
    """What fired, in order; ``fail`` makes the handler raise for the owners it names."""

    fired: list[tuple[int, str]] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)
    hook: Callable[[Timer], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, timer: Timer) -> None:
        beat(f"timer-{timer.pk}", owner=timer.owner)  # a write the savepoint may roll back
        if self.hook:
            self.hook(timer)
        if timer.owner in self.fail:
            raise RuntimeError(f"boom for {timer.owner}")
        with self.lock:
            self.fired.append((timer.pk, timer.owner))

    def owners(self) -> list[str]:
        return [owner for _, owner in self.fired]

    @staticmethod
    def beats(pk: int) -> int:
        row = Heartbeat.objects.filter(name=f"timer-{pk}").first()
        return row.beats if row else 0


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    found = Recorder()
    with handlers.register_temporarily(TimerHandler(type="test.record", fire=found)):
        yield found


@pytest.fixture
def clock(monkeypatch) -> Callable[[dt.datetime], dt.datetime]:
    """``clock(moment)`` stops django.utils.timezone.now at ``moment``."""
    from django.utils import timezone

    def set_to(moment: dt.datetime) -> dt.datetime:
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    set_to(T0)
    return set_to


@pytest.fixture(autouse=True)
def fresh_caches():
    """Revision caches live per process, and every test rolls the revision back: clear them."""
    from tessera.definitions import cache
    from tessera.timers import calendars

    for item in (cache._published, calendars._compiled):
        item.clear()
    yield
    for item in (cache._published, calendars._compiled):
        item.clear()
