"""docs/campaigns.md: its example files load through the CLI, and the repurchase flow runs.

The other three classic flows run in their own tests on these same files:
test_abandoned_cart.py, test_birthday.py and test_split.py (win-back).
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from django.core.management import call_command

from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.models import Entry
from tessera.flows.models import Run

from .conftest import EXAMPLES, START, event

pytestmark = pytest.mark.django_db
FILES = [
    "customer",
    "order",
    "dormant",
    "abandoned-cart",
    "birthday-coupon",
    "win-back",
    "repurchase",
]


def test_the_page_command_loads_and_publishes_every_example(db):
    out = io.StringIO()
    paths = [str(EXAMPLES / f"{name}.json") for name in reversed(FILES)]  # order does not matter
    call_command("definitions", "load", *paths, "--publish", stdout=out, stderr=io.StringIO())
    for name in FILES[3:]:
        assert f"published campaign {name} v1" in out.getvalue()


def test_repurchase(publish, customer, clock, committed, smtp_settings):
    publish("repurchase")
    ana = customer("Ana", time_zone="Asia/Shanghai")
    bo = customer("Bo", time_zone="Europe/London")
    small = customer("Small")
    with committed():  # Monday 2 November, 01:00 UTC
        event(ana, "order_placed", total=80)
        event(bo, "order_placed", total=120)
        event(small, "order_placed", total=20)  # below the trigger's 50
    assert set(Entry.objects.values_list("subject", flat=True)) == {ana.pk, bo.pk}

    clock.advance(days=10)
    with committed():
        event(bo, "order_placed", total=60)  # bought again: converted, and a new entry starts
    assert Entry.objects.get(subject=bo, converted_at__isnull=False)
    assert Entry.objects.filter(subject=bo).count() == 2

    clock.to(START + dt.timedelta(days=30, seconds=1))  # Wednesday 2 December
    clock.tick()
    run = Run.objects.get(subject=ana)
    assert run.node == "tuesday"  # the next Tuesday at 10:00 in Shanghai
    tuesday = dt.datetime(2026, 12, 8, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    clock.to(tuesday.astimezone(dt.UTC))
    clock.tick()
    assert [m.recipients[0] for m in smtp_settings.received] == [ana.data["email"]]
    assert smtp_settings.received[0].message["Subject"] == "Time to restock, Ana?"
    numbers = campaigns.metrics("repurchase")
    assert (numbers["entered"], numbers["converted"], numbers["sent"]) == (3, 1, 1)
    assert numbers["waiting"] == 1  # Bo's second entry, thirty days from his second order
