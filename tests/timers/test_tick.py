"""The tick's timer step in-process: it is registered, fires a batch, and shares a backlog.

Celery runs eagerly here (the fan-out tasks run where they are sent); test_worker.py does the
same through a real worker and broker.
"""

from __future__ import annotations

import pytest
from django.db import connection

from tessera.timers import tasks
from tessera.timers.models import Timer
from tessera.timers.service import schedule
from tests.timers.conftest import T0


@pytest.fixture
def eager():
    from tessera.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


def test_the_timer_step_hangs_on_the_tick():
    assert tasks.due_timers in tasks.tick_steps
    assert tasks.fire_due_task.name == "tessera.timers.fire_due"
    assert tasks.fire_due_task.acks_late is True


@pytest.mark.django_db(transaction=True)
def test_the_tick_fires_due_timers(recorder, clock):
    for i in range(3):
        schedule("test.record", T0, owner=f"run:{i}")
    schedule("test.record", T0.replace(hour=10), owner="later")

    result = tasks.tick()

    assert result["due_timers"] == {
        "claimed": 3,
        "fired": 3,
        "retrying": 0,
        "failed": 0,
        "fanned_out": 0,
    }
    assert recorder.owners() == ["run:0", "run:1", "run:2"]
    assert list(Timer.objects.values_list("owner", flat=True)) == ["later"]


@pytest.mark.django_db(transaction=True)
def test_a_backlog_is_shared_out_to_fire_due_tasks(recorder, clock, settings, eager, monkeypatch):
    """PostgreSQL: one batch in the tick, then one task per further batch (at most fan_out).
    SQLite: no fan-out (one writer); the tick itself keeps firing small batches."""
    settings.TESSERA_TIMERS = {"batch": 10, "sqlite_batch": 10, "fan_out": 3}
    for i in range(45):
        schedule("test.record", T0, owner=f"run:{i:02d}")
    sent = []
    real = tasks.fire_due_task.apply_async

    def apply_async(*args, **kwargs):
        sent.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks.fire_due_task, "apply_async", apply_async)

    step = tasks.due_timers()

    assert not Timer.objects.exists()
    assert recorder.owners() == [f"run:{i:02d}" for i in range(45)]
    if connection.vendor == "sqlite":
        assert step["fanned_out"] == 0 and step["claimed"] == 45 and sent == []
    else:
        # 35 more were due after the first batch: 4 batches, capped at 3 tasks, each of
        # which keeps firing batches while they come back full
        assert step["fanned_out"] == 3 and step["claimed"] == 10
        assert len(sent) == 3
        assert all(0 < kwargs["expires"] <= 60 and "countdown" not in kwargs for kwargs in sent)
