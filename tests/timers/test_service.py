"""Scheduling, cancelling and firing timers in one process (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from tessera.definitions.errors import ValidationFailed
from tessera.timers import service as timers
from tessera.timers.handlers import TimerHandler, handlers
from tessera.timers.models import Heartbeat, Timer, TimerStatus
from tests.timers.conftest import T0

MIN = dt.timedelta(minutes=1)


def test_schedule_stores_a_pending_timer_in_the_callers_transaction(db, recorder):
    timer = timers.schedule("test.record", T0 + MIN, owner="run:1", payload={"visit": 2})
    assert (timer.status, timer.attempts, timer.payload) == ("pending", 0, {"visit": 2})
    assert Timer.objects.get().owner == "run:1"

    with pytest.raises(RuntimeError), transaction.atomic():
        timers.schedule("test.record", T0, owner="run:2")
        raise RuntimeError("the caller rolls back")
    assert list(Timer.objects.values_list("owner", flat=True)) == ["run:1"]


def test_schedule_refuses_bad_input_by_field(db, recorder):
    cases = [
        (("nope.unknown", T0), {"owner": "run:1"}, "$.purpose", "unknown_purpose"),
        (("Not A Slug", T0), {"owner": "run:1"}, "$.purpose", "invalid"),
        (("test.record", dt.datetime(2024, 5, 6, 9)), {"owner": "run:1"}, "$.due_at", "naive"),
        (("test.record", T0), {"owner": ""}, "$.owner", "invalid"),
        (("test.record", T0), {"owner": "run:1", "payload": [1]}, "$.payload", "type"),
        (("test.record", T0), {"owner": "run:1", "payload": {"at": T0}}, "$.payload", "not_json"),
    ]
    for args, kwargs, path, code in cases:
        with pytest.raises(ValidationFailed) as refused:
            timers.schedule(*args, **kwargs)
        assert [(e.path, e.code) for e in refused.value.errors] == [(path, code)]
    assert not Timer.objects.exists()


def test_timers_fire_earliest_first_and_only_when_due(db, recorder):
    for owner, minutes in [("c", 3), ("a", 1), ("b", 2), ("b2", 2), ("late", 60)]:
        timers.schedule("test.record", T0 + minutes * MIN, owner=owner)

    assert timers.fire_due(now=T0) == 0
    assert timers.fire_due(now=T0 + 2 * MIN, limit=2) == 2
    assert recorder.owners() == ["a", "b"]  # equal due times: in the order scheduled
    assert timers.fire_due(now=T0 + 10 * MIN) == 2
    assert recorder.owners() == ["a", "b", "b2", "c"]
    # fired timers are gone; the run's history is the record of what happened
    assert list(Timer.objects.values_list("owner", flat=True)) == ["late"]
    assert all(recorder.beats(pk) == 1 for pk, _ in recorder.fired)


def test_cancel_removes_an_owners_timers(db, recorder):
    other = TimerHandler(type="test.other", fire=recorder)
    with handlers.register_temporarily(other):
        for owner, purpose in [
            ("run:1", "test.record"),
            ("run:1", "test.other"),
            ("run:2", "test.record"),
        ]:
            timers.schedule(purpose, T0, owner=owner)

    assert timers.cancel("run:1", purpose="test.other") == 1
    assert timers.cancel("run:1") == 1
    assert timers.cancel("run:1") == 0
    assert timers.fire_due(now=T0) == 1
    assert recorder.owners() == ["run:2"]


def test_a_failing_timer_backs_off_then_fails_and_a_person_retries_it(db, recorder, settings):
    settings.TESSERA_TIMERS = {"max_attempts": 3, "backoff_seconds": 30}
    recorder.fail.add("run:bad")
    bad = timers.schedule("test.record", T0, owner="run:bad")
    good = timers.schedule("test.record", T0, owner="run:good")

    assert timers.fire_due(now=T0) == 1  # the good one fired in the same batch
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == ("pending", 1)
    assert bad.last_error == "RuntimeError: boom for run:bad"
    assert bad.due_at == T0 + dt.timedelta(seconds=30)
    # the failing handler's own write was rolled back with its savepoint; the other kept
    assert (recorder.beats(bad.pk), recorder.beats(good.pk)) == (0, 1)

    assert timers.fire_due(now=T0 + dt.timedelta(seconds=29)) == 0
    bad.refresh_from_db()
    assert bad.attempts == 1  # not due yet: not touched
    assert timers.fire_due(now=T0 + dt.timedelta(seconds=30)) == 0
    bad.refresh_from_db()
    assert (bad.attempts, bad.due_at) == (2, T0 + dt.timedelta(seconds=90))  # 30 s, then 60 s
    assert timers.fire_due(now=T0 + dt.timedelta(seconds=90)) == 0
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == ("failed", 3)

    # failed is final: no amount of ticking fires it again
    assert timers.run_due(now=T0 + dt.timedelta(days=365)).claimed == 0

    recorder.fail.clear()
    timers.retry(bad.pk)
    bad.refresh_from_db()
    assert (bad.status, bad.attempts, bad.last_error) == ("pending", 0, "")
    assert timers.fire_due() == 1  # due at the clock's "now"
    assert not Timer.objects.exists()
    assert recorder.owners() == ["run:good", "run:bad"]


def test_retry_leaves_a_pending_timer_and_says_when_there_is_none(db, recorder):
    timer = timers.schedule("test.record", T0 + MIN, owner="run:1")
    timers.retry(timer.pk)
    timer.refresh_from_db()
    assert (timer.status, timer.due_at) == ("pending", T0 + MIN)
    with pytest.raises(Timer.DoesNotExist):
        timers.retry(timer.pk + 1000)


def test_a_timer_whose_purpose_nobody_handles_fails_with_a_clear_error(db, settings):
    settings.TESSERA_TIMERS = {"max_attempts": 2, "backoff_seconds": 1}
    gone = TimerHandler(type="test.uninstalled", fire=lambda timer: None)
    with handlers.register_temporarily(gone):
        timer = timers.schedule("test.uninstalled", T0, owner="run:9")

    assert timers.fire_due(now=T0) == 0
    assert timers.fire_due(now=T0 + MIN) == 0
    timer.refresh_from_db()
    assert timer.status == TimerStatus.FAILED
    assert timer.attempts == 2
    assert timer.last_error.startswith(
        "no timer handler for purpose 'test.uninstalled': no installed app or plugin registers it"
    )


def test_a_handler_writes_in_the_same_transaction_as_the_delete(db, recorder):
    """The handler sees its own timer locked and present; its writes commit with the delete."""
    seen = []

    def hook(timer):
        seen.append(Timer.objects.filter(pk=timer.pk, status="pending").exists())
        assert connection.in_atomic_block

    recorder.hook = hook
    timer = timers.schedule("test.record", T0, owner="run:1")
    assert timers.fire_due(now=T0) == 1
    assert seen == [True]
    assert Heartbeat.objects.get(name=f"timer-{timer.pk}").detail == {"owner": "run:1"}


def test_a_handler_may_cancel_and_reschedule_its_owner(db, recorder):
    def hook(timer):
        assert timers.cancel(timer.owner) >= 1  # its own row included
        if timer.payload.get("again"):
            timers.schedule("test.record", T0 + MIN, owner=timer.owner)

    recorder.hook = hook
    timers.schedule("test.record", T0, owner="run:1", payload={"again": True})
    timers.schedule("test.record", T0 + 5 * MIN, owner="run:1")  # cancelled by the first
    assert timers.fire_due(now=T0) == 1
    assert list(Timer.objects.values_list("owner", "due_at")) == [("run:1", T0 + MIN)]


@pytest.mark.django_db(transaction=True)
def test_claiming_needs_a_transaction():
    """Outside one the locks would end with the SELECT: nothing would stop a second claimer."""
    with pytest.raises(TransactionManagementError):
        timers.claim(limit=1)
    with transaction.atomic():
        assert timers.claim(limit=1) == []


def test_due_count_stops_at_its_cap(db, recorder):
    for minutes in range(5):
        timers.schedule("test.record", T0 + minutes * MIN, owner=f"run:{minutes}")
    assert timers.due_count(cap=100, now=T0 + 2 * MIN) == 3
    assert timers.due_count(cap=2, now=T0 + 10 * MIN) == 2


def test_sqlite_fires_in_small_transactions(db, recorder, settings):
    settings.TESSERA_TIMERS = {"sqlite_batch": 2, "batch": 3}
    for i in range(7):
        timers.schedule("test.record", T0, owner=f"run:{i}")
    outcome = timers.run_due(limit=5, now=T0)
    assert (outcome.claimed, outcome.fired) == (5, 5)
    assert timers.batch_size() == (2 if connection.vendor == "sqlite" else 3)


def test_the_due_scan_is_a_range_scan_of_the_partial_index(db, recorder):
    """EXPLAIN of the claiming query names `timer_due` on both databases."""
    for i in range(50):
        timers.schedule("test.record", T0 + i * MIN, owner=f"run:{i}")
    query = (
        Timer.objects.filter(status=TimerStatus.PENDING, due_at__lte=T0)
        .order_by("due_at", "id")
        .values("id")[:10]
    )
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # 50 rows: a seq scan is cheaper
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "timer_due" in plan, plan
    assert "sort" not in plan.lower(), plan  # the index gives the order
