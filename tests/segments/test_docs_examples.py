"""Every example in docs/examples/segments publishes and selects the customers it says.

The shop (NOW = 2026-06-15 12:00 UTC):

name  city      level     other fields                   orders (days ago, total, category)
Li    Hangzhou  gold      birthday 06-18, vip, email,    (5, 120, beauty) (20, 250, beauty)
                          tags [newsletter]              (60, 80, food)
Wang  Hangzhou  silver    vip                            (200, 300, toys)
Zhou  Ningbo    platinum  tags [vip, newsletter]         (100, 500, beauty)
Chen  Hangzhou  platinum  total_spent 1500               —
Sun   Shanghai  —         —                              —

Events: cart_abandoned for Wang 2 and 10 days ago, Zhou 3 days ago, Chen 20 days ago.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tessera.definitions import service as definitions
from tessera.records import service as records
from tessera.records.models import Record
from tessera.segments import lifecycle, rfm
from tessera.segments import service as segments
from tests.segments.conftest import NOW, members

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "segments"

# In publishing order (a segment is published after the ones it names).
EXPECTED = {
    "hangzhou-gold": {"Li", "Chen"},
    "design-example": {"Li", "Chen"},
    "beauty-big-spenders": {"Li", "Zhou"},
    "cart-abandoners": {"Wang", "Zhou"},
    "frequent-cart-abandoners": {"Wang"},
    "birthday-this-week": {"Li"},
    "win-back": {"Wang", "Zhou"},
    "vip-win-back": {"Wang"},
    "newsletter": {"Li"},
    # RFM by quantiles over the three buyers (rank 1, 2, 3 → score 1, 2, 4):
    # R: Wang 1, Zhou 2, Li 4; F: Wang 1, Zhou 1, Li 4 → Li loyal, Wang lost, Zhou hibernating
    "best-customers": {"Li"},
    # lifecycle: Chen and Sun prospects, Li active, Wang and Zhou dormant
    "dormant": {"Wang", "Zhou"},
    "big-spenders-snapshot": {"Chen"},
}


def load(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
def shop(customer, order, frozen):
    li = customer(
        "Li",
        city="Hangzhou",
        level="gold",
        birthday="1990-06-18",
        vip=True,
        email="li@example.com",
        tags=["newsletter"],
    )
    wang = customer("Wang", city="Hangzhou", level="silver", vip=True)
    zhou = customer("Zhou", city="Ningbo", level="platinum", tags=["vip", "newsletter"])
    chen = customer("Chen", city="Hangzhou", level="platinum", total_spent=1500)
    customer("Sun", city="Shanghai")
    for who, days, total, category in [
        (li, 5, 120, "beauty"),
        (li, 20, 250, "beauty"),
        (li, 60, 80, "food"),
        (wang, 200, 300, "toys"),
        (zhou, 100, 500, "beauty"),
    ]:
        order(who, total, days_ago=days, category=category)
    for who, days in [(wang, 2), (wang, 10), (zhou, 3), (chen, 20)]:
        records.add_event(who, "cart_abandoned", at=NOW - dt.timedelta(days=days))


def test_every_example_is_covered():
    assert {p.stem for p in EXAMPLES.glob("*.json")} == set(EXPECTED)


def test_the_examples_publish_and_count(shop, clock):
    rfm.configure("customer", load("settings/rfm.json"))
    rfm.score("customer", clock=clock)
    lifecycle.configure("customer", load("settings/lifecycle.json"))
    lifecycle.assign("customer", clock=clock)
    for key, expected in EXPECTED.items():
        definitions.save_and_publish("segment", key, load(f"{key}.json"))
        assert members(key) == expected, key
        body = load(f"{key}.json")
        assert segments.preview("customer", body["condition"], clock=clock).count == len(expected)


def test_the_rfm_thresholds_example(shop, clock):
    rfm.configure("customer", load("settings/rfm-thresholds.json"))
    rfm.score("customer", clock=clock)
    cells = {
        r.data["name"]: r.data.get("rfm_cell")
        for r in Record.objects.all()
        if r.object_key == "customer"
    }
    # Li: 5 days, 3 orders → R5 F3; Wang: 200 days, 1 → R2 F1; Zhou: 100 days, 1 → R3 F1
    assert cells == {
        "Li": "potential_loyalist",
        "Wang": "hibernating",
        "Zhou": "about_to_sleep",
        "Chen": None,
        "Sun": None,
    }
