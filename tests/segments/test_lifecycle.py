"""Lifecycle stages: rules in order, a frozen clock moved by hand, changes as events."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from tessera.definitions import service as definitions
from tessera.definitions.errors import ValidationFailed
from tessera.records import service as records
from tessera.segments import lifecycle, tasks
from tests.segments.conftest import NOW, SEG_CUSTOMER, events, members

RULES = {
    "field": "lifecycle_stage",
    "stages": [
        {"stage": "prospect", "condition": {"metric": "orders.count", "op": "eq", "value": 0}},
        {
            "stage": "new",
            "condition": {"metric": "orders.first", "op": "within", "value": {"last": "P30D"}},
        },
        {
            "stage": "active",
            "condition": {"metric": "orders.last", "op": "within", "value": {"last": "P90D"}},
        },
        {
            "stage": "dormant",
            "condition": {"metric": "orders.last", "op": "within", "value": {"last": "P365D"}},
        },
    ],
    "default": "churned",
}


@pytest.fixture
def clock_at(monkeypatch):
    """Move ``timezone.now`` (and so every clock the segments layer reads) by hand."""
    from django.utils import timezone

    now = [NOW]
    monkeypatch.setattr(timezone, "now", lambda: now[0])

    def move(days: float) -> dt.datetime:
        now[0] = NOW + dt.timedelta(days=days)
        return now[0]

    return move


def place_order(who, at: dt.datetime):
    return records.create(
        "order",
        {
            "customer": who.pk,
            "total": 10,
            "status": "paid",
            "placed_at": at.isoformat().replace("+00:00", "Z"),
        },
    )


def stage(record) -> str | None:
    record.refresh_from_db()
    return record.data.get("lifecycle_stage")


def test_a_customer_walks_through_every_stage(customer, clock_at, committed):
    lifecycle.configure("customer", RULES)
    with committed():
        li = customer("Li")
    assert stage(li) == "prospect"  # the new record was checked on commit
    with committed():
        place_order(li, NOW)
    assert stage(li) == "new"
    for days, expected in ((40, "active"), (100, "dormant"), (400, "churned")):
        clock_at(days)
        lifecycle.assign("customer")
        assert stage(li) == expected, days
    with committed():
        place_order(li, clock_at(401))
    assert stage(li) == "active"  # bought again: the first order is long ago, the last is not
    assert [(e["from"], e["to"]) for e in events(li, "lifecycle_changed")] == [
        (None, "prospect"),
        ("prospect", "new"),
        ("new", "active"),
        ("active", "dormant"),
        ("dormant", "churned"),
        ("churned", "active"),
    ]


def test_assigning_twice_changes_nothing(customer, order, clock_at):
    lifecycle.configure("customer", RULES)
    li = customer("Li")
    order(li, 10, days_ago=200)
    customer("Wang")
    first = lifecycle.assign("customer")
    assert (first.considered, first.changed, first.events) == (2, 2, 2)
    assert lifecycle.assign("customer").changed == 0


def test_only_writes_the_rules_read_recheck_stages(customer, committed, monkeypatch):
    calls = []
    monkeypatch.setattr(lifecycle, "assign", lambda *a, **k: calls.append(a) or _none())
    lifecycle.configure("customer", RULES)
    li = customer("Li")
    with committed():
        records.update("customer", li.pk, {"city": "Hangzhou"}, version=1)
    assert calls == []


def _none():
    from tessera.segments.scoring import Outcome

    return Outcome()


def test_stages_feed_segments_and_the_periodic_step(
    customer, order, clock_at, committed, publish_segment
):
    publish_segment("dormant", {"field": "lifecycle_stage", "op": "eq", "value": "dormant"})
    lifecycle.configure("customer", {**RULES, "every": "P1D"})
    li = customer("Li")
    order(li, 10, days_ago=60)
    with committed():
        assert tasks.scoring_step() == ["lifecycle:customer"]
    assert stage(li) == "active"
    clock_at(31)
    with committed():
        assert tasks.scoring_step() == ["lifecycle:customer"]
    assert stage(li) == "dormant"
    assert members("dormant") == {"Li"}


def test_a_record_no_rule_matches_gets_no_stage_without_a_default(customer, order, clock):
    rules = copy.deepcopy(RULES)
    del rules["default"]
    lifecycle.configure("customer", rules)
    li = customer("Li")
    order(li, 10, days_ago=500)
    lifecycle.assign("customer", clock=clock)
    assert stage(li) is None
    assert events(li, "lifecycle_changed") == []


def errors_of(body, object_key="customer"):
    with pytest.raises(ValidationFailed) as caught:
        lifecycle.configure(object_key, body)
    return {(e.path, e.code) for e in caught.value.errors}


def test_bad_rules_get_precise_errors(store):
    assert ("$.stages[1].condition.metric", "unknown_relation") in errors_of(
        {
            **RULES,
            "stages": [
                RULES["stages"][0],
                {"stage": "new", "condition": {"metric": "carts.count", "op": "gte", "value": 1}},
            ],
        }
    )
    assert ("$.stages[0].condition.op", "wrong_type") in errors_of(
        {
            **RULES,
            "stages": [{"stage": "x", "condition": {"field": "name", "op": "gte", "value": 1}}],
        }
    )
    assert ("$.stages[2].stage", "duplicate") in errors_of(
        {**RULES, "stages": [*RULES["stages"][:2], RULES["stages"][0]]}
    )
    assert ("$.stages[0].stage", "pattern") in errors_of(
        {**RULES, "stages": [{"stage": "Big Spender", "condition": {"all": []}}]}
    )
    assert ("$", "required") in errors_of({"stages": RULES["stages"]})
    assert ("$.every", "invalid") in errors_of({**RULES, "every": "hourly"})
    assert ("$.object", "unknown_object") in errors_of(RULES, object_key="lead")


def test_the_field_must_be_declared_and_hold_every_stage(store):
    (error,) = [e for e in _errors({**RULES, "field": "stage"}) if e.path == "$.field"]
    assert error.code == "missing_field"
    assert "customer has no field 'stage' to hold lifecycle stages" in error.message
    assert "x-type string, or an enum of active, churned, dormant, new, prospect" in error.message
    # the enum lacks "vip"
    (error,) = _errors({**RULES, "default": "vip"})
    assert error.path == "$.field" and "'vip'" in error.message


def _errors(body):
    with pytest.raises(ValidationFailed) as caught:
        lifecycle.configure("customer", body)
    return caught.value.errors


def test_assign_refuses_once_the_field_is_gone(customer):
    lifecycle.configure("customer", RULES)
    body = copy.deepcopy(SEG_CUSTOMER)
    del body["properties"]["lifecycle_stage"]
    definitions.save_and_publish("object", "customer", body)
    with pytest.raises(ValidationFailed) as caught:
        lifecycle.assign("customer")
    assert caught.value.errors[0].path == "$.field"
