"""Previews of draft conditions, static snapshots, reading membership."""

from __future__ import annotations

import pytest

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.records import service as records
from tessera.segments import service
from tests.segments.conftest import events, members

HANGZHOU = {"field": "city", "op": "eq", "value": "Hangzhou"}


def test_preview_counts_and_samples_a_draft_condition(customer, order, clock):
    for i in range(12):
        customer(f"c{i}", city="Hangzhou" if i % 2 else "Ningbo", points=i * 10)
    big = customer("big", city="Hangzhou")
    order(big, 500, days_ago=3)
    result = service.preview("customer", HANGZHOU, sample=3, clock=clock)
    assert result.count == 7
    assert [r.data["name"] for r in result.sample] == ["big", "c11", "c9"]
    spenders = {"metric": "orders.sum.total", "window": "P30D", "op": "gte", "value": 100}
    assert service.preview("customer", spenders, clock=clock).count == 1
    assert (
        service.preview(
            "customer", {"all": [HANGZHOU, {"field": "points", "op": "lt", "value": 50}]}, sample=0
        ).count
        == 2
    )


def test_preview_writes_nothing(customer, clock):
    customer("Li", city="Hangzhou")
    service.preview("customer", HANGZHOU, clock=clock)
    from tessera.records.models import Event
    from tessera.segments.models import Membership

    assert not Membership.objects.exists() and not Event.objects.exists()


@pytest.mark.parametrize(
    ("condition", "path", "code"),
    [
        ({"field": "shoe", "op": "eq", "value": 1}, "$.condition.field", "unknown_field"),
        (
            {"any": [HANGZHOU, {"field": "vip", "op": "gt", "value": True}]},
            "$.condition.any[1].op",
            "wrong_type",
        ),
        (
            {"metric": "orders.count", "window": "ninety days", "op": "gte", "value": 3},
            "$.condition.window",
            "invalid",
        ),
        (
            {"event": "cart_abandoned", "count": {"op": "most", "value": 1}},
            "$.condition.count",
            "invalid",
        ),
        ("city = Hangzhou", "$.condition", "type"),
    ],
)
def test_preview_of_a_bad_condition_names_the_place(store, condition, path, code):
    with pytest.raises(ValidationFailed) as caught:
        service.preview("customer", condition)
    assert (path, code) in {(e.path, e.code) for e in caught.value.errors}


def test_preview_refuses_a_reference_back_to_the_segment_being_edited(publish_segment):
    publish_segment("hangzhou", HANGZHOU)
    publish_segment(
        "hz-vip", {"all": [{"segment": "hangzhou"}, {"field": "vip", "op": "eq", "value": True}]}
    )
    with pytest.raises(ValidationFailed) as caught:
        service.preview("customer", {"not": {"segment": "hz-vip"}}, segment_key="hangzhou")
    assert caught.value.errors[0].code == "cycle"
    assert service.preview("customer", {"segment": "hz-vip"}).count == 0


def test_preview_of_an_unknown_object_or_a_bad_sample(store):
    with pytest.raises(ValidationFailed) as caught:
        service.preview("lead", HANGZHOU)
    assert caught.value.errors[0].code == "unknown_object"
    with pytest.raises(ValidationFailed) as caught:
        service.preview("customer", HANGZHOU, sample=1000)
    assert caught.value.errors[0].path == "$.sample"


def test_a_static_segment_is_a_snapshot_refreshed_on_demand(
    publish_segment, customer, committed, frozen
):
    li = customer("Li", city="Hangzhou")
    publish_segment("hz-snapshot", HANGZHOU, mode="static")
    assert members("hz-snapshot") == {"Li"}
    with committed():
        customer("Wang", city="Hangzhou")
        records.update("customer", li.pk, {"city": "Ningbo"}, version=1)
    assert members("hz-snapshot") == {"Li"}  # writes do not move a snapshot
    delta = service.refresh_static("hz-snapshot")
    assert (len(delta.entered), len(delta.exited)) == (1, 1)
    assert members("hz-snapshot") == {"Wang"}
    assert events(li, "segment_exited") == [{"segment": "hz-snapshot"}]
    with pytest.raises(ValueError, match="dynamic, not static"):
        publish_segment("hz", HANGZHOU)
        service.refresh_static("hz")


def test_membership_reads(publish_segment, customer):
    li = customer("Li", city="Hangzhou", vip=True)
    customer("Wang", city="Hangzhou")
    publish_segment("hangzhou", HANGZHOU)
    publish_segment("vip", {"field": "vip", "op": "eq", "value": True})
    assert service.count("hangzhou") == 2
    assert service.segments_of(li.pk) == ["hangzhou", "vip"]
    assert service.is_member("vip", li.pk)
    with pytest.raises(LookupError):
        service.count("ghost")
    definitions.archive("segment", "vip")
    with pytest.raises(LookupError):
        service.members("vip")


def test_a_reference_to_a_static_segment_reads_its_snapshot(
    publish_segment, customer, committed, clock
):
    from tessera.conditions.evaluate import evaluate
    from tessera.conditions.tree import parse

    li = customer("Li", city="Hangzhou", vip=True)
    publish_segment("hz-snapshot", HANGZHOU, mode="static")
    publish_segment(
        "vip-in-snapshot",
        {"all": [{"segment": "hz-snapshot"}, {"field": "vip", "op": "eq", "value": True}]},
    )
    assert members("vip-in-snapshot") == {"Li"}
    with committed():
        li = records.update("customer", li.pk, {"city": "Ningbo"}, version=1)
    assert members("vip-in-snapshot") == {"Li"}  # still in the snapshot, whatever the city
    reference = {"segment": "hz-snapshot"}
    assert evaluate(parse(reference, "customer"), li, clock=clock)
    assert service.preview("customer", reference, clock=clock).count == 1
    with committed():
        service.refresh_static("hz-snapshot")
    assert members("vip-in-snapshot") == set()
    assert not evaluate(parse(reference, "customer"), li, clock=clock)
    assert service.preview("customer", reference, clock=clock).count == 0
