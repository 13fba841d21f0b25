"""Dynamic membership stays fresh: writes and events re-check only what they can change."""

from __future__ import annotations

import datetime as dt

import pytest

from tessera.records import service as records
from tessera.records.observers import Write
from tessera.segments import freshness, membership, tasks
from tessera.segments.models import SegmentState
from tests.segments.conftest import NOW, events, members

HANGZHOU = {"field": "city", "op": "eq", "value": "Hangzhou"}
REPEAT = {"metric": "orders.count", "window": "P90D", "op": "gte", "value": 2}


@pytest.fixture
def recorded(monkeypatch):
    """Every (segment, record ids) a re-check was asked for."""
    calls = []
    original = membership.recheck

    def spy(key, ids, **kwargs):
        calls.append((key, sorted(ids)))
        return original(key, ids, **kwargs)

    monkeypatch.setattr(membership, "recheck", spy)
    return calls


def test_a_field_change_moves_a_record_in_and_out(publish_segment, customer, committed, frozen):
    publish_segment("hangzhou", HANGZHOU)
    with committed():
        li = customer("Li", city="Hangzhou")
    assert members("hangzhou") == {"Li"}
    with committed():
        records.update("customer", li.pk, {"city": "Ningbo"}, version=1)
    assert members("hangzhou") == set()
    assert (
        events(li, "segment_entered") == events(li, "segment_exited") == [{"segment": "hangzhou"}]
    )
    assert SegmentState.objects.get(segment_key="hangzhou").members == 0


def test_only_segments_that_read_a_changed_field_are_rechecked(
    publish_segment, customer, committed, recorded
):
    publish_segment("hangzhou", HANGZHOU)
    publish_segment("rich", {"field": "points", "op": "gte", "value": 100})
    publish_segment("repeat", REPEAT)
    li = customer("Li", city="Hangzhou")
    with committed():
        records.update("customer", li.pk, {"points": 150}, version=1)
    assert recorded == [("rich", [li.pk])]
    assert members("rich") == {"Li"}


def test_a_new_record_is_checked_against_every_segment_of_its_object(
    publish_segment, customer, committed, recorded
):
    publish_segment("no-orders", {"metric": "orders.count", "op": "eq", "value": 0})
    publish_segment("hangzhou", HANGZHOU)
    with committed():
        li = customer("Li")
    assert sorted(recorded) == [("hangzhou", [li.pk]), ("no-orders", [li.pk])]
    assert members("no-orders") == {"Li"}


def test_an_order_rechecks_its_customer_for_segments_that_aggregate_orders(
    publish_segment, customer, order, committed, recorded, frozen
):
    publish_segment("repeat", REPEAT)
    publish_segment("hangzhou", HANGZHOU)
    li, wang = customer("Li"), customer("Wang")
    with committed():
        order(li, 50, days_ago=10)
    assert members("repeat") == set()
    with committed():
        second = order(li, 80, days_ago=3)
    assert members("repeat") == {"Li"}
    assert {key for key, _ in recorded} == {"repeat"}  # "hangzhou" reads no orders
    recorded.clear()
    # moving the order to another customer re-checks both: Li leaves, Wang does not enter
    with committed():
        records.update("order", second.pk, {"customer": wang.pk}, version=1)
    assert recorded == [("repeat", sorted([li.pk, wang.pk]))]
    assert members("repeat") == set()
    assert events(li, "segment_exited") == [{"segment": "repeat"}]


def test_an_order_field_the_segment_does_not_read_rechecks_nothing(
    publish_segment, customer, order, committed, recorded
):
    publish_segment("repeat", REPEAT)
    li = customer("Li")
    first = order(li, 50, days_ago=10)
    with committed():
        records.update("order", first.pk, {"category": "toys"}, version=1)
    assert recorded == []
    publish_segment(
        "toy-buyers",
        {
            "metric": "orders.count",
            "where": {"field": "category", "op": "eq", "value": "toys"},
            "op": "gte",
            "value": 1,
        },
    )
    with committed():
        records.update("order", first.pk, {"category": "food"}, version=2)
    assert recorded == [("toy-buyers", [li.pk])]


def test_deleting_an_order_rechecks_its_customer(
    publish_segment, customer, order, committed, frozen
):
    publish_segment("buyers", {"metric": "orders.count", "op": "gte", "value": 1})
    li = customer("Li")
    with committed():
        first = order(li, 50, days_ago=1)
    assert members("buyers") == {"Li"}
    with committed():
        records.delete("order", first.pk, version=1)
    assert members("buyers") == set()


