"""Claimers running at the same time, each on its own database connection (real threads).

PostgreSQL: two workers hold claimed batches at the same moment and split the due set with
SKIP LOCKED; no timer fires twice. SQLite: the two take turns on the write lock, with the
same outcome. A cancel never waits for a timer that is being fired.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection

from tessera.timers import service as timers
from tessera.timers.models import Heartbeat, Timer
from tests.timers.conftest import T0, on_postgres

WAIT = 20


def run_in_threads(count: int, work) -> list[Any]:
    """Run ``work(n)`` in ``count`` threads, each closing its own connection; their errors."""
    errors: list[Any] = []

    def body(n: int) -> None:
        try:
            work(n)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a claimer hung"
    return errors


def schedule_many(count: int) -> list[int]:
    return [
        timers.schedule("test.record", T0, owner=f"run:{i}", payload={"i": i}).pk
        for i in range(count)
    ]


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_claimers_on_postgres_split_the_due_set_and_never_fire_one_twice(recorder):
    ids = schedule_many(100)
    both_hold_a_batch = threading.Barrier(2, timeout=WAIT)
    claimers: dict[int, str] = {}
    first_in_thread = threading.local()

    def hook(timer):
        claimers[timer.pk] = threading.current_thread().name
        if not getattr(first_in_thread, "seen", False):
            first_in_thread.seen = True
            # Both threads now hold a claimed, locked batch: had the second one blocked on the
            # first's locks (no SKIP LOCKED), this barrier would break.
            both_hold_a_batch.wait()

    recorder.hook = hook

    def work(n: int) -> None:
        while timers.run_due(limit=10, now=T0).claimed:
            pass

    assert run_in_threads(2, work) == []
    fired = Counter(pk for pk, _ in recorder.fired)
    assert sorted(fired) == ids and set(fired.values()) == {1}
    assert len(set(claimers.values())) == 2  # both threads did part of the work
    beats = dict(Heartbeat.objects.filter(name__startswith="timer-").values_list("name", "beats"))
    assert beats == {f"timer-{pk}": 1 for pk in ids}
    assert not Timer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_claimers_on_any_database_fire_each_timer_once(recorder, settings):
    """On SQLite the claim takes the write lock first (BEGIN IMMEDIATE): they take turns."""
    settings.TESSERA_TIMERS = {"sqlite_batch": 7, "batch": 7}
    ids = schedule_many(120)

    def work(n: int) -> None:
        while timers.run_due(limit=7).claimed:
            pass

    assert run_in_threads(2, work) == []
    fired = Counter(pk for pk, _ in recorder.fired)
    assert sorted(fired) == ids and set(fired.values()) == {1}
    assert Heartbeat.objects.filter(name__startswith="timer-", beats=1).count() == 120
    assert not Timer.objects.exists()


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cancel_skips_a_timer_being_fired_instead_of_waiting_for_it(recorder):
    """A transition cancelling its run's timers must not wait on a worker firing one of them
    (that worker may be waiting for the run: a deadlock). The firing handler sees the run
    moved on and does nothing; the run's other timers are cancelled."""
    firing = timers.schedule("test.record", T0, owner="run:1")
    later = timers.schedule("test.record", T0.replace(year=2030), owner="run:1")
    entered, cancelled = threading.Event(), threading.Event()
    waited: list[bool] = []

    def hook(timer):
        entered.set()
        waited.append(cancelled.wait(WAIT))

    recorder.hook = hook

    def work(n: int) -> None:
        if n == 0:  # the worker firing `firing`
            assert timers.fire_due(now=T0) == 1
        else:  # a transition on run 1, meanwhile
            assert entered.wait(WAIT)
            assert timers.cancel("run:1") == 1  # `later` only; returns without waiting
            cancelled.set()

    assert run_in_threads(2, work) == []
    assert waited == [True]  # the cancel returned while the handler still held its lock
    assert not Timer.objects.filter(pk__in=[firing.pk, later.pk]).exists()
