"""Broadcasts: a segment at once, then every week; each occurrence enters everyone once."""

from __future__ import annotations

import datetime as dt

import pytest

from tessera.flows.campaigns import broadcasts
from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.broadcasts import occurrence_key
from tessera.flows.campaigns.models import Broadcast, BroadcastBatch, Entry
from tessera.records import service as records

from .conftest import START, one_send

pytestmark = pytest.mark.django_db


def weekly(**trigger) -> dict:
    campaign = one_send("unused")
    campaign["trigger"] = {"type": "broadcast", "segment": "dormant", **trigger}
    return campaign


@pytest.fixture
def audience(customer, clock):
    people = [customer(f"D{i}") for i in range(5)]
    for person in people:
        placed = (clock.now - dt.timedelta(days=100)).isoformat()
        records.create("order", {"customer": person.pk, "total": 5, "placed_at": placed})
    customer("Never ordered")  # not in the segment
    return people


def test_a_weekly_broadcast(publish, audience, clock, committed, smtp_settings):
    publish("weekly", weekly(every="P7D"))
    with committed():
        assert campaigns.run_scheduled("weekly") == 5
    with committed():
        assert campaigns.run_scheduled("weekly") == 0  # the same occurrence: handed out once
    clock.tick()
    assert len(smtp_settings.received) == 5
    assert set(Entry.objects.values_list("key", flat=True)) == {occurrence_key(START)}

    clock.advance(days=7)
    with committed():
        assert campaigns.run_scheduled("weekly") == 5
    clock.tick()
    assert len(smtp_settings.received) == 10
    assert Entry.objects.count() == 10
    assert Broadcast.objects.filter(dispatched_at__isnull=False).count() == 2


def test_a_lost_hand_out_is_sent_again_and_a_past_time_is_not_sent(
    publish, audience, clock, committed
):
    from tessera.flows.campaigns import tasks

    publish("later", weekly(at=(START + dt.timedelta(hours=1)).isoformat()))
    assert campaigns.run_scheduled("later") == 0  # not yet
    clock.advance(hours=1)
    assert campaigns.run_scheduled("later") == 5  # not committed: the tasks never left
    assert Entry.objects.count() == 0
    (batch,) = BroadcastBatch.objects.all()
    assert batch.dispatched_at is None and batch.done_at is None
    assert campaigns.run_scheduled("later") == 0  # the occurrence is written: not again
    with committed():
        assert tasks.tick_step()["batches"] == 0  # too soon to think it lost
    clock.advance(minutes=3)
    with committed():
        assert tasks.tick_step()["batches"] == 1
    assert Entry.objects.count() == 5
    batch.refresh_from_db()
    assert batch.done_at == clock.now
    assert broadcasts.enter_batch(batch.pk) == 0  # delivered twice: done once

    publish("missed", weekly(at=(START - dt.timedelta(days=1)).isoformat()))
    assert campaigns.run_scheduled("missed") == 0


@pytest.mark.django_db(transaction=True)
def test_two_batches_of_one_broadcast_are_entered_at_the_same_time(
    publish, audience, settings, monkeypatch
):
    """Two workers entering two batches must not wait for each other (a lock over the join
    once took the broadcast's row too, and batches went one at a time)."""
    import threading

    from django.db import close_old_connections, connection, transaction

    from tessera.flows.campaigns import entering, tasks

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    settings.TESSERA_CAMPAIGNS = {"batch": 2}
    monkeypatch.setattr(tasks.enter_broadcast_batch, "delay", lambda *args: None)
    publish("weekly", weekly())
    assert campaigns.run_scheduled("weekly") == 5
    first, second, _ = BroadcastBatch.objects.order_by("pk")
    inside, release = threading.Event(), threading.Event()
    real = entering.enter

    def held(*args, **kwargs):
        result = real(*args, **kwargs)
        if threading.current_thread() is not threading.main_thread():
            inside.set()  # the first batch's transaction stays open with its locks
            release.wait(30)
        return result

    def work() -> None:
        try:
            broadcasts.enter_batch(first.pk)
        finally:
            close_old_connections()

    monkeypatch.setattr(entering, "enter", held)
    thread = threading.Thread(target=work)
    thread.start()
    try:
        assert inside.wait(30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
            assert broadcasts.enter_batch(second.pk) == 2  # a lock wait would time out
    finally:
        release.set()
        thread.join(30)
    assert Entry.objects.count() == 4
