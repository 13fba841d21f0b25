"""Rollups: aggregates of related records kept per parent, fresh on every write."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tessera.conditions.compiler import compile_condition, matching
from tessera.conditions.tree import parse
from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.records import rollups, service
from tessera.records.models import Rollup
from tests.conftest import CUSTOMER, ORDER

pytestmark = pytest.mark.django_db

KEPT_ORDER = copy.deepcopy(ORDER)
KEPT_ORDER["x-time-field"] = "placed_at"
KEPT_ORDER["properties"]["customer"]["x-relation"].update(
    {
        "related_name": "orders",
        "rollups": [
            {"aggregate": "count", "window": "P90D"},
            {"aggregate": "count"},
            {"aggregate": "sum", "field": "total"},
            {"aggregate": "last"},
        ],
    }
)


def kept(record_id):
    return {
        r.name: (r.value if r.value is not None else r.text_value)
        for r in Rollup.objects.filter(record_id=record_id)
    }


def days_ago(days: float) -> str:
    return (timezone.now() - dt.timedelta(days=days)).isoformat()


@pytest.fixture
def shop(publish_object):
    publish_object("customer", CUSTOMER)
    publish_object("order", KEPT_ORDER)
    ann = service.create("customer", {"name": "Ann"})
    bo = service.create("customer", {"name": "Bo"})
    return ann, bo


def test_writes_keep_rollups_fresh(shop):
    ann, bo = shop
    first = service.create("order", {"customer": ann.pk, "total": 10, "placed_at": days_ago(10)})
    service.create("order", {"customer": ann.pk, "total": 5.5, "placed_at": days_ago(100)})
    values = kept(ann.pk)
    assert values["orders.count"] == 2 and values["orders.count@P90D"] == 1
    assert values["orders.sum.total"] == Decimal("15.5")
    assert values["orders.last"] == first.data["placed_at"]
    # moving an order to another customer recomputes both
    service.update("order", first.pk, {"customer": bo.pk}, version=1)
    assert kept(ann.pk)["orders.count"] == 1 and "orders.count@P90D" not in kept(ann.pk)
    assert kept(bo.pk)["orders.count@P90D"] == 1
    service.delete("order", first.pk, version=2)
    assert kept(bo.pk) == {}


def test_windowed_rollups_expire_when_the_oldest_order_leaves(shop, monkeypatch):
    ann, _ = shop
    service.create("order", {"customer": ann.pk, "total": 1, "placed_at": days_ago(89)})
    row = Rollup.objects.get(record_id=ann.pk, name="orders.count@P90D")
    assert row.value == 1
    assert timezone.now() < row.expires_at < timezone.now() + dt.timedelta(days=2)
    later = timezone.now() + dt.timedelta(days=2)
    monkeypatch.setattr(rollups.timezone, "now", lambda: later)
    assert rollups.sweep_expired() == 1
    assert "orders.count@P90D" not in kept(ann.pk)
    assert kept(ann.pk)["orders.count"] == 1


def test_publish_rebuilds_rollups_set_based(shop, publish_object):
    ann, _ = shop
    for total in (1, 2, 3):
        service.create("order", {"customer": ann.pk, "total": total, "placed_at": days_ago(1)})
    Rollup.objects.all().delete()
    body = copy.deepcopy(KEPT_ORDER)
    body["properties"]["customer"]["x-relation"]["rollups"].append(
        {"aggregate": "avg", "field": "total"}
    )
    publish_object("order", body)
    assert kept(ann.pk)["orders.avg.total"] == 2 and kept(ann.pk)["orders.count"] == 3
    # dropping a rollup from the definition drops its rows
    body["properties"]["customer"]["x-relation"]["rollups"] = [{"aggregate": "count"}]
    publish_object("order", body)
    assert set(kept(ann.pk)) == {"orders.count"}


def test_conditions_read_rollups_and_agree_with_live_aggregates(shop):
    ann, bo = shop
    for days in (1, 2, 3, 120):
        service.create("order", {"customer": ann.pk, "total": 100, "placed_at": days_ago(days)})
    service.create("order", {"customer": bo.pk, "total": 1, "placed_at": days_ago(5)})
    trees = [
        {"metric": "orders.count", "window": "P90D", "op": "gte", "value": 3},
        {"metric": "orders.sum.total", "op": "gt", "value": 50},
        {"metric": "orders.count", "op": "eq", "value": 0},
        {"metric": "orders.last", "op": "within", "value": {"last": "P2D"}},
        {"not": {"metric": "orders.count", "window": "P90D", "op": "lt", "value": 1}},
    ]
    for tree in trees:
        node = parse(tree, "customer")
        assert "records_rollup" in compile_condition(node, "customer").sql
        with_rollups = set(matching(node, "customer").values_list("pk", flat=True))
        live = set(matching(node, "customer", use_rollups=False).values_list("pk", flat=True))
        assert with_rollups == live, tree


def test_rollup_definitions_are_checked(publish_object):
    publish_object("customer", CUSTOMER)
    body = copy.deepcopy(ORDER)
    body["properties"]["customer"]["x-relation"]["rollups"] = [
        {"aggregate": "sum", "field": "status"},
        {"aggregate": "count", "window": "P90D"},
        {"aggregate": "median"},
    ]
    with pytest.raises(ValidationFailed) as info:
        definitions.save_draft("object", "order", body)
    paths = {(e.path, e.code) for e in info.value.errors}
    assert ("$.properties.customer['x-relation'].rollups[2].aggregate", "enum") in paths
    body["properties"]["customer"]["x-relation"]["rollups"].pop()
    with pytest.raises(ValidationFailed) as info:
        definitions.save_draft("object", "order", body)
    paths = {(e.path, e.code) for e in info.value.errors}
    assert paths == {
        ("$.properties.customer['x-relation'].rollups[0].field", "wrong_type"),
        ("$.properties.customer['x-relation'].rollups[1]", "no_time_field"),
    }
