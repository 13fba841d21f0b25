"""Every KPI and chart of the dashboard against the test's own computation over the records,
and a few through GraphQL's aggregates (what the operator UI asks), which must agree."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict

import pytest
import time_machine

from templates_lib.crm import kpis
from tessera.api import tokens
from tessera.definitions.cache import published
from tessera.records.models import Event

from .conftest import BOUGHT, money, when

pytestmark = pytest.mark.django_db


@pytest.fixture
def now(shop):
    moment = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=5)
    with time_machine.travel(moment, tick=False):
        yield moment


def expected(shop, now) -> dict[str, object]:
    customers = shop.records("customer")
    orders = [o.data for o in shop.records("order")]
    paid = [o for o in orders if o["status"] in BOUGHT]
    tickets = [t.data for t in shop.records("ticket")]
    by_customer = defaultdict(list)
    for o in paid:
        by_customer[o["customer"]].append(o)
    month = now - dt.timedelta(days=30)
    viewers = set(
        Event.objects.filter(type="product_viewed", occurred_at__gte=month).values_list(
            "subject_id", flat=True
        )
    )
    converted = {
        c for c in viewers if any(when(o["placed_at"]) >= month for o in by_customer.get(c, []))
    }
    buyers = [c for c in by_customer if by_customer[c]]
    repeat = [c for c in buyers if len(by_customer[c]) >= 2]
    total = sum((money(o["total"]) for o in paid), money(0))
    attributed = [o for o in paid if o.get("campaign") and when(o["placed_at"]) >= month]
    done = [t for t in tickets if t.get("status") in ("resolved", "closed")]
    rated = [t["satisfaction"] for t in tickets if t.get("satisfaction") is not None]
    revenue_by_month: dict[str, object] = defaultdict(lambda: money(0))
    for o in paid:
        revenue_by_month[o["placed_at"][:7]] += money(o["total"])
    by_campaign: dict[str, object] = defaultdict(lambda: money(0))
    for o in attributed:
        by_campaign[o["campaign"]] += money(o["total"])
    quarter = now - dt.timedelta(days=90)
    sold: Counter = Counter()
    for item in shop.records("order_item"):
        if when(item.data["placed_at"]) >= quarter:
            sold[item.data["product_name"]] += item.data["quantity"]
    return {
        "customers": len(customers),
        "conversion_rate": len(converted) / len(viewers),
        "repurchase_rate": len(repeat) / len(buyers),
        "aov": float(total) / len(paid),
        "ltv": float(total) / len(buyers),
        "campaign_revenue": float(sum((money(o["total"]) for o in attributed), money(0))),
        "sla_compliance": sum(1 for t in done if t.get("sla_breached") is not True) / len(done),
        "satisfaction": sum(rated) / len(rated),
        "customers_by_stage": Counter(c.data["lifecycle_stage"] for c in customers),
        "rfm_distribution": Counter(c.data.get("rfm_cell") for c in customers),
        "revenue_by_month": {k: float(v) for k, v in revenue_by_month.items()},
        "campaign_revenue_by_campaign": {k: float(v) for k, v in by_campaign.items()},
        "best_sellers": sorted(sold.items(), key=lambda kv: (-kv[1], kv[0]))[:10],
        "category_preferences": Counter(
            c.data["top_category"] for c in customers if c.data.get("top_category")
        ),
        "tickets_by_type": Counter(t["type"] for t in tickets),
    }


def test_every_kpi_and_chart_matches_a_direct_computation(shop, now):
    want = expected(shop, now)
    got = {v.key: v for v in kpis.evaluate_screen("crm-kpis")}
    assert set(got) == set(want)
    for key in (
        "customers",
        "conversion_rate",
        "repurchase_rate",
        "aov",
        "ltv",
        "campaign_revenue",
        "sla_compliance",
        "satisfaction",
    ):
        assert got[key].value == pytest.approx(want[key], rel=1e-9), key
        assert got[key].value > 0
    for key in (
        "customers_by_stage",
        "rfm_distribution",
        "category_preferences",
        "tickets_by_type",
        "revenue_by_month",
        "campaign_revenue_by_campaign",
    ):
        groups = {k: v for k, v in got[key].groups}
        assert groups == pytest.approx(dict(want[key])), key
    assert got["best_sellers"].groups == [(k, float(v)) for k, v in want["best_sellers"]]
    assert got["conversion_rate"].parts[1] > got["conversion_rate"].parts[0] > 0
    assert len(want["customers_by_stage"]) == 5 and want["campaign_revenue_by_campaign"]


def test_graphql_aggregates_give_the_same_numbers(shop, now, client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345678")
    raw, _ = tokens.issue(admin, "dashboard", ["read"])
    blocks = published("screen", "crm-kpis").body["blocks"]
    board = {b["key"]: b for b in blocks if b.get("key")}
    query = """query($paid: JSON, $buyers: JSON) {
      byStage: customerAggregate(groupBy: lifecycle_stage) { key count }
      paid: orderAggregate(condition: $paid) { count sum { total } avg { total } }
      buyers: customerAggregate(condition: $buyers) { count }
    }"""
    variables = {"paid": board["aov"]["filter"], "buyers": board["ltv"]["divided_by"]["filter"]}
    response = client.post(
        "/graphql",
        json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    data = response.json()["data"]
    got = {v.key: v for v in kpis.evaluate_screen("crm-kpis")}
    assert {g["key"]: g["count"] for g in data["byStage"]} == {
        k: int(v) for k, v in got["customers_by_stage"].groups
    }
    assert data["paid"][0]["avg"]["total"] == pytest.approx(got["aov"].value)
    ltv = data["paid"][0]["sum"]["total"] / data["buyers"][0]["count"]
    assert ltv == pytest.approx(got["ltv"].value)