def test_an_event_rechecks_its_subject(publish_segment, customer, committed, frozen, recorded):
    publish_segment("abandoners", {"event": "cart_abandoned", "within": "P7D"})
    publish_segment("hangzhou", HANGZHOU)
    li = customer("Li", city="Hangzhou")
    with committed():
        records.add_event(li, "viewed_product")
    assert recorded == []
    with committed():
        records.add_event(li, "cart_abandoned", {"cart": 7})
    assert recorded == [("abandoners", [li.pk])]
    assert members("abandoners") == {"Li"}


def test_a_change_to_a_related_record_rechecks_the_records_pointing_at_it(
    publish_segment, customer, committed
):
    publish_segment(
        "referred-from-hangzhou", {"field": "referrer.city", "op": "eq", "value": "Hangzhou"}
    )
    ana = customer("Ana", city="Ningbo")
    customer("Li", referrer=ana.pk)
    customer("Wang", referrer=ana.pk)
    customer("Zhou")
    with committed():
        records.update("customer", ana.pk, {"city": "Hangzhou"}, version=1)
    assert members("referred-from-hangzhou") == {"Li", "Wang"}


def test_segment_entries_can_drive_other_segments(publish_segment, customer, committed, frozen):
    publish_segment("hangzhou", HANGZHOU)
    publish_segment("welcomed", {"event": "segment_entered", "where": {"segment": "hangzhou"}})
    with committed():
        customer("Li", city="Hangzhou")
    assert members("welcomed") == {"Li"}


def test_the_index_says_what_each_write_can_affect(publish_segment, customer):
    publish_segment("hangzhou", HANGZHOU)
    publish_segment("repeat", REPEAT)
    publish_segment("referred", {"field": "referrer.city", "op": "eq", "value": "Hangzhou"})
    targets, lookups = freshness.affected_by_writes(
        "customer", [Write(7, "update", {"city": "A"}, {"city": "B"})]
    )
    assert targets == {"segment:hangzhou": {7}}
    assert lookups == [("segment:referred", "referrer", [7])]
    targets, lookups = freshness.affected_by_writes(
        "order", [Write(9, "update", {"customer": 1, "total": 5}, {"customer": 2, "total": 5})]
    )
    assert (targets, lookups) == ({"segment:repeat": {1, 2}}, [])
    assert freshness.affected_by_writes(
        "order", [Write(9, "update", {"status": "paid"}, {"status": "shipped"})]
    ) == ({}, [])


def test_time_based_segments_are_refreshed_by_the_tick_at_most_every_interval(
    publish_segment, customer, order, monkeypatch, eager, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    now = [NOW]
    monkeypatch.setattr(timezone, "now", lambda: now[0])
    publish_segment("recent", {"metric": "orders.last", "op": "within", "value": {"last": "P30D"}})
    publish_segment("hangzhou", HANGZHOU)
    li = customer("Li")
    order(li, 50, days_ago=20)
    membership.refresh("recent")
    assert members("recent") == {"Li"}

    now[0] = NOW + dt.timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.time_step() == []  # refreshed 5 minutes ago; "hangzhou" is not timed

    now[0] = NOW + dt.timedelta(days=11)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.time_step() == ["recent"]
    assert members("recent") == set()
    assert events(li, "segment_exited") == [{"segment": "recent"}]
    state = SegmentState.objects.get(segment_key="recent")
    assert (state.refreshed_at, state.queued_at) == (now[0], None)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.time_step() == []


def test_a_segment_can_ask_for_its_own_refresh_interval(publish_segment, monkeypatch):
    from django.utils import timezone

    now = [NOW]
    monkeypatch.setattr(timezone, "now", lambda: now[0])
    publish_segment(
        "birthdays",
        {"field": "birthday", "op": "anniversary_within", "value": {"next": "P7D"}},
        refresh="P1D",
    )
    now[0] = NOW + dt.timedelta(hours=2)
    assert tasks.time_step() == []
    now[0] = NOW + dt.timedelta(days=1)
    assert tasks.time_step() == ["birthdays"]
    assert SegmentState.objects.get(segment_key="birthdays").queued_at == now[0]
    assert tasks.time_step() == []  # queued, not sent twice
