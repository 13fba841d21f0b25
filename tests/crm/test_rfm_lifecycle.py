"""RFM cells, lifecycle stages and the named segments, checked against a computation of the
test's own from the sample orders (Python over the records, not the engine's SQL)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
import time_machine

from tessera.segments import lifecycle, rfm, service
from tessera.segments.rfm import CLASSIC_CELLS

from .conftest import BOUGHT, money, when

pytestmark = pytest.mark.django_db


def bought_orders(shop) -> dict[int, list[dict]]:
    by_customer: dict[int, list[dict]] = defaultdict(list)
    for order in shop.records("order"):
        if order.data["status"] in BOUGHT:
            by_customer[order.data["customer"]].append(order.data)
    return by_customer


def quantile_scores(values: dict[int, object]) -> dict[int, int]:
    """1 + floor(5 (rank - 1) / n); rank 1 is the worst; equal values share the lower rank."""
    n = len(values)
    ordered = sorted(values.values())
    scores = {}
    for rid, value in values.items():
        worse = sum(1 for v in ordered if v < value)
        scores[rid] = 1 + (5 * worse) // n
    return scores


def cell(r: int, f: int) -> str:
    return next(c["name"] for c in CLASSIC_CELLS if r in c["r"] and f in c["f"])


@pytest.fixture
def now(shop):
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
    with time_machine.travel(moment, tick=False):
        yield moment


def test_every_customer_is_in_the_rfm_cell_the_test_computes(shop, now):
    rfm.score("customer")  # at the frozen moment, so both sides use one clock
    orders = bought_orders(shop)
    year_ago = now - dt.timedelta(days=365)
    recency, frequency, monetary = {}, {}, {}
    for rid, placed in orders.items():
        recency[rid] = max(when(o["placed_at"]) for o in placed)
        recent = [o for o in placed if when(o["placed_at"]) >= year_ago]
        frequency[rid] = len(recent)
        monetary[rid] = sum((money(o["total"]) for o in recent), money(0))
    r, f, m = quantile_scores(recency), quantile_scores(frequency), quantile_scores(monetary)
    checked = 0
    for customer in shop.records("customer"):
        data, rid = customer.data, customer.pk
        if rid not in recency:
            assert "rfm_cell" not in data and "rfm_r" not in data  # never paid: no scores
            continue
        assert (data["rfm_r"], data["rfm_f"], data["rfm_m"]) == (r[rid], f[rid], m[rid]), rid
        assert data["rfm_cell"] == cell(r[rid], f[rid])
        checked += 1
    assert checked == len(recency) > 50
    # a named RFM segment holds exactly the customers of its cell
    champions = {c.pk for c in shop.records("customer") if c.data.get("rfm_cell") == "champions"}
    service.refresh("rfm-champions")
    assert set(service.members("rfm-champions").values_list("pk", flat=True)) == champions


def test_lifecycle_stages_follow_the_rules(shop, now):
    lifecycle.assign("customer")
    orders = bought_orders(shop)
    expected = {}
    for customer in shop.records("customer"):
        placed = sorted(when(o["placed_at"]) for o in orders.get(customer.pk, []))
        if not placed:
            stage = "prospect"
        elif placed[0] >= now - dt.timedelta(days=30):
            stage = "new"
        elif placed[-1] >= now - dt.timedelta(days=90):
            stage = "active"
        elif placed[-1] >= now - dt.timedelta(days=365):
            stage = "dormant"
        else:
            stage = "churned"
        expected[customer.pk] = stage
        assert customer.data["lifecycle_stage"] == stage, customer.pk
    assert len(set(expected.values())) == 5  # the sample shop has every stage


def test_value_frequency_and_affinity_segments(shop, now):
    orders = bought_orders(shop)
    year_ago = now - dt.timedelta(days=365)
    lines = defaultdict(lambda: defaultdict(int))
    for item in shop.records("order_item"):
        if when(item.data["placed_at"]) >= year_ago:
            lines[item.data["customer"]][item.data["category"]] += 1
    customers = [c.pk for c in shop.records("customer")]
    expected = {
        "repeat-buyers": {c for c in customers if len(orders.get(c, [])) >= 2},
        "one-time-buyers": {c for c in customers if len(orders.get(c, [])) == 1},
        "high-value": {
            c
            for c in customers
            if sum(
                (money(o["total"]) for o in orders.get(c, []) if when(o["placed_at"]) >= year_ago),
                money(0),
            )
            >= 5000
        },
        "affinity-beauty": {c for c in customers if lines[c]["beauty"] >= 2},
        "affinity-electronics": {c for c in customers if lines[c]["electronics"] >= 2},
    }
    for key, members in expected.items():
        service.refresh(key)
        assert set(service.members(key).values_list("pk", flat=True)) == members, key
        assert members, key
