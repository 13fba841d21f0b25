"""The segment kind: checks with JSON paths, references and cycles, membership at publish."""

from __future__ import annotations

import pytest

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.segments import service
from tessera.segments.models import Membership, SegmentState
from tests.segments.conftest import events, members

HANGZHOU = {"field": "city", "op": "eq", "value": "Hangzhou"}


def errors_of(body, key="seg"):
    with pytest.raises(ValidationFailed) as caught:
        definitions.save_draft("segment", key, body)
    return {(e.path, e.code) for e in caught.value.errors}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"object": "nothing", "condition": HANGZHOU}, ("$.object", "unknown_object")),
        ({"object": "customer"}, ("$", "required")),
        ({"object": "customer", "condition": HANGZHOU, "mode": "sometimes"}, ("$.mode", "enum")),
        ({"object": "customer", "condition": HANGZHOU, "colour": 1}, ("$", "additionalProperties")),
        (
            {"object": "customer", "condition": HANGZHOU, "refresh": "PT10S"},
            ("$.refresh", "invalid"),
        ),
        (
            {"object": "customer", "condition": HANGZHOU, "refresh": "Pxyz"},
            ("$.refresh", "invalid"),
        ),
        (
            {"object": "customer", "condition": {"field": "shoe_size", "op": "eq", "value": 1}},
            ("$.condition.field", "unknown_field"),
        ),
        (
            {
                "object": "customer",
                "condition": {
                    "all": [HANGZHOU, {"field": "points", "op": "contains", "value": "x"}]
                },
            },
            ("$.condition.all[1].op", "wrong_type"),
        ),
        (
            {
                "object": "customer",
                "condition": {"any": [{"field": "points", "op": "gte", "value": "many"}]},
            },
            ("$.condition.any[0].value", "invalid_value"),
        ),
        (
            {
                "object": "customer",
                "condition": {"metric": "orders.count", "window": "P9X", "op": "gte", "value": 1},
            },
            ("$.condition.window", "invalid"),
        ),
        (
            {
                "object": "customer",
                "condition": {"metric": "wishes.count", "op": "gte", "value": 1},
            },
            ("$.condition.metric", "unknown_relation"),
        ),
        (
            {"object": "customer", "condition": {"not": {"segment": "ghost"}}},
            ("$.condition.not.segment", "unknown_segment"),
        ),
    ],
)
def test_malformed_segments_get_precise_errors(store, body, expected):
    assert expected in errors_of(body)


def test_a_reference_to_a_segment_of_another_object_is_refused(publish_segment):
    definitions.save_and_publish(
        "segment",
        "big-orders",
        {"object": "order", "condition": {"field": "total", "op": "gte", "value": 100}},
    )
    assert ("$.condition.segment", "wrong_object") in errors_of(
        {"object": "customer", "condition": {"segment": "big-orders"}}
    )


def test_cycles_are_refused_with_the_chain(publish_segment):
    publish_segment("a", HANGZHOU)
    publish_segment("b", {"all": [{"segment": "a"}, {"field": "vip", "op": "eq", "value": True}]})
    with pytest.raises(ValidationFailed) as caught:
        definitions.save_draft(
            "segment", "a", {"object": "customer", "condition": {"not": {"segment": "b"}}}
        )
    (error,) = caught.value.errors
    assert (error.path, error.code) == ("$.condition.not.segment.all[0].segment", "cycle")
    assert "a → b → a" in error.message


def test_a_segment_cannot_name_itself(publish_segment):
    publish_segment("loop", HANGZHOU)
    assert ("$.condition.segment", "cycle") in errors_of(
        {"object": "customer", "condition": {"segment": "loop"}}, key="loop"
    )


def test_publish_computes_membership_and_emits_entries(customer, publish_segment, frozen):
    li = customer("Li", city="Hangzhou")
    customer("Wang", city="Ningbo")
    publish_segment("hangzhou", HANGZHOU)
    assert members("hangzhou") == {"Li"}
    assert events(li, "segment_entered") == [{"segment": "hangzhou"}]
    state = SegmentState.objects.get(segment_key="hangzhou")
    assert (state.version, state.members, state.refreshed_at) == (1, 1, frozen)
    assert Membership.objects.get(segment_key="hangzhou").entered_at == frozen


def test_republishing_moves_members_in_and_out(customer, publish_segment):
    li = customer("Li", city="Hangzhou")
    wang = customer("Wang", city="Ningbo")
    publish_segment("here", HANGZHOU)
    publish_segment("here", {"field": "city", "op": "eq", "value": "Ningbo"})
    assert members("here") == {"Wang"}
    assert events(li, "segment_exited") == [{"segment": "here"}]
    assert events(wang, "segment_entered") == [{"segment": "here"}]
    assert service.count("here") == 1


def test_a_refused_publish_leaves_membership_as_it_was(customer, publish_segment):
    customer("Li", city="Hangzhou")
    publish_segment("here", HANGZHOU)
    definitions.save_draft(
        "segment", "here", {"object": "customer", "condition": {"not": HANGZHOU}}
    )
    with pytest.raises(ValidationFailed) as caught:
        definitions.publish("segment", "here", migration={"rename": {"a": "b"}})
    assert caught.value.errors[0].path == "$.migration"
    assert members("here") == {"Li"}
    assert definitions.draft("segment", "here") is not None


def test_republishing_a_segment_recomputes_the_segments_that_use_it(
    customer, publish_segment, committed
):
    customer("Li", city="Hangzhou", vip=True)
    customer("Wang", city="Ningbo", vip=True)
    publish_segment("place", HANGZHOU)
    publish_segment(
        "vip-here", {"all": [{"segment": "place"}, {"field": "vip", "op": "eq", "value": True}]}
    )
    assert members("vip-here") == {"Li"}
    with committed():
        publish_segment("place", {"field": "city", "op": "eq", "value": "Ningbo"})
    assert members("place") == members("vip-here") == {"Wang"}
