"""The win-back campaign (docs/examples/campaigns/win-back.json): A/B split with a control group.

Dormant customers (an order 120 days ago) enter when the ``dormant`` segment is computed. The
split is 45/45/10 and must land within four standard deviations of it, and give each customer
the same variant every time. Some customers open their e-mail (the tracking pixel, over the
real URL), the others get an SMS a week later through a real HTTP gateway; every fifth
customer orders within the 30-day goal window. Metrics per variant (entered, converted,
sent, opened) and the uplift over control must equal the counts this test makes itself.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter

import pytest

from tessera.flows.campaigns import service as campaigns
from tessera.flows.campaigns.models import Entry, Message
from tessera.flows.nodes import pick_variant
from tessera.records import service as records
from tessera.segments import service as segments

from .conftest import event

pytestmark = pytest.mark.django_db
PEOPLE = 300
OPEN_PIXEL = re.compile(r'src="https://crm\.example\.com(/c/o/[^"]+)"')


@pytest.fixture
def dormant(customer, clock):
    people = []
    for i in range(PEOPLE):
        person = customer(f"Dormant {i}")
        records.create(
            "order",
            {
                "customer": person.pk,
                "total": 80,
                "placed_at": (clock.now - dt.timedelta(days=120)).isoformat(),
            },
        )
        people.append(person)
    return people


def test_split_proportions_engagement_sms_goals_and_uplift(
    publish, dormant, clock, committed, smtp_settings, http_server, settings, client
):
    settings.TESSERA_SMS = {"url": f"{http_server.url}/sms", "token": "t0ken", "sender": "SHOP"}
    publish("win-back")
    with committed():
        segments.refresh("dormant")
    entries = {e.subject_id: e for e in Entry.objects.filter(campaign_key="win-back")}
    assert len(entries) == PEOPLE
    counts = Counter(e.variant for e in entries.values())
    for name, share in (("coupon", 0.45), ("story", 0.45), ("control", 0.10)):
        spread = 4 * math.sqrt(PEOPLE * share * (1 - share))
        assert abs(counts[name] - PEOPLE * share) <= spread, (name, counts)
    variants = [
        {"name": "coupon", "weight": 45},
        {"name": "story", "weight": 45},
        {"name": "control", "weight": 10},
    ]
    for person in dormant:  # stable: the same hash gives the same variant, every time
        assert entries[person.pk].variant == pick_variant(variants, f"win-back:pick:{person.pk}")

    clock.tick()  # deliver the e-mails
    mailed = {e for e, entry in entries.items() if entry.variant != "control"}
    assert len(smtp_settings.received) == len(mailed)
    assert not Message.objects.filter(subject_id__in=set(entries) - mailed).exists()

    openers = set()
    for mail in smtp_settings.received[::3]:
        path = OPEN_PIXEL.search(mail.html()).group(1)
        assert client.get(path).status_code == 200
        assert client.get(path).status_code == 200  # a second open changes nothing
        openers.add(next(p.pk for p in dormant if p.data["email"] == mail.recipients[0]))

    buyers = {p.pk for i, p in enumerate(dormant) if i % 5 == 0}
    clock.advance(days=3)
    with committed():
        for person in dormant:
            if person.pk in buyers:
                event(person, "order_placed", total=120)

    clock.advance(days=4, minutes=1)
    clock.tick()  # the week's wait ends: non-openers who did not buy get an SMS
    texted = {
        int(json.loads(a.body)["reference"].split(":")[1])  # run:<id>:…
        for a in http_server.received
    }
    expected_sms = mailed - openers - buyers
    assert len(http_server.received) == len(expected_sms)
    sms_subjects = set(
        Message.objects.filter(channel="sms", status="sent").values_list("subject_id", flat=True)
    )
    assert sms_subjects == expected_sms and len(texted) == len(expected_sms)
    first = http_server.received[0]
    assert first.headers["Authorization"] == "Bearer t0ken"
    assert json.loads(first.body)["text"].count("https://crm.example.com/c/k/") == 1

    numbers = campaigns.metrics("win-back")
    assert numbers["entered"] == PEOPLE and numbers["converted"] == len(buyers)
    for name in ("coupon", "story", "control"):
        members = {s for s, e in entries.items() if e.variant == name}
        row = numbers["variants"][name]
        assert row["entered"] == len(members)
        assert row["converted"] == len(members & buyers)
        assert row["conversion_rate"] == round(len(members & buyers) / len(members), 6)
        assert row["opened"] == len(members & openers)
        sent = len(members) if name != "control" else 0
        assert row["sent"] == sent + len(members & expected_sms)
    control_rate = numbers["variants"]["control"]["conversion_rate"]
    for name in ("coupon", "story"):
        row = numbers["variants"][name]
        assert row["uplift"] == round(row["conversion_rate"] - control_rate, 6)
    assert numbers["nodes"]["nudge"]["sent"] == len(expected_sms)
    assert numbers["nodes"]["$holdout"]["entered"] == counts["control"]
