"""Aggregates over related records with windows and conditions, events, segment references."""

from __future__ import annotations

import datetime as dt

import pytest

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.records import service
from tests.conditions.test_operators import select

pytestmark = pytest.mark.django_db


@pytest.fixture
def buyers(shop, clock):
    ann = service.create("customer", {"name": "Ann", "city": "Hangzhou"})
    bo = service.create("customer", {"name": "Bo", "city": "Beijing"})
    cy = service.create("customer", {"name": "Cy"})
    orders = [
        (ann, 250, "beauty", 10),
        (ann, 80, "food", 40),
        (ann, 300, "beauty", 200),
        (bo, 30, "toys", 5),
        (bo, 40, "toys", 6),
        (bo, 50, "toys", 100),
    ]
    for who, total, category, days_ago in orders:
        placed = (clock.now - dt.timedelta(days=days_ago)).isoformat()
        service.create(
            "order", {"customer": who.pk, "total": total, "category": category, "placed_at": placed}
        )
    service.add_event(
        cy, "cart_abandoned", {"sku": "LIP-1", "qty": 2}, at=clock.now - dt.timedelta(days=2)
    )
    service.add_event(cy, "cart_abandoned", {"sku": "LIP-2"}, at=clock.now - dt.timedelta(days=20))
    service.add_event(bo, "cart_abandoned", {"sku": "CAR-9"}, at=clock.now - dt.timedelta(days=1))
    return {"ann": ann, "bo": bo, "cy": cy}


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ({"metric": "orders.count", "op": "gte", "value": 3}, {"ann", "bo"}),
        ({"metric": "orders.count", "op": "eq", "value": 0}, {"cy"}),
        ({"metric": "orders.count", "window": "P90D", "op": "gte", "value": 2}, {"ann", "bo"}),
        ({"metric": "orders.count", "window": "P30D", "op": "gte", "value": 2}, {"bo"}),
        ({"metric": "orders.sum.total", "op": "gt", "value": 500}, {"ann"}),
        ({"metric": "orders.sum.total", "op": "lt", "value": 1}, {"cy"}),
        ({"metric": "orders.avg.total", "op": "between", "value": [40, 50]}, {"bo"}),
        ({"metric": "orders.max.total", "window": "P90D", "op": "gte", "value": 250}, {"ann"}),
        ({"metric": "orders.min.total", "op": "lte", "value": 30}, {"bo"}),
        ({"metric": "orders.last", "op": "within", "value": {"last": "P7D"}}, {"bo"}),
        ({"metric": "orders.first", "op": "before", "value": {"ago": "P150D"}}, {"ann"}),
        # orders of category beauty over 200 ("where" on the related records)
        (
            {
                "metric": "orders.count",
                "op": "gte",
                "value": 1,
                "where": {
                    "all": [
                        {"field": "category", "op": "eq", "value": "beauty"},
                        {"field": "total", "op": "gt", "value": 200},
                    ]
                },
            },
            {"ann"},
        ),
        (
            {
                "metric": "orders.count",
                "window": "P90D",
                "op": "gte",
                "value": 1,
                "where": {"field": "category", "op": "eq", "value": "beauty"},
            },
            {"ann"},
        ),
        # events
        ({"event": "cart_abandoned"}, {"bo", "cy"}),
        ({"event": "cart_abandoned", "within": "P7D"}, {"bo", "cy"}),
        ({"event": "cart_abandoned", "within": "P30D", "count": {"op": "gte", "value": 2}}, {"cy"}),
        ({"event": "cart_abandoned", "where": {"sku": "LIP-1", "qty": 2}}, {"cy"}),
        ({"event": "cart_abandoned", "where": {"qty": "2"}}, set()),  # types matter
        ({"not": {"event": "cart_abandoned", "within": "P7D"}}, {"ann"}),
        ({"event": "cart_abandoned", "count": {"op": "eq", "value": 0}}, {"ann"}),
    ],
)
def test_metric_and_event_leaves(buyers, clock, tree, expected):
    assert select(tree, clock) == expected


def test_the_design_example(buyers, clock):
    tree = {
        "all": [
            {"field": "city", "op": "eq", "value": "Hangzhou"},
            {
                "any": [
                    {"metric": "orders.count", "window": "P90D", "op": "gte", "value": 3},
                    {"field": "level", "op": "in", "value": ["gold", "platinum"]},
                ]
            },
            {"not": {"event": "cart_abandoned", "within": "P7D"}},
        ]
    }
    assert select(tree, clock) == set()
    service.update("customer", buyers["ann"].pk, {"level": "gold"}, version=1)
    assert select(tree, clock) == {"ann"}


def test_segment_references(buyers, clock):
    definitions.save_and_publish(
        "segment",
        "big-spenders",
        {
            "object": "customer",
            "condition": {"metric": "orders.sum.total", "op": "gte", "value": 100},
        },
    )
    assert select({"segment": "big-spenders"}, clock) == {"ann", "bo"}
    tree = {"all": [{"segment": "big-spenders"}, {"field": "city", "op": "eq", "value": "Beijing"}]}
    assert select(tree, clock) == {"bo"}
    assert select({"not": {"segment": "big-spenders"}}, clock) == {"cy"}


def test_segment_cycles_are_refused(buyers):
    from tessera.conditions.tree import parse

    definitions.save_and_publish(
        "segment", "a", {"object": "customer", "condition": {"field": "city", "op": "is_set"}}
    )
    definitions.save_and_publish(
        "segment", "b", {"object": "customer", "condition": {"segment": "a"}}
    )
    with pytest.raises(ValidationFailed) as info:
        parse({"all": [{"segment": "b"}]}, "customer", path=["condition"], segments=("a",))
    error = info.value.errors[0]
    assert error.code == "cycle" and "a → b → a" in error.message
    assert error.path == "$.condition.all[0].segment.segment"


def test_an_event_exactly_at_the_window_start_counts_in_both_faces(shop, clock):
    ann = service.create("customer", {"name": "Ann"})
    service.add_event(ann, "product_viewed", at=clock.now - dt.timedelta(days=7))
    assert select({"event": "product_viewed", "within": "P7D"}, clock) == {"ann"}
